//! Key rotation: a [`Rotator`] owns the [`SharedKeyRing`] a [`Ticketer`] reads and replaces it
//! when a rotation, an expiry or a key-file change is due. Every time rule reads an injected
//! [`Clock`], so tests drive it with a [`ManualClock`].
//!
//! # Three sources of keys
//! - **Generated** ([`Rotator::generated`]): this process makes its keys. Every `period` a new
//!   key seals; the previous one keeps opening for `grace` more seconds, then is erased. The
//!   next key exists one period before it seals, as an opening-only key (pre-published): a
//!   leader that exports its ring ([`Rotator::export`]) to a fleet's key files hands every edge
//!   the next key before any edge seals with it.
//! - **Fleet** ([`Rotator::fleet`]): every edge derives the ring for `now` from one fleet secret
//!   ([`FleetDeriver`]); no coordination, edges rotate in lock step, and the next epoch's key is
//!   pre-published so edges whose clocks differ by less than a period never meet an unknown name.
//! - **Key files** ([`Rotator::from_key_files`]): config management distributes nginx, HAProxy
//!   or tessera key files; [`Rotator::reload`] re-reads them atomically and returns what changed.
//!   [`Rotator::tick`] reloads when a file's size, inode or modification time changed. A file that
//!   vanished or turned invalid is an error, and the previous ring keeps serving.
//!
//! # Defaults, against the peers
//! | who                    | new sealing key every | a key opens for            |
//! |------------------------|-----------------------|----------------------------|
//! | Go `crypto/tls`        | 24 h                  | 7 d                        |
//! | BoringSSL              | 48 h                  | 96 h (current + previous)  |
//! | rustls `Ticketer`      | 6 h                   | 12 h (current + previous)  |
//! | s2n-tls                | 2 h                   | 2 h + 13 h decrypt-only    |
//! | nginx (auto keys)      | with `ssl_session_timeout`, default 5 min | ~2 timeouts |
//! | **tessera**            | **1 h** ([`DEFAULT_PERIOD_SECS`]) | **1 h + 2 h grace = 3 h** |
//!
//! A ticket key protects the master secrets of every session it sealed for as long as it can
//! open them, so the opening window is the forward-secrecy exposure of ticket resumption. One
//! hour of sealing plus two hours of grace ([`DEFAULT_GRACE_SECS`]) caps that exposure at 3 h:
//! shorter than every peer except nginx's automatic keys, which cannot be shared across a
//! fleet. The grace equals the default ticket lifetime (2 h, [`DEFAULT_LIFETIME_SECS`], the
//! same as [`crate::resume::ServerPolicy`]), so a ticket sealed even in the last second of its
//! key's sealing period still lives its full lifetime: the lifetime hint
//! ([`lifetime_hint`]: `min(lifetime, open_until - now)`) is never shortened by rotation, and
//! the hint never promises more than the key can deliver. Generally a ticket lives at most
//! `period + grace` and at least `min(lifetime, grace)`. An hourly key is cheap (one key
//! generation, a ring rebuilt off the hot path) and still rare enough for file distribution by
//! config management; the fleet mode needs no distribution at all. nginx's 5-minute default
//! would make an idle-then-return visitor do a full handshake; s2n's 2 h and rustls's 6 h are
//! within a factor of a few of ours.
//!
//! # Hot path
//! The ring is published through [`SharedKeyRing`] (an atomically swapped `Arc`), so
//! [`Ticketer::open`] never takes a lock; the rotator's own mutex is held only by `tick` and
//! `reload`. A failed key generation or reload publishes nothing: the old ring keeps serving.
#![forbid(unsafe_code)]

use core::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::Error;
use crate::format::TicketFormat;
use crate::keys::{
    CipherKind, FleetDeriver, KeyFileFormat, KeyName, KeyRing, KeyTimes, SharedKeyRing, TicketKey,
    load_key_files_checked, write_ring,
};
use crate::ticketer::{Ticketer, unix_now};

/// Default rotation period: a new sealing key every hour.
pub const DEFAULT_PERIOD_SECS: u64 = 60 * 60;
/// Default grace: a key opens for two hours after it stops sealing.
pub const DEFAULT_GRACE_SECS: u64 = 2 * 60 * 60;
/// Default ticket lifetime (the hint's upper bound): two hours, as
/// [`crate::resume::ServerPolicy::DEFAULT_LIFETIME_SECS`].
pub const DEFAULT_LIFETIME_SECS: u32 = crate::resume::ServerPolicy::DEFAULT_LIFETIME_SECS;

/// A source of "now" in unix seconds. Inject one to make every time rule testable.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        unix_now()
    }
}

/// A clock that moves only when told to (tests, simulations). Shared across threads.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now`.
    pub fn new(now: u64) -> Self {
        Self {
            now: AtomicU64::new(now),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward by `secs` (saturating) and returns the new time.
    pub fn advance(&self, secs: u64) -> u64 {
        let mut cur = self.now.load(Ordering::SeqCst);
        loop {
            let next = cur.saturating_add(secs);
            match self
                .now
                .compare_exchange(cur, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(seen) => cur = seen,
            }
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// Timing of generated keys. `Default` gives the documented defaults (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Seconds a key seals before the next one takes over (>= 1).
    pub period_secs: u64,
    /// Seconds a key keeps opening after it stopped sealing (>= 1).
    pub grace_secs: u64,
    /// Upper bound of the lifetime hint, in seconds (>= 1; 0 means "unspecified" on the wire).
    pub lifetime_secs: u32,
    /// Generate each key one period before it seals and publish it as opening-only meanwhile.
    pub prepublish: bool,
    /// Cipher of generated keys. AES-128 is what RFC 5077 section 4 names and what 48-byte
    /// nginx/HAProxy key files hold.
    pub cipher: CipherKind,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            period_secs: DEFAULT_PERIOD_SECS,
            grace_secs: DEFAULT_GRACE_SECS,
            lifetime_secs: DEFAULT_LIFETIME_SECS,
            prepublish: true,
            cipher: CipherKind::Aes128,
        }
    }
}

impl RotationPolicy {
    /// Checks the ranges ([`Error::InvalidConfig`] names the bad field).
    pub fn validate(&self) -> Result<(), Error> {
        if self.period_secs == 0 {
            return Err(Error::InvalidConfig(
                "rotation period must be at least 1 second",
            ));
        }
        if self.grace_secs == 0 {
            return Err(Error::InvalidConfig(
                "rotation grace must be at least 1 second",
            ));
        }
        if self.lifetime_secs == 0 {
            return Err(Error::InvalidConfig(
                "ticket lifetime must be at least 1 second",
            ));
        }
        Ok(())
    }

    /// The window of the key that seals during `[seal_from, seal_from + period)`.
    fn times(&self, created: u64, seal_from: u64) -> KeyTimes {
        let seal_until = seal_from.saturating_add(self.period_secs);
        KeyTimes {
            created: Some(created),
            seal_until: Some(seal_until),
            open_until: Some(seal_until.saturating_add(self.grace_secs)),
        }
    }
}

/// The lifetime hint to send with a ticket sealed under `ring` at `now`: the policy lifetime,
/// shortened to the time the sealing key can still open it (RFC 5077 section 5.6: never promise
/// more than the key delivers). 0 when the sealing key can no longer open at all.
pub fn lifetime_hint(ring: &KeyRing, lifetime_secs: u32, now: u64) -> u32 {
    match ring.sealing_key().times().open_until {
        None => lifetime_secs,
        Some(until) => {
            let left = until.saturating_sub(now);
            u32::try_from(left).map_or(lifetime_secs, |left| left.min(lifetime_secs))
        }
    }
}

/// What changed in the published ring after a [`Rotator::tick`] or [`Rotator::reload`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Names now in the ring that were not before.
    pub added: Vec<KeyName>,
    /// Names no longer in the ring.
    pub removed: Vec<KeyName>,
    /// The new sealing key's name, when the sealing key changed.
    pub new_sealer: Option<KeyName>,
    /// Non-fatal remarks (key files readable by group or others).
    pub warnings: Vec<String>,
}

impl ReloadReport {
    /// True when the ring did not change.
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.new_sealer.is_none()
    }

    fn between(old: &KeyRing, new: &KeyRing) -> Self {
        let names = |r: &KeyRing| r.keys().map(|(k, _)| k.name()).collect::<Vec<_>>();
        let (old_names, new_names) = (names(old), names(new));
        let new_sealer = new.sealing_key().name();
        Self {
            added: new_names
                .iter()
                .filter(|n| !old_names.contains(n))
                .copied()
                .collect(),
            removed: old_names
                .iter()
                .filter(|n| !new_names.contains(n))
                .copied()
                .collect(),
            new_sealer: (new_sealer != old.sealing_key().name()).then_some(new_sealer),
            warnings: Vec::new(),
        }
    }
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unchanged() {
            f.write_str("keys unchanged")?;
        } else {
            write!(f, "keys: +{} -{}", self.added.len(), self.removed.len())?;
            if let Some(s) = self.new_sealer {
                write!(f, ", sealing with {s}")?;
            }
        }
        for w in &self.warnings {
            write!(f, "; warning: {w}")?;
        }
        Ok(())
    }
}

/// Identity of a key file's current content, cheap to read: changes when it is rewritten or
/// replaced (rename over it), vanishes, or changes size.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileStamp(Option<(u64, Option<std::time::SystemTime>, u64)>);

impl FileStamp {
    fn of(path: &Path) -> Self {
        Self(std::fs::metadata(path).ok().map(|m| {
            #[cfg(unix)]
            let ino = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let ino = 0;
            (m.len(), m.modified().ok(), ino)
        }))
    }
}

/// The generated-keys schedule: epoch `e` seals during `[anchor + e*P, anchor + (e+1)*P)`.
#[derive(Clone)]
struct Generated {
    policy: RotationPolicy,
    anchor: u64,
    epoch: u64,
    sealer: TicketKey,
    next: Option<TicketKey>,
    opening: Vec<TicketKey>,
}

impl Generated {
    fn seal_from(&self, epoch: u64) -> u64 {
        self.anchor
            .saturating_add(epoch.saturating_mul(self.policy.period_secs))
    }

    fn epoch_at(&self, now: u64) -> u64 {
        now.saturating_sub(self.anchor) / self.policy.period_secs
    }

    fn key_for(&self, epoch: u64, now: u64) -> Result<TicketKey, Error> {
        let times = self.policy.times(now, self.seal_from(epoch));
        Ok(TicketKey::generate(self.policy.cipher)?.with_times(times))
    }

    fn ring(&self) -> Result<KeyRing, Error> {
        let mut opening: Vec<TicketKey> = self.next.iter().cloned().collect();
        opening.extend(self.opening.iter().cloned());
        KeyRing::new(self.sealer.clone(), opening)
    }

    /// Advances to `now`; true when the ring must be republished. On error the caller drops
    /// this (copied) schedule, so the published one is untouched.
    fn advance(&mut self, now: u64) -> Result<bool, Error> {
        let epoch = self.epoch_at(now);
        let mut changed = false;
        // Never rotate backwards when the clock steps back.
        if epoch > self.epoch {
            // The pre-published key takes over if it was made for exactly this epoch; after a
            // stall of several periods it never sealed anything and is simply dropped.
            let sealer = match self.next.take() {
                Some(next) if epoch == self.epoch + 1 => next,
                _ => self.key_for(epoch, now)?,
            };
            let next = if self.policy.prepublish {
                Some(self.key_for(epoch.saturating_add(1), now)?)
            } else {
                None
            };
            let old = std::mem::replace(&mut self.sealer, sealer);
            self.opening.insert(0, old);
            self.next = next;
            self.epoch = epoch;
            changed = true;
        }
        let before = self.opening.len();
        self.opening.retain(|k| k.can_open_at(now));
        Ok(changed || self.opening.len() != before)
    }
}

struct Fleet {
    deriver: FleetDeriver,
    epoch: u64,
}

struct Files {
    paths: Vec<PathBuf>,
    format: Option<KeyFileFormat>,
    stamps: Vec<FileStamp>,
}

impl Files {
    fn stamps(&self) -> Vec<FileStamp> {
        self.paths.iter().map(|p| FileStamp::of(p)).collect()
    }
}

enum Source {
    Generated(Box<Generated>),
    Fleet(Box<Fleet>),
    Files(Files),
}

/// Owns a shared key ring and keeps it current: periodic rotation, fleet derivation, or key
/// files (see the module docs). Share it behind an `Arc`; `tick` and `reload` take `&self`.
///
/// ```
/// use std::sync::Arc;
/// use tessera::rotation::{ManualClock, RotationPolicy, Rotator};
/// use tessera::TicketFormat;
///
/// let clock = Arc::new(ManualClock::new(1_000_000));
/// let rotator = Rotator::generated(RotationPolicy::default(), clock.clone())?;
/// let ticketer = rotator.ticketer(TicketFormat::Rfc5077);
/// let ticket = ticketer.seal(b"state")?;
///
/// clock.advance(3600); // one period: a new key seals, the old one only opens
/// let change = rotator.tick(clock.now())?;
/// assert!(change.new_sealer.is_some());
/// assert!(ticketer.open_at(&ticket, clock.now(), &mut Vec::new()).is_ok());
///
/// clock.advance(2 * 3600); // past the grace: the old key is erased
/// rotator.tick(clock.now())?;
/// assert!(ticketer.open_at(&ticket, clock.now(), &mut Vec::new()).is_err());
/// # use tessera::rotation::Clock;
/// # Ok::<(), tessera::Error>(())
/// ```
pub struct Rotator {
    keys: Arc<SharedKeyRing>,
    clock: Arc<dyn Clock>,
    lifetime_secs: u32,
    source: Mutex<Source>,
}

impl Rotator {
    /// Generated keys on `policy`'s schedule, the first period starting at `clock.now()`.
    pub fn generated(policy: RotationPolicy, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        policy.validate()?;
        let now = clock.now();
        let sealer = TicketKey::generate(policy.cipher)?.with_times(policy.times(now, now));
        let mut state = Generated {
            policy,
            anchor: now,
            epoch: 0,
            sealer,
            next: None,
            opening: Vec::new(),
        };
        if policy.prepublish {
            state.next = Some(state.key_for(1, now)?);
        }
        let ring = state.ring()?;
        Ok(Self {
            keys: Arc::new(SharedKeyRing::new(ring)),
            clock,
            lifetime_secs: policy.lifetime_secs,
            source: Mutex::new(Source::Generated(Box::new(state))),
        })
    }

    /// Fleet derivation: the ring is always `deriver.ring_at(now)`. `lifetime_secs` bounds the
    /// hint (>= 1).
    pub fn fleet(
        deriver: FleetDeriver,
        lifetime_secs: u32,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        if lifetime_secs == 0 {
            return Err(Error::InvalidConfig(
                "ticket lifetime must be at least 1 second",
            ));
        }
        let now = clock.now();
        let ring = deriver.ring_at(now);
        let epoch = deriver.epoch_at(now);
        Ok(Self {
            keys: Arc::new(SharedKeyRing::new(ring)),
            clock,
            lifetime_secs,
            source: Mutex::new(Source::Fleet(Box::new(Fleet { deriver, epoch }))),
        })
    }

    /// Keys from files, loaded as [`crate::keys::load_key_files`] does (the first file's
    /// sealing key seals; every other key opens). The initial load must succeed.
    pub fn from_key_files<P: AsRef<Path>>(
        paths: &[P],
        format: Option<KeyFileFormat>,
        lifetime_secs: u32,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        if lifetime_secs == 0 {
            return Err(Error::InvalidConfig(
                "ticket lifetime must be at least 1 second",
            ));
        }
        let mut files = Files {
            paths: paths.iter().map(|p| p.as_ref().to_path_buf()).collect(),
            format,
            stamps: Vec::new(),
        };
        files.stamps = files.stamps();
        let (ring, _warnings) = load_key_files_checked(&files.paths, format)?;
        Ok(Self {
            keys: Arc::new(SharedKeyRing::new(ring)),
            clock,
            lifetime_secs,
            source: Mutex::new(Source::Files(files)),
        })
    }

    /// The shared ring (give it to [`Ticketer::with_shared`], or use [`Rotator::ticketer`]).
    pub fn keys(&self) -> &Arc<SharedKeyRing> {
        &self.keys
    }

    /// A ticketer in `format` over this rotator's ring: it sees every rotation at once.
    pub fn ticketer(&self, format: TicketFormat) -> Ticketer {
        Ticketer::with_shared(Arc::clone(&self.keys), format)
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The clock's current time.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The policy lifetime (upper bound of the hint), in seconds.
    pub fn lifetime_secs(&self) -> u32 {
        self.lifetime_secs
    }

    /// The hint for a ticket sealed now: see [`lifetime_hint`]. Lock-free.
    pub fn lifetime_hint(&self, now: u64) -> u32 {
        lifetime_hint(&self.keys.load(), self.lifetime_secs, now)
    }

    fn source(&self) -> MutexGuard<'_, Source> {
        // A panic while holding the lock cannot leave the schedule half-updated (every update
        // is computed first, then assigned), so a poisoned lock is safe to reuse.
        self.source.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, ring: KeyRing) -> ReloadReport {
        let old = self.keys.swap(ring);
        ReloadReport::between(&old, &self.keys.load())
    }

    /// Does whatever is due at `now`: rotate to the next key, erase keys past their opening
    /// window (generated), move to the next epoch (fleet), reload changed files (files).
    /// Returns what changed (empty when nothing was due). On error nothing is published and
    /// the previous ring keeps serving.
    pub fn tick(&self, now: u64) -> Result<ReloadReport, Error> {
        let mut source = self.source();
        match &mut *source {
            Source::Generated(g) => {
                // Work on a copy so a failed key generation leaves the schedule untouched.
                let mut next = (**g).clone();
                if !next.advance(now)? {
                    return Ok(ReloadReport::default());
                }
                let ring = next.ring()?;
                **g = next;
                Ok(self.publish(ring))
            }
            Source::Fleet(f) => {
                let epoch = f.deriver.epoch_at(now);
                if epoch <= f.epoch {
                    return Ok(ReloadReport::default());
                }
                f.epoch = epoch;
                Ok(self.publish(f.deriver.ring_at(now)))
            }
            Source::Files(files) => {
                if files.stamps() == files.stamps {
                    return Ok(ReloadReport::default());
                }
                self.reload_files(files)
            }
        }
    }

    /// Re-reads the key files now, whether or not they changed, and publishes the new ring
    /// atomically. On any error (a file vanished, is unreadable, or no longer parses) nothing
    /// is published and the previous keys keep serving. Only for [`Rotator::from_key_files`];
    /// other sources give [`Error::InvalidConfig`].
    pub fn reload(&self) -> Result<ReloadReport, Error> {
        match &mut *self.source() {
            Source::Files(files) => self.reload_files(files),
            _ => Err(Error::InvalidConfig(
                "reload needs a rotator over key files",
            )),
        }
    }

    fn reload_files(&self, files: &mut Files) -> Result<ReloadReport, Error> {
        // Stamps are taken before reading: a write racing the read changes them again, so the
        // next tick reloads once more. On error they are not recorded, so every tick retries.
        let stamps = files.stamps();
        let (ring, warnings) = load_key_files_checked(&files.paths, files.format)?;
        files.stamps = stamps;
        let mut report = self.publish(ring);
        report.warnings = warnings;
        Ok(report)
    }

    /// The current ring as a key file (sealing key first), e.g. for a leader that distributes
    /// its generated keys with [`crate::keys::save_key_file`]. The tessera format keeps the
    /// time windows and the pre-published key's opening-only role.
    pub fn export(&self, format: KeyFileFormat) -> Result<Zeroizing<Vec<u8>>, Error> {
        write_ring(format, &self.keys.load())
    }

    /// Runs [`Rotator::tick`] with the rotator's clock every `every` on a background thread,
    /// until the returned handle is stopped or dropped. Reports and errors are dropped; use
    /// [`Rotator::spawn_with`] to see them.
    pub fn spawn(self: &Arc<Self>, every: Duration) -> std::io::Result<RotatorThread> {
        self.spawn_with(every, |_| {})
    }

    /// Like [`Rotator::spawn`], calling `on_tick` with every non-empty report and every error.
    pub fn spawn_with<F>(
        self: &Arc<Self>,
        every: Duration,
        mut on_tick: F,
    ) -> std::io::Result<RotatorThread>
    where
        F: FnMut(Result<ReloadReport, Error>) + Send + 'static,
    {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let rotator = Arc::clone(self);
        let stop_in_thread = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("tessera-rotator".into())
            .spawn(move || {
                let (flag, cv) = &*stop_in_thread;
                let mut stopped = flag.lock().unwrap_or_else(|e| e.into_inner());
                while !*stopped {
                    match rotator.tick(rotator.now()) {
                        Ok(r) if r.is_unchanged() && r.warnings.is_empty() => {}
                        other => on_tick(other),
                    }
                    stopped = cv
                        .wait_timeout(stopped, every)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
            })?;
        Ok(RotatorThread {
            stop,
            handle: Some(handle),
        })
    }
}

impl fmt::Debug for Rotator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &*self.source() {
            Source::Generated(g) => format!(
                "generated(period {} s, grace {} s, prepublish {})",
                g.policy.period_secs, g.policy.grace_secs, g.policy.prepublish
            ),
            Source::Fleet(fl) => format!("fleet({:?})", fl.deriver),
            Source::Files(files) => format!("files({:?})", files.paths),
        };
        f.debug_struct("Rotator")
            .field("mode", &mode)
            .field("lifetime_secs", &self.lifetime_secs)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// The background ticking thread of [`Rotator::spawn`]. Stops (and joins) on drop.
#[derive(Debug)]
pub struct RotatorThread {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl RotatorThread {
    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        let (flag, cv) = &*self.stop;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(h) = self.handle.take() {
            // A panic in the callback ended the thread already; nothing more to do.
            let _ = h.join();
        }
    }
}

impl Drop for RotatorThread {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyRole, save_key_file, write_key_file};

    const T0: u64 = 1_700_000_000;

    fn policy(period: u64, grace: u64) -> RotationPolicy {
        RotationPolicy {
            period_secs: period,
            grace_secs: grace,
            lifetime_secs: 100,
            ..RotationPolicy::default()
        }
    }

    #[test]
    fn defaults_are_consistent() {
        let p = RotationPolicy::default();
        p.validate().unwrap();
        // A ticket sealed in the sealing key's last second still lives the full lifetime.
        assert!(p.grace_secs >= u64::from(p.lifetime_secs));
        assert!(p.period_secs + p.grace_secs <= 3 * 60 * 60);
    }

    #[test]
    fn invalid_policies_are_refused() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(T0));
        for p in [policy(0, 1), policy(1, 0)] {
            assert!(matches!(
                Rotator::generated(p, clock.clone()),
                Err(Error::InvalidConfig(_))
            ));
        }
        let mut p = policy(1, 1);
        p.lifetime_secs = 0;
        assert!(Rotator::generated(p, clock).is_err());
    }

    #[test]
    fn schedule_prepublishes_rotates_and_erases() {
        let clock = Arc::new(ManualClock::new(T0));
        let r = Rotator::generated(policy(60, 90), clock.clone()).unwrap();
        let ring0 = r.keys().load_full();
        assert_eq!(ring0.len(), 2, "sealer + pre-published next");
        let k0 = ring0.sealing_key().name();
        let (_, next) = ring0
            .keys()
            .nth(1)
            .map(|(k, role)| (role, k.name()))
            .unwrap();
        assert_eq!(ring0.sealing_key().times().open_until, Some(T0 + 150));

        // Nothing due inside the period.
        assert!(r.tick(T0 + 59).unwrap().is_unchanged());
        // The pre-published key takes over; a new one is pre-published; k0 only opens.
        let rep = r.tick(T0 + 60).unwrap();
        assert_eq!(rep.new_sealer, Some(next));
        assert_eq!(rep.added.len(), 1);
        assert!(rep.removed.is_empty());
        let ring1 = r.keys().load_full();
        assert_eq!(ring1.find(&k0.0).unwrap().1, KeyRole::OpeningOnly);
        // k0 erased exactly at its open_until (T0 + 60 + 90).
        assert!(r.tick(T0 + 149).unwrap().removed.is_empty());
        let rep = r.tick(T0 + 150).unwrap();
        assert_eq!(rep.removed, vec![k0]);
        assert!(rep.new_sealer.is_none());
        // Clock stepping back never rotates backwards.
        assert!(r.tick(T0).unwrap().is_unchanged());
    }

    #[test]
    fn stall_of_several_periods_drops_the_stale_prepublished_key() {
        let clock = Arc::new(ManualClock::new(T0));
        let r = Rotator::generated(policy(60, 60), clock).unwrap();
        let next = r.keys().load().keys().nth(1).unwrap().0.name();
        let rep = r.tick(T0 + 600).unwrap();
        let sealer = rep.new_sealer.unwrap();
        assert_ne!(sealer, next);
        assert!(rep.removed.contains(&next));
        let ring = r.keys().load();
        assert_eq!(ring.sealing_key().times().seal_until, Some(T0 + 660));
        // The old sealer's window (T0 + 120) is over: erased too.
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn lifetime_hint_never_outlives_the_key() {
        let clock = Arc::new(ManualClock::new(T0));
        let r = Rotator::generated(policy(60, 30), clock).unwrap();
        // Sealer opens until T0 + 90; lifetime 100.
        assert_eq!(r.lifetime_hint(T0), 90);
        assert_eq!(r.lifetime_hint(T0 + 50), 40);
        assert_eq!(r.lifetime_hint(T0 + 1000), 0);
        let ring = KeyRing::single(TicketKey::generate(CipherKind::Aes128).unwrap());
        assert_eq!(lifetime_hint(&ring, 7200, T0), 7200);
    }

    fn secret() -> Vec<u8> {
        (0..32).collect()
    }

    #[test]
    fn fleet_mode_moves_with_the_epoch() {
        let deriver = FleetDeriver::new(&secret(), 60, CipherKind::Aes128, 2).unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let r = Rotator::fleet(deriver.clone(), 100, clock).unwrap();
        assert_eq!(
            r.keys().load().sealing_key().name(),
            deriver.ring_at(T0).sealing_key().name()
        );
        let boundary = deriver.next_rotation_at(T0);
        assert!(r.tick(boundary - 1).unwrap().is_unchanged());
        let rep = r.tick(boundary).unwrap();
        assert_eq!(
            rep.new_sealer,
            Some(deriver.ring_at(boundary).sealing_key().name())
        );
        assert!(matches!(r.reload(), Err(Error::InvalidConfig(_))));
    }

    #[test]
    fn files_reload_reports_changes_and_keeps_serving_on_error() {
        let dir = std::env::temp_dir().join(format!("tessera-rot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys");
        let a = TicketKey::generate(CipherKind::Aes128).unwrap();
        let b = TicketKey::generate(CipherKind::Aes128).unwrap();
        let write = |keys: &[(&TicketKey, KeyRole)]| {
            let bytes = write_key_file(KeyFileFormat::Tessera, keys).unwrap();
            save_key_file(&path, &bytes).unwrap();
        };
        write(&[(&a, KeyRole::Sealing)]);
        let clock = Arc::new(ManualClock::new(T0));
        let r = Rotator::from_key_files(&[&path], None, 100, clock).unwrap();
        assert!(r.tick(T0).unwrap().is_unchanged(), "file did not change");

        write(&[(&b, KeyRole::Sealing), (&a, KeyRole::OpeningOnly)]);
        let rep = r.tick(T0).unwrap();
        assert_eq!(rep.added, vec![b.name()]);
        assert_eq!(rep.new_sealer, Some(b.name()));

        // Invalid content: error, previous ring still published.
        std::fs::write(&path, b"tessera-ticket-keys v1\nkey name=zz\n").unwrap();
        assert!(matches!(r.tick(T0), Err(Error::KeyFile { .. })));
        assert_eq!(r.keys().load().sealing_key().name(), b.name());
        // Vanished: error again (retried because the stamps were not recorded).
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(r.reload(), Err(Error::Io(..))));
        assert!(r.tick(T0).is_err());
        assert_eq!(r.keys().load().len(), 2);

        write(&[(&a, KeyRole::Sealing)]);
        let rep = r.tick(T0).unwrap();
        assert_eq!(rep.removed, vec![b.name()]);
        assert_eq!(rep.new_sealer, Some(a.name()));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn background_thread_ticks_and_stops() {
        let clock = Arc::new(ManualClock::new(T0));
        let r = Arc::new(Rotator::generated(policy(60, 60), clock.clone()).unwrap());
        let first = r.keys().load().sealing_key().name();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = r
            .spawn_with(Duration::from_millis(5), move |rep| {
                let _ = tx.send(rep.map(|r| r.new_sealer));
            })
            .unwrap();
        clock.advance(60);
        let got = rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
        assert!(got.is_some());
        assert_ne!(r.keys().load().sealing_key().name(), first);
        thread.stop();
    }

    #[test]
    fn debug_shows_no_secrets() {
        let clock = Arc::new(ManualClock::new(T0));
        let r = Rotator::generated(policy(60, 60), clock).unwrap();
        let s = format!("{r:?}");
        assert!(s.contains("generated(period 60 s"));
        let ring = r.keys().load();
        let aes = hex::encode(ring.sealing_key().aes_key());
        assert!(!s.contains(&aes));
    }
}
