//! The checked byte reader, the typed decode error and the writers every codec shares.
//!
//! Decoding is strict (TLS presentation language, RFC 5246 section 4): every read is bounds
//! checked, every length prefix must fit inside what remains, and a structure that is done
//! must have consumed all of its bytes. Nothing here indexes or unwraps attacker input.

use core::fmt;

/// Why bytes did not decode (or a value could not be encoded), naming the field that failed.
///
/// Field names are stable strings of the form `Struct.field` (see [`fields`](super::fields)),
/// so callers can match on them, count them, or print them. No variant ever carries secret
/// material: only lengths, counts and enum/type codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended inside `field`: `needed` bytes were required, only `available` remained.
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// `field` was complete but `count` bytes were left over inside it (or after it).
    TrailingBytes {
        /// The structure that should have been used up.
        field: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// `field` holds a value the protocol does not allow (unknown enum value, wrong
    /// handshake or extension type).
    BadValue {
        /// The field holding the value.
        field: &'static str,
        /// The value found.
        value: u32,
    },
    /// `field` is `len` bytes long but at most `max` are allowed.
    TooLong {
        /// The field whose length is out of range.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// `field` is `len` bytes long but at least `min` are required.
    TooShort {
        /// The field whose length is out of range.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The smallest length allowed.
        min: usize,
    },
    /// An extensions block carries `ext_type` more than once (RFC 5246 section 7.4.1.4:
    /// "There MUST NOT be more than one extension of the same type").
    DuplicateExtension {
        /// The repeated extension type.
        ext_type: u16,
    },
}

impl WireError {
    /// The field (or structure) that failed.
    pub const fn field(&self) -> &'static str {
        match self {
            Self::Truncated { field, .. }
            | Self::TrailingBytes { field, .. }
            | Self::BadValue { field, .. }
            | Self::TooLong { field, .. }
            | Self::TooShort { field, .. } => field,
            Self::DuplicateExtension { .. } => super::fields::EXTENSIONS,
        }
    }

    /// A stable snake_case name of the kind of failure (for counters and JSON).
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated",
            Self::TrailingBytes { .. } => "trailing_bytes",
            Self::BadValue { .. } => "bad_value",
            Self::TooLong { .. } => "too_long",
            Self::TooShort { .. } => "too_short",
            Self::DuplicateExtension { .. } => "duplicate_extension",
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                field,
                needed,
                available,
            } => write!(
                f,
                "{field}: truncated (needs {needed} bytes, {available} left)"
            ),
            Self::TrailingBytes { field, count } => {
                write!(f, "{field}: {count} trailing bytes")
            }
            Self::BadValue { field, value } => write!(f, "{field}: bad value {value}"),
            Self::TooLong { field, len, max } => {
                write!(f, "{field}: length {len} exceeds maximum {max}")
            }
            Self::TooShort { field, len, min } => {
                write!(f, "{field}: length {len} below minimum {min}")
            }
            Self::DuplicateExtension { ext_type } => {
                write!(f, "extensions: duplicate extension type {ext_type}")
            }
        }
    }
}

impl std::error::Error for WireError {}

/// A cursor over borrowed bytes whose every read is checked.
///
/// Reads return slices borrowed from the input (`'a`), so decoding a ticket out of a
/// ClientHello copies nothing. `Debug` shows only the count of unread bytes, since a reader
/// may be walking a decrypted state that holds a master secret.
#[derive(Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("remaining", &self.rest.len())
            .finish()
    }
}

impl<'a> Reader<'a> {
    /// A reader over all of `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Bytes not yet read.
    pub const fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Whether everything has been read.
    pub const fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The unread bytes, without consuming them.
    pub const fn peek_rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Consumes and returns all unread bytes.
    pub fn take_rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// Reads exactly `len` bytes of `field`.
    pub fn read_bytes(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], WireError> {
        match self.rest.split_at_checked(len) {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => Err(WireError::Truncated {
                field,
                needed: len,
                available: self.rest.len(),
            }),
        }
    }

    /// Reads a fixed-size array (`opaque field[N]`).
    pub fn read_array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], WireError> {
        let bytes = self.read_bytes(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads a `uint8`.
    pub fn read_u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        let [b] = self.read_array::<1>(field)?;
        Ok(b)
    }

    /// Reads a big-endian `uint16`.
    pub fn read_u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.read_array(field)?))
    }

    /// Reads a big-endian `uint24` (returned in the low 24 bits of a `u32`).
    pub fn read_u24(&mut self, field: &'static str) -> Result<u32, WireError> {
        let [a, b, c] = self.read_array(field)?;
        Ok(u32::from_be_bytes([0, a, b, c]))
    }

    /// Reads a big-endian `uint32`.
    pub fn read_u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.read_array(field)?))
    }

    /// Splits off the next `len` bytes as their own reader (for a length-prefixed field).
    pub fn sub(&mut self, len: usize, field: &'static str) -> Result<Self, WireError> {
        self.read_bytes(len, field).map(Self::new)
    }

    /// Reads a `uint8` length and splits off that many bytes (`T field<..2^8-1>`).
    pub fn sub_u8(&mut self, field: &'static str) -> Result<Self, WireError> {
        let len = self.read_u8(field)?;
        self.sub(usize::from(len), field)
    }

    /// Reads a `uint16` length and splits off that many bytes (`T field<..2^16-1>`).
    pub fn sub_u16(&mut self, field: &'static str) -> Result<Self, WireError> {
        let len = self.read_u16(field)?;
        self.sub(usize::from(len), field)
    }

    /// Reads a `uint24` length and splits off that many bytes (`T field<..2^24-1>`).
    pub fn sub_u24(&mut self, field: &'static str) -> Result<Self, WireError> {
        let len = self.read_u24(field)?;
        // A u24 fits any usize of 32 bits or more; saturating keeps 16-bit targets safe too
        // (the oversized length then fails as Truncated).
        self.sub(usize::try_from(len).unwrap_or(usize::MAX), field)
    }

    /// Reads `opaque field<..2^8-1>` and returns its bytes.
    pub fn opaque_u8(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        Ok(self.sub_u8(field)?.take_rest())
    }

    /// Reads `opaque field<..2^16-1>` and returns its bytes.
    pub fn opaque_u16(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        Ok(self.sub_u16(field)?.take_rest())
    }

    /// Reads `opaque field<..2^24-1>` and returns its bytes.
    pub fn opaque_u24(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        Ok(self.sub_u24(field)?.take_rest())
    }

    /// Fails with [`WireError::TrailingBytes`] unless everything in `field` was read.
    pub const fn expect_empty(&self, field: &'static str) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes {
                field,
                count: self.rest.len(),
            })
        }
    }
}

/// Largest value of a `uint16` length.
pub const MAX_U16_LEN: usize = 0xFFFF;
/// Largest value of a `uint24` length.
pub const MAX_U24_LEN: usize = 0xFF_FFFF;

/// Appends a `uint8`.
pub fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

/// Appends a big-endian `uint16`.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `uint24`; fails (writing nothing) if `v` does not fit 24 bits.
pub fn put_u24(out: &mut Vec<u8>, v: usize, field: &'static str) -> Result<(), WireError> {
    let [_, a, b, c] = u32_len(v, MAX_U24_LEN, field)?.to_be_bytes();
    out.extend_from_slice(&[a, b, c]);
    Ok(())
}

/// Appends a big-endian `uint32`.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `opaque field<..2^16-1>` (length then bytes); fails (writing nothing) if too long.
pub fn put_opaque_u16(
    out: &mut Vec<u8>,
    data: &[u8],
    field: &'static str,
) -> Result<(), WireError> {
    let len = u16_len(data.len(), field)?;
    put_u16(out, len);
    out.extend_from_slice(data);
    Ok(())
}

/// Appends `opaque field<..2^24-1>` (length then bytes); fails (writing nothing) if too long.
pub fn put_opaque_u24(
    out: &mut Vec<u8>,
    data: &[u8],
    field: &'static str,
) -> Result<(), WireError> {
    put_u24(out, data.len(), field)?;
    out.extend_from_slice(data);
    Ok(())
}

/// Checks that `len` fits a `uint16` length prefix.
pub fn u16_len(len: usize, field: &'static str) -> Result<u16, WireError> {
    u16::try_from(len).map_err(|_| WireError::TooLong {
        field,
        len,
        max: MAX_U16_LEN,
    })
}

/// Checks `len <= max` and returns it as a `u32`.
fn u32_len(len: usize, max: usize, field: &'static str) -> Result<u32, WireError> {
    if len > max {
        return Err(WireError::TooLong { field, len, max });
    }
    u32::try_from(len).map_err(|_| WireError::TooLong { field, len, max })
}

/// Runs `write` on `out`; if it fails, truncates `out` back so a failed encode appends nothing.
pub(crate) fn encode_atomically(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let start = out.len();
    let result = write(out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_integers_big_endian() {
        let bytes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.read_u8("a"), Ok(1));
        assert_eq!(r.read_u16("b"), Ok(0x0203));
        assert_eq!(r.read_u24("c"), Ok(0x04_0506));
        assert_eq!(r.read_u32("d"), Ok(0x0708_090A));
        assert!(r.is_empty());
        assert_eq!(r.expect_empty("x"), Ok(()));
    }

    #[test]
    fn truncated_read_names_field_and_consumes_nothing() {
        let bytes = [1, 2, 3];
        let mut r = Reader::new(&bytes);
        assert_eq!(
            r.read_u32("thing.len"),
            Err(WireError::Truncated {
                field: "thing.len",
                needed: 4,
                available: 3
            })
        );
        assert_eq!(r.remaining(), 3);
        assert_eq!(r.read_array::<3>("x"), Ok([1, 2, 3]));
    }

    #[test]
    fn sub_reader_is_bounded_by_its_length_prefix() {
        // u16 length 2, then [0xAA, 0xBB], then 0xCC outside the sub-reader.
        let bytes = [0, 2, 0xAA, 0xBB, 0xCC];
        let mut r = Reader::new(&bytes);
        let mut sub = r.sub_u16("inner").unwrap();
        assert_eq!(sub.read_u16("v"), Ok(0xAABB));
        assert!(sub.read_u8("over").is_err());
        assert_eq!(r.take_rest(), &[0xCC]);
    }

    #[test]
    fn length_prefix_past_end_is_truncated() {
        let bytes = [0, 0, 5, 1, 2];
        let mut r = Reader::new(&bytes);
        assert_eq!(
            r.opaque_u24("blob"),
            Err(WireError::Truncated {
                field: "blob",
                needed: 5,
                available: 2
            })
        );
    }

    #[test]
    fn expect_empty_reports_count() {
        let r = Reader::new(&[1, 2]);
        assert_eq!(
            r.expect_empty("s"),
            Err(WireError::TrailingBytes {
                field: "s",
                count: 2
            })
        );
    }

    #[test]
    fn writers_check_lengths() {
        let mut out = vec![9];
        assert!(put_opaque_u16(&mut out, &vec![0; MAX_U16_LEN + 1], "f").is_err());
        assert_eq!(out, [9]);
        put_opaque_u16(&mut out, &[7; 3], "f").unwrap();
        assert_eq!(out, [9, 0, 3, 7, 7, 7]);
        assert_eq!(
            put_u24(&mut out, MAX_U24_LEN + 1, "g"),
            Err(WireError::TooLong {
                field: "g",
                len: MAX_U24_LEN + 1,
                max: MAX_U24_LEN
            })
        );
        put_u24(&mut out, 0x01_0203, "g").unwrap();
        assert_eq!(&out[6..], [1, 2, 3]);
    }

    #[test]
    fn debug_shows_no_bytes() {
        let r = Reader::new(&[0xAB; 5]);
        assert_eq!(format!("{r:?}"), "Reader { remaining: 5 }");
    }

    #[test]
    fn display_names_field() {
        let e = WireError::BadValue {
            field: "ClientIdentity.client_authentication_type",
            value: 7,
        };
        assert_eq!(
            e.to_string(),
            "ClientIdentity.client_authentication_type: bad value 7"
        );
        assert_eq!(e.kind(), "bad_value");
    }
}
