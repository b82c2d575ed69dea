//! `loadgen storm`: calibration (each class alone, then the mix closed loop on all threads), calm
//! baseline, storm; the text table and the JSON report
//! (schema in `loadgen/SCHEMA.md`).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value, json};
use tessera::RejectReason;
use tessera::backend::Backend;

use crate::LoadgenError;
use crate::cli::StormArgs;
use crate::corpus::Corpus;
use crate::edge::{REASONS, Stats};
use crate::machine;
use crate::mix::{Class, Mix};
use crate::storm::{Driver, Load, PhaseConfig, PhaseResult, run_phase};

/// Schema identifier written into every storm report.
pub const STORM_SCHEMA: &str = "tessera-loadgen-storm/1";

/// Per-class CPU cost measured alone, closed loop, one thread.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// Seconds per class.
    pub seconds: f64,
    /// Thread CPU ns per ticket, per class ([`Class::ALL`] order).
    pub cpu_ns: [f64; Class::COUNT],
    /// Wall ns per ticket, per class.
    pub wall_ns: [f64; Class::COUNT],
}

impl Calibration {
    /// CPU ns per ticket of a mix (the fraction-weighted class costs).
    pub fn mix_cost(&self, mix: &Mix) -> f64 {
        Class::ALL
            .iter()
            .map(|c| mix.fraction(*c) * self.cpu_ns[c.index()])
            .sum()
    }

    /// Requests/s `threads` cores sustain on `mix` at full load.
    pub fn capacity(&self, mix: &Mix, threads: usize) -> f64 {
        let cost = self.mix_cost(mix);
        if cost > 0.0 {
            threads as f64 * 1e9 / cost
        } else {
            0.0
        }
    }
}

/// Measures every class alone (closed loop, one worker, `batch`), `seconds` each, with the
/// direct driver: the server code's own cost, without the pool's queues.
pub fn calibrate(
    corpus: &Arc<Corpus>,
    batch: usize,
    seconds: f64,
    backend: Backend,
) -> Result<Calibration, LoadgenError> {
    let mut cal = Calibration {
        seconds,
        cpu_ns: [0.0; Class::COUNT],
        wall_ns: [0.0; Class::COUNT],
    };
    for c in Class::ALL {
        let cfg = PhaseConfig {
            seconds,
            threads: 1,
            load: Load::Closed,
            mix: Mix::only(c),
            batch,
            deadline: Duration::ZERO,
            rotate_every: None,
            seed: 7,
            driver: Driver::Direct,
            backend,
        };
        let r = run_phase(corpus, &cfg, None)?;
        let n = r.stats.served().max(1) as f64;
        cal.cpu_ns[c.index()] = r.stats.cpu_ns as f64 / n;
        cal.wall_ns[c.index()] = r.wall.as_nanos() as f64 / n;
    }
    Ok(cal)
}

fn latency_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"p50": 0, "p90": 0, "p99": 0, "p999": 0, "max": 0, "mean": 0.0, "count": 0});
    }
    json!({
        "p50": h.value_at_quantile(0.5),
        "p90": h.value_at_quantile(0.9),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
        "mean": h.mean(),
        "count": h.len(),
    })
}

fn rejected_json(r: &[u64; REASONS]) -> Value {
    let mut m = Map::new();
    for (reason, n) in RejectReason::ALL.iter().zip(r) {
        m.insert(reason.as_str().to_owned(), json!(n));
    }
    Value::Object(m)
}

fn mix_json(mix: &Mix) -> Value {
    let mut m = Map::new();
    for c in Class::ALL {
        m.insert(c.as_str().to_owned(), json!(mix.fraction(c)));
    }
    Value::Object(m)
}

fn classes_json(stats: &Stats, cal: &Calibration) -> Value {
    let mut m = Map::new();
    for c in Class::ALL {
        let s = &stats.classes[c.index()];
        let unserved = stats.unserved[c.index()];
        m.insert(
            c.as_str().to_owned(),
            json!({
                "offered": s.offered + unserved,
                "served": s.offered,
                "unserved": unserved,
                "accepted": s.accepted,
                "renewed": s.renewed,
                "rejected": rejected_json(&s.rejected),
                "false_accepts": s.false_accepts,
                "false_rejects": s.false_rejects,
                "unexpected_reason": s.unexpected_reason,
                "cpu_ns_per_ticket": cal.cpu_ns[c.index()],
                "cpu_s_per_million": cal.cpu_ns[c.index()] / 1000.0,
                "latency_ns": latency_json(&s.latency),
            }),
        );
    }
    Value::Object(m)
}

fn phase_json(r: &PhaseResult) -> Value {
    let valid = &r.stats.classes[Class::Valid.index()];
    json!({
        "wall_s": r.wall.as_secs_f64(),
        "served": r.stats.served(),
        "unserved": r.stats.unserved.iter().sum::<u64>(),
        "throughput_per_sec": r.throughput(),
        "goodput_per_sec": r.goodput(),
        "false_accepts": r.stats.false_accepts(),
        "cpu_ns_per_ticket": r.stats.cpu_ns as f64 / r.stats.served().max(1) as f64,
        "latency_ns": latency_json(&r.stats.overall_latency()),
        "valid_latency_ns": latency_json(&valid.latency),
    })
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn reasons_text(r: &[u64; REASONS]) -> String {
    let parts: Vec<String> = RejectReason::ALL
        .iter()
        .zip(r)
        .filter(|(_, n)| **n > 0)
        .map(|(reason, n)| format!("{reason}:{n}"))
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

/// The text table.
fn table(stats: &Stats, cal: &Calibration) -> String {
    let mut out = format!(
        "{:<12} {:>10} {:>10} {:>9} {:>10} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9}  {}\n",
        "class",
        "offered",
        "accepted",
        "renewed",
        "rejected",
        "false",
        "cpu_ns",
        "p50_us",
        "p99_us",
        "p99.9_us",
        "max_us",
        "reasons"
    );
    for c in Class::ALL {
        let s = &stats.classes[c.index()];
        let offered = s.offered + stats.unserved[c.index()];
        if offered == 0 {
            continue;
        }
        let h = &s.latency;
        out += &format!(
            "{:<12} {:>10} {:>10} {:>9} {:>10} {:>6} {:>8.0} {:>9} {:>9} {:>9} {:>9}  {}\n",
            c.as_str(),
            offered,
            s.accepted,
            s.renewed,
            s.rejected.iter().sum::<u64>(),
            s.false_accepts,
            cal.cpu_ns[c.index()],
            us(h.value_at_quantile(0.5)),
            us(h.value_at_quantile(0.99)),
            us(h.value_at_quantile(0.999)),
            us(h.max()),
            reasons_text(&s.rejected),
        );
    }
    let h = stats.overall_latency();
    let total: u64 = stats.served() + stats.unserved.iter().sum::<u64>();
    out += &format!(
        "{:<12} {:>10} {:>10} {:>9} {:>10} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9}\n",
        "all",
        total,
        stats.classes.iter().map(|c| c.accepted).sum::<u64>(),
        stats.classes.iter().map(|c| c.renewed).sum::<u64>(),
        stats
            .classes
            .iter()
            .map(|c| c.rejected.iter().sum::<u64>())
            .sum::<u64>(),
        stats.false_accepts(),
        "",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max()),
    );
    out
}

/// Result of `loadgen storm`.
pub struct StormOutcome {
    /// The JSON report.
    pub json: Value,
    /// The text report.
    pub text: String,
    /// False accepts of the storm (must be 0).
    pub false_accepts: u64,
}

/// Runs calibration, the calm baseline and the storm, and builds the reports.
pub fn run_storm(args: &StormArgs) -> Result<StormOutcome, LoadgenError> {
    let rss_start = machine::rss_bytes();
    let threads = args.threads.map_or_else(machine::cores, usize::from);
    let batch = args.batch as usize;
    let corpus = Arc::new(Corpus::prepare(
        args.ticket_format,
        args.state_bytes as usize,
        tessera::unix_now(),
    )?);
    let calm_seconds = match args.calm_seconds {
        Some(s) if s.is_finite() && s >= 0.0 => s,
        Some(_) => return Err(LoadgenError::usage("--calm-seconds must be 0 or more")),
        None => (args.seconds / 4.0).clamp(0.25, 3.0),
    };
    let backend = crate::resolve_backend(&args.backend)?;
    let cal = calibrate(
        &corpus,
        batch,
        (args.seconds * 0.01).clamp(0.02, 0.3),
        backend,
    )?;
    let deadline = Duration::from_micros(args.deadline_us);
    // What the mix really reaches on all threads (shared caches, SMT, other load included).
    let probe = run_phase(
        &corpus,
        &PhaseConfig {
            seconds: (args.seconds * 0.03).clamp(0.05, 0.5),
            threads,
            load: Load::Closed,
            mix: args.mix,
            batch,
            deadline,
            rotate_every: None,
            seed: args.seed,
            driver: args.driver,
            backend,
        },
        None,
    )?
    .throughput();
    let (load, rate_source) = match (args.rate, args.closed) {
        (_, true) => (Load::Closed, "closed loop"),
        (Some(r), false) => (Load::Rate(r), "--rate"),
        (None, false) => {
            let r = (probe * 0.5).max(1000.0).round();
            (Load::Rate(r), "auto: half the closed-loop probe")
        }
    };
    let base = PhaseConfig {
        seconds: args.seconds,
        threads,
        load,
        mix: args.mix,
        batch,
        deadline,
        rotate_every: args.rotate_every.map(Duration::from_secs_f64),
        seed: args.seed,
        driver: args.driver,
        backend,
    };
    let show_progress = std::io::stdout().is_terminal() && !args.quiet;
    let calm = if calm_seconds > 0.0 {
        let cfg = PhaseConfig {
            seconds: calm_seconds,
            mix: Mix::calm(),
            rotate_every: None,
            ..base.clone()
        };
        Some(run_phase(&corpus, &cfg, None)?)
    } else {
        None
    };
    let pb = show_progress.then(|| {
        let pb = ProgressBar::new((args.seconds * 1000.0) as u64);
        if let Ok(style) = ProgressStyle::with_template("storm [{bar:40}] {elapsed} {msg}") {
            pb.set_style(style);
        }
        pb
    });
    let storm = run_phase(&corpus, &base, pb.as_ref())?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let rss_end = machine::rss_bytes();

    let stats = &storm.stats;
    let false_accepts = stats.false_accepts();
    let false_rejects: u64 = stats.classes.iter().map(|c| c.false_rejects).sum();
    let offered_total = stats.served() + stats.unserved.iter().sum::<u64>();
    let honest_fraction = 1.0 - args.mix.storm_fraction();
    let rate = match load {
        Load::Rate(r) => Some(r),
        Load::Closed => None,
    };
    let calm_goodput = calm.as_ref().map(PhaseResult::goodput);
    let storm_goodput = storm.goodput();
    let honest_offered = storm.throughput() * honest_fraction;
    let goodput = json!({
        "calm_per_sec": calm_goodput,
        "storm_per_sec": storm_goodput,
        "storm_honest_offered_per_sec": rate.map_or(honest_offered, |r| r * honest_fraction),
        "storm_served_fraction": rate.map(|r| storm_goodput / (r * honest_fraction).max(1e-9)),
        "calm_served_fraction": rate.zip(calm_goodput).map(|(r, g)| g / r),
        "ratio_storm_to_calm": calm_goodput.filter(|g| *g > 0.0).map(|g| storm_goodput / g),
    });
    let mode = if rate.is_some() { "open" } else { "closed" };
    let overall = stats.overall_latency();
    let json = json!({
        "schema": STORM_SCHEMA,
        "mode": mode,
        "config": {
            "seconds": args.seconds,
            "threads": threads,
            "rate": rate,
            "rate_source": rate_source,
            "mix": mix_json(&args.mix),
            "storm_fraction": args.mix.storm_fraction(),
            "ticket_format": args.ticket_format.as_str(),
            "state_bytes": args.state_bytes,
            "batch": batch,
            "deadline_us": args.deadline_us,
            "rotate_every_s": args.rotate_every,
            "driver": args.driver.as_str(),
            "backend": backend.name(),
            "calm_seconds": calm_seconds,
            "seed": args.seed,
        },
        "false_accepts": false_accepts,
        "false_rejects": false_rejects,
        "offered": offered_total,
        "served": stats.served(),
        "unserved": stats.unserved.iter().sum::<u64>(),
        "wall_s": storm.wall.as_secs_f64(),
        "offered_per_sec": rate,
        "throughput_per_sec": storm.throughput(),
        "cpu_ns_per_ticket": stats.cpu_ns as f64 / stats.served().max(1) as f64,
        "batches": stats.batches,
        "mean_batch": stats.served() as f64 / stats.batches.max(1) as f64,
        "renewal_seals": stats.sealed,
        "renewal_seal_failures": stats.seal_failures,
        "rotations": storm.rotations,
        "pool": storm.pool.map(|p| json!({
            "batches_full": p.batches_full,
            "batches_deadline": p.batches_deadline,
            "batches_drain": p.batches_drain,
            "pinned_workers": p.pinned_workers,
            "errors": p.errors,
        })),
        "latency_ns": latency_json(&overall),
        "classes": classes_json(stats, &cal),
        "calm": calm.as_ref().map(phase_json),
        "goodput": goodput,
        "calibration": {
            "seconds_per_class": cal.seconds,
            "threads": 1,
            "batch": batch,
            "mix_cpu_ns_per_ticket": cal.mix_cost(&args.mix),
            "capacity_per_sec": cal.capacity(&args.mix, threads),
            "probe_closed_per_sec": probe,
            "wall_ns_per_ticket": Class::ALL.iter().map(|c| (c.as_str().to_owned(), json!(cal.wall_ns[c.index()]))).collect::<Map<_, _>>(),
        },
        "rss_bytes": {"start": rss_start, "end": rss_end},
        "machine": machine::machine(backend.name()),
    });

    let mut text = format!(
        "tessera loadgen storm: {} tickets, {}-byte state, {} threads, {}, batch {}, deadline {} us, {:.1} s{}\n",
        args.ticket_format,
        args.state_bytes,
        threads,
        match rate {
            Some(r) => format!("open loop at {r:.0}/s ({rate_source})"),
            None => "closed loop".into(),
        },
        batch,
        args.deadline_us,
        args.seconds,
        args.rotate_every
            .map(|s| format!(", key rotation every {s} s ({} done)", storm.rotations))
            .unwrap_or_default(),
    );
    text += &format!(
        "mix: {}\ndriver: {}\n\n",
        args.mix,
        match storm.pool {
            Some(p) => format!(
                "tessera::pool, {} workers pinned; flushes: {} full, {} deadline, {} drain; pool errors {}",
                p.pinned_workers, p.batches_full, p.batches_deadline, p.batches_drain, p.errors
            ),
            None => "direct (workers generate their own arrivals)".into(),
        }
    );
    text += &table(stats, &cal);
    text += &format!(
        "\nFALSE ACCEPTS: {false_accepts}{}   (false rejects of honest tickets: {false_rejects})\n",
        if false_accepts == 0 {
            " (ok)"
        } else {
            "  <-- SECURITY BUG"
        }
    );
    text += &format!(
        "throughput: {:.0} tickets/s served{}; CPU {:.0} ns/ticket (thread CPU per batch, mean batch {:.1}); {} unserved\n",
        storm.throughput(),
        rate.map(|r| format!(" of {r:.0}/s offered"))
            .unwrap_or_default(),
        stats.cpu_ns as f64 / stats.served().max(1) as f64,
        stats.served() as f64 / stats.batches.max(1) as f64,
        stats.unserved.iter().sum::<u64>(),
    );
    text += &format!(
        "capacity of this mix on {threads} threads: {:.0} tickets/s from per-class CPU cost, {:.0}/s measured closed loop; cpu_ns = each class alone, 1 thread\n",
        cal.capacity(&args.mix, threads),
        probe,
    );
    if let Some(c) = &calm {
        let cv = c.stats.classes[Class::Valid.index()]
            .latency
            .value_at_quantile(0.99);
        let sv = stats.classes[Class::Valid.index()]
            .latency
            .value_at_quantile(0.99);
        text += &format!(
            "goodput: calm {:.0} resumptions/s ({:.1} s, 100% valid, same load, p99 {} us) vs storm {:.0}/s of {:.0}/s honest offered (valid p99 {} us)\n",
            c.goodput(),
            calm_seconds,
            us(cv),
            storm_goodput,
            rate.map_or(honest_offered, |r| r * honest_fraction),
            us(sv),
        );
    }
    let mib = |b: Option<u64>| b.map_or("?".into(), |b| format!("{:.1}", b as f64 / 1048576.0));
    text += &format!(
        "RSS: start {} MiB, end {} MiB\n",
        mib(rss_start),
        mib(rss_end)
    );
    text += &format!("machine: {}\n", machine::summary(backend.name()));
    Ok(StormOutcome {
        json,
        text,
        false_accepts,
    })
}
