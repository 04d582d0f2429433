"""Figures against time: a timeline of several GC cycles with every pause
visible, and memory (PSS, live data) through the run."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import metrics
from ..sizes import format_size
from . import _data as D
from ._style import fmt_size_axis, grid, legend_below, note, order, skip, style

_PREF = ["minor/sigbus", "minor/thread", "copy/sigbus", "move/sigbus", "copy/thread", "move/thread", "stw"]
N_CYCLES = 3
MIN_WIDTH = 0.004     # the narrowest bar drawn, as a fraction of the window: a 1 us pause stays visible


def pick_cycles(doc: Mapping[str, Any]) -> tuple[D.Run, list[dict[str, Any]]] | None:
    """A run worth looking at (a concurrent mode, minor/sigbus first, the
    reference configuration, binarytrees) and up to N_CYCLES consecutive
    cycles, starting just before the cycle whose mutators faulted most."""
    runs = [r for r in D.series(doc) if not D.is_jvm(r) and r.get("cycles")
            and any(c.get("t_end_ns") for c in r["cycles"])]
    if not runs:
        return None
    refs = D.reference_configs(doc)

    def rank(r: D.Run) -> tuple[Any, ...]:
        lab = D.label(r)
        return (_PREF.index(lab) if lab in _PREF else 99, refs.get(str(r["workload"])) != D.config(r),
                r["workload"] != "binarytrees", -len(r["cycles"]), -(int(r.get("heap_bytes") or 0)))

    run = min(runs, key=rank)
    cyc = [c for c in run["cycles"] if int(c.get("t_end_ns") or 0) > int(c.get("t_start_ns") or 0)]
    if not cyc:
        return None
    best = max(range(len(cyc)), key=lambda i: (int(cyc[i].get("faults") or 0), int(cyc[i].get("moved_bytes") or 0)))
    first = max(0, min(best - 1, len(cyc) - N_CYCLES))
    return run, cyc[first:first + N_CYCLES]


_PHASES = (("mark", "t_mark_start_ns", "t_mark_end_ns", "#6baed6"),
           ("prepare", "t_mark_end_ns", "t_flip_start_ns", "#c6dbef"),
           ("flip", "t_flip_start_ns", "t_flip_end_ns", "#fb6a4a"),
           ("compact", "t_flip_end_ns", "t_compact_end_ns", "#74c476"),
           ("release", "t_compact_end_ns", "t_end_ns", "#c7e9c0"))
_KINDS = ((metrics.EV_PAUSE, "pause", "#d62728"),
          (metrics.EV_FAULT, "fault stall", "#ff7f0e"),
          (metrics.EV_ALLOC_WAIT, "allocation wait", "#9467bd"))


def plot_cycle_timeline(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Several consecutive GC cycles: the collector's phases and each
    mutator's pauses (drawn at least MIN_WIDTH wide and marked with a
    triangle), fault stalls (ticks) and allocation waits."""
    pick = pick_cycles(doc)
    if pick is None:
        return skip(notes, "cycle_timeline: no artgc run with a finished cycle")
    run, cycles = pick
    t_a = int(cycles[0]["t_start_ns"])
    t_b = int(cycles[-1]["t_end_ns"])
    margin = max((t_b - t_a) // 25, 10_000)
    lo, hi = t_a - margin, t_b + margin
    ev = metrics.events_columns(run.get("events"))
    sel = (ev["t_start_ns"] + ev["dur_ns"] >= lo) & (ev["t_start_ns"] <= hi)
    threads = sorted({int(t) for t in ev["thread"][sel]}) or list(range(int(run.get("mutators") or 1)))
    fig = Figure(figsize=(12, 2.4 + 0.6 * (len(threads) + 1)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ms = 1e6
    span_ms = (hi - lo) / ms
    minw = span_ms * MIN_WIDTH

    def x(t: float) -> float:
        return (t - t_a) / ms

    top = len(threads)
    for c in cycles:
        for name, a, b, col in _PHASES:
            ta, tb = c.get(a), c.get(b)
            if ta and tb and int(tb) > int(ta):
                w = (int(tb) - int(ta)) / ms
                ax.broken_barh([(x(int(ta)), max(w, minw if name == "flip" else 0.0))], (top - 0.35, 0.7),
                               facecolors=col, edgecolor="none", label=f"GC: {name}",
                               zorder=3 if name == "flip" else 2)
        ax.annotate(f"cycle {c.get('index', '?')}" + (f" ({c['kind']})" if c.get("kind") else "")
                    + f"\npause {metrics.format_ns(c.get('pause_ns'))}, {c.get('faults', 0)} faults",
                    (x(int(c["t_start_ns"])), top + 0.42), fontsize=7, va="bottom")
    n_pauses = 0
    for row, tid in enumerate(threads):
        for kind, name, col in _KINDS:
            m = sel & (ev["thread"] == tid) & (ev["kind"] == kind)
            if not np.any(m):
                continue
            starts = [x(int(s)) for s in ev["t_start_ns"][m]]
            widths = [max(int(d) / ms, minw) for d in ev["dur_ns"][m]]
            h = 0.6 if kind == metrics.EV_PAUSE else 0.36
            ax.broken_barh(list(zip(starts, widths)), (row - h / 2, h), facecolors=col,
                           edgecolor=col if kind == metrics.EV_PAUSE else "none", label=name)
            if kind == metrics.EV_PAUSE:
                n_pauses += len(starts)
                ax.plot([s + w / 2 for s, w in zip(starts, widths)], [row + 0.45] * len(starts), linestyle="none",
                        marker="v", color=col, markersize=7, label="pause (marker)")
            elif kind == metrics.EV_FAULT:
                ax.plot(starts, [row] * len(starts), linestyle="none", marker="|", color=col, markersize=10)
    ax.set_yticks(list(range(len(threads))) + [top], [f"mutator {t}" for t in threads] + ["collector"])
    ax.set_ylim(-0.6, top + 1.1)
    ax.set_xlim(x(lo), x(hi))
    ax.set_xlabel(f"time since cycle {cycles[0].get('index', '?')} started (ms)")
    ax.grid(True, axis="x", alpha=0.3)
    legend_below(fig, [ax], ncol=6)
    fig.suptitle(f"{len(cycles)} consecutive GC cycles of {run['workload']} size {run.get('size')}, "
                 f"{D.label(run)}, heap {format_size(int(run['heap_bytes']))}: {n_pauses} pauses", fontsize=11)
    note(fig, [f"bars narrower than {MIN_WIDTH * 100:.1f}% of the window ({metrics.format_ns(minw * ms)}) are "
               "drawn at that width so that every pause shows; each pause is also marked with a triangle"])
    return fig


def _timeline(r: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
    tl = r.get("memory_timeline")
    if not isinstance(tl, Mapping):
        return None
    t, pss = tl.get("t_ns"), tl.get("pss_bytes")
    if not isinstance(t, list) or not isinstance(pss, list) or not t or len(t) != len(pss):
        return None
    out = {"t": np.asarray(t, dtype=np.float64), "pss": np.asarray(pss, dtype=np.float64)}
    lt, lb = tl.get("live_t_ns"), tl.get("live_bytes")
    if isinstance(lt, list) and isinstance(lb, list) and len(lt) == len(lb):
        out["live_t"] = np.asarray(lt, dtype=np.float64)
        out["live"] = np.asarray(lb, dtype=np.float64)
    return out


def plot_memory_timeline(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """PSS (top) and the live data after each cycle (bottom) against time,
    one line per mode and JVM collector, per workload (first invocation of
    each series of the workload's reference configuration)."""
    refs = D.reference_configs(doc)
    panels = []
    left: list[str] = []
    for wl in D.workloads(doc):
        runs = D.ref_runs(doc, wl, refs[wl])
        got = {}
        for lab, rs in runs.items():
            tl = next((t for t in (_timeline(r) for r in rs) if t is not None), None)
            if tl is None:
                left.append(f"{lab} ({wl})")
            else:
                got[lab] = tl
        if got:
            panels.append((wl, got))
    if not panels:
        return skip(notes, "memory_timeline: skipped: no run has a memory_timeline (results older than the "
                         "memory keys)")
    panels = panels[:3]
    fig, axes = grid(2 * len(panels), "Memory over time: PSS of the process holding the heap (left) and live "
                     "data after each cycle (right)", cols=2, w=6.4, h=3.6)
    for i, (wl, got) in enumerate(panels):
        a_pss, a_live = axes[2 * i], axes[2 * i + 1]
        heap = refs[wl][1]
        for lab in order(got):
            tl = got[lab]
            st = style(lab)
            kw = dict(color=st["color"], marker=st["marker"], markerfacecolor=st["markerfacecolor"],
                      markeredgecolor=st["markeredgecolor"], markersize=4)
            a_pss.plot(tl["t"] / 1e9, tl["pss"], linestyle=st["linestyle"], linewidth=1.4,
                       markevery=max(1, tl["t"].size // 8), label=lab, **kw)
            if "live" in tl and tl["live"].size:
                a_live.plot(tl["live_t"] / 1e9, tl["live"], linestyle=st["linestyle"], linewidth=0.9,
                            label=lab, **kw)
        if heap:
            for ax in (a_pss, a_live):
                ax.axhline(heap, color="#999999", linestyle=(0, (1, 2)), linewidth=1, label="heap budget")
        for ax, ylab in ((a_pss, "PSS"), (a_live, "live data after the cycle")):
            ax.set_ylim(0, None)
            fmt_size_axis(ax, "y")
            ax.set_xlabel("time since the run started (s)")
            ax.set_ylabel(ylab)
            ax.grid(True, alpha=0.3)
        a_pss.set_title(f"{D.panel_title(wl, refs[wl])}: PSS", fontsize=9.5)
        a_live.set_title(f"{wl}: live data", fontsize=9.5)
    legend_below(fig, axes)
    note(fig, [D.left_out(left, "no memory_timeline")])
    return fig
