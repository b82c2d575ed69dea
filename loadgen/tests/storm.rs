//! Storm end to end (in debug, so rates are modest): no false accepts, every class counted and
//! rejected for the reason it is built to trigger, the JSON carries every documented key.

use clap::Parser;
use loadgen::report::run_storm;
use loadgen::{Command, Opts, StormArgs};
use serde_json::Value;

const CLASSES: [&str; 10] = [
    "valid",
    "renew",
    "expired",
    "future",
    "unknown_key",
    "bad_mac",
    "bad_padding",
    "truncated",
    "garbage",
    "oversized",
];

fn storm_args(extra: &[&str]) -> StormArgs {
    let mut argv = vec!["loadgen", "storm"];
    argv.extend_from_slice(extra);
    match Opts::try_parse_from(argv).expect("valid args").command {
        Some(Command::Storm(a)) => a,
        other => panic!("not a storm: {other:?}"),
    }
}

const FORGED_HEAVY: &str = "valid=0.1,renew=0.1,expired=0.1,future=0.1,unknown_key=0.1,bad_mac=0.2,bad_padding=0.1,truncated=0.1,garbage=0.05,oversized=0.05";

fn check_storm(format: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--seconds",
        "1",
        "--calm-seconds",
        "0.1",
        "--rate",
        "3000",
        "--threads",
        "2",
        "--mix",
        FORGED_HEAVY,
        "--ticket-format",
        format,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let out = run_storm(&storm_args(&args)).expect("storm runs");
    let j = out.json;
    assert_eq!(out.false_accepts, 0);
    assert_eq!(j["false_accepts"], 0, "{format}");
    assert_eq!(j["false_rejects"], 0, "{format}");
    for class in CLASSES {
        let c = &j["classes"][class];
        let offered = c["offered"].as_u64().unwrap();
        assert!(offered > 0, "{format} {class} never offered");
        assert_eq!(c["false_accepts"], 0, "{format} {class}");
        let rejected: u64 = c["rejected"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(
            c["accepted"].as_u64().unwrap() + rejected + c["unserved"].as_u64().unwrap(),
            offered,
            "{format} {class}: every request counted once"
        );
        let want = match class {
            "valid" | "renew" => None,
            "expired" => Some("expired"),
            "future" => Some("future"),
            "unknown_key" => Some("unknown_key"),
            "bad_mac" => Some("bad_mac"),
            "bad_padding" if format == "aead" => Some("bad_state"),
            "bad_padding" => Some("bad_padding"),
            "oversized" => Some("too_long"),
            _ => {
                assert_eq!(c["accepted"], 0, "{format} {class}");
                continue;
            }
        };
        match want {
            None => {
                assert_eq!(
                    c["accepted"].as_u64().unwrap(),
                    c["served"].as_u64().unwrap()
                );
                if class == "renew" {
                    assert_eq!(c["renewed"], c["accepted"], "{format}");
                }
            }
            Some(reason) => {
                assert_eq!(c["rejected"][reason], c["served"], "{format} {class}");
                assert_eq!(c["unexpected_reason"], 0, "{format} {class}");
            }
        }
    }
    j
}

#[test]
fn forged_heavy_storm_has_no_false_accepts_and_counts_every_class() {
    let j = check_storm("rfc5077", &["--rotate-every", "0.3"]);
    assert!(j["rotations"].as_u64().unwrap() >= 2, "rotation ran");
    check_storm("aead", &["--state-bytes", "58", "--driver", "direct"]);
}

#[test]
fn json_has_every_documented_key() {
    let j = check_storm("openssl", &["--batch", "8"]);
    for k in [
        "schema",
        "mode",
        "config",
        "false_accepts",
        "classes",
        "machine",
        "latency_ns",
        "throughput_per_sec",
        "goodput",
        "calm",
        "calibration",
        "rss_bytes",
        "offered",
        "served",
        "cpu_ns_per_ticket",
    ] {
        assert!(j.get(k).is_some(), "missing top-level key {k}");
    }
    for class in CLASSES {
        let c = &j["classes"][class];
        for k in [
            "offered",
            "accepted",
            "renewed",
            "rejected",
            "cpu_ns_per_ticket",
            "latency_ns",
        ] {
            assert!(c.get(k).is_some(), "{class} lacks {k}");
        }
        assert!(
            c["cpu_ns_per_ticket"].as_f64().unwrap() > 0.0,
            "{class} calibrated"
        );
        for p in ["p50", "p90", "p99", "p999", "max"] {
            assert!(c["latency_ns"][p].is_u64(), "{class} latency {p}");
        }
        assert!(c["rejected"].get("bad_mac").is_some());
    }
    for k in [
        "cpu_model",
        "cpu_flags",
        "cores",
        "backend",
        "rustc",
        "git_rev",
        "args",
    ] {
        assert!(j["machine"].get(k).is_some(), "machine lacks {k}");
    }
    assert_eq!(j["mode"], "open");
    assert_eq!(j["config"]["batch"], 8);
    assert_eq!(j["config"]["driver"], "pool");
    assert_eq!(j["pool"]["errors"], 0);
    let flushes = j["pool"]["batches_full"].as_u64().unwrap()
        + j["pool"]["batches_deadline"].as_u64().unwrap()
        + j["pool"]["batches_drain"].as_u64().unwrap();
    assert!(flushes > 0);
    assert!(j["rss_bytes"]["end"].as_u64().unwrap() > 0);
    assert!(j["goodput"]["calm_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn closed_loop_counts_and_serves() {
    let args = storm_args(&[
        "--seconds",
        "0.3",
        "--closed",
        "--calm-seconds",
        "0",
        "--threads",
        "1",
        "--quiet",
    ]);
    let j = run_storm(&args).unwrap().json;
    assert_eq!(j["mode"], "closed");
    assert!(j["calm"].is_null());
    assert!(j["served"].as_u64().unwrap() > 100);
    assert_eq!(j["unserved"], 0);
    assert_eq!(j["false_accepts"], 0);
}

#[test]
fn every_backend_this_cpu_has_rejects_every_forgery() {
    for backend in tessera::backend::Backend::available() {
        let name = backend.name();
        let args = storm_args(&[
            "--seconds",
            "0.3",
            "--calm-seconds",
            "0",
            "--rate",
            "2000",
            "--threads",
            "1",
            "--mix",
            FORGED_HEAVY,
            "--backend",
            name,
            "--quiet",
        ]);
        let j = run_storm(&args).unwrap().json;
        assert_eq!(j["config"]["backend"], name);
        assert_eq!(j["machine"]["backend"], name);
        assert_eq!(j["false_accepts"], 0, "{name}");
        assert_eq!(j["false_rejects"], 0, "{name}");
        for class in CLASSES {
            assert_eq!(
                j["classes"][class]["unexpected_reason"], 0,
                "{name} {class}"
            );
        }
    }
}
