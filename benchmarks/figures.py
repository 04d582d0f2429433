"""The issues' headline figures, each from real runs on this machine.

    python benchmarks/figures.py [--out benchmarks/figures] [--only NAME ...] [--big] [--repeat N]

Writes OUT/figures.json (every run's summary) and OUT/FIGURES.md (the tables
quoted in the README). Each point runs in its own process
(`python -m artgc run ... --json`), like `artgc bench`. --big adds the 4 GiB
points (the memfd needs up to 8 GiB; a few minutes more). --repeat runs every
point N times (a row per run: single pauses of a few ms come and go on a
2-core VM). --only keeps the other figures already in OUT/figures.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np
from runjson import run_json


def run(workload: str, size: int, mode: str, heap: str, **kw: Any) -> dict[str, Any]:
    args = [sys.executable, "-m", "artgc", "run", workload, "--size", str(size), "--mode", mode,
            "--heap", heap, "--quiet"]
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        args += ([flag] if v is True else [f"--no-{k.replace('_', '-')}"] if v is False else [flag, str(v)])
    t = time.time()
    d = run_json(args, 1800)
    pauses = np.asarray(d.get("pauses_ns") or [], dtype=np.float64)
    stalls = np.asarray(d.get("fault_stalls_ns") or [], dtype=np.float64)
    cycles = d.get("cycles") or []

    def mx(key: str) -> float:
        return max((c.get(key, 0) for c in cycles), default=0) / 1e6

    comp_ns = sum(c.get("compact_ns", 0) for c in cycles)
    moved = sum(c.get("moved_bytes", 0) for c in cycles)
    s = {
        "point": f"{workload} --size {size} --mode {mode} --heap {heap} " +
                 " ".join(f"--{k.replace('_', '-')} {v}" for k, v in kw.items()),
        "ok": not d.get("failed") and not d.get("error"), "error": d.get("error"),
        "wall_s": d.get("wall_s"), "cycles": len(cycles),
        "max_pause_ms": float(pauses.max() / 1e6) if pauses.size else 0.0,
        "p99_pause_ms": float(np.percentile(pauses, 99) / 1e6) if pauses.size else 0.0,
        "p50_pause_ms": float(np.median(pauses) / 1e6) if pauses.size else 0.0,
        "gc_max_init_ms": mx("init_pause_ns"), "gc_max_mark_pause_ms": mx("mark_pause_ns"),
        "gc_max_flip_ms": mx("flip_pause_ns"), "gc_max_ttsp_ms": mx("ttsp_max_ns"),
        "gc_p50_flip_ms": float(np.median([c.get("flip_pause_ns", 0) for c in cycles]) / 1e6) if cycles else 0.0,
        "faults": int(stalls.size),
        "stall_p50_us": float(np.median(stalls) / 1e3) if stalls.size else None,
        "stall_p99_us": float(np.percentile(stalls, 99) / 1e3) if stalls.size else None,
        "moved_mib": moved / 2**20, "compact_gbps": (moved / comp_ns) if comp_ns else None,
        "max_live_mib": max((c.get("live_bytes", 0) for c in cycles), default=0) / 2**20,
        "took_s": round(time.time() - t, 1),
    }
    print(f"  {s['point']}: ok={s['ok']} wall={s['wall_s']} max pause {s['max_pause_ms']:.2f} ms "
          f"(gc flip {s['gc_max_flip_ms']:.2f} ms) stalls p50 {s['stall_p50_us']} us "
          f"compaction {s['compact_gbps']} GB/s", flush=True)
    return s


def flip_vs_heap(big: bool, repeat: int) -> list[dict[str, Any]]:
    """Issue 4: the flip pause against heap size, live data growing with it."""
    pts = [("64MiB", 16), ("256MiB", 18), ("1GiB", 20)] + ([("4GiB", 22)] if big else [])
    return [run("binarytrees", size, mode, heap) for heap, size in pts for mode in ("minor", "stw")
            for _ in range(repeat)]


def minor_vs_copy(big: bool, repeat: int) -> list[dict[str, Any]]:
    """Issue 4: fault stalls and compaction throughput, minor vs copy vs move."""
    out = []
    for mode in ("minor", "copy", "move"):
        for _ in range(repeat):
            out.append(run("binarytrees", 20, mode, "1GiB"))
            out.append(run("graph", 50, mode, "64MiB", mutators=2))
    return out


def marking_vs_heap(big: bool, repeat: int) -> list[dict[str, Any]]:
    """Issue 5: worst pause with concurrent and stw marking, 256 MiB vs 4 GiB
    holding proportionally more live data (long-lived tree 16x bigger)."""
    pts = [("256MiB", 19, 16)] + ([("4GiB", 23, 20)] if big else [("1GiB", 21, 18)])
    out = []
    for heap, bt, gcb in pts:
        for marking in ("concurrent", "stw"):
            for _ in range(repeat):
                out.append(run("binarytrees", bt, "minor", heap, marking=marking))
                out.append(run("gcbench", gcb, "minor", heap, marking=marking))
    return out


FIGURES = {"flip_vs_heap": flip_vs_heap, "minor_vs_copy": minor_vs_copy, "marking_vs_heap": marking_vs_heap}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/figures")
    ap.add_argument("--only", nargs="*", choices=list(FIGURES))
    ap.add_argument("--big", action="store_true", help="include the 4 GiB points")
    ap.add_argument("--repeat", type=int, default=1, help="runs per point (default 1)")
    a = ap.parse_args()
    if a.repeat < 1:
        ap.error("--repeat must be at least 1")
    os.makedirs(a.out, exist_ok=True)
    old: dict[str, Any] = {}
    if a.only:
        try:
            with open(os.path.join(a.out, "figures.json")) as fh:
                old = json.load(fh)
        except (OSError, ValueError):
            old = {}
    from artgc import probe
    res: dict[str, Any] = {"machine": {"node": platform.node(), "kernel": platform.release(),
                                       "cpus": os.cpu_count(), "python": platform.python_version()},
                           "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                           "command": " ".join([sys.executable.rsplit("/", 1)[-1]] + sys.argv),
                           "probe": probe(quick=True)["limits"]}
    for name in FIGURES:
        if a.only and name not in a.only:
            if name in old:
                res[name] = old[name]
                when = old.get("dates", {}).get(name, f"{old.get('date')} ({old.get('command')})")
                res.setdefault("kept", {})[name] = when
                res.setdefault("dates", {})[name] = when
            continue
        print(name, flush=True)
        res[name] = FIGURES[name](a.big, a.repeat)
        res.setdefault("dates", {})[name] = f"{res['date']} ({res['command']})"
    with open(os.path.join(a.out, "figures.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(a.out, "FIGURES.md"), "w") as f:
        f.write(f"# Figures ({res['date']}, kernel {res['machine']['kernel']}, "
                f"{res['machine']['cpus']} CPUs)\n\nCommand: `{res['command']}`\n\n")
        for name, when in res.get("kept", {}).items():
            f.write(f"`{name}` kept from an earlier run: {when}\n\n")
        f.write(f"Probe floor: minor fault + CONTINUE (SIGBUS) {res['probe'].get('minor_continue_sigbus_us')} us, "
                f"missing fault + COPY (SIGBUS) {res['probe'].get('missing_copy_sigbus_us')} us, "
                f"memcpy {res['probe'].get('memcpy_gbps')} GB/s\n\n")
        cols = ["point", "ok", "wall_s", "cycles", "max_live_mib", "max_pause_ms", "p99_pause_ms",
                "gc_max_init_ms", "gc_max_mark_pause_ms", "gc_max_flip_ms", "gc_p50_flip_ms", "gc_max_ttsp_ms",
                "faults",
                "stall_p50_us", "stall_p99_us", "compact_gbps"]
        for name in FIGURES:
            if name not in res:
                continue
            f.write(f"## {name}\n\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n")
            for s in res[name]:
                f.write("| " + " | ".join(
                    f"{s.get(c):.3g}" if isinstance(s.get(c), float) else str(s.get(c, "-")) for c in cols) + " |\n")
            f.write("\n")
    print(f"wrote {a.out}/figures.json and {a.out}/FIGURES.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
