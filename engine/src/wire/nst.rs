//! NewSessionTicket (RFC 5077 section 3.3, handshake type 4).
//!
//! ```text
//! struct { HandshakeType msg_type; uint24 length; select (msg_type) { ... } body; } Handshake;
//! struct { uint32 ticket_lifetime_hint; opaque ticket<0..2^16-1>; } NewSessionTicket;
//! ```
//! This is the TLS 1.2 message RFC 5077 defines; TLS 1.3's NewSessionTicket (RFC 8446 section
//! 4.6.1) is a different structure.

use super::codec::{
    MAX_U16_LEN, Reader, WireError, encode_atomically, put_opaque_u16, put_u8, put_u24, put_u32,
    u16_len,
};
use super::fields;

/// `HandshakeType` code of NewSessionTicket (RFC 5077 section 7).
pub const HANDSHAKE_TYPE_NEW_SESSION_TICKET: u8 = 4;

/// Size of a handshake header: `msg_type` (1) and `uint24 length` (3).
pub const HANDSHAKE_HEADER_LEN: usize = 4;

/// A NewSessionTicket message body.
///
/// A zero-length `ticket` is valid: it is how a server that announced a ticket in ServerHello
/// tells the client it changed its mind (section 3.3).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NewSessionTicket {
    /// Seconds the client may keep the ticket; 0 = unspecified. Only a hint (section 3.3).
    pub ticket_lifetime_hint: u32,
    /// The opaque ticket, at most 2^16-1 bytes.
    pub ticket: Vec<u8>,
}

impl NewSessionTicket {
    /// Smallest body: the lifetime hint and an empty ticket's length.
    pub const MIN_BODY_LEN: usize = 6;
    /// Largest body: the lifetime hint and a 2^16-1 byte ticket.
    pub const MAX_BODY_LEN: usize = 6 + MAX_U16_LEN;

    /// A message carrying `ticket` with the given lifetime hint.
    pub fn new(ticket_lifetime_hint: u32, ticket: impl Into<Vec<u8>>) -> Self {
        Self {
            ticket_lifetime_hint,
            ticket: ticket.into(),
        }
    }

    /// Bytes of the body alone.
    pub fn body_len(&self) -> usize {
        Self::MIN_BODY_LEN + self.ticket.len()
    }

    /// Bytes of the whole handshake message (header and body).
    pub fn encoded_len(&self) -> usize {
        HANDSHAKE_HEADER_LEN + self.body_len()
    }

    /// Appends the body; fails (appending nothing) if the ticket exceeds 2^16-1 bytes.
    pub fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        u16_len(self.ticket.len(), fields::NST_TICKET)?;
        encode_atomically(out, |out| {
            put_u32(out, self.ticket_lifetime_hint);
            put_opaque_u16(out, &self.ticket, fields::NST_TICKET)
        })
    }

    /// Appends the whole handshake message: type 4, `uint24` length, body.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        u16_len(self.ticket.len(), fields::NST_TICKET)?;
        encode_atomically(out, |out| {
            put_u8(out, HANDSHAKE_TYPE_NEW_SESSION_TICKET);
            put_u24(out, self.body_len(), fields::HANDSHAKE_LENGTH)?;
            self.encode_body(out)
        })
    }

    /// Reads a body from `r`, leaving whatever follows it.
    pub fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let ticket_lifetime_hint = r.read_u32(fields::NST_LIFETIME_HINT)?;
        let ticket = r.opaque_u16(fields::NST_TICKET)?.to_vec();
        Ok(Self {
            ticket_lifetime_hint,
            ticket,
        })
    }

    /// Decodes exactly one body; trailing bytes are an error.
    pub fn decode_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let nst = Self::read_body(&mut r)?;
        r.expect_empty(fields::NEW_SESSION_TICKET)?;
        Ok(nst)
    }

    /// Reads a whole handshake message from `r`: the type must be 4 and the `uint24` length
    /// must be exactly the body's size.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let msg_type = r.read_u8(fields::HANDSHAKE_TYPE)?;
        if msg_type != HANDSHAKE_TYPE_NEW_SESSION_TICKET {
            return Err(WireError::BadValue {
                field: fields::HANDSHAKE_TYPE,
                value: u32::from(msg_type),
            });
        }
        let mut body = r.sub_u24(fields::HANDSHAKE_LENGTH)?;
        let nst = Self::read_body(&mut body)?;
        body.expect_empty(fields::NEW_SESSION_TICKET)?;
        Ok(nst)
    }

    /// Decodes exactly one handshake message; bytes after it are an error.
    pub fn decode(message: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(message);
        let nst = Self::read(&mut r)?;
        r.expect_empty(fields::HANDSHAKE)?;
        Ok(nst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_length_ticket_round_trips() {
        let nst = NewSessionTicket::new(0, Vec::new());
        let mut out = Vec::new();
        nst.encode(&mut out).unwrap();
        assert_eq!(out, [4, 0, 0, 6, 0, 0, 0, 0, 0, 0]);
        assert_eq!(NewSessionTicket::decode(&out), Ok(nst));
    }

    #[test]
    fn oversized_ticket_refused_and_nothing_written() {
        let nst = NewSessionTicket::new(1, vec![0; MAX_U16_LEN + 1]);
        let mut out = vec![7];
        let err = WireError::TooLong {
            field: fields::NST_TICKET,
            len: MAX_U16_LEN + 1,
            max: MAX_U16_LEN,
        };
        assert_eq!(nst.encode(&mut out), Err(err));
        assert_eq!(nst.encode_body(&mut out), Err(err));
        assert_eq!(out, [7]);
    }

    #[test]
    fn body_longer_than_ticket_is_trailing() {
        // Header says 7 bytes; body is hint + empty ticket + 1 stray byte.
        let msg = [4, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0xFF];
        assert_eq!(
            NewSessionTicket::decode(&msg),
            Err(WireError::TrailingBytes {
                field: fields::NEW_SESSION_TICKET,
                count: 1
            })
        );
    }
}
