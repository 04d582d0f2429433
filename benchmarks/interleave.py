"""Variants of one `artgc run`, interleaved: one run of each in turn, N
rounds, so that the host's drift (on a shared VM it moves a wall time by
20% in minutes) falls on every variant alike.

    python benchmarks/interleave.py --rounds 4 --base "binarytrees --size 21 --heap 1GiB --mode minor" \\
        --variant "default=" --variant "on=--inplace-prefix on" --variant "gen=--generational on"

A variant's ARGS may begin with @DIR: that variant runs from another
checkout of artgc, built in place (its folder and its package), e.g. the
build before a change against this one:

    git clone -q . /tmp/base && (cd /tmp/base && git checkout -q OLD && python setup.py -q build_ext --inplace)
    python benchmarks/interleave.py --base "binarytrees --size 21 --heap 1GiB --design art-2025" \
        --variant "before=@/tmp/base" --variant "after="

Leading NAME=VALUE words of a variant's ARGS (after @DIR, if any) are set
in its runs' environment, e.g. --variant "pop=AGC_POP_BLACK=64".

Prints each run as it ends and a table of medians (wall, worst pause,
worst stall, MMU at 10 ms, peak PSS, flip_remap p90, the flip pause's
median, the cycles whose time-to-safepoint passed 1 ms; for a request
workload the metered p99.9, DaCapo's 100 ms and full smoothing); --json FILE keeps
every run's summary, --keep DIR every run's whole result.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
from typing import Any

import numpy as np
from runjson import run_json

from artgc.metrics import mmu_at


def summary(d: dict[str, Any]) -> dict[str, Any]:
    pauses = d.get("pauses_ns") or [0]
    stalls = d.get("stalls_ns") or [0]
    cycles = d.get("cycles") or []
    remap = [c.get("flip_remap_ns", 0) for c in cycles] or [0]
    flips = [c.get("flip_pause_ns", 0) for c in cycles] or [0]
    return {"wall_s": d.get("wall_s"), "worst_pause_ms": max(pauses) / 1e6, "worst_stall_ms": max(stalls) / 1e6,
            "mmu_10ms": _mmu10(d), "peak_pss_mib": (d.get("peak_pss_bytes") or 0) / 2**20,
            "flip_remap_p90_ms": float(np.percentile(remap, 90)) / 1e6,
            "flip_pause_p50_ms": float(np.median(flips)) / 1e6,
            "ttsp_over_1ms": sum(1 for c in cycles if c.get("ttsp_max_ns", 0) > 1_000_000),
            "failed": bool(d.get("failed")) or d.get("wall_s") is None, "error": d.get("error"),
            "busy": bool((d.get("machine") or {}).get("busy")),
            "metered_p999_ms": _p999(d.get("metered_latency_ns")),
            "metered_full_p999_ms": _p999(d.get("metered_full_latency_ns"))}


def _p999(v: list[int] | None) -> float | None:
    return float(np.percentile(v, 99.9)) / 1e6 if v else None


def _mmu10(d: dict[str, Any]) -> float | None:
    v = mmu_at(d, 10e6)
    return None if v is None else float(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the run's arguments common to every variant")
    ap.add_argument("--variant", action="append", required=True, metavar="NAME=ARGS",
                    help="a variant's name and its extra arguments (repeat)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write every run's summary here")
    ap.add_argument("--keep", metavar="DIR", help="write every run's whole result here, as NAME-ROUND.json")
    a = ap.parse_args()
    variants = []
    for v in a.variant:
        name, sep, extra = v.partition("=")
        if not sep or not name:
            ap.error(f"--variant needs NAME=ARGS, got {v!r}")
        args = shlex.split(extra)
        checkout = args.pop(0)[1:] if args and args[0].startswith("@") else None
        if checkout is not None and not os.path.isdir(os.path.join(checkout, "artgc")):
            ap.error(f"--variant {name}: {checkout!r} is not a checkout of artgc")
        env: dict[str, str] = {}
        while args and "=" in args[0] and not args[0].startswith("-"):
            k, _, val = args.pop(0).partition("=")
            env[k] = val
        variants.append((name, args, checkout, env))
    base = shlex.split(a.base)
    runs: dict[str, list[dict[str, Any]]] = {v[0]: [] for v in variants}
    for r in range(a.rounds):
        for name, extra, checkout, env in variants:
            d = run_json([sys.executable, "-m", "artgc", "run", *base, *extra, "--quiet"], 3600, checkout,
                         env or None)
            if a.keep:
                os.makedirs(a.keep, exist_ok=True)
                with open(os.path.join(a.keep, f"{name}-{r + 1}.json"), "w") as f:
                    json.dump(d, f)
            s = summary(d)
            runs[name].append(s)
            if s["failed"]:
                print(f"round {r + 1} {name}: FAILED: {s['error'] or 'no result'}", flush=True)
                continue
            met = "" if s["metered_p999_ms"] is None else \
                f", metered p99.9 {s['metered_p999_ms']:.2f} ms (full smoothing {s['metered_full_p999_ms']:.2f})"
            print(f"round {r + 1} {name}: wall {s['wall_s']:.2f} s, worst pause {s['worst_pause_ms']:.2f} ms, "
                  f"peak PSS {s['peak_pss_mib']:.0f} MiB" + met + (" (busy)" if s["busy"] else ""), flush=True)
    keys = ["wall_s", "worst_pause_ms", "worst_stall_ms", "mmu_10ms", "peak_pss_mib", "flip_remap_p90_ms",
            "flip_pause_p50_ms", "ttsp_over_1ms"]
    if any(x.get("metered_p999_ms") is not None for rs in runs.values() for x in rs):
        keys += ["metered_p999_ms", "metered_full_p999_ms"]
    print("| variant | runs | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for name, rs in runs.items():
        ok = [x for x in rs if not x["failed"]]
        cells = []
        for k in keys:
            vals = [x[k] for x in ok if x[k] is not None]
            cells.append(f"{statistics.median(vals):.2f}" if vals else "-")
        print(f"| {name} | {len(ok)}/{len(rs)} | " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"base": a.base, "variants": {n: {"args": e, "checkout": c, "env": v} for n, e, c, v in variants},
                       "runs": runs}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
