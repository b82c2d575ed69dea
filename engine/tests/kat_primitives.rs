//! Known-answer tests of the portable primitives behind the ticket formats:
//! NIST SP 800-38A (CBC), RFC 4231 (HMAC-SHA-256), the GCM specification (AES-256-GCM) and
//! C2SP XAES-256-GCM (two vectors plus the accumulated 10,000-iteration vector).
//! Vector files and their sources: `tests/vectors/*.txt`.

mod common;

use aes::cipher::KeyInit;
use tessera::backend::hazmat::{
    BadTag, XaesKey, cbc_decrypt, cbc_encrypt, gcm_open, gcm_seal, hmac_sha256, hmac_states,
    tags_equal,
};

fn cbc_case(key: &[u8], iv: &[u8; 16], pt: &[u8], ct: &[u8]) {
    macro_rules! with {
        ($c:ty) => {{
            let c = <$c>::new_from_slice(key).unwrap();
            let mut buf = pt.to_vec();
            cbc_encrypt(&c, iv, &mut buf);
            assert_eq!(buf, ct, "encrypt");
            cbc_decrypt(&c, iv, &mut buf);
            assert_eq!(buf, pt, "decrypt");
            // Every block-prefix too (the decryptor works eight blocks at a time).
            for blocks in 0..pt.len() / 16 {
                let mut b = ct[..blocks * 16].to_vec();
                cbc_decrypt(&c, iv, &mut b);
                assert_eq!(b, &pt[..blocks * 16]);
            }
        }};
    }
    match key.len() {
        16 => with!(aes::Aes128),
        24 => with!(aes::Aes192),
        32 => with!(aes::Aes256),
        n => panic!("key length {n}"),
    }
}

#[test]
fn sp800_38a_cbc_f2_1_to_f2_6() {
    let records = common::load("sp800_38a_cbc.txt");
    assert_eq!(records.len(), 3);
    for r in records {
        let iv: [u8; 16] = r.hex("IV").try_into().unwrap();
        cbc_case(
            &r.hex("Key"),
            &iv,
            &r.hex("Plaintext"),
            &r.hex("Ciphertext"),
        );
    }
}

#[test]
fn rfc4231_hmac_sha256_cases_1_to_7() {
    let records = common::load("rfc4231_hmac_sha256.txt");
    assert_eq!(records.len(), 7);
    for r in records {
        let (inner, outer) = hmac_states(&r.hex("Key"));
        let data = r.hex("Data");
        let want = r.hex("Mac");
        let got = hmac_sha256(&inner, &outer, &[&data]);
        assert_eq!(&got[..want.len()], &want[..], "{}", r.get("Name"));
        assert!(tags_equal(&got[..want.len()], &want));
        // Split input gives the same MAC.
        let (a, b) = data.split_at(data.len() / 2);
        assert_eq!(hmac_sha256(&inner, &outer, &[a, b]), got);
        let mut flipped = want.clone();
        flipped[0] ^= 1;
        assert!(!tags_equal(&got[..want.len()], &flipped));
    }
}

#[test]
fn gcm_spec_aes256_cases_13_to_16() {
    let records = common::load("gcm_spec_aes256.txt");
    assert_eq!(records.len(), 4);
    for r in records {
        let name = r.get("Name");
        let c = aes::Aes256::new_from_slice(&r.hex("Key")).unwrap();
        let iv: [u8; 12] = r.hex("IV").try_into().unwrap();
        let (pt, aad, ct) = (r.hex("Plaintext"), r.hex("AAD"), r.hex("Ciphertext"));
        let tag: [u8; 16] = r.hex("Tag").try_into().unwrap();
        let mut buf = pt.clone();
        assert_eq!(gcm_seal(&c, &iv, &aad, &mut buf), tag, "{name} tag");
        assert_eq!(buf, ct, "{name} ct");
        gcm_open(&c, &iv, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, pt, "{name} open");
        // A wrong tag leaves the ciphertext untouched.
        let mut bad = tag;
        bad[15] ^= 0x80;
        let mut buf = ct.clone();
        assert_eq!(gcm_open(&c, &iv, &aad, &mut buf, &bad), Err(BadTag));
        assert_eq!(buf, ct);
    }
}

#[test]
fn xaes_256_gcm_c2sp_vectors() {
    let records = common::load("xaes_256_gcm.txt");
    assert_eq!(records.len(), 2);
    for r in records {
        let key = XaesKey::new(&r.hex("Key").try_into().unwrap());
        let nonce: [u8; 24] = r.hex("Nonce").try_into().unwrap();
        let (pt, aad, ct) = (r.hex("Plaintext"), r.hex("AAD"), r.hex("Ciphertext"));
        let tag: [u8; 16] = r.hex("Tag").try_into().unwrap();
        let mut buf = pt.clone();
        assert_eq!(key.seal(&nonce, &aad, &mut buf), tag);
        assert_eq!(buf, ct);
        key.open(&nonce, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, pt);
        let mut other = nonce;
        other[0] ^= 1; // the key-derivation half
        assert_eq!(key.open(&other, &aad, &mut ct.clone(), &tag), Err(BadTag));
        let mut other = nonce;
        other[23] ^= 1; // the GCM half
        assert_eq!(key.open(&other, &aad, &mut ct.clone(), &tag), Err(BadTag));
    }
}

/// C2SP XAES-256-GCM "Accumulated randomized tests": key, nonce, plaintext and AAD read from
/// one SHAKE128 stream (empty input), every ciphertext||tag absorbed into a second SHAKE128,
/// 32 bytes of whose output must equal the published value for 10,000 iterations.
#[test]
fn xaes_accumulated_10k() {
    common::xaes_accumulated_10k(None);
}
