//! Shared helpers for the format/KAT integration tests: a reader for the `Name = value`
//! vector files under `tests/vectors/` (records separated by blank lines, `#` comments).
#![allow(dead_code)]

use std::path::PathBuf;

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
