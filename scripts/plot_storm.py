#!/usr/bin/env python3
"""SVG plots of `loadgen storm --json` runs (Python standard library only, SVG written by hand).

Reads every *.json storm report in the given directories (e.g. the `runs/` that
`scripts/capacity.py --out DIR` writes), keeps the open-loop runs on the most common thread
count, groups them into "calm" (100% valid) and "storm" (anything else), and writes:
  throughput.svg   served requests/s and honest resumptions/s vs offered rate
  p99.svg          p99 latency vs offered rate (log scale)

Usage: scripts/plot_storm.py RUNS_DIR [RUNS_DIR...] --out DIR
"""

import argparse
import glob
import json
import math
import os
from collections import Counter

W, H = 720, 440
ML, MR, MT, MB = 80, 170, 40, 60
COLORS = {"calm": "#1f77b4", "storm": "#d62728"}


def load(dirs):
    runs = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*.json"))):
            try:
                with open(path) as fh:
                    j = json.load(fh)
            except (OSError, ValueError):
                continue
            if j.get("schema", "").startswith("tessera-loadgen-storm/") and j.get("mode") == "open":
                runs.append(j)
    if not runs:
        return []
    threads = Counter(j["config"]["threads"] for j in runs).most_common(1)[0][0]
    return [j for j in runs if j["config"]["threads"] == threads]


def group(j):
    mix = j["config"]["mix"]
    return "calm" if mix.get("valid", 0) == 1 else "storm"


def nice_ticks(lo, hi, n=5):
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    t = math.floor(lo / step) * step
    out = []
    while t <= hi + 1e-9:
        out.append(t)
        t += step
    return out


def fmt(v):
    if v >= 1e6:
        return f"{v/1e6:g}M"
    if v >= 1e3:
        return f"{v/1e3:g}k"
    return f"{v:g}"


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_plot(title, xlabel, ylabel, series, logy=False, subtitle=""):
    """series: list of (label, color, dash, [(x, y)])."""
    pts = [p for _, _, _, s in series for p in s]
    if not pts:
        return None
    xmax = max(x for x, _ in pts) * 1.05
    ys = [y for _, y in pts if (y > 0 or not logy)]
    if logy:
        ylo = 10 ** math.floor(math.log10(max(min(ys), 1e-9)))
        yhi = 10 ** math.ceil(math.log10(max(ys)))
        fy = lambda y: MT + (H - MT - MB) * (1 - (math.log10(max(y, ylo)) - math.log10(ylo))
                                              / (math.log10(yhi) - math.log10(ylo) or 1))
        yticks = [10 ** e for e in range(int(math.log10(ylo)), int(math.log10(yhi)) + 1)]
    else:
        yhi = max(ys) * 1.1
        fy = lambda y: MT + (H - MT - MB) * (1 - y / yhi)
        yticks = nice_ticks(0, yhi)
    fx = lambda x: ML + (W - ML - MR) * x / xmax
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2}" y="20" text-anchor="middle" font-size="15">{esc(title)}</text>']
    if subtitle:
        o.append(f'<text x="{W/2}" y="34" text-anchor="middle" font-size="10" fill="#555">{esc(subtitle)}</text>')
    for t in nice_ticks(0, xmax):
        if t > xmax:
            continue
        x = fx(t)
        o.append(f'<line x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" y2="{H-MB}" stroke="#eee"/>')
        o.append(f'<text x="{x:.1f}" y="{H-MB+16}" text-anchor="middle">{fmt(t)}</text>')
    for t in yticks:
        y = fy(t)
        if y < MT - 1 or y > H - MB + 1:
            continue
        o.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{W-MR}" y2="{y:.1f}" stroke="#eee"/>')
        o.append(f'<text x="{ML-6}" y="{y+4:.1f}" text-anchor="end">{fmt(t)}</text>')
    o.append(f'<rect x="{ML}" y="{MT}" width="{W-ML-MR}" height="{H-MT-MB}" fill="none" stroke="#333"/>')
    o.append(f'<text x="{(ML+W-MR)/2}" y="{H-18}" text-anchor="middle">{esc(xlabel)}</text>')
    o.append(f'<text transform="translate(18,{(MT+H-MB)/2}) rotate(-90)" text-anchor="middle">{esc(ylabel)}</text>')
    for i, (label, color, dash, s) in enumerate(series):
        s = sorted(p for p in s if p[1] > 0 or not logy)
        if not s:
            continue
        d = " ".join(f"{'M' if k == 0 else 'L'}{fx(x):.1f},{fy(y):.1f}" for k, (x, y) in enumerate(s))
        o.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>')
        for x, y in s:
            o.append(f'<circle cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="3" fill="{color}"/>')
        ly = MT + 14 + 18 * i
        o.append(f'<line x1="{W-MR+10}" y1="{ly-4}" x2="{W-MR+34}" y2="{ly-4}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>')
        o.append(f'<text x="{W-MR+40}" y="{ly}">{esc(label)}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def main():
    ap = argparse.ArgumentParser(description="SVG plots of loadgen storm runs")
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    runs = load(a.dirs)
    if not runs:
        raise SystemExit("no open-loop storm reports found")
    os.makedirs(a.out, exist_ok=True)
    m = runs[0]["machine"]
    sub = (f"{m['cpu_model']}, {runs[0]['config']['threads']} threads, "
           f"{runs[0]['config']['ticket_format']} {runs[0]['config']['state_bytes']} B, rev {m['git_rev']}")
    by = {"calm": [], "storm": []}
    for j in runs:
        by[group(j)].append(j)
    storm_f = max((j["config"]["storm_fraction"] for j in by["storm"]), default=0)
    thr = []
    lat = []
    for g, js in by.items():
        if not js:
            continue
        name = "calm (100% valid)" if g == "calm" else f"storm ({storm_f*100:.0f}% forged)"
        thr.append((name + " served", COLORS[g], "", [(j["offered_per_sec"], j["throughput_per_sec"]) for j in js]))
        thr.append((name + " resumed", COLORS[g], "5,4", [(j["offered_per_sec"], j["goodput"]["storm_per_sec"]) for j in js]))
        lat.append((name, COLORS[g], "", [(j["offered_per_sec"], j["latency_ns"]["p99"] / 1000.0) for j in js]))
    for fname, svg in [
        ("throughput.svg", svg_plot("Throughput vs offered rate", "offered requests/s",
                                    "requests/s", thr, subtitle=sub)),
        ("p99.svg", svg_plot("p99 latency vs offered rate", "offered requests/s",
                             "p99 latency (us, log)", lat, logy=True, subtitle=sub)),
    ]:
        if svg:
            with open(os.path.join(a.out, fname), "w") as fh:
                fh.write(svg)
            print(os.path.join(a.out, fname))


if __name__ == "__main__":
    main()
