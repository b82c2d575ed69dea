//! Key hygiene (issue 7): no secret byte in any Debug, Display or error string, and weak keys
//! refused everywhere a key enters.
//!
//! Keys are built from known secret bytes; every formatted string (`{}`, `{:?}`, `{:#?}`) of
//! TicketKey, KeyRing, SharedKeyRing, Ticketer, FleetDeriver, StatePlaintext, MasterSecret and
//! of the errors from corrupted key files holding those secrets is searched for the secret in
//! hex (either case, any 4-byte window), as a decimal byte list (what `{:?}` of a slice
//! prints), in base64 and as raw bytes. Key names are public (they travel in every ticket) and
//! may appear.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use tessera::keys::{
    FleetDeriver, KeyFileFormat, KeyRole, parse_key_file, write_key_file, write_ring,
};
use tessera::wire::{ClientIdentity, MasterSecret, ProtocolVersion, StatePlaintext};
use tessera::{CipherKind, Error, KeyRing, SharedKeyRing, TicketFormat, TicketKey, Ticketer};

/// Distinctive secrets: no byte repeats within 4, so any 4-byte window is unique enough.
fn secret(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i as u8).wrapping_mul(37)) ^ 0x5c)
        .collect()
}

const NAME: [u8; 16] = *b"hygiene-name-016";

/// Why `text` reveals `secret`, if it does.
fn leak(text: &str, secret: &[u8]) -> Option<String> {
    for w in 0..=secret.len().saturating_sub(4) {
        let win = &secret[w..w + 4];
        let h = hex::encode(win);
        if text.contains(&h) || text.contains(&h.to_uppercase()) {
            return Some(format!("hex window at {w} ({h})"));
        }
        let dec = format!("{}, {}, {}, {}", win[0], win[1], win[2], win[3]);
        if text.contains(&dec) {
            return Some(format!("decimal window at {w} ({dec})"));
        }
        if text.as_bytes().windows(4).any(|x| x == win) {
            return Some(format!("raw bytes at {w}"));
        }
    }
    for b64 in [STANDARD.encode(secret), STANDARD_NO_PAD.encode(secret)] {
        // Any 8-character run of the encoding (6 bytes' worth).
        for w in 0..=b64.len().saturating_sub(8) {
            if text.contains(&b64[w..w + 8]) {
                return Some(format!("base64 run {}", &b64[w..w + 8]));
            }
        }
    }
    None
}

/// Asserts that none of `secrets` shows in `{:?}`, `{:#?}` (and `{}` when given) of a value.
fn assert_clean(what: &str, strings: &[String], secrets: &[&[u8]]) {
    for s in strings {
        for (i, sec) in secrets.iter().enumerate() {
            if let Some(how) = leak(s, sec) {
                panic!("{what} leaks secret #{i} ({how}): {s}");
            }
        }
    }
}

fn dbg(v: &impl core::fmt::Debug) -> Vec<String> {
    vec![format!("{v:?}"), format!("{v:#?}")]
}

fn err_strings(e: &Error) -> Vec<String> {
    vec![e.to_string(), format!("{e:?}"), format!("{e:#?}")]
}

#[test]
fn the_leak_detector_detects() {
    let s = secret(32, 9);
    for text in [
        format!("x{}y", hex::encode(&s[3..7])),
        hex::encode_upper(&s),
        format!("{:?}", &s[..]),
        format!("k={}", STANDARD.encode(&s)),
        String::from_utf8_lossy(&s[..4]).into_owned(),
    ] {
        // The raw-bytes case only applies when the window is valid UTF-8.
        if text.len() >= 4 {
            let found = leak(&text, &s).is_some() || !s[..4].is_ascii();
            assert!(found, "missed: {text}");
        }
    }
    assert!(leak("TicketKey { name: .. }", &s).is_none());
}

#[test]
fn keys_rings_and_ticketers_print_no_secret() {
    for cipher in [CipherKind::Aes128, CipherKind::Aes256] {
        let n = cipher.key_len();
        let (aes, hmac) = (secret(n, 1), secret(n, 101));
        let key = TicketKey::new(NAME, &aes, &hmac).unwrap();
        let secrets: [&[u8]; 2] = [&aes, &hmac];
        assert_clean("TicketKey", &dbg(&key), &secrets);
        let shown = format!("{key:?}");
        assert!(
            shown.contains(&hex::encode(NAME)),
            "name should show: {shown}"
        );

        let other = TicketKey::new(*b"another-name-016", &secret(n, 51), &secret(n, 151)).unwrap();
        let ring = KeyRing::new(key.clone(), vec![other]).unwrap();
        assert_clean("KeyRing", &dbg(&ring), &secrets);
        let revoked = ring.without(&NAME).err();
        assert!(revoked.is_some(), "removing the sealing key must fail");
        let shared = SharedKeyRing::new(ring);
        assert_clean("SharedKeyRing", &dbg(&shared), &secrets);
        for f in TicketFormat::ALL {
            let t = Ticketer::new(KeyRing::single(key.clone()), f);
            assert_clean("Ticketer", &dbg(&t), &secrets);
        }
    }
}

#[test]
fn fleet_deriver_prints_no_secret() {
    let fleet = secret(48, 77);
    let d = FleetDeriver::new(&fleet, 3600, CipherKind::Aes128, 2).unwrap();
    assert_clean("FleetDeriver", &dbg(&d), &[&fleet]);
    let ring = d.ring_at(1_700_000_000);
    assert_clean("derived KeyRing", &dbg(&ring), &[&fleet]);
}

#[test]
fn state_plaintext_prints_no_master_secret() {
    let ms = secret(48, 200);
    let state = StatePlaintext {
        protocol_version: ProtocolVersion::new(3, 3),
        cipher_suite: 0xc02f,
        compression_method: 0,
        master_secret: MasterSecret::from_slice(&ms).unwrap(),
        client_identity: ClientIdentity::Psk {
            psk_identity: b"client".to_vec(),
        },
        timestamp: 1_700_000_000,
    };
    assert_clean("StatePlaintext", &dbg(&state), &[&ms]);
    assert_clean("MasterSecret", &dbg(&state.master_secret), &[&ms]);
}

/// Files holding the known secrets, each corrupted so parsing fails; no error may echo them.
#[test]
fn key_file_errors_print_no_secret() {
    let (aes16, hmac16) = (secret(16, 3), secret(16, 103));
    let (aes32, hmac32) = (secret(32, 5), secret(32, 105));
    let k128 = TicketKey::new(NAME, &aes16, &hmac16).unwrap();
    let k256 = TicketKey::new(*b"hygiene-name-256", &aes32, &hmac32).unwrap();
    let secrets: [&[u8]; 4] = [&aes16, &hmac16, &aes32, &hmac32];

    let file = |fmt, keys: &[(&TicketKey, KeyRole)]| write_key_file(fmt, keys).unwrap().to_vec();
    let nginx48 = file(KeyFileFormat::Nginx48, &[(&k128, KeyRole::Sealing)]);
    let nginx80 = file(KeyFileFormat::Nginx80, &[(&k256, KeyRole::Sealing)]);
    let haproxy48 = file(KeyFileFormat::Haproxy48, &[(&k128, KeyRole::Sealing)]);
    let tessera = file(
        KeyFileFormat::Tessera,
        &[(&k128, KeyRole::Sealing), (&k256, KeyRole::OpeningOnly)],
    );
    let tessera_text = String::from_utf8(tessera.clone()).unwrap();
    let key_line = tessera_text
        .lines()
        .find(|l| l.starts_with("key "))
        .unwrap();
    let aes_hex = hex::encode(&aes16);
    let hmac_hex = hex::encode(&hmac16);

    let mut bad: Vec<(String, Vec<u8>, Option<KeyFileFormat>)> = vec![
        (
            "nginx48 short".into(),
            nginx48[..47].to_vec(),
            Some(KeyFileFormat::Nginx48),
        ),
        (
            "nginx48 newline".into(),
            [&nginx48[..], b"\n"].concat(),
            Some(KeyFileFormat::Nginx48),
        ),
        (
            "nginx80 as 48".into(),
            nginx80.clone(),
            Some(KeyFileFormat::Nginx48),
        ),
        (
            "nginx48 as 80".into(),
            nginx48.clone(),
            Some(KeyFileFormat::Nginx80),
        ),
        (
            "nginx48 detected, 49".into(),
            [&nginx48[..], &[0]].concat(),
            None,
        ),
        (
            "haproxy48 short line".into(),
            {
                let mut h = haproxy48.clone();
                let cut = h.iter().position(|&b| b == b'\n').unwrap() - 4;
                h.drain(cut..cut + 4);
                h
            },
            Some(KeyFileFormat::Haproxy48),
        ),
        (
            "haproxy48 bad base64".into(),
            {
                let mut h = haproxy48.clone();
                h[10] = b'!';
                h
            },
            Some(KeyFileFormat::Haproxy48),
        ),
        (
            "haproxy48 as 80".into(),
            haproxy48.clone(),
            Some(KeyFileFormat::Haproxy80),
        ),
        (
            "haproxy mixed sizes".into(),
            [
                &haproxy48[..],
                &file(KeyFileFormat::Haproxy80, &[(&k256, KeyRole::Sealing)])[..],
            ]
            .concat(),
            None,
        ),
        (
            "tessera v2".into(),
            tessera_text.replacen("v1", "v2", 1).into_bytes(),
            None,
        ),
        (
            "tessera as nginx".into(),
            tessera.clone(),
            Some(KeyFileFormat::Nginx48),
        ),
        (
            "tessera as haproxy".into(),
            tessera.clone(),
            Some(KeyFileFormat::Haproxy48),
        ),
    ];
    // tessera: every field of the key line damaged in turn, the secrets right beside the damage.
    let damaged_lines = [
        key_line.replace(&aes_hex, &aes_hex[..31]),
        key_line.replace(&aes_hex, &format!("{aes_hex}0")),
        key_line.replace(&aes_hex, &format!("{}zz", &aes_hex[..30])),
        key_line.replace(&hmac_hex, &hmac_hex[..30]),
        key_line.replace(&hmac_hex, &format!("{hmac_hex}{hmac_hex}0")),
        key_line.replace("cipher=aes128", "cipher=aes256"),
        key_line.replace("cipher=aes128", "cipher=des"),
        format!("{key_line} aes={aes_hex}"),
        format!("{key_line} secret={hmac_hex}"),
        format!("{key_line} {hmac_hex}={aes_hex}"),
        format!("{key_line} {hmac_hex}"),
        key_line.replace("role=seal", "role=maybe"),
        key_line.replace("created=-", "created=yesterday"),
        key_line.replace(&format!("hmac={hmac_hex}"), ""),
        key_line.replace(
            &format!("aes={aes_hex}"),
            &format!("aes={}", "00".repeat(16)),
        ),
        key_line.replace(
            &format!("hmac={hmac_hex}"),
            &format!("hmac={}", "ab".repeat(16)),
        ),
        format!("kee{}", &key_line[3..]),
    ];
    for (i, line) in damaged_lines.iter().enumerate() {
        let text = tessera_text.replace(key_line, line);
        bad.push((format!("tessera damage #{i}"), text.into_bytes(), None));
    }
    // The same secret key twice: duplicate name.
    bad.push((
        "tessera duplicate".into(),
        format!("{tessera_text}{key_line}\n").into_bytes(),
        None,
    ));

    for (what, bytes, fmt) in &bad {
        let e = match parse_key_file(bytes, *fmt, "/etc/keys/ticket.key") {
            Ok(keys) => panic!("{what}: parsed to {} keys", keys.len()),
            Err(e) => e,
        };
        assert!(matches!(e, Error::KeyFile { .. }), "{what}: {e:?}");
        assert_clean(what, &err_strings(&e), &secrets);
    }
    // Writers refusing their input do not print it either.
    for (fmt, keys) in [
        (KeyFileFormat::Nginx48, vec![(&k256, KeyRole::Sealing)]),
        (KeyFileFormat::Nginx80, vec![(&k128, KeyRole::Sealing)]),
        (
            KeyFileFormat::Nginx48,
            vec![(&k128, KeyRole::Sealing), (&k128, KeyRole::OpeningOnly)],
        ),
        (KeyFileFormat::Haproxy80, vec![(&k128, KeyRole::Sealing)]),
        (
            KeyFileFormat::Haproxy48,
            vec![(&k128, KeyRole::OpeningOnly)],
        ),
    ] {
        let e = write_key_file(fmt, &keys).unwrap_err();
        assert_clean("write_key_file error", &err_strings(&e), &secrets);
    }
    let ring = KeyRing::single(k256.clone());
    let e = write_ring(KeyFileFormat::Nginx48, &ring).unwrap_err();
    assert_clean("write_ring error", &err_strings(&e), &secrets);
}

#[test]
fn weak_keys_are_refused_everywhere() {
    let good16 = secret(16, 9);
    let good32 = secret(32, 19);
    for n in [16usize, 32] {
        let good = if n == 16 { &good16 } else { &good32 };
        for weak_byte in [0x00u8, 0x01, 0x41, 0xff] {
            let weak = vec![weak_byte; n];
            for (what, r) in [
                ("AES key", TicketKey::new(NAME, &weak, good)),
                ("HMAC key", TicketKey::new(NAME, good, &weak)),
                ("key name", TicketKey::new([weak_byte; 16], good, good)),
            ] {
                match r {
                    Err(Error::WeakKey(w)) => assert_eq!(w, what),
                    other => panic!("{what} of {weak_byte:#04x} x {n}: {other:?}"),
                }
            }
        }
    }
    // One differing byte is enough not to be "repeated" (the check is not an entropy test).
    let mut almost = vec![0u8; 16];
    almost[15] = 1;
    assert!(TicketKey::new(NAME, &almost, &good16).is_ok());

    // Key files: all-zero nginx keys, a HAProxy line of one repeated byte, tessera zeros.
    let mut nginx48 = NAME.to_vec();
    nginx48.extend_from_slice(&[0u8; 16]);
    nginx48.extend_from_slice(&good16);
    let mut nginx80 = NAME.to_vec();
    nginx80.extend_from_slice(&good32);
    nginx80.extend_from_slice(&[0x77u8; 32]);
    let haproxy = format!(
        "{}\n",
        STANDARD.encode([&NAME[..], &good16, &[0u8; 16]].concat())
    );
    let tessera = format!(
        "tessera-ticket-keys v1\nkey name={} cipher=aes128 aes={} hmac={} created=- \
         seal_until=- open_until=- role=seal\n",
        hex::encode(NAME),
        "00".repeat(16),
        hex::encode(&good16)
    );
    for (what, bytes) in [
        ("nginx48", nginx48),
        ("nginx80", nginx80),
        ("haproxy48", haproxy.into_bytes()),
        ("tessera", tessera.into_bytes()),
    ] {
        let e = parse_key_file(&bytes, None, "weak").unwrap_err();
        assert!(e.to_string().contains("repeated byte"), "{what}: {e}");
    }

    // Fleet secrets: too short or one repeated byte.
    assert!(matches!(
        FleetDeriver::new(&[0u8; 64], 3600, CipherKind::Aes128, 1),
        Err(Error::WeakKey(_))
    ));
    assert!(matches!(
        FleetDeriver::new(&[0xa5u8; 32], 3600, CipherKind::Aes256, 1),
        Err(Error::WeakKey(_))
    ));
    assert!(matches!(
        FleetDeriver::new(&secret(31, 1), 3600, CipherKind::Aes128, 1),
        Err(Error::KeyLength { .. })
    ));
}
