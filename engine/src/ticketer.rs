//! [`Ticketer`]: the embedder's entry point. A ticket format bound to a shared, atomically
//! swappable key ring, with the time rules (key windows, revocation) applied on open.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::backend::Backend;
use crate::batch::{self, IV_SLOT, IvSource, OpenParams, SealInput, StateBatch, TicketBatch};
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

/// Fills `buf` from a per-thread [`IvRng`] (AES-256-CTR keyed from the OS, reseeded periodically):
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
    /// `None`: [`Backend::selected`] at each batch call.
    backend: Option<Backend>,
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
            backend: None,
        }
    }

    /// Bounds the state this ticketer seals, and so the longest ticket it accepts.
    pub fn with_max_state_len(mut self, max_state_len: usize) -> Self {
        self.max_state_len = max_state_len.min(self.format.max_state_len());
        self
    }

    /// Pins the backend the batch calls use (default: [`Backend::selected`], i.e. a forced
    /// backend, else `TESSERA_BACKEND`, else the best detected).
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The backend the batch calls use. Errors if `TESSERA_BACKEND` names a backend this CPU
    /// lacks (a run that asked for one must not silently measure another).
    pub fn backend(&self) -> Result<Backend, Error> {
        self.backend.map_or_else(Backend::selected, Ok)
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
        // A backend this CPU lacks: the portable code (same bytes; only batch calls error).
        let backend = self.backend().unwrap_or(Backend::Portable);
        format::seal_with_iv_using(backend, self.format, ring.sealing_key(), iv, state, out)
    }

    /// Seals every `states[i]` under the ring's sealing key with fresh IVs/nonces (one call
    /// to the per-thread generator per chunk of tickets). Ticket i is `out.get(i)`;
    /// `status[i]` is `Ok(ticket_len)` or that ticket's error (`StateTooLong`, `Rng`). No
    /// allocation once `out` has grown to the batch's size.
    ///
    /// Errors (nothing sealed): `BatchShape` if `status.len() != states.len()`,
    /// `BackendUnavailable` (see [`Self::backend`]).
    ///
    /// ```
    /// use tessera::{CipherKind, StateBatch, TicketBatch, TicketFormat, TicketKey, Ticketer};
    /// use tessera::keys::KeyRing;
    ///
    /// let t = Ticketer::new(KeyRing::single(TicketKey::generate(CipherKind::Aes128)?), TicketFormat::Rfc5077);
    /// let states: Vec<&[u8]> = vec![b"one", b"two", &[7; 300]];
    /// let (mut tickets, mut sealed) = (TicketBatch::new(), Vec::new());
    /// sealed.resize_with(states.len(), || Ok(0));
    /// t.seal_many(&states, &mut tickets, &mut sealed)?;
    ///
    /// let tickets: Vec<&[u8]> = tickets.iter().map(|t| t.expect("sealed")).collect();
    /// let (mut opened, mut status) = (StateBatch::new(), Vec::new());
    /// status.resize(tickets.len(), Err(tessera::Rejected(tessera::RejectReason::Malformed)));
    /// t.open_many(&tickets, &mut opened, &mut status)?;
    /// assert_eq!(opened.get(1), Some(&b"two"[..]));
    /// assert!(status.iter().all(Result::is_ok));
    /// # Ok::<(), tessera::Error>(())
    /// ```
    pub fn seal_many(
        &self,
        states: &[&[u8]],
        out: &mut TicketBatch,
        status: &mut [Result<usize, Error>],
    ) -> Result<(), Error> {
        self.seal_many_from(states, IvSource::Random, out, status)
    }

    /// [`Self::seal_many`] with given IVs (CBC: the first 16 bytes of each slot) or nonces
    /// (AEAD: all 24): deterministic, for known-answer and differential tests only. Reusing
    /// an IV or nonce under one key breaks confidentiality.
    pub fn seal_many_with_ivs(
        &self,
        states: &[&[u8]],
        ivs: &[[u8; IV_SLOT]],
        out: &mut TicketBatch,
        status: &mut [Result<usize, Error>],
    ) -> Result<(), Error> {
        self.seal_many_from(states, IvSource::Fixed(ivs), out, status)
    }

    fn seal_many_from(
        &self,
        states: &[&[u8]],
        ivs: IvSource<'_>,
        out: &mut TicketBatch,
        status: &mut [Result<usize, Error>],
    ) -> Result<(), Error> {
        let backend = self.backend()?;
        let ring = self.keys.load();
        let key = ring.sealing_key();
        batch::seal_core(
            backend,
            states.len(),
            self.max_state_len,
            |i| {
                Some(SealInput {
                    format: self.format,
                    key,
                    state: states.get(i)?,
                })
            },
            ivs,
            out,
            status,
        )
    }

    /// Opens every `tickets[i]` at the current system time; see [`Self::open_many_at`].
    pub fn open_many(
        &self,
        tickets: &[&[u8]],
        out: &mut StateBatch,
        status: &mut [Result<OpenedTicket, Rejected>],
    ) -> Result<(), Error> {
        self.open_many_at(tickets, unix_now(), out, status)
    }

    /// Opens every `tickets[i]` as of `now`: `status[i]` is exactly what [`Self::open_at`]
    /// gives for that ticket alone, and on success its state is `out.get(i)`. All MACs of a
    /// chunk are verified before anything is decrypted; only verified tickets are decrypted.
    /// No allocation once `out` has grown to the batch's size.
    ///
    /// Errors (nothing opened): `BatchShape` if `status.len() != tickets.len()`,
    /// `BackendUnavailable` (see [`Self::backend`]).
    pub fn open_many_at(
        &self,
        tickets: &[&[u8]],
        now: u64,
        out: &mut StateBatch,
        status: &mut [Result<OpenedTicket, Rejected>],
    ) -> Result<(), Error> {
        let ring = self.keys.load();
        OpenParams {
            backend: self.backend()?,
            formats: batch::Formats::One(self.format),
            ring: &ring,
            max_state_len: self.max_state_len,
            now,
        }
        .open_many(tickets, out, status)
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
        let key = format::open_with_using(
            self.backend().unwrap_or(Backend::Portable),
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
