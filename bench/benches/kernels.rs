//! Multi-buffer kernels per backend against the portable (RustCrypto, one ticket at a time)
//! path, in the shape of the RFC 5077 hot path: 1024 tickets per call, a 128-byte state
//! (8 CBC blocks) and a 178-byte MAC input (key_name 16 + IV 16 + length 2 + 144 ciphertext).
//! Throughput is in tickets ("elements"): time per element = ns per ticket.
//!
//! Run: `cargo bench -p tessera-bench --bench kernels`.
#![forbid(unsafe_code)]

use std::hint::black_box;

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tessera::backend::{AesKernel, Backend, CbcTicket, HmacInput, MacKernel};

/// Tickets per call: the batch size issue 4 targets.
const TICKETS: usize = 1024;
/// CBC blocks per ticket: a 128-byte session state.
const BLOCKS: usize = 8;
/// MAC input per RFC 5077 ticket with a 128-byte state padded to 144.
const MAC_LEN: usize = 178;

fn fill(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn aes_kernels() -> Vec<AesKernel> {
    let mut v: Vec<AesKernel> = Vec::new();
    for k in Backend::available().into_iter().filter_map(Backend::aes) {
        if !v.contains(&k) {
            v.push(k);
        }
    }
    v
}

fn mac_kernels() -> Vec<MacKernel> {
    let mut v: Vec<MacKernel> = Vec::new();
    for k in Backend::available().into_iter().map(Backend::mac) {
        if !v.contains(&k) {
            v.push(k);
        }
    }
    v
}

fn name<T: std::fmt::Debug>(k: T) -> String {
    let s = format!("{k:?}");
    s.split('(').next().unwrap_or("?").to_lowercase()
}

fn bench_cbc(c: &mut Criterion) {
    let key = [0x2bu8; 16];
    let iv = [0x11u8; 16];
    let mut data: Vec<Vec<u8>> = (0..TICKETS).map(|i| fill(i as u8, BLOCKS * 16)).collect();

    let mut g = c.benchmark_group("aes128_cbc_encrypt_1024x8");
    g.throughput(Throughput::Elements(TICKETS as u64));
    g.bench_function("portable", |b| {
        b.iter(|| {
            for d in data.iter_mut() {
                let len = d.len();
                let enc = cbc::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into());
                black_box(enc.encrypt_padded_mut::<NoPadding>(d, len).is_ok());
            }
        })
    });
    for k in aes_kernels() {
        let rk = k.aesni().round_keys_128(&key);
        g.bench_function(BenchmarkId::new("kernel", name(k)), |b| {
            b.iter(|| {
                let mut tickets: Vec<CbcTicket<'_>> = data
                    .iter_mut()
                    .map(|d| CbcTicket {
                        keys: &rk,
                        iv,
                        data: d,
                    })
                    .collect();
                k.cbc_encrypt_many(&mut tickets).unwrap();
            })
        });
    }
    g.finish();

    // Long tickets: per-block kernel cost with the scheduler's per-ticket work amortized.
    let mut long: Vec<Vec<u8>> = (0..256).map(|i| fill(i as u8, 64 * 16)).collect();
    let mut g = c.benchmark_group("aes128_cbc_encrypt_blocks_256x64");
    g.throughput(Throughput::Elements(256 * 64));
    for k in aes_kernels() {
        let rk = k.aesni().round_keys_128(&key);
        g.bench_function(BenchmarkId::new("kernel", name(k)), |b| {
            b.iter(|| {
                let mut tickets: Vec<CbcTicket<'_>> = long
                    .iter_mut()
                    .map(|d| CbcTicket {
                        keys: &rk,
                        iv,
                        data: d,
                    })
                    .collect();
                k.cbc_encrypt_many(&mut tickets).unwrap();
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("aes128_cbc_decrypt_1024x8");
    g.throughput(Throughput::Elements(TICKETS as u64));
    for k in aes_kernels() {
        let rk = k.aesni().round_keys_128(&key);
        g.bench_function(BenchmarkId::new("kernel", name(k)), |b| {
            b.iter(|| {
                let mut tickets: Vec<CbcTicket<'_>> = data
                    .iter_mut()
                    .map(|d| CbcTicket {
                        keys: &rk,
                        iv,
                        data: d,
                    })
                    .collect();
                k.cbc_decrypt_many(&mut tickets).unwrap();
            })
        });
    }
    g.finish();
}

fn bench_hmac(c: &mut Criterion) {
    let key = [0x0bu8; 32];
    let msgs: Vec<Vec<u8>> = (0..TICKETS).map(|i| fill(i as u8, MAC_LEN)).collect();
    let mut out = vec![[0u8; 32]; TICKETS];

    let mut g = c.benchmark_group("hmac_sha256_1024x178");
    g.throughput(Throughput::Elements(TICKETS as u64));
    let keyed = <Hmac<Sha256>>::new_from_slice(&key).unwrap();
    g.bench_function("rustcrypto_prekeyed", |b| {
        b.iter(|| {
            for (m, o) in msgs.iter().zip(out.iter_mut()) {
                let mut mac = keyed.clone();
                mac.update(m);
                *o = mac.finalize().into_bytes().into();
            }
        })
    });
    let (inner, outer) = states(&key);
    let inputs: Vec<HmacInput<'_>> = msgs
        .iter()
        .map(|m| HmacInput {
            inner: &inner,
            outer: &outer,
            msg: m,
        })
        .collect();
    for k in mac_kernels() {
        g.bench_function(BenchmarkId::new("kernel", name(k)), |b| {
            b.iter(|| k.hmac_sha256_many(&inputs, &mut out).unwrap())
        });
    }
    g.finish();
}

/// SHA-256 states after the ipad/opad block of `key` (at most 64 bytes).
fn states(key: &[u8]) -> ([u32; 8], [u32; 8]) {
    let iv = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let half = |pad: u8| {
        let block: [u8; 64] = std::array::from_fn(|i| key.get(i).copied().unwrap_or(0) ^ pad);
        let mut s = iv;
        sha2::compress256(&mut s, &[block.into()]);
        s
    };
    (half(0x36), half(0x5c))
}

/// Long messages: per-block kernel cost with the scheduler's per-ticket work amortized.
fn bench_hmac_long(c: &mut Criterion) {
    let key = [0x0bu8; 32];
    let msgs: Vec<Vec<u8>> = (0..64).map(|i| fill(i as u8, 64 * 64)).collect();
    let mut out = vec![[0u8; 32]; msgs.len()];
    let (inner, outer) = states(&key);
    let inputs: Vec<HmacInput<'_>> = msgs
        .iter()
        .map(|m| HmacInput {
            inner: &inner,
            outer: &outer,
            msg: m,
        })
        .collect();
    let mut g = c.benchmark_group("sha256_blocks_64x66");
    // 64 body blocks + 1 padding block + 1 outer block per message.
    g.throughput(Throughput::Elements(64 * 66));
    for k in mac_kernels() {
        g.bench_function(BenchmarkId::new("kernel", name(k)), |b| {
            b.iter(|| k.hmac_sha256_many(&inputs, &mut out).unwrap())
        });
    }
    g.finish();
}

/// A batch of one ticket: the kernels must not be slower than the portable path here.
fn bench_single(c: &mut Criterion) {
    let key = [0x2bu8; 16];
    let iv = [0x11u8; 16];
    let mut data = fill(1, BLOCKS * 16);
    let mut g = c.benchmark_group("aes128_cbc_encrypt_1x8");
    g.throughput(Throughput::Elements(1));
    g.bench_function("portable", |b| {
        b.iter(|| {
            let len = data.len();
            let enc = cbc::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into());
            black_box(enc.encrypt_padded_mut::<NoPadding>(&mut data, len).is_ok());
        })
    });
    for k in aes_kernels() {
        let rk = k.aesni().round_keys_128(&key);
        g.bench_function(BenchmarkId::new("kernel", name(k)), |b| {
            b.iter(|| {
                k.cbc_encrypt_many(&mut [CbcTicket {
                    keys: &rk,
                    iv,
                    data: &mut data,
                }])
                .unwrap()
            })
        });
    }
    g.finish();

    let hkey = [0x0bu8; 32];
    let msg = fill(2, MAC_LEN);
    let mut out = [[0u8; 32]; 1];
    let mut g = c.benchmark_group("hmac_sha256_1x178");
    g.throughput(Throughput::Elements(1));
    let keyed = <Hmac<Sha256>>::new_from_slice(&hkey).unwrap();
    g.bench_function("rustcrypto_prekeyed", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(&msg);
            out[0] = mac.finalize().into_bytes().into();
        })
    });
    let (inner, outer) = states(&hkey);
    let inputs = [HmacInput {
        inner: &inner,
        outer: &outer,
        msg: &msg,
    }];
    for k in mac_kernels() {
        g.bench_function(BenchmarkId::new("kernel", name(k)), |b| {
            b.iter(|| k.hmac_sha256_many(&inputs, &mut out).unwrap())
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_cbc,
    bench_hmac,
    bench_hmac_long,
    bench_single
);
criterion_main!(benches);
