"""Tail-first latency figures: percentile curves (p50 .. p99.99) on a log
time axis, the x axis stretched towards the tail (-log10(1 - q)), one panel
per workload and runtime (artgc | JVM) or per delivery, one legend below."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from . import _data as D
from ._style import fmt_time_axis, grid, is_jvm, legend_below, note, order, skip, style, wrap

TICKS = (50.0, 90.0, 99.0, 99.9, 99.99)
_DENSE = 100.0 * (1.0 - np.logspace(np.log10(0.5), -4, 60))   # p50 .. p99.99


def _tail_x(q: np.ndarray | float) -> np.ndarray:
    return -np.log10(1.0 - np.asarray(q, dtype=np.float64) / 100.0)


def percentile_curve(ax: Any, values: np.ndarray, lab: str) -> bool:
    """Draw one series' percentiles p50..p99.99 (only as far as its sample
    count reaches: n values resolve up to p(100 (1 - 1/n))), with the mode's
    marker at p50/p90/p99/p99.9/p99.99 and at the last percentile drawn."""
    v = np.sort(values[np.isfinite(values) & (values > 0)])
    if v.size == 0:
        return False
    qmax = min(99.99, 100.0 * (1.0 - 1.0 / v.size)) if v.size > 1 else 50.0
    qs = np.unique(np.concatenate((_DENSE[_DENSE <= qmax], [t for t in TICKS if t <= qmax], [qmax])))
    ys = np.percentile(v, qs)
    marks = [i for i, q in enumerate(qs) if q in TICKS or q == qmax]
    st = style(lab)
    ax.plot(_tail_x(qs), ys, color=st["color"], linestyle=st["linestyle"], linewidth=1.5,
            marker=st["marker"], markevery=marks, markersize=5, markerfacecolor=st["markerfacecolor"],
            markeredgecolor=st["markeredgecolor"],
            label=f"{lab}")
    return True


def finish_axis(ax: Any, ylabel: str, title: str) -> None:
    """Log time y axis; x from p50 to the furthest percentile any curve
    reached (at least p99), ticks at p50/p90/p99/p99.9/p99.99."""
    ax.set_yscale("log")
    reach = max([float(np.max(ln.get_xdata())) for ln in ax.get_lines() if len(ln.get_xdata())] + [_tail_x(99.0)])
    ax.set_xlim(_tail_x(50.0) - 0.1, reach + 0.15)
    ticks = [t for t in TICKS if _tail_x(t) <= reach + 0.2]
    ax.set_xticks(_tail_x(np.array(ticks)), [f"p{t:g}" for t in ticks])
    fmt_time_axis(ax, "y")
    ax.set_xlabel("percentile (tail to the right)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9.5)
    ax.grid(True, which="both", alpha=0.3)


def _split(by_lab: Mapping[str, np.ndarray], runs: Mapping[str, list[D.Run]]) -> list[tuple[str, dict[str, Any]]]:
    """artgc's series and the JVM's, as separate panels when both exist."""
    art = {k: v for k, v in by_lab.items() if not is_jvm(runs[k][0])}
    jvm = {k: v for k, v in by_lab.items() if is_jvm(runs[k][0])}
    return [(name, part) for name, part in (("artgc", art), ("JVM", jvm)) if part]


def _n_note(by_lab: Mapping[str, np.ndarray]) -> str:
    return wrap("n: " + "; ".join(f"{k} {int(np.count_nonzero(v > 0))}" for k, v in by_lab.items()), 78)


def plot_pause_percentiles(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Pause times per mode and JVM collector: percentiles p50..p99.99 of
    every pause of every mutator, pooled over invocations, log time axis."""
    refs = D.reference_configs(doc)
    panels: list[tuple[str, str, dict[str, np.ndarray]]] = []
    left: list[str] = []
    for wl in D.workloads(doc):
        runs = D.ref_runs(doc, wl, refs[wl])
        vals = {lab: D.pooled(rs, "pauses_ns") for lab, rs in runs.items()}
        left += [f"{lab} ({wl})" for lab, v in vals.items() if not np.any(v > 0)]
        vals = {lab: v for lab, v in vals.items() if np.any(v > 0)}
        for side, part in _split(vals, runs):
            panels.append((f"{D.panel_title(wl, refs[wl])}: {side}", _n_note(part), part))
    if not panels:
        return skip(notes, "pause_cdf: no run has a pause")
    fig, axes = grid(len(panels), "Pause times, tail first: percentiles of every pause (log scale); "
                     "each curve ends where its sample count does", cols=2)
    for ax, (title, counts, part) in zip(axes, panels):
        for lab in order(part):
            percentile_curve(ax, part[lab], lab)
        finish_axis(ax, "pause (log scale)", f"{title}\n{counts}")
    legend_below(fig, axes)
    note(fig, [D.left_out(left, "no pause: the collector never ran")])
    return fig


_FLOORS = (("minor_continue_sigbus_us", "floor: minor fault + CONTINUE, SIGBUS", "sigbus"),
           ("missing_copy_sigbus_us", "floor: missing fault + COPY, SIGBUS", "sigbus"),
           ("minor_continue_thread_us", "floor: minor fault + CONTINUE, handler thread", "thread"),
           ("missing_copy_thread_us", "floor: missing fault + COPY, handler thread", "thread"))


def plot_fault_stalls(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Fault stalls per mode, one panel per workload and delivery, with the
    probe's raw fault round trips as horizontal floor lines."""
    refs = D.reference_configs(doc)
    probe = doc.get("probe")
    limits = (probe.get("limits") or {}) if isinstance(probe, Mapping) else {}
    panels: list[tuple[str, str, dict[str, np.ndarray]]] = []
    for wl in D.workloads(doc):
        runs = D.ref_runs(doc, wl, refs[wl])
        for dl in ("sigbus", "thread"):
            part = {lab: D.pooled(rs, "fault_stalls_ns") for lab, rs in runs.items()
                    if not is_jvm(rs[0]) and rs[0].get("delivery") == dl}
            part = {k: v for k, v in part.items() if np.any(v > 0)}
            if part:
                panels.append((dl, f"{D.panel_title(wl, refs[wl])}, delivery {dl}\n{_n_note(part)}", part))
    if not panels:
        return skip(notes, "fault_stalls: no run has a fault stall")
    fig, axes = grid(len(panels), "Fault stalls, tail first: percentiles per mode (log scale)\n"
                     "(horizontal lines: the raw fault round trip measured by artgc probe)", cols=2)
    floor_colors = {"minor": "#2ca02c", "missing": "#1f77b4"}
    for ax, (dl, title, part) in zip(axes, panels):
        for lab in order(part):
            percentile_curve(ax, part[lab], lab)
        for key, text, fdl in _FLOORS:
            v = limits.get(key)
            if fdl == dl and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
                ax.axhline(v * 1e3, color=floor_colors[key.split("_")[0]], linestyle=(0, (4, 3)),
                           linewidth=1.0, alpha=0.8, label=f"{text} ({v:.3g} us)")
        finish_axis(ax, "fault to resumption (log scale)", title)
    legend_below(fig, axes, ncol=3)
    return fig


def plot_request_latency(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Request latency, simple and metered, p50..p99.99 (log scale), of
    artgc's modes and the JVM collectors on the same request workload."""
    runs_lat = [r for r in D.series(doc) if D.has_values(r, "latency_ns")]
    if not runs_lat:
        return skip(notes, "request_latency: skipped: no run has latency_ns (not a request workload, "
                         "or results older than the request-latency keys)")
    by_wl: dict[str, list[D.Run]] = {}
    for r in runs_lat:
        by_wl.setdefault(str(r["workload"]), []).append(r)
    wls = [w for w in D.WORKLOAD_ORDER if w in by_wl] + sorted(w for w in by_wl if w not in D.WORKLOAD_ORDER)
    wls = wls[:2]
    fig, axes = grid(2 * len(wls), "Request latency, tail first: simple (left) and metered (right, DaCapo's "
                     "100 ms smoothing: a stall also delays the requests queued behind it)", cols=2, sharey=True)
    missing: list[str] = []
    for i, wl in enumerate(wls):
        art = [r for r in by_wl[wl] if not is_jvm(r)]
        cfgs = [D.config(r) for r in art] or [D.config(r) for r in by_wl[wl]]
        cfg = max(set(cfgs), key=lambda c: (cfgs.count(c), c[1] or 0))
        runs = {lab: [r for r in rs if D.has_values(r, "latency_ns")] for lab, rs in D.ref_runs(doc, wl, cfg).items()}
        runs = {k: v for k, v in runs.items() if v}
        for j, (key, what) in enumerate((("latency_ns", "simple"), ("metered_latency_ns", "metered"))):
            ax = axes[2 * i + j]
            drew = []
            for lab in order(runs):
                v = D.pooled(runs[lab], key)
                if percentile_curve(ax, v, lab):
                    drew.append(f"{lab} n={v.size}")
                elif key == "metered_latency_ns":
                    missing.append(lab)
            finish_axis(ax, f"{what} request latency (log scale)",
                        f"{D.panel_title(wl, cfg)}: {what}\n" + wrap("; ".join(drew), 62))
    legend_below(fig, axes)
    note(fig, [D.left_out(missing, "no metered_latency_ns")])
    return fig


__all__ = ["plot_pause_percentiles", "plot_fault_stalls", "plot_request_latency", "percentile_curve",
           "finish_axis"]
