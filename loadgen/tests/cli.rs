//! The binary's contract: bad arguments exit 2 with a clear message; throughput JSON keys.

use std::process::{Command, Output};

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["storm", "--mix", "valid=0.5"], "sum"),
        (&["storm", "--mix", "valid=0.5,evil=0.5"], "unknown class"),
        (&["storm", "--mix", "valid=abc"], "bad mix item"),
        (&["storm", "--rate", "-5"], "above 0"),
        (&["storm", "--rate", "0"], "above 0"),
        (&["storm", "--rate", "1e12"], "at most"),
        (&["storm", "--rate", "100", "--closed"], "cannot be used"),
        (&["storm", "--threads", "0"], "threads"),
        (
            &["storm", "--ticket-format", "tls13"],
            "unknown ticket format",
        ),
        (
            &["storm", "--seconds", "0.5", "--state-bytes", "59"],
            "StatePlaintext",
        ),
        (&["storm", "--no-such-flag"], "unexpected argument"),
        (
            &[
                "throughput",
                "--op",
                "open",
                "--backend",
                "imaginary",
                "--seconds",
                "0.1",
            ],
            "imaginary",
        ),
        (&["throughput", "--op", "frobnicate"], "invalid value"),
    ];
    for (args, needle) in cases {
        let out = loadgen(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn throughput_writes_the_documented_keys() {
    let dir = std::env::temp_dir().join(format!("loadgen-tp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for op in ["seal", "open"] {
        let path = dir.join(format!("{op}.json"));
        let out = loadgen(&[
            "throughput",
            "--op",
            op,
            "--ticket-format",
            "aead",
            "--state-bytes",
            "64",
            "--batch",
            "16",
            "--threads",
            "2",
            "--backend",
            "portable",
            "--seconds",
            "0.1",
            "--json",
            path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("ns/ticket"));
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for k in [
            "op",
            "ticket_format",
            "state_bytes",
            "batch",
            "threads",
            "backend",
            "ns_per_ticket",
            "tickets_per_sec",
            "machine",
        ] {
            assert!(j.get(k).is_some(), "{op}: missing {k}");
        }
        assert_eq!(j["op"], op);
        assert_eq!(j["ticket_format"], "aead");
        assert_eq!(j["threads"], 2);
        assert!(j["ns_per_ticket"].as_f64().unwrap() > 0.0);
        assert!(j["tickets_per_sec"].as_f64().unwrap() > 0.0);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn capacity_answers_with_its_model_inputs() {
    let path = std::env::temp_dir().join(format!("loadgen-cap-{}.json", std::process::id()));
    let out = loadgen(&[
        "capacity",
        "--resumptions",
        "10000",
        "--storm-fraction",
        "0.5",
        "--p99-us",
        "1000000",
        "--step-seconds",
        "0.05",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("cores for 10000 resumptions/s"));
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(j["cores"].as_u64().unwrap() >= 1);
    assert!(j["per_core_capacity_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(j["inputs"]["storm_fraction"], 0.5);
    assert!(
        j["cpu_ns_per_ticket"]["classes"]["bad_mac"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let _ = std::fs::remove_file(&path);
    let bad = loadgen(&["capacity", "--storm-fraction", "1"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn network_storms_stay_on_loopback_and_fail_cleanly() {
    let out = loadgen(&["storm", "--target", "192.0.2.1:443"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));
    let out = loadgen(&["storm", "--target", "localhost"]);
    assert_eq!(out.status.code(), Some(2));
    // Nothing listens on port 1: a clear error, quickly.
    let t = std::time::Instant::now();
    let out = loadgen(&["storm", "--target", "127.0.0.1:1", "--seconds", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to 127.0.0.1:1"));
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
}
