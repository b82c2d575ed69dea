//! `tessera`: the ops CLI (keys, seal, open, inspect).
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(2);
}
