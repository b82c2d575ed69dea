//! Property tests for the wire codecs: round trips, canonical decoding, every truncation,
//! trailing bytes, bad enum values, oversize length fields, and random input never panicking.

use std::borrow::Cow;

use proptest::prelude::*;
use tessera::wire::{
    ClientHelloTicketExt, ClientIdentity, Extension, Extensions, MasterSecret, NewSessionTicket,
    PRE_SHARED_KEY_EXTENSION_TYPE, ProtocolVersion, SESSION_TICKET_EXTENSION_TYPE,
    ServerHelloTicketExt, StatePlaintext, TicketLayout, WireError, fields,
};

// ---------------------------------------------------------------- strategies

fn bytes(range: core::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), range)
}

fn client_ext() -> impl Strategy<Value = ClientHelloTicketExt<'static>> {
    prop_oneof![
        Just(ClientHelloTicketExt::Empty),
        bytes(1..300).prop_map(|t| ClientHelloTicketExt::Ticket(Cow::Owned(t))),
    ]
}

fn nst() -> impl Strategy<Value = NewSessionTicket> {
    (any::<u32>(), bytes(0..300)).prop_map(|(hint, t)| NewSessionTicket::new(hint, t))
}

fn identity() -> impl Strategy<Value = ClientIdentity> {
    prop_oneof![
        Just(ClientIdentity::Anonymous),
        prop::collection::vec(bytes(1..40), 0..5)
            .prop_map(|certificate_list| ClientIdentity::CertificateBased { certificate_list }),
        bytes(0..40).prop_map(|psk_identity| ClientIdentity::Psk { psk_identity }),
    ]
}

fn state() -> impl Strategy<Value = StatePlaintext> {
    (
        any::<(u8, u8)>(),
        any::<u16>(),
        any::<u8>(),
        any::<[u8; 48]>(),
        identity(),
        any::<u32>(),
    )
        .prop_map(
            |((major, minor), cipher_suite, compression_method, ms, client_identity, timestamp)| {
                StatePlaintext {
                    protocol_version: ProtocolVersion::new(major, minor),
                    cipher_suite,
                    compression_method,
                    master_secret: MasterSecret::new(ms),
                    client_identity,
                    timestamp,
                }
            },
        )
}

/// Extensions with distinct types, in a random order. Owned here; borrowed by `Extensions`.
fn ext_list() -> impl Strategy<Value = Vec<(u16, Vec<u8>)>> {
    ext_list_sized(0..8)
}

fn ext_list_sized(count: core::ops::Range<usize>) -> impl Strategy<Value = Vec<(u16, Vec<u8>)>> {
    prop::collection::btree_map(any::<u16>(), bytes(0..20), count)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
}

fn extensions(list: &[(u16, Vec<u8>)]) -> Extensions<'_> {
    Extensions::from_vec(
        list.iter()
            .map(|(t, d)| Extension {
                ext_type: *t,
                data: d,
            })
            .collect(),
    )
    .expect("distinct types, short data")
}

fn encoded(f: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out).expect("generated values encode");
    out
}

/// Every proper prefix of `wire` must fail to decode (and not panic).
fn assert_every_prefix_fails(
    wire: &[u8],
    decode: impl Fn(&[u8]) -> Result<(), WireError>,
) -> Result<(), TestCaseError> {
    for cut in 0..wire.len() {
        let prefix = wire.get(..cut).unwrap_or_default();
        prop_assert!(decode(prefix).is_err(), "prefix of {} bytes decoded", cut);
    }
    Ok(())
}

/// `wire` followed by `extra` (non-empty) must fail with `TrailingBytes` naming `field`.
fn assert_trailing_rejected(
    wire: &[u8],
    extra: &[u8],
    field: &'static str,
    decode: impl Fn(&[u8]) -> Result<(), WireError>,
) -> Result<(), TestCaseError> {
    let mut long = wire.to_vec();
    long.extend_from_slice(extra);
    prop_assert_eq!(
        decode(&long).unwrap_err(),
        WireError::TrailingBytes {
            field,
            count: extra.len()
        }
    );
    Ok(())
}

// ---------------------------------------------------------------- properties

proptest! {
    #[test]
    fn client_ext_round_trip(ext in client_ext(), extra in bytes(1..8)) {
        let wire = encoded(|o| ext.encode(o));
        prop_assert_eq!(wire.len(), ext.encoded_len());
        prop_assert_eq!(ClientHelloTicketExt::decode(&wire).unwrap(), ext.clone());
        assert_every_prefix_fails(&wire, |b| ClientHelloTicketExt::decode(b).map(drop))?;
        assert_trailing_rejected(&wire, &extra, fields::EXTENSION, |b| ClientHelloTicketExt::decode(b).map(drop))?;
    }

    #[test]
    fn server_ext_round_trip(extra in bytes(1..8)) {
        let mut wire = Vec::new();
        ServerHelloTicketExt.encode(&mut wire);
        prop_assert_eq!(ServerHelloTicketExt::decode(&wire).unwrap(), ServerHelloTicketExt);
        assert_every_prefix_fails(&wire, |b| ServerHelloTicketExt::decode(b).map(drop))?;
        assert_trailing_rejected(&wire, &extra, fields::EXTENSION, |b| ServerHelloTicketExt::decode(b).map(drop))?;
    }

    #[test]
    fn extension_type_other_than_35_rejected(ext in client_ext(), t in any::<u16>()) {
        prop_assume!(t != SESSION_TICKET_EXTENSION_TYPE);
        let mut wire = encoded(|o| ext.encode(o));
        wire[..2].copy_from_slice(&t.to_be_bytes());
        let err = WireError::BadValue { field: fields::EXTENSION_TYPE, value: u32::from(t) };
        prop_assert_eq!(ClientHelloTicketExt::decode(&wire).unwrap_err(), err);
        prop_assert_eq!(ServerHelloTicketExt::decode(&wire).unwrap_err(), err);
    }

    #[test]
    fn extensions_round_trip(list in ext_list(), extra in bytes(1..8)) {
        let exts = extensions(&list);
        let wire = encoded(|o| exts.encode(o));
        prop_assert_eq!(wire.len(), exts.encoded_len());
        let back = Extensions::decode(&wire).unwrap();
        prop_assert_eq!(&back, &exts);
        assert_every_prefix_fails(&wire, |b| Extensions::decode(b).map(drop))?;
        assert_trailing_rejected(&wire, &extra, fields::EXTENSIONS, |b| Extensions::decode(b).map(drop))?;
        // find_in agrees with the generated list.
        let expected = list.iter().find(|(t, _)| *t == SESSION_TICKET_EXTENSION_TYPE);
        let found = ClientHelloTicketExt::find_in(&wire).unwrap();
        prop_assert_eq!(found.as_ref().map(|e| e.extension_data()), expected.map(|(_, d)| &d[..]));
    }

    #[test]
    fn extensions_duplicate_rejected(list in ext_list_sized(1..8), pick in any::<prop::sample::Index>()) {
        let (t, d) = pick.get(&list).clone();
        let exts = extensions(&list);
        let mut wire = encoded(|o| exts.encode(o));
        // Append a second extension of an existing type and fix up the block length.
        Extension { ext_type: t, data: &d }.encode(&mut wire).unwrap();
        let inner = u16::try_from(wire.len() - 2).unwrap();
        wire[..2].copy_from_slice(&inner.to_be_bytes());
        prop_assert_eq!(
            Extensions::decode(&wire).unwrap_err(),
            WireError::DuplicateExtension { ext_type: t }
        );
    }

    #[test]
    fn insert_then_find(list in ext_list(), ext in client_ext(), psk_last in any::<bool>()) {
        let mut list: Vec<_> = list
            .into_iter()
            .filter(|(t, _)| *t != PRE_SHARED_KEY_EXTENSION_TYPE)
            .collect();
        if psk_last {
            list.push((PRE_SHARED_KEY_EXTENSION_TYPE, vec![0xAB; 3]));
        }
        let block = encoded(|o| extensions(&list).encode(o));
        let mut out = Vec::new();
        ext.insert_into(&block, &mut out).unwrap();
        prop_assert_eq!(ClientHelloTicketExt::find_in(&out).unwrap(), Some(ext.clone()));
        let after = Extensions::decode(&out).unwrap();
        // Every other extension kept, in order; psk still last if it was.
        let others: Vec<(u16, &[u8])> = after
            .iter()
            .filter(|e| e.ext_type != SESSION_TICKET_EXTENSION_TYPE)
            .map(|e| (e.ext_type, e.data))
            .collect();
        let before: Vec<(u16, &[u8])> = list
            .iter()
            .filter(|(t, _)| *t != SESSION_TICKET_EXTENSION_TYPE)
            .map(|(t, d)| (*t, &d[..]))
            .collect();
        prop_assert_eq!(others, before);
        if psk_last {
            prop_assert_eq!(after.as_slice().last().map(|e| e.ext_type), Some(PRE_SHARED_KEY_EXTENSION_TYPE));
        }
        // Inserting again replaces rather than duplicating.
        let mut twice = Vec::new();
        ext.insert_into(&out, &mut twice).unwrap();
        prop_assert_eq!(twice, out);
    }

    #[test]
    fn nst_round_trip(nst in nst(), extra in bytes(1..8)) {
        let wire = encoded(|o| nst.encode(o));
        let body = encoded(|o| nst.encode_body(o));
        prop_assert_eq!(wire.len(), nst.encoded_len());
        prop_assert_eq!(body.len(), nst.body_len());
        prop_assert_eq!(&wire[4..], &body[..]);
        prop_assert_eq!(NewSessionTicket::decode(&wire).unwrap(), nst.clone());
        prop_assert_eq!(NewSessionTicket::decode_body(&body).unwrap(), nst);
        assert_every_prefix_fails(&wire, |b| NewSessionTicket::decode(b).map(drop))?;
        assert_every_prefix_fails(&body, |b| NewSessionTicket::decode_body(b).map(drop))?;
        assert_trailing_rejected(&wire, &extra, fields::HANDSHAKE, |b| NewSessionTicket::decode(b).map(drop))?;
        assert_trailing_rejected(&body, &extra, fields::NEW_SESSION_TICKET, |b| NewSessionTicket::decode_body(b).map(drop))?;
    }

    #[test]
    fn nst_wrong_handshake_type(nst in nst(), t in any::<u8>()) {
        prop_assume!(t != 4);
        let mut wire = encoded(|o| nst.encode(o));
        wire[0] = t;
        prop_assert_eq!(
            NewSessionTicket::decode(&wire).unwrap_err(),
            WireError::BadValue { field: fields::HANDSHAKE_TYPE, value: u32::from(t) }
        );
    }

    #[test]
    fn nst_oversize_length_fields(nst in nst(), more in 1u32..1000) {
        // Handshake length larger than the body: truncated at the handshake length.
        let mut wire = encoded(|o| nst.encode(o));
        let body_len = u32::try_from(nst.body_len()).unwrap();
        wire[1..4].copy_from_slice(&(body_len + more).to_be_bytes()[1..]);
        let truncated_at_length = matches!(
            NewSessionTicket::decode(&wire),
            Err(WireError::Truncated { field: fields::HANDSHAKE_LENGTH, .. })
        );
        prop_assert!(truncated_at_length);
        // Ticket length larger than the ticket.
        let mut body = encoded(|o| nst.encode_body(o));
        let claimed = nst.ticket.len() + more as usize;
        prop_assume!(claimed <= 0xFFFF);
        body[4..6].copy_from_slice(&u16::try_from(claimed).unwrap().to_be_bytes());
        prop_assert_eq!(
            NewSessionTicket::decode_body(&body).unwrap_err(),
            WireError::Truncated { field: fields::NST_TICKET, needed: claimed, available: nst.ticket.len() }
        );
    }

    #[test]
    fn state_round_trip(s in state(), extra in bytes(1..8)) {
        let wire = encoded(|o| s.encode(o));
        prop_assert_eq!(wire.len(), s.encoded_len());
        prop_assert_eq!(&wire[..], &s.to_zeroizing_vec().unwrap()[..]);
        prop_assert_eq!(StatePlaintext::decode(&wire).unwrap(), s.clone());
        assert_every_prefix_fails(&wire, |b| StatePlaintext::decode(b).map(drop))?;
        assert_trailing_rejected(&wire, &extra, fields::STATE_PLAINTEXT, |b| StatePlaintext::decode(b).map(drop))?;
        // The identity on its own, too.
        let id = encoded(|o| s.client_identity.encode(o));
        prop_assert_eq!(ClientIdentity::decode(&id).unwrap(), s.client_identity.clone());
        assert_every_prefix_fails(&id, |b| ClientIdentity::decode(b).map(drop))?;
        assert_trailing_rejected(&id, &extra, fields::CLIENT_IDENTITY, |b| ClientIdentity::decode(b).map(drop))?;
    }

    #[test]
    fn state_bad_auth_type_named(s in state(), v in 3u8..=255) {
        let mut wire = encoded(|o| s.encode(o));
        // client_authentication_type follows version(2), suite(2), compression(1), secret(48).
        wire[53] = v;
        prop_assert_eq!(
            StatePlaintext::decode(&wire).unwrap_err(),
            WireError::BadValue { field: fields::CLIENT_AUTH_TYPE, value: u32::from(v) }
        );
    }

    #[test]
    fn state_oversize_identity_lengths(s in state(), more in 1usize..1000) {
        let mut wire = encoded(|o| s.encode(o));
        match &s.client_identity {
            ClientIdentity::Anonymous => return Ok(()),
            ClientIdentity::Psk { psk_identity } => {
                let claimed = psk_identity.len() + more;
                wire[54..56].copy_from_slice(&u16::try_from(claimed).unwrap().to_be_bytes());
                // The identity swallows the timestamp and still wants more.
                let available = psk_identity.len() + 4;
                if claimed > available {
                    prop_assert_eq!(
                        StatePlaintext::decode(&wire).unwrap_err(),
                        WireError::Truncated { field: fields::PSK_IDENTITY, needed: claimed, available }
                    );
                } else {
                    // It ate part of the timestamp: the timestamp is then short.
                    let short_timestamp = matches!(
                        StatePlaintext::decode(&wire),
                        Err(WireError::Truncated { field: fields::TIMESTAMP, .. })
                    );
                    prop_assert!(short_timestamp);
                }
            }
            ClientIdentity::CertificateBased { certificate_list } => {
                let list_len: usize = certificate_list.iter().map(|c| 3 + c.len()).sum();
                let claimed = list_len + more;
                wire[54..57].copy_from_slice(&u32::try_from(claimed).unwrap().to_be_bytes()[1..]);
                prop_assert!(StatePlaintext::decode(&wire).is_err());
            }
        }
    }

    #[test]
    fn ticket_layout_splits(
        name in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        state in bytes(0..200),
        mac in any::<[u8; 32]>(),
        extra in bytes(1..8),
    ) {
        let mut openssl = [&name[..], &iv, &state, &mac].concat();
        let len = u16::try_from(state.len()).unwrap().to_be_bytes();
        let rfc = [&name[..], &iv, &len, &state, &mac].concat();
        for (wire, layout) in [
            (&rfc, TicketLayout::decode_rfc5077(&rfc).unwrap()),
            (&openssl, TicketLayout::decode_openssl(&openssl).unwrap()),
        ] {
            prop_assert_eq!(layout.key_name.0, name);
            prop_assert_eq!(layout.iv, iv);
            prop_assert_eq!(layout.encrypted_state, &state[..]);
            prop_assert_eq!(layout.mac, mac);
            prop_assert_eq!(layout.authenticated, &wire[..wire.len() - 32]);
        }
        assert_every_prefix_fails(&rfc, |b| TicketLayout::decode_rfc5077(b).map(drop))?;
        assert_trailing_rejected(&rfc, &extra, fields::TICKET, |b| TicketLayout::decode_rfc5077(b).map(drop))?;
        // Without a length field only tickets shorter than the overhead are detectably short.
        assert_every_prefix_fails(
            &openssl[..TicketLayout::OPENSSL_OVERHEAD],
            |b| TicketLayout::decode_openssl(b).map(drop),
        )?;
        openssl.extend_from_slice(&extra);
        let longer = TicketLayout::decode_openssl(&openssl).unwrap();
        prop_assert_eq!(longer.encrypted_state.len(), state.len() + extra.len());
    }

    /// Random bytes never panic any decoder, and whatever does decode re-encodes to exactly
    /// the same bytes (the encoding is canonical, so decoding is strict).
    #[test]
    fn random_bytes_never_panic(wire in bytes(0..200)) {
        if let Ok(x) = ClientHelloTicketExt::decode(&wire) {
            prop_assert_eq!(encoded(|o| x.encode(o)), wire.clone());
        }
        if let Ok(x) = ServerHelloTicketExt::decode(&wire) {
            let mut out = Vec::new();
            x.encode(&mut out);
            prop_assert_eq!(out, wire.clone());
        }
        if let Ok(x) = Extensions::decode(&wire) {
            prop_assert_eq!(encoded(|o| x.encode(o)), wire.clone());
        }
        let _ = ClientHelloTicketExt::find_in(&wire);
        let _ = ServerHelloTicketExt::find_in(&wire);
        let _ = TicketLayout::decode_rfc5077(&wire);
        let _ = TicketLayout::decode_openssl(&wire);
        if let Ok(x) = NewSessionTicket::decode(&wire) {
            prop_assert_eq!(encoded(|o| x.encode(o)), wire.clone());
        }
        if let Ok(x) = NewSessionTicket::decode_body(&wire) {
            prop_assert_eq!(encoded(|o| x.encode_body(o)), wire.clone());
        }
        if let Ok(x) = StatePlaintext::decode(&wire) {
            prop_assert_eq!(encoded(|o| x.encode(o)), wire.clone());
        }
        if let Ok(x) = ClientIdentity::decode(&wire) {
            prop_assert_eq!(encoded(|o| x.encode(o)), wire.clone());
        }
    }

    /// Valid encodings with one byte changed: the decoders see near-valid input far more
    /// often than random bytes reach, and must still never panic and stay canonical.
    #[test]
    fn mutated_encodings_never_panic(
        s in state(),
        n in nst(),
        list in ext_list(),
        pos in any::<prop::sample::Index>(),
        val in any::<u8>(),
    ) {
        let mut wire = encoded(|o| s.encode(o));
        let i = pos.index(wire.len());
        wire[i] = val;
        if let Ok(x) = StatePlaintext::decode(&wire) {
            prop_assert_eq!(encoded(|o| x.encode(o)), wire);
        }
        let mut wire = encoded(|o| n.encode(o));
        let i = pos.index(wire.len());
        wire[i] = val;
        if let Ok(x) = NewSessionTicket::decode(&wire) {
            prop_assert_eq!(encoded(|o| x.encode(o)), wire);
        }
        let mut wire = encoded(|o| extensions(&list).encode(o));
        let i = pos.index(wire.len());
        wire[i] = val;
        if let Ok(x) = Extensions::decode(&wire) {
            prop_assert_eq!(encoded(|o| x.encode(o)), wire.clone());
        }
        let _ = ClientHelloTicketExt::find_in(&wire);
    }
}
