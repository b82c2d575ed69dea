//! Exit codes for usage and file errors (2), and that bad input never panics the CLI.
#![cfg(feature = "cli")]

mod support;

use std::fs;

use support::TempDir;
use support::cli::{self, p, tessera};

#[test]
fn bad_arguments_exit_2() {
    let none: [&str; 0] = [];
    tessera(none).expect_code(2);
    tessera(["frobnicate"]).expect_code(2);
    tessera(["keys"]).expect_code(2);
    tessera(["keys", "gen", "--key-format", "nginx64", "--out", "/tmp/x"]).expect_code(2);
    tessera(["keys", "gen", "--out", "/tmp/x"]).expect_code(2);
    tessera([
        "seal",
        "--key-file",
        "k",
        "--ticket-format",
        "rot13",
        "--in",
        "a",
        "--out",
        "b",
    ])
    .expect_code(2);
    tessera(["open", "--key-file", "k", "--in", "a", "--out", "b"]).expect_code(2);
    tessera(["inspect", "--in", "x", "--as", "cookie"]).expect_code(2);
    tessera(["--help"]).expect_code(0);
    tessera(["seal", "--help"]).expect_code(0);
}

#[test]
fn help_documents_iv_as_test_only() {
    let run = tessera(["seal", "--help"]).expect_code(0);
    assert!(
        run.stdout_text().contains("KNOWN-ANSWER TESTS ONLY"),
        "{}",
        run.stdout_text()
    );
}

#[test]
fn missing_and_garbage_key_files_exit_2_naming_the_file() {
    let dir = TempDir::new("cli-badkey");
    let state = dir.join("state");
    fs::write(&state, b"some state").unwrap();
    let missing = dir.join("no-such.key");
    let run = cli::seal(&missing, "openssl", &state, &dir.join("t"), None).expect_code(2);
    assert!(run.stderr.contains("no-such.key"), "{}", run.stderr);

    let cases: [(&str, Vec<u8>); 6] = [
        ("empty.key", Vec::new()),
        ("short.key", support::random_bytes(47)),
        ("odd.key", support::random_bytes(64)),
        ("text.key", b"this is not a key file\n".to_vec()),
        ("badb64.key", b"!!!not base64!!!\n".to_vec()),
        ("zero.key", vec![0u8; 48]),
    ];
    for (name, bytes) in cases {
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        for args in [
            vec![
                "keys".as_ref(),
                "show".as_ref(),
                "--key-file".as_ref(),
                p(&path),
            ],
            vec![
                "keys".as_ref(),
                "convert".as_ref(),
                "--key-file".as_ref(),
                p(&path),
                "--to".as_ref(),
                "nginx48".as_ref(),
                "--out".as_ref(),
                p(&dir.join("out")),
            ],
        ] {
            let run = tessera(args).expect_code(2);
            assert!(run.stderr.contains(name), "{name}: {}", run.stderr);
        }
        let run = cli::seal(&path, "openssl", &state, &dir.join("t"), None).expect_code(2);
        assert!(run.stderr.contains(name), "{name}: {}", run.stderr);
        let run = cli::open(&path, "openssl", &state, &dir.join("o")).expect_code(2);
        assert!(run.stderr.contains(name), "{name}: {}", run.stderr);
        assert!(!dir.join("t").exists() && !dir.join("o").exists());
    }
    // A key file forced into the wrong format.
    let good = dir.join("good.key");
    cli::gen_key("nginx80", &good);
    let run = tessera([
        "keys".as_ref(),
        "show".as_ref(),
        "--key-file".as_ref(),
        p(&good),
        "--key-format".as_ref(),
        "nginx48".as_ref(),
    ])
    .expect_code(2);
    assert!(run.stderr.contains("good.key"), "{}", run.stderr);
}

#[test]
fn unreadable_input_and_unwritable_output_exit_2() {
    let dir = TempDir::new("cli-io");
    let key = dir.join("k");
    cli::gen_key("nginx48", &key);
    let run = cli::seal(
        &key,
        "openssl",
        &dir.join("missing-state"),
        &dir.join("t"),
        None,
    )
    .expect_code(2);
    assert!(run.stderr.contains("missing-state"), "{}", run.stderr);
    fs::write(dir.join("state"), b"x").unwrap();
    let run = cli::seal(
        &key,
        "openssl",
        &dir.join("state"),
        &dir.join("no/such/dir/t"),
        None,
    )
    .expect_code(2);
    assert!(run.stderr.contains("no/such/dir"), "{}", run.stderr);
    let run = cli::seal(
        &key,
        "openssl",
        &dir.join("state"),
        &dir.join("t"),
        Some("not-hex"),
    )
    .expect_code(2);
    assert!(run.stderr.contains("--iv"), "{}", run.stderr);
    let run = tessera([
        "keys".as_ref(),
        "gen".as_ref(),
        "--key-format".as_ref(),
        "nginx48".as_ref(),
        "--out".as_ref(),
        p(&dir.join("nope/k")),
    ])
    .expect_code(2);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
}

#[test]
fn oversized_inputs_are_refused_without_reading_them_whole() {
    let dir = TempDir::new("cli-big");
    let key = dir.join("k");
    cli::gen_key("nginx48", &key);
    // Longer than any ticket (2^16-1): a rejection, like any bad ticket.
    let big = dir.join("big");
    fs::write(&big, vec![0x41u8; 70_000]).unwrap();
    let run = cli::open(&key, "openssl", &big, &dir.join("o")).expect_code(1);
    assert!(run.stderr.contains("too_long"), "{}", run.stderr);
    // Longer than any sealable state: a usage error.
    let run = cli::seal(&key, "openssl", &big, &dir.join("t"), None).expect_code(2);
    assert!(run.stderr.contains("too long"), "{}", run.stderr);
    // A "key file" of 2 MiB.
    let huge = dir.join("huge.key");
    fs::write(&huge, vec![0x41u8; 2 << 20]).unwrap();
    let run = tessera([
        "keys".as_ref(),
        "show".as_ref(),
        "--key-file".as_ref(),
        p(&huge),
    ])
    .expect_code(2);
    assert!(run.stderr.contains("huge.key"), "{}", run.stderr);
}
