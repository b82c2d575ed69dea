//! Network storm against a real nginx on loopback. Needs `nginx` and `openssl` (PATH, /usr/sbin,
//! or `TESSERA_NGINX` / `TESSERA_OPENSSL`); like the engine's interop tests it prints SKIPPED
//! without them, except under CI (`CI` set), where it fails. nginx is started with its own
//! config in a temp dir as a single process (`master_process off`, so no worker outlives it)
//! and stopped by its pid.

mod common;
use common::in_ci;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `name` from its override variable, PATH or the fallbacks; None (after saying SKIPPED) when
/// absent outside CI; a panic when absent under CI (CI installs it).
fn tool(name: &str, env_override: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let found = match std::env::var_os(env_override) {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        None => std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
            .or_else(|| fallbacks.iter().map(PathBuf::from).find(|p| p.is_file())),
    };
    if found.is_none() {
        assert!(
            !in_ci(),
            "`{name}` not found but CI is set; .ci/run must install it"
        );
        eprintln!("SKIPPED net_nginx: `{name}` not found (apt-get install nginx openssl)");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_nginx(nginx: &Path, openssl: &Path, dir: &Path, port: u16) -> Nginx {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let ok = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(ok.success());
    let mut key = [0u8; 80];
    getrandom::getrandom(&mut key).unwrap();
    std::fs::write(dir.join("ticket.key"), key).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "master_process off; worker_processes 1; daemon off; pid {d}/nginx.pid; error_log {d}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{ access_log off; server {{
  listen 127.0.0.1:{port} ssl; server_name localhost;
  ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;
  ssl_protocols TLSv1.2; ssl_session_tickets on; ssl_session_ticket_key {d}/ticket.key;
  ssl_session_cache off; location / {{ return 200 \"ok\"; }} }} }}
"
        ),
    )
    .unwrap();
    let child = Command::new(nginx)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-p")
        .arg(dir)
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let nginx = Nginx(child);
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "nginx did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nginx
}

#[test]
fn storm_against_nginx_resumes_valid_and_rejects_forged() {
    let Some(nginx_bin) = tool("nginx", "TESSERA_NGINX", &["/usr/sbin/nginx"]) else {
        return;
    };
    let Some(openssl) = tool("openssl", "TESSERA_OPENSSL", &["/usr/bin/openssl"]) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("loadgen-nginx-{}", std::process::id()));
    let port = free_port();
    let nginx = start_nginx(&nginx_bin, &openssl, &dir, port);
    let json = dir.join("net.json");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "storm",
            "--target",
            &format!("127.0.0.1:{port}"),
            "--requests",
            "20",
            "--seconds",
            "20",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    drop(nginx);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::assert_network_report(&json, 20);
    let _ = std::fs::remove_dir_all(&dir);
}
