//! `tessera seal` / `tessera open` through the built binary: round trips for every key-file
//! format × ticket format, known answers with `--iv`, and rejections (exit 1, reason on stderr).
#![cfg(feature = "cli")]

mod support;

use std::fs;
use std::path::Path;

use support::TempDir;
use support::cli::{self, KEY_FORMATS, TICKET_FORMATS};

#[test]
fn round_trip_every_key_format_and_ticket_format() {
    let dir = TempDir::new("cli-rt");
    for kf in KEY_FORMATS {
        let key = dir.join(&format!("{kf}.key"));
        cli::gen_key(kf, &key);
        // A state whose padding is a full block (32 bytes), and an odd one.
        for state_len in [32usize, 117] {
            let state = dir.join("state");
            fs::write(&state, support::random_bytes(state_len)).unwrap();
            for tf in TICKET_FORMATS {
                let ticket = dir.join(&format!("{kf}.{tf}.ticket"));
                let opened = dir.join(&format!("{kf}.{tf}.opened"));
                cli::seal(&key, tf, &state, &ticket, None).expect_code(0);
                let t = fs::read(&ticket).unwrap();
                assert!(
                    t.len() > state_len,
                    "{kf}/{tf}: ticket longer than its state"
                );
                cli::open(&key, tf, &ticket, &opened).expect_code(0);
                assert_eq!(
                    fs::read(&opened).unwrap(),
                    fs::read(&state).unwrap(),
                    "{kf}/{tf}"
                );
            }
        }
    }
}

/// Known answers computed independently with the OpenSSL 3.0.19 command line:
/// `openssl enc -aes-128-cbc|-aes-256-cbc -K AES -iv IV` over the state, then
/// `openssl dgst -sha256 -mac HMAC -macopt hexkey:HMAC` over name|iv|[len16]|ct.
/// Key name 00..0f; nginx48: aes 10..1f, hmac 20..2f; nginx80: hmac 10..2f, aes 30..4f.
/// State = bytes 00..27 (40 bytes), IV a0..af.
const KATS: [(usize, &str, &str); 4] = [
    (
        48,
        "openssl",
        "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf3a5eb8fc7284be1035c8c6dc6c30aafa6dd5507a17590a411348b5c7e5d48d8c2e22a9dfef27f20bb4dd45c8c8123c0e796322741f2e8f61e495977c017ef771a00435a3c2941390d7fdae2057144e3d",
    ),
    (
        48,
        "rfc5077",
        "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf00303a5eb8fc7284be1035c8c6dc6c30aafa6dd5507a17590a411348b5c7e5d48d8c2e22a9dfef27f20bb4dd45c8c8123c0e6f03cea8bc006949b8fd3993ea89cc061e10c1c49b14779ff3b786328cb0a76f",
    ),
    (
        80,
        "openssl",
        "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf697c8069183681848f06df6596b9be2174967209a5b04410fcc2c69575a1188228546463852b7c02c3b2b18001afae4c720007413609d87c53c0cd530227c138402382e7674cca9e0673a424688d5b8b",
    ),
    (
        80,
        "rfc5077",
        "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf0030697c8069183681848f06df6596b9be2174967209a5b04410fcc2c69575a1188228546463852b7c02c3b2b18001afae4c75d093eb6ea6bf07fe3d7d771e12e222ad1edae78755d9b5b00feca978a396eb",
    ),
];

#[test]
fn iv_gives_known_answers() {
    let dir = TempDir::new("cli-kat");
    let state = dir.join("state");
    fs::write(&state, (0u8..40).collect::<Vec<_>>()).unwrap();
    for (len, tf, expected) in KATS {
        let key = dir.join(&format!("nginx{len}.key"));
        fs::write(&key, (0u8..len as u8).collect::<Vec<_>>()).unwrap();
        let ticket = dir.join(&format!("{len}.{tf}"));
        cli::seal(
            &key,
            tf,
            &state,
            &ticket,
            Some("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"),
        )
        .expect_code(0);
        assert_eq!(
            hex::encode(fs::read(&ticket).unwrap()),
            expected,
            "nginx{len} {tf}"
        );
    }
}

/// Seals `state` with `--iv`, returning the ticket bytes.
fn seal_with_iv(dir: &TempDir, key: &Path, tf: &str, iv: &str, tag: &str) -> Vec<u8> {
    let state = dir.join("state");
    let out = dir.join(&format!("ticket.{tag}"));
    cli::seal(key, tf, &state, &out, Some(iv)).expect_code(0);
    fs::read(out).unwrap()
}

#[test]
fn iv_makes_seal_deterministic_and_random_iv_does_not() {
    let dir = TempDir::new("cli-iv");
    fs::write(dir.join("state"), support::random_bytes(100)).unwrap();
    let key = dir.join("k");
    cli::gen_key("nginx80", &key);
    for tf in TICKET_FORMATS {
        let iv_len = if tf == "aead" { 24 } else { 16 };
        let iv1 = hex::encode(vec![0x5a; iv_len]);
        let iv2 = hex::encode(vec![0xa5; iv_len]);
        let a = seal_with_iv(&dir, &key, tf, &iv1, "a");
        let b = seal_with_iv(&dir, &key, tf, &iv1, "b");
        let c = seal_with_iv(&dir, &key, tf, &iv2, "c");
        assert_eq!(a, b, "{tf}: same IV, same ticket");
        assert_ne!(a, c, "{tf}: another IV, another ticket");
        // Without --iv, two seals of the same state differ.
        let mut random = Vec::new();
        for tag in ["r1", "r2"] {
            let out = dir.join(tag);
            cli::seal(&key, tf, &dir.join("state"), &out, None).expect_code(0);
            random.push(fs::read(out).unwrap());
        }
        assert_ne!(random[0], random[1], "{tf}: random IVs differ");
        // A wrong-length IV is a usage error.
        let r = cli::seal(
            &key,
            tf,
            &dir.join("state"),
            &dir.join("x"),
            Some("00112233"),
        )
        .expect_code(2);
        assert!(r.stderr.contains("--iv"), "{}", r.stderr);
    }
}

/// Opens `ticket` bytes; returns the run.
fn open_bytes(dir: &TempDir, key: &Path, tf: &str, ticket: &[u8]) -> cli::Run {
    let input = dir.join("in.ticket");
    let out = dir.join("out.state");
    let _ = fs::remove_file(&out);
    fs::write(&input, ticket).unwrap();
    let run = cli::open(key, tf, &input, &out);
    if run.code != Some(0) {
        assert!(
            !out.exists(),
            "a rejected ticket must not produce a state file"
        );
    }
    run
}

#[test]
fn tampered_foreign_and_wrong_format_tickets_exit_1_with_reason() {
    let dir = TempDir::new("cli-tamper");
    fs::write(dir.join("state"), support::random_bytes(64)).unwrap();
    let key = dir.join("k");
    let other = dir.join("other");
    for k in [&key, &other] {
        cli::gen_key("haproxy48", k);
    }
    for tf in TICKET_FORMATS {
        let iv = if tf == "aead" {
            "11".repeat(24)
        } else {
            "11".repeat(16)
        };
        let ticket = seal_with_iv(&dir, &key, tf, &iv, tf);
        open_bytes(&dir, &key, tf, &ticket).expect_code(0);

        let last = ticket.len() - 1;
        for (what, index, reason) in [
            ("key name", 0, "unknown_key"),
            ("iv", 20, "bad_mac"),
            ("body", 60, "bad_mac"),
            ("mac", last, "bad_mac"),
        ] {
            let mut bad = ticket.clone();
            bad[index] ^= 0x80;
            let run = open_bytes(&dir, &key, tf, &bad).expect_code(1);
            assert!(
                run.stderr.contains(reason),
                "{tf} tampered {what}: {}",
                run.stderr
            );
        }
        // Truncated to nothing, and a few bytes short of the minimum.
        let run = open_bytes(&dir, &key, tf, &[]).expect_code(1);
        assert!(run.stderr.contains("too_short"), "{}", run.stderr);
        open_bytes(&dir, &key, tf, &ticket[..ticket.len() - 1]).expect_code(1);
        // Another fleet's key file does not know the name.
        let run = open_bytes(&dir, &other, tf, &ticket).expect_code(1);
        assert!(run.stderr.contains("unknown_key"), "{}", run.stderr);
    }
    // The same bytes opened as the other CBC format: rejected, never misread.
    let ticket = seal_with_iv(&dir, &key, "rfc5077", &"22".repeat(16), "x");
    open_bytes(&dir, &key, "openssl", &ticket).expect_code(1);
    let ticket = seal_with_iv(&dir, &key, "openssl", &"22".repeat(16), "y");
    open_bytes(&dir, &key, "rfc5077", &ticket).expect_code(1);
}

#[test]
fn stdin_and_stdout_with_dash() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let dir = TempDir::new("cli-dash");
    let key = dir.join("k");
    cli::gen_key("nginx48", &key);
    let state = support::random_bytes(50);
    let pipe = |args: &[&std::ffi::OsStr], input: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let common = |cmd: &'static str| {
        vec![
            cmd.as_ref(),
            "--key-file".as_ref(),
            cli::p(&key),
            "--ticket-format".as_ref(),
            "openssl".as_ref(),
            "--in".as_ref(),
            "-".as_ref(),
            "--out".as_ref(),
            "-".as_ref(),
        ]
    };
    let ticket = pipe(&common("seal"), &state);
    assert_eq!(ticket.len(), 16 + 16 + 64 + 32);
    assert_eq!(pipe(&common("open"), &ticket), state);
}

#[test]
fn key_time_windows_are_enforced() {
    let dir = TempDir::new("cli-times");
    let key = dir.join("k");
    cli::gen_key("tessera", &key);
    let text = fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("tessera-ticket-keys v1"), "{text}");
    assert!(
        text.contains("created="),
        "gen stamps the creation time: {text}"
    );
    let state = dir.join("state");
    fs::write(&state, support::random_bytes(40)).unwrap();
    let ticket = dir.join("t");
    cli::seal(&key, "aead", &state, &ticket, None).expect_code(0);

    // The same key, but its windows closed long ago (1970).
    let expired = dir.join("expired");
    let past = text
        .replace("seal_until=-", "seal_until=500")
        .replace("open_until=-", "open_until=1000");
    assert_ne!(past, text, "the generated key has open windows: {text}");
    fs::write(&expired, past).unwrap();
    let run = cli::open(&expired, "aead", &ticket, &dir.join("o")).expect_code(1);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
    assert!(!dir.join("o").exists());
    let run = cli::seal(&expired, "aead", &state, &dir.join("t2"), None).expect_code(2);
    assert!(run.stderr.contains("may not seal"), "{}", run.stderr);
    // A forged ticket under the expired key is a MAC failure, not "expired".
    let mut forged = fs::read(&ticket).unwrap();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    fs::write(dir.join("forged"), forged).unwrap();
    let run = cli::open(&expired, "aead", &dir.join("forged"), &dir.join("o")).expect_code(1);
    assert!(run.stderr.contains("bad_mac"), "{}", run.stderr);
}
