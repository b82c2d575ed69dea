//! `loadgen`: resumption storms against tessera.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(2);
}
