//! The pool and its workers: batching loop, flush, panic recovery, startup and shutdown.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, TryRecvError};

use super::affinity::{self, CoreTarget};
use super::config::PoolConfig;
use super::queue::{Envelope, Msg, PoolError, PoolHandle, Reply, Shared, Slot};
use super::stats::{FlushReason, PoolStats, WorkerCounters};
use crate::error::Error;

/// The batch work a pool runs. Each worker owns one instance (its scratch buffers, its
/// [`IvRng`](super::IvRng)), so `handle` takes `&mut self` and needs no locking.
pub trait BatchHandler: Send + 'static {
    /// One request (e.g. a state to seal, a ticket to open).
    type Req: Send + 'static;
    /// One response.
    type Resp: Send + 'static;

    /// Handles one batch: `reqs` holds 1..=`max_batch` requests; push exactly one response per
    /// request onto `out` (empty on entry), in request order. The handler may consume `reqs`
    /// (e.g. `drain(..)` to reuse buffers); whatever it leaves there is dropped afterwards.
    ///
    /// Contract breaches are contained: missing responses are answered
    /// [`PoolError::NoResponse`], extra ones are dropped (both counted in
    /// [`WorkerStats`](super::WorkerStats)), a panic answers the whole batch
    /// [`PoolError::HandlerPanicked`] and replaces this instance.
    fn handle(&mut self, reqs: &mut Vec<Self::Req>, out: &mut Vec<Self::Resp>);
}

/// A [`BatchHandler`] made from a closure; see [`handler_fn`].
pub struct FnHandler<F, Req, Resp> {
    f: F,
    // `fn(Req) -> Resp` keeps the handler `Send` whatever `Req`/`Resp` are.
    _types: PhantomData<fn(Req) -> Resp>,
}

impl<F, Req, Resp> fmt::Debug for FnHandler<F, Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnHandler").finish_non_exhaustive()
    }
}

/// Wraps a closure as a [`BatchHandler`], for handlers without state beyond what the closure
/// captures (each worker still gets its own closure from the factory).
pub fn handler_fn<Req, Resp, F>(f: F) -> FnHandler<F, Req, Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    F: FnMut(&mut Vec<Req>, &mut Vec<Resp>) + Send + 'static,
{
    FnHandler {
        f,
        _types: PhantomData,
    }
}

impl<Req, Resp, F> BatchHandler for FnHandler<F, Req, Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    F: FnMut(&mut Vec<Req>, &mut Vec<Resp>) + Send + 'static,
{
    type Req = Req;
    type Resp = Resp;

    fn handle(&mut self, reqs: &mut Vec<Req>, out: &mut Vec<Resp>) {
        (self.f)(reqs, out);
    }
}

/// What the handler factory learns about the worker it builds for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// Worker index, `0..workers`.
    pub index: usize,
    /// The core id the worker asked to be pinned to.
    pub core: Option<usize>,
    /// Whether the worker is pinned to it.
    pub pinned: bool,
}

type Factory<H> = dyn Fn(&WorkerInfo) -> Result<H, Error> + Send + Sync;

/// Per-core workers that batch requests for a [`BatchHandler`]. See the [module docs](super).
///
/// Dropping the pool shuts it down like [`Pool::shutdown`].
pub struct Pool<Req: Send + 'static, Resp: Send + 'static> {
    shared: Arc<Shared<Req, Resp>>,
    threads: Vec<JoinHandle<()>>,
}

impl<Req: Send + 'static, Resp: Send + 'static> fmt::Debug for Pool<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.shared.slots.len())
            .field("closed", &self.shared.is_closed())
            .finish_non_exhaustive()
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> Pool<Req, Resp> {
    /// Starts `config.worker_count()` workers. Each pins itself (failure is recorded in the
    /// stats, not fatal), then builds its handler with `factory` on its own thread (so the
    /// handler's buffers are allocated near its core). Returns once every worker is ready.
    ///
    /// # Errors
    /// The first error a `factory` call returns, or [`Error::Io`] if a thread cannot be
    /// spawned; workers already started are shut down first. A panic in `factory` is
    /// re-raised on the calling thread.
    pub fn new<H, F>(config: PoolConfig, factory: F) -> Result<Self, Error>
    where
        H: BatchHandler<Req = Req, Resp = Resp>,
        F: Fn(&WorkerInfo) -> Result<H, Error> + Send + Sync + 'static,
    {
        let workers = config.worker_count();
        let targets = affinity::plan(&config.pinning, workers);
        let factory: Arc<Factory<H>> = Arc::new(factory);

        let mut slots = Vec::with_capacity(workers);
        let mut receivers = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = crossbeam_channel::bounded(config.queue_capacity.get());
            slots.push(Slot::new(tx, rx.clone()));
            receivers.push(rx);
        }
        let cores = targets.iter().map(|t| t.requested).collect();
        let shared = Arc::new(Shared::new(slots, cores, config.distribution));

        let (ready_tx, ready_rx) = crossbeam_channel::bounded(workers);
        let mut pool = Self {
            shared,
            threads: Vec::with_capacity(workers),
        };
        let settings = Settings {
            max_batch: config.max_batch.get(),
            flush_deadline: config.flush_deadline,
            spin: config.spin.min(config.flush_deadline),
        };
        for (index, (rx, target)) in receivers.into_iter().zip(targets).enumerate() {
            let ctx = WorkerCtx {
                index,
                target,
                settings,
                shared: Arc::clone(&pool.shared),
                factory: Arc::clone(&factory),
            };
            let ready = ready_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{index}", config.thread_name))
                .spawn(move || ctx.run(&rx, &ready));
            match spawned {
                Ok(t) => pool.threads.push(t),
                Err(e) => {
                    pool.stop();
                    return Err(Error::Io(format!("spawning pool worker {index}"), e));
                }
            }
        }
        drop(ready_tx);

        for _ in 0..workers {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(Startup::Factory(e))) => {
                    pool.stop();
                    return Err(e);
                }
                Ok(Err(Startup::Panic(payload))) => {
                    pool.stop();
                    resume_unwind(payload);
                }
                // Every worker reports before it can exit, so this is unreachable in practice;
                // stopping (rather than waiting) keeps it from ever hanging.
                Err(_) => {
                    pool.stop();
                    return Err(Error::Io(
                        "starting pool workers".to_owned(),
                        std::io::Error::other("a worker exited before reporting"),
                    ));
                }
            }
        }
        Ok(pool)
    }

    /// A new submission handle.
    pub fn handle(&self) -> PoolHandle<Req, Resp> {
        PoolHandle::new(Arc::clone(&self.shared))
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.shared.slots.len()
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    /// Refuses new requests, lets every worker answer the requests already queued, joins the
    /// workers and returns the final counters. A request that raced with shutdown (accepted,
    /// but queued behind its worker's stop marker) is answered [`PoolError::Closed`]. Must not be called from inside a handler or a
    /// reply callback (it would wait for its own worker).
    pub fn shutdown(mut self) -> PoolStats {
        self.stop();
        self.shared.stats()
    }

    fn stop(&mut self) {
        if self.shared.close() {
            for (i, slot) in self.shared.slots.iter().enumerate() {
                let worker = self.threads.get(i);
                let mut stop = Msg::Stop;
                // The queue may be full: wait for the worker to make room, unless it is gone
                // (a worker that never started, or died) and nobody will.
                loop {
                    match slot.tx.send_timeout(stop, Duration::from_millis(10)) {
                        Ok(()) => break,
                        Err(SendTimeoutError::Timeout(m))
                            if worker.is_some_and(|t| !t.is_finished()) =>
                        {
                            stop = m;
                        }
                        Err(_) => break,
                    }
                }
            }
        }
        for t in self.threads.drain(..) {
            // A worker that died outside its catch_unwind (a bug) has had its batch answered
            // `Lost` by the drop guards; the final drain answers its queue.
            drop(t.join());
        }
        self.shared.drain_all();
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> Drop for Pool<Req, Resp> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How a worker failed to start.
enum Startup {
    Factory(Error),
    Panic(Box<dyn std::any::Any + Send>),
}

#[derive(Clone, Copy)]
struct Settings {
    max_batch: usize,
    flush_deadline: Duration,
    spin: Duration,
}

struct WorkerCtx<H: BatchHandler> {
    index: usize,
    target: CoreTarget,
    settings: Settings,
    shared: Arc<Shared<H::Req, H::Resp>>,
    factory: Arc<Factory<H>>,
}

/// What ended the wait for more requests.
enum Next<T> {
    Got(T),
    Empty,
    Stop,
}

impl<H: BatchHandler> WorkerCtx<H> {
    fn counters(&self) -> &WorkerCounters {
        &self.shared.counters[self.index]
    }

    fn info(&self) -> WorkerInfo {
        WorkerInfo {
            index: self.index,
            core: self.target.requested,
            pinned: self
                .counters()
                .pinned
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Builds a handler; a panicking factory counts as a failure.
    fn build(&self) -> Result<H, Startup> {
        let info = self.info();
        match catch_unwind(AssertUnwindSafe(|| (self.factory)(&info))) {
            Ok(Ok(h)) => Ok(h),
            Ok(Err(e)) => Err(Startup::Factory(e)),
            Err(payload) => Err(Startup::Panic(payload)),
        }
    }

    fn run(
        self,
        rx: &Receiver<Msg<H::Req, H::Resp>>,
        ready: &crossbeam_channel::Sender<Result<(), Startup>>,
    ) {
        let pinned = affinity::pin_current(self.target);
        self.counters()
            .pinned
            .store(pinned, std::sync::atomic::Ordering::Relaxed);
        let handler = match self.build() {
            Ok(h) => {
                drop(ready.send(Ok(())));
                h
            }
            Err(e) => {
                drop(ready.send(Err(e)));
                return;
            }
        };
        let mut state = Batch {
            handler: Some(handler),
            reqs: Vec::with_capacity(self.settings.max_batch),
            replies: Vec::with_capacity(self.settings.max_batch),
            out: Vec::with_capacity(self.settings.max_batch),
            stopping: false,
        };
        // The handler runs under its own catch_unwind; this one covers panics outside it (a
        // request or response type whose Drop panics). The worker drops the batch it held
        // (its replies answer `Lost`) and keeps serving, so its queue never strands requests.
        while catch_unwind(AssertUnwindSafe(|| self.serve(rx, &mut state))).is_err() {
            self.counters().record_panic();
            let _ = catch_unwind(AssertUnwindSafe(|| state.reset()));
        }
    }

    /// The batching loop: block for a first request, gather until full or the deadline, flush.
    fn serve(&self, rx: &Receiver<Msg<H::Req, H::Resp>>, b: &mut Batch<H>) {
        let max = self.settings.max_batch;
        while !b.stopping {
            match rx.recv() {
                Ok(Msg::Job(env)) => b.push(env),
                Ok(Msg::Stop) | Err(_) => {
                    b.stopping = true;
                    break;
                }
            }
            // One clock read per batch; `None` (an absurd deadline) means "wait for Full".
            let deadline = Instant::now().checked_add(self.settings.flush_deadline);
            let reason = loop {
                if b.reqs.len() >= max {
                    break FlushReason::Full;
                }
                match self.next(rx, deadline) {
                    Next::Got(env) => b.push(env),
                    Next::Empty => break FlushReason::Deadline,
                    Next::Stop => {
                        b.stopping = true;
                        break FlushReason::Drain;
                    }
                }
            };
            self.flush(b, reason);
        }
        // Requests queued behind the Stop raced with shutdown (e.g. submitters that were
        // blocked on a full queue): handle what is already there rather than refuse it.
        // Anything landing after this is answered `Closed` by shutdown's final drain.
        while let Ok(msg) = rx.try_recv() {
            if let Msg::Job(env) = msg {
                b.push(env);
                if b.reqs.len() >= max {
                    self.flush(b, FlushReason::Drain);
                }
            }
        }
        if !b.reqs.is_empty() {
            self.flush(b, FlushReason::Drain);
        }
    }

    /// The next request before `deadline`, or why there is none.
    fn next(
        &self,
        rx: &Receiver<Msg<H::Req, H::Resp>>,
        deadline: Option<Instant>,
    ) -> Next<Envelope<H::Req, H::Resp>> {
        match rx.try_recv() {
            Ok(Msg::Job(env)) => return Next::Got(env),
            Ok(Msg::Stop) | Err(TryRecvError::Disconnected) => return Next::Stop,
            Err(TryRecvError::Empty) => {}
        }
        if self.settings.flush_deadline.is_zero() {
            return Next::Empty;
        }
        if !self.settings.spin.is_zero() {
            let spin_start = Instant::now();
            while spin_start.elapsed() < self.settings.spin {
                match rx.try_recv() {
                    Ok(Msg::Job(env)) => return Next::Got(env),
                    Ok(Msg::Stop) | Err(TryRecvError::Disconnected) => return Next::Stop,
                    Err(TryRecvError::Empty) => std::hint::spin_loop(),
                }
            }
        }
        let got = match deadline {
            Some(d) => rx.recv_deadline(d),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok(Msg::Job(env)) => Next::Got(env),
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => Next::Stop,
            Err(RecvTimeoutError::Timeout) => Next::Empty,
        }
    }

    /// Runs the handler on the batch and answers every request in it exactly once.
    fn flush(&self, b: &mut Batch<H>, reason: FlushReason) {
        let n = b.reqs.len();
        self.counters().record_batch(reason, n);
        if b.handler.is_none() {
            b.handler = self.build().ok();
        }
        let Some(handler) = b.handler.as_mut() else {
            b.reqs.clear();
            for reply in b.replies.drain(..) {
                reply.send(Err(PoolError::HandlerUnavailable));
            }
            return;
        };
        b.out.clear();
        let outcome = catch_unwind(AssertUnwindSafe(|| handler.handle(&mut b.reqs, &mut b.out)));
        b.reqs.clear();
        match outcome {
            Ok(()) => {
                self.counters().record_response_count(n, b.out.len());
                let mut responses = b.out.drain(..);
                for reply in b.replies.drain(..) {
                    reply.send(responses.next().ok_or(PoolError::NoResponse));
                }
            }
            Err(_payload) => {
                self.counters().record_panic();
                b.out.clear();
                for reply in b.replies.drain(..) {
                    reply.send(Err(PoolError::HandlerPanicked));
                }
                // The instance may be half-updated: discard it (its Drop may panic too) and
                // build a fresh one now, or at the next flush if the factory fails.
                let broken = b.handler.take();
                drop(catch_unwind(AssertUnwindSafe(move || drop(broken))));
                b.handler = self.build().ok();
            }
        }
    }
}

/// One worker's batch under construction and its reusable buffers.
struct Batch<H: BatchHandler> {
    handler: Option<H>,
    reqs: Vec<H::Req>,
    replies: Vec<Reply<H::Resp>>,
    out: Vec<H::Resp>,
    /// A stop marker was taken off the queue: flush and exit.
    stopping: bool,
}

impl<H: BatchHandler> Batch<H> {
    fn push(&mut self, env: Envelope<H::Req, H::Resp>) {
        self.reqs.push(env.req);
        self.replies.push(env.reply);
    }

    /// Drops the batch in progress; its replies answer `Lost`.
    fn reset(&mut self) {
        self.reqs.clear();
        self.out.clear();
        self.replies.clear();
    }
}
