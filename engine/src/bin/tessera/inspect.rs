//! `tessera inspect`: decode public structures without keys, JSON on stdout.
//!
//! Secrets are never printed: a StatePlaintext's master secret is reported by length only.

use serde_json::{Value, json};
use tessera::format::TicketFormat;
use tessera::wire::{
    ClientHelloTicketExt, ClientIdentity, Extension, Extensions, HANDSHAKE_TYPE_NEW_SESSION_TICKET,
    NewSessionTicket, SESSION_TICKET_EXTENSION_TYPE, StatePlaintext, TicketLayout, WireError,
};

use crate::args::{InspectArgs, InspectAs};
use crate::fail::Failure;
use crate::io;

/// Auto-detection order: the strict, self-describing encodings first (a NewSessionTicket with
/// its handshake header, an extension with its type), then the strict structures without a
/// tag, and last the ticket layout, which almost any byte string fits.
const AUTO_ORDER: [InspectAs; 4] = [
    InspectAs::Nst,
    InspectAs::Extension,
    InspectAs::State,
    InspectAs::Ticket,
];

pub(crate) fn run(a: &InspectArgs) -> Result<(), Failure> {
    // Nothing inspect decodes is larger than a certificate list (2^24-1) plus a little framing;
    // hex text is twice that plus whitespace.
    const LIMIT: usize = 1 << 26;
    let raw = io::read_input(&a.input, LIMIT)?;
    if raw.len() > LIMIT {
        return Err(Failure::usage(format!(
            "{}: larger than {LIMIT} bytes; too large for any structure inspect decodes",
            a.input.display()
        )));
    }
    let bytes = if a.hex {
        io::decode_hex(&a.input.display().to_string(), &raw)?
    } else {
        raw
    };
    let value = match a.kind {
        Some(kind) => decode_as(kind, &bytes).map_err(|e| {
            Failure::usage(format!(
                "{}: not a valid {}: {e}",
                a.input.display(),
                name(kind)
            ))
        })?,
        None => auto(&bytes).map_err(|tried| {
            Failure::usage(format!(
                "{}: matches no known structure ({tried})",
                a.input.display()
            ))
        })?,
    };
    let mut text = serde_json::to_string_pretty(&value)
        .map_err(|e| Failure::usage(format!("JSON encoding: {e}")))?;
    text.push('\n');
    io::print(&text)
}

fn name(kind: InspectAs) -> &'static str {
    match kind {
        InspectAs::Nst => "nst",
        InspectAs::Extension => "extension",
        InspectAs::Ticket => "ticket",
        InspectAs::State => "state",
    }
}

/// Tries each kind in [`AUTO_ORDER`]; on total failure, says why each one failed.
fn auto(bytes: &[u8]) -> Result<Value, String> {
    let mut tried = Vec::new();
    for kind in AUTO_ORDER {
        match decode_as(kind, bytes) {
            Ok(v) => return Ok(v),
            Err(e) => tried.push(format!("{}: {e}", name(kind))),
        }
    }
    Err(tried.join("; "))
}

/// Decodes `bytes` as one kind of structure.
pub(crate) fn decode_as(kind: InspectAs, bytes: &[u8]) -> Result<Value, String> {
    match kind {
        InspectAs::Nst => nst(bytes),
        InspectAs::Extension => extension(bytes),
        InspectAs::Ticket => ticket(bytes),
        InspectAs::State => StatePlaintext::decode(bytes)
            .map(|s| state(&s))
            .map_err(wire),
    }
}

fn wire(e: WireError) -> String {
    e.to_string()
}

fn nst(bytes: &[u8]) -> Result<Value, String> {
    // With the handshake header when the first byte says so, else the bare body.
    let with_header = bytes.first() == Some(&HANDSHAKE_TYPE_NEW_SESSION_TICKET)
        && NewSessionTicket::decode(bytes).is_ok();
    let msg = if with_header {
        NewSessionTicket::decode(bytes)
    } else {
        NewSessionTicket::decode_body(bytes)
    }
    .map_err(wire)?;
    Ok(json!({
        "kind": "nst",
        "handshake_header": with_header,
        "ticket_lifetime_hint": msg.ticket_lifetime_hint,
        "ticket_len": msg.ticket.len(),
        "ticket_hex": hex::encode(&msg.ticket),
        "ticket": if msg.ticket.is_empty() {
            json!("empty: the server changed its mind after announcing a ticket (RFC 5077 3.3)")
        } else {
            ticket_layout(&msg.ticket)
        },
    }))
}

fn extension(bytes: &[u8]) -> Result<Value, String> {
    // A single extension first; if that fails, an extensions block carrying SessionTicket.
    let single = Extension::decode(bytes);
    match single {
        Ok(ext) if ext.ext_type == SESSION_TICKET_EXTENSION_TYPE => {
            let mut v = session_ticket_data(ext.data)?;
            v["form"] = json!("extension");
            Ok(v)
        }
        Ok(ext) => Err(format!(
            "extension type {} is not SessionTicket ({SESSION_TICKET_EXTENSION_TYPE})",
            ext.ext_type
        )),
        Err(single_err) => {
            let block = Extensions::decode(bytes).map_err(|e| {
                format!("neither one extension ({single_err}) nor an extensions block ({e})")
            })?;
            let data = block
                .get(SESSION_TICKET_EXTENSION_TYPE)
                .ok_or("extensions block has no SessionTicket extension (type 35)")?;
            let mut v = session_ticket_data(data)?;
            v["form"] = json!("extensions_block");
            v["extension_types"] = block.iter().map(|e| e.ext_type).collect();
            Ok(v)
        }
    }
}

/// Describes a SessionTicket `extension_data`.
fn session_ticket_data(data: &[u8]) -> Result<Value, String> {
    let parsed = ClientHelloTicketExt::from_extension_data(data).map_err(wire)?;
    Ok(match parsed.ticket() {
        None => json!({
            "kind": "extension",
            "extension_type": SESSION_TICKET_EXTENSION_TYPE,
            "ticket_len": 0,
            "meaning": "empty: in a ClientHello, \"I want a ticket\"; in a ServerHello, \
                        \"a NewSessionTicket follows\" (RFC 5077 3.2)",
        }),
        Some(t) => json!({
            "kind": "extension",
            "extension_type": SESSION_TICKET_EXTENSION_TYPE,
            "ticket_len": t.len(),
            "meaning": "ClientHello presenting a ticket (the extension_data is the ticket)",
            "ticket_hex": hex::encode(t),
            "ticket": ticket_layout(t),
        }),
    })
}

fn ticket(bytes: &[u8]) -> Result<Value, String> {
    let v = ticket_layout(bytes);
    if v["fits"].as_array().is_some_and(|a| a.is_empty()) {
        return Err(format!(
            "{} bytes fit no ticket format's layout",
            bytes.len()
        ));
    }
    Ok(v)
}

/// The public layout of a ticket under each format whose size rules it satisfies. Nothing here
/// is authenticated: it is what the bytes claim.
fn ticket_layout(t: &[u8]) -> Value {
    let key_name = t.get(..16).map(hex::encode);
    let mut formats = serde_json::Map::new();
    let mut fits = Vec::new();
    for format in TicketFormat::ALL {
        if let Some(v) = layout_as(format, t) {
            fits.push(format.as_str());
            formats.insert(format.as_str().to_owned(), v);
        }
    }
    json!({
        "kind": "ticket",
        "len": t.len(),
        "key_name": key_name,
        "fits": fits,
        "layouts": formats,
    })
}

/// The fields of `t` read as `format`, or `None` when its size or length field rule it out.
fn layout_as(format: TicketFormat, t: &[u8]) -> Option<Value> {
    const CBC: &str = "AES-CBC (AES-128 or AES-256 by key) + HMAC-SHA-256";
    match format {
        TicketFormat::Rfc5077 | TicketFormat::OpenSsl => {
            let layout = if format == TicketFormat::Rfc5077 {
                TicketLayout::decode_rfc5077(t)
            } else {
                TicketLayout::decode_openssl(t)
            }
            .ok()?;
            let ct = layout.encrypted_state.len();
            if ct == 0 || ct % 16 != 0 {
                return None;
            }
            let mut v = json!({
                "iv": hex::encode(layout.iv),
                "ciphertext_len": ct,
                // PKCS#7 adds 1..=16 bytes.
                "state_len_range": [ct - 16, ct - 1],
                "mac": hex::encode(layout.mac),
                "cipher": CBC,
            });
            if format == TicketFormat::Rfc5077 {
                v["length_field"] = json!(ct);
            }
            Some(v)
        }
        TicketFormat::Aead => {
            if t.len() < format.min_len() {
                return None;
            }
            let nonce = t.get(16..16 + format.iv_len())?;
            let body = t.get(16 + format.iv_len()..t.len().checked_sub(16)?)?;
            let tag = t.get(t.len() - 16..)?;
            Some(json!({
                "nonce": hex::encode(nonce),
                "ciphertext_len": body.len(),
                "state_len": body.len(),
                "tag": hex::encode(tag),
                "cipher": "XAES-256-GCM, key name as associated data",
            }))
        }
    }
}

fn state(s: &StatePlaintext) -> Value {
    let version = s.protocol_version;
    let identity = match &s.client_identity {
        ClientIdentity::Anonymous => json!({ "type": "anonymous" }),
        ClientIdentity::CertificateBased { certificate_list } => json!({
            "type": "certificate_based",
            "certificate_lens": certificate_list.iter().map(Vec::len).collect::<Vec<_>>(),
        }),
        ClientIdentity::Psk { psk_identity } => json!({
            "type": "psk",
            "psk_identity_hex": hex::encode(psk_identity),
            "psk_identity": String::from_utf8(psk_identity.clone()).ok(),
        }),
    };
    json!({
        "kind": "state",
        "protocol_version": format!("{}.{}", version.major, version.minor),
        "protocol": protocol_name(version.major, version.minor),
        "cipher_suite": format!("0x{:04x}", s.cipher_suite),
        "compression_method": s.compression_method,
        "master_secret": "48 bytes, not shown",
        "client_identity": identity,
        "timestamp": s.timestamp,
        "timestamp_utc": crate::keycmd::utc(u64::from(s.timestamp)),
    })
}

fn protocol_name(major: u8, minor: u8) -> Option<&'static str> {
    match (major, minor) {
        (3, 0) => Some("SSL 3.0"),
        (3, 1) => Some("TLS 1.0"),
        (3, 2) => Some("TLS 1.1"),
        (3, 3) => Some("TLS 1.2"),
        (3, 4) => Some("TLS 1.3"),
        _ => None,
    }
}
