//! Shared helpers for the format/KAT integration tests: a reader for the `Name = value`
//! vector files under `tests/vectors/` (records separated by blank lines, `#` comments).
#![allow(dead_code)]

use std::path::PathBuf;

use sha3::Shake128;
use sha3::digest::{ExtendableOutput, Update, XofReader};
use tessera::backend::Backend;
use tessera::backend::hazmat::XaesKey;

/// One record of a vector file.
pub(crate) struct Record {
    pub(crate) fields: Vec<(String, String)>,
}

impl Record {
    pub(crate) fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("field {name} missing in record {:?}", self.fields.first()))
    }

    pub(crate) fn hex(&self, name: &str) -> Vec<u8> {
        hex::decode(self.get(name)).unwrap_or_else(|e| panic!("field {name}: {e}"))
    }
}

pub(crate) fn vectors_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(file)
}

pub(crate) fn parse(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !cur.is_empty() {
                out.push(Record {
                    fields: std::mem::take(&mut cur),
                });
            }
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("bad vector line {line:?}"));
        cur.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    if !cur.is_empty() {
        out.push(Record { fields: cur });
    }
    out
}

pub(crate) fn load(file: &str) -> Vec<Record> {
    let text =
        std::fs::read_to_string(vectors_path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let records = parse(&text);
    assert!(!records.is_empty(), "{file} has no vectors");
    records
}

use tessera::{CipherKind, TicketKey};

/// Deterministic test keys: name 00..0f; AES-128 key 10..1f with HMAC key 20..2f (an nginx
/// 48-byte key file), or AES-256 key 40..5f with HMAC key 60..7f (an 80-byte one).
pub(crate) fn key_parts(cipher: CipherKind) -> ([u8; 16], Vec<u8>, Vec<u8>) {
    let name: [u8; 16] = core::array::from_fn(|i| i as u8);
    match cipher {
        CipherKind::Aes128 => (name, (0x10..0x20).collect(), (0x20..0x30).collect()),
        CipherKind::Aes256 => (name, (0x40..0x60).collect(), (0x60..0x80).collect()),
    }
}

pub(crate) fn test_key(cipher: CipherKind) -> TicketKey {
    let (name, aes, hmac) = key_parts(cipher);
    TicketKey::new(name, &aes, &hmac).unwrap()
}

pub(crate) const CIPHERS: [CipherKind; 2] = [CipherKind::Aes128, CipherKind::Aes256];

/// A deterministic state of `len` bytes.
pub(crate) fn state(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// C2SP XAES-256-GCM "Accumulated randomized tests": key, nonce, plaintext and AAD read from
/// one SHAKE128 stream (empty input), every ciphertext||tag absorbed into a second SHAKE128,
/// 32 bytes of whose output must equal the published value for 10,000 iterations; each
/// message must also open back to its plaintext. `backend`: `None` runs `XaesKey::seal` /
/// `open`, `Some(b)` runs `seal_with(b)` / `open_with(b)`.
pub(crate) fn xaes_accumulated_10k(backend: Option<Backend>) {
    let mut source = Shake128::default().finalize_xof();
    let mut sink = Shake128::default();
    for _ in 0..10_000 {
        let mut key = [0u8; 32];
        let mut nonce = [0u8; 24];
        let mut len = [0u8; 1];
        source.read(&mut key);
        source.read(&mut nonce);
        source.read(&mut len);
        let mut pt = vec![0u8; usize::from(len[0])];
        source.read(&mut pt);
        source.read(&mut len);
        let mut aad = vec![0u8; usize::from(len[0])];
        source.read(&mut aad);

        let xaes = XaesKey::new(&key);
        let mut buf = pt.clone();
        let tag = match backend {
            Some(b) => xaes.seal_with(b, &nonce, &aad, &mut buf),
            None => xaes.seal(&nonce, &aad, &mut buf),
        };
        sink.update(&buf);
        sink.update(&tag);
        match backend {
            Some(b) => xaes.open_with(b, &nonce, &aad, &mut buf, &tag),
            None => xaes.open(&nonce, &aad, &mut buf, &tag),
        }
        .unwrap();
        assert_eq!(buf, pt);
    }
    let mut out = [0u8; 32];
    sink.finalize_xof().read(&mut out);
    assert_eq!(
        hex::encode(out),
        "e6b9edf2df6cec60c8cbd864e2211b597fb69a529160cd040d56c0c210081939"
    );
}
