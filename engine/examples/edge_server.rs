//! A small TLS 1.2/1.3 edge server on rustls whose session tickets are sealed and opened by
//! tessera. It answers one HTTP/1.1 request per connection and prints one line per handshake.
//!
//! ```text
//! cargo run --release -p tessera --features rustls --example edge_server -- \
//!     --listen 127.0.0.1:8443 --key-file keys.txt [--key-format F] \
//!     --ticket-format {rfc5077,openssl,aead} [--cert C --key K] [--max-connections N] \
//!     [--lifetime SECS] [--reload-every SECS]
//! ```
//! Without `--cert`/`--key` a self-signed certificate for `localhost` is generated. The key
//! file (nginx, HAProxy or tessera format; detected unless `--key-format`) is re-read when it
//! changes; a file that turns invalid is reported and the previous keys keep serving.
//!
//! Try it: `openssl s_client -connect 127.0.0.1:8443 -tls1_2 -sess_out s.pem -ign_eof`, then
//! the same with `-sess_in s.pem`: the second prints `Reused`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tessera::TicketFormat;
use tessera::keys::{KeyFileFormat, check_permissions};
use tessera::rotation::{DEFAULT_LIFETIME_SECS, Rotator, SystemClock};
use tessera::rustls::TesseraTicketer;
use tessera::rustls::edge::{EdgeServer, load_pem, server_config};

const USAGE: &str = "usage: edge_server --listen ADDR --key-file FILE [--key-file FILE...] \
[--key-format tessera|nginx48|nginx80|haproxy48|haproxy80] --ticket-format rfc5077|openssl|aead \
[--cert CERT.pem --key KEY.pem] [--max-connections N] [--lifetime SECS] [--reload-every SECS]";

struct Opts {
    listen: String,
    key_files: Vec<PathBuf>,
    key_format: Option<KeyFileFormat>,
    ticket_format: TicketFormat,
    cert: Option<(PathBuf, PathBuf)>,
    max_connections: Option<u64>,
    lifetime: u32,
    reload_every: Duration,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Opts, String> {
    let mut listen = None;
    let mut key_files = Vec::new();
    let mut key_format = None;
    let mut ticket_format = None;
    let (mut cert, mut key) = (None, None);
    let mut max_connections = None;
    let mut lifetime = DEFAULT_LIFETIME_SECS;
    let mut reload_every = Duration::from_secs(5);
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        const FLAGS: [&str; 9] = [
            "--listen",
            "--key-file",
            "--key-format",
            "--ticket-format",
            "--cert",
            "--key",
            "--max-connections",
            "--lifetime",
            "--reload-every",
        ];
        if !FLAGS.contains(&flag.as_str()) {
            return Err(format!("unknown option {flag:?}"));
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |what: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("{what}: not a number: {value:?}"))
        };
        match flag.as_str() {
            "--listen" => listen = Some(value),
            "--key-file" => key_files.push(PathBuf::from(value)),
            "--key-format" => key_format = Some(value.parse().map_err(|e| format!("{e}"))?),
            "--ticket-format" => {
                ticket_format = Some(value.parse().map_err(|e| format!("{e}"))?);
            }
            "--cert" => cert = Some(PathBuf::from(value)),
            "--key" => key = Some(PathBuf::from(value)),
            "--max-connections" => max_connections = Some(number("--max-connections")?),
            "--lifetime" => {
                lifetime = u32::try_from(number("--lifetime")?)
                    .ok()
                    .filter(|l| *l > 0)
                    .ok_or("--lifetime must be 1..=4294967295")?;
            }
            "--reload-every" => {
                reload_every = Duration::from_secs(number("--reload-every")?.max(1));
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let cert = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err("--cert and --key go together".into()),
    };
    if key_files.is_empty() {
        return Err("--key-file is required".into());
    }
    Ok(Opts {
        listen: listen.ok_or("--listen is required")?,
        key_files,
        key_format,
        ticket_format: ticket_format.ok_or("--ticket-format is required")?,
        cert,
        max_connections,
        lifetime,
        reload_every,
    })
}

fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    let key = PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}

fn run(opts: Opts) -> Result<(), String> {
    for warning in opts.key_files.iter().filter_map(check_permissions) {
        eprintln!("edge_server: warning: {warning}");
    }
    let rotator = Arc::new(
        Rotator::from_key_files(
            &opts.key_files,
            opts.key_format,
            opts.lifetime,
            Arc::new(SystemClock),
        )
        .map_err(|e| e.to_string())?,
    );
    let ticketer = Arc::new(TesseraTicketer::from_rotator(&rotator, opts.ticket_format));
    let (chain, key) = match &opts.cert {
        Some((c, k)) => load_pem(c, k)?,
        None => self_signed()?,
    };
    let config = server_config(chain, key, Arc::clone(&ticketer)).map_err(|e| e.to_string())?;
    let server = EdgeServer::bind(opts.listen.as_str(), Arc::new(config))
        .map_err(|e| format!("binding {}: {e}", opts.listen))?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    let ring = rotator.keys().load();
    println!(
        "edge_server listening on {addr}: ticket format {}, {} key(s), sealing with {}, \
         lifetime {} s",
        opts.ticket_format,
        ring.len(),
        ring.sealing_key().name(),
        opts.lifetime
    );
    drop(ring);
    let _reloader = rotator
        .spawn_with(opts.reload_every, |report| match report {
            Ok(r) => println!("key files reloaded: {r}"),
            Err(e) => eprintln!("key file reload failed, previous keys keep serving: {e}"),
        })
        .map_err(|e| format!("starting the reload thread: {e}"))?;
    let metrics = Arc::clone(ticketer.metrics());
    let served = server
        .serve(opts.max_connections, move |event| {
            println!("{event} | {}", metrics.snapshot());
        })
        .map_err(|e| format!("accept failed: {e}"))?;
    println!(
        "served {served} connection(s); {}",
        ticketer.metrics().snapshot()
    );
    Ok(())
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("edge_server: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edge_server: {e}");
            ExitCode::FAILURE
        }
    }
}
