//! `loadgen throughput`: raw seal/open speed per ticket, per thread and in total.
//!
//! Each thread owns its tickets (or states) and output buffer and runs whole batches back to
//! back: a warm-up, then `--seconds` of measurement started together behind a barrier.
//! `ns_per_ticket` is wall time per ticket per thread (the mean over threads of elapsed /
//! tickets); `tickets_per_sec` is the total over all threads divided by the longest elapsed.
//!
//! Path: per-ticket [`Ticketer::seal_append`] / [`Ticketer::open_at`] over the engine's
//! portable code (the only backend this build has); `--backend` accepts `auto` and `portable`.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera::{CipherKind, KeyRing, TicketKey, Ticketer};

use crate::LoadgenError;
use crate::cli::{Op, ThroughputArgs};
use crate::machine;

/// Schema identifier of the throughput report.
pub const THROUGHPUT_SCHEMA: &str = "tessera-loadgen-throughput/1";

/// The backend a `--backend` value selects (an error names what is available).
pub fn resolve_backend(name: &str) -> Result<&'static str, LoadgenError> {
    match name {
        "auto" | "portable" => Ok("portable"),
        other => Err(LoadgenError::usage(format!(
            "--backend {other}: not available in this build (available: auto, portable)"
        ))),
    }
}

/// One thread's measurement.
struct ThreadResult {
    tickets: u64,
    elapsed: Duration,
}

fn worker(
    args: &ThroughputArgs,
    ticketer: &Ticketer,
    barrier: &Barrier,
    warmup: Duration,
) -> Result<ThreadResult, LoadgenError> {
    let batch = args.batch as usize;
    let state_len = args.state_bytes as usize;
    let states: Vec<Vec<u8>> = (0..batch)
        .map(|i| (0..state_len).map(|j| (i * 31 + j * 7) as u8).collect())
        .collect();
    let tickets: Vec<Vec<u8>> = match args.op {
        Op::Open => states
            .iter()
            .map(|s| ticketer.seal(s))
            .collect::<Result<_, _>>()
            .map_err(LoadgenError::engine)?,
        Op::Seal => Vec::new(),
    };
    let sealed_len = args.ticket_format.sealed_len(state_len);
    let mut out = Vec::with_capacity(batch * sealed_len.max(state_len));
    let now = tessera::unix_now();
    let run_batch = |out: &mut Vec<u8>| -> Result<(), LoadgenError> {
        out.clear();
        match args.op {
            Op::Seal => {
                for s in &states {
                    ticketer.seal_append(s, out).map_err(LoadgenError::engine)?;
                }
            }
            Op::Open => {
                for t in &tickets {
                    ticketer
                        .open_at(t, now, out)
                        .map_err(|r| LoadgenError::Runtime(format!("own ticket rejected: {r}")))?;
                }
            }
        }
        std::hint::black_box(&out);
        Ok(())
    };
    let warm_end = Instant::now() + warmup;
    while Instant::now() < warm_end {
        run_batch(&mut out)?;
    }
    barrier.wait();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.seconds);
    let mut n = 0u64;
    while Instant::now() < end {
        run_batch(&mut out)?;
        n += batch as u64;
    }
    Ok(ThreadResult {
        tickets: n,
        elapsed: start.elapsed(),
    })
}

/// Runs the measurement, prints one line, returns the JSON report.
pub fn run(args: &ThroughputArgs) -> Result<Value, LoadgenError> {
    let backend = resolve_backend(&args.backend)?;
    let key = TicketKey::generate(CipherKind::Aes128).map_err(LoadgenError::engine)?;
    let ticketer = Ticketer::new(KeyRing::single(key), args.ticket_format)
        .with_max_state_len((args.state_bytes as usize).max(tessera::DEFAULT_MAX_STATE_LEN));
    let threads = usize::from(args.threads);
    let warmup = Duration::from_secs_f64((args.seconds * 0.1).clamp(0.05, 1.0));
    let barrier = Barrier::new(threads);
    let results: Vec<Result<ThreadResult, LoadgenError>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| worker(args, &ticketer, &barrier, warmup)))
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(LoadgenError::Runtime("worker panicked".into())))
            })
            .collect()
    });
    let results: Vec<ThreadResult> = results.into_iter().collect::<Result<_, _>>()?;
    let total: u64 = results.iter().map(|r| r.tickets).sum();
    let longest = results
        .iter()
        .map(|r| r.elapsed)
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    let ns_per_ticket = results
        .iter()
        .map(|r| r.elapsed.as_nanos() as f64 / r.tickets.max(1) as f64)
        .sum::<f64>()
        / results.len().max(1) as f64;
    let tickets_per_sec = if longest > 0.0 {
        total as f64 / longest
    } else {
        0.0
    };
    println!(
        "{} {} {}-byte state, batch {}, {} thread{}, backend {}: {:.1} ns/ticket, {:.0} tickets/s",
        args.op.as_str(),
        args.ticket_format,
        args.state_bytes,
        args.batch,
        threads,
        if threads == 1 { "" } else { "s" },
        backend,
        ns_per_ticket,
        tickets_per_sec,
    );
    Ok(json!({
        "schema": THROUGHPUT_SCHEMA,
        "op": args.op.as_str(),
        "ticket_format": args.ticket_format.as_str(),
        "state_bytes": args.state_bytes,
        "batch": args.batch,
        "threads": threads,
        "backend": backend,
        "backend_requested": args.backend,
        "ns_per_ticket": ns_per_ticket,
        "tickets_per_sec": tickets_per_sec,
        "seconds": longest,
        "tickets": total,
        "machine": machine::machine(backend),
    }))
}
