//! Storm-scale no-false-accept (issue 7): 10^9 forged tickets (real key name, genuine layout
//! and length, every one distinct, MAC wrong) through the fastest open path, 0 accepted.
//!
//! Ignored by default (minutes, not seconds). Run in release, on one core:
//! `STORM_TICKETS=1000000000 cargo test --release -p tessera --test exhaustive_storm -- --ignored --nocapture`
//! (`STORM_TICKETS` defaults to 10^9; `STORM_FORMAT` = rfc5077 | openssl | aead, default
//! openssl, what nginx and OpenSSL emit). The path is `format::open_into` (no allocation)
//! with a `KeyRing::find` lookup; when the batch API lands this should drive `open_many`.

use std::hint::black_box;
use std::time::Instant;

use tessera::format::{self, TicketFormat};
use tessera::{KeyRing, RejectReason, TicketKey};

#[test]
#[ignore = "storm: 10^9 forged tickets, minutes in release; run on demand"]
fn a_billion_forged_tickets_none_accepted() {
    let count: u64 = std::env::var("STORM_TICKETS")
        .ok()
        .map(|s| s.replace('_', "").parse().expect("STORM_TICKETS"))
        .unwrap_or(1_000_000_000);
    let f: TicketFormat = std::env::var("STORM_FORMAT")
        .ok()
        .map(|s| s.parse().expect("STORM_FORMAT"))
        .unwrap_or(TicketFormat::OpenSsl);

    let name: [u8; 16] = core::array::from_fn(|i| 0x90 + i as u8);
    let aes: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(71) ^ 0x3c).collect();
    let hmac: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(113) ^ 0xc3).collect();
    let key = TicketKey::new(name, &aes, &hmac).unwrap();
    let ring = KeyRing::single(key);
    // A genuine ticket of an nginx-sized (113-byte) state: 192 bytes in the openssl format.
    let state: Vec<u8> = (0..113u8).collect();
    let mut genuine = Vec::new();
    let iv = vec![0x61; f.iv_len()];
    format::seal_with_iv(f, ring.sealing_key(), &iv, &state, &mut genuine).unwrap();
    let max_len = f.max_ticket_len(state.len());
    let mut out = vec![0u8; f.open_buf_len(genuine.len())];
    let lookup = |n: &[u8; 16]| ring.find(n).map(|(k, _)| k);
    assert!(format::open_into(f, &genuine, max_len, lookup, &mut out).is_ok());

    let mac_len = if f == TicketFormat::Aead { 16 } else { 32 };
    let n = genuine.len();
    let mut ticket = genuine.clone();
    let mut x = 0x243f_6a88_85a3_08d3u64;
    let (mut accepted, mut bad_mac, mut other) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    for i in 0..count {
        // Distinct forgeries: a counter in the IV (AEAD: nonce) so every ticket differs, and a
        // fresh pseudo-random MAC or tag; key name, layout and length stay genuine.
        ticket[16..24].copy_from_slice(&i.to_le_bytes());
        for chunk in ticket[n - mac_len..].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        match format::open_into(f, black_box(&ticket), max_len, lookup, &mut out) {
            Ok(_) => accepted += 1,
            Err(r) if r.reason() == RejectReason::BadMac => bad_mac += 1,
            Err(_) => other += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "storm {f}: {count} forged {n}-byte tickets in {secs:.1} s ({:.2} M/s, {:.0} ns each): \
         {accepted} accepted, {bad_mac} bad_mac, {other} other",
        count as f64 / secs / 1e6,
        secs * 1e9 / count as f64
    );
    assert_eq!(accepted, 0, "forged tickets accepted");
    assert_eq!(bad_mac, count, "every forgery must fail exactly at the MAC");
    assert_eq!(other, 0);
}

/// The same storm through the batch API on the best backend this CPU has (`open_many`, 1024
/// tickets per call, every ticket distinct): 0 accepted, every one rejected at the MAC.
#[test]
#[ignore = "storm: 10^9 forged tickets through open_many; run on demand"]
fn a_billion_forged_tickets_through_open_many_none_accepted() {
    use tessera::backend::Backend;
    use tessera::batch::{Formats, OpenParams};
    use tessera::{OpenedTicket, Rejected, StateBatch};

    const BATCH: usize = 1024;
    let count: u64 = std::env::var("STORM_TICKETS")
        .ok()
        .map(|s| s.replace('_', "").parse().expect("STORM_TICKETS"))
        .unwrap_or(1_000_000_000);
    let f = TicketFormat::OpenSsl;
    let name: [u8; 16] = core::array::from_fn(|i| 0x90 + i as u8);
    let aes: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(71) ^ 0x3c).collect();
    let hmac: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(113) ^ 0xc3).collect();
    let ring = KeyRing::single(TicketKey::new(name, &aes, &hmac).unwrap());
    let state: Vec<u8> = (0..113u8).collect();
    let mut genuine = Vec::new();
    format::seal_with_iv(f, ring.sealing_key(), &[0x61; 16], &state, &mut genuine).unwrap();
    let backend = Backend::detect();
    let params = OpenParams {
        backend,
        formats: Formats::One(f),
        ring: &ring,
        max_state_len: state.len(),
        now: 1_700_000_000,
    };
    let n = genuine.len();
    let mut tickets = vec![genuine.clone(); BATCH];
    let mut out = StateBatch::new();
    let mut status: Vec<Result<OpenedTicket, Rejected>> =
        vec![Err(Rejected(RejectReason::TooShort)); BATCH];
    // Control: the genuine ticket opens through the same call.
    params
        .open_many(&[&genuine[..]], &mut out, &mut status[..1])
        .unwrap();
    assert!(status[0].is_ok());

    let mut x = 0x243f_6a88_85a3_08d3u64;
    let (mut done, mut accepted, mut bad_mac, mut other) = (0u64, 0u64, 0u64, 0u64);
    let start = Instant::now();
    while done < count {
        let m = BATCH.min((count - done) as usize);
        for (j, t) in tickets[..m].iter_mut().enumerate() {
            t[16..24].copy_from_slice(&(done + j as u64).to_le_bytes());
            for chunk in t[n - 32..].chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
        }
        let refs: Vec<&[u8]> = tickets[..m].iter().map(Vec::as_slice).collect();
        params
            .open_many(black_box(&refs), &mut out, &mut status[..m])
            .unwrap();
        for r in &status[..m] {
            match r {
                Ok(_) => accepted += 1,
                Err(e) if e.reason() == RejectReason::BadMac => bad_mac += 1,
                Err(_) => other += 1,
            }
        }
        done += m as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "storm open_many ({}): {count} forged {n}-byte tickets in {secs:.1} s ({:.2} M/s, {:.0} \
         ns each): {accepted} accepted, {bad_mac} bad_mac, {other} other",
        backend.name(),
        count as f64 / secs / 1e6,
        secs * 1e9 / count as f64
    );
    assert_eq!(accepted, 0, "forged tickets accepted");
    assert_eq!(bad_mac, count);
    assert_eq!(other, 0);
}
