//! The batch hot path allocates nothing per ticket: after one warm-up call (which grows the
//! caller-owned outputs and seeds the per-thread IV generator), sealing and opening a batch of
//! 1000 tickets allocates 0 times, on every backend and every format.
//!
//! A counting global allocator counts only on the thread that switched counting on, so the
//! test harness's other threads cannot disturb the count.
// A global allocator can only be written with `unsafe` (the `GlobalAlloc` trait); this test
// binary's is a pass-through to `System` plus a counter, and nothing else here is unsafe.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use tessera::backend::Backend;
use tessera::keys::KeyRing;
use tessera::{
    CipherKind, OpenedTicket, RejectReason, Rejected, StateBatch, TicketBatch, TicketFormat,
    TicketKey, Ticketer,
};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    // `try_with`: the slot may be gone during thread teardown.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn batch_of_1000_allocates_nothing_after_warm_up() {
    const N: usize = 1000;
    let states: Vec<Vec<u8>> = (0..N).map(|i| vec![i as u8; (i * 37) % 700]).collect();
    let refs: Vec<&[u8]> = states.iter().map(Vec::as_slice).collect();
    // The counter must see allocations at all, or a 0 below would prove nothing.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 10]))) > 0);
    for format in TicketFormat::ALL {
        for cipher in [CipherKind::Aes128, CipherKind::Aes256] {
            let ring = KeyRing::single(TicketKey::generate(cipher).unwrap());
            for backend in Backend::available() {
                let t = Ticketer::new(ring.clone(), format).with_backend(backend);
                let mut tickets = TicketBatch::new();
                let mut sealed: Vec<Result<usize, tessera::Error>> =
                    (0..N).map(|_| Ok(0)).collect();
                let mut states_out = StateBatch::new();
                let mut opened: Vec<Result<OpenedTicket, Rejected>> =
                    vec![Err(Rejected(RejectReason::Malformed)); N];
                // Warm-up: outputs grow (so this does allocate), the IV generator is seeded.
                let warm_up = allocations_in(|| {
                    t.seal_many(&refs, &mut tickets, &mut sealed).unwrap();
                });
                assert!(warm_up > 0);
                let copies: Vec<Vec<u8>> = tickets.iter().map(|t| t.unwrap().to_vec()).collect();
                let ticket_refs: Vec<&[u8]> = copies.iter().map(Vec::as_slice).collect();
                t.open_many(&ticket_refs, &mut states_out, &mut opened)
                    .unwrap();

                let n = allocations_in(|| {
                    t.seal_many(&refs, &mut tickets, &mut sealed).unwrap();
                    t.open_many(&ticket_refs, &mut states_out, &mut opened)
                        .unwrap();
                });
                assert_eq!(n, 0, "{backend:?} {format} {cipher:?}");
                assert!(sealed.iter().all(Result::is_ok));
                assert!(opened.iter().all(Result::is_ok));
                assert_eq!(states_out.get(N - 1), Some(&states[N - 1][..]));
            }
        }
    }
}
