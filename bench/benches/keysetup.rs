//! Key setup and rotation cost: what a new key costs before its first ticket.
//!
//! - `key-setup`: tessera's `TicketKey::new` (AES key schedules for every backend, HMAC
//!   ipad/opad states, the AEAD key derivation) for AES-128 and AES-256 keys, and
//!   `TicketKey::generate` (plus one OS random draw); the peers' equivalent (OpenSSL's HMAC
//!   `EVP_PKEY`, RustCrypto pre-keyed cipher + HMAC, `Aes256Gcm::new`). `openssl-evp` and
//!   `rustcrypto-naive` key per ticket, so their per-ticket cost already holds this.
//! - `rotate`: a full rotation of an 8-key ring: a new sealing key, the oldest dropped, the new
//!   ring published to readers (`SharedKeyRing::store`). rustls's equivalent is
//!   `Ticketer::new()`-style generation of a fresh AEAD ticketer (random key and name).
//!
//! Ids as in `benches/peers.rs` (format `-`: keys are format-independent); parameter 1.
//! Run: `cargo bench -p tessera-bench --bench keysetup`.
#![forbid(unsafe_code)]

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use openssl::pkey::PKey;
use tessera::{CipherKind, KeyRing, SharedKeyRing, TicketKey};
use tessera_bench::fixtures;
use tessera_bench::matrix::{OWN, SINGLE, bench_id};
use tessera_bench::peers::{RustCryptoGcm, RustCryptoPrekeyed};

fn key_setup(c: &mut Criterion) {
    let k = fixtures::keys()[0];
    let aes256 = fixtures::bytes(10, 32);
    let hmac32 = fixtures::bytes(11, 32);
    let mut g = c.benchmark_group("key-setup/0B");
    g.throughput(Throughput::Elements(1));
    g.bench_function(
        BenchmarkId::new(bench_id("tessera", "aes128", SINGLE), 1),
        |b| {
            b.iter(|| black_box(TicketKey::new(black_box(k.name), &k.aes, &k.hmac).expect("valid")))
        },
    );
    g.bench_function(
        BenchmarkId::new(bench_id("tessera", "aes256", SINGLE), 1),
        |b| {
            b.iter(|| {
                black_box(TicketKey::new(black_box(k.name), &aes256, &hmac32).expect("valid"))
            })
        },
    );
    g.bench_function(
        BenchmarkId::new(bench_id("tessera", "generate-aes128", SINGLE), 1),
        |b| b.iter(|| black_box(TicketKey::generate(CipherKind::Aes128).expect("OS random"))),
    );
    g.bench_function(
        BenchmarkId::new(bench_id("openssl-evp", "aes128", OWN), 1),
        |b| b.iter(|| black_box(PKey::hmac(black_box(&k.hmac)).expect("HMAC key"))),
    );
    g.bench_function(
        BenchmarkId::new(bench_id("rustcrypto-prekeyed", "aes128", OWN), 1),
        |b| b.iter(|| black_box(RustCryptoPrekeyed::key_setup(black_box(&k)))),
    );
    g.bench_function(
        BenchmarkId::new(bench_id("rustcrypto-prekeyed", "aes256-gcm", OWN), 1),
        |b| b.iter(|| black_box(RustCryptoGcm::key_setup(black_box(&k)))),
    );
    g.finish();
}

fn rotate(c: &mut Criterion) {
    let base = fixtures::ring();
    let shared = SharedKeyRing::new(base.clone());
    let fresh = fixtures::keys()[0];
    let mut g = c.benchmark_group("rotate/0B");
    g.throughput(Throughput::Elements(1));
    let mut counter = 0u64;
    g.bench_function(
        BenchmarkId::new(bench_id("tessera", "ring8", SINGLE), 1),
        |b| {
            // Setup (untimed): the same 8-key ring each time, so revoked names never pile up.
            b.iter_batched(
                || base.clone(),
                |ring| {
                    // A name never used before (the ring refuses duplicates).
                    counter += 1;
                    let mut name = fresh.name;
                    name[..8].copy_from_slice(&counter.to_le_bytes());
                    let key = TicketKey::new(name, &fresh.aes, &fresh.hmac).expect("valid");
                    let oldest = ring
                        .keys()
                        .last()
                        .map(|(k, _)| k.name().0)
                        .expect("non-empty");
                    let next: KeyRing = ring
                        .rotated(key)
                        .and_then(|r| r.without(&oldest))
                        .expect("rotates");
                    shared.store(next);
                },
                BatchSize::SmallInput,
            )
        },
    );
    assert_eq!(shared.load().len(), fixtures::RING_KEYS);
    g.bench_function(
        BenchmarkId::new(bench_id("rustls-ring", "ticketer", OWN), 1),
        |b| b.iter(|| black_box(rustls::crypto::ring::Ticketer::new().expect("ticketer"))),
    );
    g.finish();
}

criterion_group!(benches, key_setup, rotate);
criterion_main!(benches);
