//! Bit-exact interop with a real nginx + OpenSSL (Debian packages): nginx issues a ticket under
//! an `ssl_session_ticket_key` file, tessera opens it with the same key file (OpenSsl format),
//! reseals the state under a fresh IV, and nginx resumes the session from tessera's ticket.
//! Tampered tickets must cost a full handshake, never a broken connection.
//!
//! Needs `nginx` and `openssl` (`.ci/run` installs them). Without them the test prints a skip
//! notice, except under CI where it fails.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{ChildGuard, SavedSession, TempDir, Tls};
use tessera::{TicketFormat, Ticketer, keys};

/// A running nginx serving TLS on 127.0.0.1 with a fixed ticket key file.
struct Nginx {
    guard: ChildGuard,
    port: u16,
    error_log: PathBuf,
}

impl Nginx {
    /// Starts nginx in the foreground (single process, so the guard's kill by pid stops it all).
    fn start(
        nginx: &Path,
        dir: &Path,
        cert: &Path,
        key: &Path,
        ticket_key: &Path,
        tls: Tls,
    ) -> Self {
        let protocols = match tls {
            Tls::V12 => "TLSv1.2",
            Tls::V13 => "TLSv1.3",
        };
        let tmp = dir.join("tmp");
        fs::create_dir_all(&tmp).expect("nginx temp dir");
        let error_log = dir.join("error.log");
        let mut last_err = String::new();
        // A port picked free can be taken before nginx binds it: retry a few times.
        for _ in 0..5 {
            let port = support::free_loopback_port();
            let conf = format!(
                "daemon off;\n\
                 master_process off;\n\
                 worker_processes 1;\n\
                 pid {dir}/nginx.pid;\n\
                 error_log {log} info;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n\
                   access_log off;\n\
                   client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};\n\
                   uwsgi_temp_path {tmp}; scgi_temp_path {tmp};\n\
                   server {{\n\
                     listen 127.0.0.1:{port} ssl;\n\
                     ssl_certificate {cert};\n\
                     ssl_certificate_key {key};\n\
                     ssl_protocols {protocols};\n\
                     ssl_session_cache off;\n\
                     ssl_session_tickets on;\n\
                     ssl_session_ticket_key {ticket_key};\n\
                     location / {{ return 200 \"ok\\n\"; }}\n\
                   }}\n\
                 }}\n",
                dir = dir.display(),
                log = error_log.display(),
                tmp = tmp.display(),
                cert = cert.display(),
                key = key.display(),
                ticket_key = ticket_key.display(),
            );
            let conf_path = dir.join("nginx.conf");
            fs::write(&conf_path, conf).expect("write nginx.conf");
            let child = Command::new(nginx)
                .arg("-p")
                .arg(dir)
                .arg("-e")
                .arg(&error_log)
                .arg("-c")
                .arg(&conf_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn nginx");
            let mut guard = ChildGuard::new(child, "nginx");
            match guard.wait_for_port(port, Duration::from_secs(10)) {
                Ok(()) => {
                    return Self {
                        guard,
                        port,
                        error_log,
                    };
                }
                Err(e) => {
                    guard.stop();
                    let log = fs::read_to_string(&error_log).unwrap_or_default();
                    last_err = format!("{e}\nstderr: {}\nerror.log:\n{log}", guard.stderr_text());
                }
            }
        }
        panic!("nginx did not start: {last_err}");
    }

    fn error_log(&self) -> String {
        fs::read_to_string(&self.error_log).unwrap_or_default()
    }
}

/// One interop run: key file of `key_len` bytes (48 or 80), protocol `tls`.
fn interop(test: &str, key_len: usize, tls: Tls) {
    let Some(tools) = support::tools_or_skip(
        test,
        &[
            (
                "nginx",
                "TESSERA_NGINX",
                &["/usr/sbin/nginx", "/usr/local/sbin/nginx"],
            ),
            ("openssl", "TESSERA_OPENSSL", &["/usr/bin/openssl"]),
        ],
    ) else {
        return;
    };
    let (nginx_bin, openssl) = (&tools[0], &tools[1]);
    let dir = TempDir::new(&format!("nginx{key_len}"));
    let (cert, key) = support::self_signed_cert(openssl, dir.path());
    let key_file = dir.join(&format!("ticket{key_len}.key"));
    let key_bytes = support::random_bytes(key_len);
    fs::write(&key_file, &key_bytes).expect("write ticket key file");

    let nginx = Nginx::start(nginx_bin, dir.path(), &cert, &key, &key_file, tls);
    let port = nginx.port;
    let ctx = |what: &str| format!("{test}: {what}\nnginx error.log:\n{}", nginx.error_log());

    // 1. A full handshake that issues a ticket.
    let sess = dir.join("sess.pem");
    let first = support::s_client(openssl, port, tls, None, Some(&sess));
    assert!(
        !first.reused,
        "{}",
        ctx(&format!("first handshake must be New:\n{}", first.output))
    );
    let saved = SavedSession::read(&sess);
    let ticket = saved.ticket().to_vec();
    println!(
        "{test}: nginx {tls:?} ticket with a {key_len}-byte key file: {} bytes ({})",
        ticket.len(),
        first.summary
    );
    assert_eq!(
        &ticket[..16],
        &key_bytes[..16],
        "nginx puts the key file's name first"
    );

    // 2. Sanity: nginx resumes its own ticket.
    let own = support::s_client(openssl, port, tls, Some(&sess), None);
    assert!(
        own.reused,
        "{}",
        ctx(&format!(
            "nginx must resume its own ticket:\n{}",
            own.output
        ))
    );

    // 3. tessera opens nginx's ticket and reseals it under a fresh IV.
    let (state, resealed) = tessera_open_and_reseal(&key_file, &ticket);
    println!(
        "{test}: session state inside: {} bytes; resealed ticket: {} bytes",
        state.len(),
        resealed.len()
    );
    assert_eq!(
        state.first(),
        Some(&0x30),
        "OpenSSL's ticket state is a DER SSL_SESSION"
    );
    if tls == Tls::V12 {
        // The server's copy of the session carries the same master secret the client saved.
        let mk = saved.master_key();
        assert!(
            state.windows(mk.len()).any(|w| w == mk),
            "decrypted state must contain the session's master secret"
        );
    }
    cli_open_matches(&dir, &key_file, &ticket, &state);
    assert_eq!(
        resealed.len(),
        ticket.len(),
        "same state, same format: same length"
    );
    assert_eq!(&resealed[..16], &ticket[..16], "same key name");
    assert_ne!(&resealed[16..32], &ticket[16..32], "fresh IV");

    let spliced = dir.join("resealed.pem");
    saved.with_ticket(&resealed).write(&spliced);
    let resumed = support::s_client(openssl, port, tls, Some(&spliced), None);
    assert!(
        resumed.reused,
        "{}",
        ctx(&format!(
            "nginx must resume from tessera's ticket:\n{}",
            resumed.output
        ))
    );

    // 4. Tampering anywhere (key name, IV, ciphertext, MAC) means a full handshake, not a failure.
    let positions = [
        ("key name", 0),
        ("iv", 16),
        ("ciphertext", 40),
        ("mac", ticket.len() - 1),
    ];
    for (what, index) in positions {
        let bad = dir.join("tampered.pem");
        saved
            .with_ticket(&support::flip_bit(&resealed, index))
            .write(&bad);
        let hs = support::s_client(openssl, port, tls, Some(&bad), None);
        assert!(
            !hs.reused,
            "{}",
            ctx(&format!("tampered {what} must not resume:\n{}", hs.output))
        );
    }
    // Stop nginx now (the guard would also do it on any panic above).
    let mut nginx = nginx;
    nginx.guard.stop();
}

/// Opens `ticket` with tessera (the embedder's [`Ticketer`], OpenSsl format) under nginx's own
/// key file, and reseals the state under a fresh random IV with the same key.
fn tessera_open_and_reseal(key_file: &Path, ticket: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let ring = keys::load_key_files(&[key_file], None).expect("tessera reads nginx's key file");
    let ticketer = Ticketer::new(ring, TicketFormat::OpenSsl);
    let mut state = Vec::new();
    ticketer
        .open(ticket, &mut state)
        .unwrap_or_else(|r| panic!("tessera must open nginx's ticket: {r}"));
    let resealed = ticketer.seal(&state).expect("reseal");
    (state, resealed)
}

/// The same through the `tessera` binary: `tessera open` must give the same state.
#[cfg(feature = "cli")]
fn cli_open_matches(dir: &TempDir, key_file: &Path, ticket: &[u8], state: &[u8]) {
    let input = dir.join("nginx.ticket");
    let out = dir.join("nginx.state");
    fs::write(&input, ticket).expect("write ticket");
    support::cli::open(key_file, "openssl", &input, &out).expect_code(0);
    assert_eq!(
        fs::read(&out).expect("read state"),
        state,
        "`tessera open` agrees with the library"
    );
    // `tessera inspect` reads nginx's ticket layout without keys.
    let run = support::cli::tessera([
        std::ffi::OsStr::new("inspect"),
        "--in".as_ref(),
        input.as_os_str(),
    ])
    .expect_code(0);
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).expect("inspect prints JSON");
    assert_eq!(v["kind"], "ticket");
    assert_eq!(v["key_name"], hex::encode(&ticket[..16]));
    assert!(
        v["fits"]
            .as_array()
            .is_some_and(|f| f.contains(&"openssl".into())),
        "{v}"
    );
}

#[cfg(not(feature = "cli"))]
fn cli_open_matches(_: &TempDir, _: &Path, _: &[u8], _: &[u8]) {}

#[test]
fn nginx_tls12_48_byte_key() {
    interop("nginx_tls12_48_byte_key", 48, Tls::V12);
}

#[test]
fn nginx_tls12_80_byte_key() {
    interop("nginx_tls12_80_byte_key", 80, Tls::V12);
}

#[test]
fn nginx_tls13_48_byte_key() {
    interop("nginx_tls13_48_byte_key", 48, Tls::V13);
}

#[test]
fn nginx_tls13_80_byte_key() {
    interop("nginx_tls13_80_byte_key", 80, Tls::V13);
}

/// The harness's own DER walk and PEM round trip, on a hand-built SSL_SESSION-shaped value:
/// SEQUENCE { INTEGER 1, INTEGER 0x0303, OCTET cipher, OCTET sid, OCTET master(3),
/// [10] { OCTET ticket(2) } }. Runs without nginx.
#[test]
fn saved_session_walk_and_splice() {
    let der = vec![
        0x30, 0x19, 0x02, 0x01, 0x01, 0x02, 0x02, 0x03, 0x03, 0x04, 0x02, 0xc0, 0x2c, 0x04, 0x01,
        0x00, 0x04, 0x03, 0xaa, 0xbb, 0xcc, 0xaa, 0x04, 0x04, 0x02, 0x11, 0x22,
    ];
    let s = SavedSession { der };
    assert_eq!(s.ticket(), &[0x11, 0x22]);
    assert_eq!(s.master_key(), &[0xaa, 0xbb, 0xcc]);
    let t = s.with_ticket(&[0x33, 0x44]);
    assert_eq!(t.ticket(), &[0x33, 0x44]);
    assert_eq!(t.der.len(), s.der.len());
    let dir = TempDir::new("pem");
    let path = dir.join("s.pem");
    t.write(&path);
    assert!(
        fs::read_to_string(&path)
            .unwrap()
            .starts_with("-----BEGIN SSL SESSION PARAMETERS-----\n")
    );
    assert_eq!(SavedSession::read(&path).der, t.der);
}
