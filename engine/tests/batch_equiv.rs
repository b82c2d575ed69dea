//! Batch seal/open (`tessera::batch`, `Ticketer::{seal_many, open_many}`) on every backend
//! this CPU supports, against the single-ticket portable path (`format::seal_into`,
//! `Ticketer::open_at`) as the oracle: byte-for-byte tickets under fixed IVs, exact
//! per-ticket statuses and states, and the committed known-answer vectors
//! (`tests/vectors/tickets.txt`, cross-checked against independent crates in
//! `format_vectors.rs`).
//!
//! Batch sizes follow the BLAKE3 edge table: 0, 1, lanes-1, lanes, lanes+1 for every lane
//! count (8 and 16), the internal chunk size +-1, and 1000; state lengths are random in
//! 0..2000 with block-boundary cases; keys mix AES-128 and AES-256 in one batch.
#![allow(clippy::needless_range_loop)] // parallel arrays indexed by ticket number read best

mod common;

use aes::cipher::KeyInit;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use tessera::backend::Backend;
use tessera::backend::hazmat;
use tessera::batch::{self, CHUNK, Formats, IV_SLOT, IvSource, OpenParams, SealInput};
use tessera::format::{self, TicketFormat};
use tessera::keys::{KeyRing, KeyTimes};
use tessera::{
    CipherKind, Error, OpenedTicket, RejectReason, Rejected, StateBatch, TicketBatch, TicketKey,
    Ticketer,
};

const NOW: u64 = 1_000_000;

/// A key with random parts (deterministic from `rng`).
fn random_key(rng: &mut ChaCha8Rng, cipher: CipherKind) -> (TicketKey, Vec<u8>, Vec<u8>) {
    let mut name = [0u8; 16];
    rng.fill_bytes(&mut name);
    let mut aes = vec![0u8; cipher.key_len()];
    rng.fill_bytes(&mut aes);
    let mut hmac = vec![
        0u8;
        if rng.next_u32().is_multiple_of(2) {
            16
        } else {
            32
        }
    ];
    rng.fill_bytes(&mut hmac);
    let key = TicketKey::new(name, &aes, &hmac).unwrap();
    (key, aes, hmac)
}

fn random_state(rng: &mut ChaCha8Rng, max: usize) -> Vec<u8> {
    // A third of the states sit at a block boundary (16k - 1, 16k, 16k + 1), the rest
    // anywhere in 0..max.
    let len = match rng.next_u32() % 3 {
        0 => ((rng.next_u32() as usize % (max / 16)) * 16 + rng.next_u32() as usize % 3)
            .saturating_sub(1),
        _ => rng.next_u32() as usize % max,
    };
    let mut s = vec![0u8; len];
    rng.fill_bytes(&mut s);
    s
}

fn batch_sizes() -> Vec<usize> {
    let mut sizes = vec![0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 1000];
    for b in Backend::available() {
        let l = b.lanes();
        sizes.extend([l.saturating_sub(1), l, l + 1]);
    }
    sizes.extend([7, 8, 9, 15, 16, 17, 31]);
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn ok_statuses<T>(n: usize) -> Vec<Result<usize, T>> {
    (0..n).map(|_| Ok(0)).collect()
}

fn open_statuses(n: usize) -> Vec<Result<OpenedTicket, Rejected>> {
    vec![Err(Rejected(RejectReason::Malformed)); n]
}

#[test]
fn every_backend_seals_like_the_portable_path_mixed_keys_formats_lengths() {
    let mut rng = ChaCha8Rng::seed_from_u64(5077);
    let keys: Vec<TicketKey> = (0..6)
        .map(|i| {
            let c = if i % 2 == 0 {
                CipherKind::Aes128
            } else {
                CipherKind::Aes256
            };
            random_key(&mut rng, c).0
        })
        .collect();
    let mut out = TicketBatch::new();
    for n in batch_sizes() {
        let max_state = if n >= 1000 { 2000 } else { 600 };
        let states: Vec<Vec<u8>> = (0..n).map(|_| random_state(&mut rng, max_state)).collect();
        let ivs: Vec<[u8; IV_SLOT]> = (0..n)
            .map(|_| {
                let mut iv = [0u8; IV_SLOT];
                rng.fill_bytes(&mut iv);
                iv
            })
            .collect();
        // Per-ticket formats: each single format, and all three mixed.
        let mixed: Vec<TicketFormat> = (0..n)
            .map(|_| TicketFormat::ALL[rng.next_u32() as usize % 3])
            .collect();
        let key_of: Vec<usize> = (0..n)
            .map(|_| rng.next_u32() as usize % keys.len())
            .collect();
        let layouts: Vec<Vec<TicketFormat>> = TicketFormat::ALL
            .iter()
            .map(|&f| vec![f; n])
            .chain([mixed])
            .collect();
        for formats in &layouts {
            let inputs: Vec<SealInput<'_>> = (0..n)
                .map(|i| SealInput {
                    format: formats[i],
                    key: &keys[key_of[i]],
                    state: &states[i],
                })
                .collect();
            // The oracle: the portable backend, one ticket at a time through `format`.
            let mut portable = TicketBatch::new();
            let mut st = ok_statuses(n);
            batch::seal_many(
                Backend::Portable,
                &inputs,
                IvSource::Fixed(&ivs),
                &mut portable,
                &mut st,
            )
            .unwrap();
            let want: Vec<Vec<u8>> = portable.iter().map(|t| t.unwrap().to_vec()).collect();
            // The single-ticket API on the selected backend gives the same bytes.
            for (i, (inp, iv)) in inputs.iter().zip(&ivs).enumerate().step_by(7) {
                let mut t = vec![0u8; inp.format.sealed_len(inp.state.len())];
                let iv = &iv[..inp.format.iv_len()];
                format::seal_into(inp.format, inp.key, iv, inp.state, &mut t).unwrap();
                assert_eq!(t, want[i], "format::seal_into ticket {i}");
            }
            for backend in Backend::available() {
                let mut status = ok_statuses(n);
                batch::seal_many(
                    backend,
                    &inputs,
                    IvSource::Fixed(&ivs),
                    &mut out,
                    &mut status,
                )
                .unwrap();
                assert_eq!(out.len(), n);
                for i in 0..n {
                    assert_eq!(status[i].as_ref().ok(), Some(&want[i].len()), "{backend:?}");
                    assert!(
                        out.get(i) == Some(&want[i][..]),
                        "{backend:?} n={n} ticket {i} ({} state {})",
                        formats[i],
                        states[i].len()
                    );
                }
            }
        }
    }
}

#[test]
fn ticketer_seal_many_with_ivs_matches_single_seals_and_opens_back() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for f in TicketFormat::ALL {
        for cipher in common::CIPHERS {
            let key = random_key(&mut rng, cipher).0;
            let base = Ticketer::new(KeyRing::single(key.clone()), f);
            let n = 67;
            let states: Vec<Vec<u8>> = (0..n).map(|_| random_state(&mut rng, 700)).collect();
            let refs: Vec<&[u8]> = states.iter().map(Vec::as_slice).collect();
            let ivs: Vec<[u8; IV_SLOT]> = (0..n as u8).map(|i| [i ^ 0x5a; IV_SLOT]).collect();
            for backend in Backend::available() {
                let t = base.clone().with_backend(backend);
                let mut out = TicketBatch::new();
                let mut status = ok_statuses(n);
                t.seal_many_with_ivs(&refs, &ivs, &mut out, &mut status)
                    .unwrap();
                let tickets: Vec<&[u8]> = out.iter().map(Option::unwrap).collect();
                for i in 0..n {
                    let mut want = Vec::new();
                    format::seal_with_iv(f, &key, &ivs[i][..f.iv_len()], &states[i], &mut want)
                        .unwrap();
                    assert_eq!(tickets[i], &want[..], "{backend:?} {f} {i}");
                }
                // Fresh IVs: opens back, and no two tickets share an IV.
                t.seal_many(&refs, &mut out, &mut status).unwrap();
                let tickets: Vec<&[u8]> = out.iter().map(Option::unwrap).collect();
                let mut seen: Vec<&[u8]> =
                    tickets.iter().map(|t| &t[16..16 + f.iv_len()]).collect();
                seen.sort_unstable();
                seen.dedup();
                assert_eq!(seen.len(), n);
                let mut opened = StateBatch::new();
                let mut st = open_statuses(n);
                t.open_many(&tickets, &mut opened, &mut st).unwrap();
                for i in 0..n {
                    assert_eq!(st[i].unwrap().state_len, states[i].len());
                    assert_eq!(opened.get(i), Some(&states[i][..]));
                }
            }
        }
    }
}

/// A CBC ticket whose MAC is valid but whose padding is not: only a key holder can make one.
fn bad_padding_ticket(
    f: TicketFormat,
    name: [u8; 16],
    aes_key: &[u8],
    hmac_key: &[u8],
    pad_byte: u8,
) -> Vec<u8> {
    let mut body = vec![0x42u8; 48];
    body[47] = pad_byte;
    let iv = [9u8; 16];
    match aes_key.len() {
        16 => hazmat::cbc_encrypt(&aes::Aes128::new(aes_key.into()), &iv, &mut body),
        _ => hazmat::cbc_encrypt(&aes::Aes256::new(aes_key.into()), &iv, &mut body),
    }
    let mut t = name.to_vec();
    t.extend_from_slice(&iv);
    if f == TicketFormat::Rfc5077 {
        t.extend_from_slice(&(body.len() as u16).to_be_bytes());
    }
    t.extend_from_slice(&body);
    let (inner, outer) = hazmat::hmac_states(hmac_key);
    let mac = hazmat::hmac_sha256(&inner, &outer, &[&t]);
    t.extend_from_slice(&mac);
    t
}

/// Every kind of ticket the open path distinguishes, shuffled together.
fn hostile_batch(rng: &mut ChaCha8Rng, f: TicketFormat, n: usize) -> (Ticketer, Vec<Vec<u8>>) {
    let (sealer, s_aes, s_hmac) = random_key(rng, CipherKind::Aes128);
    let (older, _, _) = random_key(rng, CipherKind::Aes256);
    let (expiring, _, _) = random_key(rng, CipherKind::Aes128);
    let expiring = expiring.with_times(KeyTimes {
        open_until: Some(NOW),
        ..KeyTimes::default()
    });
    let (revoked, _, _) = random_key(rng, CipherKind::Aes256);
    let (stranger, _, _) = random_key(rng, CipherKind::Aes256);
    let issuers: Vec<Ticketer> = [&sealer, &older, &expiring, &revoked, &stranger]
        .into_iter()
        .map(|k| Ticketer::new(KeyRing::single(k.clone()), f).with_max_state_len(1500))
        .collect();
    let ring = KeyRing::new(sealer.clone(), vec![older, expiring, revoked.clone()])
        .unwrap()
        .without(&revoked.name().0)
        .unwrap();
    let ticketer = Ticketer::new(ring, f).with_max_state_len(1500);
    let mut tickets = Vec::with_capacity(n);
    for _ in 0..n {
        let state = random_state(rng, 1500);
        let issuer = &issuers[rng.next_u32() as usize % issuers.len()];
        let mut t = issuer.seal(&state).unwrap();
        match rng.next_u32() % 12 {
            0 => {
                // Bad MAC: flip a bit anywhere after the key name.
                let at = 16 + rng.next_u32() as usize % (t.len() - 16);
                t[at] ^= 1 << (rng.next_u32() % 8);
            }
            1 => t.truncate(rng.next_u32() as usize % t.len()),
            2 => t.extend_from_slice(&[0u8; 16]),
            3 if f != TicketFormat::Aead => {
                let pad = [0u8, 17, 0x80][rng.next_u32() as usize % 3];
                t = bad_padding_ticket(f, sealer.name().0, &s_aes, &s_hmac, pad);
            }
            4 => t = vec![0u8; f.max_ticket_len(1500) + 1],
            5 => t.clear(),
            6 if f == TicketFormat::Rfc5077 => t[33] ^= 0x10, // length field disagrees
            _ => {}
        }
        tickets.push(t);
    }
    (ticketer, tickets)
}

#[test]
fn open_many_statuses_equal_open_at_for_hostile_batches() {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    let mut out = StateBatch::new();
    for f in TicketFormat::ALL {
        for n in [0usize, 1, 9, 17, CHUNK + 1, 400] {
            let (ticketer, tickets) = hostile_batch(&mut rng, f, n);
            let refs: Vec<&[u8]> = tickets.iter().map(Vec::as_slice).collect();
            let portable = ticketer.clone().with_backend(Backend::Portable);
            let want: Vec<(Result<OpenedTicket, Rejected>, Vec<u8>)> = refs
                .iter()
                .map(|t| {
                    let mut v = Vec::new();
                    let r = portable.open_at(t, NOW - 1, &mut v);
                    (r, v)
                })
                .collect();
            let mut reasons: Vec<RejectReason> = want
                .iter()
                .filter_map(|(r, _)| r.err().map(|e| e.reason()))
                .collect();
            reasons.sort_by_key(|r| r.as_str());
            reasons.dedup();
            if n >= 400 {
                let mut expect = vec![
                    RejectReason::TooShort,
                    RejectReason::TooLong,
                    RejectReason::UnknownKey,
                    RejectReason::Revoked,
                    RejectReason::BadMac,
                ];
                if f != TicketFormat::Aead {
                    expect.push(RejectReason::BadPadding);
                    expect.push(RejectReason::Malformed);
                }
                for r in expect {
                    assert!(reasons.contains(&r), "{f}: batch lacks {r}");
                }
            }
            for backend in Backend::available() {
                let t = ticketer.clone().with_backend(backend);
                let mut status = open_statuses(n);
                t.open_many_at(&refs, NOW - 1, &mut out, &mut status)
                    .unwrap();
                for (i, (want_status, want_state)) in want.iter().enumerate() {
                    assert_eq!(&status[i], want_status, "{backend:?} {f} ticket {i}");
                    // The single-ticket path on this backend agrees too.
                    let mut v = Vec::new();
                    assert_eq!(&t.open_at(refs[i], NOW - 1, &mut v), want_status);
                    assert_eq!(&v, want_state, "{backend:?} {f} open_at {i}");
                    let got = out.get(i);
                    match want_status {
                        Ok(_) => assert_eq!(got, Some(&want_state[..]), "{backend:?} {f} {i}"),
                        Err(_) => assert_eq!(got, None),
                    }
                }
                // At `NOW` the expiring key no longer opens: Expired, exactly as open_at.
                t.open_many_at(&refs, NOW, &mut out, &mut status).unwrap();
                for (i, ticket) in refs.iter().enumerate() {
                    let single = ticketer.open_at(ticket, NOW, &mut Vec::new());
                    assert_eq!(status[i], single, "{backend:?} {f} {i} at NOW");
                }
            }
        }
    }
}

#[test]
fn mixed_formats_open_in_one_batch() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (key, _, _) = random_key(&mut rng, CipherKind::Aes256);
    let ring = KeyRing::single(key);
    let ticketers: Vec<Ticketer> = TicketFormat::ALL
        .iter()
        .map(|&f| Ticketer::new(ring.clone(), f))
        .collect();
    let n = 300;
    let mut formats = Vec::new();
    let mut tickets = Vec::new();
    for _ in 0..n {
        let k = rng.next_u32() as usize % 3;
        let mut t = ticketers[k].seal(&random_state(&mut rng, 400)).unwrap();
        if rng.next_u32() % 5 == 0 {
            let at = rng.next_u32() as usize % t.len();
            t[at] ^= 0x20;
        }
        formats.push(TicketFormat::ALL[k]);
        tickets.push(t);
    }
    let refs: Vec<&[u8]> = tickets.iter().map(Vec::as_slice).collect();
    for backend in Backend::available() {
        let mut out = StateBatch::new();
        let mut status = open_statuses(n);
        OpenParams {
            backend,
            formats: Formats::PerTicket(&formats),
            ring: &ring,
            max_state_len: tessera::DEFAULT_MAX_STATE_LEN,
            now: NOW,
        }
        .open_many(&refs, &mut out, &mut status)
        .unwrap();
        for i in 0..n {
            let k = TicketFormat::ALL
                .iter()
                .position(|&f| f == formats[i])
                .unwrap();
            let mut want = Vec::new();
            let single = ticketers[k].open_at(refs[i], NOW, &mut want);
            assert_eq!(status[i], single, "{backend:?} {i}");
            if single.is_ok() {
                assert_eq!(out.get(i), Some(&want[..]));
            }
        }
    }
}

#[test]
fn known_answer_vectors_through_every_backend_in_one_batch() {
    let records = common::load("tickets.txt");
    let keys: Vec<TicketKey> = records
        .iter()
        .map(|r| {
            let name: [u8; 16] = r.hex("Name").try_into().unwrap();
            TicketKey::new(name, &r.hex("AesKey"), &r.hex("HmacKey")).unwrap()
        })
        .collect();
    let formats: Vec<TicketFormat> = records
        .iter()
        .map(|r| r.get("Format").parse().unwrap())
        .collect();
    let states: Vec<Vec<u8>> = records.iter().map(|r| r.hex("State")).collect();
    let want: Vec<Vec<u8>> = records.iter().map(|r| r.hex("Ticket")).collect();
    let ivs: Vec<[u8; IV_SLOT]> = records
        .iter()
        .map(|r| {
            let mut slot = [0u8; IV_SLOT];
            let iv = r.hex("IV");
            slot[..iv.len()].copy_from_slice(&iv);
            slot
        })
        .collect();
    let inputs: Vec<SealInput<'_>> = (0..records.len())
        .map(|i| SealInput {
            format: formats[i],
            key: &keys[i],
            state: &states[i],
        })
        .collect();
    for backend in Backend::available() {
        let mut out = TicketBatch::new();
        let mut status = ok_statuses(inputs.len());
        batch::seal_many(
            backend,
            &inputs,
            IvSource::Fixed(&ivs),
            &mut out,
            &mut status,
        )
        .unwrap();
        for (i, want) in want.iter().enumerate() {
            assert_eq!(
                out.get(i).map(hex::encode),
                Some(hex::encode(want)),
                "{backend:?} vector {i}"
            );
        }
        // All vectors share one key name per key size; open each size's in one batch.
        for cipher in common::CIPHERS {
            let pick: Vec<usize> = (0..keys.len())
                .filter(|&i| keys[i].cipher() == cipher)
                .collect();
            let ring = KeyRing::single(keys[pick[0]].clone());
            let fs: Vec<TicketFormat> = pick.iter().map(|&i| formats[i]).collect();
            let ts: Vec<&[u8]> = pick.iter().map(|&i| want[i].as_slice()).collect();
            let mut opened = StateBatch::new();
            let mut st = open_statuses(ts.len());
            OpenParams {
                backend,
                formats: Formats::PerTicket(&fs),
                ring: &ring,
                max_state_len: 4096,
                now: NOW,
            }
            .open_many(&ts, &mut opened, &mut st)
            .unwrap();
            for (c, &i) in pick.iter().enumerate() {
                assert!(st[c].is_ok(), "{backend:?} vector {i}");
                assert_eq!(
                    opened.get(c),
                    Some(&states[i][..]),
                    "{backend:?} vector {i}"
                );
            }
        }
    }
}

#[test]
fn shape_errors_and_per_ticket_refusals() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let key = random_key(&mut rng, CipherKind::Aes128).0;
    let t = Ticketer::new(KeyRing::single(key), TicketFormat::Rfc5077).with_max_state_len(100);
    let big = [1u8; 101];
    let states: Vec<&[u8]> = vec![b"a", &big, b"c"];
    let mut out = TicketBatch::new();
    let mut status = ok_statuses(2);
    assert!(matches!(
        t.seal_many(&states, &mut out, &mut status),
        Err(Error::BatchShape)
    ));
    let mut status = ok_statuses(3);
    assert!(matches!(
        t.seal_many_with_ivs(&states, &[[0; IV_SLOT]; 2], &mut out, &mut status),
        Err(Error::BatchShape)
    ));
    for backend in Backend::available() {
        let t = t.clone().with_backend(backend);
        t.seal_many(&states, &mut out, &mut status).unwrap();
        assert!(matches!(status[1], Err(Error::StateTooLong(101))));
        assert_eq!(out.get(1), None);
        assert_eq!(out.get(3), None);
        let good: Vec<&[u8]> = vec![out.get(0).unwrap(), out.get(2).unwrap()];
        let mut opened = StateBatch::new();
        let mut st = open_statuses(2);
        t.open_many(&good, &mut opened, &mut st).unwrap();
        assert_eq!(opened.get(0), Some(&b"a"[..]));
        assert_eq!(opened.get(1), Some(&b"c"[..]));
        let mut wrong = open_statuses(1);
        assert!(matches!(
            t.open_many(&good, &mut opened, &mut wrong),
            Err(Error::BatchShape)
        ));
        // Reuse with a smaller batch: only the new batch is visible.
        t.open_many(&good[..1], &mut opened, &mut st[..1]).unwrap();
        assert_eq!(opened.len(), 1);
        assert_eq!(opened.get(1), None);
        opened.clear();
        assert!(opened.is_empty());
        assert_eq!(format!("{opened:?}"), "StateBatch { tickets: 0, .. }");
    }
}

/// AEAD batches of one state length (the XAES kernel's lockstep GHASH across a group), on
/// every backend: tickets equal the portable backend's byte for byte, open back, and
/// tampered tickets (tag, ciphertext, nonce; spread over the groups of the kernel) are
/// `BadMac` while every other ticket of the batch opens. The single-ticket calls of a
/// ticketer pinned to each backend agree with the portable one both ways.
#[test]
fn aead_batches_of_one_length_on_every_backend() {
    let mut rng = ChaCha8Rng::seed_from_u64(4242);
    let (key, _, _) = random_key(&mut rng, CipherKind::Aes256);
    let base = Ticketer::new(KeyRing::single(key.clone()), TicketFormat::Aead);
    let portable = base.clone().with_backend(Backend::Portable);
    for len in [0usize, 1, 15, 16, 17, 128, 129, 500] {
        for n in [1usize, 2, 3, 4, 5, 9, CHUNK + 3] {
            let states: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let mut s = vec![0u8; len];
                    rng.fill_bytes(&mut s);
                    s
                })
                .collect();
            let refs: Vec<&[u8]> = states.iter().map(Vec::as_slice).collect();
            let ivs: Vec<[u8; IV_SLOT]> = (0..n)
                .map(|_| {
                    let mut iv = [0u8; IV_SLOT];
                    rng.fill_bytes(&mut iv);
                    iv
                })
                .collect();
            let mut want = TicketBatch::new();
            let mut st = ok_statuses(n);
            portable
                .seal_many_with_ivs(&refs, &ivs, &mut want, &mut st)
                .unwrap();
            for backend in Backend::available() {
                let t = base.clone().with_backend(backend);
                let mut out = TicketBatch::new();
                let mut status = ok_statuses(n);
                t.seal_many_with_ivs(&refs, &ivs, &mut out, &mut status)
                    .unwrap();
                let mut tickets: Vec<Vec<u8>> = Vec::new();
                for i in 0..n {
                    assert_eq!(out.get(i), want.get(i), "{backend:?} len {len} n {n} {i}");
                    tickets.push(out.get(i).unwrap().to_vec());
                }
                // Tamper with every third ticket: tag, ciphertext or nonce.
                for (i, tk) in tickets.iter_mut().enumerate().filter(|(i, _)| i % 3 == 2) {
                    let at = match (i / 3) % 3 {
                        0 => tk.len() - 1 - i % 16,
                        1 if len > 0 => 40 + i % len,
                        _ => 16 + i % 24,
                    };
                    tk[at] ^= 0x01;
                }
                let tk_refs: Vec<&[u8]> = tickets.iter().map(Vec::as_slice).collect();
                let mut opened = StateBatch::new();
                let mut ost = open_statuses(n);
                t.open_many(&tk_refs, &mut opened, &mut ost).unwrap();
                for i in 0..n {
                    if i % 3 == 2 {
                        assert_eq!(
                            ost[i],
                            Err(Rejected(RejectReason::BadMac)),
                            "{backend:?} {i}"
                        );
                        assert_eq!(opened.get(i), None);
                    } else {
                        assert_eq!(ost[i].map(|o| o.state_len), Ok(len), "{backend:?} {i}");
                        assert_eq!(opened.get(i), Some(&states[i][..]), "{backend:?} {i}");
                    }
                    let mut v = Vec::new();
                    assert_eq!(t.open(tk_refs[i], &mut v).is_ok(), i % 3 != 2);
                }
                // Single-ticket calls: sealed on this backend, opened on the portable one and
                // the other way round.
                let mut v = Vec::new();
                let single = t.seal(&states[0]).unwrap();
                assert_eq!(portable.open(&single, &mut v).map(|o| o.state_len), Ok(len));
                assert_eq!(v, states[0]);
                let single = portable.seal(&states[0]).unwrap();
                v.clear();
                assert_eq!(t.open(&single, &mut v).map(|o| o.state_len), Ok(len));
                assert_eq!(v, states[0]);
            }
        }
    }
}
