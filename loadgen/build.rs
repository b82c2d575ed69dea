//! Captures the compiler version and git revision for the `machine` block of reports.
use std::path::Path;
use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LOADGEN_RUSTC_VERSION={version}");
    let rev =
        output("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LOADGEN_GIT_REV={rev}");
    // Rebuild when HEAD moves (a commit or a checkout), so the recorded revision stays true.
    for args in [
        &["rev-parse", "--git-path", "HEAD"][..],
        &["rev-parse", "--git-path", "packed-refs"][..],
    ] {
        if let Some(p) = output("git", args) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(p) = output("git", &["symbolic-ref", "-q", "HEAD"])
        .and_then(|r| output("git", &["rev-parse", "--git-path", &r]))
        .filter(|p| Path::new(p).exists())
    {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=LOADGEN_PROFILE={profile}");
}
