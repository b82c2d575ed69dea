//! States, keys and tickets shared by every bench, so tessera and the peers work on the same
//! bytes.
//!
//! Keys are AES-128 + a 16-byte HMAC key, the nginx/HAProxy 48-byte key-file shape (and what
//! Go's crypto/tls uses), so every CBC peer runs the same cipher as tessera. Key and state bytes
//! come from a fixed ChaCha20 seed: runs are reproducible, and no key is "weak".

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use hmac::{Hmac, Mac};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::Sha256;
use tessera::{KeyRing, KeyTimes, TicketFormat, TicketKey};

/// Session-state sizes every seal/open group is measured at, and why each:
pub const STATE_SIZES: [usize; 4] = [
    // Small PSK / anonymous state: no certificate, no SNI, minimal extensions.
    64,
    // An OpenSSL TLS 1.2 session including SNI: nginx sessions measured for this project were
    // 113-126 bytes (README). The primary size; the targets are stated at it.
    128,
    // A TLS 1.3 session, or TLS 1.2 with ALPN and extras (rustls's are ~100-400 bytes).
    256, // A state carrying a client certificate (or its chain's digest plus extras).
    1024,
];

/// The state size the targets are stated at.
pub const PRIMARY_STATE: usize = 128;

/// Keys in every ring: Go's crypto/tls keeps up to 8 automatic ticket keys (one new key per
/// day, tickets valid for 7 days), so a ring of 8 is what a Go-style opener must try.
pub const RING_KEYS: usize = 8;

/// One key's raw bytes (nginx key-file order is name, HMAC, AES; here named fields).
#[derive(Clone, Copy, Debug)]
pub struct KeyBytes {
    /// Key name carried in the ticket.
    pub name: [u8; 16],
    /// AES-128 key.
    pub aes: [u8; 16],
    /// HMAC-SHA-256 key.
    pub hmac: [u8; 16],
}

fn rng(stream: u64) -> ChaCha20Rng {
    let mut r = ChaCha20Rng::from_seed(*b"tessera bench fixtures, seed v1.");
    r.set_stream(stream);
    r
}

/// Deterministic pseudo-random bytes (`stream` separates uses).
pub fn bytes(stream: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng(stream).fill_bytes(&mut v);
    v
}

/// The ring's keys: `keys()[0]` seals, the others only open.
pub fn keys() -> [KeyBytes; RING_KEYS] {
    let mut r = rng(1);
    core::array::from_fn(|_| {
        let mut k = KeyBytes {
            name: [0; 16],
            aes: [0; 16],
            hmac: [0; 16],
        };
        r.fill_bytes(&mut k.name);
        r.fill_bytes(&mut k.aes);
        r.fill_bytes(&mut k.hmac);
        k
    })
}

/// A key name in no ring.
pub fn unknown_name() -> [u8; 16] {
    let mut n = [0u8; 16];
    rng(2).fill_bytes(&mut n);
    n
}

/// tessera's ring over [`keys`], every key with `times`.
pub fn ring_with_times(times: KeyTimes) -> KeyRing {
    let ks = keys().map(|k| {
        TicketKey::new(k.name, &k.aes, &k.hmac)
            .expect("fixture keys are valid")
            .with_times(times)
    });
    let mut it = ks.into_iter();
    let sealing = it.next().expect("RING_KEYS > 0");
    KeyRing::new(sealing, it.collect()).expect("fixture names are distinct")
}

/// tessera's ring over [`keys`] with no time windows.
pub fn ring() -> KeyRing {
    ring_with_times(KeyTimes::default())
}

/// `n` distinct states of `size` bytes.
pub fn states(n: usize, size: usize) -> Vec<Vec<u8>> {
    let all = bytes(3 + size as u64, n * size);
    all.chunks_exact(size.max(1))
        .take(n)
        .map(<[u8]>::to_vec)
        .collect()
}

/// The RFC 5077 section 5.4 rejection classes the reject benches cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectClass {
    /// A key name in no ring (a ticket from another server, or a dropped key).
    UnknownKey,
    /// A known key name but a MAC/tag that does not verify (a forged or corrupted ticket).
    BadMac,
    /// A valid MAC over a ciphertext whose PKCS#7 padding is wrong (CBC formats only:
    /// possible only with the MAC key, so it tests the path, not an attack).
    BadPadding,
    /// A valid ticket under a key whose opening window has closed.
    Expired,
    /// A length no sealer produces (here: 5 bytes cut off the end).
    MalformedLength,
}

impl RejectClass {
    /// Every class.
    pub const ALL: [Self; 5] = [
        Self::UnknownKey,
        Self::BadMac,
        Self::BadPadding,
        Self::Expired,
        Self::MalformedLength,
    ];

    /// The `op` name in reports.
    pub const fn op(self) -> &'static str {
        match self {
            Self::UnknownKey => "reject-unknown-key",
            Self::BadMac => "reject-bad-mac",
            Self::BadPadding => "reject-bad-padding",
            Self::Expired => "reject-expired",
            Self::MalformedLength => "reject-malformed-length",
        }
    }
}

/// Turns a valid ticket into one of class `class` by editing bytes only (unknown key, bad MAC,
/// malformed length; `Expired` leaves it valid: the opener's clock does the rest). `name_len`
/// is where the key name ends (0 for a format without one). `BadPadding` needs the keys: see
/// [`bad_padding_cbc`].
pub fn corrupt(class: RejectClass, ticket: &[u8], name_len: usize) -> Vec<u8> {
    let mut t = ticket.to_vec();
    match class {
        RejectClass::UnknownKey => {
            let n = unknown_name();
            t[..name_len].copy_from_slice(&n[..name_len]);
        }
        RejectClass::BadMac => {
            // Inside the ciphertext for every format and state size here.
            let mid = t.len() / 2;
            t[mid] ^= 0x01;
        }
        RejectClass::MalformedLength => t.truncate(t.len() - 5),
        RejectClass::Expired | RejectClass::BadPadding => {}
    }
    t
}

/// A CBC ticket (`rfc5077` or `openssl` layout) under `key` with a MAC that verifies but a
/// last plaintext byte of 0, which no PKCS#7 padding has.
pub fn bad_padding_cbc(
    format: TicketFormat,
    key: &KeyBytes,
    iv: [u8; 16],
    state_len: usize,
) -> Vec<u8> {
    let body_len = (state_len / 16 + 1) * 16;
    let mut body = bytes(4, body_len);
    body[body_len - 1] = 0;
    cbc::Encryptor::<aes::Aes128>::new(&key.aes.into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut body, body_len)
        .expect("whole blocks");
    let mut t = Vec::with_capacity(16 + 16 + 2 + body_len + 32);
    t.extend_from_slice(&key.name);
    t.extend_from_slice(&iv);
    match format {
        TicketFormat::Rfc5077 => t.extend_from_slice(&(body_len as u16).to_be_bytes()),
        TicketFormat::OpenSsl => {}
        TicketFormat::Aead => panic!("AEAD tickets have no padding"),
    }
    t.extend_from_slice(&body);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.hmac).expect("any key length");
    mac.update(&t);
    t.extend_from_slice(&mac.finalize().into_bytes());
    t
}

/// Everything one group needs: `n` states of one size and tessera's ring over [`keys`].
#[derive(Clone)]
pub struct Fixtures {
    /// The states, distinct.
    pub states: Vec<Vec<u8>>,
    /// The raw keys the peers use.
    pub keys: [KeyBytes; RING_KEYS],
}

impl Fixtures {
    /// `n` states of `size` bytes.
    pub fn new(n: usize, size: usize) -> Self {
        Self {
            states: states(n, size),
            keys: keys(),
        }
    }

    /// The states as slices (what `seal_many` takes).
    pub fn state_refs(&self) -> Vec<&[u8]> {
        self.states.iter().map(Vec::as_slice).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera::{RejectReason, Ticketer};

    #[test]
    fn corrupted_tickets_fail_with_their_class() {
        let t = Ticketer::new(ring(), TicketFormat::Rfc5077);
        let ticket = t.seal(&states(1, 128)[0]).unwrap();
        let mut out = Vec::new();
        let reason = |bytes: &[u8], now| t.open_at(bytes, now, &mut Vec::new()).unwrap_err().0;
        assert!(t.open_at(&ticket, 0, &mut out).is_ok());
        assert_eq!(
            reason(&corrupt(RejectClass::UnknownKey, &ticket, 16), 0),
            RejectReason::UnknownKey
        );
        assert_eq!(
            reason(&corrupt(RejectClass::BadMac, &ticket, 16), 0),
            RejectReason::BadMac
        );
        assert_eq!(
            reason(&corrupt(RejectClass::MalformedLength, &ticket, 16), 0),
            RejectReason::Malformed
        );
        let k = keys()[3];
        let bad = bad_padding_cbc(TicketFormat::Rfc5077, &k, [9; 16], 128);
        assert_eq!(reason(&bad, 0), RejectReason::BadPadding);
        let o = Ticketer::new(ring(), TicketFormat::OpenSsl);
        let bad = bad_padding_cbc(TicketFormat::OpenSsl, &k, [9; 16], 64);
        assert_eq!(
            o.open_at(&bad, 0, &mut out).unwrap_err().0,
            RejectReason::BadPadding
        );
        let expiring = Ticketer::new(
            ring_with_times(KeyTimes {
                open_until: Some(1000),
                ..KeyTimes::default()
            }),
            TicketFormat::Rfc5077,
        );
        assert!(expiring.open_at(&ticket, 999, &mut out).is_ok());
        assert_eq!(
            expiring.open_at(&ticket, 1000, &mut out).unwrap_err().0,
            RejectReason::Expired
        );
    }

    #[test]
    fn fixtures_are_distinct_and_stable() {
        let s = states(3, 64);
        assert_ne!(s[0], s[1]);
        assert_eq!(s, states(3, 64));
        let k = keys();
        assert!(k.iter().all(|k| k.name != unknown_name()));
    }
}
