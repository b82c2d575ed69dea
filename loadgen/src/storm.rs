//! Storm drivers: open loop at a fixed arrival rate (latency from the intended send time, so a
//! slow server cannot hide its backlog: no coordinated omission) or closed loop (maximum
//! throughput), over per-core workers that batch requests and flush on a full batch or when the
//! oldest request has waited the deadline, with optional key rotation during the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use tessera::KeyRing;

use crate::corpus::{Corpus, RawKey, Schedule};
use crate::edge::{Edge, Request, Stats};
use crate::mix::{Class, Mix};

/// Open or closed loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Load {
    /// Open loop: this many requests per second in total, evenly spaced.
    Rate(f64),
    /// Closed loop: every worker serves back-to-back batches.
    Closed,
}

/// One measured phase.
#[derive(Clone, Debug)]
pub struct PhaseConfig {
    /// Length of the arrival window.
    pub seconds: f64,
    /// Worker threads.
    pub threads: usize,
    /// Open or closed loop.
    pub load: Load,
    /// Traffic mix.
    pub mix: Mix,
    /// Largest batch a worker serves at once.
    pub batch: usize,
    /// Longest time the oldest request of an open batch waits for more (open loop).
    pub deadline: Duration,
    /// Rotate the sealing key this often during the phase.
    pub rotate_every: Option<Duration>,
    /// Schedule seed.
    pub seed: u64,
}

/// What a phase measured.
pub struct PhaseResult {
    /// Merged counters of every worker.
    pub stats: Stats,
    /// From the first arrival to the last completion.
    pub wall: Duration,
    /// Key rotations performed.
    pub rotations: u64,
}

impl PhaseResult {
    /// Requests served per second of wall time.
    pub fn throughput(&self) -> f64 {
        per_sec(self.stats.served(), self.wall)
    }

    /// Honest tickets resumed per second of wall time.
    pub fn goodput(&self) -> f64 {
        let resumed: u64 = Class::ALL
            .iter()
            .filter(|c| c.should_resume())
            .map(|c| self.stats.classes[c.index()].accepted)
            .sum();
        per_sec(resumed, self.wall)
    }
}

fn per_sec(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

/// Waits until `t`: sleeps while far, spins the last stretch (sleep cannot hit microseconds).
fn wait_until(t: Instant) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > Duration::from_micros(300) {
            std::thread::sleep(left - Duration::from_micros(150));
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Shared, read-only inputs of every worker.
struct Shared<'a> {
    corpus: &'a Arc<Corpus>,
    schedule: &'a Schedule,
    cfg: &'a PhaseConfig,
    start: Instant,
    /// End of the arrival window.
    end: Instant,
    /// Nothing is served after this; what is left is counted as unserved.
    hard_stop: Instant,
    completed: &'a AtomicU64,
    last_done: &'a AtomicU64,
}

impl Shared<'_> {
    fn note_done(&self, n: usize) {
        self.completed.fetch_add(n as u64, Ordering::Relaxed);
        let ns = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_done.fetch_max(ns, Ordering::Relaxed);
    }
}

fn request(sh: &Shared<'_>, i: u64, intended: Instant) -> Request {
    let (class, index) = sh.schedule.get(i);
    Request {
        class,
        index,
        intended,
    }
}

/// Open-loop worker `w` of `t`: owns the arrivals `i = k*t + w`, at `start + i/rate`.
fn open_loop(sh: &Shared<'_>, w: usize, t: usize, rate: f64) -> Stats {
    let mut edge = Edge::new(sh.corpus.clone());
    let cfg = sh.cfg;
    let batch = cfg.batch.max(1) as u64;
    let per = t as f64 / rate;
    let offset = w as f64 / rate;
    let k_end = if offset >= cfg.seconds {
        0
    } else {
        ((cfg.seconds - offset) / per).ceil() as u64
    };
    let at = |k: u64| sh.start + Duration::from_secs_f64(offset + k as f64 * per);
    // Arrivals due at `now`: those with offset + k*per <= elapsed.
    let due_until = |now: Instant| {
        let e = now.saturating_duration_since(sh.start).as_secs_f64() - offset;
        if e < 0.0 {
            0
        } else {
            ((e / per).floor() as u64 + 1).min(k_end)
        }
    };
    let mut reqs = Vec::with_capacity(batch as usize);
    let mut k = 0u64;
    while k < k_end {
        let now = Instant::now();
        if now >= sh.hard_stop {
            for j in k..k_end {
                let (class, _) = sh.schedule.get(j * t as u64 + w as u64);
                edge.stats.unserved[class.index()] += 1;
            }
            break;
        }
        let first = at(k);
        if first > now {
            wait_until(first);
            continue;
        }
        let due = due_until(now);
        let n = (due - k).min(batch);
        if n < batch && due < k_end && now < first + cfg.deadline {
            // Hold the batch open until it fills or its oldest request reaches the deadline.
            wait_until((first + cfg.deadline).min(at(k + batch - 1)));
            continue;
        }
        reqs.clear();
        for j in k..k + n {
            reqs.push(request(sh, j * t as u64 + w as u64, at(j)));
        }
        edge.serve_batch(&reqs);
        sh.note_done(reqs.len());
        k += n;
    }
    edge.stats
}

/// Closed-loop worker: back-to-back batches; each request "arrives" when its batch starts.
fn closed_loop(sh: &Shared<'_>, w: usize, t: usize) -> Stats {
    let mut edge = Edge::new(sh.corpus.clone());
    let batch = sh.cfg.batch.max(1);
    let mut reqs = Vec::with_capacity(batch);
    let mut i = w as u64;
    loop {
        let now = Instant::now();
        if now >= sh.end {
            break;
        }
        reqs.clear();
        for _ in 0..batch {
            reqs.push(request(sh, i, now));
            i += t as u64;
        }
        edge.serve_batch(&reqs);
        sh.note_done(reqs.len());
    }
    edge.stats
}

/// Swaps in a fresh sealing key every `every`, keeping the corpus keys as opening-only (so
/// honest tickets still open and are renewed onto the new key).
fn rotator(corpus: &Corpus, every: Duration, end: Instant) -> u64 {
    let mut rotations = 0;
    let mut next = Instant::now() + every;
    let mut seed = [0u8; 32];
    let _ = getrandom::getrandom(&mut seed);
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed(seed);
    while next < end {
        wait_until(next);
        let fresh = RawKey::generate_with(&mut rng);
        let ring = (|| {
            KeyRing::new(
                fresh.ticket_key().ok()?,
                vec![
                    corpus.sealing.ticket_key().ok()?,
                    corpus.opening.ticket_key().ok()?,
                ],
            )
            .ok()
        })();
        if let Some(ring) = ring {
            corpus.ring.store(ring);
            rotations += 1;
        }
        next += every;
    }
    rotations
}

/// Puts the corpus's original ring back (after a phase that rotated).
pub fn restore_ring(corpus: &Corpus) {
    if let (Ok(s), Ok(o)) = (corpus.sealing.ticket_key(), corpus.opening.ticket_key()) {
        if let Ok(ring) = KeyRing::new(s, vec![o]) {
            corpus.ring.store(ring);
        }
    }
}

/// Runs one phase on `cfg.threads` workers; `progress` ticks while it runs.
pub fn run_phase(
    corpus: &Arc<Corpus>,
    cfg: &PhaseConfig,
    progress: Option<&ProgressBar>,
) -> PhaseResult {
    let schedule = Schedule::new(&cfg.mix, corpus, cfg.seed);
    let threads = cfg.threads.max(1);
    let completed = AtomicU64::new(0);
    let last_done = AtomicU64::new(0);
    let window = Duration::from_secs_f64(cfg.seconds.max(0.0));
    let drain = (window / 2).clamp(Duration::from_millis(500), Duration::from_secs(2));
    // Give the threads a moment to start so the first arrivals are not already late.
    let start = Instant::now() + Duration::from_millis(5);
    let sh = Shared {
        corpus,
        schedule: &schedule,
        cfg,
        start,
        end: start + window,
        hard_stop: start + window + drain,
        completed: &completed,
        last_done: &last_done,
    };
    let (stats, rotations) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|w| {
                let sh = &sh;
                s.spawn(move || {
                    wait_until(sh.start);
                    match cfg.load {
                        Load::Rate(rate) => open_loop(sh, w, threads, rate),
                        Load::Closed => closed_loop(sh, w, threads),
                    }
                })
            })
            .collect();
        let rot = cfg.rotate_every.map(|every| {
            let end = sh.end;
            s.spawn(move || rotator(corpus, every, end))
        });
        while workers.iter().any(|h| !h.is_finished()) {
            if let Some(pb) = progress {
                pb.set_position(start.elapsed().as_millis().min(u128::from(u64::MAX)) as u64);
                pb.set_message(format!("{} served", completed.load(Ordering::Relaxed)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut stats = Stats::new();
        for h in workers {
            if let Ok(st) = h.join() {
                stats.merge(&st);
            }
        }
        let rotations = rot.and_then(|h| h.join().ok()).unwrap_or(0);
        (stats, rotations)
    });
    if cfg.rotate_every.is_some() {
        restore_ring(corpus);
    }
    let wall = Duration::from_nanos(last_done.load(Ordering::Relaxed)).max(Duration::from_nanos(1));
    PhaseResult {
        stats,
        wall,
        rotations,
    }
}
