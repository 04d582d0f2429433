"""Memory through one GC cycle: what the heap costs (PSS above the process
without its heap), its used bytes, and the difference, against the target
of 16 MiB plus metadata beyond the used bytes (issue #13)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import memory
from ..sizes import format_size
from . import _data as D
from ._style import fmt_size_axis, grid, legend_below, note, order, skip

TARGET_BYTES = 16 << 20
_PHASES = (("mark", "t_mark_start_ns", "t_mark_end_ns", "#deebf7"),
           ("flip", "t_flip_start_ns", "t_flip_end_ns", "#fcbba1"),
           ("compact", "t_flip_end_ns", "t_compact_end_ns", "#e5f5e0"))
MAX_PANELS = 6


def worst_cycle(r: Mapping[str, Any]) -> tuple[dict[str, Any], np.ndarray, np.ndarray] | None:
    """The cycle with the most memory beyond the used bytes in a sample
    taken during it, and the run's (times since t0, beyond-used) columns."""
    tl = r.get("memory_timeline") or {}
    t, b = memory.beyond_used(tl, int(r.get("base_pss_bytes") or 0))
    if not t:
        return None
    ta, ba = np.asarray(t, dtype=np.float64), np.asarray(b, dtype=np.float64)
    t0 = int(r.get("t0_ns") or 0)
    best: tuple[float, dict[str, Any]] | None = None
    for c in r.get("cycles") or []:
        if not (c.get("t_start_ns") and c.get("t_end_ns")):
            continue
        m = (ta >= int(c["t_start_ns"]) - t0) & (ta <= int(c["t_end_ns"]) - t0)
        if np.any(m) and (best is None or float(ba[m].max()) > best[0]):
            best = (float(ba[m].max()), c)
    return None if best is None else (best[1], ta, ba)


def plot_memory_cycle(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Per artgc series of the first workload with memory samples: its
    worst cycle, the heap's memory, used bytes and memory beyond used."""
    picks: list[tuple[str, Mapping[str, Any], tuple[dict[str, Any], np.ndarray, np.ndarray]]] = []
    for wl in D.workloads(doc):
        refs = D.reference_configs(doc)
        for lab, rs in D.ref_runs(doc, wl, refs[wl]).items():
            if lab.startswith("jvm"):
                continue
            for r in rs:
                w = worst_cycle(r)
                if w is not None:
                    picks.append((lab, r, w))
                    break
        if picks:
            break
    if not picks:
        return skip(notes, "memory_cycle: skipped: no artgc run has used_bytes in its memory_timeline "
                           "(results older than that key)")
    labs = order([p[0] for p in picks])[:MAX_PANELS]
    by = {p[0]: p for p in picks}
    fig, axes = grid(len(labs), "Memory through each mode's worst cycle", cols=2, w=6.4, h=3.4)
    for ax, lab in zip(axes, labs):
        _, r, (c, t, beyond) = by[lab]
        t0 = int(r.get("t0_ns") or 0)
        tl = r["memory_timeline"]
        a, e = int(c["t_start_ns"]) - t0, int(c["t_end_ns"]) - t0
        pad = max((e - a) * 0.3, 5e6)
        m = (t >= a - pad) & (t <= e + pad)
        x = (t[m] - a) / 1e6
        used = np.asarray(tl["used_bytes"], dtype=np.float64)[m]
        meta = max(tl.get("meta_bytes") or [0])
        for name, ka, kb, col in _PHASES:
            if c.get(ka) and c.get(kb) and int(c[kb]) > int(c[ka]):
                ax.axvspan((int(c[ka]) - t0 - a) / 1e6, (int(c[kb]) - t0 - a) / 1e6, color=col, label=name)
        # the heap's memory itself, not used + beyond (beyond is clamped at 0:
        # where from-space charged as used is partly given back already,
        # the used bytes exceed what the heap holds)
        held = np.asarray(tl["pss_bytes"], dtype=np.float64)[m] - float(r.get("base_pss_bytes") or 0)
        ax.plot(x, held, color="#1f77b4", linewidth=1.4, marker=".", label="heap's memory")
        ax.plot(x, used, color="#555555", linewidth=1.2, linestyle="--", label="used bytes")
        ax.plot(x, beyond[m], color="#d62728", linewidth=1.4, marker=".", label="beyond used")
        ax.axhline(TARGET_BYTES + meta, color="#d62728", linestyle=":", linewidth=1,
                   label="16 MiB + metadata")
        ax.set_ylim(0, None)
        fmt_size_axis(ax, "y")
        ax.set_xlabel(f"ms since cycle {c.get('index', '?')} started")
        peak = float(beyond[(t >= a) & (t <= e)].max())
        ax.set_title(f"{lab}, {r['workload']} heap {format_size(int(r['heap_bytes']))}: "
                     f"beyond used at most {peak / 2**20:.0f} MiB (metadata {meta / 2**20:.0f})", fontsize=9)
        ax.grid(True, alpha=0.3)
    legend_below(fig, axes, ncol=4)
    note(fig, ["heap's memory = process PSS - PSS before the heap was made (the sampler's counters); "
               "beyond used = heap's memory - used bytes, at least 0",
               "samples every 15 ms or more: a shorter peak between two samples is not seen"])
    return fig
