//! `loadgen throughput`: raw seal/open speed per ticket, per thread and in total.
//!
//! Each thread owns its tickets (or states) and output buffer and runs whole batches back to
//! back: a warm-up, then `--seconds` of measurement started together behind a barrier.
//! `ns_per_ticket` is wall time per ticket per thread (the mean over threads of elapsed /
//! tickets); `tickets_per_sec` is the total over all threads divided by the longest elapsed.
//!
//! Path: the batch API, [`Ticketer::seal_many`] / [`Ticketer::open_many_at`], on the backend
//! `--backend` names (`auto` = the best detected, or `TESSERA_BACKEND`; `portable`; or a SIMD
//! backend such as `vaes-shani`), forced with [`Ticketer::with_backend`]. Caller-owned output
//! batches are reused, so the measured loop allocates nothing per ticket.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera::{
    CipherKind, KeyRing, RejectReason, Rejected, StateBatch, TicketBatch, TicketKey, Ticketer,
};

use crate::LoadgenError;
use crate::cli::{Op, ThroughputArgs};
use crate::machine;

/// Schema identifier of the throughput report.
pub const THROUGHPUT_SCHEMA: &str = "tessera-loadgen-throughput/1";

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
    let state_refs: Vec<&[u8]> = states.iter().map(Vec::as_slice).collect();
    let ticket_refs: Vec<&[u8]> = tickets.iter().map(Vec::as_slice).collect();
    let mut sealed = TicketBatch::new();
    let mut seal_status: Vec<Result<usize, tessera::Error>> = Vec::new();
    seal_status.resize_with(batch, || Ok(0));
    let mut opened = StateBatch::new();
    let mut open_status = vec![Err(Rejected(RejectReason::Malformed)); batch];
    let now = tessera::unix_now();
    let mut run_batch = || -> Result<(), LoadgenError> {
        match args.op {
            Op::Seal => {
                ticketer
                    .seal_many(&state_refs, &mut sealed, &mut seal_status)
                    .map_err(LoadgenError::engine)?;
                if let Some(Err(e)) = seal_status.iter().find(|s| s.is_err()) {
                    return Err(LoadgenError::Runtime(format!("seal failed: {e}")));
                }
                std::hint::black_box(&sealed);
            }
            Op::Open => {
                ticketer
                    .open_many_at(&ticket_refs, now, &mut opened, &mut open_status)
                    .map_err(LoadgenError::engine)?;
                if let Some(Err(r)) = open_status.iter().find(|s| s.is_err()) {
                    return Err(LoadgenError::Runtime(format!("own ticket rejected: {r}")));
                }
                std::hint::black_box(&opened);
            }
        }
        Ok(())
    };
    let warm_end = Instant::now() + warmup;
    while Instant::now() < warm_end {
        run_batch()?;
    }
    barrier.wait();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.seconds);
    let mut n = 0u64;
    while Instant::now() < end {
        run_batch()?;
        n += batch as u64;
    }
    Ok(ThreadResult {
        tickets: n,
        elapsed: start.elapsed(),
    })
}

/// Runs the measurement, prints one line, returns the JSON report.
pub fn run(args: &ThroughputArgs) -> Result<Value, LoadgenError> {
    let backend = crate::resolve_backend(&args.backend)?;
    let key = TicketKey::generate(CipherKind::Aes128).map_err(LoadgenError::engine)?;
    let ticketer = Ticketer::new(KeyRing::single(key), args.ticket_format)
        .with_max_state_len((args.state_bytes as usize).max(tessera::DEFAULT_MAX_STATE_LEN))
        .with_backend(backend);
    let backend = backend.name();
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
