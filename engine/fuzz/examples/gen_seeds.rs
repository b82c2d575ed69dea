//! Writes the seed corpus under `engine/fuzz/corpus/<target>/`:
//! `cargo run --manifest-path engine/fuzz/Cargo.toml --example gen_seeds`.
//! Deterministic (fixed IVs and nonces), so re-running it changes nothing.

use std::fs;
use std::path::{Path, PathBuf};

use tessera::format::{self, TicketFormat};
use tessera::keys::{KeyFileFormat, KeyRole, write_key_file};
use tessera::wire::{
    ClientHelloTicketExt, ClientIdentity, Extension, Extensions, MasterSecret, NewSessionTicket,
    ProtocolVersion, ServerHelloTicketExt, StatePlaintext,
};
use tessera::{CipherKind, KeyTimes, TicketKey};
use tessera_fuzz::ring;

fn states() -> Vec<(&'static str, Vec<u8>)> {
    let secret = MasterSecret::from_slice(&[0x5a; 48]).expect("48 bytes");
    let mk = |client_identity| StatePlaintext {
        protocol_version: ProtocolVersion::new(3, 3),
        cipher_suite: 0xc02f,
        compression_method: 0,
        master_secret: secret.clone(),
        client_identity,
        timestamp: 1_700_000_000,
    };
    let encode = |s: StatePlaintext| {
        let mut v = Vec::new();
        s.encode(&mut v).expect("seed state encodes");
        v
    };
    vec![
        ("anonymous", encode(mk(ClientIdentity::Anonymous))),
        (
            "psk",
            encode(mk(ClientIdentity::Psk {
                psk_identity: b"client-7".to_vec(),
            })),
        ),
        (
            "cert",
            encode(mk(ClientIdentity::CertificateBased {
                certificate_list: vec![vec![0x30; 40], vec![0x30; 3]],
            })),
        ),
        ("empty", Vec::new()),
        ("raw113", (0..113u8).collect()),
    ]
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).expect("mkdir");
    fs::write(d.join(name), bytes).expect("write seed");
}

/// A ticket in null-crypto form: the "ciphertext" is the padded state itself, MAC zero.
fn null_ticket(f: TicketFormat, name: [u8; 16], state: &[u8]) -> Vec<u8> {
    let mut t = name.to_vec();
    t.extend(std::iter::repeat_n(0x11, f.iv_len()));
    let mut body = state.to_vec();
    if f != TicketFormat::Aead {
        let pad = 16 - state.len() % 16;
        body.extend(std::iter::repeat_n(pad as u8, pad));
        if f == TicketFormat::Rfc5077 {
            t.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
    }
    t.extend_from_slice(&body);
    t.extend(std::iter::repeat_n(
        0,
        if f == TicketFormat::Aead { 16 } else { 32 },
    ));
    t
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let states = states();
    for (i, f) in TicketFormat::ALL.into_iter().enumerate() {
        for key in ring() {
            let cipher = format!("{:?}", key.cipher()).to_lowercase();
            for (sname, state) in &states {
                let mut t = Vec::new();
                let iv = vec![0x3c; f.iv_len()];
                format::seal_with_iv(f, key, &iv, state, &mut t).expect("seal seed");
                let name = format!("{f}-{cipher}-{sname}");
                write(&dir, &format!("open_ticket_{f}"), &name, &t);
                if f != TicketFormat::Aead {
                    write(&dir, "ticket_layout", &name, &t);
                }
                let mut null = vec![i as u8];
                null.extend(null_ticket(f, key.name().0, state));
                write(&dir, "open_null_crypto", &name, &null);
            }
        }
    }
    for (sname, state) in &states {
        write(&dir, "state_decode", sname, state);
    }

    let ticket = ClientHelloTicketExt::Ticket(vec![0xab; 48].into());
    let mut ext = Vec::new();
    ticket.encode(&mut ext).expect("encode");
    write(&dir, "extension_decode", "client-ticket-ext", &ext);
    let mut ext = Vec::new();
    ServerHelloTicketExt.encode(&mut ext);
    write(&dir, "extension_decode", "server-empty-ext", &ext);
    let block = Extensions::from_vec(vec![
        Extension {
            ext_type: 0,
            data: b"\x00\x0e\x00\x00\x0bexample.com",
        },
        Extension {
            ext_type: 35,
            data: &[0xab; 48],
        },
        Extension {
            ext_type: 41,
            data: &[1, 2, 3],
        },
    ])
    .expect("block");
    let mut b = Vec::new();
    block.encode(&mut b).expect("encode");
    write(&dir, "extension_decode", "clienthello-block", &b);
    write(
        &dir,
        "extension_decode",
        "server-block",
        &[0, 8, 0, 35, 0, 0, 0xff, 1, 0, 0],
    );

    let nst = NewSessionTicket::new(7200, vec![0xcd; 192]);
    let mut m = Vec::new();
    nst.encode(&mut m).expect("encode");
    write(&dir, "nst_decode", "nst-192", &m);
    let mut m = Vec::new();
    NewSessionTicket::new(0, Vec::new())
        .encode_body(&mut m)
        .expect("encode");
    write(&dir, "nst_decode", "withdrawal-body", &m);

    // resume_decide input layout: flags, lifetime u32, renew %, skew u64, now u64,
    // [sealer open_until u64], id_len, id, ticket kind, then the kind's fields.
    let now: u64 = 1_700_000_000;
    for (name, flags, kind, issued_at, role) in [
        ("resume-opening-only-key", 1 | 32, 3u8, now - 60, 3u8),
        ("resume-aged", 1, 3, now - 5000, 0),
        ("expired", 1 | 4, 3, now - 9000, 0),
        ("future", 1 | 8, 3, now + 3600, 0),
        ("empty-ext-unlinkable", 1 | 2 | 32, 1, 0, 0),
        ("rejected-no-sealer", 1 | 16, 2, 5, 0),
        ("absent", 0, 0, 0, 0),
    ] {
        let mut v = vec![flags];
        v.extend_from_slice(&7200u32.to_be_bytes());
        v.push(50);
        v.extend_from_slice(&60u64.to_be_bytes());
        v.extend_from_slice(&now.to_be_bytes());
        if flags & 16 == 0 {
            v.extend_from_slice(&(now + 3600).to_be_bytes());
        }
        v.push(32);
        v.extend_from_slice(&[7; 32]);
        v.push(kind);
        v.extend_from_slice(&issued_at.to_be_bytes());
        v.push(role);
        v.extend_from_slice(&(now + 600).to_be_bytes());
        write(&dir, "resume_decide", name, &v);
    }
    // key_file_parse: selector byte (0 = detect, 1.. = KeyFileFormat::ALL[i - 1]), then the file.
    let [k128, k256] = ring();
    let extra = |c: CipherKind, b: u8| {
        let n = c.key_len();
        let name: [u8; 16] = core::array::from_fn(|i| b ^ i as u8);
        TicketKey::new(
            name,
            &vec![b.wrapping_add(1); n - 1]
                .into_iter()
                .chain([0])
                .collect::<Vec<_>>(),
            &vec![b; n - 1].into_iter().chain([1]).collect::<Vec<_>>(),
        )
        .expect("seed key")
    };
    let old128 = extra(CipherKind::Aes128, 0x70);
    let old256 = extra(CipherKind::Aes256, 0x90);
    let timed = extra(CipherKind::Aes128, 0x33).with_times(KeyTimes {
        created: Some(1_700_000_000),
        seal_until: Some(1_700_003_600),
        open_until: Some(1_700_007_200),
    });
    let files = [
        (
            "nginx48",
            KeyFileFormat::Nginx48,
            vec![(k128, KeyRole::Sealing)],
        ),
        (
            "nginx80",
            KeyFileFormat::Nginx80,
            vec![(k256, KeyRole::Sealing)],
        ),
        (
            "haproxy48",
            KeyFileFormat::Haproxy48,
            vec![
                (&old128, KeyRole::OpeningOnly),
                (k128, KeyRole::Sealing),
                (&timed, KeyRole::OpeningOnly),
            ],
        ),
        (
            "haproxy80",
            KeyFileFormat::Haproxy80,
            vec![(&old256, KeyRole::OpeningOnly), (k256, KeyRole::Sealing)],
        ),
        (
            "tessera",
            KeyFileFormat::Tessera,
            vec![
                (k128, KeyRole::Sealing),
                (&timed, KeyRole::OpeningOnly),
                (k256, KeyRole::OpeningOnly),
            ],
        ),
    ];
    for (name, fmt, keys) in files {
        let file = write_key_file(fmt, &keys).expect("seed key file");
        let mut v = vec![0u8];
        v.extend_from_slice(&file);
        write(&dir, "key_file_parse", name, &v);
    }

    // batch_differential: mode byte (0..=2 one format, 3 mixed), then entries: kind (bit 0:
    // genuine; bit 1: key; bit 2: flip a byte; bits 5..: format when mixed), fields per kind.
    for mode in 0u8..4 {
        let mut v = vec![mode];
        for (i, kind) in [1u8, 3, 0, 5, 1 | 0x20, 3 | 0x40, 1]
            .into_iter()
            .enumerate()
        {
            v.push(kind);
            if kind & 1 == 0 {
                v.extend_from_slice(&40u16.to_be_bytes());
                v.extend(std::iter::repeat_n(0x10 + i as u8, 40));
                continue;
            }
            v.extend(std::iter::repeat_n(0x70 + i as u8, 24));
            let len = [0u8, 4, 28, 29, 8, 125, 1][i];
            v.push(len);
            v.extend((0..usize::from(len) * 4).map(|j| j as u8));
            if kind & 4 != 0 {
                v.extend_from_slice(&[0, 50, 0x80]);
            }
        }
        write(&dir, "batch_differential", &format!("mode{mode}"), &v);
    }

    // Real tickets captured from nginx 1.22 + OpenSSL 3 (TLS 1.2 and 1.3, 48- and 80-byte
    // key files holding the fuzz ring's keys) are committed as seeds, not generated: check
    // they still open, so the fuzzer starts from genuine nginx tickets.
    let real = dir.join("open_ticket_openssl");
    let mut checked = 0;
    for entry in fs::read_dir(&real).expect("read corpus") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("nginx-") {
            let t = fs::read(&path).expect("read seed");
            assert!(
                tessera_fuzz::opens(TicketFormat::OpenSsl, &t),
                "{name} no longer opens"
            );
            tessera_fuzz::open_real(TicketFormat::OpenSsl, &t);
            checked += 1;
        }
    }
    println!("{checked} nginx tickets open");

    println!("seeds written under {}", dir.display());
}
