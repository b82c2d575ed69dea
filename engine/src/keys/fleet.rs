//! Fleet derivation: every edge holds one fleet secret and a period, and derives the same key
//! for the same epoch with no coordination.
//!
//! # Derivation (version 1; changing any byte here splits a fleet, so it is pinned by a test)
//! ```text
//! PRK   = HKDF-Extract(salt = "tessera fleet ticket keys v1", IKM = fleet secret)
//! info  = "tessera fleet ticket key v1" | 0x00 | epoch (u64 big-endian)
//!         | cipher (0x01 = AES-128, 0x02 = AES-256) | attempt (u32 big-endian, normally 0)
//! OKM   = HKDF-Expand(PRK, info, 16 + 2k)       k = 16 (AES-128) or 32 (AES-256)
//! key   = name = OKM[0..16], AES key = OKM[16..16+k], HMAC key = OKM[16+k..16+2k]
//! ```
//! HKDF-SHA-256 per RFC 5869. The HMAC key is as long as the AES key, as in the nginx and
//! HAProxy layouts, so a derived key can be exported to those files. `attempt` is bumped only
//! if a derived part were all one repeated byte (which [`TicketKey::new`] refuses); that
//! happens with probability about 2^-120, and every edge bumps it the same way.
//!
//! # Epochs and windows
//! With period `p` and `N` previous epochs, at time `t` the epoch is `e = floor(t / p)`.
//! Key `e` seals; keys `e-1 ..= e-N` only open. Key `e` carries `created = e*p`,
//! `seal_until = (e+1)*p` and `open_until = (e+1+N)*p`, so a ticket stays openable for at
//! least `N` full periods after it was sealed.
//!
//! # Clock skew: pre-publishing the next key
//! Edges' clocks differ. An edge whose clock runs ahead enters epoch `e+1` first and seals with
//! key `e+1`; a peer still in epoch `e` would see an unknown name. So by default the ring also
//! holds key `e+1` as opening-only ([`FleetDeriver::with_next_prepublished`] turns this off).
//! The other direction (a lagging edge still sealing with key `e`) is covered by `N >= 1`.
//! Together they tolerate a skew of up to one period.
//!
//! # Secrets
//! Only the PRK is kept (zeroized on drop); the fleet secret is not stored. Debug shows the
//! period, cipher, window and a fingerprint (an HKDF output, not the secret), so operators can
//! check that two edges hold the same secret.

use core::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::is_weak;
use super::key::{CipherKind, KeyTimes, TicketKey};
use super::ring::KeyRing;
use crate::error::Error;

/// Shortest fleet secret accepted, in bytes.
pub const MIN_FLEET_SECRET_LEN: usize = 32;
/// Most previous epochs a ring may keep (bounds ring size and derivation work).
pub const MAX_PREVIOUS_EPOCHS: usize = 1024;

const EXTRACT_SALT: &[u8] = b"tessera fleet ticket keys v1";
const KEY_LABEL: &[u8] = b"tessera fleet ticket key v1";
const FINGERPRINT_LABEL: &[u8] = b"tessera fleet fingerprint v1";

/// HMAC-SHA-256 with a key of at most one block (64 bytes), which HMAC zero-pads (RFC 2104);
/// built from a fixed-size block so construction cannot fail.
fn hmac_short_key(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut block = Zeroizing::new([0u8; 64]);
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&(*block).into());
    for p in parts {
        mac.update(p);
    }
    let mut tag = mac.finalize().into_bytes();
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&tag);
    tag.as_mut_slice().zeroize();
    out
}

/// HKDF-Expand (RFC 5869 section 2.3) for a 32-byte PRK, `info` given in parts, into `okm`
/// (at most 255 * 32 bytes; callers here ask for at most 80).
fn hkdf_expand(prk: &[u8; 32], info: &[&[u8]], okm: &mut [u8]) {
    debug_assert!(okm.len() <= 255 * 32, "HKDF-Expand output limit");
    let mut previous = Zeroizing::new([0u8; 32]);
    for (i, chunk) in okm.chunks_mut(32).enumerate() {
        let counter = [(i as u8).wrapping_add(1)];
        let prev: &[u8] = if i == 0 { &[] } else { &previous[..] };
        let mut parts: Vec<&[u8]> = Vec::with_capacity(info.len() + 2);
        parts.push(prev);
        parts.extend_from_slice(info);
        parts.push(&counter);
        let t = hmac_short_key(prk, &parts);
        for (o, b) in chunk.iter_mut().zip(t.iter()) {
            *o = *b;
        }
        *previous = *t;
    }
}

/// Derives every edge's ticket keys from one fleet secret and a period (see the module docs).
#[derive(Clone)]
pub struct FleetDeriver {
    prk: Zeroizing<[u8; 32]>,
    period: u64,
    cipher: CipherKind,
    previous: usize,
    prepublish_next: bool,
}

impl FleetDeriver {
    /// A deriver from the fleet `secret` (at least [`MIN_FLEET_SECRET_LEN`] bytes, not one
    /// repeated byte), the epoch length in seconds (> 0), the cipher of the derived keys, and
    /// how many previous epochs stay opening-only (at most [`MAX_PREVIOUS_EPOCHS`]; use at least
    /// 1 so tickets sealed just before a rotation still open). The next epoch's key is
    /// pre-published as opening-only unless turned off.
    pub fn new(
        secret: &[u8],
        period_secs: u64,
        cipher: CipherKind,
        previous: usize,
    ) -> Result<Self, Error> {
        if secret.len() < MIN_FLEET_SECRET_LEN {
            return Err(Error::KeyLength {
                what: "fleet secret",
                len: secret.len(),
            });
        }
        if is_weak(secret) {
            return Err(Error::WeakKey("fleet secret"));
        }
        if period_secs == 0 {
            return Err(Error::InvalidConfig(
                "fleet period must be at least 1 second",
            ));
        }
        if previous > MAX_PREVIOUS_EPOCHS {
            return Err(Error::InvalidConfig(
                "too many previous fleet epochs (max 1024)",
            ));
        }
        // HKDF-Extract = HMAC(salt, IKM); the salt is shorter than a block.
        let prk = hmac_short_key(EXTRACT_SALT, &[secret]);
        Ok(Self {
            prk,
            period: period_secs,
            cipher,
            previous,
            prepublish_next: true,
        })
    }

    /// Whether rings also hold the next epoch's key as opening-only (default: yes).
    pub fn with_next_prepublished(mut self, on: bool) -> Self {
        self.prepublish_next = on;
        self
    }

    /// The epoch length in seconds.
    pub fn period_secs(&self) -> u64 {
        self.period
    }

    /// The cipher of derived keys.
    pub fn cipher(&self) -> CipherKind {
        self.cipher
    }

    /// How many previous epochs stay opening-only.
    pub fn previous_epochs(&self) -> usize {
        self.previous
    }

    /// Whether the next epoch's key is pre-published.
    pub fn next_prepublished(&self) -> bool {
        self.prepublish_next
    }

    /// The epoch at `now` (unix seconds): `floor(now / period)`.
    pub fn epoch_at(&self, now: u64) -> u64 {
        now / self.period
    }

    /// When epoch `epoch` begins (saturating).
    pub fn epoch_start(&self, epoch: u64) -> u64 {
        epoch.saturating_mul(self.period)
    }

    /// When the ring derived at `now` next changes: the start of the following epoch.
    pub fn next_rotation_at(&self, now: u64) -> u64 {
        self.epoch_start(self.epoch_at(now).saturating_add(1))
    }

    /// The time window of epoch `epoch`'s key: created at its start, seals until the next
    /// epoch, opens for `previous` more periods.
    pub fn times_for_epoch(&self, epoch: u64) -> KeyTimes {
        let after = |n: u64| self.epoch_start(epoch.saturating_add(n));
        KeyTimes {
            created: Some(self.epoch_start(epoch)),
            seal_until: Some(after(1)),
            open_until: Some(after(1u64.saturating_add(self.previous as u64))),
        }
    }

    /// The key of epoch `epoch`, with its time window. Deterministic: every deriver built from
    /// the same secret and cipher returns the same key.
    pub fn key_for_epoch(&self, epoch: u64) -> TicketKey {
        let k = self.cipher.key_len();
        let cipher_id: u8 = match self.cipher {
            CipherKind::Aes128 => 1,
            CipherKind::Aes256 => 2,
        };
        let epoch_bytes = epoch.to_be_bytes();
        let mut attempt: u32 = 0;
        loop {
            let attempt_bytes = attempt.to_be_bytes();
            let mut okm = Zeroizing::new([0u8; 80]);
            let okm = okm.get_mut(..16 + 2 * k).unwrap_or_default();
            hkdf_expand(
                &self.prk,
                &[KEY_LABEL, &[0], &epoch_bytes, &[cipher_id], &attempt_bytes],
                okm,
            );
            let (name_part, rest) = okm.split_at(16);
            let (aes, hmac) = rest.split_at(k);
            let mut name = [0u8; 16];
            name.copy_from_slice(name_part);
            // Fails only for a repeated-byte part (~2^-120); every edge retries identically.
            if let Ok(key) = TicketKey::new(name, aes, hmac) {
                return key.with_times(self.times_for_epoch(epoch));
            }
            attempt = attempt.wrapping_add(1);
        }
    }

    /// The ring for `now`: the current epoch's key seals; the next epoch's key (if
    /// pre-published) and the previous `N` epochs' keys open.
    pub fn ring_at(&self, now: u64) -> KeyRing {
        let epoch = self.epoch_at(now);
        let mut opening = Vec::with_capacity(self.previous + 1);
        if self.prepublish_next
            && let Some(next) = epoch.checked_add(1)
        {
            opening.push(self.key_for_epoch(next));
        }
        for back in 1..=self.previous as u64 {
            match epoch.checked_sub(back) {
                Some(e) => opening.push(self.key_for_epoch(e)),
                None => break,
            }
        }
        // Distinct epochs give distinct 128-bit names unless HKDF collides; should that ever
        // happen, fall back to the current key alone rather than fail.
        KeyRing::new(self.key_for_epoch(epoch), opening)
            .unwrap_or_else(|_| KeyRing::single(self.key_for_epoch(epoch)))
    }

    /// 8 bytes identifying the fleet secret (an HKDF output, not the secret): equal on two
    /// edges exactly when they hold the same secret. Shown by Debug.
    pub fn fingerprint(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        hkdf_expand(&self.prk, &[FINGERPRINT_LABEL], &mut out);
        out
    }
}

impl fmt::Debug for FleetDeriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fp: String = self
            .fingerprint()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        f.debug_struct("FleetDeriver")
            .field("period_secs", &self.period)
            .field("cipher", &self.cipher)
            .field("previous", &self.previous)
            .field("prepublish_next", &self.prepublish_next)
            .field("fingerprint", &fp)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5869 Appendix A.1 (HKDF-SHA-256, basic test case), through our extract and expand.
    #[test]
    fn rfc5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let prk = hmac_short_key(&salt, &[&ikm]);
        assert_eq!(
            hex::encode(*prk),
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
        );
        let mut okm = [0u8; 42];
        hkdf_expand(&prk, &[&info[..4], &info[4..]], &mut okm);
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    /// Our expand agrees with the `hkdf` crate for every output length we use.
    #[test]
    fn matches_hkdf_crate() {
        let secret: Vec<u8> = (0..40).collect();
        let prk = hmac_short_key(EXTRACT_SALT, &[&secret]);
        let hk = hkdf::Hkdf::<Sha256>::new(Some(EXTRACT_SALT), &secret);
        for len in [8, 16, 31, 32, 33, 48, 80] {
            let mut a = vec![0u8; len];
            let mut b = vec![0u8; len];
            hkdf_expand(&prk, &[b"some", b" info"], &mut a);
            hk.expand(b"some info", &mut b).unwrap();
            assert_eq!(a, b, "len {len}");
        }
    }
}
