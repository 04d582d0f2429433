"""The plots, from a bench results.json or a single run's JSON (headless).

Each figure is written as PNG and SVG and stands on its own (title, units,
legend):
  pause_cdf          pause-time distribution per mode (JVM peers included)
  fault_stalls       fault-stall distribution per mode x delivery, with the
                     probe's raw round trips as vertical floor lines
  pause_vs_heap      worst and p99 pause against heap size (log-log)
  mmu                minimum mutator utilization per mode
  cycle_timeline     one cycle: the collector's phases and each mutator's
                     pauses and fault stalls
  heap_map           live bytes per page before and after a compaction
"""
from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from . import metrics  # noqa: E402
from .results import all_series, load, ok_runs, series_label, validate  # noqa: E402
from .sizes import format_size  # noqa: E402

Run = dict[str, Any]
PAGE = 4096

_COLORS = {
    "stw": "#222222", "copy/sigbus": "#1f77b4", "copy/thread": "#6baed6", "minor/sigbus": "#2ca02c",
    "minor/thread": "#98df8a", "move/sigbus": "#9467bd", "move/thread": "#c5b0d5",
    "jvm-serial": "#7f7f7f", "jvm-g1": "#8c564b", "jvm-zgc": "#d62728", "jvm-shenandoah": "#ff7f0e",
}
_EXTRA = ["#17becf", "#bcbd22", "#e377c2", "#aec7e8", "#ffbb78", "#c49c94"]


def _color(label: str) -> str:
    base = label.split(" ")[0]
    if base in _COLORS:
        return _COLORS[base]
    return _EXTRA[sum(map(ord, label)) % len(_EXTRA)]


def _style(label: str) -> str:
    return ":" if label.startswith("jvm-") else ("--" if " " in label else "-")


def _fmt_time_axis(ax: Any, axis: str = "x") -> None:
    """Label a log time axis (ns values) in ns/us/ms/s; call after drawing.
    Narrow ranges get ticks at 1, 2 and 5 of each decade."""
    a = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    if lo > 0 and hi > 0 and np.log10(hi / lo) < 2.5:
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _p: metrics.format_ns(v) if v > 0 else "0"))
    a.set_minor_formatter(NullFormatter())


def _config(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (r.get("size"), r.get("heap_bytes"), r.get("mutators"), r.get("gc_threads"))


def _describe(wl: str, cfg: tuple[Any, ...]) -> str:
    size, heap, mut, gct = cfg
    s = f"{wl} size {size}, heap {format_size(int(heap)) if heap else '?'}"
    if mut and mut != 1:
        s += f", {mut} mutators"
    if gct and gct != 1:
        s += f", {gct} GC threads"
    return s


def reference_configs(doc: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Per workload, the configuration (size, heap, mutators, GC threads) with
    the most successful runs (ties: the larger heap, then size): the one the
    per-mode comparisons are drawn for."""
    out: dict[str, tuple[Any, ...]] = {}
    by: dict[str, Counter[tuple[Any, ...]]] = {}
    for r in ok_runs(doc):
        by.setdefault(str(r["workload"]), Counter())[_config(r)] += 1
    for wl, cnt in by.items():
        out[wl] = max(cnt, key=lambda c: (cnt[c], c[1] or 0, c[0] or 0, -(c[2] or 0), -(c[3] or 0)))
    return out


def _ref_runs(doc: Mapping[str, Any], wl: str, cfg: tuple[Any, ...]) -> dict[str, list[Run]]:
    """The ok runs of a workload's reference configuration, by series label;
    JVM peers join binarytrees (the same depth preferred)."""
    out: dict[str, list[Run]] = {}
    for r in ok_runs(doc):
        if r["workload"] == wl and _config(r) == cfg:
            out.setdefault(series_label(r), []).append(r)
    if wl == "binarytrees":
        peers = [p for p in doc.get("peers", []) if p.get("status", "ok") == "ok"]
        same = [p for p in peers if p.get("size") == cfg[0]]
        for p in same or peers:
            lab = series_label(p) + ("" if same else f" (depth {p.get('size')})")
            out.setdefault(lab, []).append(p)
    return out


def _order(labels: list[str]) -> list[str]:
    rank = {"stw": 0, "copy": 1, "minor": 2, "move": 3,
            "jvm-serial": 4, "jvm-g1": 5, "jvm-zgc": 6, "jvm-shenandoah": 7}
    return sorted(labels, key=lambda s: (s.startswith("jvm-"), rank.get(s.split("/")[0].split(" ")[0], 9), s))


def _pooled(runs: list[Run], key: str) -> np.ndarray:
    arrs = [np.asarray(r.get(key) or [], dtype=np.float64) for r in runs]
    return np.concatenate(arrs) if arrs else np.zeros(0)


def _grid(n: int, title: str, h: float = 4.2) -> tuple[Figure, list[Any]]:
    cols = 1 if n == 1 else 2
    rows = -(-n // cols)
    fig = Figure(figsize=(6.4 * cols, h * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    fig.suptitle(title, fontsize=12)
    return fig, axes


def _cdf(ax: Any, values: np.ndarray, label: str) -> None:
    v = np.sort(values[values > 0])
    if v.size == 0:
        return
    y = np.arange(1, v.size + 1) / v.size
    # start at 0 so that a few (even one) values still draw a visible step
    ax.step(np.concatenate(([v[0]], v)), np.concatenate(([0.0], y)), where="post",
            label=f"{label} (n={v.size}, max {metrics.format_ns(v[-1])})",
            color=_color(label), linestyle=_style(label), linewidth=1.6,
            marker="o" if v.size <= 12 else None, markersize=3)


def _workloads(doc: Mapping[str, Any], key: str) -> list[str]:
    refs = reference_configs(doc)
    order = ["binarytrees", "gcbench", "lru", "graph"]
    wls = [w for w in order if w in refs] + sorted(w for w in refs if w not in order)
    return [w for w in wls if any(len(r.get(key) or []) for rs in _ref_runs(doc, w, refs[w]).values()
                                  for r in rs)]


# --------------------------------------------------------------------------- the plots

def plot_pause_cdf(doc: Mapping[str, Any]) -> Figure | None:
    """Pause-time distribution per mode (CDF on a log time axis)."""
    refs = reference_configs(doc)
    wls = _workloads(doc, "pauses_ns")
    if not wls:
        return None
    fig, axes = _grid(len(wls), "Pause times per mode: cumulative distribution (every pause of every mutator)")
    for ax, wl in zip(axes, wls):
        series = _ref_runs(doc, wl, refs[wl])
        for lab in _order(list(series)):
            _cdf(ax, _pooled(series[lab], "pauses_ns"), lab)
        _finish_cdf_axis(ax, "pause duration (log scale)", "fraction of pauses <= x",
                         _describe(wl, refs[wl]), 7)
    return fig


def _finish_cdf_axis(ax: Any, xlabel: str, ylabel: str, title: str, legend_size: float) -> None:
    """Log time axis, 0-1 fraction, grid and legend: the look of every CDF panel."""
    ax.set_xscale("log")
    _fmt_time_axis(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=legend_size, loc="lower right")


_FLOORS = (("minor_continue_sigbus_us", "minor fault + CONTINUE, SIGBUS", "minor/sigbus"),
           ("minor_continue_thread_us", "minor fault + CONTINUE, handler thread", "minor/thread"),
           ("missing_copy_sigbus_us", "missing fault + COPY, SIGBUS", "copy/sigbus"),
           ("missing_copy_thread_us", "missing fault + COPY, handler thread", "copy/thread"))


def plot_fault_stalls(doc: Mapping[str, Any]) -> Figure | None:
    """Fault-stall distribution per mode x delivery, with the raw round trips."""
    refs = reference_configs(doc)
    wls = _workloads(doc, "fault_stalls_ns")
    if not wls:
        return None
    limits = ((doc.get("probe") or {}).get("limits") or {}) if isinstance(doc.get("probe"), Mapping) else {}
    fig, axes = _grid(len(wls), "Fault stalls per mode and delivery: cumulative distribution\n"
                      "(vertical lines: the raw fault round trip measured by artgc probe)")
    for ax, wl in zip(axes, wls):
        series = _ref_runs(doc, wl, refs[wl])
        for lab in _order(list(series)):
            if not lab.startswith("jvm-"):
                _cdf(ax, _pooled(series[lab], "fault_stalls_ns"), lab)
        for key, text, lab in _FLOORS:
            v = limits.get(key)
            if isinstance(v, (int, float)) and v > 0:
                ax.axvline(v * 1e3, color=_color(lab), linestyle="--", linewidth=1.0, alpha=0.8,
                           label=f"floor: {text} ({v:.3g} us)")
        _finish_cdf_axis(ax, "fault stall: fault to resumption (log scale)", "fraction of faults <= x",
                         _describe(wl, refs[wl]), 6.5)
    return fig


def plot_pause_vs_heap(doc: Mapping[str, Any]) -> Figure | None:
    """Worst and p99 pause against heap size, one line per mode (log-log)."""
    groups: dict[tuple[Any, ...], dict[str, dict[int, list[Run]]]] = {}
    for r in ok_runs(doc):
        if not r.get("pauses_ns"):
            continue
        key = (r["workload"], r.get("size"), r.get("mutators"), r.get("gc_threads"))
        groups.setdefault(key, {}).setdefault(series_label(r), {}).setdefault(int(r["heap_bytes"]), []).append(r)
    panels = []
    for key, by_lab in groups.items():
        heaps = {h for d in by_lab.values() for h in d}
        if len(heaps) >= 2:
            panels.append((len(heaps), key, by_lab))
    if not panels:
        # a single heap size still gives a readable (one-point) chart
        panels = [(1, k, v) for k, v in groups.items()]
    if not panels:
        return None
    panels.sort(key=lambda p: (-p[0], str(p[1])))
    panels = panels[:4]
    fig, axes = _grid(len(panels), "Worst (solid) and p99 (dashed) pause against heap size")
    for ax, (_n, key, by_lab) in zip(axes, panels):
        wl, size, mut, gct = key
        for lab in _order(list(by_lab)):
            hs = sorted(by_lab[lab])
            worst, p99 = [], []
            for h in hs:
                p = _pooled(by_lab[lab][h], "pauses_ns")
                p = p[p > 0]  # a log axis cannot show a zero
                worst.append(p.max() if p.size else np.nan)
                p99.append(metrics.percentile(p, 99) if p.size else np.nan)
            c = _color(lab)
            if not np.any(np.isfinite(worst)):
                continue
            ax.plot(hs, worst, marker="o", color=c, linestyle="-", label=f"{lab} worst")
            ax.plot(hs, p99, marker="x", color=c, linestyle="--", label=f"{lab} p99")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_size(int(v)) if v >= 1 else ""))
        _fmt_time_axis(ax, "y")
        ax.set_xlabel("heap capacity (log scale)")
        ax.set_ylabel("pause (log scale)")
        ax.set_title(_describe(wl, (size, None, mut, gct)).replace(", heap ?", ""), fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6.5, ncol=2)
    return fig


def _run_mmu(r: Mapping[str, Any], windows: np.ndarray) -> np.ndarray | None:
    """A run's MMU curve over its own span [t0_ns, t1_ns) (peers: JVM uptime)."""
    t0, t1 = int(r.get("t0_ns") or 0), int(r.get("t1_ns") or 0)
    if t1 <= t0:
        wall = int(float(r.get("wall_s") or 0) * 1e9)
        if wall <= 0:
            return None
        starts = metrics.events_columns(r.get("events"))["t_start_ns"]
        t0 = int(starts.min()) if starts.size else 0
        t1 = t0 + wall
    curve: np.ndarray = metrics.mmu(r.get("events"), t0, t1, windows)["mmu"]
    return curve


def plot_mmu(doc: Mapping[str, Any]) -> Figure | None:
    """Minimum mutator utilization per mode (median over repeats)."""
    refs = reference_configs(doc)
    wls = [w for w in ["binarytrees", "gcbench", "lru", "graph"] + sorted(refs) if w in refs]
    wls = list(dict.fromkeys(wls))
    if not wls:
        return None
    fig, axes = _grid(len(wls), "Minimum mutator utilization (per thread; pauses, fault stalls and "
                      "allocation waits count as lost)")
    drew = False
    for ax, wl in zip(axes, wls):
        series = _ref_runs(doc, wl, refs[wl])
        span = max((float(r.get("wall_s") or 0) for rs in series.values() for r in rs), default=0.0) * 1e9
        if span <= 0:
            continue
        windows = metrics.default_windows(span)
        for lab in _order(list(series)):
            curves = [c for c in (_run_mmu(r, windows) for r in series[lab]) if c is not None]
            if not curves:
                continue
            y = np.median(np.vstack(curves), axis=0)
            ax.plot(windows, y, color=_color(lab), linestyle=_style(lab), linewidth=1.6, label=lab)
            drew = True
        ax.set_xscale("log")
        _fmt_time_axis(ax)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("time window (log scale)")
        ax.set_ylabel("minimum mutator utilization")
        ax.set_title(_describe(wl, refs[wl]), fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    return fig if drew else None


def _pick_cycle(doc: Mapping[str, Any]) -> tuple[Run, dict[str, Any]] | None:
    """A run and one of its cycles worth looking at: a concurrent mode
    (minor/sigbus first), the cycle whose mutators faulted most (then the
    one that moved most)."""
    pref = ["minor/sigbus", "minor/thread", "copy/sigbus", "move/sigbus", "copy/thread", "move/thread", "stw"]
    runs = [r for r in ok_runs(doc) if r.get("cycles")]
    if not runs:
        return None
    refs = reference_configs(doc)

    def rank(r: Run) -> tuple[Any, ...]:
        lab = series_label(r)
        ref = refs.get(str(r["workload"])) == _config(r)
        return (pref.index(lab) if lab in pref else 99, not ref, r["workload"] != "binarytrees",
                -(int(r.get("heap_bytes") or 0)))

    run = min(runs, key=rank)
    cyc = max(run["cycles"], key=lambda c: (int(c.get("faults") or 0), int(c.get("moved_bytes") or 0)))
    return run, cyc


_PHASES = (("mark", "t_mark_start_ns", "t_mark_end_ns", "#6baed6"),
           ("prepare", "t_mark_end_ns", "t_flip_start_ns", "#c6dbef"),
           ("flip", "t_flip_start_ns", "t_flip_end_ns", "#fb6a4a"),
           ("compact", "t_flip_end_ns", "t_compact_end_ns", "#74c476"),
           ("release", "t_compact_end_ns", "t_end_ns", "#c7e9c0"))


def plot_cycle_timeline(doc: Mapping[str, Any]) -> Figure | None:
    """One GC cycle: the collector's phases and each mutator's pauses and faults."""
    pick = _pick_cycle(doc)
    if pick is None:
        return None
    run, cyc = pick
    t_start, t_end = int(cyc.get("t_start_ns") or 0), int(cyc.get("t_end_ns") or 0)
    if t_end <= t_start:
        return None
    ev = metrics.events_columns(run.get("events"))
    margin = max((t_end - t_start) // 20, 1000)
    lo, hi = t_start - margin, t_end + margin
    sel = (ev["t_start_ns"] + ev["dur_ns"] >= lo) & (ev["t_start_ns"] <= hi)
    threads = sorted({int(t) for t in ev["thread"][sel]}) or list(range(int(run.get("mutators") or 1)))
    fig = Figure(figsize=(11, 1.6 + 0.55 * (len(threads) + 1)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ms = 1e6

    def x(t: float) -> float:
        return (t - t_start) / ms

    for name, a, b, col in _PHASES:
        ta, tb = cyc.get(a), cyc.get(b)
        if ta and tb and int(tb) > int(ta):
            ax.broken_barh([(x(int(ta)), (int(tb) - int(ta)) / ms)], (len(threads) - 0.4, 0.8),
                           facecolors=col, edgecolor="none", label=f"GC: {name}")
    kinds = ((metrics.EV_PAUSE, 0, "pause: initial mark", "#67000d"),
             (metrics.EV_PAUSE, 1, "pause: mark", "#a50f15"),
             (metrics.EV_PAUSE, 2, "pause: flip", "#ef3b2c"),
             (metrics.EV_PAUSE, 3, "pause: stop-the-world", "#000000"),
             (metrics.EV_FAULT, None, "fault stall", "#ff7f0e"),
             (metrics.EV_ALLOC_WAIT, None, "allocation wait", "#9467bd"))
    for row, tid in enumerate(threads):
        for kind, phase, name, col in kinds:
            m = sel & (ev["thread"] == tid) & (ev["kind"] == kind)
            if phase is not None:
                m &= ev["phase"] == phase
            if not np.any(m):
                continue
            spans = [(x(int(s)), max(int(d) / ms, (hi - lo) / ms / 2000))
                     for s, d in zip(ev["t_start_ns"][m], ev["dur_ns"][m])]
            ax.broken_barh(spans, (row - 0.3, 0.6), facecolors=col, label=name)
            if kind == metrics.EV_FAULT:  # short stalls: a tick each so they stay visible
                ax.plot([s for s, _ in spans], [row] * len(spans), linestyle="none", marker="|",
                        color=col, markersize=9)
    ax.set_yticks(list(range(len(threads))) + [len(threads)])
    ax.set_yticklabels([f"mutator {t}" for t in threads] + ["collector"])
    ax.set_xlim(x(lo), x(hi))
    ax.set_xlabel("time since the cycle started (ms)")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"One GC cycle (#{cyc.get('index', '?')}) of {run['workload']} size {run.get('size')}, "
                 f"{series_label(run)}, heap {format_size(int(run['heap_bytes']))}: "
                 f"pause {metrics.format_ns(cyc.get('pause_ns'))}, {cyc.get('faults', 0)} faults, "
                 f"moved {metrics.format_bytes(cyc.get('moved_bytes'))}", fontsize=10)
    return fig


def _pick_heap_map(doc: Mapping[str, Any]) -> Run | None:
    pick = _pick_cycle(doc)
    cands = [r for r in ok_runs(doc) if r.get("heap_map_before") and r.get("heap_map_after")]
    if pick and pick[0] in cands:
        return pick[0]
    return cands[0] if cands else None


def plot_heap_map(doc: Mapping[str, Any]) -> Figure | None:
    """Live bytes per page before and after the last compaction, as images."""
    run = _pick_heap_map(doc)
    if run is None:
        return None
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    axes = [fig.add_subplot(2, 1, i + 1) for i in range(2)]
    im = None
    maps = {k: np.asarray(run[k], dtype=np.float64) for k in ("heap_map_before", "heap_map_after")}
    n = max(m.size for m in maps.values())  # the same layout for both: pages past a map are free
    cols = int(min(512, max(16, 2 ** np.ceil(np.log2(np.sqrt(n * 4) + 1)))))
    rows = -(-n // cols)
    for ax, key, what in zip(axes, ("heap_map_before", "heap_map_after"),
                             ("before (from-space)", "after (to-space)")):
        vals = maps[key]
        per = int(run.get(f"{key}_pages_per_bin") or 1)
        img = np.zeros(rows * cols)
        img[:vals.size] = np.clip(vals / (PAGE * per), 0, 1)
        im = ax.imshow(img.reshape(rows, cols), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                       interpolation="nearest")
        unit = "page" if per == 1 else f"{per} pages"
        row_bytes = cols * per * PAGE
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p, rb=row_bytes: metrics.format_bytes(v * rb)))
        ax.set_title(f"{what}: {metrics.format_bytes(vals.sum())} live in {np.count_nonzero(vals)} non-empty "
                     f"cells; one cell = {unit}, {cols} per row", fontsize=9)
        ax.set_xlabel(f"cell within row (address order, {unit} each)")
        ax.set_ylabel("heap offset of the row")
    if im is not None:
        fig.colorbar(im, ax=axes, label="live fraction of the cell", shrink=0.8)
    fig.suptitle(f"Heap map around the last compaction: {run['workload']} size {run.get('size')}, "
                 f"{series_label(run)}, heap {format_size(int(run['heap_bytes']))}", fontsize=11)
    return fig


PLOTS: dict[str, Callable[[Mapping[str, Any]], Figure | None]] = {
    "pause_cdf": plot_pause_cdf,
    "fault_stalls": plot_fault_stalls,
    "pause_vs_heap": plot_pause_vs_heap,
    "mmu": plot_mmu,
    "cycle_timeline": plot_cycle_timeline,
    "heap_map": plot_heap_map,
}


def plot_results(results_or_path: Mapping[str, Any] | str | os.PathLike[str],
                 out: str | os.PathLike[str] = "plots", errors: list[str] | None = None) -> list[str]:
    """Draw every plot the results have data for; return the files written
    (PNG and SVG of each). Accepts a loaded document or a file path (a bench
    results.json or a run's --json); a bad file raises ResultsError. A plot
    that fails is skipped with a warning (or its message appended to errors)."""
    if isinstance(results_or_path, Mapping):
        doc = validate(dict(results_or_path), "results")
    else:
        doc = load(results_or_path)
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    paths: list[str] = []
    for name, fn in PLOTS.items():
        try:
            fig = fn(doc)
        except Exception as exc:  # noqa: BLE001 - one odd data set must not cost the other plots
            msg = f"plot {name} failed: {type(exc).__name__}: {exc}"
            if errors is None:
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
            else:
                errors.append(msg)
            continue
        if fig is None:
            continue
        for ext in ("png", "svg"):
            p = outdir / f"{name}.{ext}"
            fig.savefig(p, dpi=110)
            paths.append(str(p))
    return paths


__all__ = ["plot_results", "PLOTS", "reference_configs", "all_series"]
