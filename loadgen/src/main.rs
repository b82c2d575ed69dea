//! `loadgen`: resumption storms against tessera (see the library docs).
#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let opts = loadgen::Opts::parse();
    match loadgen::run(opts) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("loadgen: error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
