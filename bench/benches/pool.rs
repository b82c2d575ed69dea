//! The streaming pool (`tessera::pool::Pool`) with an `open_many` handler over 128-byte
//! rfc5077 tickets, best backend, 1 and 2 workers (this is a per-core design: on a machine
//! with other load, 2 workers share cores with the producer and everything else):
//! - `pool-stream-{n}w`: 1024 requests submitted back to back (`submit_with`, one reply
//!   channel), all answers collected; time per request, batches fill up to 64;
//! - `pool-lone-{n}w-block` / `-spin`: one request at a time, submit to answer: the latency a
//!   lone handshake sees with the default 20 us flush deadline, blocking wait (default) or
//!   spinning up to the deadline (`PoolConfig::spin`).
//!
//! Ids as in `benches/peers.rs`; the parameter is the pool's `max_batch`.
//! Run: `cargo bench -p tessera-bench --bench pool`.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tessera::pool::{BatchHandler, Pool, PoolConfig, reply_channel};
use tessera::{OpenedTicket, RejectReason, Rejected, StateBatch, TicketFormat, Ticketer};
use tessera_bench::fixtures::{self, PRIMARY_STATE};
use tessera_bench::matrix::{Matrix, TARGET_BATCH, bench_id};

const MAX_BATCH: usize = 64;
const DEADLINE: Duration = Duration::from_micros(20);

/// Opens the tickets whose indices it is sent; answers with the state length.
struct Opener {
    ticketer: Ticketer,
    tickets: &'static [Vec<u8>],
    refs: Vec<&'static [u8]>,
    out: StateBatch,
    status: Vec<Result<OpenedTicket, Rejected>>,
}

impl BatchHandler for Opener {
    type Req = u32;
    type Resp = Result<usize, Rejected>;

    fn handle(&mut self, reqs: &mut Vec<u32>, out: &mut Vec<Self::Resp>) {
        self.refs.clear();
        self.refs.extend(
            reqs.iter()
                .map(|&i| self.tickets.get(i as usize).map_or(&[][..], Vec::as_slice)),
        );
        self.status.clear();
        self.status
            .resize(reqs.len(), Err(Rejected(RejectReason::Malformed)));
        if self
            .ticketer
            .open_many_at(&self.refs, 0, &mut self.out, &mut self.status)
            .is_err()
        {
            out.extend(reqs.iter().map(|_| Err(Rejected(RejectReason::Malformed))));
            return;
        }
        out.extend(self.status.iter().map(|s| s.map(|o| o.state_len)));
    }
}

fn pool(
    workers: usize,
    spin: Duration,
    ticketer: &Ticketer,
    tickets: &'static [Vec<u8>],
) -> Pool<u32, Result<usize, Rejected>> {
    let config = PoolConfig::default()
        .with_workers(workers)
        .with_max_batch(MAX_BATCH)
        .with_flush_deadline(DEADLINE)
        .with_spin(spin);
    let ticketer = ticketer.clone();
    Pool::new(config, move |_| {
        Ok(Opener {
            ticketer: ticketer.clone(),
            tickets,
            refs: Vec::with_capacity(MAX_BATCH),
            out: StateBatch::new(),
            status: Vec::with_capacity(MAX_BATCH),
        })
    })
    .expect("pool starts")
}

fn bench(c: &mut Criterion) {
    let m = Matrix::from_env();
    let backend = m.best();
    let ticketer = Ticketer::new(fixtures::ring(), TicketFormat::Rfc5077).with_backend(backend);
    let states = fixtures::states(TARGET_BATCH, PRIMARY_STATE);
    // Leaked once: the handlers on other threads borrow the tickets for the whole run.
    let tickets: &'static [Vec<u8>] = Vec::leak(
        states
            .iter()
            .map(|s| ticketer.seal(s).expect("seals"))
            .collect(),
    );
    let id = bench_id("tessera", "rfc5077", backend.name());

    for workers in [1, 2] {
        let p = pool(workers, Duration::ZERO, &ticketer, tickets);
        let handle = p.handle();
        let (reply, replies) = reply_channel();
        let mut g = c.benchmark_group(format!("pool-stream-{workers}w/{PRIMARY_STATE}B"));
        g.throughput(Throughput::Elements(tickets.len() as u64));
        g.bench_function(BenchmarkId::new(&id, MAX_BATCH), |b| {
            b.iter(|| {
                for i in 0..tickets.len() {
                    handle
                        .submit_with(i as u64, i as u32, &reply)
                        .expect("pool open");
                }
                for done in replies.iter().take(tickets.len()) {
                    assert_eq!(done.result.expect("answered"), Ok(PRIMARY_STATE));
                }
            })
        });
        g.finish();
        drop(p);

        for (mode, spin) in [("block", Duration::ZERO), ("spin", DEADLINE)] {
            let p = pool(workers, spin, &ticketer, tickets);
            let handle = p.handle();
            let (reply, replies) = reply_channel();
            let mut g = c.benchmark_group(format!("pool-lone-{workers}w-{mode}/{PRIMARY_STATE}B"));
            g.throughput(Throughput::Elements(1));
            let mut i = 0u32;
            g.bench_function(BenchmarkId::new(&id, MAX_BATCH), |b| {
                b.iter(|| {
                    i = (i + 1) % tickets.len() as u32;
                    handle
                        .submit_with(u64::from(i), i, &reply)
                        .expect("pool open");
                    black_box(replies.recv().expect("answered"));
                })
            });
            g.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
