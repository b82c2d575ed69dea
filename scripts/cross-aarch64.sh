#!/usr/bin/env bash
# The engine on aarch64 (ARMv8 AES and SHA-2 through the `aes` and `sha2` crates), from an
# x86_64 machine:
#   scripts/cross-aarch64.sh check   clippy of the library and CLI for aarch64 (no emulator)
#   scripts/cross-aarch64.sh test    the engine's tests under qemu-aarch64 -cpu max
# `test` needs (Debian): gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user.
# Tests that spawn the `tessera` binary (cli_*, nginx_interop) are skipped under `test`: the
# child would be an aarch64 executable, which runs only where binfmt_misc hands it to qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cross-aarch64}
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

case "${1:-check}" in
check)
    cargo clippy -p tessera --features cli --target "$target" -- -D warnings
    ;;
test)
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu"
    export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
    # Every test target except those that spawn the CLI binary.
    tests=()
    for f in engine/tests/*.rs; do
        name=$(basename "$f" .rs)
        case "$name" in cli_* | nginx_interop) continue ;; esac
        tests+=(--test "$name")
    done
    cargo test -p tessera --features cli --target "$target" --lib --bins "${tests[@]}"
    ;;
*)
    echo "usage: $0 [check|test]" >&2
    exit 2
    ;;
esac
