//! `loadgen`: resumption storms (RFC 5077 section 5.4), batch throughput and capacity planning
//! for tessera. The binary is a thin wrapper over [`run`].
//!
//! Modules by concern: [`cli`] (options), [`mix`] (classes and mixes), [`corpus`] (keys and
//! prepared tickets), [`edge`] (the server's per-ticket work and counters), [`storm`] (open and
//! closed loop drivers), [`report`] (storm reports), [`net`] (network storms against a TLS
//! server on loopback), [`throughput`], [`capacity`], [`machine`].
#![forbid(unsafe_code)]

pub mod capacity;
pub mod cli;
pub mod corpus;
pub mod edge;
pub mod machine;
pub mod mix;
pub mod net;
pub mod report;
pub mod storm;
pub mod throughput;

use core::fmt;
use std::path::Path;

pub use cli::{Command, Opts, StormArgs};

/// What can go wrong. `Usage` exits with 2 (like clap's own errors), `Runtime` with 1.
#[derive(Debug)]
pub enum LoadgenError {
    /// A bad option value the parser could not catch alone.
    Usage(String),
    /// A failure while running.
    Runtime(String),
}

impl LoadgenError {
    /// A usage error.
    pub fn usage(msg: impl Into<String>) -> Self {
        Self::Usage(msg.into())
    }

    /// A runtime error from the engine.
    pub fn engine(e: tessera::Error) -> Self {
        Self::Runtime(e.to_string())
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) => 2,
            Self::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for LoadgenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) | Self::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for LoadgenError {}

/// The backend a `--backend` value names: `auto` = [`tessera::backend::Backend::selected`] (which honours
/// `TESSERA_BACKEND`), otherwise that backend if this CPU has it. Errors are usage errors that
/// list what is available.
pub fn resolve_backend(name: &str) -> Result<tessera::backend::Backend, LoadgenError> {
    use tessera::backend::Backend;
    let available = || {
        Backend::available()
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let r = if name == "auto" {
        Backend::selected()
    } else {
        Backend::from_name(name)
    };
    r.map_err(|e| {
        LoadgenError::usage(format!(
            "--backend {name}: {e} (available here: auto, {})",
            available()
        ))
    })
}

/// Writes a JSON report (pretty, newline-terminated).
pub fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), LoadgenError> {
    let mut s =
        serde_json::to_string_pretty(v).map_err(|e| LoadgenError::Runtime(e.to_string()))?;
    s.push('\n');
    std::fs::write(path, s)
        .map_err(|e| LoadgenError::Runtime(format!("writing {}: {e}", path.display())))
}

/// Runs a parsed command line. Returns the process exit code on success paths too (a storm
/// with false accepts exits 3, so CI fails loudly).
pub fn run(opts: Opts) -> Result<i32, LoadgenError> {
    match opts
        .command
        .unwrap_or_else(|| Command::Storm(StormArgs::default()))
    {
        Command::Storm(args) if args.target.is_some() => {
            let target = args.target.as_deref().unwrap_or_default();
            let (mut json, text) = net::run(
                target,
                &args.sni,
                args.tickets as usize,
                args.requests,
                args.seconds,
            )?;
            json["machine"] = machine::machine(resolve_backend(&args.backend)?.name());
            if let Some(p) = &args.json {
                write_json(p, &json)?;
            }
            if !args.quiet {
                print!("{text}");
            } else if args.json.is_none() {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json).unwrap_or_default()
                );
            }
            Ok(if json["false_accepts"] == 0 { 0 } else { 3 })
        }
        Command::Storm(args) => {
            let out = report::run_storm(&args)?;
            if let Some(p) = &args.json {
                write_json(p, &out.json)?;
            }
            if args.quiet {
                if args.json.is_none() {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&out.json).unwrap_or_default()
                    );
                }
            } else {
                print!("{}", out.text);
                if let Some(p) = &args.json {
                    println!("JSON report: {}", p.display());
                }
            }
            Ok(if out.false_accepts == 0 { 0 } else { 3 })
        }
        Command::Throughput(args) => {
            let v = throughput::run(&args)?;
            if let Some(p) = &args.json {
                write_json(p, &v)?;
            }
            Ok(0)
        }
        Command::Capacity(args) => {
            let v = capacity::run(&args)?;
            if let Some(p) = &args.json {
                write_json(p, &v)?;
            }
            Ok(0)
        }
    }
}
