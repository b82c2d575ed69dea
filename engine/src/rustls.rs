//! rustls integration (feature `rustls`): [`TesseraTicketer`] implements rustls's
//! [`ProducesTickets`], so a rustls server seals and opens its TLS 1.2 session tickets and TLS 1.3
//! PSK tickets with tessera, in any [`TicketFormat`], under keys a [`Rotator`] keeps current.
//!
//! ```
//! use std::sync::Arc;
//! use tessera::rotation::{RotationPolicy, Rotator, SystemClock};
//! use tessera::rustls::TesseraTicketer;
//! use tessera::TicketFormat;
//!
//! let rotator = Arc::new(Rotator::generated(RotationPolicy::default(), Arc::new(SystemClock))?);
//! let ticketer = Arc::new(TesseraTicketer::from_rotator(&rotator, TicketFormat::OpenSsl));
//! // let mut config = rustls::ServerConfig::builder()...with_single_cert(chain, key)?;
//! // config.ticketer = ticketer.clone();
//! // config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
//! let _keep_rotating = rotator.spawn(std::time::Duration::from_secs(60))?;
//! # drop(ticketer);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A ticket that does not open is `None` to rustls, which then runs a full handshake: never an
//! alert, never a panic. Each outcome is counted in [`TicketMetrics`].
//!
//! [`edge`] holds the small blocking TLS server behind `examples/edge_server.rs` and the
//! real-client tests.
#![forbid(unsafe_code)]

pub mod edge;

use core::fmt;
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ::rustls::server::ProducesTickets;

use crate::error::RejectReason;
use crate::format::TicketFormat;
use crate::rotation::{Clock, Rotator, SystemClock, lifetime_hint};
use crate::ticketer::Ticketer;

thread_local! {
    static SEALED_ON_THREAD: Cell<u64> = const { Cell::new(0) };
}

/// How many tickets any [`TesseraTicketer`] sealed on the calling thread so far. rustls calls
/// the ticketer on the thread that drives the connection, so the difference across one
/// handshake is the number of tickets that handshake issued (see [`edge`]).
pub fn tickets_sealed_on_this_thread() -> u64 {
    SEALED_ON_THREAD.with(Cell::get)
}

const REASONS: usize = RejectReason::ALL.len();

/// Counters per outcome, updated with relaxed atomics (one `fetch_add` per ticket).
#[derive(Debug, Default)]
pub struct TicketMetrics {
    sealed: AtomicU64,
    seal_failed: AtomicU64,
    opened: AtomicU64,
    rejected: [AtomicU64; REASONS],
}

impl TicketMetrics {
    fn reject(&self, reason: RejectReason) {
        if let Some(i) = RejectReason::ALL.iter().position(|r| *r == reason)
            && let Some(c) = self.rejected.get(i)
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A consistent-enough copy for logs and reports.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut rejected = [(RejectReason::TooShort, 0); REASONS];
        for ((slot, reason), count) in rejected
            .iter_mut()
            .zip(RejectReason::ALL)
            .zip(&self.rejected)
        {
            *slot = (reason, count.load(Ordering::Relaxed));
        }
        MetricsSnapshot {
            sealed: self.sealed.load(Ordering::Relaxed),
            seal_failed: self.seal_failed.load(Ordering::Relaxed),
            opened: self.opened.load(Ordering::Relaxed),
            rejected,
        }
    }
}

/// A copy of [`TicketMetrics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Tickets sealed.
    pub sealed: u64,
    /// Tickets not sealed (no usable sealing key, state too long, RNG failure): rustls then
    /// sends no ticket.
    pub seal_failed: u64,
    /// Tickets opened (a resumption, unless rustls refuses the session for its own reasons).
    pub opened: u64,
    /// Rejections per reason, in [`RejectReason::ALL`] order.
    pub rejected: [(RejectReason, u64); REASONS],
}

impl MetricsSnapshot {
    /// Rejections counted for `reason`.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// All rejections.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for MetricsSnapshot {
    /// `sealed=3 seal_failed=0 opened=2 rejected=1 (bad_mac=1)`: reasons with a zero count
    /// are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sealed={} seal_failed={} opened={} rejected={}",
            self.sealed,
            self.seal_failed,
            self.opened,
            self.rejected_total()
        )?;
        let mut first = true;
        for (reason, n) in self.rejected.iter().filter(|(_, n)| *n > 0) {
            f.write_str(if first { " (" } else { " " })?;
            write!(f, "{reason}={n}")?;
            first = false;
        }
        if !first {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// rustls's ticket producer backed by a tessera [`Ticketer`].
///
/// - `encrypt` seals with the ring's sealing key (if it may still seal at the clock's now);
/// - `decrypt` opens at the clock's now: unknown, revoked, forged, expired or garbage tickets
///   give `None`, and rustls falls back to a full handshake;
/// - `lifetime` is [`lifetime_hint`]: the policy lifetime, never longer than the sealing key
///   can still open the ticket.
#[derive(Clone)]
pub struct TesseraTicketer {
    ticketer: Ticketer,
    lifetime_secs: u32,
    clock: Arc<dyn Clock>,
    metrics: Arc<TicketMetrics>,
}

impl TesseraTicketer {
    /// A producer over `ticketer` with a fixed policy lifetime (seconds, the hint's upper
    /// bound) and the system clock.
    pub fn new(ticketer: Ticketer, lifetime_secs: u32) -> Self {
        Self {
            ticketer,
            lifetime_secs,
            clock: Arc::new(SystemClock),
            metrics: Arc::default(),
        }
    }

    /// A producer over a rotator's ring in `format`, with the rotator's clock and lifetime.
    pub fn from_rotator(rotator: &Rotator, format: TicketFormat) -> Self {
        Self {
            ticketer: rotator.ticketer(format),
            lifetime_secs: rotator.lifetime_secs(),
            clock: Arc::clone(rotator.clock()),
            metrics: Arc::default(),
        }
    }

    /// Uses `clock` for every time rule (tests, simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The underlying ticketer.
    pub fn ticketer(&self) -> &Ticketer {
        &self.ticketer
    }

    /// The counters (shared by clones of this producer).
    pub fn metrics(&self) -> &Arc<TicketMetrics> {
        &self.metrics
    }

    /// [`ProducesTickets::decrypt`] as of `now`: the state, or `None`.
    pub fn decrypt_at(&self, ticket: &[u8], now: u64) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        match self.ticketer.open_at(ticket, now, &mut out) {
            Ok(_) => {
                self.metrics.opened.fetch_add(1, Ordering::Relaxed);
                Some(out)
            }
            Err(rejected) => {
                self.metrics.reject(rejected.reason());
                None
            }
        }
    }

    /// [`ProducesTickets::encrypt`] as of `now`: the ticket, or `None` when the sealing key may
    /// no longer seal (its window is over and no newer key arrived) or sealing failed.
    pub fn encrypt_at(&self, state: &[u8], now: u64) -> Option<Vec<u8>> {
        let sealable = self.ticketer.keys().load().sealing_key().can_seal_at(now);
        match sealable.then(|| self.ticketer.seal(state)) {
            Some(Ok(ticket)) => {
                self.metrics.sealed.fetch_add(1, Ordering::Relaxed);
                SEALED_ON_THREAD.with(|c| c.set(c.get().wrapping_add(1)));
                Some(ticket)
            }
            _ => {
                self.metrics.seal_failed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

impl fmt::Debug for TesseraTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TesseraTicketer")
            .field("format", &self.ticketer.format())
            .field("lifetime_secs", &self.lifetime_secs)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl ProducesTickets for TesseraTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        lifetime_hint(
            &self.ticketer.keys().load(),
            self.lifetime_secs,
            self.clock.now(),
        )
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.encrypt_at(plain, self.clock.now())
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.decrypt_at(cipher, self.clock.now())
    }
}

/// Compiles the embedding guide's code (`docs/rustls.md`) as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../docs/rustls.md")]
struct EmbeddingGuide;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{CipherKind, KeyRing, KeyTimes, TicketKey};
    use crate::rotation::{ManualClock, RotationPolicy};

    fn producer(format: TicketFormat) -> TesseraTicketer {
        let key = TicketKey::generate(CipherKind::Aes128).unwrap();
        TesseraTicketer::new(Ticketer::new(KeyRing::single(key), format), 3600)
    }

    #[test]
    fn is_debug_send_sync_and_hides_secrets() {
        fn assert_producer<T: ProducesTickets + Clone>() {}
        assert_producer::<TesseraTicketer>();
        let p = producer(TicketFormat::Aead);
        let s = format!("{p:?}");
        assert!(s.starts_with("TesseraTicketer { format: Aead, lifetime_secs: 3600"));
        let aes = hex::encode(p.ticketer().keys().load().sealing_key().aes_key());
        assert!(!s.contains(&aes));
    }

    #[test]
    fn round_trip_and_counters() {
        for f in TicketFormat::ALL {
            let p = producer(f);
            let t = p.encrypt(b"rustls session").unwrap();
            assert_eq!(p.decrypt(&t).unwrap(), b"rustls session");
            let mut bad = t.clone();
            if let Some(b) = bad.last_mut() {
                *b ^= 1;
            }
            assert!(p.decrypt(&bad).is_none());
            let m = p.metrics().snapshot();
            assert_eq!((m.sealed, m.opened), (1, 1));
            assert_eq!(m.rejected(RejectReason::BadMac), 1);
            assert_eq!(
                m.to_string(),
                "sealed=1 seal_failed=0 opened=1 rejected=1 (bad_mac=1)"
            );
        }
    }

    #[test]
    fn thread_counter_counts_this_threads_seals() {
        let p = producer(TicketFormat::OpenSsl);
        let before = tickets_sealed_on_this_thread();
        p.encrypt(b"x").unwrap();
        p.encrypt(b"y").unwrap();
        let other = p.clone();
        std::thread::spawn(move || other.encrypt(b"z").unwrap())
            .join()
            .unwrap();
        assert_eq!(tickets_sealed_on_this_thread() - before, 2);
        assert_eq!(p.metrics().snapshot().sealed, 3, "clones share counters");
    }

    #[test]
    fn lifetime_follows_the_sealing_key_and_expired_sealer_refuses() {
        let clock = Arc::new(ManualClock::new(1000));
        let key = TicketKey::generate(CipherKind::Aes128)
            .unwrap()
            .with_times(KeyTimes {
                created: Some(0),
                seal_until: Some(1100),
                open_until: Some(1500),
            });
        let p = TesseraTicketer::new(
            Ticketer::new(KeyRing::single(key), TicketFormat::Rfc5077),
            3600,
        )
        .with_clock(clock.clone());
        assert_eq!(p.lifetime(), 500);
        let t = p.encrypt(b"s").unwrap();
        clock.set(1100);
        assert!(p.encrypt(b"s").is_none(), "key no longer seals");
        assert_eq!(p.metrics().snapshot().seal_failed, 1);
        assert!(p.decrypt(&t).is_some());
        clock.set(1500);
        assert!(p.decrypt(&t).is_none());
        assert_eq!(p.metrics().snapshot().rejected(RejectReason::Expired), 1);
    }

    #[test]
    fn from_rotator_uses_its_clock_and_lifetime() {
        let clock = Arc::new(ManualClock::new(10_000));
        let policy = RotationPolicy {
            period_secs: 100,
            grace_secs: 50,
            lifetime_secs: 120,
            ..RotationPolicy::default()
        };
        let r = Rotator::generated(policy, clock.clone()).unwrap();
        let p = TesseraTicketer::from_rotator(&r, TicketFormat::Aead);
        assert_eq!(p.lifetime(), 120);
        clock.advance(90);
        assert_eq!(p.lifetime(), 60, "sealer opens until 10_150");
        let t = p.encrypt(b"s").unwrap();
        clock.advance(60);
        r.tick(clock.now()).unwrap();
        assert!(p.decrypt(&t).is_none());
    }
}
