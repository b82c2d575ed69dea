//! Network storm against the rustls edge server (`tessera::rustls::edge`, the code behind
//! `engine/examples/edge_server.rs`) on loopback, in process. Its certificate comes from the
//! `openssl` CLI, so like the other interop tests this prints SKIPPED without `openssl`, except
//! under CI (`CI` set), where it fails.

mod common;
use common::in_ci;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use tessera::keys::KeyRing;
use tessera::rustls::TesseraTicketer;
use tessera::rustls::edge::{EdgeServer, load_pem, server_config};
use tessera::{CipherKind, TicketFormat, TicketKey, Ticketer};

fn openssl() -> Option<PathBuf> {
    let found = std::env::var_os("TESSERA_OPENSSL")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/openssl")))
        .filter(|p| p.is_file());
    if found.is_none() {
        assert!(
            !in_ci(),
            "`openssl` not found but CI is set; .ci/run must install it"
        );
        eprintln!("SKIPPED net_edge: `openssl` not found (apt-get install openssl)");
    }
    found
}

#[test]
fn storm_against_rustls_edge_resumes_valid_and_rejects_forged() {
    let Some(openssl) = openssl() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("loadgen-edge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new(&openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(ok.success());
    let (chain, private) = load_pem(&cert, &key).expect("PEM loads");

    let ring = KeyRing::single(TicketKey::generate(CipherKind::Aes128).unwrap());
    let ticketer = Arc::new(TesseraTicketer::new(
        Ticketer::new(ring, TicketFormat::OpenSsl),
        7200,
    ));
    let config = Arc::new(server_config(chain, private, ticketer.clone()).unwrap());
    let server = EdgeServer::bind("127.0.0.1:0", config).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.shutdown_handle().unwrap();
    let serving = std::thread::spawn(move || server.serve(None, |_| {}));

    let json = dir.join("net.json");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "storm",
            "--target",
            &addr.to_string(),
            "--requests",
            "20",
            "--seconds",
            "20",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    stop.shutdown();
    serving.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    common::assert_network_report(&json, 20);
    // The server really used tessera: it sealed the tickets and opened the valid ones.
    let m = ticketer.metrics().snapshot();
    assert!(m.sealed > 0 && m.opened >= 20, "{m}");
    let _ = std::fs::remove_dir_all(&dir);
}
