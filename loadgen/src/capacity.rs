//! `loadgen capacity`: how many cores serve R honest resumptions/s when a fraction F of all
//! requests is forged, with p99 <= L, from a short built-in calibration (the same model as
//! `scripts/capacity.py`, which measures more and confirms its answer with a storm).
//!
//! Model:
//! 1. Traffic: total rate `Λ = R / (1 - F)`, mix [`Mix::with_storm_fraction`]`(F)`.
//! 2. Cost: each class alone, closed loop, one thread, gives CPU ns per ticket `c_k`; the mix
//!    costs `Σ f_k c_k`. One thread serving the mix closed loop gives `X1` tickets/s (wall).
//! 3. Latency: one worker in open loop at `u * X1` for a few loads `u`; `u_max` is the highest
//!    load whose p99 met the objective (linear interpolation between the last pass and the
//!    first miss).
//! 4. Scaling: the mix closed loop on every core gives efficiency `e = X_all / (cores * X1)`.
//! 5. Answer: `cores = ceil(Λ / (u_max * e * X1))`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::LoadgenError;
use crate::cli::CapacityArgs;
use crate::corpus::Corpus;
use crate::machine;
use crate::mix::{Class, Mix};
use crate::report::calibrate;
use crate::storm::{Driver, Load, PhaseConfig, run_phase};

/// Schema identifier of the capacity report.
pub const CAPACITY_SCHEMA: &str = "tessera-loadgen-capacity/1";

/// Loads (fractions of one worker's closed-loop throughput) tried for the latency curve.
pub const UTILIZATIONS: [f64; 6] = [0.2, 0.4, 0.6, 0.75, 0.85, 0.95];

/// Highest load meeting `p99 <= limit` on the measured `(load, p99)` curve (sorted by load):
/// interpolated between the last pass and the first miss; 0 if the lightest load misses.
pub fn max_load_within(curve: &[(f64, f64)], limit: f64) -> f64 {
    let mut best = 0.0;
    let mut prev: Option<(f64, f64)> = None;
    for &(u, p99) in curve {
        if p99 <= limit {
            best = u;
            prev = Some((u, p99));
        } else {
            if let Some((u0, p0)) = prev
                && p99 > p0
            {
                best = u0 + (u - u0) * (limit - p0) / (p99 - p0);
            }
            break;
        }
    }
    best
}

/// Runs the calibration, prints the answer, returns the JSON report.
pub fn run(args: &CapacityArgs) -> Result<Value, LoadgenError> {
    let mix = Mix::with_storm_fraction(args.storm_fraction)
        .map_err(|e| LoadgenError::usage(e.to_string()))?;
    let corpus = Arc::new(Corpus::prepare(
        args.ticket_format,
        args.state_bytes as usize,
        tessera::unix_now(),
    )?);
    let backend = crate::resolve_backend(&args.backend)?;
    let batch = args.batch as usize;
    let deadline = Duration::from_micros(args.deadline_us);
    let step = args.step_seconds;
    let cores = machine::cores();
    let phase = |threads: usize, load: Load| PhaseConfig {
        seconds: step,
        threads,
        load,
        mix,
        batch,
        deadline,
        rotate_every: None,
        seed: 11,
        driver: Driver::Pool,
        backend,
    };
    eprintln!(
        "calibrating ({:.0} s)...",
        step * (0.2 * 10.0 + 2.0 + UTILIZATIONS.len() as f64) + 1.0
    );
    let cal = calibrate(&corpus, batch, (step * 0.2).max(0.02), backend)?;
    let x1 = run_phase(&corpus, &phase(1, Load::Closed), None)?.throughput();
    let xall = run_phase(&corpus, &phase(cores, Load::Closed), None)?.throughput();
    let efficiency = (xall / (cores as f64 * x1)).clamp(0.05, 1.0);
    let limit_ns = args.p99_us * 1000.0;
    let mut curve = Vec::new();
    let mut steps = Vec::new();
    for u in UTILIZATIONS {
        let r = run_phase(&corpus, &phase(1, Load::Rate(u * x1)), None)?;
        let h = r.stats.overall_latency();
        let p99 = h.value_at_quantile(0.99) as f64;
        steps.push(json!({
            "utilization": u, "rate": u * x1, "p99_ns": p99,
            "throughput_per_sec": r.throughput(),
            "unserved": r.stats.unserved.iter().sum::<u64>(),
            "mean_batch": r.stats.served() as f64 / r.stats.batches.max(1) as f64,
        }));
        curve.push((u, p99));
        if p99 > limit_ns {
            break;
        }
    }
    let u_max = max_load_within(&curve, limit_ns);
    let total_rate = args.resumptions / (1.0 - args.storm_fraction);
    let per_core = u_max * efficiency * x1;
    let needed = if per_core > 0.0 {
        Some((total_rate / per_core).ceil().max(1.0) as u64)
    } else {
        None
    };
    let mut class_costs = Map::new();
    for c in Class::ALL {
        class_costs.insert(c.as_str().to_owned(), json!(cal.cpu_ns[c.index()]));
    }
    match needed {
        Some(n) => println!(
            "{n} cores for {:.0} resumptions/s with {:.0}% forged ({:.0} requests/s) at p99 <= {} us \
             [{} {}-byte, batch {}, deadline {} us; per core {:.0}/s at {:.0}% load; mix {:.0} ns CPU/ticket; \
             {cores}-core scaling {:.0}%]",
            args.resumptions,
            args.storm_fraction * 100.0,
            total_rate,
            args.p99_us,
            args.ticket_format,
            args.state_bytes,
            batch,
            args.deadline_us,
            per_core,
            u_max * 100.0,
            cal.mix_cost(&mix),
            efficiency * 100.0,
        ),
        None => println!(
            "p99 <= {} us is not reachable with batch {} and deadline {} us: p99 at {:.0}% load was {:.0} us",
            args.p99_us,
            batch,
            args.deadline_us,
            UTILIZATIONS[0] * 100.0,
            curve.first().map_or(0.0, |c| c.1 / 1000.0),
        ),
    }
    Ok(json!({
        "schema": CAPACITY_SCHEMA,
        "inputs": {
            "resumptions_per_sec": args.resumptions,
            "storm_fraction": args.storm_fraction,
            "p99_us": args.p99_us,
            "ticket_format": args.ticket_format.as_str(),
            "state_bytes": args.state_bytes,
            "batch": batch,
            "deadline_us": args.deadline_us,
            "backend": backend.name(),
        },
        "mix": mix.to_string(),
        "cpu_ns_per_ticket": {"classes": class_costs, "mix": cal.mix_cost(&mix)},
        "single_thread_closed_per_sec": x1,
        "all_cores_closed_per_sec": xall,
        "scaling_efficiency": efficiency,
        "max_utilization": u_max,
        "per_core_capacity_per_sec": per_core,
        "total_rate_per_sec": total_rate,
        "cores": needed,
        "steps": steps,
        "machine": machine::machine(backend.name()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_the_crossing() {
        let curve = [(0.2, 100.0), (0.4, 200.0), (0.6, 1000.0)];
        assert!((max_load_within(&curve, 600.0) - 0.5).abs() < 1e-9);
        assert_eq!(max_load_within(&curve, 50.0), 0.0);
        assert_eq!(max_load_within(&curve, 5000.0), 0.6);
    }
}
