//! Pool configuration. Sizes are `NonZeroUsize` so that no value can make a pool that never
//! flushes or never accepts work; there is nothing left to validate at run time.

use std::num::NonZeroUsize;
use std::time::Duration;

/// How workers are pinned to cores.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pinning {
    /// Do not pin: the OS scheduler places the workers.
    None,
    /// Worker `i` is pinned to the `i`-th core this process may run on (its affinity mask, so
    /// `taskset`/cgroup cpusets are honoured), wrapping around when there are more workers.
    #[default]
    Auto,
    /// Worker `i` is pinned to core id `list[i % list.len()]`. Ids the process may not run on
    /// are not pinned (recorded in [`WorkerStats::pinned`](super::WorkerStats::pinned)); an
    /// empty list means [`Pinning::Auto`].
    Cores(Vec<usize>),
}

/// How a submission picks a worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Distribution {
    /// Each handle walks the workers in turn (each clone starts at a different worker). No
    /// shared counter is touched per request.
    #[default]
    RoundRobin,
    /// The worker with the shortest queue (reads every queue's length: one atomic load per
    /// worker per request). Evens out workers slowed by other load on their core.
    LeastLoaded,
}

/// Pool settings. Start from [`PoolConfig::default()`] and change fields or chain `with_*`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Number of workers; `None` = [`std::thread::available_parallelism`] (1 if unknown).
    pub workers: Option<NonZeroUsize>,
    /// A batch is flushed as soon as it holds this many requests. Default 64.
    pub max_batch: NonZeroUsize,
    /// A batch is flushed when its oldest request has waited this long, full or not. Zero
    /// flushes whatever was queued the moment the queue runs empty (batches then form only
    /// from requests that queued up while the previous batch ran). Default 20 us.
    pub flush_deadline: Duration,
    /// While a batch is open and the queue is empty, poll the queue for up to this long before
    /// blocking (never past the flush deadline). A blocking wait with a timeout wakes late by
    /// the OS timer slack (50 us by default on Linux; measured here: a 20 us deadline answered
    /// a lone request after ~110 us at the median when blocking, ~45 us when spinning), so
    /// deadlines below the slack are only honoured by spinning. The spin costs CPU only while
    /// a batch is open, at most `min(spin, flush_deadline)` per batch, never while idle; but at
    /// moderate load (many lone requests) that adds up, so it is opt-in. Default zero (always
    /// block); set it to the deadline (or use a zero deadline) when latency matters more.
    pub spin: Duration,
    /// Capacity of each worker's queue (requests). Default 4096.
    pub queue_capacity: NonZeroUsize,
    /// Core pinning. Default [`Pinning::Auto`]. Failure to pin is recorded, never fatal.
    pub pinning: Pinning,
    /// Worker selection. Default [`Distribution::RoundRobin`].
    pub distribution: Distribution,
    /// Thread name prefix; workers are named `{prefix}-{index}`. Default `"tessera-pool"`.
    pub thread_name: String,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: None,
            max_batch: NonZeroUsize::new(64).unwrap_or(NonZeroUsize::MIN),
            flush_deadline: Duration::from_micros(20),
            spin: Duration::ZERO,
            queue_capacity: NonZeroUsize::new(4096).unwrap_or(NonZeroUsize::MIN),
            pinning: Pinning::Auto,
            distribution: Distribution::RoundRobin,
            thread_name: "tessera-pool".to_owned(),
        }
    }
}

impl PoolConfig {
    /// Sets [`workers`](Self::workers); `0` = one per available core.
    #[must_use]
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = NonZeroUsize::new(workers);
        self
    }

    /// Sets [`max_batch`](Self::max_batch); `0` is taken as 1 (no batching).
    #[must_use]
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = NonZeroUsize::new(max_batch).unwrap_or(NonZeroUsize::MIN);
        self
    }

    /// Sets [`flush_deadline`](Self::flush_deadline).
    #[must_use]
    pub fn with_flush_deadline(mut self, deadline: Duration) -> Self {
        self.flush_deadline = deadline;
        self
    }

    /// Sets [`spin`](Self::spin).
    #[must_use]
    pub fn with_spin(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    /// Sets [`queue_capacity`](Self::queue_capacity); `0` is taken as 1.
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        self
    }

    /// Sets [`pinning`](Self::pinning).
    #[must_use]
    pub fn with_pinning(mut self, pinning: Pinning) -> Self {
        self.pinning = pinning;
        self
    }

    /// Sets [`distribution`](Self::distribution).
    #[must_use]
    pub fn with_distribution(mut self, distribution: Distribution) -> Self {
        self.distribution = distribution;
        self
    }

    /// Sets [`thread_name`](Self::thread_name).
    #[must_use]
    pub fn with_thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name = prefix.into();
        self
    }

    /// The number of workers this config starts.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            Some(n) => n.get(),
            None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_as_documented() {
        let c = PoolConfig::default();
        assert_eq!(c.max_batch.get(), 64);
        assert_eq!(c.flush_deadline, Duration::from_micros(20));
        assert_eq!(c.spin, Duration::ZERO);
        assert_eq!(c.queue_capacity.get(), 4096);
        assert_eq!(c.pinning, Pinning::Auto);
        assert_eq!(c.distribution, Distribution::RoundRobin);
        assert!(c.worker_count() >= 1);
    }

    #[test]
    fn explicit_worker_count_wins() {
        assert_eq!(PoolConfig::default().with_workers(3).worker_count(), 3);
        let auto = PoolConfig::default().with_workers(0);
        assert_eq!(
            (auto.workers, auto.worker_count()),
            (None, PoolConfig::default().worker_count())
        );
    }

    #[test]
    fn builders_set_fields_and_clamp_zero() {
        let c = PoolConfig::default()
            .with_max_batch(0)
            .with_queue_capacity(0)
            .with_flush_deadline(Duration::ZERO)
            .with_spin(Duration::from_micros(5))
            .with_pinning(Pinning::None)
            .with_distribution(Distribution::LeastLoaded)
            .with_thread_name("edge");
        assert_eq!((c.max_batch.get(), c.queue_capacity.get()), (1, 1));
        assert_eq!(
            (c.flush_deadline, c.spin),
            (Duration::ZERO, Duration::from_micros(5))
        );
        assert_eq!(
            (c.pinning, c.distribution),
            (Pinning::None, Distribution::LeastLoaded)
        );
        assert_eq!(c.thread_name, "edge");
        assert_eq!(PoolConfig::default().with_max_batch(9).max_batch.get(), 9);
    }
}
