"""The seed's plan against ART's shipped designs, and the JVM, on every axis.

    python benchmarks/designs.py [--out benchmarks/designs] [--only NAME ...] [--invocations N]

Sections (each point a separate `python -m artgc run ... --json` process):
  designs  binarytrees 21 / 1 GiB: --design seed | art-2023 | art-2025, --mode stw,
           and the JVM's Shenandoah, ZGC, G1, Parallel at -Xmx1g
  scaling  binarytrees 20 at 1 GiB and 4 GiB in every mode (stw also on anon, copy also with
           small pages), binarytrees 21 at 1 GiB and 8 GiB (a bigger heap must not be slower)
  order    ascending vs descending compaction order, every workload, copy and minor
  lru      lru --live 128MiB in a 512 MiB heap: request latency, simple and metered (DaCapo's
           100 ms smoothing, and its full smoothing)
  fastpath the mutator's fast paths in ns per operation (artgc probe --fastpath)
  ahead    binarytrees 21 / 1 GiB minor: ascending/descending order x build_ahead on/off
  moves    binarytrees 21 / 1 GiB (full cycles only, and generational) and lru: art-2023 (COPY),
           art-2025 (MOVE in runs of 16 pages, as ART) and art-2025 --huge-moves (whole 2 MiB
           blocks moved, the rest copied): compaction CPU per moved byte, per built page, and
           in the install ioctls
  generational  binarytrees 21 / 1 GiB and gcbench 18 / 256 MiB: stw, defaults, art-2023, art-2025, seed,
           minor, each with --generational off and on (young cycles against full ones)
  inplace  binarytrees 21 / 1 GiB and gcbench 18 / 256 MiB, minor: the dense prefix updated in
           place (--inplace-prefix on) against copied to the other memfd half (auto, the default,
           at these heaps), --recycle-fromspace (from-space kept as the next free space), and
           young cycles on shmem (their flips, like those after a split prefix, are not 1 GiB aligned)
Writes OUT/designs.json (every run's summary) and OUT/DESIGNS.md (the tables).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from runjson import run_json

from artgc.memory import beyond_used_in_cycles
from artgc.generations import by_kind
from artgc.moved import moved_fractions


def _mmu(d: dict[str, Any], window_ns: float) -> float | None:
    try:
        from artgc import metrics
        f: Callable[..., Any] | None = getattr(metrics, "mmu_at", None)
        if f is not None:
            return float(f(d, window_ns))
    except Exception:  # noqa: BLE001 - an older result: no figure
        return None
    return None


def _pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) if a.size else 0.0


def run(workload: str, args: list[str]) -> dict[str, Any]:
    d = run_json([sys.executable, "-m", "artgc", "run", workload, "--quiet", *args], 3600)
    pauses = np.asarray(d.get("pauses_ns") or [], dtype=np.float64)
    stalls = np.asarray(d.get("stalls_ns") or d.get("pauses_ns") or [], dtype=np.float64)
    lat = np.asarray(d.get("latency_ns") or [], dtype=np.float64)
    met = np.asarray(d.get("metered_latency_ns") or [], dtype=np.float64)
    metf = np.asarray(d.get("metered_full_latency_ns") or [], dtype=np.float64)
    waits = np.asarray(d.get("alloc_stalls_ns") or [], dtype=np.float64)
    cycles = d.get("cycles") or []
    comp = sum(c.get("compact_ns", 0) for c in cycles)
    moved = sum(c.get("moved_bytes", 0) for c in cycles)
    live = [c.get("live_bytes", 0) for c in cycles]
    return {
        "point": " ".join(["artgc run", workload, *args]),
        "ok": not d.get("failed") and not d.get("error"), "error": d.get("error"),
        "wall_s": d.get("wall_s"), "cycles": len(cycles) if cycles else d.get("gc_count"),
        "max_pause_ms": float(pauses.max() / 1e6) if pauses.size else 0.0,
        "p99_pause_ms": _pct(pauses, 99) / 1e6,
        "max_stall_ms": float(stalls.max() / 1e6) if stalls.size else 0.0,
        "n_stalls": int(stalls.size),
        "max_alloc_wait_ms": float(waits.max() / 1e6) if waits.size else 0.0,
        "alloc_wait_s": float(waits.sum() / 1e9),
        "mmu_10ms": _mmu(d, 10e6), "mmu_1ms": _mmu(d, 1e6),
        "peak_pss_mib": (d.get("peak_pss_bytes") or 0) / 2**20,
        "peak_rss_mib": (d.get("peak_rss_bytes") or 0) / 2**20,
        "moved_mib_per_cycle": moved / max(1, len(cycles)) / 2**20,
        "live_mib_per_cycle": (sum(live) / max(1, len(live))) / 2**20,
        "dense_prefix_mib": float(np.median([c.get("dense_prefix_bytes", 0) for c in cycles]) / 2**20)
        if cycles else 0.0,
        "inplace_mib": float(np.median([c.get("inplace_bytes", 0) for c in cycles]) / 2**20) if cycles else 0.0,
        "compact_ms_median": float(np.median([c.get("compact_ns", 0) for c in cycles]) / 1e6) if cycles else None,
        "flip_remap_p90_ms": _pct(np.asarray([c.get("flip_remap_ns", 0) for c in cycles], dtype=np.float64), 90) / 1e6
        if cycles else None,
        "compact_gbps": moved / comp if comp else None,
        "compact_ns_per_kib": comp / (moved / 1024) if moved else None,
        **_compaction_cost(cycles),
        "faults": sum(c.get("faults", 0) for c in cycles),
        "lat_ms": {q: _pct(lat, q) / 1e6 for q in (50, 99, 99.9, 100)} if lat.size else None,
        "metered_ms": {q: _pct(met, q) / 1e6 for q in (50, 99, 99.9, 100)} if met.size else None,
        "metered_full_ms": {q: _pct(metf, q) / 1e6 for q in (50, 99, 99.9, 100)} if metf.size else None,
        "machine": d.get("machine"), "jdk": d.get("jdk") or (d.get("machine") or {}).get("jdk"),
        # memory beyond the used bytes in samples taken during a cycle (artgc only);
        # "top": beyond the allocated bytes alone, from-space held not counted as used
        "beyond_used_mib": _mib(beyond_used_in_cycles(d)["during"]),
        "beyond_top_mib": _mib(beyond_used_in_cycles(d, top=True)["during"]),
        "meta_mib": _mib(max((d.get("memory_timeline") or {}).get("meta_bytes") or [0])),
        **_kinds(cycles, d.get("events")),
        **_moved(cycles),
    }


def _moved(cycles: list[dict[str, Any]]) -> dict[str, Any]:
    """Moved over live bytes in the cycles after the first (artgc.moved), with
    and without what the mutators allocated during the cycle (slid black)."""
    f = moved_fractions(cycles)
    if f is None:
        return {}
    return {"moved_cycles": f["cycles"], "moved_median": f["median"], "moved_max": f["max"],
            "moved_over_half": f["over_half"], "marked_moved_median": f["marked_median"],
            "marked_moved_max": f["marked_max"], "marked_over_half": f["marked_over_half"],
            "black_moved_max_mib": f["black_moved_max_bytes"] / 2**20,
            "dense_prefix_max_mib": max(int(c.get("dense_prefix_bytes") or 0) for c in cycles) / 2**20}


def _compaction_cost(cycles: list[dict[str, Any]]) -> dict[str, Any]:
    """The GC threads' compaction CPU time per moved byte and per page they
    built, and the part of it in install calls (ioctls), per built page."""
    cpu = sum(c.get("compact_cpu_ns", 0) for c in cycles)
    moved = sum(c.get("moved_bytes", 0) for c in cycles)
    pages = sum(c.get("pages_by_gc", 0) for c in cycles)
    inst = sum(c.get("install_ns", 0) for c in cycles)
    return {
        "compact_cpu_ns_per_kib": cpu / (moved / 1024) if moved and cpu else None,
        "compact_cpu_us_per_page": cpu / 1e3 / pages if pages and cpu else None,
        "install_us_per_page": inst / 1e3 / pages if pages and cpu else None,
        "pages_per_install": pages / max(1, sum(c.get("gc_installs", 0) for c in cycles)) if pages else None,
        "huge_blocks": sum(c.get("huge_blocks", 0) for c in cycles),
        "broken_blocks": sum(c.get("broken_blocks", 0) for c in cycles),
    }


def _kinds(cycles: list[dict[str, Any]], events: Any = None) -> dict[str, Any]:
    """Young and full cycles apart: how many, MiB marked and moved per cycle,
    and their flips as the mutators felt them, median and 90th percentile
    (artgc.generations.by_kind)."""
    out: dict[str, Any] = {}
    kinds = by_kind(cycles, events) if events is not None else {}
    for kind in ("young", "full"):
        cs = [c for c in cycles if c.get("kind") == kind]
        out[f"{kind}_cycles"] = len(cs)
        for key in ("marked", "moved"):
            out[f"{key}_mib_{kind}"] = (sum(c.get(f"{key}_bytes", 0) for c in cs) / len(cs) / 2**20) if cs else None
        for q in ("p50", "p90"):
            v = (kinds.get(kind) or {}).get(f"flip_{q}_ns")
            out[f"flip_{q}_ms_{kind}"] = None if v is None else v / 1e6
    return out


def _mib(b: int | None) -> float | None:
    return None if b is None else b / 2**20


def repeat(workload: str, args: list[str], n: int, label: str) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        r = run(workload, args)
        r["label"], r["invocation"] = label, i
        print(f"  {label} #{i + 1}: wall {r['wall_s']} s, worst pause {r['max_pause_ms']:.2f} ms, "
              f"worst stall {r['max_stall_ms']:.2f} ms, peak PSS {r['peak_pss_mib']:.0f} MiB"
              + ("" if r["ok"] else f"  FAILED {r['error']}"), flush=True)
        out.append(r)
    return out


def med(rows: list[dict[str, Any]], key: str) -> float | None:
    v = [r[key] for r in rows if r.get("ok") and r.get(key) is not None]
    return float(np.median(v)) if v else None


def fmt(x: float | None, nd: int = 2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


DESIGN_POINTS = [
    ("seed (minor, shmem)", ["--design", "seed"]),
    ("art-2023 (copy, anon)", ["--design", "art-2023"]),
    ("art-2025 (move, anon)", ["--design", "art-2025"]),
    ("move, defaults (2 MiB blocks moved, the rest copied)", ["--mode", "move"]),
    ("stw", ["--mode", "stw"]),
    ("minor, defaults", ["--mode", "minor"]),
    ("jvm shenandoah", ["--jvm", "shenandoah"]),
    ("jvm zgc", ["--jvm", "zgc"]),
    ("jvm g1", ["--jvm", "g1"]),
    ("jvm parallel", ["--jvm", "parallel"]),
]


def section_designs(n: int) -> list[dict[str, Any]]:
    rows = []
    for label, extra in DESIGN_POINTS:
        rows += repeat("binarytrees", ["--size", "21", "--heap", "1GiB", *extra], n, label)
    return rows


CHARGE_POINTS = [(name, extra) for base, extra0 in (("art-2023", ["--design", "art-2023"]),
                                                   ("art-2025", ["--design", "art-2025"]),
                                                   ("move", ["--mode", "move"]), ("minor", ["--mode", "minor"]))
                 for name, extra in ((f"{base}, from-space charged", extra0),
                                     (f"{base}, not charged", [*extra0, "--no-charge-fromspace"]))]


def section_charge(n: int) -> list[dict[str, Any]]:
    """charge_fromspace on and off (issue #13): memory beyond the used bytes
    during cycles against the allocation waits it costs."""
    rows = []
    for label, extra in CHARGE_POINTS:
        rows += repeat("binarytrees", ["--size", "21", "--heap", "1GiB", *extra], n, label)
    return rows


SCALING_POINTS = [
    # (label, size, extra arguments), each at both heaps of its size
    ("stw, shmem", 20, ["--mode", "stw", "--memory", "shmem"]),
    ("stw (anon)", 20, ["--mode", "stw"]),
    ("copy", 20, ["--mode", "copy"]),
    ("copy, small pages", 20, ["--mode", "copy", "--no-huge-pages"]),
    ("minor", 20, ["--mode", "minor"]),
    ("move", 20, ["--mode", "move"]),
    ("minor", 21, ["--mode", "minor"]),
    ("copy", 21, ["--mode", "copy"]),
]
SCALING_HEAPS = {20: ("1GiB", "4GiB"), 21: ("1GiB", "8GiB")}


INPLACE_POINTS = [
    ("binarytrees", ["--size", "21", "--heap", "1GiB"]), ("gcbench", ["--size", "18", "--heap", "256MiB"])]
INPLACE_VARIANTS = [("prefix in place (on)", ["--inplace-prefix", "on"]),
                    ("prefix copied (auto, the default: no 1 GiB boundary below it)", []),
                    ("in place, from-space recycled", ["--inplace-prefix", "on", "--recycle-fromspace"]),
                    ("young cycles (--generational on)", ["--generational", "on"])]


def section_inplace(n: int) -> list[dict[str, Any]]:
    """minor on shmem: the dense prefix updated where it is against copied
    to the other half of the memfd, and from-space recycled as free space."""
    rows = []
    for wl, base in INPLACE_POINTS:
        for label, extra in INPLACE_VARIANTS:
            rows += repeat(wl, [*base, "--mode", "minor", *extra], n, f"{wl}, {label}")
    return rows


def section_scaling(n: int) -> list[dict[str, Any]]:
    rows = []
    for label, size, extra in SCALING_POINTS:
        for heap in SCALING_HEAPS[size]:
            rows += repeat("binarytrees", ["--size", str(size), "--heap", heap, *extra], n,
                           f"bt{size} {label} {heap}")
    return rows


def section_fastpath(n: int) -> list[dict[str, Any]]:
    """The mutator's fast paths (artgc probe --fastpath), one row per heap memory."""
    import subprocess
    p = subprocess.run([sys.executable, "-m", "artgc", "probe", "--fastpath", "--json"], capture_output=True,
                       text=True, timeout=1800)
    if p.returncode != 0:
        return [{"label": "fastpath", "ok": False, "error": p.stderr[-500:], "point": "artgc probe --fastpath"}]
    fp = json.loads(p.stdout)["fastpath"]
    return [{"label": kind, "ok": True, "point": "artgc probe --fastpath --json", **d} for kind, d in fp.items()]


def section_order(n: int) -> list[dict[str, Any]]:
    rows = []
    for wl, size, heap in (("binarytrees", 20, "1GiB"), ("gcbench", 18, "256MiB"), ("lru", None, "256MiB"),
                           ("graph", None, "256MiB")):
        for mode in ("copy", "minor"):
            for order in ("ascending", "descending"):
                args = (["--size", str(size)] if size else []) + ["--heap", heap, "--mode", mode, "--order", order]
                if wl == "lru":
                    args += ["--live", "64MiB"]
                rows += repeat(wl, args, n, f"{wl} {mode} {order}")
    return rows


def section_ahead(n: int) -> list[dict[str, Any]]:
    """binarytrees 21 / 1 GiB minor: compaction order x build_ahead (the fault
    stalls after each flip, MMU at 10 ms)."""
    rows = []
    for order in ("ascending", "descending"):
        for ahead in ("--build-ahead", "--no-build-ahead"):
            rows += repeat("binarytrees", ["--size", "21", "--heap", "1GiB", "--mode", "minor", "--order", order,
                                           ahead], n, f"minor {order} {ahead[2:]}")
    return rows


def section_lru(n: int) -> list[dict[str, Any]]:
    rows = []
    for label, extra in (("seed (minor)", ["--design", "seed"]), ("minor, defaults", ["--mode", "minor"]),
                         ("art-2023 (copy)", ["--design", "art-2023"]), ("art-2025 (move)", ["--design", "art-2025"]),
                         ("default (copy)", []), ("jvm shenandoah", ["--jvm", "shenandoah"]), ("jvm g1", ["--jvm", "g1"]),
                         ("jvm zgc", ["--jvm", "zgc"]), ("jvm parallel", ["--jvm", "parallel"])):
        # 4 million requests: 8 artgc cycles at this size (the default 500,000 runs none)
        rows += repeat("lru", ["--live", "128MiB", "--heap", "512MiB", "--size", "4000", *extra], n, label)
    return rows


def section_generational(n: int) -> list[dict[str, Any]]:
    """Young cycles against full ones, same run of the script: binarytrees 21
    / 1 GiB and gcbench 18 / 256 MiB in stw, the defaults (copy), art-2023,
    art-2025, the seed and minor (both on a memfd of small pages, where
    generations are off unless asked for: young cycles flip only what lies
    above the old generation)."""
    rows = []
    for wl, size, heap in (("binarytrees", 21, "1GiB"), ("gcbench", 18, "256MiB")):
        for label, extra in (("stw", ["--mode", "stw"]), ("defaults", []), ("art-2023", ["--design", "art-2023"]),
                             ("art-2025", ["--design", "art-2025"]), ("seed", ["--design", "seed"]),
                             ("minor", ["--mode", "minor"])):
            for gen in ("off", "on"):
                rows += repeat(wl, ["--size", str(size), "--heap", heap, *extra, "--generational", gen], n,
                               f"{wl} {label} generational {gen}")
    return rows


def section_prefix(n: int) -> list[dict[str, Any]]:
    """Issue #14: with the dense prefix, how much of its live data each cycle
    after the first moves, on the two workloads with a stable old data set
    (binarytrees' long-lived tree, gcbench's long-lived tree and array), in
    the designs with a prefix, full cycles only and with generations."""
    rows = []
    for wl, size, heap in (("binarytrees", 21, "1GiB"), ("gcbench", 18, "256MiB")):
        for label, extra in (("defaults", []), ("art-2023 full only", ["--design", "art-2023", "--generational", "off"]),
                             ("art-2023", ["--design", "art-2023", "--generational", "on"]),
                             ("art-2025 full only", ["--design", "art-2025", "--generational", "off"]),
                             ("art-2025", ["--design", "art-2025", "--generational", "on"])):
            rows += repeat(wl, ["--size", str(size), "--heap", heap, *extra], n, f"{wl} {label}")
    return rows


def prefix_table(rows: list[dict[str, Any]]) -> list[str]:
    """Cycles after the first over all invocations of a point: how many moved
    over half their live bytes, counted as the cycle counts them and for the
    objects marking found alone (without the slid black block)."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    out = ["| point | runs | cycles after the first | moved/live median | max | over half | "
           "marked only: median | max | over half | black slid, max MiB | dense prefix, max MiB |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for lab in labels:
        rs = [r for r in rows if r["label"] == lab and r.get("ok") and r.get("moved_cycles")]
        if not rs:
            out.append(f"| {lab} | 0/{sum(1 for r in rows if r['label'] == lab)} | | | | | | | | | |")
            continue
        pct = lambda k: fmt(100 * float(np.median([r[k] for r in rs if r.get(k) is not None])), 0)  # noqa: E731
        top = lambda k: fmt(100 * max(r[k] for r in rs if r.get(k) is not None), 0)  # noqa: E731
        out.append(f"| {lab} | {len(rs)}/{sum(1 for r in rows if r['label'] == lab)} | "
                   f"{sum(r['moved_cycles'] for r in rs)} | {pct('moved_median')}% | {top('moved_max')}% | "
                   f"{sum(r['moved_over_half'] for r in rs)} | {pct('marked_moved_median')}% | "
                   f"{top('marked_moved_max')}% | {sum(r['marked_over_half'] for r in rs)} | "
                   f"{fmt(max(r['black_moved_max_mib'] for r in rs), 1)} | {fmt(max(r['dense_prefix_max_mib'] for r in rs), 1)} |")
    return out


MOVES_POINTS = [("art-2023 (COPY)", ["--design", "art-2023"]),
                ("art-2025 (MOVE everywhere, runs of 16, as ART)", ["--design", "art-2025"]),
                ("art-2025 --huge-moves (MOVE of whole 2 MiB blocks, COPY elsewhere)",
                 ["--design", "art-2025", "--huge-moves"])]


def section_moves(n: int) -> list[dict[str, Any]]:
    """COPY against MOVE on anonymous memory, same run of the script: what
    compaction costs per moved byte and per page, and how much of it is the
    install ioctls (binarytrees 21 / 1 GiB; lru for the faults)."""
    rows = []
    for wl, args in (("binarytrees", ["--size", "21", "--heap", "1GiB", "--generational", "off"]),
                     ("binarytrees", ["--size", "21", "--heap", "1GiB"]),
                     ("lru", ["--live", "128MiB", "--heap", "512MiB", "--size", "4000"])):
        tag = wl + (", full cycles only" if "off" in args else "")
        for label, extra in MOVES_POINTS:
            rows += repeat(wl, [*args, *extra], n, f"{tag}: {label}")
    return rows


def moves_table(rows: list[dict[str, Any]]) -> list[str]:
    """The moves section, with each point's CPU per moved byte against the
    COPY point of the same workload."""
    out = table(rows, [("wall s", "wall_s", 2), ("worst pause ms", "max_pause_ms", 2),
                       ("worst stall ms", "max_stall_ms", 2), ("compact GB/s (wall)", "compact_gbps", 2),
                       ("CPU ns per KiB moved", "compact_cpu_ns_per_kib", 0),
                       ("CPU us per page built", "compact_cpu_us_per_page", 2),
                       ("install us per page", "install_us_per_page", 2), ("pages per install", "pages_per_install", 1),
                       ("2 MiB blocks", "huge_blocks", 0), ("broken", "broken_blocks", 0)])
    out += ["", "| point | CPU per moved byte vs COPY | CPU per page built vs COPY | worst stall vs COPY |",
            "|---|---|---|---|"]
    labels = list(dict.fromkeys(r["label"] for r in rows))
    for lab in labels:
        tag = lab.split(": ")[0]
        base = med([r for r in rows if r["label"] == f"{tag}: {MOVES_POINTS[0][0]}"], "compact_cpu_ns_per_kib")
        rs, bs = [r for r in rows if r["label"] == lab], [r for r in rows if r["label"] == f"{tag}: {MOVES_POINTS[0][0]}"]
        cells = []
        for key in ("compact_cpu_ns_per_kib", "compact_cpu_us_per_page", "max_stall_ms"):
            v, b = med(rs, key), med(bs, key)
            cells.append(f"{fmt(v / b if v and b else None)}x")
        out.append(f"| {lab} | " + " | ".join(cells) + " |")
    return out


SECTIONS: dict[str, Callable[[int], list[dict[str, Any]]]] = {
    "designs": section_designs, "charge": section_charge, "scaling": section_scaling, "order": section_order, "lru": section_lru,
    "fastpath": section_fastpath, "ahead": section_ahead, "generational": section_generational,
    "moves": section_moves, "inplace": section_inplace, "prefix": section_prefix}


def table(rows: list[dict[str, Any]], cols: list[tuple[str, str, int]]) -> list[str]:
    labels = list(dict.fromkeys(r["label"] for r in rows))
    out = ["| point | runs | " + " | ".join(c[0] for c in cols) + " |",
           "|---|---|" + "---|" * len(cols)]
    for lab in labels:
        rs = [r for r in rows if r["label"] == lab]
        ok = [r for r in rs if r["ok"]]
        out.append(f"| {lab} | {len(ok)}/{len(rs)} | " + " | ".join(fmt(med(rs, k), nd) for _, k, nd in cols) + " |")
    return out


def lat_table(rows: list[dict[str, Any]]) -> list[str]:
    labels = list(dict.fromkeys(r["label"] for r in rows))
    out = ["| point | simple p50 / p99 / p99.9 / max (ms) | metered (100 ms smoothing) p50 / p99 / p99.9 / max (ms) "
           "| metered p99.9 per run (ms) | metered, full smoothing, p99 / p99.9 (ms) | wall s |",
           "|---|---|---|---|---|---|"]
    for lab in labels:
        rs = [r for r in rows if r["label"] == lab and r["ok"] and r.get("lat_ms")]
        if not rs:
            out.append(f"| {lab} | (no latencies) | | | | |")
            continue

        def q(kind: str, p: float) -> str:
            # keys are numbers in a fresh row, strings in one read back from designs.json
            v = [r[kind].get(p, r[kind].get(str(p))) for r in rs if r.get(kind)]
            return f"{np.median(v):.2f}" if v else "-"
        out.append(f"| {lab} | " + " / ".join(q("lat_ms", p) for p in (50, 99, 99.9, 100)) + " | "
                   + " / ".join(q("metered_ms", p) for p in (50, 99, 99.9, 100)) + " | "
                   + ", ".join(f"{r['metered_ms'].get(99.9, r['metered_ms'].get('99.9')):.2f}" for r in rs) + " | "
                   + " / ".join(q("metered_full_ms", p) for p in (99, 99.9)) + f" | {fmt(med(rs, 'wall_s'))} |")
    return out


# the leading columns most sections share, then each section's own
_HEAD = [("wall s", "wall_s", 2), ("worst pause ms", "max_pause_ms", 2), ("worst stall ms", "max_stall_ms", 2)]
_MMU_PSS = [("MMU 10ms", "mmu_10ms", 2), ("peak PSS MiB", "peak_pss_mib", 0)]
SECTION_COLUMNS: dict[str, list[tuple[str, str, int]]] = {
    "charge": [*_HEAD, ("worst alloc wait ms", "max_alloc_wait_ms", 2), ("alloc waits s", "alloc_wait_s", 2),
               *_MMU_PSS, ("beyond used MiB", "beyond_used_mib", 0), ("beyond allocated MiB", "beyond_top_mib", 0),
               ("metadata MiB", "meta_mib", 0)],
    "generational": [*_HEAD, *_MMU_PSS, ("cycles", "cycles", 0), ("young", "young_cycles", 0),
                     ("marked MiB young", "marked_mib_young", 1), ("marked MiB full", "marked_mib_full", 1),
                     ("moved MiB young", "moved_mib_young", 1), ("moved MiB full", "moved_mib_full", 1),
                     ("flip ms p50 young", "flip_p50_ms_young", 2), ("p90 young", "flip_p90_ms_young", 2),
                     ("flip ms p50 full", "flip_p50_ms_full", 2), ("p90 full", "flip_p90_ms_full", 2)],
    "inplace": [*_HEAD, *_MMU_PSS, ("beyond used MiB", "beyond_used_mib", 0), ("in place MiB", "inplace_mib", 0),
                ("compaction ms", "compact_ms_median", 0), ("GC CPU us/page", "compact_cpu_us_per_page", 2),
                ("faults", "faults", 0), ("flip remap ms p90", "flip_remap_p90_ms", 2)],
    "order": [("wall s", "wall_s", 2), ("worst stall ms", "max_stall_ms", 2), ("MMU 10ms", "mmu_10ms", 2),
              ("faults", "faults", 0), ("stalls", "n_stalls", 0)],
}
SECTION_COLUMNS["ahead"] = SECTION_COLUMNS["order"]


def write_md(doc: dict[str, Any], path: str) -> None:
    main = [*_HEAD, *_MMU_PSS, ("cycles", "cycles", 0),
            ("moved MiB/cycle", "moved_mib_per_cycle", 0), ("live MiB/cycle", "live_mib_per_cycle", 0),
            ("compact GB/s", "compact_gbps", 2), ("beyond used MiB", "beyond_used_mib", 0),
            ("beyond allocated MiB", "beyond_top_mib", 0), ("metadata MiB", "meta_mib", 0)]
    lines = ["# The seed's plan, ART's designs and the JVM", "",
             f"Machine: {doc['machine']}. Medians over the invocations of each point; every number from "
             "a real run (`python benchmarks/designs.py`). Runs flagged busy by the noise guard are counted in "
             "the `busy` line of each section.", ""]
    for name, rows in doc["sections"].items():
        busy = sum(1 for r in rows if (r.get("machine") or {}).get("busy"))
        when = (doc.get("section_dates") or {}).get(name, "an earlier session (no date recorded)")
        lines += [f"## {name}", "", f"{len(rows)} runs, {busy} flagged busy; run {when}.", ""]
        if name == "lru":
            lines += lat_table(rows)
        elif name == "fastpath":
            from artgc.fastpath import format_fastpath
            ok = {r["label"]: r for r in rows if r.get("ok")}
            lines += ["```", format_fastpath(ok) if ok else f"failed: {rows[0].get('error')}", "```"]
        elif name == "moves":
            lines += moves_table(rows)
        elif name == "prefix":
            lines += prefix_table(rows)
        elif name in SECTION_COLUMNS:
            lines += table(rows, SECTION_COLUMNS[name])
        else:
            lines += table(rows, main)
        lines += ["", "Commands: " + "; ".join(sorted({r["point"] for r in rows})[:12]) + "", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "designs"))
    ap.add_argument("--only", nargs="*", choices=list(SECTIONS))
    ap.add_argument("--invocations", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    jpath = os.path.join(a.out, "designs.json")
    doc: dict[str, Any] = {"sections": {}}
    if os.path.exists(jpath):
        with open(jpath) as f:
            doc = json.load(f)
    doc["machine"] = f"{platform.node()} {platform.machine()}, Linux {platform.release()}, {os.cpu_count()} CPUs"
    doc["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for name in a.only or list(SECTIONS):
        print(f"== {name}", flush=True)
        doc["sections"][name] = SECTIONS[name](a.invocations)
        doc.setdefault("section_dates", {})[name] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        with open(jpath, "w") as f:
            json.dump(doc, f, indent=1)
        write_md(doc, os.path.join(a.out, "DESIGNS.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
