//! `tessera`: the ops CLI (keys, seal, open, inspect).
//!
//! Exit codes: 0 success, 1 a ticket was rejected (the reason on stderr), 2 usage or file
//! errors. Nothing here panics on bad input: every failure becomes one of those codes.
#![forbid(unsafe_code)]

mod args;
mod fail;
mod inspect;
mod io;
mod keycmd;
mod ticket;

use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{Cli, Command, KeysCommand};
use crate::fail::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap prints usage errors (exit 2) and --help/--version (exit 0) itself.
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tessera: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Keys { command } => match command {
            KeysCommand::Gen(a) => keycmd::generate(&a),
            KeysCommand::Show(a) => keycmd::show(&a),
            KeysCommand::Convert(a) => keycmd::convert(&a),
        },
        Command::Seal(a) => ticket::seal(&a),
        Command::Open(a) => ticket::open(&a),
        Command::Inspect(a) => inspect::run(&a),
    }
}
