//! A small blocking TLS 1.2/1.3 server on rustls whose tickets are tessera's: the engine of
//! `examples/edge_server.rs` and of the real-client tests (`tests/edge_openssl.rs`). One thread
//! per connection, blocking IO with timeouts; it answers one HTTP/1.1 request with a short page
//! and reports one [`HandshakeEvent`] per connection. A demonstration and test harness, not a
//! production web server.
//!
//! Resumption is ticket-only ([`server_config`] turns rustls's stateful session cache off), so a
//! resumed handshake proves that tessera opened the ticket.

use core::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ::rustls::pki_types::pem::PemObject;
use ::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use ::rustls::server::NoServerSessionStorage;
use ::rustls::{HandshakeKind, ServerConfig, ServerConnection};

use super::{TesseraTicketer, tickets_sealed_on_this_thread};

/// Connections served at once; more wait in the listen backlog.
pub const MAX_IN_FLIGHT: usize = 64;
/// Default socket read/write timeout: a silent client cannot hold a thread longer.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest HTTP request head read.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// A rustls server configuration (ring provider, TLS 1.3 and 1.2, no client auth) whose tickets
/// come from `ticketer`, with the stateful session cache off.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ticketer: Arc<TesseraTicketer>,
) -> Result<ServerConfig, ::rustls::Error> {
    let provider = Arc::new(::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&::rustls::version::TLS13, &::rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    config.ticketer = ticketer;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    Ok(config)
}

/// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_pem(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = CertificateDer::pem_file_iter(cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", cert_path.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    Ok((chain, key))
}

/// What happened on one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeEvent {
    /// The client's address.
    pub peer: SocketAddr,
    /// `TLSv1.2` / `TLSv1.3`, once negotiated.
    pub version: Option<&'static str>,
    /// Whether the handshake resumed a session (always from a ticket here).
    pub resumed: bool,
    /// Tickets sealed for this connection (0 = none issued).
    pub tickets_issued: u64,
    /// The HTTP request line, if one arrived.
    pub request: Option<String>,
    /// Why the connection failed, if it did (handshake or IO error).
    pub error: Option<String>,
}

impl HandshakeEvent {
    fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            version: None,
            resumed: false,
            tickets_issued: 0,
            request: None,
            error: None,
        }
    }
}

impl fmt::Display for HandshakeEvent {
    /// One log line: `127.0.0.1:40000 TLSv1.3 resumed tickets=2 "GET / HTTP/1.1"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.peer, self.version.unwrap_or("-"))?;
        if self.version.is_some() {
            let kind = if self.resumed { "resumed" } else { "full" };
            write!(f, " {kind} tickets={}", self.tickets_issued)?;
        }
        if let Some(r) = &self.request {
            write!(f, " {:?}", r)?;
        }
        if let Some(e) = &self.error {
            write!(f, " error: {e}")?;
        }
        Ok(())
    }
}

/// Stops a running [`EdgeServer::serve`] from another thread.
#[derive(Clone, Debug)]
pub struct EdgeShutdown {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl EdgeShutdown {
    /// Asks the accept loop to stop (in-flight connections finish) and wakes it up.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; failure means the listener is gone already.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// A bound TLS listener (see the module docs).
#[derive(Debug)]
pub struct EdgeServer {
    listener: TcpListener,
    config: Arc<ServerConfig>,
    stop: Arc<AtomicBool>,
    io_timeout: Duration,
}

impl EdgeServer {
    /// Binds `addr` (port 0 picks a free port; see [`EdgeServer::local_addr`]).
    pub fn bind(addr: impl ToSocketAddrs, config: Arc<ServerConfig>) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
            config,
            stop: Arc::new(AtomicBool::new(false)),
            io_timeout: DEFAULT_IO_TIMEOUT,
        })
    }

    /// Sets the per-socket read/write timeout.
    pub fn with_io_timeout(mut self, timeout: Duration) -> Self {
        self.io_timeout = timeout;
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that stops [`EdgeServer::serve`].
    pub fn shutdown_handle(&self) -> io::Result<EdgeShutdown> {
        Ok(EdgeShutdown {
            stop: Arc::clone(&self.stop),
            addr: self.local_addr()?,
        })
    }

    /// Accepts connections until `max_connections` were accepted (if given) or a shutdown is
    /// asked, then waits for the in-flight ones. Each connection runs on its own thread and
    /// ends with one call of `on_event`. A bad connection is reported, never fatal; only a
    /// failing listener ends the loop with an error. Returns the number of connections served.
    pub fn serve<F>(&self, max_connections: Option<u64>, on_event: F) -> io::Result<u64>
    where
        F: Fn(HandshakeEvent) + Send + Sync + 'static,
    {
        let on_event = Arc::new(on_event);
        let served = AtomicU64::new(0);
        let mut workers: Vec<JoinHandle<()>> = Vec::new();
        let result = loop {
            if self.stop.load(Ordering::SeqCst)
                || max_connections.is_some_and(|m| served.load(Ordering::Relaxed) >= m)
            {
                break Ok(());
            }
            let (stream, peer) = match self.listener.accept() {
                Ok(c) => c,
                // Transient accept errors (aborted connections, fd pressure): try again.
                Err(e) if is_transient(&e) => continue,
                Err(e) => break Err(e),
            };
            if self.stop.load(Ordering::SeqCst) {
                break Ok(());
            }
            served.fetch_add(1, Ordering::Relaxed);
            workers.retain(|w| !w.is_finished());
            if workers.len() >= MAX_IN_FLIGHT {
                let oldest = workers.remove(0);
                let _ = oldest.join();
            }
            let config = Arc::clone(&self.config);
            let on_event_in_thread = Arc::clone(&on_event);
            let timeout = self.io_timeout;
            let spawned = std::thread::Builder::new()
                .name("tessera-edge-conn".into())
                .spawn(move || {
                    on_event_in_thread(handle_connection(stream, peer, config, timeout))
                });
            match spawned {
                Ok(w) => workers.push(w),
                Err(e) => {
                    let mut event = HandshakeEvent::new(peer);
                    event.error = Some(format!("no thread for connection: {e}"));
                    on_event(event);
                }
            }
        };
        for w in workers {
            // A panicking callback only ends its own connection thread.
            let _ = w.join();
        }
        result.map(|()| served.load(Ordering::Relaxed))
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || e.raw_os_error().is_some_and(|c| c == 23 || c == 24) // ENFILE, EMFILE
}

fn version_name(conn: &ServerConnection) -> Option<&'static str> {
    conn.protocol_version().map(|v| match v {
        ::rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        ::rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "TLS(other)",
    })
}

/// Runs one connection to its end; every failure becomes `event.error`.
fn handle_connection(
    mut sock: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    timeout: Duration,
) -> HandshakeEvent {
    let mut event = HandshakeEvent::new(peer);
    let sealed_before = tickets_sealed_on_this_thread();
    let result = serve_one(&mut sock, config, timeout, &mut event);
    event.tickets_issued = tickets_sealed_on_this_thread().wrapping_sub(sealed_before);
    if let Err(e) = result {
        event.error = Some(e);
    }
    // Best effort: the peer may be gone already.
    let _ = sock.shutdown(std::net::Shutdown::Both);
    event
}

fn serve_one(
    sock: &mut TcpStream,
    config: Arc<ServerConfig>,
    timeout: Duration,
    event: &mut HandshakeEvent,
) -> Result<(), String> {
    sock.set_read_timeout(Some(timeout))
        .and_then(|()| sock.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("socket setup: {e}"))?;
    // Latency over batching for a request/response exchange; failure only costs speed.
    let _ = sock.set_nodelay(true);
    let mut conn = ServerConnection::new(config).map_err(|e| format!("tls setup: {e}"))?;
    while conn.is_handshaking() {
        let step = conn.complete_io(sock);
        event.version = version_name(&conn);
        step.map_err(|e| format!("handshake: {e}"))?;
    }
    // TLS 1.3 NewSessionTickets are queued when the client's Finished is processed.
    while conn.wants_write() {
        conn.write_tls(sock)
            .map_err(|e| format!("sending tickets: {e}"))?;
    }
    event.version = version_name(&conn);
    event.resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);

    let mut tls = ::rustls::Stream::new(&mut conn, sock);
    let head = read_request_head(&mut tls).map_err(|e| format!("reading request: {e}"))?;
    let Some(head) = head else {
        return Err("client closed without a request".into());
    };
    event.request = head
        .lines()
        .next()
        .map(|l| l.trim_end().chars().take(200).collect());
    let body = format!(
        "tessera edge: {} {} handshake; session tickets sealed by tessera\n",
        event.version.unwrap_or("TLS"),
        if event.resumed { "resumed" } else { "full" },
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(response.as_bytes())
        .and_then(|()| tls.flush())
        .map_err(|e| format!("writing response: {e}"))?;
    conn.send_close_notify();
    while conn.wants_write() {
        conn.write_tls(sock).map_err(|e| format!("closing: {e}"))?;
    }
    Ok(())
}

/// Reads up to the blank line ending an HTTP request head. `None` when the client closed
/// before sending anything.
fn read_request_head(tls: &mut impl Read) -> io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = match tls.read(&mut buf) {
            Ok(n) => n,
            // A client that closes without close_notify after sending its request is common.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !head.is_empty() => 0,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        let done =
            head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n");
        if done || head.len() >= MAX_REQUEST_HEAD {
            break;
        }
    }
    if head.is_empty() {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_line() {
        let mut e = HandshakeEvent::new("127.0.0.1:4000".parse().unwrap());
        assert_eq!(e.to_string(), "127.0.0.1:4000 -");
        e.version = Some("TLSv1.3");
        e.resumed = true;
        e.tickets_issued = 2;
        e.request = Some("GET / HTTP/1.1".into());
        assert_eq!(
            e.to_string(),
            "127.0.0.1:4000 TLSv1.3 resumed tickets=2 \"GET / HTTP/1.1\""
        );
        e.error = Some("boom".into());
        assert!(e.to_string().ends_with(" error: boom"));
    }

    #[test]
    fn request_head_reader() {
        let mut r: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest";
        assert_eq!(
            read_request_head(&mut r).unwrap().unwrap(),
            "GET / HTTP/1.1\r\nHost: x\r\n\r\nrest"
        );
        let mut r: &[u8] = b"";
        assert_eq!(read_request_head(&mut r).unwrap(), None);
        let big = vec![b'a'; 3 * MAX_REQUEST_HEAD];
        let mut r: &[u8] = &big;
        assert!(read_request_head(&mut r).unwrap().unwrap().len() <= MAX_REQUEST_HEAD + 1024);
    }
}
