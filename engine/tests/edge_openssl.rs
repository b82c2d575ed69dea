//! Real-client tests: Debian's `openssl s_client` against the edge server (rustls + tessera
//! tickets), loopback only. For TLS 1.2 and TLS 1.3: a full handshake saves the session; the
//! saved session resumes ("Reused"); the ticket inside it opens with tessera under the same key
//! file; a rotation keeps it resuming while its key is inside the opening window and not after;
//! a key removed by a reload, a tampered ticket, or a key file that turned invalid never breaks
//! a connection (a full handshake follows, the previous keys keep serving).
//!
//! Without an `openssl` binary the tests are skipped with a message, unless `CI` is set, where
//! they fail.
#![cfg(feature = "rustls")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::PrivatePkcs8KeyDer;
use tessera::keys::{
    CipherKind, KeyFileFormat, KeyRole, KeyTimes, TicketKey, load_key_files, save_key_file,
    write_key_file,
};
use tessera::rotation::{Clock, ManualClock, Rotator};
use tessera::rustls::TesseraTicketer;
use tessera::rustls::edge::{EdgeServer, EdgeShutdown, HandshakeEvent, server_config};
use tessera::{RejectReason, TicketFormat, Ticketer};

const T0: u64 = 1_800_000_000;
const HOUR: u64 = 3600;

/// Whether to run: true when `openssl` runs; false (skip) when it is missing outside CI.
fn openssl_available() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "the openssl binary is required in CI (apt-get install openssl)"
        );
        eprintln!("SKIPPED: no openssl binary; install Debian's openssl to run the edge tests");
    }
    ok
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-edge-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A key that seals from `seal_from` for `seal_hours` and opens for two hours more.
fn key(seal_from: u64, seal_hours: u64) -> TicketKey {
    TicketKey::generate(CipherKind::Aes128)
        .unwrap()
        .with_times(KeyTimes {
            created: Some(seal_from),
            seal_until: Some(seal_from + seal_hours * HOUR),
            open_until: Some(seal_from + (seal_hours + 2) * HOUR),
        })
}

fn write_keys(path: &Path, keys: &[(&TicketKey, KeyRole)]) {
    let bytes = write_key_file(KeyFileFormat::Tessera, keys).unwrap();
    save_key_file(path, &bytes).unwrap();
}

/// An edge server on a free loopback port, running on a thread.
struct Edge {
    port: u16,
    rotator: Arc<Rotator>,
    clock: Arc<ManualClock>,
    ticketer: Arc<TesseraTicketer>,
    events: Arc<Mutex<Vec<HandshakeEvent>>>,
    shutdown: EdgeShutdown,
    thread: Option<JoinHandle<u64>>,
}

impl Edge {
    fn start(key_file: &Path, format: TicketFormat) -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let rotator =
            Arc::new(Rotator::from_key_files(&[key_file], None, 7200, clock.clone()).unwrap());
        let ticketer = Arc::new(TesseraTicketer::from_rotator(&rotator, format));
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let key = PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der());
        let config =
            server_config(vec![cert.cert.der().clone()], key.into(), ticketer.clone()).unwrap();
        let server = EdgeServer::bind("127.0.0.1:0", Arc::new(config))
            .unwrap()
            .with_io_timeout(Duration::from_secs(10));
        let port = server.local_addr().unwrap().port();
        let shutdown = server.shutdown_handle().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let thread = std::thread::spawn(move || {
            server
                .serve(None, move |e| sink.lock().unwrap().push(e))
                .unwrap()
        });
        Self {
            port,
            rotator,
            clock,
            ticketer,
            events,
            shutdown,
            thread: Some(thread),
        }
    }

    /// Stops the server; returns every connection's event.
    fn stop(mut self) -> Vec<HandshakeEvent> {
        self.shutdown.shutdown();
        self.thread.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shutdown.shutdown();
            let _ = t.join();
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    New,
    Reused,
}

/// One `openssl s_client` connection sending a request; returns New/Reused after checking
/// that the connection completed (the page arrived).
fn s_client(port: u16, version: &str, sess_in: Option<&Path>, sess_out: Option<&Path>) -> Outcome {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        version,
    ]);
    cmd.args(["-servername", "localhost", "-ign_eof"]);
    if let Some(p) = sess_in {
        cmd.arg("-sess_in").arg(p);
    }
    if let Some(p) = sess_out {
        cmd.arg("-sess_out").arg(p);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let tls = if version == "-tls1_2" {
        "TLSv1.2"
    } else {
        "TLSv1.3"
    };
    assert!(
        text.contains("HTTP/1.1 200 OK") && text.contains("tessera edge"),
        "the connection must complete with the page; s_client said:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if text.contains(&format!("Reused, {tls}")) {
        Outcome::Reused
    } else if text.contains(&format!("New, {tls}")) {
        Outcome::New
    } else {
        panic!("no New/Reused line for {tls}:\n{text}")
    }
}

/// Reads one DER TLV at `pos`: (tag, content start, content length).
fn der_tlv(der: &[u8], pos: usize) -> (u8, usize, usize) {
    let tag = der[pos];
    let first = der[pos + 1] as usize;
    if first < 0x80 {
        return (tag, pos + 2, first);
    }
    let n = first & 0x7f;
    let len = der[pos + 2..pos + 2 + n]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | *b as usize);
    (tag, pos + 2 + n, len)
}

const PEM_BEGIN: &str = "-----BEGIN SSL SESSION PARAMETERS-----";
const PEM_END: &str = "-----END SSL SESSION PARAMETERS-----";

fn read_session_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).unwrap();
    let body: String = pem
        .split(PEM_BEGIN)
        .nth(1)
        .and_then(|rest| rest.split(PEM_END).next())
        .expect("an SSL SESSION PEM")
        .split_whitespace()
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn write_session_der(path: &Path, der: &[u8]) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    std::fs::write(
        path,
        format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", lines.join("\n")),
    )
    .unwrap();
}

/// The session ticket's position in an SSL_SESSION DER: the OCTET STRING under the
/// context-specific, constructed tag [10] (0xaa) of the top-level SEQUENCE.
fn ticket_span(der: &[u8]) -> (usize, usize) {
    let (tag, mut pos, len) = der_tlv(der, 0);
    assert_eq!(tag, 0x30, "SSL_SESSION is a SEQUENCE");
    let end = pos + len;
    while pos < end {
        let (tag, start, len) = der_tlv(der, pos);
        if tag == 0xaa {
            let (inner, tstart, tlen) = der_tlv(der, start);
            assert_eq!(inner, 0x04, "the ticket is an OCTET STRING");
            return (tstart, tlen);
        }
        pos = start + len;
    }
    panic!("no session ticket ([10]) in the saved session")
}

fn saved_ticket(path: &Path) -> Vec<u8> {
    let der = read_session_der(path);
    let (start, len) = ticket_span(&der);
    der[start..start + len].to_vec()
}

/// Writes a copy of the session at `from` with bit `bit` of ticket byte `at` flipped.
fn tamper(from: &Path, to: &Path, at: impl Fn(usize) -> usize, bit: u8) {
    let mut der = read_session_der(from);
    let (start, len) = ticket_span(&der);
    der[start + at(len)] ^= 1 << bit;
    write_session_der(to, &der);
}

fn scenario(version: &str, format: TicketFormat) {
    if !openssl_available() {
        return;
    }
    let tag = format!("{}{}", &version[1..], format);
    let dir = TempDir::new(&tag);
    let keys_path = dir.path("ticket-keys");
    let k1 = key(T0, 1);
    write_keys(&keys_path, &[(&k1, KeyRole::Sealing)]);
    let edge = Edge::start(&keys_path, format);
    let (s1, s2, bad) = (dir.path("s1.pem"), dir.path("s2.pem"), dir.path("bad.pem"));

    // Full handshake, session saved; it resumes.
    assert_eq!(s_client(edge.port, version, None, Some(&s1)), Outcome::New);
    assert_eq!(
        s_client(edge.port, version, Some(&s1), None),
        Outcome::Reused
    );

    // The saved ticket is tessera's: it opens with a Ticketer loaded from the same key file.
    let ticket = saved_ticket(&s1);
    assert_eq!(&ticket[..16], &k1.name().0, "sealed under the file's key");
    let independent = Ticketer::new(load_key_files(&[&keys_path], None).unwrap(), format);
    let mut state = Vec::new();
    let opened = independent.open_at(&ticket, T0, &mut state).unwrap();
    assert_eq!(opened.key_name, k1.name());
    assert!(state.len() > 48, "a rustls session with its secret inside");
    #[cfg(feature = "cli")]
    cli_opens(&dir, &keys_path, format, &ticket, &state);

    // Tampered tickets: a full handshake, never a failed connection.
    tamper(&s1, &bad, |len| len / 2, 3); // inside the ciphertext or MAC
    assert_eq!(s_client(edge.port, version, Some(&bad), None), Outcome::New);
    tamper(&s1, &bad, |_| 5, 0); // inside the key name
    assert_eq!(s_client(edge.port, version, Some(&bad), None), Outcome::New);
    tamper(&s1, &bad, |len| len - 1, 7); // last byte of the MAC / tag
    assert_eq!(s_client(edge.port, version, Some(&bad), None), Outcome::New);

    // Rotation: k2 seals, k1 only opens; a reload picks it up; s1 still resumes.
    let k2 = key(T0 + HOUR, 10);
    write_keys(
        &keys_path,
        &[(&k2, KeyRole::Sealing), (&k1, KeyRole::OpeningOnly)],
    );
    edge.clock.set(T0 + HOUR);
    let change = edge.rotator.tick(edge.clock.now()).unwrap();
    assert_eq!(change.new_sealer, Some(k2.name()));
    assert_eq!(change.added, vec![k2.name()]);
    assert_eq!(
        s_client(edge.port, version, Some(&s1), None),
        Outcome::Reused
    );

    // Past k1's opening window: not reused, a full handshake follows.
    edge.clock.set(k1.times().open_until.unwrap());
    assert!(edge.rotator.tick(edge.clock.now()).unwrap().is_unchanged());
    assert_eq!(s_client(edge.port, version, Some(&s1), None), Outcome::New);

    // A session under k2, then k2 removed by rewriting the file: not reused.
    assert_eq!(s_client(edge.port, version, None, Some(&s2)), Outcome::New);
    assert_eq!(&saved_ticket(&s2)[..16], &k2.name().0);
    assert_eq!(
        s_client(edge.port, version, Some(&s2), None),
        Outcome::Reused
    );
    let k3 = key(T0 + 2 * HOUR, 10);
    write_keys(&keys_path, &[(&k3, KeyRole::Sealing)]);
    let change = edge.rotator.reload().unwrap();
    assert_eq!(change.removed.len(), 2);
    assert!(change.removed.contains(&k2.name()));
    assert_eq!(s_client(edge.port, version, Some(&s2), None), Outcome::New);

    // The key file turns invalid, then vanishes: reloads fail, k3 keeps sealing and opening.
    assert_eq!(s_client(edge.port, version, None, Some(&s1)), Outcome::New);
    std::fs::write(&keys_path, b"tessera-ticket-keys v1\nkey name=00\n").unwrap();
    assert!(edge.rotator.reload().is_err());
    assert!(edge.rotator.tick(edge.clock.now()).is_err());
    std::fs::remove_file(&keys_path).unwrap();
    assert!(edge.rotator.reload().is_err());
    assert_eq!(
        s_client(edge.port, version, Some(&s1), None),
        Outcome::Reused
    );
    assert_eq!(&saved_ticket(&s1)[..16], &k3.name().0);

    let metrics = edge.ticketer.metrics().snapshot();
    let events = edge.stop();
    // 3 tampered + expired + removed key = 5 rejections, each counted by reason.
    assert_eq!(metrics.rejected(RejectReason::BadMac), 2, "{metrics}");
    assert_eq!(metrics.rejected(RejectReason::UnknownKey), 2, "{metrics}");
    assert_eq!(metrics.rejected(RejectReason::Expired), 1, "{metrics}");
    assert_eq!(metrics.rejected_total(), 5, "{metrics}");
    assert_eq!(metrics.opened, 4, "{metrics}");
    assert_eq!(events.len(), 12);
    let want = if version == "-tls1_2" {
        "TLSv1.2"
    } else {
        "TLSv1.3"
    };
    for e in &events {
        assert_eq!(e.error, None, "{e}");
        assert_eq!(e.version, Some(want), "{e}");
        assert!(
            e.tickets_issued >= 1,
            "every handshake issues a ticket: {e}"
        );
    }
    assert_eq!(events.iter().filter(|e| e.resumed).count(), 4);
}

/// `tessera open` (the ops CLI, feature `cli`) opens the ticket too, to the same state.
#[cfg(feature = "cli")]
fn cli_opens(dir: &TempDir, keys: &Path, format: TicketFormat, ticket: &[u8], state: &[u8]) {
    let exe = env!("CARGO_BIN_EXE_tessera");
    let has_open = Command::new(exe)
        .args(["open", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_open {
        eprintln!("SKIPPED CLI check: this build's tessera binary has no `open` command");
        return;
    }
    let (tin, tout) = (dir.path("ticket.bin"), dir.path("state.bin"));
    std::fs::write(&tin, ticket).unwrap();
    let out = Command::new(exe)
        .arg("open")
        .arg("--key-file")
        .arg(keys)
        .args(["--ticket-format", format.as_str()])
        .arg("--in")
        .arg(&tin)
        .arg("--out")
        .arg(&tout)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tessera open: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&tout).unwrap(), state);
}

#[test]
fn tls12_openssl_format_resumes_rotates_and_rejects_cleanly() {
    scenario("-tls1_2", TicketFormat::OpenSsl);
}

#[test]
fn tls13_aead_format_resumes_rotates_and_rejects_cleanly() {
    scenario("-tls1_3", TicketFormat::Aead);
}

#[test]
fn rfc5077_format_with_an_nginx_key_file_both_versions() {
    if !openssl_available() {
        return;
    }
    let dir = TempDir::new("rfc5077");
    let keys_path = dir.path("nginx.key");
    let k = TicketKey::generate(CipherKind::Aes128).unwrap();
    let bytes = write_key_file(KeyFileFormat::Nginx48, &[(&k, KeyRole::Sealing)]).unwrap();
    save_key_file(&keys_path, &bytes).unwrap();
    let edge = Edge::start(&keys_path, TicketFormat::Rfc5077);
    for version in ["-tls1_2", "-tls1_3"] {
        let s = dir.path(&format!("s{version}.pem"));
        assert_eq!(s_client(edge.port, version, None, Some(&s)), Outcome::New);
        assert_eq!(
            s_client(edge.port, version, Some(&s), None),
            Outcome::Reused
        );
        let ticket = saved_ticket(&s);
        let ticketer = Ticketer::new(
            load_key_files(&[&keys_path], Some(KeyFileFormat::Nginx48)).unwrap(),
            TicketFormat::Rfc5077,
        );
        ticketer.open(&ticket, &mut Vec::new()).unwrap();
        // The rfc5077 length field agrees with the ticket's size.
        let len = u16::from_be_bytes([ticket[32], ticket[33]]) as usize;
        assert_eq!(len, ticket.len() - 16 - 16 - 2 - 32);
    }
    let events = edge.stop();
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e.error.is_none()));
}

/// Raw garbage on the port (no TLS at all, a truncated ClientHello, a ClientHello with a
/// malformed SessionTicket extension) is a logged failed connection; the server keeps serving.
#[test]
fn bad_clients_never_stop_the_server() {
    if !openssl_available() {
        return;
    }
    use std::net::TcpStream;
    let dir = TempDir::new("bad");
    let keys_path = dir.path("k");
    write_keys(&keys_path, &[(&key(T0, 1), KeyRole::Sealing)]);
    let edge = Edge::start(&keys_path, TicketFormat::OpenSsl);
    let addr = format!("127.0.0.1:{}", edge.port);
    let send = |bytes: &[u8]| {
        let mut s = TcpStream::connect(&addr).unwrap();
        let _ = s.write_all(bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut sink);
    };
    send(b"GET / HTTP/1.1\r\n\r\n");
    send(&[0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00]);
    send(&client_hello_with_ticket_extension(&[0xff; 3], 40));
    send(&client_hello_with_ticket_extension(&[0x00; 304], 304));
    let s = dir.path("s.pem");
    assert_eq!(s_client(edge.port, "-tls1_2", None, Some(&s)), Outcome::New);
    assert_eq!(
        s_client(edge.port, "-tls1_2", Some(&s), None),
        Outcome::Reused
    );
    let metrics = edge.ticketer.metrics().snapshot();
    let events = edge.stop();
    assert_eq!(events.len(), 6);
    assert_eq!(events.iter().filter(|e| e.error.is_some()).count(), 4);
    // The zero ticket of the well-formed ClientHello reached tessera and was turned away.
    assert_eq!(metrics.rejected(RejectReason::UnknownKey), 1, "{metrics}");
    assert_eq!(metrics.opened, 1, "{metrics}");
}

/// A TLS 1.2 ClientHello record (ECDHE-ECDSA-AES128-GCM-SHA256, x25519, P-256 signatures)
/// whose SessionTicket extension (35), last, claims `claimed_len` bytes but carries `ticket`.
fn client_hello_with_ticket_extension(ticket: &[u8], claimed_len: u16) -> Vec<u8> {
    let mut ext = vec![
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d, // supported_groups: x25519
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
        0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03, // signature_algorithms
        0x00, 0x23, // session_ticket
    ];
    ext.extend_from_slice(&claimed_len.to_be_bytes());
    ext.extend_from_slice(ticket);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x02, 0xc0, 0x2b]); // ECDHE-ECDSA-AES128-GCM-SHA256
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}
