//! Network storms against a real TLS server on loopback (`loadgen storm --target`).
//!
//! 1. Real tickets: full TLS 1.2 handshakes with rustls (ring provider, resumption on). The
//!    server certificate's chain is not validated (a loopback test server's self-signed
//!    certificate), but its handshake signature is verified like any client would. The
//!    NewSessionTicket of TLS 1.2 travels before ChangeCipherSpec, in the clear, so the ticket
//!    bytes are read off the recorded server flight ([`tessera::wire::NewSessionTicket`]).
//! 2. Crafted ClientHellos (TLS 1.2, a random 32-byte session ID as RFC 5077 section 3.4 asks,
//!    extended master secret offered as rustls did) carry one ticket each: `valid` (as issued),
//!    `bad_mac` (last byte flipped: real key name, MAC fails), `unknown_key` (random key name),
//!    `truncated` (first half), `garbage` (random bytes of the same length).
//! 3. The server's first flight decides: a ServerHello echoing the session ID followed by
//!    ChangeCipherSpec is a resumption; a Certificate / ServerKeyExchange / ServerHelloDone is
//!    a full handshake; an alert, a close, a timeout or anything unparsable is `failed`. Latency
//!    runs from sending the ClientHello to that decision. The connection is then closed.
//!
//! Loops are bounded by `--requests` per class and by `--seconds`; every connection has a
//! timeout, so a server that stalls or closes mid-handshake ends as a counted `failed`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand_core::RngCore;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::{Map, Value, json};
use tessera::wire::NewSessionTicket;

use crate::LoadgenError;
use crate::edge::new_histogram;

/// Ticket classes sent over the network, in report order.
pub const NET_CLASSES: [&str; 5] = ["valid", "bad_mac", "unknown_key", "truncated", "garbage"];

/// Per-connection timeout (connect, read, write).
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks that `target` is a loopback address (network storms never leave the machine).
pub fn check_target(target: &str) -> Result<SocketAddr, LoadgenError> {
    let addr: SocketAddr = target
        .parse()
        .map_err(|_| LoadgenError::usage(format!("--target {target}: expected IP:PORT")))?;
    if !addr.ip().is_loopback() {
        return Err(LoadgenError::usage(format!(
            "--target {target}: network storms are loopback only (127.0.0.0/8 or ::1)"
        )));
    }
    Ok(addr)
}

/// Accepts any certificate chain (loopback test servers are self-signed) but verifies the
/// handshake signature with the presented certificate's key, as a client must.
#[derive(Debug)]
struct LoopbackVerifier(Arc<CryptoProvider>);

impl ServerCertVerifier for LoopbackVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A stream that keeps a copy of everything read (the server's records).
struct Recorder {
    inner: TcpStream,
    seen: Vec<u8>,
}

impl Read for Recorder {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What a real full handshake gave us.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The ticket bytes.
    pub ticket: Vec<u8>,
    /// The negotiated cipher suite.
    pub cipher_suite: u16,
    /// Full handshake time, ns.
    pub handshake_ns: u64,
}

/// TLS records `(type, body)` from a byte stream; stops at the first incomplete record.
fn records(mut bytes: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let (Some(&typ), Some(len)) = (bytes.first(), bytes.get(3..5)) {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let Some(body) = bytes.get(5..5 + len) else {
            break;
        };
        out.push((typ, body));
        bytes = bytes.get(5 + len..).unwrap_or_default();
    }
    out
}

/// Handshake messages `(type, body)` from the plaintext handshake records before the first
/// ChangeCipherSpec (after it, records are encrypted).
fn plaintext_handshakes(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut stream = Vec::new();
    for (typ, body) in records(bytes) {
        match typ {
            22 => stream.extend_from_slice(body),
            20 => break,
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut rest = stream.as_slice();
    while let (Some(&typ), Some(len)) = (rest.first(), rest.get(1..4)) {
        let len = (usize::from(len[0]) << 16) | (usize::from(len[1]) << 8) | usize::from(len[2]);
        let Some(body) = rest.get(4..4 + len) else {
            break;
        };
        out.push((typ, body.to_vec()));
        rest = rest.get(4 + len..).unwrap_or_default();
    }
    out
}

/// The cipher suite of a ServerHello body.
fn server_hello_suite(body: &[u8]) -> Option<u16> {
    let sid_len = usize::from(*body.get(34)?);
    let s = body.get(35 + sid_len..37 + sid_len)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// The session ID of a ServerHello body.
fn server_hello_session_id(body: &[u8]) -> Option<&[u8]> {
    let sid_len = usize::from(*body.get(34)?);
    body.get(35..35 + sid_len)
}

fn client_config() -> Result<Arc<rustls::ClientConfig>, LoadgenError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| LoadgenError::Runtime(format!("rustls: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(LoopbackVerifier(provider)))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// One full handshake with rustls; returns the ticket the server issued. Each call uses a
/// fresh client configuration (and so an empty session store): a stored ticket would make
/// rustls resume instead, and a resumption need not issue a ticket.
pub fn obtain_ticket(addr: SocketAddr, sni: &str) -> Result<Issued, LoadgenError> {
    let cfg = client_config()?;
    let name = ServerName::try_from(sni.to_owned())
        .map_err(|_| LoadgenError::usage(format!("--sni {sni}: not a valid server name")))?;
    let mut conn = rustls::ClientConnection::new(cfg, name)
        .map_err(|e| LoadgenError::Runtime(format!("rustls: {e}")))?;
    let t0 = Instant::now();
    let sock = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .map_err(|e| LoadgenError::Runtime(format!("connecting to {addr}: {e}")))?;
    sock.set_read_timeout(Some(IO_TIMEOUT)).ok();
    sock.set_write_timeout(Some(IO_TIMEOUT)).ok();
    sock.set_nodelay(true).ok();
    let mut rec = Recorder {
        inner: sock,
        seen: Vec::new(),
    };
    while conn.is_handshaking() {
        conn.complete_io(&mut rec)
            .map_err(|e| LoadgenError::Runtime(format!("full handshake with {addr}: {e}")))?;
    }
    let handshake_ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
    conn.send_close_notify();
    let _ = conn.complete_io(&mut rec);
    let msgs = plaintext_handshakes(&rec.seen);
    let cipher_suite = msgs
        .iter()
        .find(|(t, _)| *t == 2)
        .and_then(|(_, b)| server_hello_suite(b))
        .ok_or_else(|| LoadgenError::Runtime(format!("{addr}: no ServerHello seen")))?;
    let ticket = msgs
        .iter()
        .find(|(t, _)| *t == 4)
        .and_then(|(_, body)| {
            let mut whole = vec![4u8, 0, 0, 0];
            let len = body.len();
            whole[1..4].copy_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8]);
            whole.extend_from_slice(body);
            NewSessionTicket::decode(&whole).ok()
        })
        .map(|nst| nst.ticket)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            LoadgenError::Runtime(format!(
                "{addr} issued no session ticket (is ssl_session_tickets on?)"
            ))
        })?;
    Ok(Issued {
        ticket,
        cipher_suite,
        handshake_ns,
    })
}

fn put_u16(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&(v as u16).to_be_bytes());
}

fn ext(out: &mut Vec<u8>, typ: u16, body: &[u8]) {
    out.extend_from_slice(&typ.to_be_bytes());
    put_u16(out, body.len());
    out.extend_from_slice(body);
}

/// A TLS 1.2 ClientHello record carrying `ticket` and `session_id`.
pub fn client_hello(
    sni: &str,
    suite: u16,
    session_id: &[u8; 32],
    ticket: &[u8],
    random: &[u8; 32],
) -> Vec<u8> {
    let mut exts = Vec::new();
    let name = sni.as_bytes();
    let mut sn = Vec::new();
    put_u16(&mut sn, name.len() + 3);
    sn.push(0);
    put_u16(&mut sn, name.len());
    sn.extend_from_slice(name);
    ext(&mut exts, 0, &sn);
    ext(&mut exts, 10, &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]);
    ext(&mut exts, 11, &[1, 0]);
    ext(
        &mut exts,
        13,
        &[
            0, 12, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01,
        ],
    );
    ext(&mut exts, 35, ticket);
    ext(&mut exts, 23, &[]);
    ext(&mut exts, 0xff01, &[0]);
    let mut suites: Vec<u16> = vec![suite, 0xc02f, 0xc02b, 0xc030, 0xc02c, 0xcca8, 0xcca9];
    suites.dedup();
    let mut body = vec![3, 3];
    body.extend_from_slice(random);
    body.push(32);
    body.extend_from_slice(session_id);
    put_u16(&mut body, suites.len() * 2);
    for s in &suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    put_u16(&mut body, exts.len());
    body.extend_from_slice(&exts);
    let mut hs = vec![
        1u8,
        (body.len() >> 16) as u8,
        (body.len() >> 8) as u8,
        body.len() as u8,
    ];
    hs.extend_from_slice(&body);
    let mut rec = vec![22u8, 3, 1];
    put_u16(&mut rec, hs.len());
    rec.extend_from_slice(&hs);
    rec
}

/// How the server answered one crafted ClientHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// ServerHello echoed the session ID, then ChangeCipherSpec: abbreviated handshake.
    Resumed,
    /// A full handshake started (new session ID, Certificate / ServerKeyExchange / HelloDone).
    Full,
    /// Alert, close, timeout or unparsable answer.
    Failed,
}

/// Sends one crafted ClientHello and classifies the first flight.
pub fn probe(addr: SocketAddr, hello: &[u8], session_id: &[u8; 32], deadline: Instant) -> Answer {
    let Ok(mut sock) = TcpStream::connect_timeout(&addr, IO_TIMEOUT) else {
        return Answer::Failed;
    };
    sock.set_nodelay(true).ok();
    sock.set_write_timeout(Some(IO_TIMEOUT)).ok();
    if sock.write_all(hello).is_err() {
        return Answer::Failed;
    }
    let mut seen = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut echoed = None;
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .min(IO_TIMEOUT);
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            return Answer::Failed;
        }
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => return Answer::Failed,
            Ok(n) => seen.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
        // ServerHello first (it may arrive in the same read as what follows it).
        for (typ, body) in plaintext_handshakes(&seen) {
            match typ {
                2 => echoed = Some(server_hello_session_id(&body) == Some(&session_id[..])),
                11 | 12 | 14 if echoed.is_some() => return Answer::Full,
                _ => {}
            }
        }
        for (typ, _) in records(&seen) {
            match typ {
                21 => return Answer::Failed,
                20 if echoed == Some(true) => return Answer::Resumed,
                20 => return Answer::Failed,
                _ => {}
            }
        }
    }
}

/// Counters of one network class.
struct NetClass {
    sent: u64,
    resumed: u64,
    full: u64,
    failed: u64,
    latency: Histogram<u64>,
}

fn mutate(class: &str, ticket: &[u8], rng: &mut rand_chacha::ChaCha20Rng) -> Vec<u8> {
    let mut t = ticket.to_vec();
    match class {
        "bad_mac" => {
            if let Some(last) = t.last_mut() {
                *last ^= 0x01;
            }
        }
        "unknown_key" => {
            let n = t.len().min(16);
            rng.fill_bytes(&mut t[..n]);
        }
        "truncated" => t.truncate((t.len() / 2).max(1)),
        "garbage" => rng.fill_bytes(&mut t),
        _ => {}
    }
    t
}

/// Runs a network storm: `tickets` full handshakes, then up to `requests` crafted
/// ClientHellos per class (round-robin), within `seconds`.
pub fn run(
    target: &str,
    sni: &str,
    tickets: usize,
    requests: u64,
    seconds: f64,
) -> Result<(Value, String), LoadgenError> {
    let addr = check_target(target)?;
    let mut issued = Vec::new();
    let mut full_hs = new_histogram();
    for _ in 0..tickets.max(1) {
        let i = obtain_ticket(addr, sni)?;
        full_hs.saturating_record(i.handshake_ns.max(1));
        issued.push(i);
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| LoadgenError::Runtime(e.to_string()))?;
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed(seed);
    let mut classes: Vec<NetClass> = NET_CLASSES
        .iter()
        .map(|_| NetClass {
            sent: 0,
            resumed: 0,
            full: 0,
            failed: 0,
            latency: new_histogram(),
        })
        .collect();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut n = 0u64;
    'outer: for round in 0..requests {
        for (ci, class) in NET_CLASSES.iter().enumerate() {
            if Instant::now() >= end {
                break 'outer;
            }
            let src = &issued[(round as usize) % issued.len()];
            let ticket = mutate(class, &src.ticket, &mut rng);
            let mut sid = [0u8; 32];
            let mut random = [0u8; 32];
            rng.fill_bytes(&mut sid);
            rng.fill_bytes(&mut random);
            let hello = client_hello(sni, src.cipher_suite, &sid, &ticket, &random);
            let t0 = Instant::now();
            let answer = probe(addr, &hello, &sid, end.max(t0 + IO_TIMEOUT));
            let ns = u64::try_from(t0.elapsed().as_nanos())
                .unwrap_or(u64::MAX)
                .max(1);
            let c = &mut classes[ci];
            c.sent += 1;
            match answer {
                Answer::Resumed => c.resumed += 1,
                Answer::Full => c.full += 1,
                Answer::Failed => c.failed += 1,
            }
            c.latency.saturating_record(ns);
            n += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let lat = |h: &Histogram<u64>| {
        json!({"p50": h.value_at_quantile(0.5), "p90": h.value_at_quantile(0.9),
               "p99": h.value_at_quantile(0.99), "p999": h.value_at_quantile(0.999), "max": h.max()})
    };
    let mut cm = Map::new();
    let mut text = format!(
        "network storm against {addr} (sni {sni}): {} full handshakes for tickets (p50 {:.0} us), then {n} crafted ClientHellos in {elapsed:.1} s\n",
        issued.len(),
        full_hs.value_at_quantile(0.5) as f64 / 1000.0
    );
    text += &format!(
        "{:<12} {:>7} {:>8} {:>6} {:>7} {:>9} {:>9} {:>9}\n",
        "class", "sent", "resumed", "full", "failed", "p50_us", "p99_us", "max_us"
    );
    let mut forged_resumed = 0;
    for (name, c) in NET_CLASSES.iter().zip(&classes) {
        if *name != "valid" {
            forged_resumed += c.resumed;
        }
        cm.insert(
            (*name).to_owned(),
            json!({"sent": c.sent, "resumed": c.resumed, "full": c.full, "failed": c.failed,
                   "latency_ns": lat(&c.latency)}),
        );
        text += &format!(
            "{:<12} {:>7} {:>8} {:>6} {:>7} {:>9.1} {:>9.1} {:>9.1}\n",
            name,
            c.sent,
            c.resumed,
            c.full,
            c.failed,
            c.latency.value_at_quantile(0.5) as f64 / 1000.0,
            c.latency.value_at_quantile(0.99) as f64 / 1000.0,
            c.latency.max() as f64 / 1000.0
        );
    }
    text += &format!("FALSE ACCEPTS (forged tickets resumed): {forged_resumed}\n");
    // What the same rejections cost tessera in process (each class alone, one thread).
    let corpus = Arc::new(crate::corpus::Corpus::prepare(
        tessera::TicketFormat::OpenSsl,
        128,
        tessera::unix_now(),
    )?);
    let cal = crate::report::calibrate(&corpus, 32, 0.05, crate::resolve_backend("auto")?)?;
    let mut tessera_ns = Map::new();
    for name in NET_CLASSES {
        if let Ok(c) = name.parse::<crate::mix::Class>() {
            tessera_ns.insert(name.to_owned(), json!(cal.cpu_ns[c.index()]));
        }
    }
    let p50 = |i: usize| classes[i].latency.value_at_quantile(0.5) as f64 / 1000.0;
    text += &format!(
        "server, time to first flight (p50): resumed {:.0} us, forged bad_mac -> full handshake {:.0} us; \
         tessera rejects the same forgeries in process in {:.0} ns (bad_mac), {:.0} ns (unknown_key), {:.0} ns (garbage) of CPU\n",
        p50(0),
        p50(1),
        cal.cpu_ns[crate::mix::Class::BadMac.index()],
        cal.cpu_ns[crate::mix::Class::UnknownKey.index()],
        cal.cpu_ns[crate::mix::Class::Garbage.index()],
    );
    let v = json!({
        "schema": "tessera-loadgen-net/1",
        "target": addr.to_string(),
        "sni": sni,
        "tickets_obtained": issued.len(),
        "full_handshake_ns": lat(&full_hs),
        "cipher_suite": issued.first().map(|i| format!("0x{:04x}", i.cipher_suite)),
        "elapsed_s": elapsed,
        "false_accepts": forged_resumed,
        "classes": Value::Object(cm),
        "tessera_reject_cpu_ns": Value::Object(tessera_ns),
    });
    Ok((v, text))
}
