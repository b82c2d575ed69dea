//! Bad input through the rustls adapter: garbage, truncated, bit-flipped, oversized and
//! wrong-format tickets are `None` from `TesseraTicketer::decrypt` (counted by reason, never a
//! panic); key files that vanish or turn invalid during reload leave the previous keys serving
//! while other threads keep opening.
#![cfg(feature = "rustls")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use proptest::prelude::*;
use rustls::server::ProducesTickets;
use tessera::keys::{KeyFileFormat, KeyRing, KeyRole, save_key_file, write_key_file};
use tessera::rotation::{ManualClock, Rotator};
use tessera::rustls::TesseraTicketer;
use tessera::{CipherKind, RejectReason, TicketFormat, TicketKey, Ticketer};

fn producer(ring: KeyRing, format: TicketFormat) -> TesseraTicketer {
    TesseraTicketer::new(Ticketer::new(ring, format), 7200)
}

fn ring() -> KeyRing {
    KeyRing::single(TicketKey::generate(CipherKind::Aes128).unwrap())
}

/// A rustls-sized session state (TLS 1.2 sessions are ~100 bytes, 1.3 ~150).
const STATE: &[u8] = &[0x42; 150];

#[test]
fn garbage_of_every_length_is_none() {
    for format in TicketFormat::ALL {
        let p = producer(ring(), format);
        let mut x = 0x9e37_79b9u32;
        for len in 0..600 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            assert_eq!(p.decrypt(&junk), None, "{format} len {len}");
        }
        let m = p.metrics().snapshot();
        assert_eq!(m.opened, 0);
        assert_eq!(m.rejected_total(), 600);
        assert!(m.rejected(RejectReason::TooShort) > 0, "{m}");
    }
}

#[test]
fn truncated_and_extended_tickets_are_none() {
    for format in TicketFormat::ALL {
        let p = producer(ring(), format);
        let ticket = p.encrypt(STATE).unwrap();
        for cut in 0..ticket.len() {
            assert_eq!(p.decrypt(&ticket[..cut]), None, "{format} cut {cut}");
        }
        for extra in [1usize, 15, 16, 17] {
            let mut longer = ticket.clone();
            longer.extend(std::iter::repeat_n(0u8, extra));
            assert_eq!(p.decrypt(&longer), None, "{format} +{extra}");
        }
        assert_eq!(p.decrypt(&ticket).as_deref(), Some(STATE));
    }
}

#[test]
fn every_single_bit_flip_is_none() {
    for format in TicketFormat::ALL {
        let p = producer(ring(), format);
        let ticket = p.encrypt(STATE).unwrap();
        for i in 0..ticket.len() * 8 {
            let mut bad = ticket.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(p.decrypt(&bad), None, "{format} bit {i}");
        }
        let m = p.metrics().snapshot();
        assert_eq!(m.rejected_total() as usize, ticket.len() * 8);
        // The key name flips are unknown names; the rest never get past the MAC / layout.
        assert_eq!(m.rejected(RejectReason::UnknownKey), 16 * 8, "{m}");
        assert_eq!(m.rejected(RejectReason::BadPadding), 0, "{m}");
    }
}

#[test]
fn oversized_tickets_are_refused_before_any_crypto() {
    for format in TicketFormat::ALL {
        let p = producer(ring(), format);
        let real = p.encrypt(STATE).unwrap();
        for len in [p.ticketer().max_ticket_len() + 1, 0xffff, 0x10000, 1 << 20] {
            // A real key name in front, so only the length can refuse it.
            let mut big = vec![0xabu8; len];
            big[..16].copy_from_slice(&real[..16]);
            assert_eq!(p.decrypt(&big), None, "{format} len {len}");
        }
        assert_eq!(p.metrics().snapshot().rejected(RejectReason::TooLong), 4);
    }
}

#[test]
fn state_too_long_to_seal_is_none_not_a_panic() {
    let p = producer(ring(), TicketFormat::OpenSsl);
    assert_eq!(p.encrypt(&vec![0u8; 70_000]), None);
    assert_eq!(p.metrics().snapshot().seal_failed, 1);
}

#[test]
fn tickets_of_another_format_under_the_same_keys_are_none() {
    let ring = ring();
    for sealed_as in TicketFormat::ALL {
        let ticket = producer(ring.clone(), sealed_as).encrypt(STATE).unwrap();
        for opened_as in TicketFormat::ALL.into_iter().filter(|f| *f != sealed_as) {
            let p = producer(ring.clone(), opened_as);
            assert_eq!(
                p.decrypt(&ticket),
                None,
                "{sealed_as} ticket opened as {opened_as}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn arbitrary_bytes_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for format in TicketFormat::ALL {
            let p = producer(ring(), format);
            prop_assert_eq!(p.decrypt(&bytes), None);
        }
    }
}

/// While two threads open valid tickets continuously, the key file is made invalid, truncated,
/// emptied and removed again and again: every reload fails, nothing is published, and not a
/// single open fails. A valid file at the end is picked up.
#[test]
fn key_files_that_vanish_or_turn_invalid_keep_the_previous_keys_serving() {
    let dir = std::env::temp_dir().join(format!("tessera-bad-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keys");
    let k = TicketKey::generate(CipherKind::Aes128).unwrap();
    let good = write_key_file(KeyFileFormat::Haproxy48, &[(&k, KeyRole::Sealing)]).unwrap();
    save_key_file(&path, &good).unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let rotator = Arc::new(Rotator::from_key_files(&[&path], None, 7200, clock).unwrap());
    let p = Arc::new(TesseraTicketer::from_rotator(
        &rotator,
        TicketFormat::OpenSsl,
    ));
    let tickets: Vec<Vec<u8>> = (0..8).map(|_| p.encrypt(STATE).unwrap()).collect();
    let tickets = Arc::new(tickets);
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let opens = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (p, t, s, f, o) = (
                p.clone(),
                tickets.clone(),
                stop.clone(),
                failures.clone(),
                opens.clone(),
            );
            std::thread::spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    for ticket in t.iter() {
                        if p.decrypt(ticket).as_deref() != Some(STATE) {
                            f.fetch_add(1, Ordering::Relaxed);
                        }
                        o.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();

    let half = &good[..good.len() / 2];
    let other_format = write_key_file(KeyFileFormat::Nginx48, &[(&k, KeyRole::Sealing)]).unwrap();
    let bad_contents: [&[u8]; 5] = [
        b"not base64 at all !!!\n",
        half,
        b"",
        b"tessera-ticket-keys v1\nkey name=00 cipher=aes128\n",
        &other_format[..47],
    ];
    let mut errors = 0;
    for round in 0..40 {
        if round % 6 == 5 {
            std::fs::remove_file(&path).ok();
        } else {
            std::fs::write(&path, bad_contents[round % bad_contents.len()]).unwrap();
        }
        assert!(rotator.tick(rotator.now()).is_err(), "round {round}");
        assert!(rotator.reload().is_err(), "round {round}");
        errors += 2;
        assert_eq!(rotator.keys().load().sealing_key().name(), k.name());
        assert!(p.encrypt(STATE).is_some(), "still sealing in round {round}");
        std::thread::yield_now();
    }
    // A directory where the file was: an IO error too.
    std::fs::remove_file(&path).ok();
    std::fs::create_dir(&path).unwrap();
    assert!(rotator.reload().is_err());
    std::fs::remove_dir(&path).unwrap();

    // A valid file again: picked up at the next tick.
    let k2 = TicketKey::generate(CipherKind::Aes128).unwrap();
    let next = write_key_file(
        KeyFileFormat::Haproxy48,
        &[(&k2, KeyRole::Sealing), (&k, KeyRole::OpeningOnly)],
    )
    .unwrap();
    save_key_file(&path, &next).unwrap();
    let report = rotator.tick(rotator.now()).unwrap();
    assert_eq!(report.new_sealer, Some(k2.name()));

    while opens.load(Ordering::Relaxed) < 1000 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    assert!(errors >= 80);
    std::fs::remove_dir_all(&dir).ok();
}
