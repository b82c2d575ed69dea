#!/usr/bin/env bash
# Runs tessera's cargo-fuzz targets (engine/fuzz) for a fixed time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Defaults: 20 s per target, every target (`cargo fuzz list`). Each target starts from the
# committed seeds in engine/fuzz/corpus/<target>/ plus a scratch corpus (new inputs go to the
# scratch directory, so the committed seeds stay small). Prints executions and exec/s per
# target and exits non-zero if any target crashed (the input lands in
# engine/fuzz/artifacts/<target>/; replay it with `cargo fuzz run <target> <file>`).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). cargo-fuzz passes nightly-only
# flags (-Zsanitizer=address, ...); RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
# That workaround is confined to this script. `--cfg tessera_fuzzing` compiles the
# null-crypto hook (format::fuzzing) that open_null_crypto needs; it exists in no other build.
set -euo pipefail

secs=${1:-20}
[[ $# -gt 0 ]] && shift
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_dir=$root/engine/fuzz
cd "$fuzz_dir"

export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="${RUSTFLAGS:-} --cfg tessera_fuzzing"
target_dir=${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$fuzz_dir/target}/fuzz}

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

for t in "${targets[@]}"; do
    cargo fuzz build --target-dir "$target_dir" "$t"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
summary=$(printf '%-22s %8s %14s %10s %8s %s' target seconds executions exec/s new_cov result)
for t in "${targets[@]}"; do
    mkdir -p "$work/$t" "corpus/$t"
    log=$work/$t.log
    start=$(date +%s)
    status=ok
    if ! cargo fuzz run --target-dir "$target_dir" "$t" "$work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
        status=CRASH
        failed+=("$t")
        tail -n 60 "$log" >&2
    fi
    elapsed=$(($(date +%s) - start))
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
    summary+=$'\n'$(printf '%-22s %8s %14s %10s %8s %s' "$t" "$elapsed" \
        "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
        "$(stat new_units_added)" "$status")
done

echo "$summary"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "crashed: ${failed[*]} (inputs under engine/fuzz/artifacts/)" >&2
    exit 1
fi
