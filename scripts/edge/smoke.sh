#!/usr/bin/env bash
# Smoke test of the edge example by hand: builds it, starts it on a free loopback port with a
# fresh nginx-style key file, and runs openssl s_client full + resumed handshakes for TLS 1.2
# and TLS 1.3. Prints the server's per-handshake lines. Exit 0 when all four behave.
#   scripts/edge/smoke.sh [--release] [--ticket-format rfc5077|openssl|aead]
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=()
format=openssl
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=(--release); shift ;;
    --ticket-format) format="$2"; shift 2 ;;
    *) echo "usage: $0 [--release] [--ticket-format F]" >&2; exit 2 ;;
  esac
done

command -v openssl >/dev/null || { echo "needs openssl (apt-get install openssl)" >&2; exit 2; }
cargo build -q "${profile[@]}" -p tessera --features rustls --example edge_server
target="${CARGO_TARGET_DIR:-target}"
bin="$target/$([ ${#profile[@]} -gt 0 ] && echo release || echo debug)/examples/edge_server"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

(umask 077 && openssl rand 48 > "$work/ticket.key")
"$bin" --listen 127.0.0.1:0 --key-file "$work/ticket.key" --ticket-format "$format" \
  --max-connections 4 > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  grep -q "listening on" "$work/server.log" 2>/dev/null && break
  sleep 0.1
done
addr="$(sed -n 's/^edge_server listening on \([0-9.:]*\):.*/\1/p' "$work/server.log")"
[ -n "$addr" ] || { cat "$work/server.log"; exit 1; }

connect() { # version, extra args...
  local v="$1"; shift
  printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' |
    timeout 20 openssl s_client -connect "$addr" "$v" -ign_eof "$@" 2>/dev/null |
    grep -Eo '^(New|Reused), TLSv1\.[23]' || true
}

fail=0
for v in -tls1_2 -tls1_3; do
  first="$(connect "$v" -sess_out "$work/s$v.pem")"
  second="$(connect "$v" -sess_in "$work/s$v.pem")"
  echo "$v: first=$first second=$second"
  [[ "$first" == New* && "$second" == Reused* ]] || fail=1
done
wait "$server_pid" || fail=1
server_pid=""
cat "$work/server.log"
[ "$fail" = 0 ] && echo "edge smoke: OK" || { echo "edge smoke: FAILED"; exit 1; }
