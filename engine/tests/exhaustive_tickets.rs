//! Exhaustive bad input (issue 7): for one valid ticket of each format x AES-128/AES-256 x
//! state sizes 0, 15, 16, 17 (block boundaries), 113 (an nginx TLS 1.2 session) and 500, every
//! - truncation (from the end and from the front),
//! - single-bit flip,
//! - byte replaced by 0x00 and by 0xff,
//! - appended run of bytes (against the ring's own length bound and against 2^16-1),
//! - removed, duplicated or swapped 16-byte block,
//! - rfc5077 length field patched to agree after a truncation or append (reaches the MAC),
//! - key name one bit off (ticket renamed onto a decoy key holding the same secrets, and an
//!   untouched ticket against rings of one-bit-off names)
//!
//! is rejected by `format::open_into`, `format::open_with`, `Ticketer::open_at` and
//! `OpenParams::open_many` on every backend this CPU has (one batch of mixed lengths per
//! ticket and backend), with 0 false accepts. A false accept is `open` returning `Ok` for any byte
//! string but the original ticket. Beyond that, no mutation may get past the MAC: a
//! `BadPadding` or `BadState` rejection would mean a forged MAC and fails the test too, and a
//! rejection must leave no plaintext in the output buffer.

mod common;

use std::collections::BTreeMap;

use common::{CIPHERS, key_parts, state, test_key};
use tessera::backend::Backend;
use tessera::batch::{Formats, OpenParams};
use tessera::format::{self, MAX_TICKET_LEN, TicketFormat};
use tessera::{CipherKind, KeyRing, RejectReason, Rejected, StateBatch, TicketKey, Ticketer};

/// State sizes: empty, one block exactly and either side of it, an nginx + OpenSSL 3 TLS 1.2
/// session, a large one.
const STATE_SIZES: [usize; 6] = [0, 15, 16, 17, 113, 500];
/// The longest state the test ring ever seals, so its length bound is `max_ticket_len(500)`.
const RING_MAX_STATE: usize = 500;

/// What the opener saw across all mutations of one ticket.
#[derive(Default)]
struct Tally {
    tried: u64,
    by_reason: BTreeMap<&'static str, u64>,
    failures: Vec<String>,
    /// Mutations of the current ticket against its own one-key ring, opened in one
    /// `open_many` batch per backend by [`Tally::flush_batch`].
    pending: Vec<(Vec<u8>, String)>,
    /// Tickets opened through `open_many`, counting every backend.
    batch_opened: u64,
}

impl Tally {
    /// Opens `candidate` (which must differ from the sealed ticket) through `open_into`,
    /// `open_with` and `Ticketer::open_at` (over a ring of the same keys) and records the
    /// outcome.
    fn reject(
        &mut self,
        f: TicketFormat,
        (keys, ticketer): (&[TicketKey], &Ticketer),
        candidate: &[u8],
        max_len: usize,
        what: impl Fn() -> String,
    ) {
        self.tried += 1;
        let mut out = vec![0u8; f.open_buf_len(candidate.len())];
        let lookup = |name: &[u8; 16]| keys.iter().find(|k| &k.name().0 == name);
        match format::open_into(f, candidate, max_len, lookup, &mut out) {
            Ok(opened) => self.failures.push(format!(
                "FALSE ACCEPT {f}: {} ({} state bytes)",
                what(),
                opened.state_len
            )),
            Err(rejected) => {
                let reason = rejected.reason();
                *self.by_reason.entry(reason.as_str()).or_default() += 1;
                if matches!(reason, RejectReason::BadPadding | RejectReason::BadState) {
                    self.failures
                        .push(format!("{f}: {} got past the MAC ({reason})", what()));
                }
                if out.iter().any(|&b| b != 0) {
                    self.failures
                        .push(format!("{f}: {} left bytes in the output", what()));
                }
            }
        }
        let mut appended = b"prefix".to_vec();
        match format::open_with(f, candidate, max_len, lookup, &mut appended) {
            Ok(_) => self
                .failures
                .push(format!("FALSE ACCEPT {f} (open_with): {}", what())),
            Err(_) if appended != b"prefix" => self
                .failures
                .push(format!("{f}: {} changed open_with's output", what())),
            Err(_) => {}
        }
        if keys.len() == 1 {
            self.pending.push((candidate.to_vec(), what()));
        }
        let mut appended = Vec::new();
        match ticketer.open_at(candidate, 1_700_000_000, &mut appended) {
            Ok(_) => self
                .failures
                .push(format!("FALSE ACCEPT {f} (Ticketer): {}", what())),
            Err(r)
                if matches!(
                    r.reason(),
                    RejectReason::BadPadding | RejectReason::BadState
                ) =>
            {
                self.failures
                    .push(format!("{f}: {} got past the Ticketer's MAC", what()))
            }
            Err(_) if !appended.is_empty() => self.failures.push(format!(
                "{f}: {} left bytes in the Ticketer's output",
                what()
            )),
            Err(_) => {}
        }
    }
}

impl Tally {
    /// Opens `candidates` through `OpenParams::open_many` on every backend this CPU has, as
    /// one batch per backend (mixed lengths, lanes refilled): all rejected, none past the
    /// MAC, no output for any of them.
    fn open_batch(&mut self, f: TicketFormat, ring: &KeyRing, candidates: &[(Vec<u8>, String)]) {
        let tickets: Vec<&[u8]> = candidates.iter().map(|(t, _)| t.as_slice()).collect();
        for backend in Backend::available() {
            let params = OpenParams {
                backend,
                formats: Formats::One(f),
                ring,
                max_state_len: RING_MAX_STATE,
                now: 1_700_000_000,
            };
            let mut out = StateBatch::new();
            let mut status = vec![Err(Rejected(RejectReason::TooShort)); tickets.len()];
            params.open_many(&tickets, &mut out, &mut status).unwrap();
            self.batch_opened += tickets.len() as u64;
            for (i, r) in status.iter().enumerate() {
                let what = &candidates[i].1;
                let name = backend.name();
                match r {
                    Ok(_) => self
                        .failures
                        .push(format!("FALSE ACCEPT {f} (open_many {name}): {what}")),
                    Err(e)
                        if matches!(
                            e.reason(),
                            RejectReason::BadPadding | RejectReason::BadState
                        ) =>
                    {
                        self.failures
                            .push(format!("{f}: {what} got past open_many's MAC ({name})"))
                    }
                    Err(_) if out.get(i).is_some() => self
                        .failures
                        .push(format!("{f}: {what} left output in open_many ({name})")),
                    Err(_) => {}
                }
            }
        }
    }

    fn flush_batch(&mut self, f: TicketFormat, key: &TicketKey) {
        let pending = core::mem::take(&mut self.pending);
        let ring = KeyRing::single(key.clone());
        self.open_batch(f, &ring, &pending);
    }
}

/// A ticketer over the same keys as `keys` (the first seals), bounded like the test ring.
fn ticketer(f: TicketFormat, keys: &[TicketKey]) -> Ticketer {
    let ring = KeyRing::new(keys[0].clone(), keys[1..].to_vec()).unwrap();
    Ticketer::new(ring, f).with_max_state_len(RING_MAX_STATE)
}

fn seal(f: TicketFormat, key: &TicketKey, len: usize) -> Vec<u8> {
    let mut t = Vec::new();
    format::seal_with_iv(f, key, &vec![0xa7; f.iv_len()], &state(len), &mut t).unwrap();
    t
}

/// For rfc5077: rewrites the length field to agree with the ticket's size so the mutation is
/// not caught by the layout check but reaches the MAC. Other formats: unchanged.
fn patch_len(f: TicketFormat, t: &mut [u8]) {
    if f == TicketFormat::Rfc5077 && t.len() >= f.min_len() {
        let body = t.len() - f.min_len() + 16;
        if let Ok(n) = u16::try_from(body) {
            t[32..34].copy_from_slice(&n.to_be_bytes());
        }
    }
}

/// First byte of the ciphertext: after name, IV/nonce and (rfc5077) the length.
fn body_start(f: TicketFormat) -> usize {
    match f {
        TicketFormat::Rfc5077 => 34,
        TicketFormat::OpenSsl => 32,
        TicketFormat::Aead => 40,
    }
}

/// Every mutation of one sealed ticket except the key-name ones.
fn mutate_all(f: TicketFormat, key: &TicketKey, ticket: &[u8], tally: &mut Tally) {
    let keys = core::slice::from_ref(key);
    let opener = ticketer(f, keys);
    let keys = (keys, &opener);
    let ring_max = f.max_ticket_len(RING_MAX_STATE);
    let n = ticket.len();

    for cut in 0..n {
        tally.reject(f, keys, &ticket[..cut], ring_max, || {
            format!("first {cut} bytes")
        });
        tally.reject(f, keys, &ticket[n - cut..], ring_max, || {
            format!("last {cut} bytes")
        });
        let mut patched = ticket[..cut].to_vec();
        patch_len(f, &mut patched);
        if patched != ticket[..cut] {
            tally.reject(f, keys, &patched, ring_max, || {
                format!("first {cut} bytes, length patched")
            });
        }
    }

    let mut t = ticket.to_vec();
    for byte in 0..n {
        for bit in 0..8 {
            t[byte] ^= 1 << bit;
            tally.reject(f, keys, &t, ring_max, || {
                format!("bit {bit} of byte {byte}")
            });
            t[byte] ^= 1 << bit;
        }
        for value in [0x00, 0xff] {
            if ticket[byte] != value {
                t[byte] = value;
                tally.reject(f, keys, &t, ring_max, || {
                    format!("byte {byte} set to {value:#04x}")
                });
                t[byte] = ticket[byte];
            }
        }
    }

    for extra in 1..=64usize {
        for fill in [0x00u8, 0xff] {
            let mut longer = ticket.to_vec();
            longer.resize(n + extra, fill);
            for max_len in [ring_max, MAX_TICKET_LEN] {
                tally.reject(f, keys, &longer, max_len, || {
                    format!("+{extra} bytes of {fill:#04x}, max_len {max_len}")
                });
            }
            patch_len(f, &mut longer);
            tally.reject(f, keys, &longer, MAX_TICKET_LEN, || {
                format!("+{extra} bytes of {fill:#04x}, length patched")
            });
        }
    }
    // The ticket twice, and its MAC or tag repeated.
    let doubled = [ticket, ticket].concat();
    tally.reject(f, keys, &doubled, MAX_TICKET_LEN, || "ticket twice".into());
    let trailer = if f == TicketFormat::Aead { 16 } else { 32 };
    let mac_twice = [ticket, &ticket[n - trailer..]].concat();
    tally.reject(f, keys, &mac_twice, MAX_TICKET_LEN, || "MAC twice".into());

    // Whole ciphertext blocks removed, duplicated, swapped with the next (CBC malleability).
    let start = body_start(f);
    let blocks = (n - trailer - start) / 16;
    for b in 0..blocks {
        let at = start + 16 * b;
        let mut removed = [&ticket[..at], &ticket[at + 16..]].concat();
        patch_len(f, &mut removed);
        tally.reject(f, keys, &removed, ring_max, || format!("block {b} removed"));
        let mut dup = [&ticket[..at + 16], &ticket[at..]].concat();
        patch_len(f, &mut dup);
        tally.reject(f, keys, &dup, MAX_TICKET_LEN, || {
            format!("block {b} duplicated")
        });
        if b + 1 < blocks {
            let mut swapped = ticket.to_vec();
            let (x, y) = swapped[at..at + 32].split_at_mut(16);
            x.swap_with_slice(y);
            if swapped != ticket {
                tally.reject(f, keys, &swapped, ring_max, || {
                    format!("blocks {b} and {} swapped", b + 1)
                });
            }
        }
    }
}

/// Key names one bit off: the ticket renamed onto a decoy key that holds the very same
/// secrets (the MAC or AAD must bind the name), and the untouched ticket against a ring
/// holding only a key whose name is one bit off.
fn key_names_one_bit_off(f: TicketFormat, cipher: CipherKind, ticket: &[u8], tally: &mut Tally) {
    let (name, aes, hmac) = key_parts(cipher);
    let real = TicketKey::new(name, &aes, &hmac).unwrap();
    let ring_max = f.max_ticket_len(RING_MAX_STATE);
    for bit in 0..128 {
        let mut off = name;
        off[bit / 8] ^= 1 << (bit % 8);
        let decoy = TicketKey::new(off, &aes, &hmac).unwrap();
        let mut renamed = ticket.to_vec();
        renamed[..16].copy_from_slice(&off);
        let ring = [real.clone(), decoy];
        let both = ticketer(f, &ring);
        tally.reject(f, (&ring, &both), &renamed, ring_max, || {
            format!("renamed onto decoy key, name bit {bit}")
        });
        let what = format!("renamed onto decoy key, name bit {bit}");
        tally.open_batch(f, both.keys().load().as_ref(), &[(renamed, what)]);
        let neighbour_only = &ring[1..];
        let neighbour = ticketer(f, neighbour_only);
        tally.reject(f, (neighbour_only, &neighbour), ticket, ring_max, || {
            format!("ring holds only a key with name bit {bit} flipped")
        });
        let what = format!("ring holds only a key with name bit {bit} flipped");
        tally.open_batch(
            f,
            neighbour.keys().load().as_ref(),
            &[(ticket.to_vec(), what)],
        );
    }
}

#[test]
fn every_mutation_of_every_format_is_rejected() {
    let mut total = Tally::default();
    for cipher in CIPHERS {
        let key = test_key(cipher);
        for f in TicketFormat::ALL {
            for len in STATE_SIZES {
                let ticket = seal(f, &key, len);
                // Control: the original opens, to exactly its state, within the ring's bound.
                let mut out = vec![0u8; f.open_buf_len(ticket.len())];
                let ring_max = f.max_ticket_len(RING_MAX_STATE);
                let opened = format::open_into(f, &ticket, ring_max, |_| Some(&key), &mut out)
                    .unwrap_or_else(|r| panic!("{f} {cipher:?} {len}: original rejected: {r}"));
                assert_eq!(&out[..opened.state_len], &state(len)[..]);

                let mut tally = Tally::default();
                mutate_all(f, &key, &ticket, &mut tally);
                tally.flush_batch(f, &key);
                key_names_one_bit_off(f, cipher, &ticket, &mut tally);
                // Lower bound on mutations: 10 per byte (8 flips, 0x00, 0xff minus a few
                // no-ops) plus the truncations.
                assert!(
                    tally.tried >= 11 * ticket.len() as u64,
                    "{f} {cipher:?} {len}: only {} mutations",
                    tally.tried
                );
                total.tried += tally.tried;
                total.batch_opened += tally.batch_opened;
                for (r, c) in tally.by_reason {
                    *total.by_reason.entry(r).or_default() += c;
                }
                total.failures.extend(
                    tally
                        .failures
                        .into_iter()
                        .map(|m| format!("{cipher:?} state {len}: {m}")),
                );
            }
        }
    }
    println!(
        "{} mutated tickets: {:?}; {} open_many openings over backends {:?}",
        total.tried,
        total.by_reason,
        total.batch_opened,
        Backend::available()
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
    );
    // Every mutation also went through open_many on every available backend.
    assert!(total.batch_opened >= total.tried * Backend::available().len() as u64);
    assert!(
        total.failures.is_empty(),
        "{} failures, first: {:#?}",
        total.failures.len(),
        &total.failures[..total.failures.len().min(20)]
    );
    // 36 tickets of 66..596 bytes: over 100k mutations in all.
    assert!(total.tried > 100_000, "only {} mutations", total.tried);
    // The cheap checks do their share: nothing shorter than a ticket reaches the key lookup.
    for reason in [
        "too_short",
        "too_long",
        "malformed",
        "unknown_key",
        "bad_mac",
    ] {
        assert!(total.by_reason.contains_key(reason), "no {reason} seen");
    }
}

/// The expected reason for the simplest mutations, so a regression that reorders the checks
/// (crypto before the length bound, lookup before layout) is caught, not only false accepts.
#[test]
fn mutation_reasons_follow_the_cheapest_first_order() {
    for cipher in CIPHERS {
        let key = test_key(cipher);
        let keys = core::slice::from_ref(&key);
        for f in TicketFormat::ALL {
            let ticket = seal(f, &key, 113);
            let ring_max = f.max_ticket_len(RING_MAX_STATE);
            let open = |t: &[u8], max_len: usize| {
                let mut out = vec![0u8; f.open_buf_len(t.len())];
                let lookup = |name: &[u8; 16]| keys.iter().find(|k| &k.name().0 == name);
                format::open_into(f, t, max_len, lookup, &mut out)
                    .map(|o| o.state_len)
                    .map_err(|r| r.reason())
            };
            for cut in 0..f.min_len() {
                assert_eq!(open(&ticket[..cut], ring_max), Err(RejectReason::TooShort));
            }
            let mut long = seal(f, &key, RING_MAX_STATE);
            assert!(open(&long, ring_max).is_ok());
            long.push(0);
            assert_eq!(open(&long, ring_max), Err(RejectReason::TooLong));
            for byte in 0..ticket.len() {
                let mut t = ticket.clone();
                t[byte] ^= 0x80;
                let want = if byte < 16 {
                    RejectReason::UnknownKey
                } else if f == TicketFormat::Rfc5077 && (32..34).contains(&byte) {
                    RejectReason::Malformed
                } else {
                    RejectReason::BadMac
                };
                assert_eq!(open(&t, ring_max), Err(want), "{f} byte {byte}");
            }
        }
    }
}
