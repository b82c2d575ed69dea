//! Per-worker counters. Each worker writes only its own (cache-line padded) counters with
//! relaxed atomics; readers take a snapshot that is consistent per counter, not across them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Why a worker handed a batch to its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlushReason {
    /// The batch reached `max_batch`.
    Full,
    /// The oldest request reached the flush deadline (or the deadline is zero and the queue
    /// ran empty).
    Deadline,
    /// The pool is shutting down and the worker flushed what it held.
    Drain,
}

/// Padded to two cache lines so one worker's counters never share a line with another's
/// (adjacent-line prefetch pairs lines on x86).
#[repr(align(128))]
#[derive(Debug, Default)]
pub(super) struct WorkerCounters {
    pub(super) requests: AtomicU64,
    pub(super) batches_full: AtomicU64,
    pub(super) batches_deadline: AtomicU64,
    pub(super) batches_drain: AtomicU64,
    pub(super) largest_batch: AtomicU64,
    pub(super) handler_panics: AtomicU64,
    pub(super) missing_responses: AtomicU64,
    pub(super) extra_responses: AtomicU64,
    pub(super) pinned: AtomicBool,
}

/// Only the owning worker writes, so load + store is enough (no read-modify-write needed).
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

impl WorkerCounters {
    /// Records one flushed batch of `size` requests.
    pub(super) fn record_batch(&self, reason: FlushReason, size: usize) {
        let size = size as u64;
        bump(&self.requests, size);
        bump(
            match reason {
                FlushReason::Full => &self.batches_full,
                FlushReason::Deadline => &self.batches_deadline,
                FlushReason::Drain => &self.batches_drain,
            },
            1,
        );
        if size > self.largest_batch.load(Ordering::Relaxed) {
            self.largest_batch.store(size, Ordering::Relaxed);
        }
    }

    pub(super) fn record_panic(&self) {
        bump(&self.handler_panics, 1);
    }

    /// The handler answered `got` times for `expected` requests.
    pub(super) fn record_response_count(&self, expected: usize, got: usize) {
        if got < expected {
            bump(&self.missing_responses, (expected - got) as u64);
        } else if got > expected {
            bump(&self.extra_responses, (got - expected) as u64);
        }
    }

    pub(super) fn snapshot(&self, worker: usize, core: Option<usize>) -> WorkerStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerStats {
            worker,
            core,
            pinned: self.pinned.load(Ordering::Relaxed),
            requests: r(&self.requests),
            batches_full: r(&self.batches_full),
            batches_deadline: r(&self.batches_deadline),
            batches_drain: r(&self.batches_drain),
            largest_batch: r(&self.largest_batch),
            handler_panics: r(&self.handler_panics),
            missing_responses: r(&self.missing_responses),
            extra_responses: r(&self.extra_responses),
        }
    }
}

/// A snapshot of one worker's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Worker index, `0..workers`.
    pub worker: usize,
    /// The core id this worker asked to be pinned to (`None` when not pinning).
    pub core: Option<usize>,
    /// Whether pinning succeeded.
    pub pinned: bool,
    /// Requests handed to the handler (answered, whatever the outcome).
    pub requests: u64,
    /// Batches flushed because they were full.
    pub batches_full: u64,
    /// Batches flushed because their oldest request reached the deadline.
    pub batches_deadline: u64,
    /// Batches flushed at shutdown.
    pub batches_drain: u64,
    /// The largest batch flushed so far.
    pub largest_batch: u64,
    /// Batches whose handler panicked (or, rarely, a request or response whose Drop did).
    pub handler_panics: u64,
    /// Requests the handler returned no response for (answered `PoolError::NoResponse`).
    pub missing_responses: u64,
    /// Responses beyond one per request (dropped).
    pub extra_responses: u64,
}

impl WorkerStats {
    /// All batches flushed, whatever the reason.
    pub fn batches(&self) -> u64 {
        self.batches_full + self.batches_deadline + self.batches_drain
    }

    /// Mean requests per batch (0 before the first batch).
    pub fn mean_batch(&self) -> f64 {
        match self.batches() {
            0 => 0.0,
            b => self.requests as f64 / b as f64,
        }
    }
}

/// A snapshot of the whole pool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// One entry per worker, in index order.
    pub workers: Vec<WorkerStats>,
    /// `try_submit*` calls refused because every queue was full.
    pub rejected_full: u64,
}

impl PoolStats {
    /// The counters of all workers summed (`worker` is 0, `core` None, `pinned` true only if
    /// every worker is pinned, `largest_batch` the maximum).
    pub fn total(&self) -> WorkerStats {
        let mut t = WorkerStats {
            pinned: !self.workers.is_empty(),
            ..WorkerStats::default()
        };
        for w in &self.workers {
            t.pinned &= w.pinned;
            t.requests += w.requests;
            t.batches_full += w.batches_full;
            t.batches_deadline += w.batches_deadline;
            t.batches_drain += w.batches_drain;
            t.largest_batch = t.largest_batch.max(w.largest_batch);
            t.handler_panics += w.handler_panics;
            t.missing_responses += w.missing_responses;
            t.extra_responses += w.extra_responses;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_and_mean() {
        let c = WorkerCounters::default();
        c.record_batch(FlushReason::Full, 8);
        c.record_batch(FlushReason::Deadline, 2);
        c.record_batch(FlushReason::Drain, 5);
        c.record_panic();
        c.record_response_count(4, 1);
        c.record_response_count(1, 3);
        c.record_response_count(2, 2);
        let s = c.snapshot(1, Some(7));
        assert_eq!((s.worker, s.core, s.pinned), (1, Some(7), false));
        assert_eq!((s.requests, s.batches(), s.largest_batch), (15, 3, 8));
        assert_eq!(
            (s.batches_full, s.batches_deadline, s.batches_drain),
            (1, 1, 1)
        );
        assert_eq!(
            (s.handler_panics, s.missing_responses, s.extra_responses),
            (1, 3, 2)
        );
        assert!((s.mean_batch() - 5.0).abs() < 1e-9);
        assert_eq!(WorkerStats::default().mean_batch(), 0.0);

        let pool = PoolStats {
            workers: vec![s.clone(), s],
            rejected_full: 4,
        };
        let t = pool.total();
        assert_eq!(
            (t.requests, t.batches(), t.largest_batch, t.pinned),
            (30, 6, 8, false)
        );
    }
}
