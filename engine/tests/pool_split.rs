//! `split_batch` and friends: the parallel result equals the sequential one, for every size
//! around the chunk boundaries, and shape errors run nothing.
#![cfg(feature = "pool")]

use std::sync::atomic::{AtomicUsize, Ordering};

use tessera::Error;
use tessera::pool::{split_batch, split_batch_status, try_split_batch, try_split_batch_status};

/// A stand-in for per-ticket work whose result depends on the input and its position-free
/// content only (so any chunking must agree with the sequential run).
fn work(x: &u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0xA5A5
}

fn inputs(n: usize) -> Vec<u64> {
    (0..n as u64)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect()
}

#[test]
fn split_equals_sequential_for_many_sizes_and_chunks() {
    for n in [0, 1, 15, 16, 17, 63, 64, 65, 1000, 4096 + 3] {
        let input = inputs(n);
        let expected: Vec<u64> = input.iter().map(work).collect();
        for chunk in [0, 1, 7, 16, 64, 5000] {
            let mut out = vec![0u64; n];
            let calls = AtomicUsize::new(0);
            split_batch(&input, &mut out, chunk, |i, o| {
                assert_eq!(i.len(), o.len());
                calls.fetch_add(1, Ordering::Relaxed);
                for (x, y) in i.iter().zip(o.iter_mut()) {
                    *y = work(x);
                }
            })
            .expect("same shape");
            assert_eq!(out, expected, "n {n} chunk {chunk}");
            if chunk != 0 && n != 0 {
                assert_eq!(
                    calls.load(Ordering::Relaxed),
                    n.div_ceil(chunk),
                    "n {n} chunk {chunk}"
                );
            }
        }
    }
}

#[test]
fn status_variant_keeps_three_slices_aligned() {
    let n = 3000;
    let input = inputs(n);
    let mut out = vec![0u64; n];
    let mut status: Vec<Result<usize, ()>> = vec![Err(()); n];
    split_batch_status(&input, &mut out, &mut status, 64, |i, o, s| {
        for ((x, y), st) in i.iter().zip(o.iter_mut()).zip(s.iter_mut()) {
            *y = work(x);
            // Odd inputs "reject", like a bad ticket in open_many.
            *st = if x % 2 == 0 { Ok(8) } else { Err(()) };
        }
    })
    .expect("same shape");
    for k in 0..n {
        assert_eq!(out[k], work(&input[k]));
        assert_eq!(status[k].is_ok(), input[k].is_multiple_of(2), "item {k}");
    }
}

#[test]
fn shape_mismatch_runs_nothing() {
    let input = inputs(10);
    let mut out = vec![0u64; 9];
    let mut status = [0u8; 10];
    let calls = AtomicUsize::new(0);
    let r = split_batch(&input, &mut out, 0, |_, _| {
        calls.fetch_add(1, Ordering::Relaxed);
    });
    assert!(matches!(r, Err(Error::BatchShape)));
    let mut out10 = vec![0u64; 10];
    let r = split_batch_status(&input, &mut out10, &mut status[..9], 0, |_, _, _| {
        calls.fetch_add(1, Ordering::Relaxed);
    });
    assert!(matches!(r, Err(Error::BatchShape)));
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

#[test]
fn fallible_work_reports_an_error_and_succeeds_otherwise() {
    let input = inputs(2000);
    let mut out = vec![0u64; 2000];
    let r: Result<(), Error> = try_split_batch(&input, &mut out, 100, |i, o| {
        o.copy_from_slice(i);
        if i.contains(&input[1500]) {
            Err(Error::StateTooLong(1500))
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(Error::StateTooLong(1500))));

    let mut status = vec![false; 2000];
    try_split_batch_status(&input, &mut out, &mut status, 0, |i, o, s| {
        o.copy_from_slice(i);
        s.fill(true);
        Ok::<(), Error>(())
    })
    .expect("no failure");
    assert_eq!(out, input);
    assert!(status.iter().all(|&s| s));
}

#[test]
fn runs_inside_a_callers_rayon_pool() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("rayon pool");
    let input = inputs(5000);
    let mut out = vec![0u64; 5000];
    pool.install(|| {
        split_batch(&input, &mut out, 0, |i, o| {
            for (x, y) in i.iter().zip(o.iter_mut()) {
                *y = work(x);
            }
        })
    })
    .expect("same shape");
    assert!(out.iter().zip(&input).all(|(y, x)| *y == work(x)));
}
