//! Machine facts recorded with every report, and process RSS.

use serde_json::{Value, json};

/// CPU flags that decide which tessera backend can run.
const RELEVANT_FLAGS: [&str; 9] = [
    "aes",
    "pclmulqdq",
    "sha_ni",
    "avx",
    "avx2",
    "vaes",
    "vpclmulqdq",
    "avx512f",
    "bmi2",
];

fn cpuinfo() -> String {
    std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()
}

/// CPU model name from /proc/cpuinfo ("unknown" elsewhere).
pub fn cpu_model() -> String {
    cpuinfo()
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The backend-relevant CPU flags this machine has.
pub fn cpu_flags() -> Vec<&'static str> {
    let info = cpuinfo();
    let flags: Vec<&str> = info
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "flags").then(|| v.split_whitespace().collect())
        })
        .unwrap_or_default();
    RELEVANT_FLAGS
        .into_iter()
        .filter(|f| flags.contains(f))
        .collect()
}

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Resident set size of this process, bytes (from /proc/self/status).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The `machine` object: CPU, flags, cores, backend, compiler, revision and the command line.
pub fn machine(backend: &str) -> Value {
    json!({
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": cores(),
        "backend": backend,
        "rustc": env!("LOADGEN_RUSTC_VERSION"),
        "git_rev": env!("LOADGEN_GIT_REV"),
        "profile": env!("LOADGEN_PROFILE"),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        "args": std::env::args().collect::<Vec<_>>(),
    })
}

/// One line for the text report.
pub fn summary(backend: &str) -> String {
    format!(
        "{} ({} cores; {}), backend {backend}, {} {}, rev {}",
        cpu_model(),
        cores(),
        cpu_flags().join(" "),
        env!("LOADGEN_RUSTC_VERSION"),
        env!("LOADGEN_PROFILE"),
        env!("LOADGEN_GIT_REV"),
    )
}
