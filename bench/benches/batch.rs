//! Batch seal/open through `Ticketer::{seal_many, open_many}` on every backend this CPU
//! supports (each forced with `Ticketer::with_backend`), against the single-ticket calls.
//! RFC 5077 format, AES-128 key, 128-byte session state (a 178-byte MAC input, 9 CBC blocks).
//! Throughput is in tickets ("elements"): time per element = ns per ticket.
//!
//! Batch sizes: 1 (a lone request: must be no slower than the portable path), 64 (a typical
//! pool flush), 1024 (issue 4's target: <= 100 ns/ticket for seal and open on one thread).
//!
//! Run: `cargo bench -p tessera-bench --bench batch -- --warm-up-time 1 --measurement-time 3`.
#![forbid(unsafe_code)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tessera::backend::Backend;
use tessera::keys::KeyRing;
use tessera::{
    CipherKind, OpenedTicket, RejectReason, Rejected, StateBatch, TicketBatch, TicketFormat,
    TicketKey, Ticketer,
};

const STATE_LEN: usize = 128;
/// Why each size: 1 = lone request, 64 = pool flush, 1024 = issue 4's target batch.
const BATCHES: [usize; 3] = [1, 64, 1024];

fn states(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            (0..STATE_LEN)
                .map(|j| (i * 131 + j * 31 + 7) as u8)
                .collect()
        })
        .collect()
}

fn bench_batch(c: &mut Criterion) {
    let ring = KeyRing::single(TicketKey::generate(CipherKind::Aes128).unwrap());
    let base = Ticketer::new(ring, TicketFormat::Rfc5077);
    for &n in &BATCHES {
        let owned = states(n);
        let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        let tickets: Vec<Vec<u8>> = refs.iter().map(|s| base.seal(s).unwrap()).collect();
        let ticket_refs: Vec<&[u8]> = tickets.iter().map(Vec::as_slice).collect();

        let mut g = c.benchmark_group(format!("seal_many/rfc5077/{n}"));
        g.throughput(Throughput::Elements(n as u64));
        let mut out = Vec::with_capacity(TicketFormat::Rfc5077.sealed_len(STATE_LEN));
        g.bench_function("single/seal_append", |b| {
            b.iter(|| {
                for s in &refs {
                    out.clear();
                    base.seal_append(s, &mut out).unwrap();
                    black_box(&out);
                }
            })
        });
        for backend in Backend::available() {
            let t = base.clone().with_backend(backend);
            let mut out = TicketBatch::new();
            let mut status: Vec<Result<usize, tessera::Error>> = (0..n).map(|_| Ok(0)).collect();
            g.bench_function(BenchmarkId::new("batch", backend.name()), |b| {
                b.iter(|| {
                    t.seal_many(&refs, &mut out, &mut status).unwrap();
                    black_box(&out);
                })
            });
        }
        g.finish();

        let mut g = c.benchmark_group(format!("open_many/rfc5077/{n}"));
        g.throughput(Throughput::Elements(n as u64));
        let mut out = Vec::with_capacity(STATE_LEN + 16);
        g.bench_function("single/open_at", |b| {
            b.iter(|| {
                for t in &ticket_refs {
                    out.clear();
                    base.open_at(t, 1, &mut out).unwrap();
                    black_box(&out);
                }
            })
        });
        for backend in Backend::available() {
            let t = base.clone().with_backend(backend);
            let mut out = StateBatch::new();
            let mut status: Vec<Result<OpenedTicket, Rejected>> =
                vec![Err(Rejected(RejectReason::Malformed)); n];
            g.bench_function(BenchmarkId::new("batch", backend.name()), |b| {
                b.iter(|| {
                    t.open_many_at(&ticket_refs, 1, &mut out, &mut status)
                        .unwrap();
                    black_box(&out);
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_batch);
criterion_main!(benches);
