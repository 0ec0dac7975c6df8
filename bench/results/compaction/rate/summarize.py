"""Medians and ranges of the trials in alone/, writers/ and overwrite/.

Usage: python3 summarize.py [DIR]  (DIR defaults to this file's directory)
"""
import glob
import json
import os
import statistics as st
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))


def fmt(xs, digits=0):
    return f"{st.median(xs):.{digits}f} ({min(xs):.{digits}f}–{max(xs):.{digits}f})"


def trials(sub):
    """(code, workload, engine) -> list of (seconds, values, extra)."""
    rows = {}
    for f in sorted(glob.glob(os.path.join(root, sub, "*", "trials.json"))):
        code = os.path.basename(os.path.dirname(f)).split("-")[0]
        for t in json.load(open(f))["results"]:
            rows.setdefault((code, t["workload"], t["engine"]), []).append(t)
    return rows


print("## alone: ms | CPU ms | live MiB/s | disk MiB/s | ratio")
for (code, wl, _), ts in sorted(trials("alone").items()):
    ex = [t["extra"] for t in ts]
    print(f"| {wl} | {code} | {len(ts)} | {fmt([t['seconds'] * 1000 for t in ts])} | "
          f"{fmt([e['cpu_s'] * 1000 for e in ex])} | {fmt([e['live_mib_s'] for e in ex])} | "
          f"{fmt([e['disk_mib_s'] for e in ex])} | {fmt([e['ratio'] for e in ex], 2)} |")

print("## writers: alone ms | beside/alone | longest Put beside, ms | longest Put without | held ms")
for (code, wl, _), ts in sorted(trials("writers").items()):
    ex = [t["extra"] for t in ts]
    print(f"| {code} | {len(ts)} | {fmt([e['alone_ms'] for e in ex])} | {fmt([e['beside_over_alone'] for e in ex], 2)} | "
          f"{fmt([e['max_put_ms'] for e in ex], 1)} | {fmt([e['max_put_idle_ms'] for e in ex], 1)} | "
          f"{fmt([e['held_ms'] for e in ex], 1)} |")

print("## overwrite-all: ops/s | disk MiB after")
for f in sorted(glob.glob(os.path.join(root, "overwrite", "*", "trials.json"))):
    name = os.path.basename(os.path.dirname(f))
    by = {}
    for t in json.load(open(f))["results"]:
        by.setdefault(t["engine"], []).append(t)
    for eng, ts in sorted(by.items()):
        ops = [t["values"]["overwrite-all"] for t in ts]
        disk = [t["values"]["disk size after overwrite-all"] / (1 << 20) for t in ts]
        print(f"| {name} | {eng} | {len(ts)} | {fmt(ops)} | {fmt(disk, 1)} |")
