//! [`Ticketer`]: the embedder's entry point. A ticket format bound to a shared, atomically
//! swappable key ring, with the time rules (key windows, revocation) applied on open.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, RejectReason, Rejected};
use crate::format::{self, TicketFormat};
use crate::keys::{KeyName, KeyRing, KeyRole, SharedKeyRing};
use crate::pool::IvRng;

/// Default bound on the state a [`Ticketer`] seals (and so on the tickets it accepts): TLS 1.2
/// sessions from OpenSSL are ~100-200 bytes, rustls's ~100-400; 16 KiB leaves room for client
/// certificate chains while keeping the early length rejection meaningful.
pub const DEFAULT_MAX_STATE_LEN: usize = 16 * 1024;

/// What an opened ticket tells the caller (the state itself is in the output buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenedTicket {
    /// Length of the state written to the output.
    pub state_len: usize,
    /// The key that opened it.
    pub key_name: KeyName,
    /// Whether that key still seals (a ticket opened by an opening-only key should be renewed).
    pub key_role: KeyRole,
    /// When the opening key stops opening (unix seconds), if limited.
    pub key_open_until: Option<u64>,
}

/// Seconds since the Unix epoch from the system clock (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

thread_local! {
    static IV_RNG: RefCell<Option<IvRng>> = const { RefCell::new(None) };
}

/// Fills `buf` from a per-thread [`IvRng`] (ChaCha seeded from the OS, reseeded periodically):
/// one syscall per seed, never one per ticket.
pub(crate) fn fill_iv(buf: &mut [u8]) -> Result<(), Error> {
    IV_RNG.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(IvRng::new()?);
        }
        slot.as_mut().ok_or(Error::Rng)?.fill(buf);
        Ok(())
    })
}

/// A ticket format bound to a shared key ring. Cheap to clone; safe to share across threads.
///
/// ```
/// use tessera::{CipherKind, Ticketer, TicketFormat, TicketKey};
/// use tessera::keys::KeyRing;
///
/// let ring = KeyRing::single(TicketKey::generate(CipherKind::Aes128)?);
/// let ticketer = Ticketer::new(ring, TicketFormat::Rfc5077);
/// let ticket = ticketer.seal(b"session state")?;
/// let mut state = Vec::new();
/// ticketer.open(&ticket, &mut state).expect("opens");
/// assert_eq!(state, b"session state");
/// // A forged ticket is a clean rejection: the server does a full handshake.
/// assert!(ticketer.open(&[0u8; 100], &mut state).is_err());
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Ticketer {
    keys: Arc<SharedKeyRing>,
    format: TicketFormat,
    max_state_len: usize,
}

impl Ticketer {
    /// A ticketer over its own ring.
    pub fn new(ring: KeyRing, format: TicketFormat) -> Self {
        Self::with_shared(Arc::new(SharedKeyRing::new(ring)), format)
    }

    /// A ticketer over a ring shared with a rotator or a reloader.
    pub fn with_shared(keys: Arc<SharedKeyRing>, format: TicketFormat) -> Self {
        Self {
            keys,
            format,
            max_state_len: DEFAULT_MAX_STATE_LEN.min(format.max_state_len()),
        }
    }

    /// Bounds the state this ticketer seals, and so the longest ticket it accepts.
    pub fn with_max_state_len(mut self, max_state_len: usize) -> Self {
        self.max_state_len = max_state_len.min(self.format.max_state_len());
        self
    }

    /// The shared key ring (swap it to rotate or revoke; the next open sees the change).
    pub fn keys(&self) -> &Arc<SharedKeyRing> {
        &self.keys
    }

    /// The ticket format.
    pub fn format(&self) -> TicketFormat {
        self.format
    }

    /// The longest state this ticketer seals.
    pub fn max_state_len(&self) -> usize {
        self.max_state_len
    }

    /// The longest ticket this ticketer can issue; anything longer is rejected before any crypto.
    pub fn max_ticket_len(&self) -> usize {
        self.format.max_ticket_len(self.max_state_len)
    }

    /// Seals `state` under the ring's sealing key with a fresh IV/nonce.
    pub fn seal(&self, state: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.format.sealed_len(state.len()));
        self.seal_append(state, &mut out)?;
        Ok(out)
    }

    /// Seals `state`, appending the ticket to `out`.
    pub fn seal_append(&self, state: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if state.len() > self.max_state_len {
            return Err(Error::StateTooLong(state.len()));
        }
        let mut iv = [0u8; 24];
        let iv = &mut iv[..self.format.iv_len()];
        fill_iv(iv)?;
        let ring = self.keys.load();
        format::seal_with_iv(self.format, ring.sealing_key(), iv, state, out)
    }

    /// Opens `ticket` at the current system time, appending the state to `out`.
    pub fn open(&self, ticket: &[u8], out: &mut Vec<u8>) -> Result<OpenedTicket, Rejected> {
        self.open_at(ticket, unix_now(), out)
    }

    /// Opens `ticket` as of `now` (unix seconds). Cheapest rejection first: length, layout,
    /// key lookup (unknown or revoked name), MAC, decryption, padding; then the key's
    /// opening window. On rejection `out` is unchanged.
    pub fn open_at(
        &self,
        ticket: &[u8],
        now: u64,
        out: &mut Vec<u8>,
    ) -> Result<OpenedTicket, Rejected> {
        let ring = self.keys.load();
        let mut role = KeyRole::OpeningOnly;
        let mut revoked = false;
        let start = out.len();
        let key = format::open_with(
            self.format,
            ticket,
            self.max_ticket_len(),
            |name| match ring.find(name) {
                Some((key, r)) => {
                    role = r;
                    Some(key)
                }
                None => {
                    revoked = ring.is_revoked(name);
                    None
                }
            },
            out,
        )
        .map_err(|e| match e.reason() {
            RejectReason::UnknownKey if revoked => Rejected(RejectReason::Revoked),
            _ => e,
        })?;
        if !key.can_open_at(now) {
            zeroize::Zeroize::zeroize(&mut out[start..]);
            out.truncate(start);
            return Err(Rejected(RejectReason::Expired));
        }
        Ok(OpenedTicket {
            state_len: out.len() - start,
            key_name: key.name(),
            key_role: role,
            key_open_until: key.times().open_until,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyTimes, TicketKey};
    use crate::{CipherKind, RejectReason};

    fn key(times: KeyTimes) -> TicketKey {
        TicketKey::generate(CipherKind::Aes128)
            .unwrap()
            .with_times(times)
    }

    #[test]
    fn round_trip_every_format() {
        for f in TicketFormat::ALL {
            let t = Ticketer::new(KeyRing::single(key(KeyTimes::default())), f);
            for len in [0usize, 1, 16, 113, 2000] {
                let state = vec![0xa5u8; len];
                let ticket = t.seal(&state).unwrap();
                assert_eq!(ticket.len(), f.sealed_len(len));
                let mut out = vec![7u8];
                let o = t.open(&ticket, &mut out).unwrap();
                assert_eq!(&out[1..], &state[..]);
                assert_eq!(o.state_len, len);
                assert_eq!(o.key_role, KeyRole::Sealing);
            }
        }
    }

    #[test]
    fn fresh_iv_per_ticket() {
        let t = Ticketer::new(
            KeyRing::single(key(KeyTimes::default())),
            TicketFormat::Rfc5077,
        );
        let a = t.seal(b"same").unwrap();
        let b = t.seal(b"same").unwrap();
        assert_ne!(a, b);
        assert_eq!(a[..16], b[..16]);
    }

    #[test]
    fn state_longer_than_bound_is_refused_and_longer_tickets_rejected_early() {
        let t = Ticketer::new(
            KeyRing::single(key(KeyTimes::default())),
            TicketFormat::OpenSsl,
        )
        .with_max_state_len(100);
        assert!(matches!(t.seal(&[1u8; 101]), Err(Error::StateTooLong(101))));
        let long = vec![1u8; t.max_ticket_len() + 1];
        let err = t.open(&long, &mut Vec::new()).unwrap_err();
        assert_eq!(err.reason(), RejectReason::TooLong);
    }

    #[test]
    fn revoked_and_expired_keys_reject() {
        let old = key(KeyTimes {
            open_until: Some(1000),
            ..KeyTimes::default()
        });
        let sealer = key(KeyTimes::default());
        let old_only = Ticketer::new(KeyRing::single(old.clone()), TicketFormat::Aead);
        let ticket = old_only.seal(b"s").unwrap();
        let t = Ticketer::new(
            KeyRing::new(sealer, vec![old.clone()]).unwrap(),
            TicketFormat::Aead,
        );
        let mut out = Vec::new();
        let o = t.open_at(&ticket, 999, &mut out).unwrap();
        assert_eq!(o.key_role, KeyRole::OpeningOnly);
        assert_eq!(o.key_open_until, Some(1000));
        out.clear();
        assert_eq!(
            t.open_at(&ticket, 1000, &mut out).unwrap_err().reason(),
            RejectReason::Expired
        );
        assert!(out.is_empty());
        assert!(t.keys().revoke(&old.name().0));
        assert_eq!(
            t.open_at(&ticket, 999, &mut out).unwrap_err().reason(),
            RejectReason::Revoked
        );
    }

    #[test]
    fn garbage_never_panics() {
        let t = Ticketer::new(
            KeyRing::single(key(KeyTimes::default())),
            TicketFormat::Rfc5077,
        );
        let mut out = Vec::new();
        for len in 0..300 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            assert!(t.open(&junk, &mut out).is_err());
        }
    }
}
