//! Running the built `tessera` binary from integration tests.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

/// What one `tessera` run did.
#[derive(Debug)]
pub(crate) struct Run {
    /// Exit code (`None` if killed by a signal).
    pub(crate) code: Option<i32>,
    /// Standard output.
    pub(crate) stdout: Vec<u8>,
    /// Standard error, lossily decoded.
    pub(crate) stderr: String,
}

impl Run {
    /// Standard output as text.
    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts the exit code and that nothing panicked; returns self for chaining.
    #[track_caller]
    pub(crate) fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout_text(),
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "tessera panicked:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs `tessera ARGS` with no stdin.
pub(crate) fn tessera<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn tessera");
    Run {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A path argument.
pub(crate) fn p(path: &Path) -> &OsStr {
    path.as_os_str()
}

/// Every `--key-format` value.
pub(crate) const KEY_FORMATS: [&str; 5] =
    ["tessera", "nginx48", "nginx80", "haproxy48", "haproxy80"];

/// Every `--ticket-format` value.
pub(crate) const TICKET_FORMATS: [&str; 3] = ["rfc5077", "openssl", "aead"];

/// `tessera keys gen --key-format KF --out PATH`, which must succeed.
pub(crate) fn gen_key(kf: &str, path: &Path) {
    tessera([
        "keys".as_ref(),
        "gen".as_ref(),
        "--key-format".as_ref(),
        kf.as_ref(),
        "--out".as_ref(),
        p(path),
    ])
    .expect_code(0);
}

/// `tessera seal` (with `--iv` when given); returns the run.
pub(crate) fn seal(key: &Path, tf: &str, input: &Path, out: &Path, iv: Option<&str>) -> Run {
    let mut args: Vec<&OsStr> = vec![
        "seal".as_ref(),
        "--key-file".as_ref(),
        p(key),
        "--ticket-format".as_ref(),
        tf.as_ref(),
        "--in".as_ref(),
        p(input),
        "--out".as_ref(),
        p(out),
    ];
    if let Some(iv) = iv {
        args.push(OsStr::new("--iv"));
        args.push(OsStr::new(iv));
    }
    tessera(args)
}

/// `tessera open`; returns the run.
pub(crate) fn open(key: &Path, tf: &str, input: &Path, out: &Path) -> Run {
    tessera([
        "open".as_ref(),
        "--key-file".as_ref(),
        p(key),
        "--ticket-format".as_ref(),
        tf.as_ref(),
        "--in".as_ref(),
        p(input),
        "--out".as_ref(),
        p(out),
    ])
}
