//! Errors. Two kinds, kept apart on purpose:
//! - [`Error`]: configuration or API misuse (bad key file, weak key, buffer too small). The
//!   operator must see these.
//! - [`Rejected`]: a ticket that did not open. The peer only ever sees a full handshake; the
//!   [`RejectReason`] is for the operator's counters, never for the wire.

use core::fmt;

/// Why a ticket was rejected, in the order the open path checks (cheapest first, RFC 5077 5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// Shorter than the smallest ticket the format can produce.
    TooShort,
    /// Longer than the longest ticket this ring can issue (rejected before any crypto).
    TooLong,
    /// The length field or layout does not agree with the ticket's size.
    Malformed,
    /// No key in the ring has this key name.
    UnknownKey,
    /// The key name was revoked (section 5.1).
    Revoked,
    /// The MAC / AEAD tag did not verify.
    BadMac,
    /// The MAC verified but the CBC padding is wrong (only a key holder can produce this).
    BadPadding,
    /// The decrypted state did not decode (wire level).
    BadState,
    /// The ticket is older than its lifetime (section 5.6).
    Expired,
    /// The ticket is stamped in the future beyond the allowed clock skew.
    Future,
}

impl RejectReason {
    /// Every reason, for counters and reports.
    pub const ALL: [Self; 10] = [
        Self::TooShort,
        Self::TooLong,
        Self::Malformed,
        Self::UnknownKey,
        Self::Revoked,
        Self::BadMac,
        Self::BadPadding,
        Self::BadState,
        Self::Expired,
        Self::Future,
    ];

    /// A stable snake_case name (used in JSON reports and metrics).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::Malformed => "malformed",
            Self::UnknownKey => "unknown_key",
            Self::Revoked => "revoked",
            Self::BadMac => "bad_mac",
            Self::BadPadding => "bad_padding",
            Self::BadState => "bad_state",
            Self::Expired => "expired",
            Self::Future => "future",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket that did not open. Means "do a full handshake"; never an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rejected(pub RejectReason);

impl Rejected {
    /// The counted reason (operator-facing only).
    pub const fn reason(self) -> RejectReason {
        self.0
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ticket rejected: {}", self.0)
    }
}

impl std::error::Error for Rejected {}

/// Configuration or API misuse.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A key has a length the format cannot use.
    KeyLength {
        /// Which part of the key.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A key is all zero or one repeated byte: refused as almost surely a mistake.
    WeakKey(&'static str),
    /// Two keys in one ring share a key name.
    DuplicateKeyName,
    /// A key ring needs exactly one sealing key.
    NoSealingKey,
    /// A key file could not be read or parsed.
    KeyFile {
        /// The file (or a description of the source).
        path: String,
        /// 1-based line (text formats) or 0 when not line-oriented.
        line: usize,
        /// What is wrong, never containing secret bytes.
        msg: String,
    },
    /// The state to seal is longer than a ticket can carry (2^16-1 bytes of ciphertext).
    StateTooLong(usize),
    /// A caller-provided buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes provided.
        got: usize,
    },
    /// Slices passed to a batch call have different lengths.
    BatchShape,
    /// The operating system's random source failed.
    Rng,
    /// The requested backend is not available on this CPU or build.
    BackendUnavailable(&'static str),
    /// I/O error with context.
    Io(String, std::io::Error),
    /// A configuration value is out of range (e.g. a fleet period of 0 seconds).
    InvalidConfig(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyLength { what, len } => write!(f, "{what} has unsupported length {len}"),
            Self::WeakKey(what) => {
                write!(f, "{what} is all-zero or one repeated byte; refusing it")
            }
            Self::DuplicateKeyName => f.write_str("two keys share one key name"),
            Self::NoSealingKey => f.write_str("a key ring needs exactly one sealing key"),
            Self::KeyFile { path, line, msg } if *line > 0 => write!(f, "{path}:{line}: {msg}"),
            Self::KeyFile { path, msg, .. } => write!(f, "{path}: {msg}"),
            Self::StateTooLong(n) => write!(f, "state of {n} bytes is too long for a ticket"),
            Self::BufferTooSmall { needed, got } => {
                write!(f, "output buffer too small: need {needed} bytes, got {got}")
            }
            Self::BatchShape => f.write_str("batch inputs and outputs differ in length"),
            Self::Rng => f.write_str("the OS random source failed"),
            Self::BackendUnavailable(b) => write!(f, "backend {b} is not available here"),
            Self::Io(ctx, e) => write!(f, "{ctx}: {e}"),
            Self::InvalidConfig(what) => write!(f, "invalid configuration: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(_, e) => Some(e),
            _ => None,
        }
    }
}
