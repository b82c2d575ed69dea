//! Byte-level examples for the wire codecs, written by hand from the structures in RFC 5077
//! (sections 3.2, 3.3, 4 and Appendix A) and RFC 5246 (section 7.4.1.4 extensions, section
//! 7.4.2 ASN.1Cert). Each vector spells its fields out in the comment beside it.

use std::borrow::Cow;

use hex_literal::hex;
use tessera::wire::{
    ClientAuthenticationType, ClientHelloTicketExt, ClientIdentity, Extension, Extensions,
    MasterSecret, NewSessionTicket, ProtocolVersion, SESSION_TICKET_EXTENSION_TYPE,
    ServerHelloTicketExt, StatePlaintext, WireError, fields,
};

fn encode_with(f: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out).expect("encodes");
    out
}

// ---------------------------------------------------------------- SessionTicket extension

#[test]
fn client_empty_extension_asks_for_a_ticket() {
    // extension_type = 35 (0x0023), extension_data length 0.
    let wire = hex!("0023 0000");
    assert_eq!(
        ClientHelloTicketExt::decode(&wire),
        Ok(ClientHelloTicketExt::Empty)
    );
    assert_eq!(encode_with(|o| ClientHelloTicketExt::Empty.encode(o)), wire);
}

#[test]
fn client_ticket_is_the_extension_data_without_inner_length() {
    // type 35, length 4, ticket 01 02 03 04 (RFC 5077 Appendix A: no inner uint16 prefix).
    let wire = hex!("0023 0004 01020304");
    let ext = ClientHelloTicketExt::decode(&wire).unwrap();
    assert_eq!(ext.ticket(), Some(&hex!("01020304")[..]));
    // Borrowed: the ticket points into the input buffer.
    assert!(matches!(
        &ext,
        ClientHelloTicketExt::Ticket(Cow::Borrowed(_))
    ));
    assert_eq!(encode_with(|o| ext.encode(o)), wire);
    assert_eq!(ext.encoded_len(), wire.len());
}

#[test]
fn rfc4507_style_inner_length_is_not_stripped() {
    // A client following the ambiguous RFC 4507 text would send a uint16 length inside the
    // data; RFC 5077 says the data IS the ticket, so those two bytes belong to the ticket.
    let wire = hex!("0023 0006 0004 01020304");
    let ext = ClientHelloTicketExt::decode(&wire).unwrap();
    assert_eq!(ext.ticket(), Some(&hex!("0004 01020304")[..]));
}

#[test]
fn server_extension_is_empty() {
    let wire = hex!("0023 0000");
    assert_eq!(
        ServerHelloTicketExt::decode(&wire),
        Ok(ServerHelloTicketExt)
    );
    let mut out = Vec::new();
    ServerHelloTicketExt.encode(&mut out);
    assert_eq!(out, wire);
}

#[test]
fn server_extension_with_data_is_rejected() {
    assert_eq!(
        ServerHelloTicketExt::decode(&hex!("0023 0001 00")),
        Err(WireError::TooLong {
            field: fields::SERVER_SESSION_TICKET,
            len: 1,
            max: 0
        })
    );
}

#[test]
fn other_extension_type_is_rejected() {
    // type 34 (0x0022) is not SessionTicket.
    let err = WireError::BadValue {
        field: fields::EXTENSION_TYPE,
        value: 34,
    };
    assert_eq!(ClientHelloTicketExt::decode(&hex!("0022 0000")), Err(err));
    assert_eq!(ServerHelloTicketExt::decode(&hex!("0022 0000")), Err(err));
}

#[test]
fn extension_length_disagreeing_with_data() {
    // Declares 5 bytes, carries 4.
    assert_eq!(
        ClientHelloTicketExt::decode(&hex!("0023 0005 01020304")),
        Err(WireError::Truncated {
            field: fields::EXTENSION_DATA,
            needed: 5,
            available: 4
        })
    );
    // Declares 3 bytes, carries 4: the extra byte trails the extension.
    assert_eq!(
        ClientHelloTicketExt::decode(&hex!("0023 0003 01020304")),
        Err(WireError::TrailingBytes {
            field: fields::EXTENSION,
            count: 1
        })
    );
    // Only one byte of the type.
    assert_eq!(
        ClientHelloTicketExt::decode(&hex!("00")),
        Err(WireError::Truncated {
            field: fields::EXTENSION_TYPE,
            needed: 2,
            available: 1
        })
    );
}

// ---------------------------------------------------------------- extensions block

/// A ClientHello extensions block: ec_point_formats (11) = [1, uncompressed(0)],
/// session_ticket (35) = ticket AA BB CC, signature_algorithms (13) = [sha256+rsa (0401)].
const CLIENT_BLOCK: [u8; 23] = hex!(
    "0015"              // total length 21
    "000b 0002 0100"    // ec_point_formats
    "0023 0003 aabbcc"  // session_ticket
    "000d 0004 00020401" // signature_algorithms
);

#[test]
fn find_ticket_in_client_block() {
    let ext = ClientHelloTicketExt::find_in(&CLIENT_BLOCK).unwrap();
    assert_eq!(
        ext,
        Some(ClientHelloTicketExt::Ticket(Cow::Borrowed(&hex!("aabbcc"))))
    );
    let exts = Extensions::decode(&CLIENT_BLOCK).unwrap();
    let types: Vec<u16> = exts.iter().map(|e| e.ext_type).collect();
    assert_eq!(types, [11, 35, 13]);
    assert_eq!(exts.get(13), Some(&hex!("00020401")[..]));
    assert_eq!(exts.encoded_len(), CLIENT_BLOCK.len());
    assert_eq!(encode_with(|o| exts.encode(o)), CLIENT_BLOCK);
}

#[test]
fn block_without_ticket_and_empty_block() {
    // ec_point_formats only.
    let block = hex!("0006 000b 0002 0100");
    assert_eq!(ClientHelloTicketExt::find_in(&block), Ok(None));
    assert_eq!(ServerHelloTicketExt::find_in(&block), Ok(None));
    assert_eq!(ClientHelloTicketExt::find_in(&hex!("0000")), Ok(None));
}

#[test]
fn server_block_with_empty_ticket_extension() {
    // renegotiation_info (0xff01) = [0], session_ticket (35) empty.
    let block = hex!("0009 ff01 0001 00 0023 0000");
    assert_eq!(
        ServerHelloTicketExt::find_in(&block),
        Ok(Some(ServerHelloTicketExt))
    );
    // The same extension with data is an error in a ServerHello block.
    let bad = hex!("000a ff01 0001 00 0023 0001 07");
    assert_eq!(
        ServerHelloTicketExt::find_in(&bad),
        Err(WireError::TooLong {
            field: fields::SERVER_SESSION_TICKET,
            len: 1,
            max: 0
        })
    );
}

#[test]
fn duplicate_extension_rejected() {
    // session_ticket twice (RFC 5246 7.4.1.4: at most one extension of each type).
    let block = hex!("0009 0023 0001 01 0023 0000");
    assert_eq!(
        ClientHelloTicketExt::find_in(&block),
        Err(WireError::DuplicateExtension { ext_type: 35 })
    );
    // Also when the repeated type is not the one we look for.
    let block = hex!("000c 000b 0000 0023 0000 000b 0000");
    assert_eq!(
        Extensions::decode(&block),
        Err(WireError::DuplicateExtension { ext_type: 11 })
    );
}

#[test]
fn block_length_disagreements() {
    // Total length claims 22, block holds 21.
    let mut long = CLIENT_BLOCK;
    long[1] = 22;
    assert_eq!(
        Extensions::decode(&long),
        Err(WireError::Truncated {
            field: fields::EXTENSIONS,
            needed: 22,
            available: 21
        })
    );
    // Total length claims 20: the last extension's data runs past the block's end.
    let mut short = CLIENT_BLOCK;
    short[1] = 20;
    assert_eq!(
        Extensions::decode(&short),
        Err(WireError::Truncated {
            field: fields::EXTENSION_DATA,
            needed: 4,
            available: 3
        })
    );
    // A byte after the block.
    let mut trailing = CLIENT_BLOCK.to_vec();
    trailing.push(0);
    assert_eq!(
        Extensions::decode(&trailing),
        Err(WireError::TrailingBytes {
            field: fields::EXTENSIONS,
            count: 1
        })
    );
}

#[test]
fn insert_into_block() {
    // Into an empty block.
    let mut out = Vec::new();
    ClientHelloTicketExt::Empty
        .insert_into(&hex!("0000"), &mut out)
        .unwrap();
    assert_eq!(out, hex!("0004 0023 0000"));

    // Replacing the ticket in CLIENT_BLOCK keeps position and other extensions.
    out.clear();
    ClientHelloTicketExt::Ticket(Cow::Borrowed(&hex!("0102")))
        .insert_into(&CLIENT_BLOCK, &mut out)
        .unwrap();
    assert_eq!(
        out,
        hex!("0014 000b 0002 0100 0023 0002 0102 000d 0004 00020401")
    );

    // ServerHello: appended at the end.
    out.clear();
    ServerHelloTicketExt
        .insert_into(&hex!("0005 ff01 0001 00"), &mut out)
        .unwrap();
    assert_eq!(out, hex!("0009 ff01 0001 00 0023 0000"));
}

#[test]
fn insert_refuses_overflowing_block() {
    // A block already 65531 bytes long (one extension with 65527 data bytes) cannot take a
    // ticket extension of 4+2 bytes: the total would exceed 2^16-1.
    let data = vec![0u8; 65_527];
    let mut block = Vec::new();
    Extensions::from_vec(vec![Extension {
        ext_type: 21,
        data: &data,
    }])
    .unwrap()
    .encode(&mut block)
    .unwrap();
    let mut out = vec![0xEE];
    assert_eq!(
        ClientHelloTicketExt::Ticket(Cow::Borrowed(&[1, 2])).insert_into(&block, &mut out),
        Err(WireError::TooLong {
            field: fields::EXTENSIONS,
            len: 65_537,
            max: 65_535
        })
    );
    assert_eq!(out, [0xEE], "a failed encode appends nothing");
}

#[test]
fn oversized_ticket_extension_refused() {
    let ticket = vec![0u8; 65_536];
    let ext = ClientHelloTicketExt::Ticket(Cow::Borrowed(&ticket));
    let mut out = Vec::new();
    assert_eq!(
        ext.encode(&mut out),
        Err(WireError::TooLong {
            field: fields::SESSION_TICKET,
            len: 65_536,
            max: 65_535
        })
    );
    assert!(out.is_empty());
    assert_eq!(
        ClientHelloTicketExt::from_extension_data(&ticket),
        Err(WireError::TooLong {
            field: fields::SESSION_TICKET,
            len: 65_536,
            max: 65_535
        })
    );
    // The largest legal ticket round-trips.
    let ticket = vec![0xA5u8; 65_535];
    let ext = ClientHelloTicketExt::Ticket(Cow::Borrowed(&ticket));
    let wire = encode_with(|o| ext.encode(o));
    assert_eq!(&wire[..4], hex!("0023 ffff"));
    assert_eq!(ClientHelloTicketExt::decode(&wire), Ok(ext));
}

#[test]
fn extension_type_constant() {
    assert_eq!(SESSION_TICKET_EXTENSION_TYPE, 35);
}

// ---------------------------------------------------------------- NewSessionTicket

/// msg_type 4, length 10, ticket_lifetime_hint 7200 (0x1c20), ticket length 4, DE AD BE EF.
const NST: [u8; 14] = hex!("04 00000a 00001c20 0004 deadbeef");

#[test]
fn new_session_ticket_with_header() {
    let nst = NewSessionTicket::decode(&NST).unwrap();
    assert_eq!(nst, NewSessionTicket::new(7200, hex!("deadbeef")));
    assert_eq!(encode_with(|o| nst.encode(o)), NST);
    assert_eq!(nst.encoded_len(), NST.len());
}

#[test]
fn new_session_ticket_body_alone() {
    let body = &NST[4..];
    let nst = NewSessionTicket::decode_body(body).unwrap();
    assert_eq!(nst.ticket_lifetime_hint, 7200);
    assert_eq!(nst.ticket, hex!("deadbeef"));
    assert_eq!(encode_with(|o| nst.encode_body(o)), body);
    assert_eq!(nst.body_len(), body.len());
}

#[test]
fn new_session_ticket_zero_length_ticket() {
    // Section 3.3: a server that changed its mind sends a zero-length ticket.
    let wire = hex!("04 000006 00000000 0000");
    let nst = NewSessionTicket::decode(&wire).unwrap();
    assert_eq!(nst, NewSessionTicket::new(0, Vec::new()));
    assert_eq!(encode_with(|o| nst.encode(o)), wire);
}

#[test]
fn new_session_ticket_wrong_handshake_type() {
    let mut wire = NST;
    wire[0] = 2; // server_hello
    assert_eq!(
        NewSessionTicket::decode(&wire),
        Err(WireError::BadValue {
            field: fields::HANDSHAKE_TYPE,
            value: 2
        })
    );
}

#[test]
fn new_session_ticket_length_mismatches() {
    // Header length 11, body 10.
    let mut wire = NST;
    wire[3] = 11;
    assert_eq!(
        NewSessionTicket::decode(&wire),
        Err(WireError::Truncated {
            field: fields::HANDSHAKE_LENGTH,
            needed: 11,
            available: 10
        })
    );
    // Header length 9: the ticket runs past the body.
    wire[3] = 9;
    assert_eq!(
        NewSessionTicket::decode(&wire),
        Err(WireError::Truncated {
            field: fields::NST_TICKET,
            needed: 4,
            available: 3
        })
    );
    // Ticket length 5 with 4 ticket bytes.
    let body = hex!("00001c20 0005 deadbeef");
    assert_eq!(
        NewSessionTicket::decode_body(&body),
        Err(WireError::Truncated {
            field: fields::NST_TICKET,
            needed: 5,
            available: 4
        })
    );
    // Ticket length 3 with 4 ticket bytes.
    let body = hex!("00001c20 0003 deadbeef");
    assert_eq!(
        NewSessionTicket::decode_body(&body),
        Err(WireError::TrailingBytes {
            field: fields::NEW_SESSION_TICKET,
            count: 1
        })
    );
    // A second message glued after the first.
    let mut two = NST.to_vec();
    two.extend_from_slice(&NST);
    assert_eq!(
        NewSessionTicket::decode(&two),
        Err(WireError::TrailingBytes {
            field: fields::HANDSHAKE,
            count: 14
        })
    );
}

#[test]
fn new_session_ticket_largest_ticket() {
    let nst = NewSessionTicket::new(u32::MAX, vec![7u8; 65_535]);
    let wire = encode_with(|o| nst.encode(o));
    // length = 4 + 2 + 65535 = 65541 = 0x010005.
    assert_eq!(&wire[..10], hex!("04 010005 ffffffff ffff"));
    assert_eq!(NewSessionTicket::decode(&wire), Ok(nst));
}

// ---------------------------------------------------------------- StatePlaintext

fn state(client_identity: ClientIdentity) -> StatePlaintext {
    StatePlaintext {
        protocol_version: ProtocolVersion::TLS1_2,
        cipher_suite: 0xC02F, // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        compression_method: 0,
        master_secret: MasterSecret::new([0x11; 48]),
        client_identity,
        timestamp: 1_600_000_000, // 0x5f5e1000
    }
}

const MS: [u8; 48] = [0x11; 48];

fn state_bytes(identity: &[u8]) -> Vec<u8> {
    // protocol_version {3,3}, cipher_suite c0 2f, compression null(0), master_secret.
    let mut v = hex!("0303 c02f 00").to_vec();
    v.extend_from_slice(&MS);
    v.extend_from_slice(identity);
    v.extend_from_slice(&hex!("5f5e1000"));
    v
}

#[test]
fn state_anonymous() {
    let wire = state_bytes(&hex!("00"));
    assert_eq!(wire.len(), StatePlaintext::MIN_LEN);
    let s = StatePlaintext::decode(&wire).unwrap();
    assert_eq!(s, state(ClientIdentity::Anonymous));
    assert_eq!(*s.to_zeroizing_vec().unwrap(), wire);
}

#[test]
fn state_certificate_based() {
    // type 1, certificate_list length 9: [len 2: 30 82], [len 1: 30].
    let wire = state_bytes(&hex!("01 000009 000002 3082 000001 30"));
    let s = StatePlaintext::decode(&wire).unwrap();
    assert_eq!(
        s.client_identity,
        ClientIdentity::CertificateBased {
            certificate_list: vec![hex!("3082").to_vec(), hex!("30").to_vec()]
        }
    );
    assert_eq!(
        s.client_identity.auth_type(),
        ClientAuthenticationType::CertificateBased
    );
    assert_eq!(encode_with(|o| s.encode(o)), wire);
}

#[test]
fn state_certificate_based_empty_list() {
    // certificate_list<0..2^24-1> may be empty.
    let wire = state_bytes(&hex!("01 000000"));
    let s = StatePlaintext::decode(&wire).unwrap();
    assert_eq!(
        s.client_identity,
        ClientIdentity::CertificateBased {
            certificate_list: Vec::new()
        }
    );
    assert_eq!(encode_with(|o| s.encode(o)), wire);
}

#[test]
fn state_psk() {
    // type 2, psk_identity length 5, "alice".
    let wire = state_bytes(&hex!("02 0005 616c696365"));
    let s = StatePlaintext::decode(&wire).unwrap();
    assert_eq!(
        s,
        state(ClientIdentity::Psk {
            psk_identity: b"alice".to_vec()
        })
    );
    assert_eq!(encode_with(|o| s.encode(o)), wire);
}

#[test]
fn state_unknown_auth_type() {
    for v in [3u8, 0x80, 0xFF] {
        let wire = state_bytes(&[v]);
        assert_eq!(
            StatePlaintext::decode(&wire),
            Err(WireError::BadValue {
                field: fields::CLIENT_AUTH_TYPE,
                value: u32::from(v)
            })
        );
    }
}

#[test]
fn state_empty_certificate_rejected() {
    // ASN.1Cert is opaque<1..2^24-1>.
    let wire = state_bytes(&hex!("01 000003 000000"));
    assert_eq!(
        StatePlaintext::decode(&wire),
        Err(WireError::TooShort {
            field: fields::CERTIFICATE,
            len: 0,
            min: 1
        })
    );
    let mut out = Vec::new();
    assert_eq!(
        state(ClientIdentity::CertificateBased {
            certificate_list: vec![Vec::new()]
        })
        .encode(&mut out),
        Err(WireError::TooShort {
            field: fields::CERTIFICATE,
            len: 0,
            min: 1
        })
    );
    assert!(out.is_empty());
}

#[test]
fn state_certificate_overruns_list() {
    // List length 4 holds [000002 30]; the certificate's second byte lies outside the list.
    let wire = state_bytes(&hex!("01 000004 000002 3082"));
    assert_eq!(
        StatePlaintext::decode(&wire),
        Err(WireError::Truncated {
            field: fields::CERTIFICATE,
            needed: 2,
            available: 1
        })
    );
}

#[test]
fn state_truncated_master_secret_and_trailing() {
    let wire = state_bytes(&hex!("00"));
    assert_eq!(
        StatePlaintext::decode(&wire[..20]),
        Err(WireError::Truncated {
            field: fields::MASTER_SECRET,
            needed: 48,
            available: 15
        })
    );
    let mut long = wire.clone();
    long.extend_from_slice(&[0, 0]);
    assert_eq!(
        StatePlaintext::decode(&long),
        Err(WireError::TrailingBytes {
            field: fields::STATE_PLAINTEXT,
            count: 2
        })
    );
}

#[test]
fn state_oversized_identities_refused_on_encode() {
    let mut out = Vec::new();
    let psk = state(ClientIdentity::Psk {
        psk_identity: vec![1; 65_536],
    });
    assert_eq!(
        psk.encode(&mut out),
        Err(WireError::TooLong {
            field: fields::PSK_IDENTITY,
            len: 65_536,
            max: 65_535
        })
    );
    // Two 8 MiB certificates: each fits a uint24, the list (2 * (3 + 2^23)) does not.
    let big = vec![0x30u8; 1 << 23];
    let certs = state(ClientIdentity::CertificateBased {
        certificate_list: vec![big.clone(), big],
    });
    assert_eq!(
        certs.encode(&mut out),
        Err(WireError::TooLong {
            field: fields::CERTIFICATE_LIST,
            len: 2 * (3 + (1 << 23)),
            max: 0xFF_FFFF
        })
    );
    assert!(out.is_empty());
}

#[test]
fn state_debug_redacts_master_secret() {
    let s = state(ClientIdentity::Psk {
        psk_identity: b"alice".to_vec(),
    });
    let dbg = format!("{s:?}");
    assert!(dbg.contains("master_secret: <redacted>"), "{dbg}");
    // 0x11 = 17: no run of the secret's bytes in decimal or hex.
    assert!(!dbg.contains("17, 17"), "{dbg}");
    assert!(!dbg.contains("1111"), "{dbg}");
    // The rest stays visible for debugging.
    assert!(dbg.contains("cipher_suite: 49199"), "{dbg}");
    assert!(dbg.contains("timestamp: 1600000000"), "{dbg}");
}

#[test]
fn errors_display_the_field() {
    let err = StatePlaintext::decode(&state_bytes(&[9])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ClientIdentity.client_authentication_type: bad value 9"
    );
    assert_eq!(err.field(), fields::CLIENT_AUTH_TYPE);
    let err = NewSessionTicket::decode(&NST[..3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Handshake.length: truncated (needs 3 bytes, 2 left)"
    );
    let err = Extensions::decode(&hex!("0008 0023 0000 0023 0000")).unwrap_err();
    assert_eq!(err.to_string(), "extensions: duplicate extension type 35");
}
