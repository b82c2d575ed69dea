//! The headline ratios measured paired and interleaved, for a machine with other load.
//!
//! Criterion measures one benchmark after another, so on a shared machine tessera and a peer
//! can see different load and their ratio moves with it. Here every round times one tessera
//! batch call (1024 tickets, 128-byte states, rfc5077, best backend) and one pass of the peer
//! over 1024 tickets back to back, alternating which goes first; the ratio is taken per round
//! and the median over rounds reported (each round is under a few ms, so most rounds see one
//! load level). Also paired: tessera's forged-MAC rejection against its valid open, and the
//! unknown-key rejection (fastest and median round).
//!
//! Not criterion: a plain harness. `cargo bench --bench paired` runs ~2.5 s per pair;
//! under `cargo test --benches` or with `--test`, 3 rounds, to check it still runs.
//! `TESSERA_BENCH_PAIRED=<file>` writes the results as JSON (`scripts/bench.py` reads it).
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use tessera::{
    OpenedTicket, RejectReason, Rejected, StateBatch, TicketBatch, TicketFormat, Ticketer,
};
use tessera_bench::fixtures::{self, PRIMARY_STATE, RejectClass};
use tessera_bench::matrix::{Matrix, TARGET_BATCH};
use tessera_bench::peers;

const N: usize = TARGET_BATCH;

/// Per-round timings of two workloads run back to back.
struct Pair {
    a: Vec<f64>,
    b: Vec<f64>,
}

impl Pair {
    fn ratios(&self) -> Vec<f64> {
        let mut r: Vec<f64> = self.b.iter().zip(&self.a).map(|(b, a)| b / a).collect();
        r.sort_by(f64::total_cmp);
        r
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn time(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / N as f64
}

/// Runs `a` and `b` alternately (order swapped every round) for `budget` or `max_rounds`.
fn paired(a: &mut dyn FnMut(), b: &mut dyn FnMut(), budget: Duration, max_rounds: usize) -> Pair {
    let warm = Instant::now();
    while warm.elapsed() < budget / 10 && max_rounds > 3 {
        a();
        b();
    }
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let start = Instant::now();
    for round in 0..max_rounds {
        if round > 3 && start.elapsed() > budget {
            break;
        }
        if round % 2 == 0 {
            ta.push(time(a));
            tb.push(time(b));
        } else {
            tb.push(time(b));
            ta.push(time(a));
        }
    }
    Pair { a: ta, b: tb }
}

fn json_row(what: &str, op: &str, peer: &str, peer_format: &str, p: &Pair) -> String {
    let r = p.ratios();
    let (a, b) = (sorted(&p.a), sorted(&p.b));
    format!(
        "{{\"what\": \"{what}\", \"op\": \"{op}\", \"peer\": \"{peer}\", \"peer_format\": \"{peer_format}\", \
         \"rounds\": {}, \"ratio_median\": {:.4}, \"ratio_p25\": {:.4}, \"ratio_p75\": {:.4}, \
         \"tessera_ns_median\": {:.3}, \"tessera_ns_min\": {:.3}, \"peer_ns_median\": {:.3}, \"peer_ns_min\": {:.3}}}",
        r.len(),
        quantile(&r, 0.5),
        quantile(&r, 0.25),
        quantile(&r, 0.75),
        quantile(&a, 0.5),
        a.first().copied().unwrap_or(f64::NAN),
        quantile(&b, 0.5),
        b.first().copied().unwrap_or(f64::NAN),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo bench -- --test` adds `--test` (criterion's
    // test mode); `cargo test --benches` passes neither.
    let args: Vec<String> = std::env::args().collect();
    let measuring = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let (budget, max_rounds) = if measuring {
        (Duration::from_millis(2500), 100_000)
    } else {
        (Duration::from_millis(50), 3)
    };
    let m = Matrix::from_env();
    let backend = m.best();
    let fx = fixtures::Fixtures::new(N, PRIMARY_STATE);
    let states = fx.state_refs();
    let t = Ticketer::new(fixtures::ring(), TicketFormat::Rfc5077).with_backend(backend);
    let sealed: Vec<Vec<u8>> = fx
        .states
        .iter()
        .map(|s| t.seal(s).expect("seals"))
        .collect();
    let tickets: Vec<&[u8]> = sealed.iter().map(Vec::as_slice).collect();

    let mut tb = TicketBatch::new();
    let mut seal_status: Vec<Result<usize, tessera::Error>> = (0..N).map(|_| Ok(0)).collect();
    let mut sb = StateBatch::new();
    let mut open_status: Vec<Result<OpenedTicket, Rejected>> =
        vec![Err(Rejected(RejectReason::Malformed)); N];
    let mut rows = Vec::new();

    for mut p in peers::all(&fx.keys) {
        let mut peer_tickets = vec![Vec::new(); N];
        for (s, out) in fx.states.iter().zip(peer_tickets.iter_mut()) {
            p.seal(s, out).expect("peer seals");
        }
        let mut out = Vec::new();
        let mut tessera_seal = || {
            t.seal_many(&states, &mut tb, &mut seal_status)
                .expect("batch shape");
            black_box(&tb);
        };
        let pr = paired(
            &mut tessera_seal,
            &mut || {
                for s in &states {
                    p.seal(s, &mut out).expect("peer seals");
                    black_box(&out);
                }
            },
            budget,
            max_rounds,
        );
        rows.push(json_row("speedup", "seal", p.name(), p.format(), &pr));
        let mut tessera_open = || {
            t.open_many_at(&tickets, 0, &mut sb, &mut open_status)
                .expect("batch shape");
            black_box(&sb);
        };
        let pr = paired(
            &mut tessera_open,
            &mut || {
                for tk in &peer_tickets {
                    p.open(tk, &mut out).expect("peer opens");
                    black_box(&out);
                }
            },
            budget,
            max_rounds,
        );
        rows.push(json_row("speedup", "open", p.name(), p.format(), &pr));
    }

    // Rejections against tessera's own valid open ("peer" = the rejection).
    for class in [RejectClass::BadMac, RejectClass::UnknownKey] {
        let forged: Vec<Vec<u8>> = sealed
            .iter()
            .map(|s| fixtures::corrupt(class, s, 16))
            .collect();
        let forged: Vec<&[u8]> = forged.iter().map(Vec::as_slice).collect();
        let mut sb2 = StateBatch::new();
        let mut st2: Vec<Result<OpenedTicket, Rejected>> =
            vec![Err(Rejected(RejectReason::Malformed)); N];
        let pr = paired(
            &mut || {
                t.open_many_at(&tickets, 0, &mut sb, &mut open_status)
                    .expect("batch shape");
                black_box(&sb);
            },
            &mut || {
                t.open_many_at(&forged, 0, &mut sb2, &mut st2)
                    .expect("batch shape");
                black_box(&st2);
            },
            budget,
            max_rounds,
        );
        assert!(st2.iter().all(Result::is_err), "{class:?} rejected");
        rows.push(json_row(
            "reject-vs-open",
            "open",
            class.op(),
            "rfc5077",
            &pr,
        ));
    }
    assert!(open_status.iter().all(Result::is_ok), "valid tickets open");

    let json = format!(
        "{{\"backend\": \"{}\", \"batch\": {N}, \"state_bytes\": {PRIMARY_STATE}, \"rows\": [\n{}\n]}}\n",
        backend.name(),
        rows.join(",\n")
    );
    if let Ok(path) = std::env::var("TESSERA_BENCH_PAIRED") {
        std::fs::write(&path, &json).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    print!("{json}");
}
