//! Every multi-buffer kernel against the RustCrypto reference implementations (`aes` + `cbc`,
//! `hmac` + `sha2`), on randomized batches and on known-answer vectors:
//! NIST SP 800-38A appendix F.2 (CBC) and RFC 4231 section 4 (HMAC-SHA-256).
#![cfg(target_arch = "x86_64")]

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use hex_literal::hex;
use hmac::{Hmac, Mac};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tessera::backend::{
    AesKernel, Backend, CbcDecryptTicket, CbcTicket, HmacInput, MacKernel, RoundKeys,
};

/// Batch sizes every kernel runs: empty, single, around the lane count, odd, large.
fn batch_sizes(lanes: usize) -> Vec<usize> {
    let mut v = vec![
        0,
        1,
        lanes.saturating_sub(1),
        lanes,
        lanes + 1,
        2 * lanes + 3,
        37,
        1000,
    ];
    v.sort_unstable();
    v.dedup();
    v
}

fn aes_kernels() -> Vec<AesKernel> {
    let mut v: Vec<AesKernel> = Backend::available()
        .into_iter()
        .filter_map(Backend::aes)
        .collect();
    v.dedup();
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

/// A random AES key of 16 or 32 bytes.
fn random_key(rng: &mut ChaCha8Rng, long: bool) -> Vec<u8> {
    let mut k = vec![0u8; if long { 32 } else { 16 }];
    rng.fill_bytes(&mut k);
    k
}

fn ref_cbc_encrypt(key: &[u8], iv: &[u8; 16], data: &mut [u8]) {
    let len = data.len();
    match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_mut::<NoPadding>(data, len)
            .map(|_| ())
            .unwrap(),
        _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_mut::<NoPadding>(data, len)
            .map(|_| ())
            .unwrap(),
    }
}

fn ref_cbc_decrypt(key: &[u8], iv: &[u8; 16], data: &mut [u8]) {
    match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .unwrap()
            .decrypt_padded_mut::<NoPadding>(data)
            .map(|_| ())
            .unwrap(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .unwrap()
            .decrypt_padded_mut::<NoPadding>(data)
            .map(|_| ())
            .unwrap(),
    }
}

/// A randomized CBC batch: `n_keys` keys (alternating AES-128/256) shared by the tickets, mixed
/// lengths 0..=2000 bytes in whole blocks. One key exercises the kernels' uniform-key paths.
struct CbcBatch {
    raw_keys: Vec<Vec<u8>>,
    round_keys: Vec<RoundKeys>,
    key_of: Vec<usize>,
    ivs: Vec<[u8; 16]>,
    data: Vec<Vec<u8>>,
}

impl CbcBatch {
    fn new(kernel: AesKernel, rng: &mut ChaCha8Rng, tickets: usize, n_keys: u32) -> Self {
        let raw_keys: Vec<Vec<u8>> = (0..n_keys).map(|i| random_key(rng, i % 2 == 1)).collect();
        let round_keys = raw_keys
            .iter()
            .map(|k| kernel.aesni().round_keys(k).unwrap())
            .collect();
        let key_of = (0..tickets)
            .map(|_| (rng.next_u32() % n_keys) as usize)
            .collect();
        let ivs = (0..tickets)
            .map(|_| {
                let mut iv = [0u8; 16];
                rng.fill_bytes(&mut iv);
                iv
            })
            .collect();
        let data = (0..tickets)
            .map(|_| {
                // Mostly short tickets (the real workload), some up to 2000 bytes.
                let blocks = if rng.next_u32().is_multiple_of(4) {
                    rng.next_u32() % 126
                } else {
                    rng.next_u32() % 12
                };
                let mut d = vec![0u8; blocks as usize * 16];
                rng.fill_bytes(&mut d);
                d
            })
            .collect();
        Self {
            raw_keys,
            round_keys,
            key_of,
            ivs,
            data,
        }
    }

    fn tickets<'a>(
        round_keys: &'a [RoundKeys],
        key_of: &[usize],
        ivs: &[[u8; 16]],
        data: &'a mut [Vec<u8>],
    ) -> Vec<CbcTicket<'a>> {
        data.iter_mut()
            .enumerate()
            .map(|(i, d)| CbcTicket {
                keys: &round_keys[key_of[i]],
                iv: ivs[i],
                data: d.as_mut_slice(),
            })
            .collect()
    }
}

#[test]
fn cbc_encrypt_many_matches_reference() {
    for kernel in aes_kernels() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (n, n_keys) in batch_sizes(kernel.lanes())
            .into_iter()
            .flat_map(|n| [(n, 1), (n, 2), (n, 5)])
        {
            let mut b = CbcBatch::new(kernel, &mut rng, n, n_keys);
            let mut expect = b.data.clone();
            for (i, d) in expect.iter_mut().enumerate() {
                ref_cbc_encrypt(&b.raw_keys[b.key_of[i]], &b.ivs[i], d);
            }
            let mut tickets = CbcBatch::tickets(&b.round_keys, &b.key_of, &b.ivs, &mut b.data);
            kernel.cbc_encrypt_many(&mut tickets).unwrap();
            drop(tickets);
            assert!(b.data == expect, "{kernel:?}, batch {n}, {n_keys} keys");
        }
    }
}

/// Both decryption entry points on the same batches: out of place (`cbc_decrypt_many_into`,
/// into garbage-filled outputs, so every byte must be written) and in place.
#[test]
fn cbc_decrypt_many_matches_reference() {
    for kernel in aes_kernels() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for (n, n_keys) in batch_sizes(kernel.lanes())
            .into_iter()
            .flat_map(|n| [(n, 1), (n, 2), (n, 5)])
        {
            let mut b = CbcBatch::new(kernel, &mut rng, n, n_keys);
            let mut expect = b.data.clone();
            for (i, d) in expect.iter_mut().enumerate() {
                ref_cbc_decrypt(&b.raw_keys[b.key_of[i]], &b.ivs[i], d);
            }

            let mut out: Vec<Vec<u8>> = b.data.iter().map(|d| vec![0xa5; d.len()]).collect();
            let mut tickets: Vec<CbcDecryptTicket<'_>> = out
                .iter_mut()
                .enumerate()
                .map(|(i, o)| CbcDecryptTicket {
                    keys: &b.round_keys[b.key_of[i]],
                    iv: b.ivs[i],
                    src: &b.data[i],
                    dst: o.as_mut_slice(),
                })
                .collect();
            kernel.cbc_decrypt_many_into(&mut tickets).unwrap();
            drop(tickets);
            assert!(out == expect, "into: {kernel:?}, batch {n}, {n_keys} keys");

            let mut tickets = CbcBatch::tickets(&b.round_keys, &b.key_of, &b.ivs, &mut b.data);
            kernel.cbc_decrypt_many(&mut tickets).unwrap();
            drop(tickets);
            assert!(
                b.data == expect,
                "in place: {kernel:?}, batch {n}, {n_keys} keys"
            );
        }
    }
}

#[test]
fn cbc_decrypt_many_into_refuses_bad_shapes_untouched() {
    for kernel in aes_kernels() {
        let rk = kernel.aesni().round_keys_128(&[7; 16]);
        let src = [1u8; 32];
        for (src_len, dst_len) in [(32, 16), (16, 32), (17, 17), (31, 32)] {
            let mut good = [2u8; 32];
            let mut dst = vec![3u8; dst_len];
            let mut tickets = [
                CbcDecryptTicket {
                    keys: &rk,
                    iv: [0; 16],
                    src: &src,
                    dst: &mut good,
                },
                CbcDecryptTicket {
                    keys: &rk,
                    iv: [0; 16],
                    src: &src[..src_len.min(32)],
                    dst: &mut dst,
                },
            ];
            assert!(kernel.cbc_decrypt_many_into(&mut tickets).is_err());
            assert_eq!(good, [2u8; 32], "{src_len}/{dst_len}: nothing decrypted");
            assert!(dst.iter().all(|&b| b == 3));
        }
    }
}

#[test]
fn cbc_decrypt_single_ticket_every_length() {
    for kernel in aes_kernels() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for long in [false, true] {
            let key = random_key(&mut rng, long);
            let rk = kernel.aesni().round_keys(&key).unwrap();
            for blocks in 0..=40 {
                let mut iv = [0u8; 16];
                rng.fill_bytes(&mut iv);
                let mut data = vec![0u8; blocks * 16];
                rng.fill_bytes(&mut data);
                let mut expect = data.clone();
                ref_cbc_decrypt(&key, &iv, &mut expect);
                kernel.cbc_decrypt(&rk, iv, &mut data).unwrap();
                assert_eq!(data, expect, "{kernel:?}, {blocks} blocks");
            }
        }
    }
}

#[test]
fn cbc_rejects_partial_blocks_untouched() {
    for kernel in aes_kernels() {
        let rk = kernel.aesni().round_keys_128(&[7; 16]);
        let mut good = [1u8; 32];
        let mut bad = [2u8; 17];
        let mut tickets = [
            CbcTicket {
                keys: &rk,
                iv: [0; 16],
                data: &mut good,
            },
            CbcTicket {
                keys: &rk,
                iv: [0; 16],
                data: &mut bad,
            },
        ];
        assert!(kernel.cbc_encrypt_many(&mut tickets).is_err());
        assert!(kernel.cbc_decrypt_many(&mut tickets).is_err());
        assert_eq!(good, [1u8; 32]);
        assert_eq!(bad, [2u8; 17]);
    }
}

/// NIST SP 800-38A, F.2.1-F.2.6 (CBC-AES128/AES256 encrypt and decrypt).
#[test]
fn sp800_38a_cbc_vectors() {
    let iv = hex!("000102030405060708090a0b0c0d0e0f");
    let plain = hex!(
        "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"
    );
    let key128 = hex!("2b7e151628aed2a6abf7158809cf4f3c");
    let cipher128 = hex!(
        "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2"
        "73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7"
    );
    let key256 = hex!("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
    let cipher256 = hex!(
        "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d"
        "39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b"
    );
    for kernel in aes_kernels() {
        let k128 = kernel.aesni().round_keys_128(&key128);
        let k256 = kernel.aesni().round_keys_256(&key256);
        assert_eq!(k128.rounds(), 10);
        assert_eq!(k256.rounds(), 14);
        // Both key sizes in one batch.
        let (mut a, mut b) = (plain, plain);
        let mut tickets = [
            CbcTicket {
                keys: &k128,
                iv,
                data: &mut a,
            },
            CbcTicket {
                keys: &k256,
                iv,
                data: &mut b,
            },
        ];
        kernel.cbc_encrypt_many(&mut tickets).unwrap();
        assert_eq!(a, cipher128);
        assert_eq!(b, cipher256);
        let mut tickets = [
            CbcTicket {
                keys: &k256,
                iv,
                data: &mut b,
            },
            CbcTicket {
                keys: &k128,
                iv,
                data: &mut a,
            },
        ];
        kernel.cbc_decrypt_many(&mut tickets).unwrap();
        assert_eq!(a, plain);
        assert_eq!(b, plain);
    }
}

#[test]
fn round_keys_debug_hides_material() {
    if let Some(kernel) = aes_kernels().first() {
        let s = format!("{:?}", kernel.aesni().round_keys_128(&[0x42; 16]));
        assert_eq!(s, "RoundKeys { rounds: 10, .. }");
    }
}

// ------------------------------------------------------------------------------------------
// HMAC-SHA-256

/// Inner/outer SHA-256 states after the ipad/opad block (RFC 2104 key preparation).
fn hmac_states(key: &[u8]) -> ([u32; 8], [u32; 8]) {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let iv = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let half = |pad: u8| {
        let block: [u8; 64] = core::array::from_fn(|i| k[i] ^ pad);
        let mut s = iv;
        sha2::compress256(&mut s, &[block.into()]);
        s
    };
    (half(0x36), half(0x5c))
}

fn ref_hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256>>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// RFC 4231 section 4, test cases 1-7 (case 5 compares the 128-bit truncation).
#[test]
fn rfc4231_vectors() {
    let cases: [(Vec<u8>, Vec<u8>, Vec<u8>); 7] = [
        (vec![0x0b; 20], b"Hi There".to_vec(), hex!("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7").to_vec()),
        (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(), hex!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843").to_vec()),
        (vec![0xaa; 20], vec![0xdd; 50], hex!("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe").to_vec()),
        (
            hex!("0102030405060708090a0b0c0d0e0f10111213141516171819").to_vec(),
            vec![0xcd; 50],
            hex!("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b").to_vec(),
        ),
        (vec![0x0c; 20], b"Test With Truncation".to_vec(), hex!("a3b6167473100ee06e0c796c2955552b").to_vec()),
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            hex!("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54").to_vec(),
        ),
        (
            vec![0xaa; 131],
            b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
            hex!("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2").to_vec(),
        ),
    ];
    let states: Vec<_> = cases.iter().map(|(k, _, _)| hmac_states(k)).collect();
    let inputs: Vec<HmacInput<'_>> = cases
        .iter()
        .zip(&states)
        .map(|((_, m, _), (i, o))| HmacInput {
            inner: i,
            outer: o,
            msg: m,
        })
        .collect();
    for kernel in mac_kernels() {
        let mut out = vec![[0u8; 32]; inputs.len()];
        kernel.hmac_sha256_many(&inputs, &mut out).unwrap();
        for (i, ((_, _, want), got)) in cases.iter().zip(&out).enumerate() {
            assert_eq!(
                &got[..want.len()],
                &want[..],
                "{kernel:?}, RFC 4231 case {}",
                i + 1
            );
        }
    }
}

#[test]
fn hmac_many_matches_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let keys: Vec<Vec<u8>> = [16usize, 32, 20, 64, 100]
        .iter()
        .map(|&n| {
            let mut k = vec![0u8; n];
            rng.fill_bytes(&mut k);
            k
        })
        .collect();
    let states: Vec<_> = keys.iter().map(|k| hmac_states(k)).collect();
    for kernel in mac_kernels() {
        for n in batch_sizes(kernel.lanes()) {
            let lens: Vec<usize> = (0..n)
                .map(|_| {
                    if rng.next_u32().is_multiple_of(4) {
                        (rng.next_u32() % 2001) as usize
                    } else {
                        (rng.next_u32() % 260) as usize
                    }
                })
                .collect();
            let msgs: Vec<Vec<u8>> = lens
                .iter()
                .map(|&l| {
                    let mut m = vec![0u8; l];
                    rng.fill_bytes(&mut m);
                    m
                })
                .collect();
            let key_of: Vec<usize> = (0..n).map(|_| (rng.next_u32() % 5) as usize).collect();
            let inputs: Vec<HmacInput<'_>> = msgs
                .iter()
                .zip(&key_of)
                .map(|(m, &k)| HmacInput {
                    inner: &states[k].0,
                    outer: &states[k].1,
                    msg: m,
                })
                .collect();
            let mut out = vec![[0u8; 32]; n];
            kernel.hmac_sha256_many(&inputs, &mut out).unwrap();
            for i in 0..n {
                assert_eq!(
                    out[i],
                    ref_hmac(&keys[key_of[i]], &msgs[i]),
                    "{kernel:?}, batch {n}, len {}",
                    lens[i]
                );
            }
        }
    }
}

/// Every length around the SHA-256 padding boundaries (55/56, 63/64, 119/120, ...), in one
/// batch so lanes switch between messages of different block counts.
#[test]
fn hmac_every_padding_boundary() {
    let (inner, outer) = hmac_states(b"boundary key");
    let msg: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
    let lens: Vec<usize> = (0..=260).collect();
    let inputs: Vec<HmacInput<'_>> = lens
        .iter()
        .map(|&l| HmacInput {
            inner: &inner,
            outer: &outer,
            msg: &msg[..l],
        })
        .collect();
    for kernel in mac_kernels() {
        let mut out = vec![[0u8; 32]; inputs.len()];
        kernel.hmac_sha256_many(&inputs, &mut out).unwrap();
        for (&l, got) in lens.iter().zip(&out) {
            assert_eq!(
                *got,
                ref_hmac(b"boundary key", &msg[..l]),
                "{kernel:?}, len {l}"
            );
        }
    }
}

/// Batches whose messages all take the same steps (the SHA-NI lockstep path: one block shape,
/// groups of 4 plus a rest of 1-3), at every batch size up to 9 and lengths around the padding
/// boundaries; then one shape with differing lengths, and one odd shape among many.
#[test]
fn hmac_one_shape_batches() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let keys: Vec<Vec<u8>> = (0..3).map(|i| random_key(&mut rng, i == 1)).collect();
    let states: Vec<_> = keys.iter().map(|k| hmac_states(k)).collect();
    let check = |kernel: MacKernel, lens: &[usize], rng: &mut ChaCha8Rng| {
        let msgs: Vec<Vec<u8>> = lens
            .iter()
            .map(|&l| {
                let mut m = vec![0u8; l];
                rng.fill_bytes(&mut m);
                m
            })
            .collect();
        let key_of: Vec<usize> = (0..lens.len())
            .map(|_| (rng.next_u32() % 3) as usize)
            .collect();
        let inputs: Vec<HmacInput<'_>> = msgs
            .iter()
            .zip(&key_of)
            .map(|(m, &k)| HmacInput {
                inner: &states[k].0,
                outer: &states[k].1,
                msg: m,
            })
            .collect();
        let mut out = vec![[0u8; 32]; lens.len()];
        kernel.hmac_sha256_many(&inputs, &mut out).unwrap();
        for i in 0..lens.len() {
            assert_eq!(
                out[i],
                ref_hmac(&keys[key_of[i]], &msgs[i]),
                "{kernel:?}, lens {lens:?}, message {i}"
            );
        }
    };
    for kernel in mac_kernels() {
        for len in [
            0, 1, 55, 56, 63, 64, 119, 120, 127, 128, 178, 183, 200, 1000,
        ] {
            for n in 0..=9 {
                check(kernel, &vec![len; n], &mut rng);
            }
        }
        // Shape (2 body blocks, 1 padding block) at several lengths; shape (2, 2) at 183.
        check(kernel, &[128, 178, 130, 183 - 8, 150, 160, 177], &mut rng);
        let mut lens = vec![178; 37];
        lens[17] = 183;
        check(kernel, &lens, &mut rng);
    }
}

#[test]
fn hmac_rejects_mismatched_output() {
    let (inner, outer) = hmac_states(b"k");
    let inputs = [HmacInput {
        inner: &inner,
        outer: &outer,
        msg: b"m",
    }];
    for kernel in mac_kernels() {
        let mut out = [[0u8; 32]; 2];
        assert!(kernel.hmac_sha256_many(&inputs, &mut out).is_err());
        assert_eq!(out, [[0u8; 32]; 2]);
    }
}

// ------------------------------------------------------------------------------------------
// Dispatch

#[test]
fn backend_names_round_trip() {
    let available = Backend::available();
    assert_eq!(available.last(), Some(&Backend::Portable));
    assert_eq!(Backend::detect(), available[0]);
    for b in &available {
        assert_eq!(Backend::from_name(b.name()).unwrap(), *b);
        assert!(Backend::ALL_NAMES.contains(&b.name()));
        assert!(b.lanes() >= 1);
        assert_eq!(format!("{b:?}"), format!("Backend({})", b.name()));
    }
    for name in Backend::ALL_NAMES {
        // Known names either resolve or report themselves unavailable.
        if let Err(e) = Backend::from_name(name) {
            assert!(e.to_string().contains(name), "{e}");
        }
    }
    assert!(Backend::from_name("no-such-backend").is_err());
}

#[test]
fn force_switch_overrides_selection() {
    for b in Backend::available() {
        Backend::force(Some(b));
        assert_eq!(Backend::selected().unwrap(), b);
    }
    Backend::force(None);
    // Without TESSERA_BACKEND in the environment, selection is detection.
    if std::env::var("TESSERA_BACKEND").is_err() {
        assert_eq!(Backend::selected().unwrap(), Backend::detect());
    }
}

/// Child half of `env_var_selects_backend`: checks `Backend::selected()` against the
/// environment the parent set. A no-op when run directly.
#[test]
fn env_var_child() {
    let Ok(expect) = std::env::var("TESSERA_TEST_EXPECT") else {
        return;
    };
    let selected = Backend::selected();
    match expect.as_str() {
        "error" => assert!(selected.is_err(), "{selected:?}"),
        name => assert_eq!(selected.unwrap().name(), name),
    }
}

/// `TESSERA_BACKEND` is read by `Backend::selected()`; an unknown name is an error, not a
/// silent fallback. Runs this test binary again with the variable set (the process-wide
/// cache means it cannot be changed in-process).
#[test]
fn env_var_selects_backend() {
    let exe = std::env::current_exe().unwrap();
    let mut cases: Vec<(String, String)> = Backend::available()
        .iter()
        .map(|b| (b.name().to_string(), b.name().to_string()))
        .collect();
    cases.push(("auto".into(), Backend::detect().name().into()));
    cases.push(("no-such-backend".into(), "error".into()));
    for (value, expect) in cases {
        let status = std::process::Command::new(&exe)
            .args(["--exact", "env_var_child", "--test-threads", "1"])
            .env("TESSERA_BACKEND", &value)
            .env("TESSERA_TEST_EXPECT", &expect)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "TESSERA_BACKEND={value}");
    }
}
