//! The streaming submission path allocates nothing per request (its own binary: the counting
//! global allocator sees every thread, workers included).
#![cfg(feature = "pool")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use tessera::Error;
use tessera::pool::{BatchHandler, PoolConfig, ReplyTo, WorkerInfo};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Echo;

impl BatchHandler for Echo {
    type Req = u64;
    type Resp = u64;
    fn handle(&mut self, reqs: &mut Vec<u64>, out: &mut Vec<u64>) {
        out.append(reqs);
    }
}

const WARMUP: u64 = 2_000;
const MEASURED: u64 = 20_000;

#[test]
fn streaming_submission_does_not_allocate_per_request() {
    let pool = tessera::pool::Pool::new(
        PoolConfig::default()
            .with_workers(2)
            .with_max_batch(32)
            .with_queue_capacity(256),
        |_: &WorkerInfo| Ok::<_, Error>(Echo),
    )
    .expect("pool starts");
    let handle = pool.handle();
    // Bounded and large enough for every answer: no list blocks, and workers never wait on it.
    let (tx, rx) =
        tessera::pool::channel::bounded(usize::try_from(WARMUP + MEASURED).expect("fits"));
    let reply = ReplyTo::channel(tx);

    // Warm up: thread-local wait contexts, waker lists, batch buffers reach their size.
    for id in 0..WARMUP {
        handle.submit_with(id, id, &reply).expect("open");
    }
    for _ in 0..WARMUP {
        rx.recv().expect("answered");
    }

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for id in WARMUP..WARMUP + MEASURED {
        handle.submit_with(id, id, &reply).expect("open");
    }
    let mut sum = 0u64;
    for _ in 0..MEASURED {
        let done = rx.recv().expect("answered");
        assert_eq!(done.result, Ok(done.id));
        sum += done.id;
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(sum, (WARMUP..WARMUP + MEASURED).sum::<u64>());
    // Zero is expected; a handful of one-off growths (a waker list meeting a new peak of
    // blocked threads) are tolerated, one per request is what this guards against.
    assert!(
        allocations < MEASURED / 100,
        "{allocations} allocations for {MEASURED} streamed requests"
    );

    // The one-shot form, by contrast, allocates its reply channel per request: this is what
    // the counter would see if the streaming path regressed.
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for id in 0..1_000u64 {
        assert_eq!(handle.submit(id).expect("open").wait(), Ok(id));
    }
    assert!(ALLOCATIONS.load(Ordering::Relaxed) - before >= 1_000);
    drop(pool);
}
