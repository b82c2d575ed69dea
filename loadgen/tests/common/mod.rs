//! Shared by the network-storm tests: the CI rule for missing tools and the checks every
//! network storm report must pass.

use std::path::Path;

/// CI installs the real peers; outside CI a missing tool means SKIPPED.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The `--json` report of `loadgen storm --target ... --requests n`: every valid ticket resumed,
/// every forged class sent `n` times and answered with a full handshake, 0 false accepts.
pub(crate) fn assert_network_report(json: &Path, n: u64) {
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(j["false_accepts"], 0);
    assert_eq!(j["classes"]["valid"]["resumed"], n);
    for class in ["bad_mac", "unknown_key", "truncated", "garbage"] {
        let c = &j["classes"][class];
        assert_eq!(c["sent"], n, "{class}");
        assert_eq!(c["resumed"], 0, "{class}");
        assert_eq!(
            c["full"], n,
            "{class}: a forged ticket means a full handshake"
        );
        for k in ["p50", "p90", "p99", "p999", "max"] {
            assert!(c["latency_ns"][k].is_u64());
        }
    }
}
