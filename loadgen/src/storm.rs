//! Storm drivers: open loop at a fixed arrival rate (latency from the intended send time, so a
//! slow server cannot hide its backlog: no coordinated omission) or closed loop (maximum
//! throughput), with optional key rotation during the run.
//!
//! Two ways to get requests to the server code ([`Edge`]):
//! - [`Driver::Pool`] (default): as an edge server would, through `tessera::pool`. A generator
//!   thread submits each request at its intended time (`submit_with`, no allocation per
//!   request) to per-core pinned workers that batch up to `--batch` requests and flush on a full
//!   batch or when the oldest has waited `--deadline-us`; each worker's handler is an [`Edge`].
//!   If the queues are full the generator blocks and falls behind, and that lateness is counted
//!   in the latency of the late requests.
//! - [`Driver::Direct`]: each worker thread generates its own share of the arrivals and forms
//!   its batches the same way, with no queue in between (used for calibration: the handler's
//!   own cost, nothing else).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use tessera::KeyRing;
use tessera::backend::Backend;
use tessera::pool::{BatchHandler, Done, Pool, PoolConfig, PoolHandle, ReplyTo, WorkerInfo};

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

/// How requests reach the server code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Driver {
    /// Through `tessera::pool` (a generator thread submits; pinned workers batch).
    Pool,
    /// Worker threads generate and serve their own arrivals (no queue).
    Direct,
}

impl Driver {
    /// Name in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pool => "pool",
            Self::Direct => "direct",
        }
    }
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
    /// How requests reach the workers.
    pub driver: Driver,
    /// Crypto backend of the batch calls.
    pub backend: Backend,
}

/// What a phase measured.
pub struct PhaseResult {
    /// Merged counters of every worker.
    pub stats: Stats,
    /// From the first arrival to the last completion.
    pub wall: Duration,
    /// Key rotations performed.
    pub rotations: u64,
    /// Pool counters (pool driver only): flushes by reason, requests the pool failed.
    pub pool: Option<PoolSummary>,
}

/// What the pool reported about a phase.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolSummary {
    /// Batches flushed because they were full.
    pub batches_full: u64,
    /// Batches flushed by the deadline.
    pub batches_deadline: u64,
    /// Batches flushed at shutdown.
    pub batches_drain: u64,
    /// Workers actually pinned to a core.
    pub pinned_workers: usize,
    /// Requests answered with a pool error (handler panic, lost worker): must be 0.
    pub errors: u64,
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
}

impl Shared<'_> {
    fn note_done(&self, n: usize) {
        self.completed.fetch_add(n as u64, Ordering::Relaxed);
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
    let mut edge = Edge::new(sh.corpus.clone(), sh.cfg.backend);
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
    let mut edge = Edge::new(sh.corpus.clone(), sh.cfg.backend);
    let batch = sh.cfg.batch.max(1);
    let mut reqs = Vec::with_capacity(batch);
    let mut i = w as u64;
    // A few batches even when the thread started late (a loaded host): a phase never
    // reports zero work.
    let mut batches = 0u32;
    loop {
        let now = Instant::now();
        if now >= sh.end && batches >= 4 {
            break;
        }
        batches += 1;
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
    if let (Ok(s), Ok(o)) = (corpus.sealing.ticket_key(), corpus.opening.ticket_key())
        && let Ok(ring) = KeyRing::new(s, vec![o])
    {
        corpus.ring.store(ring);
    }
}

/// A pool worker's handler: an [`Edge`] whose counters go to the collector when the pool
/// drops it (at shutdown, or when the pool replaces it after a panic).
struct PoolEdge {
    edge: Edge,
    sink: std::sync::mpsc::Sender<Stats>,
}

impl BatchHandler for PoolEdge {
    type Req = Request;
    type Resp = ();

    fn handle(&mut self, reqs: &mut Vec<Request>, out: &mut Vec<()>) {
        self.edge.serve_batch(reqs);
        out.resize(reqs.len(), ());
    }
}

impl Drop for PoolEdge {
    fn drop(&mut self) {
        let _ = self.sink.send(std::mem::take(&mut self.edge.stats));
    }
}

/// The pool driver's generator: submits every arrival at its intended time (open loop) or as
/// fast as the queues take them (closed loop). Returns the arrivals never submitted (past the
/// hard stop), per class.
fn generate(
    sh: &Shared<'_>,
    handle: &PoolHandle<Request, ()>,
    reply: &ReplyTo<()>,
) -> [u64; Class::COUNT] {
    let mut unserved = [0u64; Class::COUNT];
    match sh.cfg.load {
        Load::Rate(rate) => {
            let total = (sh.cfg.seconds * rate).ceil() as u64;
            let at = |i: u64| sh.start + Duration::from_secs_f64(i as f64 / rate);
            let mut i = 0;
            while i < total {
                let now = Instant::now();
                if now >= sh.hard_stop {
                    for j in i..total {
                        unserved[sh.schedule.get(j).0.index()] += 1;
                    }
                    break;
                }
                let due = at(i);
                if due > now {
                    let left = due - now;
                    if left > Duration::from_micros(300) {
                        std::thread::sleep(left - Duration::from_micros(150));
                    } else {
                        // Let a worker on this core run rather than spin against it.
                        std::thread::yield_now();
                    }
                    continue;
                }
                if handle.submit_with(i, request(sh, i, due), reply).is_err() {
                    break;
                }
                i += 1;
            }
        }
        Load::Closed => {
            let mut i = 0;
            let at_least = 4 * sh.cfg.batch.max(1) as u64;
            while Instant::now() < sh.end || i < at_least {
                if handle
                    .submit_with(i, request(sh, i, Instant::now()), reply)
                    .is_err()
                {
                    break;
                }
                i += 1;
            }
        }
    }
    unserved
}

fn progress_loop(
    progress: Option<&ProgressBar>,
    start: Instant,
    completed: &AtomicU64,
    running: impl Fn() -> bool,
) {
    while running() {
        if let Some(pb) = progress {
            pb.set_position(start.elapsed().as_millis().min(u128::from(u64::MAX)) as u64);
            pb.set_message(format!("{} served", completed.load(Ordering::Relaxed)));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs one phase on `cfg.threads` workers; `progress` ticks while it runs.
pub fn run_phase(
    corpus: &Arc<Corpus>,
    cfg: &PhaseConfig,
    progress: Option<&ProgressBar>,
) -> Result<PhaseResult, crate::LoadgenError> {
    let schedule = Schedule::new(&cfg.mix, corpus, cfg.seed);
    let threads = cfg.threads.max(1);
    let completed = Arc::new(AtomicU64::new(0));
    let window = Duration::from_secs_f64(cfg.seconds.max(0.0));
    let drain = (window / 2).clamp(Duration::from_millis(500), Duration::from_secs(2));
    let pool = match cfg.driver {
        Driver::Direct => None,
        Driver::Pool => {
            let (sink, stats_rx) = std::sync::mpsc::channel::<Stats>();
            let batch = cfg.batch.max(1);
            let mut config = PoolConfig::default()
                .with_workers(threads)
                .with_max_batch(batch)
                .with_flush_deadline(cfg.deadline)
                // Deadlines below the OS timer slack hold only when the worker polls.
                .with_spin(cfg.deadline.min(Duration::from_micros(50)))
                .with_thread_name("loadgen-edge");
            if cfg.load == Load::Closed {
                // Closed loop: a short queue, so latency is service time, not queue depth.
                config = config.with_queue_capacity(4 * batch);
            }
            let c = corpus.clone();
            let backend = cfg.backend;
            let pool = Pool::new(config, move |_: &WorkerInfo| {
                Ok(PoolEdge {
                    edge: Edge::new(c.clone(), backend),
                    sink: sink.clone(),
                })
            })
            .map_err(crate::LoadgenError::engine)?;
            Some((pool, stats_rx))
        }
    };
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
    };
    let errors = Arc::new(AtomicU64::new(0));
    let (stats, rotations, pool_summary) = std::thread::scope(|s| {
        let rot = cfg.rotate_every.map(|every| {
            let end = sh.end;
            s.spawn(move || rotator(corpus, every, end))
        });
        let (stats, pool_summary) = match pool {
            None => {
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
                progress_loop(progress, start, &completed, || {
                    workers.iter().any(|h| !h.is_finished())
                });
                let mut stats = Stats::new();
                for h in workers {
                    if let Ok(st) = h.join() {
                        stats.merge(&st);
                    }
                }
                (stats, None)
            }
            Some((pool, stats_rx)) => {
                let handle = pool.handle();
                let done_count = completed.clone();
                let errs = errors.clone();
                let reply = ReplyTo::callback(move |d: Done<()>| {
                    if d.result.is_err() {
                        errs.fetch_add(1, Ordering::Relaxed);
                    }
                    done_count.fetch_add(1, Ordering::Relaxed);
                });
                let sh = &sh;
                let gen_thread = s.spawn(move || {
                    wait_until(sh.start);
                    generate(sh, &handle, &reply)
                });
                progress_loop(progress, start, &completed, || !gen_thread.is_finished());
                let unserved = gen_thread.join().unwrap_or([0; Class::COUNT]);
                let ps = pool.shutdown();
                let mut stats = Stats::new();
                for st in stats_rx.try_iter() {
                    stats.merge(&st);
                }
                stats.unserved = unserved;
                let total = ps.total();
                let summary = PoolSummary {
                    batches_full: total.batches_full,
                    batches_deadline: total.batches_deadline,
                    batches_drain: total.batches_drain,
                    pinned_workers: ps.workers.iter().filter(|w| w.pinned).count(),
                    errors: errors.load(Ordering::Relaxed),
                };
                (stats, Some(summary))
            }
        };
        let rotations = rot.and_then(|h| h.join().ok()).unwrap_or(0);
        (stats, rotations, pool_summary)
    });
    if cfg.rotate_every.is_some() {
        restore_ring(corpus);
    }
    let wall = stats
        .last_done
        .map_or(Duration::ZERO, |t| t.saturating_duration_since(start))
        .max(Duration::from_nanos(1));
    Ok(PhaseResult {
        stats,
        wall,
        rotations,
        pool: pool_summary,
    })
}
