//! The streaming pool through its public API: every request answered exactly once, deadlines,
//! batching under load, backpressure, shutdown and handler failures.
//!
//! No assertion depends on timing beyond generous upper bounds (seconds): this must pass on a
//! loaded 2-core machine in debug mode. Load is made deterministic instead by gating the
//! handler (it blocks inside a batch until the test has queued what it needs).
#![cfg(feature = "pool")]

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use tessera::Error;
use tessera::pool::{
    BatchHandler, Done, Pending, Pinning, Pool, PoolConfig, PoolError, ReplyTo, SubmitError,
    WorkerInfo, handler_fn, reply_channel,
};

const PATIENCE: Duration = Duration::from_secs(10);

fn config(workers: usize, max_batch: usize) -> PoolConfig {
    let mut c = PoolConfig::default();
    c.workers = NonZeroUsize::new(workers);
    c.max_batch = NonZeroUsize::new(max_batch).expect("nonzero");
    c
}

/// Answers `req * 2 + 1`, tagging nothing: the test checks values, not placement.
struct Doubler;

impl BatchHandler for Doubler {
    type Req = u64;
    type Resp = u64;
    fn handle(&mut self, reqs: &mut Vec<u64>, out: &mut Vec<u64>) {
        out.extend(reqs.iter().map(|r| r * 2 + 1));
    }
}

fn doubler(_: &WorkerInfo) -> Result<Doubler, Error> {
    Ok(Doubler)
}

/// The first batch it sees signals `entered` and blocks until `release` is sent to (or
/// dropped); later batches run straight through.
struct Gated {
    gate: Option<(Sender<()>, Receiver<()>)>,
}

impl BatchHandler for Gated {
    type Req = u64;
    type Resp = u64;
    fn handle(&mut self, reqs: &mut Vec<u64>, out: &mut Vec<u64>) {
        if let Some((entered, release)) = self.gate.take() {
            let _ = entered.send(());
            let _ = release.recv();
        }
        out.extend(reqs.iter().map(|r| r * 2 + 1));
    }
}

/// A one-worker gated pool; returns it with "entered" receiver and "release" sender.
fn gated_pool(mut cfg: PoolConfig) -> (Pool<u64, u64>, Receiver<()>, Sender<()>) {
    cfg.workers = NonZeroUsize::new(1);
    let (entered_tx, entered_rx) = crossbeam_channel::unbounded();
    let (release_tx, release_rx) = crossbeam_channel::unbounded();
    let gate = Mutex::new(Some((entered_tx, release_rx)));
    let pool = Pool::new(cfg, move |_: &WorkerInfo| {
        Ok(Gated {
            gate: gate.lock().map(|mut g| g.take()).unwrap_or(None),
        })
    })
    .expect("pool starts");
    (pool, entered_rx, release_tx)
}

fn answered_exactly_once(workers: usize) {
    const PRODUCERS: u64 = 4;
    const PER_PRODUCER: u64 = 1500;
    let mut cfg = config(workers, 16);
    cfg.queue_capacity = NonZeroUsize::new(64).expect("nonzero");
    let pool = Pool::new(cfg, doubler).expect("pool starts");
    let (reply, replies) = reply_channel::<u64>();
    let callbacks = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&callbacks);
    let callback = ReplyTo::callback(move |d: Done<u64>| {
        if let Ok(mut v) = sink.lock() {
            v.push((d.id, d.result));
        }
    });

    std::thread::scope(|s| {
        for p in 0..PRODUCERS {
            let handle = pool.handle();
            let (reply, callback) = (reply.clone(), callback.clone());
            s.spawn(move || {
                let mut pending = Vec::new();
                for k in 0..PER_PRODUCER {
                    let id = p * PER_PRODUCER + k;
                    // Three routes, interleaved, so each meets the others in one batch.
                    match k % 3 {
                        0 => pending.push((id, handle.submit(id).expect("open pool"))),
                        1 => handle.submit_with(id, id, &reply).expect("open pool"),
                        _ => handle.submit_with(id, id, &callback).expect("open pool"),
                    }
                }
                for (id, p) in pending {
                    assert_eq!(p.wait(), Ok(id * 2 + 1));
                }
            });
        }
    });
    let stats = pool.shutdown();

    let total = PRODUCERS * PER_PRODUCER;
    let mut seen = vec![0u32; usize::try_from(total).expect("fits")];
    for (id, result) in replies
        .try_iter()
        .map(|d| (d.id, d.result))
        .chain(callbacks.lock().expect("not poisoned").drain(..))
    {
        assert_eq!(result, Ok(id * 2 + 1));
        seen[usize::try_from(id).expect("fits")] += 1;
    }
    for (id, n) in seen.iter().enumerate() {
        let expected = u32::from(!(id as u64 % PER_PRODUCER).is_multiple_of(3));
        assert_eq!(
            *n, expected,
            "id {id} answered {n} times on the streaming routes"
        );
    }
    let t = stats.total();
    assert_eq!(t.requests, total);
    assert!(t.largest_batch <= 16);
    assert_eq!(stats.workers.len(), workers);
    assert_eq!(
        (t.handler_panics, t.missing_responses, t.extra_responses),
        (0, 0, 0)
    );
}

#[test]
fn every_request_answered_exactly_once_one_worker() {
    answered_exactly_once(1);
}

#[test]
fn every_request_answered_exactly_once_two_workers() {
    answered_exactly_once(2);
}

#[test]
fn least_loaded_distribution_answers_everything() {
    let mut cfg = config(2, 8);
    cfg.distribution = tessera::pool::Distribution::LeastLoaded;
    let pool = Pool::new(cfg, doubler).expect("pool starts");
    let handle = pool.handle();
    let pending: Vec<_> = (0..500u64)
        .map(|i| (i, handle.submit(i).expect("open")))
        .collect();
    for (i, p) in pending {
        assert_eq!(p.wait(), Ok(i * 2 + 1));
    }
    assert_eq!(pool.shutdown().total().requests, 500);
}

#[test]
fn lone_request_is_flushed_by_the_deadline() {
    let us = Duration::from_micros;
    // (deadline, spin): flush at once; spin through the deadline; block only; spin then block.
    for (deadline, spin) in [
        (us(0), us(50)),
        (us(20), us(50)),
        (us(20), us(0)),
        (us(5000), us(50)),
    ] {
        let cfg = config(1, 1024)
            .with_flush_deadline(deadline)
            .with_spin(spin);
        let pool = Pool::new(cfg, doubler).expect("pool starts");
        let start = Instant::now();
        let answer = pool
            .handle()
            .submit(20)
            .expect("open")
            .wait_timeout(PATIENCE);
        let elapsed = start.elapsed();
        assert_eq!(answer.ok(), Some(Ok(41)), "deadline {deadline:?}");
        // Generous: the point is "not held for 1023 more requests", not microseconds.
        assert!(
            elapsed < Duration::from_secs(1),
            "deadline {deadline:?}: took {elapsed:?}"
        );
        let s = pool.stats().total();
        assert_eq!((s.batches_deadline, s.batches_full, s.requests), (1, 0, 1));
    }
}

#[test]
fn spinning_worker_still_meets_the_deadline() {
    let mut cfg = config(1, 1024);
    cfg.flush_deadline = Duration::from_millis(2);
    cfg.spin = Duration::from_micros(200);
    let pool = Pool::new(cfg, doubler).expect("pool starts");
    let answer = pool
        .handle()
        .submit(1)
        .expect("open")
        .wait_timeout(PATIENCE);
    assert_eq!(answer.ok(), Some(Ok(3)));
}

#[test]
fn batches_reach_max_batch_under_load() {
    let mut cfg = PoolConfig::default();
    cfg.max_batch = NonZeroUsize::new(8).expect("nonzero");
    cfg.flush_deadline = Duration::from_secs(30); // Only "full" may flush the backlog.
    let (pool, entered, release) = gated_pool(cfg);
    let handle = pool.handle();
    let (reply, replies) = reply_channel();

    // The first request is flushed alone... eventually: with a 30 s deadline it would wait, so
    // fill its batch instead: 8 requests, then the worker blocks inside the handler.
    for id in 0..8 {
        handle.submit_with(id, id, &reply).expect("open");
    }
    entered.recv_timeout(PATIENCE).expect("first batch started");
    // 64 more pile up in the queue while the handler is blocked.
    for id in 8..72 {
        handle.submit_with(id, id, &reply).expect("open");
    }
    release.send(()).expect("worker alive");
    let mut got: Vec<u64> = (0..72)
        .map(|_| replies.recv_timeout(PATIENCE).expect("answered").id)
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..72).collect::<Vec<_>>());

    let s = pool.stats().total();
    assert_eq!(s.batches_full, 9, "72 requests = 9 full batches of 8");
    assert_eq!(s.batches_deadline, 0);
    assert_eq!(s.largest_batch, 8);
    assert!((s.mean_batch() - 8.0).abs() < 1e-9);
}

#[test]
fn shutdown_answers_pending_requests() {
    let mut cfg = config(1, 4);
    cfg.flush_deadline = Duration::ZERO;
    let (pool, entered, release) = gated_pool(cfg);
    let handle = pool.handle();
    let first = handle.submit(0).expect("open");
    entered.recv_timeout(PATIENCE).expect("first batch started");
    let queued: Vec<_> = (1..=100u64)
        .map(|i| (i, handle.submit(i).expect("open")))
        .collect();

    // Shut down while the worker is still blocked and 100 requests are queued behind it.
    let stopper = std::thread::spawn(move || pool.shutdown());
    let start = Instant::now();
    while !handle.is_closed() {
        assert!(start.elapsed() < PATIENCE, "shutdown never closed the pool");
        std::thread::yield_now();
    }
    assert!(matches!(handle.submit(7), Err(SubmitError::Closed(7))));
    release.send(()).expect("worker alive");

    assert_eq!(first.wait(), Ok(1));
    for (i, p) in queued {
        assert_eq!(p.wait(), Ok(i * 2 + 1), "queued request {i}");
    }
    let stats = stopper.join().expect("shutdown returns");
    assert_eq!(stats.total().requests, 101);
}

#[test]
fn submit_after_shutdown_errors_and_never_hangs() {
    let pool = Pool::new(config(2, 8), doubler).expect("pool starts");
    let handle = pool.handle();
    let (reply, replies) = reply_channel();
    drop(pool); // Drop shuts down like shutdown().
    assert!(handle.is_closed());
    assert!(matches!(handle.submit(1), Err(SubmitError::Closed(1))));
    assert!(matches!(handle.try_submit(2), Err(SubmitError::Closed(2))));
    assert!(matches!(
        handle.submit_with(3, 3, &reply),
        Err(SubmitError::Closed(3))
    ));
    assert!(matches!(
        handle.try_submit_with(4, 4, &reply),
        Err(SubmitError::Closed(4))
    ));
    assert!(
        replies.try_recv().is_err(),
        "a refused request is not also answered"
    );
    assert_eq!(handle.stats().total().requests, 0);
}

/// Panics on a batch holding 13; otherwise doubles.
struct Fragile;

impl BatchHandler for Fragile {
    type Req = u64;
    type Resp = u64;
    fn handle(&mut self, reqs: &mut Vec<u64>, out: &mut Vec<u64>) {
        for &r in reqs.iter() {
            assert_ne!(r, 13, "deliberate handler panic (expected in this test)");
            out.push(r * 2 + 1);
        }
    }
}

#[test]
fn handler_panic_is_answered_and_the_pool_keeps_serving() {
    let built = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&built);
    let mut cfg = config(1, 8);
    cfg.flush_deadline = Duration::ZERO;
    let pool = Pool::new(cfg, move |_: &WorkerInfo| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(Fragile)
    })
    .expect("pool starts");
    let handle = pool.handle();
    assert_eq!(
        handle.submit(13).expect("open").wait(),
        Err(PoolError::HandlerPanicked)
    );
    let (reply, replies) = reply_channel();
    handle.submit_with(99, 13, &reply).expect("open");
    let done = replies.recv_timeout(PATIENCE).expect("answered");
    assert_eq!(
        (done.id, done.result),
        (99, Err(PoolError::HandlerPanicked))
    );
    for i in 20..40 {
        assert_eq!(handle.submit(i).expect("open").wait(), Ok(i * 2 + 1));
    }
    let s = pool.shutdown().total();
    assert_eq!(s.handler_panics, 2);
    assert_eq!(
        built.load(Ordering::SeqCst),
        3,
        "one handler at start, one per panic"
    );
}

#[test]
fn handler_unavailable_when_the_factory_fails_after_a_panic() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let mut cfg = config(1, 8);
    cfg.flush_deadline = Duration::ZERO;
    let pool = Pool::new(cfg, move |_: &WorkerInfo| {
        // Succeeds at start, then fails twice, then succeeds again.
        match counter.fetch_add(1, Ordering::SeqCst) {
            1 | 2 => Err(Error::Rng),
            _ => Ok(Fragile),
        }
    })
    .expect("pool starts");
    let handle = pool.handle();
    assert_eq!(
        handle.submit(13).expect("open").wait(),
        Err(PoolError::HandlerPanicked)
    );
    assert_eq!(
        handle.submit(1).expect("open").wait(),
        Err(PoolError::HandlerUnavailable)
    );
    assert_eq!(handle.submit(1).expect("open").wait(), Ok(3));
}

/// A request whose Drop panics for the value 666: a panic outside the handler's own guard.
struct Bomb(u64);

impl Drop for Bomb {
    fn drop(&mut self) {
        assert_ne!(self.0, 666, "deliberate drop panic (expected in this test)");
    }
}

struct BombHandler;

impl BatchHandler for BombHandler {
    type Req = Bomb;
    type Resp = u64;
    fn handle(&mut self, reqs: &mut Vec<Bomb>, out: &mut Vec<u64>) {
        out.extend(reqs.iter().map(|b| b.0));
    }
}

#[test]
fn panic_outside_the_handler_answers_lost_and_the_worker_survives() {
    let cfg = config(1, 8).with_flush_deadline(Duration::ZERO);
    let pool = Pool::new(cfg, |_: &WorkerInfo| Ok(BombHandler)).expect("pool starts");
    let handle = pool.handle();
    assert_eq!(
        handle.submit(Bomb(666)).expect("open").wait(),
        Err(PoolError::Lost)
    );
    assert_eq!(handle.submit(Bomb(5)).expect("open").wait(), Ok(5));
    assert_eq!(pool.shutdown().total().handler_panics, 1);
}

/// Returns one response fewer than asked (a buggy handler), or one more for request 0.
struct Miscounting;

impl BatchHandler for Miscounting {
    type Req = u64;
    type Resp = u64;
    fn handle(&mut self, reqs: &mut Vec<u64>, out: &mut Vec<u64>) {
        if reqs.first() == Some(&0) {
            out.extend([1, 2]);
        } else {
            out.extend(reqs.iter().skip(1).copied());
        }
    }
}

#[test]
fn missing_and_extra_responses_are_contained() {
    let mut cfg = config(1, 8);
    cfg.flush_deadline = Duration::ZERO;
    let pool = Pool::new(cfg, |_: &WorkerInfo| Ok(Miscounting)).expect("pool starts");
    let handle = pool.handle();
    assert_eq!(
        handle.submit(5).expect("open").wait(),
        Err(PoolError::NoResponse)
    );
    assert_eq!(handle.submit(0).expect("open").wait(), Ok(1));
    let s = pool.shutdown().total();
    assert_eq!((s.missing_responses, s.extra_responses), (1, 1));
}

#[test]
fn try_submit_hands_the_request_back_when_full() {
    let mut cfg = config(1, 1);
    cfg.queue_capacity = NonZeroUsize::new(4).expect("nonzero");
    let (pool, entered, release) = gated_pool(cfg);
    let handle = pool.handle();
    let first = handle.try_submit(0).expect("room");
    entered
        .recv_timeout(PATIENCE)
        .expect("worker holds request 0");
    let queued: Vec<_> = (1..=4u64)
        .map(|i| (i, handle.try_submit(i).expect("room")))
        .collect();
    match handle.try_submit(5) {
        Err(e @ SubmitError::Full(_)) => assert_eq!(e.into_inner(), 5),
        other => panic!("expected Full, got {:?}", other.map(|_| ())),
    }
    let (reply, replies) = reply_channel();
    assert!(matches!(
        handle.try_submit_with(6, 6, &reply),
        Err(SubmitError::Full(6))
    ));
    assert!(
        replies.try_recv().is_err(),
        "a refused request is not also answered"
    );
    assert_eq!(pool.stats().rejected_full, 2);

    release.send(()).expect("worker alive");
    assert_eq!(first.wait(), Ok(1));
    for (i, p) in queued {
        assert_eq!(p.wait(), Ok(i * 2 + 1));
    }
    // Room again: the blocking form now goes straight through.
    assert_eq!(handle.try_submit(5).expect("room").wait(), Ok(11));
}

#[test]
fn blocking_submit_waits_for_room() {
    let mut cfg = config(1, 1);
    cfg.queue_capacity = NonZeroUsize::new(2).expect("nonzero");
    let (pool, entered, release) = gated_pool(cfg);
    let handle = pool.handle();
    let first = handle.submit(0).expect("open");
    entered
        .recv_timeout(PATIENCE)
        .expect("worker holds request 0");
    let (a, b) = (
        handle.submit(1).expect("room"),
        handle.submit(2).expect("room"),
    );
    // The queue is full: this submit must block until the release below.
    let blocked = {
        let handle = handle.clone();
        std::thread::spawn(move || handle.submit(3).map(Pending::wait).map_err(|_| ()))
    };
    release.send(()).expect("worker alive");
    assert_eq!(blocked.join().expect("no panic"), Ok(Ok(7)));
    assert_eq!((first.wait(), a.wait(), b.wait()), (Ok(1), Ok(3), Ok(5)));
}

#[test]
fn factory_error_fails_new() {
    let r = Pool::new(config(2, 8), |info: &WorkerInfo| {
        if info.index == 1 {
            Err(Error::Rng)
        } else {
            Ok(Doubler)
        }
    });
    assert!(matches!(r, Err(Error::Rng)));
}

#[test]
fn factory_panic_reaches_the_caller() {
    let r = std::panic::catch_unwind(|| {
        Pool::new(config(1, 8), |_: &WorkerInfo| -> Result<Doubler, Error> {
            panic!("deliberate factory panic (expected in this test)")
        })
    });
    assert!(r.is_err());
}

#[test]
fn pinning_failure_is_recorded_not_fatal() {
    let mut cfg = config(2, 8);
    cfg.pinning = Pinning::Cores(vec![1 << 20]);
    let infos = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&infos);
    let pool = Pool::new(cfg, move |info: &WorkerInfo| {
        sink.lock().expect("not poisoned").push(*info);
        Ok(Doubler)
    })
    .expect("pool starts despite the impossible core");
    assert_eq!(pool.handle().submit(1).expect("open").wait(), Ok(3));
    let s = pool.shutdown();
    assert!(
        s.workers
            .iter()
            .all(|w| !w.pinned && w.core == Some(1 << 20))
    );
    let infos = infos.lock().expect("not poisoned");
    assert_eq!(infos.len(), 2);
    assert!(infos.iter().all(|i| !i.pinned && i.core == Some(1 << 20)));
}

#[test]
fn unpinned_and_auto_pools_serve() {
    for pinning in [Pinning::None, Pinning::Auto] {
        let mut cfg = config(2, 8);
        cfg.pinning = pinning.clone();
        let pool = Pool::new(cfg, doubler).expect("pool starts");
        assert_eq!(pool.workers(), 2);
        assert_eq!(pool.handle().submit(4).expect("open").wait(), Ok(9));
        let s = pool.shutdown();
        if pinning == Pinning::None {
            assert!(s.workers.iter().all(|w| !w.pinned && w.core.is_none()));
        }
    }
}

#[test]
fn handles_and_pools_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<tessera::pool::PoolHandle<u64, u64>>();
    send_sync::<Pool<u64, u64>>();
    send_sync::<ReplyTo<u64>>();
    send::<Pending<u64>>();
    send::<tessera::pool::IvRng>();
    let pool = Pool::new(config(1, 4), doubler).expect("pool starts");
    assert!(format!("{pool:?}").starts_with("Pool { workers: 1, closed: false"));
    assert!(format!("{:?}", pool.handle()).starts_with("PoolHandle { workers: 1"));
}

#[test]
fn shutdown_racing_with_producers_answers_every_accepted_request_once() {
    const PRODUCERS: u64 = 3;
    for round in 0..20u64 {
        // Small queues so some producers are blocked in `submit` when shutdown begins.
        let cfg = config(2, 4)
            .with_queue_capacity(4)
            .with_flush_deadline(Duration::ZERO);
        let pool = Pool::new(cfg, doubler).expect("pool starts");
        let (reply, replies) = reply_channel();
        let accepted = AtomicUsize::new(0);
        let (pool_stats, accepted_ids) = std::thread::scope(|s| {
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let (handle, reply, accepted) = (pool.handle(), reply.clone(), &accepted);
                    s.spawn(move || {
                        let mut ids = Vec::new();
                        for k in 0.. {
                            let id = (p << 32) | k;
                            let sent = if k % 2 == 0 {
                                handle.submit_with(id, id, &reply)
                            } else {
                                handle.try_submit_with(id, id, &reply)
                            };
                            match sent {
                                Ok(()) => {
                                    ids.push(id);
                                    accepted.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(SubmitError::Full(_)) => std::thread::yield_now(),
                                Err(SubmitError::Closed(back)) => {
                                    assert_eq!(back, id);
                                    break;
                                }
                            }
                        }
                        ids
                    })
                })
                .collect();
            // Let the producers get going (by count, not by time), then shut down under them.
            let start = Instant::now();
            while accepted.load(Ordering::Relaxed) < 200 + 50 * round as usize {
                assert!(start.elapsed() < PATIENCE, "producers stalled");
                std::thread::yield_now();
            }
            let stats = pool.shutdown();
            let ids: Vec<u64> = producers
                .into_iter()
                .flat_map(|p| p.join().expect("producer"))
                .collect();
            (stats, ids)
        });
        drop(reply);
        let mut answers: Vec<(u64, Result<u64, PoolError>)> =
            replies.iter().map(|d| (d.id, d.result)).collect();
        answers.sort_unstable_by_key(|a| a.0);
        let mut expected = accepted_ids;
        expected.sort_unstable();
        let answered: Vec<u64> = answers.iter().map(|a| a.0).collect();
        assert_eq!(
            answered, expected,
            "round {round}: each accepted id answered exactly once"
        );
        let handled = answers.iter().filter(|a| a.1.is_ok()).count() as u64;
        for (id, result) in &answers {
            assert!(
                *result == Ok(id * 2 + 1) || *result == Err(PoolError::Closed),
                "round {round}: id {id} got {result:?}"
            );
        }
        assert_eq!(pool_stats.total().requests, handled, "round {round}");
    }
}

#[test]
fn closure_handlers_get_one_instance_per_worker() {
    let pool = Pool::new(config(2, 8), |info: &WorkerInfo| {
        let worker = info.index as u64;
        let mut batches = 0u64;
        Ok(handler_fn(
            move |reqs: &mut Vec<u64>, out: &mut Vec<(u64, u64)>| {
                batches += 1;
                out.extend(
                    reqs.drain(..)
                        .map(|r| (r + 1, worker * 1_000_000 + batches)),
                );
            },
        ))
    })
    .expect("pool starts");
    let handle = pool.handle();
    let answers: Vec<_> = (0..50u64)
        .map(|i| handle.submit(i).expect("open").wait().expect("handled"))
        .collect();
    for (i, (r, tag)) in answers.iter().enumerate() {
        assert_eq!(*r, i as u64 + 1);
        assert!(tag % 1_000_000 >= 1 && tag / 1_000_000 < 2, "tag {tag}");
    }
    // Round-robin across two handlers: both instances answered.
    assert!(answers.iter().any(|a| a.1 / 1_000_000 == 0));
    assert!(answers.iter().any(|a| a.1 / 1_000_000 == 1));
}
