//! `tessera inspect`: JSON for each structure, auto-detection, `--hex`, and never a secret.
#![cfg(feature = "cli")]

mod support;

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use serde_json::Value;
use support::TempDir;
use support::cli::{self, p, tessera};

fn inspect(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["inspect".as_ref(), "--in".as_ref(), p(path)];
    args.extend(extra.iter().map(OsStr::new));
    let run = tessera(args).expect_code(0);
    serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("JSON: {e}\n{}", run.stdout_text()))
}

/// A TLS 1.2 StatePlaintext (RFC 5077 section 4) with the given master secret and identity.
fn state_bytes(master: &[u8; 48], identity: &[u8]) -> Vec<u8> {
    let mut s = vec![0x03, 0x03, 0xc0, 0x2f, 0x00];
    s.extend_from_slice(master);
    s.extend_from_slice(identity);
    s.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    s
}

#[test]
fn state_is_decoded_without_the_master_secret() {
    let dir = TempDir::new("cli-inspect-state");
    let master: [u8; 48] = support::random_bytes(48).try_into().unwrap();
    let path = dir.join("state");
    // psk identity "edge-7"
    fs::write(
        &path,
        state_bytes(
            &master,
            &[0x02, 0x00, 0x06, b'e', b'd', b'g', b'e', b'-', b'7'],
        ),
    )
    .unwrap();
    for extra in [&[][..], &["--as", "state"][..]] {
        let v = inspect(&path, extra);
        assert_eq!(v["kind"], "state");
        assert_eq!(v["protocol"], "TLS 1.2");
        assert_eq!(v["cipher_suite"], "0xc02f");
        assert_eq!(v["client_identity"]["type"], "psk");
        assert_eq!(v["client_identity"]["psk_identity"], "edge-7");
        assert_eq!(v["timestamp"], 1_700_000_000u32);
        assert_eq!(v["timestamp_utc"], "2023-11-14T22:13:20Z");
        let text = v.to_string();
        for w in master.windows(8) {
            assert!(
                !text.contains(&hex::encode(w)),
                "master secret leaked: {text}"
            );
        }
    }
}

#[test]
fn nst_and_extension_forms() {
    let dir = TempDir::new("cli-inspect-nst");
    let key = dir.join("k");
    cli::gen_key("nginx48", &key);
    let state = dir.join("state");
    fs::write(&state, state_bytes(&[7; 48], &[0x00])).unwrap();
    let ticket_path = dir.join("ticket");
    cli::seal(&key, "openssl", &state, &ticket_path, None).expect_code(0);
    let ticket = fs::read(&ticket_path).unwrap();
    let name = hex::encode(&fs::read(&key).unwrap()[..16]);

    // NewSessionTicket body and full message.
    let mut body = 7200u32.to_be_bytes().to_vec();
    body.extend_from_slice(&(ticket.len() as u16).to_be_bytes());
    body.extend_from_slice(&ticket);
    let mut msg = vec![4, 0, 0, body.len() as u8];
    msg.extend_from_slice(&body);
    for (file, bytes, header) in [("nst-body", &body, false), ("nst-msg", &msg, true)] {
        let path = dir.join(file);
        fs::write(&path, bytes).unwrap();
        let v = inspect(&path, &[]);
        assert_eq!(v["kind"], "nst", "{file}: {v}");
        assert_eq!(v["handshake_header"], header);
        assert_eq!(v["ticket_lifetime_hint"], 7200);
        assert_eq!(v["ticket_len"], ticket.len());
        assert_eq!(v["ticket"]["key_name"], name.as_str());
        assert!(
            v["ticket"]["fits"]
                .as_array()
                .unwrap()
                .contains(&"openssl".into()),
            "{v}"
        );
    }

    // ClientHello SessionTicket extension carrying the ticket, and the empty one.
    let mut ext = vec![0x00, 0x23];
    ext.extend_from_slice(&(ticket.len() as u16).to_be_bytes());
    ext.extend_from_slice(&ticket);
    let path = dir.join("ext");
    fs::write(&path, &ext).unwrap();
    let v = inspect(&path, &["--as", "extension"]);
    assert_eq!(v["kind"], "extension");
    assert_eq!(v["ticket_len"], ticket.len());
    assert_eq!(v["ticket"]["key_name"], name.as_str());
    fs::write(&path, [0x00, 0x23, 0x00, 0x00]).unwrap();
    let v = inspect(&path, &[]);
    assert_eq!(v["kind"], "extension");
    assert_eq!(v["ticket_len"], 0);

    // An extensions block: server_name (0) then SessionTicket.
    let mut block_body = vec![0x00, 0x00, 0x00, 0x00];
    block_body.extend_from_slice(&ext);
    let mut block = (block_body.len() as u16).to_be_bytes().to_vec();
    block.extend_from_slice(&block_body);
    fs::write(&path, &block).unwrap();
    let v = inspect(&path, &["--as", "extension"]);
    assert_eq!(v["form"], "extensions_block");
    assert_eq!(v["extension_types"], serde_json::json!([0, 35]));

    // The bare ticket, auto-detected, and via --hex.
    let v = inspect(&ticket_path, &[]);
    assert_eq!(v["kind"], "ticket");
    assert_eq!(v["len"], ticket.len());
    assert_eq!(v["layouts"]["openssl"]["iv"], hex::encode(&ticket[16..32]));
    assert_eq!(v["layouts"]["openssl"]["ciphertext_len"], ticket.len() - 64);
    let hex_path = dir.join("ticket.hex");
    fs::write(&hex_path, format!("{}\n", hex::encode(&ticket))).unwrap();
    assert_eq!(inspect(&hex_path, &["--hex"]), v);
}

#[test]
fn rfc5077_layout_is_recognised_by_its_length_field() {
    let dir = TempDir::new("cli-inspect-rfc");
    let key = dir.join("k");
    cli::gen_key("nginx80", &key);
    let state = dir.join("state");
    fs::write(&state, support::random_bytes(70)).unwrap();
    for tf in ["rfc5077", "aead"] {
        let t = dir.join(tf);
        cli::seal(&key, tf, &state, &t, None).expect_code(0);
        let v = inspect(&t, &["--as", "ticket"]);
        assert!(
            v["fits"].as_array().unwrap().contains(&tf.into()),
            "{tf}: {v}"
        );
        if tf == "rfc5077" {
            assert_eq!(v["layouts"]["rfc5077"]["length_field"], 80);
        } else {
            assert_eq!(v["layouts"]["aead"]["state_len"], 70);
        }
    }
}

#[test]
fn malformed_input_exits_2_with_the_field() {
    let dir = TempDir::new("cli-inspect-bad");
    let path = dir.join("bad");
    // A StatePlaintext cut short inside the master secret.
    fs::write(&path, [0x03, 0x03, 0xc0, 0x2f, 0x00, 1, 2, 3]).unwrap();
    let run = tessera([
        "inspect".as_ref(),
        "--in".as_ref(),
        p(&path),
        "--as".as_ref(),
        "state".as_ref(),
    ])
    .expect_code(2);
    assert!(run.stderr.contains("master_secret"), "{}", run.stderr);
    // Too short to be anything.
    fs::write(&path, [1, 2, 3]).unwrap();
    tessera(["inspect".as_ref(), "--in".as_ref(), p(&path)]).expect_code(2);
    // Not hex.
    fs::write(&path, "xyz").unwrap();
    tessera([
        "inspect".as_ref(),
        "--in".as_ref(),
        p(&path),
        "--hex".as_ref(),
    ])
    .expect_code(2);
    // Random garbage of many lengths never panics.
    for len in (0..120).step_by(7) {
        fs::write(&path, support::random_bytes(len)).unwrap();
        for kind in ["nst", "extension", "ticket", "state"] {
            let run = tessera([
                "inspect".as_ref(),
                "--in".as_ref(),
                p(&path),
                "--as".as_ref(),
                kind.as_ref(),
            ]);
            assert!(
                matches!(run.code, Some(0 | 2)),
                "{kind} len {len}: {:?}",
                run.code
            );
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
}
