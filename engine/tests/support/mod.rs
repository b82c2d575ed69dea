//! Shared harness for tests that talk to real TLS peers (nginx, `openssl s_client`): tool
//! discovery with the CI rule, temp dirs, loopback ports, `s_client` runs, and OpenSSL's saved
//! session files (PEM `SSL SESSION PARAMETERS`, DER `SSL_SESSION_ASN1`) with the ticket spliced
//! in and out. Every test binary uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

#[cfg(feature = "cli")]
pub(crate) mod cli;

use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// True when running under CI (`CI` set to anything but empty/`false`/`0`).
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Finds an external tool. `env_override` (e.g. `TESSERA_NGINX`) wins, then `PATH`, then the
/// given absolute fallbacks (nginx lives in /usr/sbin, often not on a user's PATH).
pub(crate) fn find_tool(name: &str, env_override: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_override) {
        // An override that names no file means "not installed", never a fallback.
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| fallbacks.iter().map(PathBuf::from).find(|p| p.is_file()))
}

/// The CI rule for missing tools: under CI a missing tool fails the test loudly (CI installs
/// them, so absence is a broken setup); on a developer machine the test says it is skipping.
/// Returns `None` when the caller must return early.
pub(crate) fn tools_or_skip(test: &str, tools: &[(&str, &str, &[&str])]) -> Option<Vec<PathBuf>> {
    let mut found = Vec::new();
    for (name, env_override, fallbacks) in tools {
        match find_tool(name, env_override, fallbacks) {
            Some(p) => found.push(p),
            None if in_ci() => panic!(
                "{test}: `{name}` not found but CI is set; .ci/run must install it (or set {env_override})"
            ),
            None => {
                eprintln!(
                    "SKIPPED {test}: `{name}` not found (install it, e.g. `apt-get install nginx openssl`, \
                     or set {env_override}); this test is mandatory under CI"
                );
                return None;
            }
        }
    }
    Some(found)
}

/// A fresh directory under the system temp dir, removed on drop (unless
/// `TESSERA_KEEP_TEST_DIRS` is set, for debugging a failing run).
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Creates `tessera-<label>-<pid>-<random>`.
    pub(crate) fn new(label: &str) -> Self {
        let mut rnd = [0u8; 8];
        getrandom::getrandom(&mut rnd).expect("OS random source");
        let name = format!(
            "tessera-{label}-{}-{}",
            std::process::id(),
            hex::encode(rnd)
        );
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the directory.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("TESSERA_KEEP_TEST_DIRS").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Random bytes from the OS.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::getrandom(&mut v).expect("OS random source");
    v
}

/// A port on 127.0.0.1 that was free a moment ago (the server binds it next; callers retry on
/// the rare race).
pub(crate) fn free_loopback_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// A child process killed (by its own pid) and reaped on drop, so a failing assertion never
/// leaves a server running.
pub(crate) struct ChildGuard {
    child: Child,
    what: String,
}

impl ChildGuard {
    /// Takes ownership of a spawned child.
    pub(crate) fn new(child: Child, what: impl Into<String>) -> Self {
        Self {
            child,
            what: what.into(),
        }
    }

    /// The child's pid.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `port` on 127.0.0.1 accepts connections. Returns `Err` with a description
    /// when the child exits first or the timeout passes.
    pub(crate) fn wait_for_port(&mut self, port: u16, timeout: Duration) -> Result<(), String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited early with {status}", self.what));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on port {port} within {timeout:?}",
                    self.what
                ));
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stops the child now (kill by pid, then reap).
    pub(crate) fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// Whatever the child wrote to a piped stderr (after `stop`).
    pub(crate) fn stderr_text(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a command, panicking with its output when it fails to start or exits non-zero.
pub(crate) fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes a self-signed P-256 certificate and key for CN=localhost into `dir`.
pub(crate) fn self_signed_cert(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    run_ok(
        Command::new(openssl)
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-days", "2", "-nodes", "-subj", "/CN=localhost"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    (cert, key)
}

/// TLS version for `s_client`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tls {
    /// TLS 1.2: RFC 5077 tickets.
    V12,
    /// TLS 1.3: PSK tickets sealed the same way by OpenSSL-based servers.
    V13,
}

impl Tls {
    fn s_client_flag(self) -> &'static str {
        match self {
            Self::V12 => "-tls1_2",
            Self::V13 => "-tls1_3",
        }
    }
}

/// What one `s_client` handshake reported.
#[derive(Debug)]
pub(crate) struct Handshake {
    /// "Reused" (abbreviated handshake) rather than "New".
    pub(crate) reused: bool,
    /// The negotiated protocol and cipher, e.g. "TLSv1.2, Cipher is ECDHE-ECDSA-AES256-GCM-SHA384".
    pub(crate) summary: String,
    /// The whole stdout+stderr, for failure messages.
    pub(crate) output: String,
}

/// Runs `openssl s_client` against 127.0.0.1:`port`, optionally loading and/or saving the
/// session. Panics unless a handshake completed (a "New"/"Reused" line with a real cipher): a
/// bad ticket must cost a full handshake, never a failed connection.
pub(crate) fn s_client(
    openssl: &Path,
    port: u16,
    tls: Tls,
    sess_in: Option<&Path>,
    sess_out: Option<&Path>,
) -> Handshake {
    let mut cmd = Command::new(openssl);
    cmd.arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-servername")
        .arg("localhost")
        .arg(tls.s_client_flag());
    if let Some(p) = sess_in {
        cmd.arg("-sess_in").arg(p);
    }
    if let Some(p) = sess_out {
        cmd.arg("-sess_out").arg(p);
    }
    if tls == Tls::V13 {
        // TLS 1.3 tickets arrive after the handshake; -ign_eof plus a quit command keeps the
        // connection open long enough to read them.
        cmd.arg("-ign_eof");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        if tls == Tls::V13 {
            // The server's NewSessionTicket arrives after the handshake: wait until s_client has
            // saved it (or, without -sess_out, a moment), then quit.
            let deadline = Instant::now() + Duration::from_secs(10);
            thread::sleep(Duration::from_millis(200));
            while let Some(p) = sess_out {
                if fs::read_to_string(p).is_ok_and(|t| t.contains(PEM_END))
                    || Instant::now() > deadline
                {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = stdin.write_all(b"Q\n");
        }
    }
    let out = child.wait_with_output().expect("wait for s_client");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = output
        .lines()
        .find(|l| l.starts_with("New, ") || l.starts_with("Reused, "))
        .unwrap_or_else(|| panic!("s_client printed no New/Reused line:\n{output}"));
    assert!(
        !line.contains("(NONE)"),
        "handshake failed (a ticket must never break a connection): {line}\n{output}"
    );
    let reused = line.starts_with("Reused, ");
    let summary = line
        .split_once(", ")
        .map_or("", |(_, rest)| rest)
        .to_owned();
    Handshake {
        reused,
        summary,
        output,
    }
}

const PEM_BEGIN: &str = "-----BEGIN SSL SESSION PARAMETERS-----";
const PEM_END: &str = "-----END SSL SESSION PARAMETERS-----";

/// One DER element: where its tag starts, where its contents start and end.
#[derive(Clone, Copy, Debug)]
struct Tlv {
    tag: u8,
    start: usize,
    content: usize,
    end: usize,
}

/// Reads one DER TLV at `pos` (single-byte tags, definite lengths: all OpenSSL writes here).
fn read_tlv(der: &[u8], pos: usize) -> Result<Tlv, String> {
    let tag = *der.get(pos).ok_or("truncated tag")?;
    let first = *der.get(pos + 1).ok_or("truncated length")?;
    let (len, content) = if first < 0x80 {
        (usize::from(first), pos + 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(format!("unsupported DER length form 0x{first:02x}"));
        }
        let bytes = der
            .get(pos + 2..pos + 2 + n)
            .ok_or("truncated long length")?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            pos + 2 + n,
        )
    };
    let end = content
        .checked_add(len)
        .filter(|&e| e <= der.len())
        .ok_or("length past end")?;
    Ok(Tlv {
        tag,
        start: pos,
        content,
        end,
    })
}

/// The children of a constructed element.
fn children(der: &[u8], parent: Tlv) -> Result<Vec<Tlv>, String> {
    let mut out = Vec::new();
    let mut pos = parent.content;
    while pos < parent.end {
        let t = read_tlv(der, pos)?;
        pos = t.end;
        out.push(t);
    }
    Ok(out)
}

/// A session saved by `s_client -sess_out` (OpenSSL's `SSL_SESSION_ASN1` in PEM).
#[derive(Clone, Debug)]
pub(crate) struct SavedSession {
    /// The DER encoding.
    pub(crate) der: Vec<u8>,
}

impl SavedSession {
    /// Reads the PEM file.
    pub(crate) fn read(path: &Path) -> Self {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
        let body = text
            .split_once(PEM_BEGIN)
            .and_then(|(_, rest)| rest.split_once(PEM_END))
            .map(|(b, _)| b)
            .unwrap_or_else(|| panic!("{path:?} holds no SSL SESSION PARAMETERS block"));
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = STANDARD.decode(b64).expect("session PEM is base64");
        Self { der }
    }

    /// Writes the PEM file (64-column base64, as OpenSSL does).
    pub(crate) fn write(&self, path: &Path) {
        let b64 = STANDARD.encode(&self.der);
        let mut text = String::from(PEM_BEGIN);
        text.push('\n');
        for chunk in b64.as_bytes().chunks(64) {
            text.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            text.push('\n');
        }
        text.push_str(PEM_END);
        text.push('\n');
        fs::write(path, text).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
    }

    fn top_level(&self) -> Vec<Tlv> {
        let seq = read_tlv(&self.der, 0).expect("session DER");
        assert_eq!(seq.tag, 0x30, "SSL_SESSION is a SEQUENCE");
        children(&self.der, seq).expect("session DER children")
    }

    /// Byte range of the ticket: the OCTET STRING inside `[10] EXPLICIT` (tlsext_tick in
    /// OpenSSL's `SSL_SESSION_ASN1`, ssl/ssl_asn1.c).
    pub(crate) fn ticket_range(&self) -> std::ops::Range<usize> {
        let field = self
            .top_level()
            .into_iter()
            .find(|t| t.tag == 0xaa) // context-specific, constructed, tag 10
            .expect("saved session carries a ticket ([10])");
        let inner = children(&self.der, field).expect("[10] contents");
        let octets = inner
            .first()
            .filter(|t| t.tag == 0x04)
            .expect("[10] holds an OCTET STRING");
        octets.content..octets.end
    }

    /// The ticket bytes.
    pub(crate) fn ticket(&self) -> &[u8] {
        &self.der[self.ticket_range()]
    }

    /// The master secret the client holds (the fifth field, `master_key OCTET STRING`).
    pub(crate) fn master_key(&self) -> &[u8] {
        let fields = self.top_level();
        let mk = fields
            .get(4)
            .filter(|t| t.tag == 0x04)
            .expect("master_key OCTET STRING");
        &self.der[mk.content..mk.end]
    }

    /// A copy with the ticket replaced by one of the same length (lengths in the DER stay valid).
    pub(crate) fn with_ticket(&self, ticket: &[u8]) -> Self {
        let range = self.ticket_range();
        assert_eq!(
            range.len(),
            ticket.len(),
            "a spliced ticket must keep the original length"
        );
        let mut der = self.der.clone();
        der[range].copy_from_slice(ticket);
        Self { der }
    }
}

/// Flips one bit of `bytes[index]`.
pub(crate) fn flip_bit(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[index] ^= 0x01;
    v
}
