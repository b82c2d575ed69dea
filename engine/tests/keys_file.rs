//! Key files: parse and write every format, field orders checked against hand-built files,
//! HAProxy's second-to-last rule, multi-file loading, and every bad-file case with the error
//! naming file and line and never showing a secret.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use tessera::Error;
use tessera::keys::file::TESSERA_HEADER;
use tessera::keys::{
    CipherKind, KeyFileFormat, KeyRing, KeyRole, KeyTimes, TicketKey, check_permissions,
    load_key_files, load_key_files_checked, parse_key_file, parse_key_file_detailed, read_key_file,
    save_key_file, write_key_file, write_ring,
};

/// Bytes `start, start+1, ...` (never weak).
fn seq(start: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| start.wrapping_add(i as u8)).collect()
}

fn name(start: u8) -> [u8; 16] {
    seq(start, 16).try_into().unwrap()
}

fn key(start: u8, cipher: CipherKind) -> TicketKey {
    let n = cipher.key_len();
    TicketKey::new(name(start), &seq(start ^ 0x40, n), &seq(start ^ 0x80, n)).unwrap()
}

/// A fresh directory under the system temp dir for one test.
fn temp_dir(test: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tessera-keys-{}-{}-{test}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The key's full content as tessera text, to compare secrets without exposing accessors.
fn canonical(keys: &[(TicketKey, KeyRole)]) -> Vec<u8> {
    let refs: Vec<(&TicketKey, KeyRole)> = keys.iter().map(|(k, r)| (k, *r)).collect();
    write_key_file(KeyFileFormat::Tessera, &refs)
        .unwrap()
        .to_vec()
}

/// Asserts an `Error::KeyFile` at `path:line` whose message contains `needle`.
#[track_caller]
fn assert_file_err(
    result: Result<impl Sized, Error>,
    path: &str,
    line: usize,
    needle: &str,
) -> String {
    match result {
        Err(Error::KeyFile {
            path: p,
            line: l,
            msg,
        }) => {
            assert_eq!(p, path, "path in error: {msg}");
            assert_eq!(l, line, "line in error: {msg}");
            assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
            Error::KeyFile {
                path: p,
                line: l,
                msg,
            }
            .to_string()
        }
        Err(other) => panic!("expected a KeyFile error, got {other:?}"),
        Ok(_) => panic!("expected a KeyFile error, got Ok"),
    }
}

#[test]
fn every_format_round_trips() {
    for format in KeyFileFormat::ALL {
        let cipher = format.cipher().unwrap_or(CipherKind::Aes256);
        let keys: Vec<(TicketKey, KeyRole)> = match format.max_keys() {
            Some(1) => vec![(key(1, cipher), KeyRole::Sealing)],
            _ => vec![
                (key(1, cipher), KeyRole::OpeningOnly),
                (key(2, cipher), KeyRole::Sealing),
                (key(3, cipher), KeyRole::OpeningOnly),
                (key(4, cipher), KeyRole::OpeningOnly),
            ],
        };
        let refs: Vec<(&TicketKey, KeyRole)> = keys.iter().map(|(k, r)| (k, *r)).collect();
        let bytes = write_key_file(format, &refs).unwrap();
        // Explicit format and detection agree.
        assert_eq!(KeyFileFormat::detect(&bytes), Some(format), "{format}");
        let (detected, parsed) = parse_key_file_detailed(&bytes, None, "mem").unwrap();
        assert_eq!(detected, format);
        let explicit = parse_key_file(&bytes, Some(format), "mem").unwrap();
        assert_eq!(canonical(&parsed), canonical(&explicit));
        // Same key set with the same roles (file order may differ for HAProxy).
        let mut want: Vec<_> = keys
            .iter()
            .map(|(k, r)| (k.name(), *r, k.cipher()))
            .collect();
        let mut got: Vec<_> = parsed
            .iter()
            .map(|(k, r)| (k.name(), *r, k.cipher()))
            .collect();
        want.sort_by_key(|t| t.0);
        got.sort_by_key(|t| t.0);
        assert_eq!(got, want, "{format}");
        // Writing the parsed keys again gives the same bytes.
        let again: Vec<(&TicketKey, KeyRole)> = parsed.iter().map(|(k, r)| (k, *r)).collect();
        assert_eq!(*write_key_file(format, &again).unwrap(), *bytes, "{format}");
        // And the secrets survived: compare through the tessera rendering, in name order.
        let mut a = keys
            .iter()
            .map(|(k, _)| (k.clone(), KeyRole::OpeningOnly))
            .collect::<Vec<_>>();
        let mut b = parsed
            .iter()
            .map(|(k, _)| (k.clone(), KeyRole::OpeningOnly))
            .collect::<Vec<_>>();
        a.sort_by_key(|(k, _)| k.name());
        b.sort_by_key(|(k, _)| k.name());
        assert_eq!(canonical(&a), canonical(&b), "{format}");
    }
}

#[test]
fn tessera_format_keeps_times_roles_and_mixed_ciphers() {
    let k1 = key(1, CipherKind::Aes128).with_times(KeyTimes {
        created: Some(1_700_000_000),
        seal_until: Some(1_700_086_400),
        open_until: Some(1_700_172_800),
    });
    let k2 = key(2, CipherKind::Aes256);
    let k3 = key(3, CipherKind::Aes128).with_times(KeyTimes {
        created: None,
        seal_until: None,
        open_until: Some(u64::MAX),
    });
    let bytes = write_key_file(
        KeyFileFormat::Tessera,
        &[
            (&k1, KeyRole::OpeningOnly),
            (&k2, KeyRole::Sealing),
            (&k3, KeyRole::OpeningOnly),
        ],
    )
    .unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.starts_with("tessera-ticket-keys v1\n"));
    assert!(
        text.contains("created=1700000000 seal_until=1700086400 open_until=1700172800 role=open")
    );
    assert!(text.contains("cipher=aes256"));
    assert!(text.contains("created=- seal_until=- open_until=18446744073709551615"));
    let parsed = parse_key_file(&bytes, None, "t").unwrap();
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0].0.times(), k1.times());
    assert_eq!(parsed[1].1, KeyRole::Sealing);
    assert_eq!(parsed[1].0.cipher(), CipherKind::Aes256);
    assert_eq!(parsed[2].0.times(), k3.times());
}

#[test]
fn tessera_first_seal_line_seals_later_ones_open() {
    let a = key(1, CipherKind::Aes128);
    let b = key(2, CipherKind::Aes128);
    let text = String::from_utf8(
        write_key_file(
            KeyFileFormat::Tessera,
            &[(&a, KeyRole::Sealing), (&b, KeyRole::OpeningOnly)],
        )
        .unwrap()
        .to_vec(),
    )
    .unwrap()
    .replace("role=open", "role=seal");
    let parsed = parse_key_file(text.as_bytes(), None, "t").unwrap();
    assert_eq!(parsed[0].1, KeyRole::Sealing);
    assert_eq!(parsed[1].1, KeyRole::OpeningOnly);
    // Fields in any order, tabs, CRLF, comments, upper-case hex.
    let line = format!(
        "tessera-ticket-keys v1\r\n# staged keys\r\n\r\nkey\trole=seal hmac={} aes={} cipher=aes128 name={} open_until=- seal_until=- created=5\r\n",
        hex::encode_upper(seq(0x90, 32)),
        hex::encode(seq(0x50, 16)),
        hex::encode(name(0x10))
    );
    let parsed = parse_key_file(line.as_bytes(), None, "t").unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].0.name().0, name(0x10));
    assert_eq!(parsed[0].0.times().created, Some(5));
}

#[test]
fn nginx48_field_order_from_a_hand_built_file() {
    // nginx 48: name[16] | aes[16] | hmac[16]
    let mut file = name(0x01).to_vec();
    file.extend(seq(0x20, 16));
    file.extend(seq(0x30, 16));
    let keys = parse_key_file(&file, None, "nginx.key").unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].1, KeyRole::Sealing);
    assert_eq!(keys[0].0.name().0, name(0x01));
    assert_eq!(keys[0].0.cipher(), CipherKind::Aes128);
    let text = String::from_utf8(canonical(&keys)).unwrap();
    assert!(
        text.contains(&format!("aes={}", hex::encode(seq(0x20, 16)))),
        "{text}"
    );
    assert!(
        text.contains(&format!("hmac={}", hex::encode(seq(0x30, 16)))),
        "{text}"
    );
}

#[test]
fn nginx80_field_order_from_a_hand_built_file() {
    // nginx 80: name[16] | hmac[32] | aes[32] -- HMAC before AES, unlike the 48-byte layout.
    let mut file = name(0x01).to_vec();
    file.extend(seq(0x40, 32)); // hmac
    file.extend(seq(0x80, 32)); // aes
    let keys = parse_key_file(&file, None, "nginx80.key").unwrap();
    assert_eq!(keys[0].0.cipher(), CipherKind::Aes256);
    let text = String::from_utf8(canonical(&keys)).unwrap();
    assert!(
        text.contains(&format!("hmac={}", hex::encode(seq(0x40, 32)))),
        "{text}"
    );
    assert!(
        text.contains(&format!("aes={}", hex::encode(seq(0x80, 32)))),
        "{text}"
    );
    // And writing it back yields the very same bytes.
    let refs = [(&keys[0].0, KeyRole::Sealing)];
    assert_eq!(
        *write_key_file(KeyFileFormat::Nginx80, &refs).unwrap(),
        file
    );
}

#[test]
fn haproxy_field_order_and_second_to_last_rule() {
    // HAProxy 80: name[16] | aes[32] | hmac[32] (AES first, unlike nginx80).
    let line = |start: u8| {
        let mut raw = name(start).to_vec();
        raw.extend(seq(start ^ 0x40, 32));
        raw.extend(seq(start ^ 0x80, 32));
        B64.encode(raw)
    };
    let file = format!("# rotated daily\n{}\n{}\n\n{}\n", line(1), line(2), line(3));
    let keys = parse_key_file(file.as_bytes(), None, "tls-ticket-keys").unwrap();
    let roles: Vec<KeyRole> = keys.iter().map(|(_, r)| *r).collect();
    assert_eq!(
        roles,
        [KeyRole::OpeningOnly, KeyRole::Sealing, KeyRole::OpeningOnly]
    );
    assert_eq!(keys[1].0.name().0, name(2), "the second-to-last line seals");
    let text = String::from_utf8(canonical(
        &keys[1..2]
            .iter()
            .map(|(k, r)| (k.clone(), *r))
            .collect::<Vec<_>>(),
    ))
    .unwrap();
    assert!(
        text.contains(&format!("aes={}", hex::encode(seq(2 ^ 0x40, 32)))),
        "{text}"
    );
    assert!(
        text.contains(&format!("hmac={}", hex::encode(seq(2 ^ 0x80, 32)))),
        "{text}"
    );

    // One line: it seals. Two lines: the first seals.
    let one = parse_key_file(format!("{}\n", line(7)).as_bytes(), None, "f").unwrap();
    assert_eq!(one[0].1, KeyRole::Sealing);
    let two = parse_key_file(format!("{}\n{}", line(7), line(8)).as_bytes(), None, "f").unwrap();
    assert_eq!(
        (two[0].1, two[1].1),
        (KeyRole::Sealing, KeyRole::OpeningOnly)
    );

    // The writer puts the sealer on the second-to-last line.
    let ks: Vec<TicketKey> = (1..=4).map(|i| key(i, CipherKind::Aes128)).collect();
    let bytes = write_key_file(
        KeyFileFormat::Haproxy48,
        &[
            (&ks[0], KeyRole::Sealing),
            (&ks[1], KeyRole::OpeningOnly),
            (&ks[2], KeyRole::OpeningOnly),
            (&ks[3], KeyRole::OpeningOnly),
        ],
    )
    .unwrap();
    let lines: Vec<&str> = std::str::from_utf8(&bytes).unwrap().lines().collect();
    assert_eq!(lines.len(), 4);
    let decoded = B64.decode(lines[2]).unwrap();
    assert_eq!(decoded.len(), 48);
    assert_eq!(&decoded[..16], &ks[0].name().0);
    assert_eq!(
        &decoded[16..32],
        &seq(1 ^ 0x40, 16)[..],
        "haproxy48: aes after the name"
    );
    assert_eq!(&decoded[32..], &seq(1 ^ 0x80, 16)[..]);
    let reparsed = parse_key_file(&bytes, None, "f").unwrap();
    assert_eq!(reparsed[2].1, KeyRole::Sealing);
    assert_eq!(reparsed[2].0.name(), ks[0].name());
}

#[test]
fn write_ring_and_writer_refusals() {
    let ring = KeyRing::new(key(1, CipherKind::Aes128), vec![key(2, CipherKind::Aes128)]).unwrap();
    let text = write_ring(KeyFileFormat::Tessera, &ring).unwrap();
    let back = KeyRing::from_roles(parse_key_file(&text, None, "t").unwrap()).unwrap();
    assert_eq!(back.sealing_key().name(), ring.sealing_key().name());
    assert_eq!(back.len(), 2);
    // nginx holds one key.
    let e = write_ring(KeyFileFormat::Nginx48, &ring);
    assert_file_err(e, "writing nginx48", 0, "exactly one key");
    // Sizes must fit the format.
    let k256 = key(3, CipherKind::Aes256);
    assert_file_err(
        write_key_file(KeyFileFormat::Nginx48, &[(&k256, KeyRole::Sealing)]),
        "writing nginx48",
        0,
        "needs 16 and 16",
    );
    let mixed = TicketKey::new(name(5), &seq(1, 32), &seq(9, 16)).unwrap();
    assert_file_err(
        write_key_file(KeyFileFormat::Haproxy80, &[(&mixed, KeyRole::Sealing)]),
        "writing haproxy80",
        0,
        "16-byte HMAC key",
    );
    // HAProxy needs exactly one sealer; tessera at most one.
    let k = key(1, CipherKind::Aes128);
    assert_file_err(
        write_key_file(KeyFileFormat::Haproxy48, &[(&k, KeyRole::OpeningOnly)]),
        "writing haproxy48",
        0,
        "exactly one sealing key",
    );
    let k2 = key(2, CipherKind::Aes128);
    assert_file_err(
        write_key_file(
            KeyFileFormat::Tessera,
            &[(&k, KeyRole::Sealing), (&k2, KeyRole::Sealing)],
        ),
        "writing tessera",
        0,
        "at most one sealing key",
    );
    assert_file_err(
        write_key_file(KeyFileFormat::Tessera, &[]),
        "writing tessera",
        0,
        "no keys",
    );
}

fn tessera_line(start: u8) -> String {
    format!(
        "key name={} cipher=aes128 aes={} hmac={} created=- seal_until=- open_until=- role=seal",
        hex::encode(name(start)),
        hex::encode(seq(start ^ 0x40, 16)),
        hex::encode(seq(start ^ 0x80, 16))
    )
}

#[test]
fn bad_files_name_file_and_line_and_hide_secrets() {
    let good48 = {
        let mut raw = name(1).to_vec();
        raw.extend(seq(0x41, 16));
        raw.extend(seq(0x81, 16));
        raw
    };
    let b64 = |raw: &[u8]| B64.encode(raw);
    let good_line = b64(&good48);
    let good80 = {
        let mut raw = name(2).to_vec();
        raw.extend(seq(0x42, 32));
        raw.extend(seq(0x82, 32));
        b64(&raw)
    };
    let zero_aes = {
        let mut raw = name(3).to_vec();
        raw.extend([0u8; 16]);
        raw.extend(seq(0x83, 16));
        b64(&raw)
    };
    let t = |body: &str| format!("{TESSERA_HEADER}\n{body}\n");
    let tl = tessera_line(1);
    let secret_hexes = [hex::encode(seq(0x41, 16)), hex::encode(seq(0x81, 16))];

    // (content, explicit format, expected line, message fragment)
    let cases: Vec<(Vec<u8>, Option<KeyFileFormat>, usize, &str)> = vec![
        (Vec::new(), None, 0, "empty"),
        (vec![0x80; 47], None, 0, "binary file of 47 bytes"),
        (vec![0x80; 81], None, 0, "binary file of 81 bytes"),
        (
            vec![0x80; 47],
            Some(KeyFileFormat::Nginx48),
            0,
            "exactly 48 bytes; this one has 47",
        ),
        (
            [good48.as_slice(), b"\n"].concat(),
            Some(KeyFileFormat::Nginx48),
            0,
            "trailing newline",
        ),
        (
            good48.clone(),
            Some(KeyFileFormat::Nginx80),
            0,
            "exactly 80 bytes",
        ),
        (vec![0u8; 48], None, 0, "key name is all-zero"),
        (
            [name(1).as_slice(), &[7u8; 16], &seq(0x81, 16)].concat(),
            None,
            0,
            "AES key is all-zero or one repeated byte",
        ),
        (
            format!("{good_line}\n{good_line}!\n").into_bytes(),
            None,
            2,
            "not valid base64",
        ),
        (
            format!("# c\n{good_line}\n{}\n", b64(&[9u8; 40])).into_bytes(),
            None,
            3,
            "decodes to 40 bytes",
        ),
        (
            format!("{good_line}\n\n{good80}\n").into_bytes(),
            None,
            3,
            "mixed key sizes",
        ),
        (
            format!("{good_line}\n").into_bytes(),
            Some(KeyFileFormat::Haproxy80),
            1,
            "haproxy80 keys are 80 bytes",
        ),
        (
            format!("{good_line}\n# again\n{good_line}\n").into_bytes(),
            None,
            3,
            "duplicate key name",
        ),
        (
            format!("{good_line}\n{zero_aes}\n").into_bytes(),
            None,
            2,
            "AES key is all-zero",
        ),
        (
            format!("{}\n", "A".repeat(200)).into_bytes(),
            None,
            1,
            "line too long",
        ),
        (b"# only comments\n\n".to_vec(), None, 0, "no keys"),
        (
            [b"ab\n".as_slice(), &[0xff, 0xfe]].concat(),
            Some(KeyFileFormat::Haproxy48),
            0,
            "binary data",
        ),
        (t("").into_bytes(), None, 0, "no keys"),
        (
            format!("tessera-ticket-keys v2\n{tl}\n").into_bytes(),
            None,
            1,
            "unsupported tessera key-file version 'v2'",
        ),
        (
            format!("# header missing\n{tl}\n").into_bytes(),
            Some(KeyFileFormat::Tessera),
            1,
            "missing header",
        ),
        (
            t(&format!("\n\n{}", tl.replace("name=01", "name=zz"))).into_bytes(),
            None,
            4,
            "name must be 32 hex digits",
        ),
        (
            t(&tl.replace("cipher=aes128", "cipher=des")).into_bytes(),
            None,
            2,
            "cipher must be aes128 or aes256",
        ),
        (
            t(&tl.replace("cipher=aes128", "cipher=aes256")).into_bytes(),
            None,
            2,
            "aes must be 64 hex digits for aes256",
        ),
        (
            t(&tl.replace(" hmac=", " hmac=0")).into_bytes(),
            None,
            2,
            "hmac must be 32 or 64 hex digits",
        ),
        (
            t(&tl.replace(" aes=4", " aes=g")).into_bytes(),
            None,
            2,
            "aes must be 32 hex digits",
        ),
        (
            t(&tl.replace("created=-", "created=yesterday")).into_bytes(),
            None,
            2,
            "created must be unix seconds",
        ),
        (
            t(&tl.replace("seal_until=-", "seal_until=99999999999999999999999")).into_bytes(),
            None,
            2,
            "seal_until must be unix seconds",
        ),
        (
            t(&tl
                .replace("seal_until=-", "seal_until=10")
                .replace("open_until=-", "open_until=5"))
            .into_bytes(),
            None,
            2,
            "seal_until is after open_until",
        ),
        (
            t(&tl.replace("role=seal", "role=boss")).into_bytes(),
            None,
            2,
            "role must be seal or open",
        ),
        (
            t(&tl.replace(" role=seal", "")).into_bytes(),
            None,
            2,
            "missing field 'role'",
        ),
        (
            t(&format!("{tl} role=open")).into_bytes(),
            None,
            2,
            "field 'role' given twice",
        ),
        (
            t(&format!("{tl} colour=blue")).into_bytes(),
            None,
            2,
            "unknown field 'colour'",
        ),
        (
            t(&format!("{tl} stray")).into_bytes(),
            None,
            2,
            "expected field=value",
        ),
        (
            t(&tl.replacen("key ", "cle ", 1)).into_bytes(),
            None,
            2,
            "starting with 'key'",
        ),
        (
            t(&format!(
                "{tl}\n# x\n{}",
                tl.replace("role=seal", "role=open")
            ))
            .into_bytes(),
            None,
            4,
            "duplicate key name 0102030405060708090a0b0c0d0e0f10 (first on line 2)",
        ),
        (
            t(&tl.replace(&hex::encode(seq(1 ^ 0x40, 16)), &"00".repeat(16))).into_bytes(),
            None,
            2,
            "AES key is all-zero",
        ),
    ];
    // A pasted secret in a field name's place is not echoed.
    let pasted = hex::encode(seq(0x41, 16));
    let shown = assert_file_err(
        parse_key_file(t(&format!("{tl} {pasted}=1")).as_bytes(), None, "p"),
        "p",
        2,
        "unknown field",
    );
    assert!(!shown.contains(&pasted[..8]), "{shown}");
    for (i, (content, format, line, needle)) in cases.into_iter().enumerate() {
        let path = format!("/etc/keys/case{i}.key");
        let shown = assert_file_err(parse_key_file(&content, format, &path), &path, line, needle);
        assert!(shown.starts_with(&path), "case {i}: {shown}");
        if line > 0 {
            assert!(
                shown.starts_with(&format!("{path}:{line}: ")),
                "case {i}: {shown}"
            );
        }
        for secret in &secret_hexes {
            assert!(
                !shown.contains(secret.as_str()),
                "case {i} leaks a secret: {shown}"
            );
        }
        assert!(
            !shown.contains(&good_line[16..40]),
            "case {i} leaks base64: {shown}"
        );
        assert!(
            !shown.contains(&good80[20..40]),
            "case {i} leaks base64: {shown}"
        );
    }
}

#[test]
fn format_names_parse_and_unknown_names_fail() {
    for (s, f) in [
        ("tessera", KeyFileFormat::Tessera),
        ("nginx48", KeyFileFormat::Nginx48),
        ("nginx80", KeyFileFormat::Nginx80),
        ("haproxy48", KeyFileFormat::Haproxy48),
        ("haproxy80", KeyFileFormat::Haproxy80),
    ] {
        assert_eq!(s.parse::<KeyFileFormat>().unwrap(), f);
        assert_eq!(f.as_str(), s);
        assert_eq!(f.to_string(), s);
    }
    assert_file_err(
        "pem".parse::<KeyFileFormat>(),
        "--key-format",
        0,
        "unknown key-file format 'pem'",
    );
}

#[test]
fn several_files_first_seals_rest_open() {
    let dir = temp_dir("multi");
    let a = key(1, CipherKind::Aes128);
    let b = key(2, CipherKind::Aes256);
    let c = key(3, CipherKind::Aes128);
    let d = key(4, CipherKind::Aes128);
    let p1 = dir.join("current.key");
    let p2 = dir.join("previous.key");
    let p3 = dir.join("haproxy.keys");
    save_key_file(
        &p1,
        &write_key_file(KeyFileFormat::Nginx48, &[(&a, KeyRole::Sealing)]).unwrap(),
    )
    .unwrap();
    save_key_file(
        &p2,
        &write_key_file(KeyFileFormat::Nginx80, &[(&b, KeyRole::Sealing)]).unwrap(),
    )
    .unwrap();
    save_key_file(
        &p3,
        &write_key_file(
            KeyFileFormat::Haproxy48,
            &[(&c, KeyRole::OpeningOnly), (&d, KeyRole::Sealing)],
        )
        .unwrap(),
    )
    .unwrap();
    let ring = load_key_files(&[&p1, &p2, &p3], None).unwrap();
    assert_eq!(ring.len(), 4);
    assert_eq!(ring.sealing_key().name(), a.name());
    for k in [&b, &c, &d] {
        assert_eq!(ring.find(&k.name().0).unwrap().1, KeyRole::OpeningOnly);
    }
    // Order of files decides who seals.
    let ring = load_key_files(&[&p3, &p1], None).unwrap();
    assert_eq!(ring.sealing_key().name(), d.name());
    assert_eq!(read_key_file(&p2, None).unwrap()[0].0.name(), b.name());

    // Same key in two files: the error names the second file and where the first was (c is on
    // line 2 of the HAProxy file: the writer put the sealer d on the second-to-last line, 1).
    let p4 = dir.join("dup.keys");
    let text = write_key_file(KeyFileFormat::Tessera, &[(&c, KeyRole::Sealing)]).unwrap();
    save_key_file(&p4, &text).unwrap();
    let shown = assert_file_err(
        load_key_files(&[&p3, &p4], None),
        &p4.display().to_string(),
        3,
        "already loaded from",
    );
    assert!(shown.contains(&format!("{}:2", p3.display())), "{shown}");

    // A first file without a sealing key, no files at all, a missing file.
    let p5 = dir.join("open-only.keys");
    save_key_file(
        &p5,
        &write_key_file(KeyFileFormat::Tessera, &[(&c, KeyRole::OpeningOnly)]).unwrap(),
    )
    .unwrap();
    assert_file_err(
        load_key_files(&[&p5, &p1], None),
        &p5.display().to_string(),
        0,
        "no sealing key",
    );
    assert!(
        load_key_files(&[&p1, &p5], None).is_ok(),
        "open-only files are fine after the first"
    );
    assert!(matches!(
        load_key_files::<PathBuf>(&[], None),
        Err(Error::NoSealingKey)
    ));
    match load_key_files(&[dir.join("absent.key")], None) {
        Err(Error::Io(ctx, _)) => assert!(ctx.contains("absent.key"), "{ctx}"),
        other => panic!("expected Io error, got {other:?}"),
    }
    // Oversized files are refused before being read.
    let big = dir.join("big.keys");
    std::fs::write(
        &big,
        vec![b'#'; tessera::keys::MAX_KEY_FILE_LEN as usize + 1],
    )
    .unwrap();
    assert_file_err(
        load_key_files(&[&big], None),
        &big.display().to_string(),
        0,
        "implausibly large",
    );
    // An explicit format applies to every file.
    assert_file_err(
        load_key_files(&[&p1, &p2], Some(KeyFileFormat::Nginx48)),
        &p2.display().to_string(),
        0,
        "exactly 48 bytes",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn permissive_key_files_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("perms");
    let path = dir.join("ticket.key");
    let k = key(1, CipherKind::Aes128);
    save_key_file(
        &path,
        &write_key_file(KeyFileFormat::Nginx48, &[(&k, KeyRole::Sealing)]).unwrap(),
    )
    .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "save_key_file creates owner-only files");
    assert_eq!(check_permissions(&path), None);
    let (_, warnings) = load_key_files_checked(&[&path], None).unwrap();
    assert!(warnings.is_empty());

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warning = check_permissions(&path).expect("0644 is reported");
    assert!(warning.contains(&path.display().to_string()), "{warning}");
    assert!(warning.contains("0644"), "{warning}");
    let (ring, warnings) = load_key_files_checked(&[&path], None).unwrap();
    assert_eq!(ring.len(), 1, "a warning does not stop loading");
    assert_eq!(warnings, vec![warning]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(check_permissions(&path).is_some());
    assert_eq!(check_permissions(dir.join("absent")), None);

    // Overwriting goes through a fresh 0600 file again.
    save_key_file(
        &path,
        &write_key_file(KeyFileFormat::Nginx48, &[(&k, KeyRole::Sealing)]).unwrap(),
    )
    .unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    fn all_formats() -> impl Strategy<Value = Option<KeyFileFormat>> {
        prop_oneof![
            Just(None),
            proptest::sample::select(KeyFileFormat::ALL.to_vec()).prop_map(Some)
        ]
    }

    fn valid_files() -> Vec<Vec<u8>> {
        let ks: Vec<TicketKey> = (1..=3).map(|i| key(i, CipherKind::Aes128)).collect();
        let k80 = key(9, CipherKind::Aes256);
        let roles = [
            (&ks[0], KeyRole::OpeningOnly),
            (&ks[1], KeyRole::Sealing),
            (&ks[2], KeyRole::OpeningOnly),
        ];
        vec![
            write_key_file(KeyFileFormat::Tessera, &roles)
                .unwrap()
                .to_vec(),
            write_key_file(KeyFileFormat::Haproxy48, &roles)
                .unwrap()
                .to_vec(),
            write_key_file(KeyFileFormat::Nginx48, &roles[..1])
                .unwrap()
                .to_vec(),
            write_key_file(KeyFileFormat::Nginx80, &[(&k80, KeyRole::Sealing)])
                .unwrap()
                .to_vec(),
            write_key_file(KeyFileFormat::Haproxy80, &[(&k80, KeyRole::Sealing)])
                .unwrap()
                .to_vec(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200), format in all_formats()) {
            let _ = parse_key_file(&bytes, format, "fuzz");
        }

        #[test]
        fn mutated_valid_files(
            which in 0usize..5,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
            cut in any::<usize>(),
            format in all_formats(),
        ) {
            let mut file = valid_files().swap_remove(which);
            for (pos, byte) in edits {
                let i = pos % file.len();
                file[i] = byte;
            }
            file.truncate(cut % (file.len() + 1));
            if let Ok(keys) = parse_key_file(&file, format, "fuzz") {
                // Whatever parses has unique names and at most one sealing key.
                let sealers = keys.iter().filter(|(_, r)| *r == KeyRole::Sealing).count();
                prop_assert!(sealers <= 1);
                let mut names: Vec<_> = keys.iter().map(|(k, _)| k.name()).collect();
                names.sort();
                names.dedup();
                prop_assert_eq!(names.len(), keys.len());
            }
        }
    }
}
