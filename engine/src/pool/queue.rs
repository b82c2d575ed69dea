//! The submission side: handles, per-worker queues, reply routes and the shutdown protocol.
//!
//! Shutdown without a per-request lock or counter (an earlier gate of two `SeqCst` RMWs per
//! request cost ~100 ns of store-buffer drains, doubling the submission cost):
//! - A submitter sends, then issues a `SeqCst` fence and reads `closed`. Shutdown stores
//!   `closed`, issues a `SeqCst` fence, queues a `Stop` behind each worker's jobs, joins the
//!   workers, then for each queue stores `drained`, fences, and drains what is left
//!   (answering it [`PoolError::Closed`]).
//! - Fence rule (C++/Rust memory model, [atomics.fences]): of two `SeqCst` fences one precedes
//!   the other. If the submitter's fence comes first, every load after shutdown's fence sees the
//!   queued message, so a worker or the final drain receives it. Otherwise the submitter sees
//!   `closed`; it then reads `drained`: if still false, shutdown's final drain (after its own
//!   fence) will see the message; if true, the submitter drains that queue itself.
//! - Each message is received by exactly one receiver, so it is answered exactly once; nothing
//!   is ever left in a queue that no one reads.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};

use super::config::Distribution;
use super::stats::{PoolStats, WorkerCounters};

/// Why an accepted request got no response from the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PoolError {
    /// The handler panicked while processing the batch that held this request. The worker
    /// replaced the handler with a fresh one from the factory; resubmitting is safe.
    HandlerPanicked,
    /// The handler returned fewer responses than the batch had requests (a handler bug); the
    /// requests past the last response get this.
    NoResponse,
    /// The handler panicked earlier and the factory has failed to build a replacement so far.
    HandlerUnavailable,
    /// The request was accepted while the pool was shutting down but reached its queue after
    /// the worker had stopped, so it was not handled.
    Closed,
    /// The request was dropped without being handled (its worker thread died). Never produced
    /// by a pool working as designed; reported instead of leaving the caller waiting.
    Lost,
}

impl PoolError {
    /// A stable snake_case name for counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HandlerPanicked => "handler_panicked",
            Self::NoResponse => "no_response",
            Self::HandlerUnavailable => "handler_unavailable",
            Self::Closed => "closed",
            Self::Lost => "lost",
        }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pool request failed: {}", self.as_str())
    }
}

impl std::error::Error for PoolError {}

/// A request the pool did not accept, handed back to the caller.
pub enum SubmitError<Req> {
    /// Every worker queue was full (`try_submit*` only; `submit*` waits instead).
    Full(Req),
    /// The pool is shut down or shutting down.
    Closed(Req),
}

impl<Req> SubmitError<Req> {
    /// The request, to retry or answer otherwise.
    pub fn into_inner(self) -> Req {
        match self {
            Self::Full(r) | Self::Closed(r) => r,
        }
    }

    /// Whether the queues were full (retrying later may succeed).
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// Whether the pool is closed (retrying never succeeds).
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

// Hand-written so `Req` needs no `Debug` (a request may hold secrets).
impl<Req> fmt::Debug for SubmitError<Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<Req> fmt::Display for SubmitError<Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("every pool queue is full"),
            Self::Closed(_) => f.write_str("the pool is shut down"),
        }
    }
}

impl<Req> std::error::Error for SubmitError<Req> {}

/// One answer on a streaming reply route: the id given to
/// [`PoolHandle::submit_with`] and the outcome.
#[derive(Debug)]
pub struct Done<R> {
    /// The caller's request id.
    pub id: u64,
    /// The handler's response, or why there is none.
    pub result: Result<R, PoolError>,
}

type Callback<R> = Arc<dyn Fn(Done<R>) + Send + Sync>;

/// Where streaming answers go; shared by any number of requests (cloning it is one atomic
/// increment, never an allocation).
pub struct ReplyTo<R> {
    kind: ReplyKind<R>,
}

enum ReplyKind<R> {
    Channel(Sender<Done<R>>),
    Callback(Callback<R>),
}

impl<R> Clone for ReplyTo<R> {
    fn clone(&self) -> Self {
        let kind = match &self.kind {
            ReplyKind::Channel(tx) => ReplyKind::Channel(tx.clone()),
            ReplyKind::Callback(f) => ReplyKind::Callback(Arc::clone(f)),
        };
        Self { kind }
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            ReplyKind::Channel(_) => "ReplyTo::Channel",
            ReplyKind::Callback(_) => "ReplyTo::Callback",
        })
    }
}

impl<R: Send + 'static> ReplyTo<R> {
    /// Answers are sent on `tx`. A worker blocks while a bounded `tx` is full, so a caller that
    /// both submits and drains on one thread must use an unbounded channel (as
    /// [`reply_channel`] does) or cap its requests in flight below the channel's capacity.
    /// Answers to a disconnected receiver are dropped.
    pub fn channel(tx: Sender<Done<R>>) -> Self {
        Self {
            kind: ReplyKind::Channel(tx),
        }
    }

    /// Answers are passed to `f`, called on the worker thread right after the batch (keep it
    /// short: the worker's next batch waits for it). A panic in `f` is caught and ignored so the
    /// worker survives.
    pub fn callback(f: impl Fn(Done<R>) + Send + Sync + 'static) -> Self {
        Self {
            kind: ReplyKind::Callback(Arc::new(f)),
        }
    }
}

/// An unbounded reply channel for [`PoolHandle::submit_with`]: the route and its receiver.
pub fn reply_channel<R: Send + 'static>() -> (ReplyTo<R>, Receiver<Done<R>>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    (ReplyTo::channel(tx), rx)
}

/// The one-shot answer to [`PoolHandle::submit`].
#[must_use = "the answer arrives through this; dropping it discards the response"]
pub struct Pending<R> {
    rx: Receiver<Result<R, PoolError>>,
}

impl<R> fmt::Debug for Pending<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl<R> Pending<R> {
    /// Blocks until the answer arrives. Never blocks forever: if the request is dropped
    /// unanswered, this returns [`PoolError::Lost`].
    pub fn wait(self) -> Result<R, PoolError> {
        self.rx.recv().unwrap_or(Err(PoolError::Lost))
    }

    /// Waits at most `timeout`; gives `self` back if the answer has not arrived.
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<R, PoolError>, Self> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => Ok(r),
            Err(RecvTimeoutError::Disconnected) => Ok(Err(PoolError::Lost)),
            Err(RecvTimeoutError::Timeout) => Err(self),
        }
    }

    /// The answer if it has arrived, else `self` back.
    pub fn try_wait(self) -> Result<Result<R, PoolError>, Self> {
        match self.rx.try_recv() {
            Ok(r) => Ok(r),
            Err(TryRecvError::Disconnected) => Ok(Err(PoolError::Lost)),
            Err(TryRecvError::Empty) => Err(self),
        }
    }
}

enum Route<R> {
    Oneshot(Sender<Result<R, PoolError>>),
    Channel(u64, Sender<Done<R>>),
    Callback(u64, Callback<R>),
}

impl<R> Route<R> {
    fn deliver(self, result: Result<R, PoolError>) {
        match self {
            // The receiver may be gone (the caller dropped its `Pending`): nothing to do.
            Self::Oneshot(tx) => drop(tx.try_send(result)),
            Self::Channel(id, tx) => drop(tx.send(Done { id, result })),
            Self::Callback(id, f) => {
                drop(catch_unwind(AssertUnwindSafe(|| f(Done { id, result }))));
            }
        }
    }
}

/// The answer route of one request. Answering consumes it; dropping it unanswered answers
/// [`PoolError::Lost`], so no path (a dead worker, a discarded queue) leaves a caller waiting.
pub(super) struct Reply<R>(Option<Route<R>>);

impl<R> Reply<R> {
    pub(super) fn send(mut self, result: Result<R, PoolError>) {
        if let Some(route) = self.0.take() {
            route.deliver(result);
        }
    }

    /// Drops the route without answering (the request is handed back to its submitter).
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        if let Some(route) = self.0.take() {
            route.deliver(Err(PoolError::Lost));
        }
    }
}

/// A request and where its answer goes.
pub(super) struct Envelope<Req, Resp> {
    pub(super) req: Req,
    pub(super) reply: Reply<Resp>,
}

impl<Req, Resp> Envelope<Req, Resp> {
    fn into_req(self) -> Req {
        self.reply.disarm();
        self.req
    }
}

/// What travels on a worker's queue.
pub(super) enum Msg<Req, Resp> {
    Job(Envelope<Req, Resp>),
    /// Sent once per worker by shutdown, after every accepted job.
    Stop,
}

impl<Req, Resp> Msg<Req, Resp> {
    /// The envelope of a job that was handed back by the channel. Submitters only ever send
    /// `Job`, so the `Stop` arm cannot be reached from them.
    fn into_job(self) -> Envelope<Req, Resp> {
        match self {
            Self::Job(e) => e,
            Self::Stop => unreachable!("submitters never send Stop"),
        }
    }
}

/// One worker's queue, padded so producers of different workers do not share cache lines.
#[repr(align(128))]
pub(super) struct Slot<Req, Resp> {
    pub(super) tx: Sender<Msg<Req, Resp>>,
    /// Kept for the final drain at shutdown (and so the queue never disconnects).
    rx: Receiver<Msg<Req, Resp>>,
    /// Set by shutdown just before its final drain of this queue.
    drained: AtomicBool,
}

impl<Req, Resp> Slot<Req, Resp> {
    pub(super) fn new(tx: Sender<Msg<Req, Resp>>, rx: Receiver<Msg<Req, Resp>>) -> Self {
        Self {
            tx,
            rx,
            drained: AtomicBool::new(false),
        }
    }

    /// Answers everything left in this queue [`PoolError::Closed`].
    fn drain(&self) {
        while let Ok(msg) = self.rx.try_recv() {
            if let Msg::Job(env) = msg {
                env.reply.send(Err(PoolError::Closed));
            }
        }
    }
}

/// State shared by the pool and every handle.
pub(super) struct Shared<Req, Resp> {
    pub(super) slots: Box<[Slot<Req, Resp>]>,
    pub(super) counters: Box<[WorkerCounters]>,
    pub(super) cores: Box<[Option<usize>]>,
    pub(super) distribution: Distribution,
    closed: AtomicBool,
    rejected_full: AtomicU64,
    /// Start offsets for new handles, so clones spread over the workers.
    handle_seq: AtomicUsize,
}

impl<Req, Resp> Shared<Req, Resp> {
    pub(super) fn new(
        slots: Vec<Slot<Req, Resp>>,
        cores: Vec<Option<usize>>,
        distribution: Distribution,
    ) -> Self {
        let counters = (0..slots.len())
            .map(|_| WorkerCounters::default())
            .collect();
        Self {
            slots: slots.into_boxed_slice(),
            counters,
            cores: cores.into_boxed_slice(),
            distribution,
            closed: AtomicBool::new(false),
            rejected_full: AtomicU64::new(0),
            handle_seq: AtomicUsize::new(0),
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Refuses new submissions. Returns whether this call closed the pool (false if it was
    /// already closed). See the module docs for the protocol.
    pub(super) fn close(&self) -> bool {
        let first = !self.closed.swap(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        first
    }

    /// After the workers have stopped: answers whatever reached a queue behind its `Stop`.
    pub(super) fn drain_all(&self) {
        for slot in self.slots.iter() {
            slot.drained.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            slot.drain();
        }
    }

    /// Called by a submitter right after its message landed in `slot`.
    fn after_send(&self, slot: &Slot<Req, Resp>) {
        fence(Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) && slot.drained.load(Ordering::SeqCst) {
            // Shutdown's final drain of this queue may have run before our message landed.
            slot.drain();
        }
    }

    pub(super) fn stats(&self) -> PoolStats {
        PoolStats {
            workers: self
                .counters
                .iter()
                .zip(self.cores.iter())
                .enumerate()
                .map(|(i, (c, core))| c.snapshot(i, *core))
                .collect(),
            rejected_full: self.rejected_full.load(Ordering::Relaxed),
        }
    }
}

/// Whether a submission may wait for queue space.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    Block,
    NoBlock,
}

/// A cheap, cloneable, `Send + Sync` submitter to a [`Pool`](super::Pool). Handles stay valid
/// after the pool is gone: they then refuse requests with [`SubmitError::Closed`].
pub struct PoolHandle<Req, Resp> {
    shared: Arc<Shared<Req, Resp>>,
    /// This handle's round-robin position (its own cache line in practice: handles live on the
    /// producers' stacks), so producers never contend on a shared counter.
    next: AtomicUsize,
}

impl<Req, Resp> Clone for PoolHandle<Req, Resp> {
    fn clone(&self) -> Self {
        Self::new(Arc::clone(&self.shared))
    }
}

impl<Req, Resp> fmt::Debug for PoolHandle<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolHandle")
            .field("workers", &self.shared.slots.len())
            .field("closed", &self.shared.is_closed())
            .finish_non_exhaustive()
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> PoolHandle<Req, Resp> {
    /// Submits `req`, waiting for queue space if needed; the answer comes through the returned
    /// [`Pending`]. Allocates one small one-shot channel per request.
    pub fn submit(&self, req: Req) -> Result<Pending<Resp>, SubmitError<Req>> {
        self.submit_oneshot(req, Wait::Block)
    }

    /// As [`submit`](Self::submit), but never waits: a request no queue has room for is handed
    /// back in [`SubmitError::Full`].
    pub fn try_submit(&self, req: Req) -> Result<Pending<Resp>, SubmitError<Req>> {
        self.submit_oneshot(req, Wait::NoBlock)
    }

    /// Submits `req`, waiting for queue space if needed; its answer goes to `reply` as a
    /// [`Done`] carrying `id` (ids are the caller's; the pool does not check them). No
    /// allocation per request.
    pub fn submit_with(
        &self,
        id: u64,
        req: Req,
        reply: &ReplyTo<Resp>,
    ) -> Result<(), SubmitError<Req>> {
        self.enqueue(
            Envelope {
                req,
                reply: route_for(id, reply),
            },
            Wait::Block,
        )
    }

    /// As [`submit_with`](Self::submit_with), but never waits (see [`try_submit`](Self::try_submit)).
    pub fn try_submit_with(
        &self,
        id: u64,
        req: Req,
        reply: &ReplyTo<Resp>,
    ) -> Result<(), SubmitError<Req>> {
        self.enqueue(
            Envelope {
                req,
                reply: route_for(id, reply),
            },
            Wait::NoBlock,
        )
    }
}

fn route_for<R>(id: u64, reply: &ReplyTo<R>) -> Reply<R> {
    Reply(Some(match &reply.kind {
        ReplyKind::Channel(tx) => Route::Channel(id, tx.clone()),
        ReplyKind::Callback(f) => Route::Callback(id, Arc::clone(f)),
    }))
}

impl<Req, Resp> PoolHandle<Req, Resp> {
    pub(super) fn new(shared: Arc<Shared<Req, Resp>>) -> Self {
        let start = shared.handle_seq.fetch_add(1, Ordering::Relaxed);
        Self {
            shared,
            next: AtomicUsize::new(start),
        }
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.shared.slots.len()
    }

    /// Whether the pool has begun shutting down (submissions are refused).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    fn submit_oneshot(&self, req: Req, wait: Wait) -> Result<Pending<Resp>, SubmitError<Req>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.enqueue(
            Envelope {
                req,
                reply: Reply(Some(Route::Oneshot(tx))),
            },
            wait,
        )?;
        Ok(Pending { rx })
    }

    /// The worker to try first.
    fn pick(&self) -> usize {
        let n = self.shared.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        match self.shared.distribution {
            Distribution::RoundRobin => start,
            Distribution::LeastLoaded => (0..n)
                .map(|k| (start + k) % n)
                .min_by_key(|&w| self.shared.slots[w].tx.len())
                .unwrap_or(start),
        }
    }

    /// Tries each worker once from `pick()`; then, if allowed, waits on the first one.
    fn enqueue(&self, env: Envelope<Req, Resp>, wait: Wait) -> Result<(), SubmitError<Req>> {
        let shared = &*self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(SubmitError::Closed(env.into_req()));
        }
        let n = shared.slots.len();
        let first = self.pick();
        let mut msg = Msg::Job(env);
        for k in 0..n {
            let slot = &shared.slots[(first + k) % n];
            msg = match slot.tx.try_send(msg) {
                Ok(()) => {
                    shared.after_send(slot);
                    return Ok(());
                }
                Err(TrySendError::Full(m) | TrySendError::Disconnected(m)) => m,
            };
        }
        if wait == Wait::NoBlock {
            shared.rejected_full.fetch_add(1, Ordering::Relaxed);
            return Err(SubmitError::Full(msg.into_job().into_req()));
        }
        let slot = &shared.slots[first];
        // Never blocks forever: a queue is read by its worker until `Stop`, then by shutdown's
        // final drain, which empties it.
        match slot.tx.send(msg) {
            Ok(()) => {
                shared.after_send(slot);
                Ok(())
            }
            Err(e) => Err(SubmitError::Closed(e.into_inner().into_job().into_req())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_slot() -> Shared<u8, u32> {
        let (tx, rx) = crossbeam_channel::bounded(4);
        Shared::new(
            vec![Slot::new(tx, rx)],
            vec![None],
            Distribution::RoundRobin,
        )
    }

    #[test]
    fn late_send_after_final_drain_is_drained_by_the_submitter() {
        let shared = one_slot();
        let (reply, rx) = reply_channel::<u32>();
        assert!(shared.close());
        assert!(!shared.close(), "second close reports already closed");
        shared.drain_all();
        // A submitter that read `closed == false` before shutdown lands its job now.
        let slot = &shared.slots[0];
        assert!(
            slot.tx
                .try_send(Msg::Job(Envelope {
                    req: 1,
                    reply: route_for(5, &reply)
                }))
                .is_ok()
        );
        shared.after_send(slot);
        let done = rx
            .try_recv()
            .expect("answered by the submitter's own drain");
        assert_eq!((done.id, done.result), (5, Err(PoolError::Closed)));
        assert!(slot.rx.is_empty());
    }

    #[test]
    fn send_before_final_drain_is_left_to_shutdown() {
        let shared = one_slot();
        let (reply, rx) = reply_channel::<u32>();
        assert!(shared.close());
        let slot = &shared.slots[0];
        assert!(
            slot.tx
                .try_send(Msg::Job(Envelope {
                    req: 1,
                    reply: route_for(6, &reply)
                }))
                .is_ok()
        );
        shared.after_send(slot);
        assert!(
            rx.try_recv().is_err(),
            "not drained yet: shutdown's final drain will"
        );
        shared.drain_all();
        let done = rx.try_recv().expect("answered by the final drain");
        assert_eq!((done.id, done.result), (6, Err(PoolError::Closed)));
    }

    #[test]
    fn closed_pool_refuses_before_sending() {
        let shared = Arc::new(one_slot());
        let handle = PoolHandle::new(Arc::clone(&shared));
        shared.close();
        assert!(matches!(handle.try_submit(3), Err(SubmitError::Closed(3))));
        assert!(shared.slots[0].rx.is_empty());
    }

    #[test]
    fn dropped_reply_answers_lost() {
        let (reply, rx) = reply_channel::<u32>();
        drop(route_for(7, &reply));
        let done = rx.try_recv().expect("drop guard answers");
        assert_eq!((done.id, done.result), (7, Err(PoolError::Lost)));
    }

    #[test]
    fn sent_reply_answers_once() {
        let (reply, rx) = reply_channel::<u32>();
        route_for(9, &reply).send(Ok(5));
        assert_eq!(
            rx.try_recv().map(|d| (d.id, d.result)).ok(),
            Some((9, Ok(5)))
        );
        assert!(rx.try_recv().is_err(), "exactly one answer");
    }

    #[test]
    fn disarmed_reply_stays_silent() {
        let (reply, rx) = reply_channel::<u32>();
        Envelope {
            req: 1u8,
            reply: route_for(1, &reply),
        }
        .into_req();
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn pending_reports_lost_when_sender_dropped() {
        let (tx, rx) = crossbeam_channel::bounded::<Result<u8, PoolError>>(1);
        let p = Pending { rx };
        let p = p.try_wait().expect_err("nothing yet");
        drop(tx);
        assert_eq!(p.wait(), Err(PoolError::Lost));
    }

    #[test]
    fn panicking_callback_is_contained() {
        let reply = ReplyTo::callback(|_d: Done<u8>| panic!("callback bug"));
        route_for(1, &reply).send(Ok(1));
    }

    #[test]
    fn submit_error_gives_request_back_and_hides_it() {
        let e = SubmitError::Full(String::from("secret"));
        assert!(e.is_full() && !e.is_closed());
        assert_eq!(format!("{e:?}"), "Full(..)");
        assert_eq!(e.into_inner(), "secret");
        assert!(SubmitError::Closed(()).is_closed());
        assert_eq!(PoolError::Lost.to_string(), "pool request failed: lost");
    }
}
