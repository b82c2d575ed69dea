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
