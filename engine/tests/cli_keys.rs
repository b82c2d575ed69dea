//! `tessera keys gen|show|convert` through the built binary.
#![cfg(feature = "cli")]

mod support;

use std::fs;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use support::TempDir;
use support::cli::{self, KEY_FORMATS, p, tessera};

/// The secret parts (AES and HMAC keys) of a raw nginx key file.
fn nginx_secrets(bytes: &[u8]) -> Vec<Vec<u8>> {
    match bytes.len() {
        48 => vec![bytes[16..32].to_vec(), bytes[32..48].to_vec()],
        80 => vec![bytes[16..48].to_vec(), bytes[48..80].to_vec()],
        n => panic!("nginx key file of {n} bytes"),
    }
}

/// Every spelling of `secret` that could leak into text output.
fn spellings(secret: &[u8]) -> Vec<String> {
    let lower = hex::encode(secret);
    // Any 8-byte window is already far too much to print.
    let mut out: Vec<String> = secret.windows(8).map(hex::encode).collect();
    out.push(lower.to_uppercase());
    out.push(STANDARD.encode(secret));
    out
}

#[test]
fn gen_writes_the_documented_sizes_with_owner_only_permissions() {
    let dir = TempDir::new("cli-gen");
    for (kf, check) in [
        ("nginx48", 48usize),
        ("nginx80", 80),
        ("haproxy48", 48),
        ("haproxy80", 80),
    ] {
        let path = dir.join(kf);
        cli::gen_key(kf, &path);
        let bytes = fs::read(&path).unwrap();
        let raw = if kf.starts_with("nginx") {
            bytes
        } else {
            let text = String::from_utf8(bytes).expect("HAProxy key files are text");
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .unwrap();
            STANDARD.decode(line.trim()).expect("base64 line")
        };
        assert_eq!(raw.len(), check, "{kf}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{kf}: key files are owner-only");
        }
    }
    // Two generated keys never share a name or secrets.
    let a = fs::read(dir.join("nginx80")).unwrap();
    cli::gen_key("nginx80", &dir.join("again"));
    let b = fs::read(dir.join("again")).unwrap();
    assert_ne!(a, b);
}

#[test]
fn show_lists_names_and_never_secrets() {
    let dir = TempDir::new("cli-show");
    for kf in ["nginx48", "nginx80"] {
        let src = dir.join(kf);
        cli::gen_key(kf, &src);
        let raw = fs::read(&src).unwrap();
        let name = hex::encode(&raw[..16]);
        let secrets = nginx_secrets(&raw);
        // Show the same keys in every format: the output must name the key, never leak secrets.
        let compatible = if kf == "nginx48" { "48" } else { "80" };
        for to in KEY_FORMATS
            .into_iter()
            .filter(|f| *f == "tessera" || f.ends_with(compatible))
        {
            let file = dir.join(&format!("{kf}-as-{to}"));
            tessera([
                "keys".as_ref(),
                "convert".as_ref(),
                "--key-file".as_ref(),
                p(&src),
                "--to".as_ref(),
                to.as_ref(),
                "--out".as_ref(),
                p(&file),
            ])
            .expect_code(0);
            let run = tessera([
                "keys".as_ref(),
                "show".as_ref(),
                "--key-file".as_ref(),
                p(&file),
            ])
            .expect_code(0);
            let text = format!("{}{}", run.stdout_text(), run.stderr);
            assert!(
                text.contains(&name),
                "{kf} as {to}: show names the key:\n{text}"
            );
            assert!(
                text.contains(if kf == "nginx48" {
                    "AES-128"
                } else {
                    "AES-256"
                }),
                "{text}"
            );
            for secret in &secrets {
                for s in spellings(secret) {
                    assert!(
                        !text.contains(&s),
                        "{kf} as {to}: show leaked a secret:\n{text}"
                    );
                }
            }
        }
    }
}

#[test]
fn convert_round_trips_byte_for_byte() {
    let dir = TempDir::new("cli-convert");
    for (kf, via) in [
        ("nginx48", "haproxy48"),
        ("nginx80", "haproxy80"),
        ("nginx48", "tessera"),
        ("nginx80", "tessera"),
    ] {
        let src = dir.join(&format!("{kf}-for-{via}"));
        cli::gen_key(kf, &src);
        let mid = dir.join(&format!("{kf}.{via}"));
        let back = dir.join(&format!("{kf}.{via}.back"));
        tessera([
            "keys".as_ref(),
            "convert".as_ref(),
            "--key-file".as_ref(),
            p(&src),
            "--to".as_ref(),
            via.as_ref(),
            "--out".as_ref(),
            p(&mid),
        ])
        .expect_code(0);
        tessera([
            "keys".as_ref(),
            "convert".as_ref(),
            "--key-file".as_ref(),
            p(&mid),
            "--key-format".as_ref(),
            via.as_ref(),
            "--to".as_ref(),
            kf.as_ref(),
            "--out".as_ref(),
            p(&back),
        ])
        .expect_code(0);
        assert_eq!(
            fs::read(&src).unwrap(),
            fs::read(&back).unwrap(),
            "{kf} -> {via} -> {kf}"
        );
    }
    // A ticket sealed with one spelling opens with the other.
    let state = dir.join("state");
    fs::write(&state, support::random_bytes(80)).unwrap();
    cli::seal(
        &dir.join("nginx80-for-haproxy80"),
        "openssl",
        &state,
        &dir.join("t"),
        None,
    )
    .expect_code(0);
    cli::open(
        &dir.join("nginx80.haproxy80"),
        "openssl",
        &dir.join("t"),
        &dir.join("o"),
    )
    .expect_code(0);
    assert_eq!(fs::read(&state).unwrap(), fs::read(dir.join("o")).unwrap());
}

#[test]
fn convert_refuses_a_format_that_cannot_hold_the_key() {
    let dir = TempDir::new("cli-convert-bad");
    let src = dir.join("k80");
    cli::gen_key("nginx80", &src);
    let run = tessera([
        "keys".as_ref(),
        "convert".as_ref(),
        "--key-file".as_ref(),
        p(&src),
        "--to".as_ref(),
        "nginx48".as_ref(),
        "--out".as_ref(),
        p(&dir.join("x")),
    ])
    .expect_code(2);
    assert!(!run.stderr.is_empty());
    assert!(!dir.join("x").exists(), "nothing written on failure");
}

#[test]
fn haproxy_second_to_last_line_seals() {
    let dir = TempDir::new("cli-haproxy");
    let mut lines = Vec::new();
    let mut names = Vec::new();
    for i in 0..3 {
        let one = dir.join(&format!("one{i}"));
        cli::gen_key("haproxy80", &one);
        let line = fs::read_to_string(&one).unwrap().trim().to_owned();
        names.push(hex::encode(&STANDARD.decode(&line).unwrap()[..16]));
        lines.push(line);
    }
    let file = dir.join("tls-ticket-keys");
    fs::write(
        &file,
        format!("# rotated by appending\n{}\n", lines.join("\n")),
    )
    .unwrap();

    let run = tessera([
        "keys".as_ref(),
        "show".as_ref(),
        "--key-file".as_ref(),
        p(&file),
    ])
    .expect_code(0);
    let text = run.stdout_text();
    let sealing: Vec<&str> = text.lines().filter(|l| l.contains("seals")).collect();
    assert_eq!(sealing.len(), 1, "{text}");
    assert!(
        sealing[0].contains(&names[1]),
        "the second-to-last line seals:\n{text}"
    );

    let state = dir.join("state");
    fs::write(&state, support::random_bytes(48)).unwrap();
    let ticket = dir.join("ticket");
    cli::seal(&file, "openssl", &state, &ticket, None).expect_code(0);
    assert_eq!(hex::encode(&fs::read(&ticket).unwrap()[..16]), names[1]);
    // Each single-key file opens only its own tickets.
    cli::open(&dir.join("one1"), "openssl", &ticket, &dir.join("o")).expect_code(0);
    cli::open(&dir.join("one2"), "openssl", &ticket, &dir.join("o2")).expect_code(1);
}
