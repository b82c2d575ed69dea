//! Ticket formats: strict RFC 5077, OpenSSL/nginx-compatible, and AEAD. Each seals and opens.
//!
//! | format    | layout                                                        | MAC / tag input        |
//! |-----------|---------------------------------------------------------------|------------------------|
//! | `rfc5077` | `key_name[16] iv[16] u16 len AES-CBC(PKCS#7(state)) hmac[32]` | name, iv, len, ct      |
//! | `openssl` | `key_name[16] iv[16] AES-CBC(PKCS#7(state)) hmac[32]`         | name, iv, ct           |
//! | `aead`    | `key_name[16] nonce[24] XAES-256-GCM(state) tag[16]`          | AAD = key_name         |
//!
//! The CBC formats use the ticket key's raw keys: AES-128-CBC for a 16-byte AES key (what
//! RFC 5077 section 4 names, and nginx/HAProxy 48-byte key files), AES-256-CBC for a 32-byte
//! one (80-byte key files), and HMAC-SHA-256 keyed with the whole HMAC key (16 or 32 bytes).
//! `openssl` is bit-exact with what OpenSSL, BoringSSL, nginx and HAProxy emit: the same as
//! `rfc5077` minus the length field, and with the MAC not covering a length.
//!
//! ## The AEAD format: XAES-256-GCM with random 192-bit nonces
//! Key: at key setup, `HKDF-SHA-256(salt = none, ikm = aes_key || hmac_key,
//! info = "tessera aead xaes-256-gcm v1")` gives the 32-byte XAES-256-GCM key, so the AEAD
//! format never shares a key with the CBC formats. Sealing draws a fresh random 24-byte nonce
//! per ticket; the key name is the associated data (RFC 5077 section 5.7).
//!
//! XAES-256-GCM (C2SP, <https://c2sp.org/XAES-256-GCM>) derives a per-message AES-256 key from
//! the first 12 nonce bytes with the NIST SP 800-108 counter KDF over one-block CMAC, then runs
//! ordinary AES-256-GCM with the last 12 nonce bytes.
//!
//! - **Bound.** Nonces are random 192-bit values, so the chance that any two of `q` tickets
//!   sealed under one key anywhere in the fleet share a nonce is about `q^2 / 2^193`: for
//!   `q = 2^48` that is 2^-97, and it stays negligible far beyond (2^-33 at `q = 2^80`). The
//!   96 bits that pick the derived key collide at about `q^2 / 2^97`, which matters only if the
//!   96-bit GCM nonces under that derived key also collide; each derived key sees about one
//!   message, so GCM's own 2^32 random-nonce limit never comes into play. No coordination
//!   between sealers (processes, machines) is needed.
//! - **Cost per ticket.** Two AES-256 block encryptions (the KDF), one AES-256 key expansion
//!   (encryption schedule only), then AES-256-GCM: two more blocks (`H` and the tag mask), the
//!   GHASH key setup, CTR over the state and GHASH over one AAD block, the ciphertext and the
//!   length block. Against plain AES-GCM with a fixed key that is about four extra AES blocks
//!   plus a key expansion and a GHASH key setup: a constant, independent of the state size.
//! - **What the nonce reveals.** Nothing: it is 24 uniformly random bytes. Unlike a
//!   per-sealer prefix plus a counter, it does not tell an observer which tickets one process
//!   issued, in what order, or how many.
//!
//! ## Opening
//! Cheapest rejection first (RFC 5077 section 5.4): length bounds (`TooShort`, `TooLong`),
//! layout (`Malformed`: a `rfc5077` length field that disagrees, a CBC ciphertext that is not
//! a non-zero multiple of 16), key lookup (`UnknownKey`), MAC or tag in constant time
//! (`BadMac`), and only then decryption and the padding check (`BadPadding`). Nothing is
//! decrypted before its MAC verified. Whatever the bytes, a ticket that fails is a clean
//! [`Rejected`], never a panic.
//!
//! The `_into` functions write into a caller's slice and allocate nothing; the `Vec` ones are
//! thin wrappers that append to the vector.
#![forbid(unsafe_code)]

use core::fmt;
use core::str::FromStr;

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use crate::backend::Backend;
use crate::backend::hazmat::{BLOCK, pkcs7_pad, pkcs7_unpad, tags_equal};
use crate::error::{Error, RejectReason, Rejected};
use crate::keys::TicketKey;

/// The longest ticket any format produces: a ticket must fit `opaque ticket<0..2^16-1>` in
/// NewSessionTicket (RFC 5077 section 3.3).
pub const MAX_TICKET_LEN: usize = 0xffff;

const NAME_LEN: usize = 16;
const HMAC_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// A ticket format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TicketFormat {
    /// RFC 5077 section 4 exactly: `key_name | iv | u16 len | AES-CBC | HMAC(name|iv|len|ct)`.
    Rfc5077,
    /// What OpenSSL/BoringSSL/nginx/HAProxy emit: `key_name | iv | AES-CBC | HMAC(name|iv|ct)`.
    OpenSsl,
    /// `key_name | nonce[24] | XAES-256-GCM ciphertext | tag`, key_name as AAD.
    Aead,
}

/// An unknown ticket format name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseTicketFormatError(pub String);

impl fmt::Display for ParseTicketFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown ticket format {:?} (expected rfc5077, openssl or aead)",
            self.0
        )
    }
}

impl std::error::Error for ParseTicketFormatError {}

impl FromStr for TicketFormat {
    type Err = ParseTicketFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ParseTicketFormatError(s.to_owned()))
    }
}

impl fmt::Display for TicketFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TicketFormat {
    /// Every format.
    pub const ALL: [Self; 3] = [Self::Rfc5077, Self::OpenSsl, Self::Aead];

    /// The stable name (`rfc5077`, `openssl`, `aead`), as the CLI and reports spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rfc5077 => "rfc5077",
            Self::OpenSsl => "openssl",
            Self::Aead => "aead",
        }
    }

    /// Length of the IV (CBC formats, 16) or nonce (AEAD, 24) that `seal_with_iv` takes.
    pub const fn iv_len(self) -> usize {
        match self {
            Self::Rfc5077 | Self::OpenSsl => BLOCK,
            Self::Aead => 24,
        }
    }

    /// Bytes before the ciphertext: key name, IV or nonce, and (rfc5077) the length field.
    const fn header_len(self) -> usize {
        match self {
            Self::Rfc5077 => NAME_LEN + BLOCK + 2,
            Self::OpenSsl => NAME_LEN + BLOCK,
            Self::Aead => NAME_LEN + 24,
        }
    }

    /// Bytes after the ciphertext: the MAC or tag.
    const fn trailer_len(self) -> usize {
        match self {
            Self::Rfc5077 | Self::OpenSsl => HMAC_LEN,
            Self::Aead => TAG_LEN,
        }
    }

    const fn is_cbc(self) -> bool {
        matches!(self, Self::Rfc5077 | Self::OpenSsl)
    }

    /// Ciphertext length for a state of `state_len` bytes (saturating).
    const fn body_len(self, state_len: usize) -> usize {
        if self.is_cbc() {
            (state_len / BLOCK).saturating_add(1).saturating_mul(BLOCK)
        } else {
            state_len
        }
    }

    /// Length of a sealed ticket carrying `state_len` bytes of state (saturating at
    /// `usize::MAX`; states above [`Self::max_state_len`] cannot be sealed at all).
    pub const fn sealed_len(self, state_len: usize) -> usize {
        self.body_len(state_len)
            .saturating_add(self.header_len() + self.trailer_len())
    }

    /// The shortest ticket this format can produce (an empty state): anything shorter is
    /// rejected as `TooShort` before any other check.
    pub const fn min_len(self) -> usize {
        self.sealed_len(0)
    }

    /// The longest state whose ticket still fits [`MAX_TICKET_LEN`]: 65455 bytes for the CBC
    /// formats, 65479 for AEAD.
    pub const fn max_state_len(self) -> usize {
        let room = MAX_TICKET_LEN - self.header_len() - self.trailer_len();
        if self.is_cbc() {
            room / BLOCK * BLOCK - 1
        } else {
            room
        }
    }

    /// The longest ticket sealed from states of at most `max_state_len` bytes: the `max_len`
    /// to pass to [`open_into`] so nothing longer is ever given to the crypto.
    pub const fn max_ticket_len(self, max_state_len: usize) -> usize {
        let n = if max_state_len < self.max_state_len() {
            max_state_len
        } else {
            self.max_state_len()
        };
        self.sealed_len(n)
    }

    /// The room [`open_into`] needs in its output slice for a ticket of `ticket_len` bytes
    /// (the ciphertext length; the state is at most this long).
    pub const fn open_buf_len(self, ticket_len: usize) -> usize {
        ticket_len.saturating_sub(self.header_len() + self.trailer_len())
    }
}

/// A successfully opened ticket: the state's length in the output and the key that opened it.
#[derive(Clone, Copy, Debug)]
pub struct Opened<'k> {
    /// Bytes of state written at the start of the output slice.
    pub state_len: usize,
    /// The key whose name the ticket carried (lets the caller decide to renew).
    pub key: &'k TicketKey,
}

fn reject(reason: RejectReason) -> Rejected {
    Rejected(reason)
}

/// Seals `state` under `key` with the given IV (CBC formats, 16 bytes) or nonce (AEAD, 24
/// bytes) into `out`, returning the ticket length ([`TicketFormat::sealed_len`]).
///
/// Deterministic: for known-answer tests and the CLI's `--iv` only. Reusing an IV or nonce
/// with one key breaks confidentiality (CBC: equal prefixes show; AEAD: catastrophic), so
/// production code calls [`seal_into_rng`] or [`seal`].
///
/// Errors: `StateTooLong` above [`TicketFormat::max_state_len`], `KeyLength` for an IV of the
/// wrong size, `BufferTooSmall` when `out` cannot hold the ticket.
pub fn seal_into(
    format: TicketFormat,
    key: &TicketKey,
    iv_or_nonce: &[u8],
    state: &[u8],
    out: &mut [u8],
) -> Result<usize, Error> {
    seal_into_using(default_backend(), format, key, iv_or_nonce, state, out)
}

/// The backend of the single-ticket functions: [`Backend::selected`], or the portable code if
/// `TESSERA_BACKEND` names a backend this CPU lacks (every backend gives the same bytes; only
/// the batch calls report that error).
fn default_backend() -> Backend {
    Backend::selected().unwrap_or(Backend::Portable)
}

/// [`seal_into`] through `backend` (the AEAD format's XAES-256-GCM runs on the backend's
/// kernel; the CBC formats here always use the portable code).
pub(crate) fn seal_into_using(
    backend: Backend,
    format: TicketFormat,
    key: &TicketKey,
    iv_or_nonce: &[u8],
    state: &[u8],
    out: &mut [u8],
) -> Result<usize, Error> {
    if state.len() > format.max_state_len() {
        return Err(Error::StateTooLong(state.len()));
    }
    if iv_or_nonce.len() != format.iv_len() {
        let what = if format.is_cbc() { "IV" } else { "AEAD nonce" };
        return Err(Error::KeyLength {
            what,
            len: iv_or_nonce.len(),
        });
    }
    let total = format.sealed_len(state.len());
    let got = out.len();
    let out = out
        .get_mut(..total)
        .ok_or(Error::BufferTooSmall { needed: total, got })?;
    let body_len = format.body_len(state.len());
    let (head, rest) = out.split_at_mut(format.header_len());
    let (body, trailer) = rest.split_at_mut(body_len);
    let material = key.material();

    head[..NAME_LEN].copy_from_slice(&key.name().0);
    head[NAME_LEN..NAME_LEN + iv_or_nonce.len()].copy_from_slice(iv_or_nonce);
    body[..state.len()].copy_from_slice(state);
    match format {
        TicketFormat::Rfc5077 | TicketFormat::OpenSsl => {
            if format == TicketFormat::Rfc5077 {
                // body_len <= MAX_TICKET_LEN by the max_state_len check above.
                head[NAME_LEN + BLOCK..].copy_from_slice(&(body_len as u16).to_be_bytes());
            }
            let mut iv = [0u8; BLOCK];
            iv.copy_from_slice(iv_or_nonce);
            pkcs7_pad(body, state.len());
            material.aes.cbc_encrypt(&iv, body);
            trailer.copy_from_slice(&material.hmac(&[head, body]));
        }
        TicketFormat::Aead => {
            let mut nonce = [0u8; 24];
            nonce.copy_from_slice(iv_or_nonce);
            let tag = material
                .aead
                .seal_with(backend, &nonce, &key.name().0, body);
            trailer.copy_from_slice(&tag);
        }
    }
    Ok(total)
}

/// [`seal_into`] with a fresh IV or nonce drawn from `rng`.
pub fn seal_into_rng(
    format: TicketFormat,
    key: &TicketKey,
    rng: &mut (impl RngCore + CryptoRng),
    state: &[u8],
    out: &mut [u8],
) -> Result<usize, Error> {
    let mut iv = [0u8; 24];
    let iv = &mut iv[..format.iv_len()];
    rng.try_fill_bytes(iv).map_err(|_| Error::Rng)?;
    seal_into(format, key, iv, state, out)
}

/// Appends the ticket for `state`, sealed with the given IV or nonce, to `out`
/// (see [`seal_into`]; deterministic, for KATs and `--iv`). On error `out` is unchanged.
pub fn seal_with_iv(
    format: TicketFormat,
    key: &TicketKey,
    iv_or_nonce: &[u8],
    state: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    seal_with_iv_using(default_backend(), format, key, iv_or_nonce, state, out)
}

/// [`seal_with_iv`] through `backend`.
pub(crate) fn seal_with_iv_using(
    backend: Backend,
    format: TicketFormat,
    key: &TicketKey,
    iv_or_nonce: &[u8],
    state: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if state.len() > format.max_state_len() {
        return Err(Error::StateTooLong(state.len()));
    }
    let start = out.len();
    out.resize(start + format.sealed_len(state.len()), 0);
    match seal_into_using(backend, format, key, iv_or_nonce, state, &mut out[start..]) {
        Ok(_) => Ok(()),
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Appends a ticket for `state` with a fresh random IV or nonce from `rng` to `out`.
pub fn seal(
    format: TicketFormat,
    key: &TicketKey,
    rng: &mut (impl RngCore + CryptoRng),
    state: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut iv = [0u8; 24];
    let iv = &mut iv[..format.iv_len()];
    rng.try_fill_bytes(iv).map_err(|_| Error::Rng)?;
    seal_with_iv(format, key, iv, state, out)
}

/// The key name a ticket claims, after the minimum-length check. Not authenticated yet: use
/// it only to look the key up.
pub fn key_name(format: TicketFormat, ticket: &[u8]) -> Result<&[u8; 16], Rejected> {
    if ticket.len() < format.min_len() {
        return Err(reject(RejectReason::TooShort));
    }
    ticket
        .first_chunk::<NAME_LEN>()
        .ok_or(reject(RejectReason::TooShort))
}

/// A ticket split into its fields after the length and layout checks (shared with the batch
/// path so both reject exactly alike).
pub(crate) struct Parts<'t> {
    /// Everything the MAC covers before the ciphertext (name, iv, [len]).
    pub(crate) head: &'t [u8],
    pub(crate) name: &'t [u8; NAME_LEN],
    pub(crate) body: &'t [u8],
    pub(crate) trailer: &'t [u8],
}

#[inline]
pub(crate) fn split(
    format: TicketFormat,
    ticket: &[u8],
    max_len: usize,
) -> Result<Parts<'_>, Rejected> {
    let name = key_name(format, ticket)?;
    if ticket.len() > max_len.min(MAX_TICKET_LEN) {
        return Err(reject(RejectReason::TooLong));
    }
    let body_len = ticket.len() - format.header_len() - format.trailer_len();
    let (head, rest) = ticket.split_at(format.header_len());
    let (body, trailer) = rest.split_at(body_len);
    if format.is_cbc() && (body.is_empty() || body.len() % BLOCK != 0) {
        return Err(reject(RejectReason::Malformed));
    }
    if format == TicketFormat::Rfc5077 {
        let len_field = head
            .get(NAME_LEN + BLOCK..)
            .and_then(|b| b.first_chunk::<2>());
        if len_field.map(|b| usize::from(u16::from_be_bytes(*b))) != Some(body_len) {
            return Err(reject(RejectReason::Malformed));
        }
    }
    Ok(Parts {
        head,
        name,
        body,
        trailer,
    })
}

/// MAC check, decryption and unpadding of a split ticket into `out` (exactly body-sized).
fn open_parts<'k>(
    backend: Backend,
    format: TicketFormat,
    parts: &Parts<'_>,
    lookup: impl FnOnce(&[u8; 16]) -> Option<&'k TicketKey>,
    out: &mut [u8],
) -> Result<Opened<'k>, Rejected> {
    let out = out
        .get_mut(..parts.body.len())
        .ok_or(reject(RejectReason::TooLong))?;
    let key = lookup(parts.name).ok_or(reject(RejectReason::UnknownKey))?;
    let material = key.material();
    let iv = parts
        .head
        .get(NAME_LEN..NAME_LEN + format.iv_len())
        .unwrap_or_default();
    match format {
        TicketFormat::Rfc5077 | TicketFormat::OpenSsl => {
            let mac = material.hmac(&[parts.head, parts.body]);
            if !(null_crypto() || tags_equal(&mac, parts.trailer)) {
                return Err(reject(RejectReason::BadMac));
            }
            let iv: &[u8; BLOCK] = iv.try_into().map_err(|_| reject(RejectReason::Malformed))?;
            out.copy_from_slice(parts.body);
            if !null_crypto() {
                material.aes.cbc_decrypt(iv, out);
            }
            match pkcs7_unpad(out) {
                Ok(state_len) => Ok(Opened { state_len, key }),
                Err(_) => {
                    out.zeroize();
                    Err(reject(RejectReason::BadPadding))
                }
            }
        }
        TicketFormat::Aead => {
            let nonce: &[u8; 24] = iv.try_into().map_err(|_| reject(RejectReason::Malformed))?;
            let tag: &[u8; TAG_LEN] = parts
                .trailer
                .try_into()
                .map_err(|_| reject(RejectReason::Malformed))?;
            out.copy_from_slice(parts.body);
            let opened = if null_crypto() {
                Ok(())
            } else {
                material
                    .aead
                    .open_with(backend, nonce, parts.name, out, tag)
            };
            match opened {
                Ok(()) => Ok(Opened {
                    state_len: out.len(),
                    key,
                }),
                Err(_) => {
                    out.zeroize();
                    Err(reject(RejectReason::BadMac))
                }
            }
        }
    }
}

/// Normal builds: always false, so the checks below compile exactly as written.
#[cfg(not(tessera_fuzzing))]
#[inline(always)]
const fn null_crypto() -> bool {
    false
}

#[cfg(tessera_fuzzing)]
fn null_crypto() -> bool {
    fuzzing::NULL_CRYPTO.load(core::sync::atomic::Ordering::Relaxed)
}

/// Fuzzing hooks, compiled only with `--cfg tessera_fuzzing` (set by `scripts/fuzz.sh`), never
/// in a normal build. Not a stable API.
#[cfg(tessera_fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use core::sync::atomic::{AtomicBool, Ordering};

    pub(super) static NULL_CRYPTO: AtomicBool = AtomicBool::new(false);

    /// Null-crypto mode for this process: the open path skips the MAC/tag check and takes the
    /// ciphertext as the plaintext, so fuzzed inputs reach the padding check and whatever
    /// decodes the state. Every other check (lengths, layout, lookup) runs as usual.
    pub fn set_null_crypto(on: bool) {
        NULL_CRYPTO.store(on, Ordering::Relaxed);
    }
}

/// Opens `ticket` into `out` without allocating.
///
/// `max_len` is the longest ticket the caller ever issues ([`TicketFormat::max_ticket_len`]);
/// anything longer is rejected before any crypto. `lookup` maps the (not yet authenticated) key
/// name to a key; it runs only after the length and layout checks. `out` needs
/// [`TicketFormat::open_buf_len`]`(ticket.len())` bytes (`open_buf_len(max_len)` always
/// suffices); a shorter `out` rejects the ticket as `TooLong`. On success the state is
/// `out[..opened.state_len]`; on rejection `out` holds no plaintext.
pub fn open_into<'k>(
    format: TicketFormat,
    ticket: &[u8],
    max_len: usize,
    lookup: impl FnOnce(&[u8; 16]) -> Option<&'k TicketKey>,
    out: &mut [u8],
) -> Result<Opened<'k>, Rejected> {
    open_into_using(default_backend(), format, ticket, max_len, lookup, out)
}

/// [`open_into`] through `backend`.
pub(crate) fn open_into_using<'k>(
    backend: Backend,
    format: TicketFormat,
    ticket: &[u8],
    max_len: usize,
    lookup: impl FnOnce(&[u8; 16]) -> Option<&'k TicketKey>,
    out: &mut [u8],
) -> Result<Opened<'k>, Rejected> {
    let parts = split(format, ticket, max_len)?;
    open_parts(backend, format, &parts, lookup, out)
}

/// Opens `ticket` and appends its state to `out` (see [`open_into`]); returns the key that
/// opened it. On rejection `out` is unchanged.
pub fn open_with<'k>(
    format: TicketFormat,
    ticket: &[u8],
    max_len: usize,
    lookup: impl FnOnce(&[u8; 16]) -> Option<&'k TicketKey>,
    out: &mut Vec<u8>,
) -> Result<&'k TicketKey, Rejected> {
    open_with_using(default_backend(), format, ticket, max_len, lookup, out)
}

/// [`open_with`] through `backend`.
pub(crate) fn open_with_using<'k>(
    backend: Backend,
    format: TicketFormat,
    ticket: &[u8],
    max_len: usize,
    lookup: impl FnOnce(&[u8; 16]) -> Option<&'k TicketKey>,
    out: &mut Vec<u8>,
) -> Result<&'k TicketKey, Rejected> {
    let parts = split(format, ticket, max_len)?;
    let start = out.len();
    out.resize(start + parts.body.len(), 0);
    match open_parts(backend, format, &parts, lookup, &mut out[start..]) {
        Ok(opened) => {
            out[start + opened.state_len..].zeroize();
            out.truncate(start + opened.state_len);
            Ok(opened.key)
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in TicketFormat::ALL {
            assert_eq!(f.as_str().parse::<TicketFormat>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        assert!("RFC5077".parse::<TicketFormat>().is_err());
        assert!("".parse::<TicketFormat>().is_err());
    }

    #[test]
    fn lengths() {
        assert_eq!(TicketFormat::Rfc5077.min_len(), 16 + 16 + 2 + 16 + 32);
        assert_eq!(TicketFormat::OpenSsl.min_len(), 16 + 16 + 16 + 32);
        assert_eq!(TicketFormat::Aead.min_len(), 16 + 24 + 16);
        // nginx + OpenSSL 3.0 TLS 1.2 session of 113 bytes gave 192-byte tickets.
        assert_eq!(TicketFormat::OpenSsl.sealed_len(113), 192);
        for f in TicketFormat::ALL {
            assert!(f.sealed_len(f.max_state_len()) <= MAX_TICKET_LEN);
            assert!(f.sealed_len(f.max_state_len() + 1) > MAX_TICKET_LEN);
            assert_eq!(
                f.max_ticket_len(usize::MAX),
                f.sealed_len(f.max_state_len())
            );
            assert_eq!(f.max_ticket_len(100), f.sealed_len(100));
            assert_eq!(f.sealed_len(usize::MAX), usize::MAX);
            assert_eq!(f.open_buf_len(f.sealed_len(40)), f.body_len(40));
        }
        assert_eq!(TicketFormat::OpenSsl.max_state_len(), 65455);
        assert_eq!(TicketFormat::Aead.max_state_len(), 65479);
    }

    /// The fuzzing hook (`--cfg tessera_fuzzing` only): with null crypto a ticket whose
    /// "ciphertext" is the padded state and whose MAC is zero opens to that state, bad padding
    /// is still refused, and switching it off restores the MAC check.
    #[cfg(tessera_fuzzing)]
    #[test]
    fn null_crypto_hook_skips_mac_and_cipher_only() {
        let name: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        let secret: Vec<u8> = (0x40..0x50).collect();
        let key = TicketKey::new(name, &secret, &secret).unwrap();
        let state = b"twenty-one bytes long";
        for f in TicketFormat::ALL {
            let mut t = key.name().0.to_vec();
            t.extend(core::iter::repeat_n(0x11, f.iv_len()));
            let mut body = state.to_vec();
            if f.is_cbc() {
                let pad = BLOCK - state.len() % BLOCK;
                body.extend(core::iter::repeat_n(pad as u8, pad));
                if f == TicketFormat::Rfc5077 {
                    t.extend_from_slice(&(body.len() as u16).to_be_bytes());
                }
            }
            t.extend_from_slice(&body);
            t.extend(core::iter::repeat_n(0, f.trailer_len()));
            let open = |t: &[u8]| {
                let mut out = Vec::new();
                open_with(f, t, MAX_TICKET_LEN, |_| Some(&key), &mut out).map(|_| out)
            };
            fuzzing::set_null_crypto(true);
            assert_eq!(open(&t).unwrap(), state, "{f}");
            if f.is_cbc() {
                let mut bad = t.clone();
                let last = bad.len() - f.trailer_len() - 1;
                bad[last] = 0;
                assert_eq!(open(&bad).unwrap_err().reason(), RejectReason::BadPadding);
            }
            fuzzing::set_null_crypto(false);
            assert_eq!(open(&t).unwrap_err().reason(), RejectReason::BadMac, "{f}");
        }
    }
}
