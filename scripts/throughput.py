#!/usr/bin/env python3
"""Batch-engine throughput table from `loadgen throughput --json` runs (standard library only).

Runs every (op, format, backend, threads, batch) case of the chosen matrix ROUNDS times,
interleaved (round 1 of every case, then round 2, ...), so a busy moment on a shared machine
hits all cases alike, and reports min / median / max ns per ticket per thread. Writes
`results/throughput/<date>-<cpu>/summary.{json,md}` with the machine facts loadgen records.

  scripts/throughput.py [--quick] [--rounds N] [--seconds S] [--loadgen PATH] [--out DIR]

Default matrix (the batch-engine targets of issue 4): rfc5077 and aead, seal and open, 128-byte
state, batch 1024 on 1 thread with the auto backend, the portable backend beside it, 2 threads
(scaling), and a batch of 1 (no slower than portable). `--quick`: rfc5077 only, 3 rounds of 1 s.
"""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cases(quick):
    formats = ["rfc5077"] if quick else ["rfc5077", "aead"]
    out = []
    for fmt in formats:
        for op in ["seal", "open"]:
            out.append(dict(op=op, fmt=fmt, backend="auto", threads=1, batch=1024))
            out.append(dict(op=op, fmt=fmt, backend="portable", threads=1, batch=1024))
            out.append(dict(op=op, fmt=fmt, backend="auto", threads=2, batch=1024))
            out.append(dict(op=op, fmt=fmt, backend="auto", threads=1, batch=1))
            out.append(dict(op=op, fmt=fmt, backend="portable", threads=1, batch=1))
    return out


def key(c):
    return f"{c['op']}/{c['fmt']}/{c['backend']}/t{c['threads']}/b{c['batch']}"


def run(loadgen, c, seconds, tmp):
    path = os.path.join(tmp, "run.json")
    cmd = [loadgen, "throughput", "--op", c["op"], "--ticket-format", c["fmt"],
           "--state-bytes", "128", "--batch", str(c["batch"]), "--threads", str(c["threads"]),
           "--backend", c["backend"], "--seconds", str(seconds), "--json", path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return json.load(f)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--loadgen", help="loadgen binary (default: build it in release)")
    ap.add_argument("--out", help="output directory (default results/throughput/<date>-<cpu>)")
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    seconds = args.seconds or (1.0 if args.quick else 2.0)
    if rounds < 1 or seconds <= 0:
        sys.exit("--rounds must be >= 1 and --seconds > 0")

    loadgen = args.loadgen
    if not loadgen:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "loadgen"], cwd=ROOT,
                       check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        loadgen = os.path.join(target, "release", "loadgen")

    matrix = cases(args.quick)
    samples = {key(c): [] for c in matrix}
    loads = []
    machine = None
    backend_of = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            loads.append(loadavg())
            for c in matrix:
                res = run(loadgen, c, seconds, tmp)
                machine = machine or res["machine"]
                backend_of[key(c)] = res["backend"]
                samples[key(c)].append(res["ns_per_ticket"])
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)

    rows = []
    for c in matrix:
        xs = samples[key(c)]
        rows.append(dict(case=key(c), op=c["op"], ticket_format=c["fmt"],
                         backend=backend_of[key(c)], threads=c["threads"], batch=c["batch"],
                         state_bytes=128, ns_min=min(xs), ns_median=statistics.median(xs),
                         ns_max=max(xs), ns_runs=xs))
    by = {r["case"]: r for r in rows}

    def med(case):
        return by[case]["ns_median"] if case in by else None

    derived = []
    for fmt in (["rfc5077"] if args.quick else ["rfc5077", "aead"]):
        for op in ["seal", "open"]:
            one, two = med(f"{op}/{fmt}/auto/t1/b1024"), med(f"{op}/{fmt}/auto/t2/b1024")
            port = med(f"{op}/{fmt}/portable/t1/b1024")
            b1, b1p = med(f"{op}/{fmt}/auto/t1/b1"), med(f"{op}/{fmt}/portable/t1/b1")
            # ns_per_ticket is per thread: 2 threads at the same ns/ticket = 2x the throughput.
            derived.append(dict(op=op, ticket_format=fmt, speedup_vs_portable=port / one,
                                two_thread_scaling=2 * one / two,
                                batch1_vs_portable_batch1=b1p / b1))

    day = datetime.date.today().isoformat()
    cpu = re.sub(r"[^a-z0-9]+", "-", (machine or {}).get("cpu_model", "cpu").lower()).strip("-")
    out = args.out or os.path.join(ROOT, "results", "throughput", f"{day}-{cpu}")
    os.makedirs(out, exist_ok=True)
    summary = dict(schema="tessera-throughput-summary/1", date=day, rounds=rounds,
                   seconds_per_run=seconds, load_average_at_round_start=loads,
                   machine=machine, rows=rows, derived=derived)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    m = machine or {}
    lines = [f"# Batch-engine throughput, {day}", "",
             f"Machine: {m.get('cpu_model')}, {m.get('cores')} cores, flags used "
             f"{', '.join(m.get('cpu_flags', []))}; {m.get('rustc')}; git {m.get('git_rev')}. "
             f"{rounds} interleaved rounds of {seconds:g} s per case; load average at each "
             f"round's start: {', '.join(f'{x:.1f}' for x in loads if x is not None)}.", "",
             "ns per ticket per thread (wall time), 128-byte state:", "",
             "| op | format | backend | threads | batch | min | median | max |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['op']} | {r['ticket_format']} | {r['backend']} | {r['threads']} | "
                     f"{r['batch']} | {r['ns_min']:.1f} | {r['ns_median']:.1f} | "
                     f"{r['ns_max']:.1f} |")
    lines += ["", "Derived from the medians:", "",
              "| op | format | auto vs portable (batch 1024) | 2 threads vs 1 (throughput) "
              "| batch 1: portable / auto |", "|---|---|---:|---:|---:|"]
    for d in derived:
        lines.append(f"| {d['op']} | {d['ticket_format']} | {d['speedup_vs_portable']:.2f}x | "
                     f"{d['two_thread_scaling']:.2f}x | {d['batch1_vs_portable_batch1']:.2f}x |")
    lines += ["", "Reproduce: `scripts/throughput.py" + (" --quick" if args.quick else "") + "`.",
              ""]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out}/summary.json and summary.md", file=sys.stderr)


if __name__ == "__main__":
    main()
