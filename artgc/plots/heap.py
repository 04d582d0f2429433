"""Figures against heap size: worst / p99 pause and peak PSS, each point the
median over invocations with its 95% confidence interval, x the heap as a
multiple of the workload's minimum heap when the results have it (with the
absolute size on a second axis), else the absolute size."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import metrics
from . import _data as D
from ._style import describe, fmt_size_axis, fmt_time_axis, grid, legend_below, note, order, skip, style

Metric = Callable[[D.Run], float | None]


def _worst_pause(r: D.Run) -> float | None:
    p = np.asarray(r.get("pauses_ns") or [], dtype=np.float64)
    p = p[p > 0]
    return float(p.max()) if p.size else None


def _p99_pause(r: D.Run) -> float | None:
    p = np.asarray(r.get("pauses_ns") or [], dtype=np.float64)
    p = p[p > 0]
    return metrics.percentile(p, 99) if p.size else None


def _peak_pss(r: D.Run) -> float | None:
    v = r.get("peak_pss_bytes")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None


def _groups(doc: Mapping[str, Any], metric: Metric) -> tuple[dict[tuple[Any, ...], dict[str, dict[int, list[D.Run]]]],
                                                              list[str]]:
    """(workload, size, mutators, gc_threads) -> series -> heap -> invocations
    that have the metric; and the series left out for lacking it."""
    groups: dict[tuple[Any, ...], dict[str, dict[int, list[D.Run]]]] = {}
    left: list[str] = []
    for r in D.series(doc):
        if not r.get("heap_bytes"):
            continue
        lab = D.label(r)
        if metric(r) is None:
            left.append(f"{lab} ({r.get('workload')} {D.fmt_heap(r)})")
            continue
        key = (r["workload"], r.get("size"), r.get("mutators"), None if D.is_jvm(r) else r.get("gc_threads"))
        groups.setdefault(key, {}).setdefault(lab, {}).setdefault(int(r["heap_bytes"]), []).append(r)
    # a JVM peer has no GC-thread count: it joins the artgc group of its workload/size/mutators
    for key in [k for k in groups if k[3] is None]:
        twins = [k for k in groups if k[:3] == key[:3] and k[3] is not None]
        if twins:
            for lab, by_heap in groups.pop(key).items():
                groups[twins[0]].setdefault(lab, {}).update(by_heap)
    return groups, left


def _multiple(runs: list[D.Run]) -> float | None:
    vals = [r.get("heap_multiple") for r in runs]
    ok = [float(v) for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0]
    return float(np.median(ok)) if ok and len(ok) == len(vals) else None


def _against_heap(doc: Mapping[str, Any], metrics_: list[tuple[str, Metric, str]], title: str,
                  y_is_time: bool, notes: list[str] | None, name: str,
                  ref_lines: bool = False) -> Figure | None:
    groups, left = _groups(doc, metrics_[0][1])
    def nheaps(kv: tuple[Any, dict[str, dict[int, list[D.Run]]]]) -> int:
        return len({h for d in kv[1].values() for h in d})
    panels = sorted(groups.items(), key=lambda kv: (-nheaps(kv), str(kv[0])))
    multi = [kv for kv in panels if nheaps(kv) > 1]
    panels = (multi or panels)[:3]
    if not panels:
        return skip(notes, f"{name}: skipped: no run has the data ({metrics_[0][0]})")
    fig, axes = grid(len(panels) * len(metrics_), title, cols=len(metrics_), w=6.2, h=4.0)
    bars_range = False
    absolute_only: list[str] = []
    for gi, (key, by_lab) in enumerate(panels):
        wl, size, mut, gct = key
        # the x axis: heap multiples when every point has one
        mult = {(lab, h): _multiple(rs) for lab, d in by_lab.items() for h, rs in d.items()}
        use_mult = all(v is not None for (lab, _h), v in mult.items() if not D.is_jvm(by_lab[lab][_h][0]))
        use_mult = use_mult and any(v is not None for v in mult.values())
        minheap = None
        if use_mult:
            ratios = [h / v for (lab, h), v in mult.items() if v]
            minheap = float(np.median(ratios))
        else:
            absolute_only.append(f"{wl} size {size}")
        for mi, (mname, metric, ylab) in enumerate(metrics_):
            ax = axes[gi * len(metrics_) + mi]
            for lab in order(by_lab):
                xs, ys, lo, hi = [], [], [], []
                for h in sorted(by_lab[lab]):
                    rs = by_lab[lab][h]
                    ci = D.median_ci([metric(r) for r in rs])
                    if ci is None:
                        continue
                    bars_range |= len(rs) < 6 and len(rs) > 1
                    x = (h / minheap) if (use_mult and minheap) else h
                    xs.append(x)
                    ys.append(ci[0])
                    lo.append(ci[0] - ci[1])
                    hi.append(ci[2] - ci[0])
                if not xs:
                    continue
                st = style(lab)
                ax.errorbar(xs, ys, yerr=[lo, hi], color=st["color"], marker=st["marker"],
                            linestyle=st["linestyle"], markerfacecolor=st["markerfacecolor"],
                            markeredgecolor=st["markeredgecolor"], capsize=3, linewidth=1.4, markersize=6,
                            label=lab)
            if ref_lines:
                hs = sorted({h for d in by_lab.values() for h in d})
                xs = [(h / minheap) if (use_mult and minheap) else h for h in hs]
                ax.plot(xs, hs, color="#999999", linestyle=(0, (1, 2)), linewidth=1,
                        label="heap budget (heap_bytes)")
            if y_is_time:
                ax.set_yscale("log")
            else:
                ax.set_ylim(0, None)
            if use_mult and minheap:
                ax.set_xlabel("heap (multiple of the minimum heap)")
                ax.set_xscale("log", base=2)
                ax.xaxis.set_major_formatter(D.times_formatter())
                sec = ax.secondary_xaxis("top", functions=(lambda x, m=minheap: x * m,
                                                           lambda b, m=minheap: b / m))
                fmt_size_axis(sec)
                sec.set_xlabel("heap (absolute)", fontsize=8)
            else:
                ax.set_xscale("log", base=2)
                fmt_size_axis(ax)
                ax.set_xlabel("heap capacity (absolute, log scale)")
            if y_is_time:
                fmt_time_axis(ax, "y")
            else:
                fmt_size_axis(ax, "y")
            ax.set_ylabel(ylab)
            ax.set_title(f"{mname}: {describe(wl, (size, None, mut, gct))}", fontsize=9.5)
            ax.grid(True, which="both", alpha=0.3)
    legend_below(fig, axes)
    note(fig, ["points: median over invocations; bars: 95% CI of the median"
               + (" (the min-max range where fewer than 6 invocations)" if bars_range else ""),
               (f"no heap_multiple in the runs (older results): absolute heap for {', '.join(dict.fromkeys(absolute_only))}"
                if absolute_only else ""),
               D.left_out(left, f"no {metrics_[0][0]}")])
    return fig


def plot_pause_vs_heap(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Worst and p99 pause against heap size, one line per mode and collector."""
    return _against_heap(doc, [("worst pause", _worst_pause, "worst pause per run (log scale)"),
                               ("p99 pause", _p99_pause, "p99 pause per run (log scale)")],
                         "Pause against heap size", True, notes, "pause_vs_heap")


def plot_peak_pss(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Peak PSS (proportional set size of the process holding the heap)
    against heap size, with the heap budget as a reference line."""
    return _against_heap(doc, [("peak PSS", _peak_pss, "peak PSS")],
                         "Peak memory (PSS) against heap size (dotted: the heap budget itself)",
                         False, notes, "peak_pss", ref_lines=True)
