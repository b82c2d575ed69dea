//! The TLS 1.2 legacy session ID: 0 to 32 opaque bytes (RFC 5246 section 7.4.1.2).

use core::fmt;

use crate::error::Error;

const MAX_LEN: usize = SessionId::MAX_LEN;

/// A session ID of 0..=32 bytes, stored inline so decisions stay `Copy` and allocation-free.
///
/// Not secret (it travels in the clear), so plain equality is fine.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId {
    bytes: [u8; MAX_LEN],
    len: u8,
}

/// A session ID longer than 32 bytes: the ClientHello or ServerHello is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionIdTooLong(pub usize);

impl fmt::Display for SessionIdTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "session ID of {} bytes exceeds the TLS limit of {MAX_LEN}",
            self.0
        )
    }
}

impl std::error::Error for SessionIdTooLong {}

impl SessionId {
    /// Longest session ID TLS allows.
    pub const MAX_LEN: usize = 32;

    /// The empty session ID.
    pub const EMPTY: Self = Self {
        bytes: [0; MAX_LEN],
        len: 0,
    };

    /// Copies a session ID from the wire; refuses more than 32 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, SessionIdTooLong> {
        let mut id = Self::EMPTY;
        let dst = id
            .bytes
            .get_mut(..bytes.len())
            .ok_or(SessionIdTooLong(bytes.len()))?;
        dst.copy_from_slice(bytes);
        // bytes.len() <= 32 here, so the cast is lossless.
        id.len = bytes.len() as u8;
        Ok(id)
    }

    /// A fresh 32-byte session ID from the OS random source.
    pub fn random() -> Result<Self, Error> {
        let mut id = Self {
            bytes: [0; MAX_LEN],
            len: MAX_LEN as u8,
        };
        getrandom::getrandom(&mut id.bytes).map_err(|_| Error::Rng)?;
        Ok(id)
    }

    /// The bytes to put on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        // len <= 32 by construction; fall back to empty rather than panic.
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Length in bytes (0..=32).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the empty session ID.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_zero_to_32_accepted_33_refused() {
        for n in 0..=32 {
            let src: Vec<u8> = (0..n as u8).collect();
            let id = SessionId::new(&src).unwrap();
            assert_eq!(id.as_bytes(), &src[..]);
            assert_eq!(id.len(), n);
            assert_eq!(id.is_empty(), n == 0);
        }
        assert_eq!(SessionId::new(&[7; 33]), Err(SessionIdTooLong(33)));
        assert_eq!(SessionId::new(&[7; 300]), Err(SessionIdTooLong(300)));
    }

    #[test]
    fn equality_ignores_nothing_but_unused_tail() {
        let a = SessionId::new(&[1, 2, 3]).unwrap();
        let b = SessionId::new(&[1, 2, 3]).unwrap();
        let c = SessionId::new(&[1, 2]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(SessionId::new(&[]).unwrap(), SessionId::EMPTY);
    }

    #[test]
    fn random_ids_are_full_length_and_distinct() {
        let a = SessionId::random().unwrap();
        let b = SessionId::random().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn debug_is_hex() {
        let id = SessionId::new(&[0xab, 0x01]).unwrap();
        assert_eq!(format!("{id:?}"), "SessionId(ab01)");
    }
}
