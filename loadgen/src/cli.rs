//! Command-line options (clap). Every bad value is a clap error: a clear message, exit code 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tessera::TicketFormat;

use crate::mix::Mix;
use crate::storm::Driver;

/// `loadgen`: resumption storms, batch throughput and capacity planning for tessera.
#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen", version, about, long_about = None)]
pub struct Opts {
    /// What to run (default: `storm` with its defaults).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// In-process resumption storm (RFC 5077 section 5.4): honest and forged tickets through
    /// per-core workers, classified as a TLS 1.2 server would.
    Storm(StormArgs),
    /// Raw seal/open throughput of the batch path.
    Throughput(ThroughputArgs),
    /// Cores needed for R resumptions/s with storm fraction F at p99 <= L, from a short
    /// built-in calibration.
    Capacity(CapacityArgs),
}

fn positive_f64(max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |s: &str| {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not a number"))?;
        if v.is_finite() && v > 0.0 && v <= max {
            Ok(v)
        } else {
            Err(format!("must be a number above 0 and at most {max}"))
        }
    }
}

fn fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be a fraction in [0, 1)".into())
    }
}

/// Highest open-loop rate accepted (far above what any machine serves; catches typos).
pub const MAX_RATE: f64 = 1e9;

/// Options of `loadgen storm`.
#[derive(Args, Debug, Clone)]
pub struct StormArgs {
    /// Length of the storm, seconds (a calm run and a calibration run first, see --calm-seconds).
    #[arg(long, default_value_t = 7.0, value_parser = positive_f64(86_400.0), allow_negative_numbers = true)]
    pub seconds: f64,
    /// Worker threads (default: every available core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Open loop at R requests/s in total (default: half the calibrated capacity of the mix).
    #[arg(long, value_parser = positive_f64(MAX_RATE), conflicts_with = "closed", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Closed loop: back-to-back batches, maximum throughput.
    #[arg(long)]
    pub closed: bool,
    /// Traffic mix: CLASS=FRACTION,... summing to 1. Classes: valid, renew, expired, future,
    /// unknown_key, bad_mac, bad_padding, truncated, garbage, oversized.
    #[arg(long, default_value = Mix::DEFAULT_STORM, value_parser = parse_mix)]
    pub mix: Mix,
    /// Ticket format: rfc5077, openssl or aead.
    #[arg(long, default_value = "rfc5077", value_parser = parse_format)]
    pub ticket_format: TicketFormat,
    /// Size of the sealed StatePlaintext, bytes (58, or 60 and more).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub state_bytes: u32,
    /// Largest batch a worker serves at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub batch: u32,
    /// Flush deadline: longest wait of a batch's oldest request for more requests, microseconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub deadline_us: u64,
    /// Rotate the sealing key every S seconds during the storm.
    #[arg(long, value_parser = positive_f64(86_400.0))]
    pub rotate_every: Option<f64>,
    /// Calm baseline (100% valid, same load) length, seconds; 0 skips it
    /// (default: a quarter of --seconds, between 0.25 and 3).
    #[arg(long)]
    pub calm_seconds: Option<f64>,
    /// Seed of the request schedule (default: fixed, so runs are comparable).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Crypto backend: auto (best detected, or TESSERA_BACKEND), portable, or a named SIMD
    /// backend (vaes-shani, aesni-shani, vaes-avx2, aesni-avx2, aesni).
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// How requests reach the workers: through tessera::pool (as an edge server would), or
    /// worker threads generating their own arrivals.
    #[arg(long, value_enum, default_value = "pool")]
    pub driver: Driver,
    /// Network storm against a TLS server on loopback (IP:PORT) instead of in process: real
    /// tickets from full handshakes, then crafted ClientHellos (valid, bad_mac, unknown_key,
    /// truncated, garbage tickets).
    #[arg(long)]
    pub target: Option<String>,
    /// Server name sent in network storms.
    #[arg(long, default_value = "localhost", requires = "target")]
    pub sni: String,
    /// Network storms: crafted ClientHellos per class (upper bound; --seconds bounds time).
    #[arg(long, default_value_t = 200, requires = "target", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub requests: u64,
    /// Network storms: full handshakes run to obtain real tickets.
    #[arg(long, default_value_t = 4, requires = "target", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub tickets: u64,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Print only the JSON (to stdout when --json is not given).
    #[arg(long)]
    pub quiet: bool,
}

impl Default for StormArgs {
    fn default() -> Self {
        let parsed = Opts::try_parse_from(["loadgen", "storm"]).ok();
        match parsed.and_then(|o| o.command) {
            Some(Command::Storm(a)) => a,
            // The defaults above always parse; keep a literal copy as the fallback.
            _ => Self {
                seconds: 7.0,
                threads: None,
                rate: None,
                closed: false,
                mix: Mix::default(),
                ticket_format: TicketFormat::Rfc5077,
                state_bytes: 128,
                batch: 32,
                deadline_us: 20,
                rotate_every: None,
                calm_seconds: None,
                seed: 1,
                backend: "auto".into(),
                driver: Driver::Pool,
                target: None,
                sni: "localhost".into(),
                requests: 200,
                tickets: 4,
                json: None,
                quiet: false,
            },
        }
    }
}

/// Seal or open.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Seal states into tickets.
    Seal,
    /// Open tickets.
    Open,
}

impl Op {
    /// Name in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Seal => "seal",
            Self::Open => "open",
        }
    }
}

/// Options of `loadgen throughput`.
#[derive(Args, Debug, Clone)]
pub struct ThroughputArgs {
    /// Operation to measure.
    #[arg(long, value_enum)]
    pub op: Op,
    /// Ticket format: rfc5077, openssl or aead.
    #[arg(long, default_value = "rfc5077", value_parser = parse_format)]
    pub ticket_format: TicketFormat,
    /// State size, bytes.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(0..=16_384))]
    pub state_bytes: u32,
    /// Tickets per call.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub batch: u32,
    /// Threads, each running its own batches.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
    /// Backend: auto, portable, or a named SIMD backend.
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// Measurement length, seconds (after a short warm-up).
    #[arg(long, default_value_t = 3.0, value_parser = positive_f64(86_400.0))]
    pub seconds: f64,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Options of `loadgen capacity`.
#[derive(Args, Debug, Clone)]
pub struct CapacityArgs {
    /// Honest resumptions per second to serve.
    #[arg(long, default_value_t = 1_000_000.0, value_parser = positive_f64(MAX_RATE))]
    pub resumptions: f64,
    /// Fraction of all requests that are forged (the storm), in [0, 1).
    #[arg(long, default_value_t = 0.5, value_parser = fraction)]
    pub storm_fraction: f64,
    /// Latency objective: p99 at most this many microseconds.
    #[arg(long, default_value_t = 1000.0, value_parser = positive_f64(60e6))]
    pub p99_us: f64,
    /// Ticket format.
    #[arg(long, default_value = "rfc5077", value_parser = parse_format)]
    pub ticket_format: TicketFormat,
    /// State size, bytes.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub state_bytes: u32,
    /// Batch size of the workers.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub batch: u32,
    /// Flush deadline, microseconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub deadline_us: u64,
    /// Crypto backend (auto, portable or a SIMD backend name).
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// Seconds per calibration step.
    #[arg(long, default_value_t = 0.5, value_parser = positive_f64(60.0))]
    pub step_seconds: f64,
    /// Write the JSON answer here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn parse_mix(s: &str) -> Result<Mix, String> {
    s.parse().map_err(|e: crate::mix::MixError| e.to_string())
}

fn parse_format(s: &str) -> Result<TicketFormat, String> {
    s.parse()
        .map_err(|e: tessera::format::ParseTicketFormatError| e.to_string())
}
