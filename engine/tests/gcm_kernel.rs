//! The x86 XAES-256-GCM kernel (`backend/x86_gcm.rs`, AES-NI + PCLMULQDQ) against the portable
//! RustCrypto path (`aes` + `ghash`) and known-answer vectors:
//! - the GCM specification's AES-256 test cases 13-16 (McGrew & Viega, "The Galois/Counter
//!   Mode of Operation", appendix B; `tests/vectors/gcm_spec_aes256.txt`), through the
//!   kernel's plain AES-256-GCM entry;
//! - C2SP XAES-256-GCM (two vectors in `tests/vectors/xaes_256_gcm.txt` and the accumulated
//!   10,000-iteration SHAKE128 vector), through every backend.
//!
//! Random keys, nonces, AAD and lengths 0..2000 (every length 0..300, then a spread), single
//! and multi-ticket calls (interleaved groups of 1-4 tickets of mixed keys and lengths), and
//! tampered tags, ciphertexts, AAD and nonces, which must be rejected with the buffer
//! untouched.
#![cfg(target_arch = "x86_64")]

mod common;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use tessera::backend::hazmat::{BadTag, XaesKey, gcm_seal};
use tessera::backend::{Backend, Clmul, GcmJob};

/// The kernel, or `None` on a CPU without AES-NI + PCLMULQDQ (the tests then check nothing
/// kernel-specific, and say so).
fn kernel() -> Option<Clmul> {
    let k = Clmul::new();
    if k.is_none() {
        eprintln!("no AES-NI + PCLMULQDQ: kernel tests skipped");
    }
    k
}

/// Every kernel variant this CPU runs: xmm, and ymm (VAES + VPCLMULQDQ) if detected.
fn kernels() -> Vec<Clmul> {
    let mut v: Vec<Clmul> = [Clmul::new(), Clmul::wide()]
        .into_iter()
        .flatten()
        .collect();
    v.dedup();
    v
}

fn lengths() -> Vec<usize> {
    let mut v: Vec<usize> = (0..300).collect();
    v.extend([
        319, 320, 321, 383, 384, 385, 511, 512, 513, 1000, 1023, 1024, 1025, 1999, 2000,
    ]);
    v
}

fn random(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

#[test]
fn gcm_spec_aes256_cases_13_to_16() {
    let Some(k) = kernel() else { return };
    let records = common::load("gcm_spec_aes256.txt");
    assert_eq!(records.len(), 4);
    for r in records {
        let name = r.get("Name");
        let key: [u8; 32] = r.hex("Key").try_into().unwrap();
        let iv: [u8; 12] = r.hex("IV").try_into().unwrap();
        let (pt, aad, ct) = (r.hex("Plaintext"), r.hex("AAD"), r.hex("Ciphertext"));
        let tag: [u8; 16] = r.hex("Tag").try_into().unwrap();
        let mut buf = pt.clone();
        assert_eq!(k.gcm256_seal(&key, &iv, &aad, &mut buf), tag, "{name} tag");
        assert_eq!(buf, ct, "{name} ct");
        k.gcm256_open(&key, &iv, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, pt, "{name} open");
        let mut bad = tag;
        bad[15] ^= 0x80;
        let mut buf = ct.clone();
        assert_eq!(k.gcm256_open(&key, &iv, &aad, &mut buf, &bad), Err(BadTag));
        assert_eq!(buf, ct, "{name}: a bad tag leaves the ciphertext");
    }
}

#[test]
fn gcm256_equals_portable_on_random_inputs() {
    let Some(k) = kernel() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for len in lengths() {
        let key: [u8; 32] = random(&mut rng, 32).try_into().unwrap();
        let iv: [u8; 12] = random(&mut rng, 12).try_into().unwrap();
        let aad = random(&mut rng, (len * 7) % 90);
        let pt = random(&mut rng, len);
        let c = <aes::Aes256 as aes::cipher::KeyInit>::new(&key.into());
        let mut want = pt.clone();
        let want_tag = gcm_seal(&c, &iv, &aad, &mut want);
        let mut got = pt.clone();
        assert_eq!(
            k.gcm256_seal(&key, &iv, &aad, &mut got),
            want_tag,
            "len {len}"
        );
        assert_eq!(got, want, "len {len}");
        k.gcm256_open(&key, &iv, &aad, &mut got, &want_tag).unwrap();
        assert_eq!(got, pt);
    }
}

#[test]
fn xaes_c2sp_vectors_on_every_backend() {
    let records = common::load("xaes_256_gcm.txt");
    assert_eq!(records.len(), 2);
    for backend in Backend::available() {
        for r in &records {
            let key = XaesKey::new(&r.hex("Key").try_into().unwrap());
            let nonce: [u8; 24] = r.hex("Nonce").try_into().unwrap();
            let (pt, aad, ct) = (r.hex("Plaintext"), r.hex("AAD"), r.hex("Ciphertext"));
            let tag: [u8; 16] = r.hex("Tag").try_into().unwrap();
            let mut buf = pt.clone();
            assert_eq!(
                key.seal_with(backend, &nonce, &aad, &mut buf),
                tag,
                "{backend:?}"
            );
            assert_eq!(buf, ct, "{backend:?}");
            key.open_with(backend, &nonce, &aad, &mut buf, &tag)
                .unwrap();
            assert_eq!(buf, pt, "{backend:?}");
            for flip in [0, 11, 12, 23] {
                let mut other = nonce;
                other[flip] ^= 1;
                let mut buf = ct.clone();
                assert_eq!(
                    key.open_with(backend, &other, &aad, &mut buf, &tag),
                    Err(BadTag),
                    "{backend:?} nonce byte {flip}"
                );
                assert_eq!(buf, ct);
            }
        }
    }
}

/// The C2SP accumulated vector through the kernel (seal and open of 10,000 random messages
/// of 0..255 bytes with 0..255 bytes of AAD).
#[test]
fn xaes_accumulated_10k_through_the_kernel() {
    let Some(backend) = Backend::available().into_iter().find(|b| b.gcm().is_some()) else {
        eprintln!("no x86 AEAD kernel: skipped");
        return;
    };
    common::xaes_accumulated_10k(Some(backend));
}

#[test]
fn xaes_kernel_equals_portable_and_rejects_tampering() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let backends = Backend::available();
    for len in lengths() {
        let key = XaesKey::new(&random(&mut rng, 32).try_into().unwrap());
        let nonce: [u8; 24] = random(&mut rng, 24).try_into().unwrap();
        let aad = random(&mut rng, if len % 3 == 0 { 16 } else { len % 70 });
        let pt = random(&mut rng, len);
        let mut want = pt.clone();
        let want_tag = key.seal(&nonce, &aad, &mut want);
        for &b in &backends {
            let mut got = pt.clone();
            assert_eq!(
                key.seal_with(b, &nonce, &aad, &mut got),
                want_tag,
                "{b:?} {len}"
            );
            assert_eq!(got, want, "{b:?} {len}");
            key.open_with(b, &nonce, &aad, &mut got, &want_tag).unwrap();
            assert_eq!(got, pt, "{b:?} {len}");

            // Tampering: tag bit, ciphertext bit, AAD bit, nonce bit; buffer untouched.
            let mut tag = want_tag;
            tag[len % 16] ^= 1 << (len % 8);
            let mut buf = want.clone();
            assert_eq!(key.open_with(b, &nonce, &aad, &mut buf, &tag), Err(BadTag));
            assert_eq!(buf, want, "{b:?} {len} bad tag");
            if len > 0 {
                let mut buf = want.clone();
                buf[(len * 5) % len] ^= 0x20;
                let tampered = buf.clone();
                assert_eq!(
                    key.open_with(b, &nonce, &aad, &mut buf, &want_tag),
                    Err(BadTag)
                );
                assert_eq!(buf, tampered, "{b:?} {len} bad ciphertext");
            }
            let mut other_aad = aad.clone();
            if other_aad.is_empty() {
                other_aad.push(0);
            } else {
                other_aad[0] ^= 4;
            }
            let mut buf = want.clone();
            assert_eq!(
                key.open_with(b, &nonce, &other_aad, &mut buf, &want_tag),
                Err(BadTag)
            );
            assert_eq!(buf, want, "{b:?} {len} bad aad");
            if let Some((_, shorter)) = aad.split_last() {
                let mut buf = want.clone();
                assert_eq!(
                    key.open_with(b, &nonce, shorter, &mut buf, &want_tag),
                    Err(BadTag)
                );
                assert_eq!(buf, want, "{b:?} {len} truncated aad");
            }
        }
    }
}

/// Key index, nonce, AAD, plaintext.
type Spec = (usize, [u8; 24], Vec<u8>, Vec<u8>);

/// Multi-ticket calls (groups of up to four tickets interleaved, tails of 1-3): mixed keys,
/// nonces, mixed lengths and one common length (GHASH in lockstep across the group); every result equals the portable one; a batch with some tampered
/// tickets opens exactly the others and leaves the tampered ones untouched.
#[test]
fn xaes_many_equals_portable_in_mixed_batches() {
    for k in kernels() {
        many_equals_portable(k);
    }
}

fn many_equals_portable(k: Clmul) {
    let wide = k.is_wide();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let keys: Vec<XaesKey> = (0..3)
        .map(|_| XaesKey::new(&random(&mut rng, 32).try_into().unwrap()))
        .collect();
    // Mixed lengths, then groups of one common length (the lockstep GHASH path).
    let shapes = [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 31]
        .into_iter()
        .map(|n| (n, None))
        .chain([0, 1, 15, 16, 17, 128, 129, 300].map(|len| (9, Some(len))));
    for (n, common) in shapes {
        let specs: Vec<Spec> = (0..n)
            .map(|i| {
                let len = common.unwrap_or((rng.next_u32() % 700) as usize);
                let nonce: [u8; 24] = random(&mut rng, 24).try_into().unwrap();
                (
                    i % keys.len(),
                    nonce,
                    random(&mut rng, 16),
                    random(&mut rng, len),
                )
            })
            .collect();
        let mut bufs: Vec<Vec<u8>> = specs.iter().map(|s| s.3.clone()).collect();
        let mut jobs: Vec<GcmJob<'_>> = specs
            .iter()
            .zip(bufs.iter_mut())
            .map(|((ki, nonce, aad, _), buf)| GcmJob {
                key: keys[*ki].x86().unwrap(),
                nonce: *nonce,
                aad,
                data: buf,
                tag: [0; 16],
                ok: false,
            })
            .collect();
        k.xaes_seal_many(&mut jobs);
        let tags: Vec<[u8; 16]> = jobs.iter().map(|j| j.tag).collect();
        drop(jobs);
        for (i, (ki, nonce, aad, pt)) in specs.iter().enumerate() {
            let mut want = pt.clone();
            let tag = keys[*ki].seal(nonce, aad, &mut want);
            assert_eq!(tags[i], tag, "wide {wide} n {n} ticket {i}");
            assert_eq!(bufs[i], want, "wide {wide} n {n} ticket {i}");
        }
        let sealed = bufs.clone();
        let mut jobs: Vec<GcmJob<'_>> = specs
            .iter()
            .zip(bufs.iter_mut())
            .enumerate()
            .map(|(i, ((ki, nonce, aad, _), buf))| {
                let mut tag = tags[i];
                if i % 3 == 1 {
                    tag[i % 16] ^= 0x10; // tampered
                }
                GcmJob {
                    key: keys[*ki].x86().unwrap(),
                    nonce: *nonce,
                    aad,
                    data: buf,
                    tag,
                    ok: false,
                }
            })
            .collect();
        k.xaes_open_many(&mut jobs);
        let oks: Vec<bool> = jobs.iter().map(|j| j.ok).collect();
        drop(jobs);
        for (i, spec) in specs.iter().enumerate() {
            if i % 3 == 1 {
                assert!(!oks[i], "n {n} ticket {i} tampered but opened");
                assert_eq!(bufs[i], sealed[i], "n {n} ticket {i} touched");
            } else {
                assert!(oks[i], "n {n} ticket {i}");
                assert_eq!(bufs[i], spec.3, "n {n} ticket {i}");
            }
        }
    }
}
