//! The public layout of a CBC + HMAC ticket (everything readable without keys).
//!
//! RFC 5077 section 4:
//! ```text
//! struct { opaque key_name[16]; opaque iv[16]; opaque encrypted_state<0..2^16-1>;
//!          opaque mac[32]; } ticket;
//! ```
//! OpenSSL, BoringSSL, nginx and HAProxy emit the same fields without the `uint16` length
//! of `encrypted_state`. In both, the MAC covers every byte before it.
//!
//! This only splits the bytes: whether the MAC verifies, and whether `encrypted_state` is a
//! whole number of cipher blocks, is the ticket format's business (`format/`).

use super::codec::{MAX_U16_LEN, Reader, WireError};
use super::fields;
use crate::keys::KeyName;

/// A ticket split into its fields, borrowing the ciphertext from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketLayout<'a> {
    /// Which key sealed the ticket (public).
    pub key_name: KeyName,
    /// The CBC initialisation vector.
    pub iv: [u8; 16],
    /// The ciphertext of the session state.
    pub encrypted_state: &'a [u8],
    /// HMAC-SHA-256 tag.
    pub mac: [u8; 32],
    /// The bytes the MAC covers: everything before the tag.
    pub authenticated: &'a [u8],
}

impl<'a> TicketLayout<'a> {
    /// Bytes an RFC 5077 ticket adds around `encrypted_state` (name, iv, length, mac).
    pub const RFC5077_OVERHEAD: usize = 16 + 16 + 2 + 32;
    /// Bytes an OpenSSL-style ticket adds around `encrypted_state` (name, iv, mac).
    pub const OPENSSL_OVERHEAD: usize = 16 + 16 + 32;

    /// Splits an RFC 5077 section 4 ticket; the `uint16` length must match exactly.
    pub fn decode_rfc5077(ticket: &'a [u8]) -> Result<Self, WireError> {
        check_ticket_len(ticket)?;
        let mut r = Reader::new(ticket);
        let key_name = KeyName(r.read_array(fields::TICKET_KEY_NAME)?);
        let iv = r.read_array(fields::TICKET_IV)?;
        let encrypted_state = r.opaque_u16(fields::TICKET_ENCRYPTED_STATE)?;
        let mac = r.read_array(fields::TICKET_MAC)?;
        r.expect_empty(fields::TICKET)?;
        Ok(Self {
            key_name,
            iv,
            encrypted_state,
            mac,
            authenticated: authenticated_part(ticket),
        })
    }

    /// Splits an OpenSSL-style ticket: the ciphertext is whatever lies between the IV and
    /// the last 32 bytes.
    pub fn decode_openssl(ticket: &'a [u8]) -> Result<Self, WireError> {
        check_ticket_len(ticket)?;
        let mut r = Reader::new(ticket);
        let key_name = KeyName(r.read_array(fields::TICKET_KEY_NAME)?);
        let iv = r.read_array(fields::TICKET_IV)?;
        let state_len = r.remaining().saturating_sub(32);
        let encrypted_state = r.read_bytes(state_len, fields::TICKET_ENCRYPTED_STATE)?;
        let mac = r.read_array(fields::TICKET_MAC)?;
        r.expect_empty(fields::TICKET)?;
        Ok(Self {
            key_name,
            iv,
            encrypted_state,
            mac,
            authenticated: authenticated_part(ticket),
        })
    }
}

/// A ticket travels in `opaque ticket<0..2^16-1>` (NewSessionTicket) or as a whole
/// extension_data, so anything longer cannot have come off the wire.
fn check_ticket_len(ticket: &[u8]) -> Result<(), WireError> {
    if ticket.len() > MAX_U16_LEN {
        Err(WireError::TooLong {
            field: fields::TICKET,
            len: ticket.len(),
            max: MAX_U16_LEN,
        })
    } else {
        Ok(())
    }
}

/// Everything but the trailing 32-byte MAC (called only after the MAC was read).
fn authenticated_part(ticket: &[u8]) -> &[u8] {
    ticket
        .get(..ticket.len().saturating_sub(32))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc5077(state: &[u8]) -> Vec<u8> {
        let mut t = vec![0x11; 16];
        t.extend_from_slice(&[0x22; 16]);
        t.extend_from_slice(&u16::try_from(state.len()).unwrap().to_be_bytes());
        t.extend_from_slice(state);
        t.extend_from_slice(&[0x33; 32]);
        t
    }

    #[test]
    fn splits_rfc5077() {
        let t = rfc5077(&[0x44; 32]);
        let l = TicketLayout::decode_rfc5077(&t).unwrap();
        assert_eq!(l.key_name, KeyName([0x11; 16]));
        assert_eq!(l.iv, [0x22; 16]);
        assert_eq!(l.encrypted_state, &[0x44; 32]);
        assert_eq!(l.mac, [0x33; 32]);
        assert_eq!(l.authenticated, &t[..t.len() - 32]);
        assert_eq!(t.len(), TicketLayout::RFC5077_OVERHEAD + 32);
    }

    #[test]
    fn rfc5077_length_must_agree() {
        let mut t = rfc5077(&[0x44; 32]);
        t[33] = 33; // claims 33 bytes of state
        assert!(matches!(
            TicketLayout::decode_rfc5077(&t),
            Err(WireError::Truncated {
                field: fields::TICKET_MAC,
                ..
            })
        ));
        t[33] = 31;
        assert_eq!(
            TicketLayout::decode_rfc5077(&t),
            Err(WireError::TrailingBytes {
                field: fields::TICKET,
                count: 1
            })
        );
    }

    #[test]
    fn splits_openssl_and_rejects_short() {
        let mut t = vec![0x11; 32];
        t.extend_from_slice(&[0x44; 48]);
        t.extend_from_slice(&[0x33; 32]);
        let l = TicketLayout::decode_openssl(&t).unwrap();
        assert_eq!(l.encrypted_state, &[0x44; 48]);
        assert_eq!(l.authenticated, &t[..80]);
        for cut in 0..TicketLayout::OPENSSL_OVERHEAD {
            assert!(TicketLayout::decode_openssl(&t[..cut]).is_err(), "{cut}");
        }
        // Exactly the overhead: an empty ciphertext, which the layout allows.
        let l = TicketLayout::decode_openssl(&t[..64]).unwrap();
        assert!(l.encrypted_state.is_empty());
    }

    #[test]
    fn longer_than_any_wire_ticket_rejected() {
        let t = vec![0u8; MAX_U16_LEN + 1];
        let err = WireError::TooLong {
            field: fields::TICKET,
            len: MAX_U16_LEN + 1,
            max: MAX_U16_LEN,
        };
        assert_eq!(TicketLayout::decode_openssl(&t), Err(err));
        assert_eq!(TicketLayout::decode_rfc5077(&t), Err(err));
    }
}
