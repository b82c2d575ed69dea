//! Profiling driver for `perf record` / `perf stat`: loops `seal_many` or `open_many` on one
//! backend (rfc5077, 128-byte state) and prints ns/ticket.
//!
//! `cargo run --release -p tessera-bench --example batch_profile -- {seal|open|unknown|seal1|open1}
//! BACKEND BATCH ITERS [FORMAT]` (`unknown`: open tickets of another server, every key name
//! unknown; `seal1`/`open1`: the single-ticket calls in a loop, for comparison)
#![forbid(unsafe_code)]

use std::time::Instant;

use tessera::backend::Backend;
use tessera::keys::KeyRing;
use tessera::{
    CipherKind, OpenedTicket, RejectReason, Rejected, StateBatch, TicketBatch, TicketFormat,
    TicketKey, Ticketer,
};

fn main() -> Result<(), tessera::Error> {
    let args: Vec<String> = std::env::args().collect();
    let op = args.get(1).map_or("seal", String::as_str);
    let backend = Backend::from_name(args.get(2).map_or("vaes-shani", String::as_str))?;
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let iters: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let format: TicketFormat = args
        .get(5)
        .map_or(Ok(TicketFormat::Rfc5077), |s| s.parse())
        .map_err(|_| tessera::Error::BatchShape)?;
    let ring = KeyRing::single(TicketKey::generate(CipherKind::Aes128)?);
    let t = Ticketer::new(ring, format).with_backend(backend);
    let foreign_ring = KeyRing::single(TicketKey::generate(CipherKind::Aes128)?);
    let foreign = Ticketer::new(foreign_ring, format).with_backend(backend);
    let states: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; 128]).collect();
    let refs: Vec<&[u8]> = states.iter().map(Vec::as_slice).collect();
    let mut tickets = TicketBatch::new();
    let mut sealed: Vec<Result<usize, tessera::Error>> = (0..n).map(|_| Ok(0)).collect();
    t.seal_many(&refs, &mut tickets, &mut sealed)?;
    let owned: Vec<Vec<u8>> = tickets.iter().flatten().map(<[u8]>::to_vec).collect();
    let ticket_refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let mut out = StateBatch::new();
    let mut opened: Vec<Result<OpenedTicket, Rejected>> =
        vec![Err(Rejected(RejectReason::Malformed)); n];
    let mut single = Vec::with_capacity(1024);
    let mut best = f64::MAX;
    for _ in 0..iters {
        let start = Instant::now();
        match op {
            "open" => t.open_many_at(&ticket_refs, 1, &mut out, &mut opened)?,
            // Another server's tickets: every key name unknown to this ring.
            "unknown" => foreign.open_many_at(&ticket_refs, 1, &mut out, &mut opened)?,
            // The single-ticket calls, one per ticket (the baseline for a batch of one).
            "seal1" => {
                for s in &refs {
                    single.clear();
                    t.seal_append(s, &mut single)?;
                }
            }
            "open1" => {
                for tk in &ticket_refs {
                    single.clear();
                    t.open_at(tk, 1, &mut single)
                        .map_err(|_| tessera::Error::BatchShape)?;
                }
            }
            _ => t.seal_many(&refs, &mut tickets, &mut sealed)?,
        }
        best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
    }
    assert!(opened.iter().all(Result::is_ok) || op != "open");
    println!(
        "{op} {} {format} batch {n}: best {best:.1} ns/ticket",
        backend.name()
    );
    Ok(())
}
