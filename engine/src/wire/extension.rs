//! The SessionTicket extension (RFC 5077 section 3.2, type 35) and the TLS extensions block
//! that carries it (RFC 5246 section 7.4.1.4).
//!
//! ```text
//! struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; } Extension;
//! Extension extensions<0..2^16-1>;
//! ```
//! In a ClientHello the SessionTicket `extension_data` IS the ticket, with no inner length
//! prefix (RFC 5077 Appendix A records this fix to RFC 4507); empty means "no ticket, but I
//! want one". In a ServerHello the extension is always empty.

use std::borrow::Cow;

use super::codec::{
    MAX_U16_LEN, Reader, WireError, encode_atomically, put_opaque_u16, put_u16, u16_len,
};
use super::fields;

/// IANA extension type of SessionTicket (RFC 5077 section 7).
pub const SESSION_TICKET_EXTENSION_TYPE: u16 = 35;

/// IANA extension type of TLS 1.3 `pre_shared_key`, which must stay the last extension in a
/// ClientHello (RFC 8446 section 4.2.11); insertion keeps it last.
pub const PRE_SHARED_KEY_EXTENSION_TYPE: u16 = 41;

/// One extension as it appears in a block: its type and its raw `extension_data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extension<'a> {
    /// The `ExtensionType` code.
    pub ext_type: u16,
    /// The `extension_data` bytes (at most 2^16-1).
    pub data: &'a [u8],
}

impl<'a> Extension<'a> {
    /// Bytes this extension takes on the wire (type, length, data).
    pub const fn encoded_len(&self) -> usize {
        4 + self.data.len()
    }

    /// Reads one extension (type, `uint16` length, data).
    pub fn read(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let ext_type = r.read_u16(fields::EXTENSION_TYPE)?;
        let data = r.opaque_u16(fields::EXTENSION_DATA)?;
        Ok(Self { ext_type, data })
    }

    /// Decodes exactly one extension; trailing bytes are an error.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let ext = Self::read(&mut r)?;
        r.expect_empty(fields::EXTENSION)?;
        Ok(ext)
    }

    /// Appends the extension; fails (appending nothing) if the data exceeds 2^16-1 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        // Check before writing the type so a failure leaves `out` untouched.
        u16_len(self.data.len(), fields::EXTENSION_DATA)?;
        put_u16(out, self.ext_type);
        put_opaque_u16(out, self.data, fields::EXTENSION_DATA)
    }
}

/// A decoded extensions block: `uint16` total length, then extensions, each type at most once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions<'a> {
    list: Vec<Extension<'a>>,
}

impl<'a> Extensions<'a> {
    /// Builds a block from a list, refusing duplicate types and oversized data.
    pub fn from_vec(list: Vec<Extension<'a>>) -> Result<Self, WireError> {
        for ext in &list {
            u16_len(ext.data.len(), fields::EXTENSION_DATA)?;
        }
        reject_duplicates(&list)?;
        Ok(Self { list })
    }

    /// Reads a block (`uint16` length, then the extensions) from `r`.
    ///
    /// Strict: the extensions must exactly fill the declared length, and no type may repeat.
    pub fn read(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let mut inner = r.sub_u16(fields::EXTENSIONS)?;
        // No capacity from the attacker-chosen length: grow only as extensions really parse.
        let mut list = Vec::new();
        while !inner.is_empty() {
            list.push(Extension::read(&mut inner)?);
        }
        reject_duplicates(&list)?;
        Ok(Self { list })
    }

    /// Decodes a whole block; bytes after the declared length are an error.
    pub fn decode(block: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(block);
        let exts = Self::read(&mut r)?;
        r.expect_empty(fields::EXTENSIONS)?;
        Ok(exts)
    }

    /// The extensions in wire order.
    pub fn as_slice(&self) -> &[Extension<'a>] {
        &self.list
    }

    /// Iterates the extensions in wire order.
    pub fn iter(&self) -> impl Iterator<Item = &Extension<'a>> {
        self.list.iter()
    }

    /// Number of extensions.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the block holds no extension.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The `extension_data` of `ext_type`, if present.
    pub fn get(&self, ext_type: u16) -> Option<&'a [u8]> {
        self.list
            .iter()
            .find(|e| e.ext_type == ext_type)
            .map(|e| e.data)
    }

    /// The SessionTicket extension read as a ClientHello would carry it, if present.
    pub fn client_session_ticket(&self) -> Result<Option<ClientHelloTicketExt<'a>>, WireError> {
        self.get(SESSION_TICKET_EXTENSION_TYPE)
            .map(ClientHelloTicketExt::from_extension_data)
            .transpose()
    }

    /// The SessionTicket extension read as a ServerHello would carry it (must be empty), if
    /// present.
    pub fn server_session_ticket(&self) -> Result<Option<ServerHelloTicketExt>, WireError> {
        self.get(SESSION_TICKET_EXTENSION_TYPE)
            .map(ServerHelloTicketExt::from_extension_data)
            .transpose()
    }

    /// Bytes the block takes on the wire (including its `uint16` length).
    pub fn encoded_len(&self) -> usize {
        2 + self.list.iter().map(Extension::encoded_len).sum::<usize>()
    }

    /// Appends the block; fails (appending nothing) if it exceeds 2^16-1 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        self.encode_inner(None, out)
    }

    /// Appends the block with `ext` set: if an extension of `ext.ext_type` is present its data
    /// is replaced in place; otherwise `ext` is added at the end, or just before a trailing
    /// `pre_shared_key` (which TLS 1.3 requires to stay last). Fails (appending nothing) if
    /// the result exceeds 2^16-1 bytes.
    pub fn encode_with(&self, ext: Extension<'_>, out: &mut Vec<u8>) -> Result<(), WireError> {
        self.encode_inner(Some(ext), out)
    }

    fn encode_inner(&self, ext: Option<Extension<'_>>, out: &mut Vec<u8>) -> Result<(), WireError> {
        if let Some(new) = ext {
            u16_len(new.data.len(), fields::EXTENSION_DATA)?;
        }
        let replaces = ext.is_some_and(|new| self.get(new.ext_type).is_some());
        let insert_at = match ext {
            Some(_) if !replaces => match self.list.last() {
                Some(last) if last.ext_type == PRE_SHARED_KEY_EXTENSION_TYPE => self.list.len() - 1,
                _ => self.list.len(),
            },
            _ => usize::MAX,
        };
        encode_atomically(out, |out| {
            let len_at = out.len();
            put_u16(out, 0);
            for (i, old) in self.list.iter().enumerate() {
                if let Some(new) = ext {
                    if i == insert_at {
                        new.encode(out)?;
                    }
                    if old.ext_type == new.ext_type {
                        new.encode(out)?;
                        continue;
                    }
                }
                old.encode(out)?;
            }
            if let Some(new) = ext
                && insert_at == self.list.len()
            {
                new.encode(out)?;
            }
            let body_len = u16_len(out.len() - len_at - 2, fields::EXTENSIONS)?;
            // The placeholder was written above, so this range exists.
            if let Some(slot) = out.get_mut(len_at..len_at + 2) {
                slot.copy_from_slice(&body_len.to_be_bytes());
            }
            Ok(())
        })
    }
}

impl<'a, 'b> IntoIterator for &'b Extensions<'a> {
    type Item = &'b Extension<'a>;
    type IntoIter = core::slice::Iter<'b, Extension<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// Fails on the first extension type that appears twice. Sorting keeps this O(n log n) even
/// for a hostile block of 16k tiny extensions.
fn reject_duplicates(list: &[Extension<'_>]) -> Result<(), WireError> {
    let mut types: Vec<u16> = list.iter().map(|e| e.ext_type).collect();
    types.sort_unstable();
    for pair in types.windows(2) {
        if let [a, b] = pair
            && a == b
        {
            return Err(WireError::DuplicateExtension { ext_type: *a });
        }
    }
    Ok(())
}

/// The SessionTicket extension as a client sends it in ClientHello (RFC 5077 section 3.2).
///
/// Decoding borrows the ticket from the input (`Cow::Borrowed`); build one to send with
/// `ClientHelloTicketExt::Ticket(bytes.into())`, or call [`into_owned`](Self::into_owned) to
/// keep a decoded one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientHelloTicketExt<'a> {
    /// Zero-length extension: "I support tickets and have none; send me one".
    Empty,
    /// The ticket, which is the whole `extension_data` (1..=2^16-1 bytes).
    Ticket(Cow<'a, [u8]>),
}

impl<'a> ClientHelloTicketExt<'a> {
    /// Interprets a SessionTicket `extension_data`: empty is [`Empty`](Self::Empty), anything
    /// else is the ticket.
    pub fn from_extension_data(data: &'a [u8]) -> Result<Self, WireError> {
        if data.len() > MAX_U16_LEN {
            return Err(WireError::TooLong {
                field: fields::SESSION_TICKET,
                len: data.len(),
                max: MAX_U16_LEN,
            });
        }
        Ok(if data.is_empty() {
            Self::Empty
        } else {
            Self::Ticket(Cow::Borrowed(data))
        })
    }

    /// The ticket, if the client presented one.
    pub fn ticket(&self) -> Option<&[u8]> {
        match self {
            Self::Empty => None,
            Self::Ticket(t) => Some(t),
        }
    }

    /// The `extension_data` this value puts on the wire.
    pub fn extension_data(&self) -> &[u8] {
        self.ticket().unwrap_or(&[])
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ClientHelloTicketExt<'static> {
        match self {
            Self::Empty => ClientHelloTicketExt::Empty,
            Self::Ticket(t) => ClientHelloTicketExt::Ticket(Cow::Owned(t.into_owned())),
        }
    }

    /// Checks what `encode` would refuse: a `Ticket` must be 1..=2^16-1 bytes (an empty one
    /// would go out as `Empty` and change meaning).
    fn check(&self) -> Result<(), WireError> {
        if let Self::Ticket(t) = self {
            if t.is_empty() {
                return Err(WireError::TooShort {
                    field: fields::SESSION_TICKET,
                    len: 0,
                    min: 1,
                });
            }
            u16_len(t.len(), fields::SESSION_TICKET)?;
        }
        Ok(())
    }

    /// The extension as a borrowed [`Extension`], after the same checks as `encode`.
    pub fn as_extension(&self) -> Result<Extension<'_>, WireError> {
        self.check()?;
        Ok(Extension {
            ext_type: SESSION_TICKET_EXTENSION_TYPE,
            data: self.extension_data(),
        })
    }

    /// Bytes the extension takes on the wire (type, length, data).
    pub fn encoded_len(&self) -> usize {
        4 + self.extension_data().len()
    }

    /// Appends the whole extension (type 35, `uint16` length, ticket).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        self.as_extension()?.encode(out)
    }

    /// Decodes one whole extension; it must be of type 35 and nothing may follow it.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, WireError> {
        let ext = Extension::decode(bytes)?;
        expect_session_ticket_type(ext.ext_type)?;
        Self::from_extension_data(ext.data)
    }

    /// Decodes a whole ClientHello extensions block strictly and returns the SessionTicket
    /// extension if the client sent one.
    pub fn find_in(block: &'a [u8]) -> Result<Option<Self>, WireError> {
        Extensions::decode(block)?.client_session_ticket()
    }

    /// Appends `block` re-encoded with this extension set (replacing an existing
    /// SessionTicket extension, else added last but before a TLS 1.3 `pre_shared_key`).
    pub fn insert_into(&self, block: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
        Extensions::decode(block)?.encode_with(self.as_extension()?, out)
    }
}

/// The SessionTicket extension as a server sends it in ServerHello: always empty, and sent
/// if and only if a NewSessionTicket will follow (RFC 5077 section 3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServerHelloTicketExt;

impl ServerHelloTicketExt {
    /// Bytes the extension takes on the wire.
    pub const ENCODED: [u8; 4] = [0, 35, 0, 0];

    /// Accepts only an empty `extension_data`.
    pub fn from_extension_data(data: &[u8]) -> Result<Self, WireError> {
        if data.is_empty() {
            Ok(Self)
        } else {
            Err(WireError::TooLong {
                field: fields::SERVER_SESSION_TICKET,
                len: data.len(),
                max: 0,
            })
        }
    }

    /// The extension as a borrowed [`Extension`].
    pub const fn as_extension(&self) -> Extension<'static> {
        Extension {
            ext_type: SESSION_TICKET_EXTENSION_TYPE,
            data: &[],
        }
    }

    /// Bytes the extension takes on the wire.
    pub const fn encoded_len(&self) -> usize {
        Self::ENCODED.len()
    }

    /// Appends the extension (type 35, length 0).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::ENCODED);
    }

    /// Decodes one whole extension; it must be type 35, empty, with nothing after it.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let ext = Extension::decode(bytes)?;
        expect_session_ticket_type(ext.ext_type)?;
        Self::from_extension_data(ext.data)
    }

    /// Decodes a whole ServerHello extensions block strictly and returns the SessionTicket
    /// extension if the server sent one.
    pub fn find_in(block: &[u8]) -> Result<Option<Self>, WireError> {
        Extensions::decode(block)?.server_session_ticket()
    }

    /// Appends `block` re-encoded with this extension set (added last if absent).
    pub fn insert_into(&self, block: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
        Extensions::decode(block)?.encode_with(self.as_extension(), out)
    }
}

fn expect_session_ticket_type(ext_type: u16) -> Result<(), WireError> {
    if ext_type == SESSION_TICKET_EXTENSION_TYPE {
        Ok(())
    } else {
        Err(WireError::BadValue {
            field: fields::EXTENSION_TYPE,
            value: u32::from(ext_type),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ticket_is_the_whole_extension_data() {
        // RFC 5077 Appendix A: no inner length prefix inside extension_data.
        let ext = ClientHelloTicketExt::Ticket(Cow::Borrowed(&[0xDE, 0xAD, 0xBE]));
        let mut out = Vec::new();
        ext.encode(&mut out).unwrap();
        assert_eq!(out, [0x00, 0x23, 0x00, 0x03, 0xDE, 0xAD, 0xBE]);
        assert_eq!(ClientHelloTicketExt::decode(&out).unwrap(), ext);
    }

    #[test]
    fn empty_client_ticket_refused_on_encode() {
        let ext = ClientHelloTicketExt::Ticket(Cow::Owned(Vec::new()));
        let mut out = vec![1];
        assert_eq!(
            ext.encode(&mut out),
            Err(WireError::TooShort {
                field: fields::SESSION_TICKET,
                len: 0,
                min: 1
            })
        );
        assert_eq!(out, [1]);
    }

    #[test]
    fn insertion_keeps_pre_shared_key_last() {
        // Block: server_name(0) with 1 byte, pre_shared_key(41) with 2 bytes.
        let block = [0, 11, 0, 0, 0, 1, 0xAA, 0, 41, 0, 2, 0xBB, 0xCC];
        let mut out = Vec::new();
        ClientHelloTicketExt::Empty
            .insert_into(&block, &mut out)
            .unwrap();
        let exts = Extensions::decode(&out).unwrap();
        let types: Vec<u16> = exts.iter().map(|e| e.ext_type).collect();
        assert_eq!(types, [0, 35, 41]);
    }

    #[test]
    fn insertion_replaces_in_place() {
        let block = [0, 10, 0, 35, 0, 1, 0x01, 0, 5, 0, 1, 0x02];
        let mut out = Vec::new();
        ClientHelloTicketExt::Ticket(Cow::Borrowed(&[9, 9]))
            .insert_into(&block, &mut out)
            .unwrap();
        assert_eq!(out, [0, 11, 0, 35, 0, 2, 9, 9, 0, 5, 0, 1, 0x02]);
    }
}
