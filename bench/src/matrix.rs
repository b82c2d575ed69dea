//! What a bench run covers. `TESSERA_BENCH_MODE` picks it (`scripts/bench.py` sets it):
//!
//! | mode     | state sizes (bytes) | batch sizes              | backends          |
//! |----------|---------------------|--------------------------|-------------------|
//! | `quick`  | 128                 | 1, 1024                  | best + portable   |
//! | `medium` | 64, 128, 256, 1024  | 1, 8, 64, 1024, 16384    | best + portable   |
//! | `full`   | 64, 128, 256, 1024  | 1, 8, 64, 1024, 16384    | every one the CPU has |
//!
//! Unset means `full`. Timing (warm-up, measurement) is criterion's own command line.
//! The batch sweep (every batch size) runs for the primary case (rfc5077, 128-byte state);
//! other formats and sizes run at batch 1024, the size the targets are stated at.

use tessera::backend::Backend;

use crate::fixtures::{PRIMARY_STATE, STATE_SIZES};

/// The batch size the targets are stated at (issue 5).
pub const TARGET_BATCH: usize = 1024;

/// Environment variable selecting the run size.
pub const MODE_VAR: &str = "TESSERA_BENCH_MODE";

/// The sizes, batches and backends one run measures.
#[derive(Clone, Debug)]
pub struct Matrix {
    /// `quick`, `medium` or `full`.
    pub mode: &'static str,
    /// State sizes in bytes.
    pub sizes: Vec<usize>,
    /// Tickets per `seal_many`/`open_many` call in the batch sweep.
    pub batches: Vec<usize>,
    /// Backends forced through [`tessera::Ticketer::with_backend`], best first.
    pub backends: Vec<Backend>,
}

impl Matrix {
    /// The matrix named by `TESSERA_BENCH_MODE` (default `full`; an unknown name panics, so a
    /// typo never silently measures something else).
    pub fn from_env() -> Self {
        let mode = std::env::var(MODE_VAR).unwrap_or_else(|_| "full".to_owned());
        Self::named(&mode)
            .unwrap_or_else(|| panic!("{MODE_VAR}={mode}: expected quick, medium or full"))
    }

    /// The matrix called `mode`.
    pub fn named(mode: &str) -> Option<Self> {
        let available = Backend::available();
        let best_and_portable = || {
            let mut v = vec![Backend::detect()];
            if !v.contains(&Backend::Portable) {
                v.push(Backend::Portable);
            }
            v
        };
        let all_batches = vec![1, 8, 64, 1024, 16384];
        Some(match mode {
            "quick" => Self {
                mode: "quick",
                sizes: vec![PRIMARY_STATE],
                batches: vec![1, TARGET_BATCH],
                backends: best_and_portable(),
            },
            "medium" => Self {
                mode: "medium",
                sizes: STATE_SIZES.to_vec(),
                batches: all_batches,
                backends: best_and_portable(),
            },
            "full" => Self {
                mode: "full",
                sizes: STATE_SIZES.to_vec(),
                batches: all_batches,
                backends: available,
            },
            _ => return None,
        })
    }

    /// The best backend of the run (what `Backend::detect` picks).
    pub fn best(&self) -> Backend {
        self.backends.first().copied().unwrap_or(Backend::Portable)
    }

    /// Best and portable only (other formats and sizes are measured on these two).
    pub fn best_and_portable(&self) -> Vec<Backend> {
        let mut v = vec![self.best()];
        if !v.contains(&Backend::Portable) {
            v.push(Backend::Portable);
        }
        v
    }
}

/// A benchmark's function id: `{impl}/{format}/{backend}` (the parameter is the batch size, the
/// group `{op}/{state}B`). `scripts/bench.py` splits ids on `/`, so no part may contain one.
pub fn bench_id(imp: &str, format: &str, backend: &str) -> String {
    debug_assert!(![imp, format, backend].iter().any(|p| p.contains('/')));
    format!("{imp}/{format}/{backend}")
}

/// The pseudo-backend of tessera's single-ticket API (`Ticketer::seal_append`/`open_at`):
/// one ticket per call through the portable code, whatever the CPU has.
pub const SINGLE: &str = "single";

/// Backend label of the peers (they pick their own code paths).
pub const OWN: &str = "own";

/// Environment variable naming a file the `peers` bench writes [`machine_json`] to.
pub const MACHINE_VAR: &str = "TESSERA_BENCH_MACHINE";

/// What the engine sees on this machine, as JSON: the backend `Backend::detect` picks, every
/// backend available, the run's mode and the OpenSSL version linked.
pub fn machine_json(m: &Matrix) -> String {
    let names: Vec<String> = Backend::available()
        .iter()
        .map(|b| format!("\"{}\"", b.name()))
        .collect();
    let run: Vec<String> = m
        .backends
        .iter()
        .map(|b| format!("\"{}\"", b.name()))
        .collect();
    format!(
        "{{\"backend\": \"{}\", \"backends_available\": [{}], \"backends_run\": [{}], \"mode\": \"{}\", \"openssl\": \"{}\"}}\n",
        Backend::detect().name(),
        names.join(", "),
        run.join(", "),
        m.mode,
        crate::peers::OpensslEvp::version(),
    )
}

/// Writes [`machine_json`] to the file named by `TESSERA_BENCH_MACHINE`, if set.
pub fn write_machine_file(m: &Matrix) {
    if let Ok(path) = std::env::var(MACHINE_VAR)
        && let Err(e) = std::fs::write(&path, machine_json(m))
    {
        eprintln!("{MACHINE_VAR}={path}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_nest() {
        let quick = Matrix::named("quick").unwrap();
        let full = Matrix::named("full").unwrap();
        assert!(quick.sizes.iter().all(|s| full.sizes.contains(s)));
        assert!(quick.batches.contains(&TARGET_BATCH));
        assert_eq!(full.backends.last(), Some(&Backend::Portable));
        assert_eq!(full.best(), Backend::detect());
        assert!(Matrix::named("fast").is_none());
        assert!(machine_json(&full).contains(Backend::detect().name()));
    }
}
