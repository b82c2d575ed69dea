//! tessera beside the peers, sealing and opening valid tickets: one criterion group per
//! operation and state size (`seal/128B`, `open/1024B`, ...), every implementation in it, on
//! the same states, in the same run. Function ids are `{impl}/{format}/{backend}`, the
//! parameter is the batch (tickets per call), throughput is in tickets (criterion's
//! "elements": time per element = ns per ticket). `scripts/bench.py` turns the results into
//! `results/bench/`.
//!
//! - tessera single: `Ticketer::seal_append` / `open_at`, one ticket per call (backend label
//!   `single`), 1024 distinct tickets per iteration;
//! - tessera batch: `seal_many` / `open_many` with the backend forced through
//!   `Ticketer::with_backend`; the whole batch sweep (1 .. 16384, every backend of the run)
//!   for rfc5077 at 128 bytes, batch 1024 elsewhere;
//! - peers (`tessera_bench::peers`): one ticket per call (batch 1, they have no batch API),
//!   1024 distinct tickets per iteration.
//!
//! `TESSERA_BENCH_MODE=quick|medium|full` picks the matrix (`tessera_bench::matrix`).
//! Run: `cargo bench -p tessera-bench --bench peers`.
#![forbid(unsafe_code)]

use std::hint::black_box;

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
    measurement::WallTime,
};
use tessera::backend::Backend;
use tessera::{
    OpenedTicket, RejectReason, Rejected, StateBatch, TicketBatch, TicketFormat, Ticketer,
};
use tessera_bench::fixtures::{self, PRIMARY_STATE};
use tessera_bench::matrix::{Matrix, OWN, SINGLE, TARGET_BATCH, bench_id};
use tessera_bench::peers::{self, Peer};

/// Tickets per iteration for the one-ticket-per-call paths.
const PER_ITER: usize = TARGET_BATCH;

fn ticketer(format: TicketFormat) -> Ticketer {
    Ticketer::new(fixtures::ring(), format)
}

/// The batch cases of one (op, size) group: (format, backend, batch).
fn batch_cases(m: &Matrix, size: usize) -> Vec<(TicketFormat, Backend, usize)> {
    let mut v = Vec::new();
    if size == PRIMARY_STATE {
        for &b in &m.backends {
            for &n in &m.batches {
                v.push((TicketFormat::Rfc5077, b, n));
            }
        }
    } else {
        for b in m.best_and_portable() {
            v.push((TicketFormat::Rfc5077, b, TARGET_BATCH));
        }
    }
    for f in [TicketFormat::OpenSsl, TicketFormat::Aead] {
        v.push((f, m.best(), TARGET_BATCH));
    }
    v
}

fn seal_group(c: &mut Criterion, m: &Matrix, size: usize) {
    let max_batch = batch_cases(m, size).iter().map(|c| c.2).max().unwrap_or(1);
    let fx = fixtures::Fixtures::new(max_batch.max(PER_ITER), size);
    let states = fx.state_refs();
    let mut g = c.benchmark_group(format!("seal/{size}B"));

    g.throughput(Throughput::Elements(PER_ITER as u64));
    for format in TicketFormat::ALL {
        let t = ticketer(format);
        let mut out = Vec::with_capacity(format.sealed_len(size));
        g.bench_function(
            BenchmarkId::new(bench_id("tessera", format.as_str(), SINGLE), 1),
            |b| {
                b.iter(|| {
                    for s in &states[..PER_ITER] {
                        out.clear();
                        t.seal_append(s, &mut out).expect("seals");
                        black_box(&out);
                    }
                })
            },
        );
    }

    for (format, backend, n) in batch_cases(m, size) {
        let t = ticketer(format).with_backend(backend);
        let mut out = TicketBatch::new();
        let mut status: Vec<Result<usize, tessera::Error>> = (0..n).map(|_| Ok(0)).collect();
        let input = &states[..n];
        // Checked before measuring (a name filter may skip the measurement).
        t.seal_many(input, &mut out, &mut status)
            .expect("batch shape");
        assert!(status.iter().all(Result::is_ok), "every ticket sealed");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(
            BenchmarkId::new(bench_id("tessera", format.as_str(), backend.name()), n),
            |b| {
                b.iter(|| {
                    t.seal_many(input, &mut out, &mut status)
                        .expect("batch shape");
                    black_box(&out);
                })
            },
        );
    }

    g.throughput(Throughput::Elements(PER_ITER as u64));
    for mut p in peers::all(&fx.keys) {
        bench_peer(&mut g, p.as_mut(), |p, out| {
            for s in &states[..PER_ITER] {
                p.seal(s, out).expect("peer seals");
                black_box(&out);
            }
        });
    }
    g.finish();
}

fn bench_peer(
    g: &mut BenchmarkGroup<'_, WallTime>,
    p: &mut dyn Peer,
    mut f: impl FnMut(&mut dyn Peer, &mut Vec<u8>),
) {
    let mut out = Vec::new();
    g.bench_function(
        BenchmarkId::new(bench_id(p.name(), p.format(), OWN), 1),
        |b| b.iter(|| f(&mut *p, &mut out)),
    );
}

fn open_group(c: &mut Criterion, m: &Matrix, size: usize) {
    let max_batch = batch_cases(m, size).iter().map(|c| c.2).max().unwrap_or(1);
    let fx = fixtures::Fixtures::new(max_batch.max(PER_ITER), size);
    let mut g = c.benchmark_group(format!("open/{size}B"));

    g.throughput(Throughput::Elements(PER_ITER as u64));
    for format in TicketFormat::ALL {
        let t = ticketer(format);
        let tickets: Vec<Vec<u8>> = fx.states[..PER_ITER]
            .iter()
            .map(|s| t.seal(s).expect("seals"))
            .collect();
        let mut out = Vec::with_capacity(size + 16);
        g.bench_function(
            BenchmarkId::new(bench_id("tessera", format.as_str(), SINGLE), 1),
            |b| {
                b.iter(|| {
                    for tk in &tickets {
                        out.clear();
                        black_box(t.open_at(tk, 0, &mut out).expect("opens"));
                    }
                })
            },
        );
    }

    for (format, backend, n) in batch_cases(m, size) {
        let t = ticketer(format).with_backend(backend);
        let sealed: Vec<Vec<u8>> = fx.states[..n]
            .iter()
            .map(|s| t.seal(s).expect("seals"))
            .collect();
        let tickets: Vec<&[u8]> = sealed.iter().map(Vec::as_slice).collect();
        let mut out = StateBatch::new();
        let mut status: Vec<Result<OpenedTicket, Rejected>> =
            vec![Err(Rejected(RejectReason::Malformed)); n];
        t.open_many_at(&tickets, 0, &mut out, &mut status)
            .expect("batch shape");
        assert!(status.iter().all(Result::is_ok), "every ticket opened");
        assert_eq!(out.get(n - 1), Some(&fx.states[n - 1][..]));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(
            BenchmarkId::new(bench_id("tessera", format.as_str(), backend.name()), n),
            |b| {
                b.iter(|| {
                    t.open_many_at(&tickets, 0, &mut out, &mut status)
                        .expect("batch shape");
                    black_box(&out);
                })
            },
        );
    }

    g.throughput(Throughput::Elements(PER_ITER as u64));
    for mut p in peers::all(&fx.keys) {
        let mut tickets = vec![Vec::new(); PER_ITER];
        for (s, t) in fx.states.iter().zip(tickets.iter_mut()) {
            p.seal(s, t).expect("peer seals");
        }
        bench_peer(&mut g, p.as_mut(), |p, out| {
            for t in &tickets {
                p.open(t, out).expect("peer opens");
                black_box(&out);
            }
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let m = Matrix::from_env();
    tessera_bench::matrix::write_machine_file(&m);
    for &size in &m.sizes {
        seal_group(c, &m, size);
        open_group(c, &m, size);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
