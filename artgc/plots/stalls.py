"""What a mutator loses: MMU curves (every pause, fault stall and allocation
wait counts as lost), worst stall next to worst pause, and per-kind cycle
statistics (young / full)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import metrics
from . import _data as D
from ._style import fmt_size_axis, fmt_time_axis, grid, legend_below, note, order, skip, style

MMU_WINDOWS_NS = (1e6, 1e7, 1e8)


def _run_mmu(r: D.Run, windows: np.ndarray) -> np.ndarray | None:
    span = D.run_span(r)
    if span is None:
        return None
    curve: np.ndarray = metrics.mmu(r.get("events"), span[0], span[1], windows)["mmu"]
    return curve


def plot_mmu(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Minimum mutator utilization per mode and collector (median over
    invocations); runs in which the collector never ran are left out, and
    the figure says which."""
    refs = D.reference_configs(doc)
    panels: list[tuple[str, dict[str, list[D.Run]], float]] = []
    left: list[str] = []
    for wl in D.workloads(doc):
        runs = D.ref_runs(doc, wl, refs[wl])
        kept: dict[str, list[D.Run]] = {}
        for lab, rs in runs.items():
            ok = [r for r in rs if D.has_cycles(r) and D.run_span(r) is not None]
            if ok:
                kept[lab] = ok
            else:
                left.append(f"{lab} ({wl})")
        span = max((float(r.get("wall_s") or 0) for rs in kept.values() for r in rs), default=0.0) * 1e9
        if kept and span > 0:
            panels.append((wl, kept, span))
    if not panels:
        return skip(notes, "mmu: no run with a GC cycle" + (f" ({D.left_out(left, 'no cycle')})" if left else ""))
    fig, axes = grid(len(panels), "Minimum mutator utilization (worst mutator; every pause, fault stall and "
                     "allocation wait counts as lost); median over invocations", cols=2)
    for ax, (wl, kept, span) in zip(axes, panels):
        windows = metrics.default_windows(span)
        for lab in order(kept):
            curves = [c for c in (_run_mmu(r, windows) for r in kept[lab]) if c is not None]
            if not curves:
                continue
            st = style(lab)
            ax.plot(windows, np.median(np.vstack(curves), axis=0), color=st["color"], linestyle=st["linestyle"],
                    marker=st["marker"], markevery=max(1, windows.size // 6), markersize=5,
                    markerfacecolor=st["markerfacecolor"], markeredgecolor=st["markeredgecolor"],
                    linewidth=1.5, label=lab)
        ax.set_xscale("log")
        fmt_time_axis(ax)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("time window (log scale)")
        ax.set_ylabel("minimum mutator utilization")
        ax.set_title(D.panel_title(wl, refs[wl]), fontsize=9.5)
        ax.grid(True, which="both", alpha=0.3)
    legend_below(fig, axes)
    note(fig, [D.left_out(left, "no GC cycle in the run: an MMU of 1.0 says nothing")])
    return fig


def _bars(ax: Any, labels: list[str], groups: list[tuple[str, list[list[float | None]], str]],
          log: bool) -> None:
    """Grouped bars: per series label, one bar per group entry (median over
    invocations, 95% CI / range as error bars); hatch tells the groups apart."""
    width = 0.8 / max(len(groups), 1)
    for gi, (gname, per_label, hatch) in enumerate(groups):
        for li, lab in enumerate(labels):
            ci = D.median_ci([v for v in per_label[li] if v is not None])
            if ci is None:
                continue
            st = style(lab)
            x = li - 0.4 + width * (gi + 0.5)
            ax.bar(x, ci[0], width=width * 0.92, color=st["color"], alpha=0.85 if gi == 0 else 0.45,
                   hatch=hatch, edgecolor="black", linewidth=0.5)
            if ci[2] > ci[1]:
                ax.errorbar([x], [ci[0]], yerr=[[ci[0] - ci[1]], [ci[2] - ci[0]]], color="black", capsize=2,
                            linewidth=0.8)
            ax.plot([x], [ci[0]], marker=st["marker"], color=st["color"], markeredgecolor="black",
                    markersize=5, linestyle="none")
        ax.bar([0], [0], width=0, color="white", hatch=hatch, edgecolor="black", linewidth=0.5, label=gname)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    if log:
        ax.set_yscale("log")


def plot_worst_stall(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Per workload: the worst pause next to the worst stall of any kind
    (pause, fault stall, allocation wait), and the MMU at 1, 10 and 100 ms
    counting every stall; medians over invocations."""
    refs = D.reference_configs(doc)
    rows: list[tuple[str, dict[str, list[D.Run]]]] = []
    derived = False
    left: list[str] = []
    for wl in D.workloads(doc):
        runs = D.ref_runs(doc, wl, refs[wl])
        kept = {lab: [r for r in rs if D.has_cycles(r)] for lab, rs in runs.items()}
        left += [f"{lab} ({wl})" for lab, rs in kept.items() if not rs]
        kept = {k: v for k, v in kept.items() if v}
        if kept:
            rows.append((wl, kept))
    if not rows:
        return skip(notes, "worst_stall: no run with a GC cycle")
    fig, axes = grid(2 * len(rows), "Worst stall against worst pause (a stall: any span the GC held a mutator), "
                     "and MMU counting every stall", cols=2, w=6.4, h=3.9)
    worst_kinds: list[str] = []
    for i, (wl, kept) in enumerate(rows):
        labels = order(kept)
        wp: list[list[float | None]] = []
        ws: list[list[float | None]] = []
        for lab in labels:
            a, b = [], []
            kinds: dict[str, float] = {}
            for r in kept[lab]:
                by_kind, native = D.stalls(r)
                derived |= not native
                p = by_kind["pause"]
                a.append(float(p.max()) if p.size else None)
                allv = [(float(v.max()), k) for k, v in by_kind.items() if v.size]
                b.append(max(allv)[0] if allv else None)
                for k, v in by_kind.items():
                    if v.size:
                        kinds[k] = max(kinds.get(k, 0.0), float(v.max()))
            wp.append(a)
            ws.append(b)
            if kinds:
                worst_kinds.append(f"{lab}: {max(kinds, key=lambda k: kinds[k])}")
        ax = axes[2 * i]
        _bars(ax, labels, [("worst pause", wp, ""), ("worst stall (any kind)", ws, "//")], log=True)
        fmt_time_axis(ax, "y")
        ax.set_ylabel("per run (log scale)")
        ax.set_title(f"{D.panel_title(wl, refs[wl])}: worst pause vs worst stall", fontsize=9.5)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax2 = axes[2 * i + 1]
        groups = []
        for w, hatch in zip(MMU_WINDOWS_NS, ("", "..", "//")):
            vals = []
            for lab in labels:
                vals.append([None if (c := _run_mmu(r, np.array([w]))) is None else float(c[0])
                             for r in kept[lab]])
            groups.append((f"MMU at {metrics.format_ns(w)}", vals, hatch))
        _bars(ax2, labels, groups, log=False)
        ax2.set_ylim(0, 1.05)
        ax2.set_ylabel("minimum mutator utilization")
        ax2.set_title(f"{wl}: MMU at 1 / 10 / 100 ms (every stall lost)", fontsize=9.5)
        ax2.grid(True, axis="y", alpha=0.3)
    legend_below(fig, axes, ncol=5)
    note(fig, ["bars: median over invocations, error bars 95% CI (min-max under 6 invocations); "
               "the kind of each series' worst stall: " + "; ".join(dict.fromkeys(worst_kinds)),
               "stalls taken from pauses_ns + fault_stalls_ns + alloc_stalls_ns (results without stalls_ns)"
               if derived else "",
               D.left_out(left, "no GC cycle")])
    return fig


def _cycle_kind_values(c: Mapping[str, Any]) -> dict[str, float | None]:
    t0, t1 = c.get("t_start_ns"), c.get("t_end_ns")
    return {"pause_ns": c.get("pause_ns"),
            "duration_ns": (t1 - t0) if isinstance(t0, (int, float)) and isinstance(t1, (int, float)) else None,
            "marked_bytes": c.get("marked_bytes"), "moved_bytes": c.get("moved_bytes")}


def plot_cycle_kinds(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Per-kind cycle statistics (young / full): how many, their pauses,
    durations, bytes marked and bytes moved, per series of each workload's reference
    configuration; median over the cycles with a 95% CI."""
    refs = D.reference_configs(doc)
    rows = []
    for wl in D.workloads(doc):
        runs = D.ref_runs(doc, wl, refs[wl])
        cyc: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
        for lab, rs in runs.items():
            for r in rs:
                for c in r.get("cycles") or []:
                    if isinstance(c, Mapping) and c.get("kind"):
                        cyc.setdefault(lab, {}).setdefault(str(c["kind"]), []).append(c)
        if cyc:
            rows.append((wl, cyc, runs))
    if not rows:
        return skip(notes, "cycle_kinds: skipped: no cycle has a kind (young/full): older results or "
                         "a collector without generations")
    panels = (("pause_ns", "pause per cycle"), ("duration_ns", "cycle duration"),
              ("marked_bytes", "bytes marked per cycle"), ("moved_bytes", "bytes moved per cycle"))
    fig, axes = grid(len(panels) * len(rows), "GC cycles by kind (young / full): per-cycle pause, duration, "
                     "bytes marked and moved (median over the cycles, bars 95% CI)", cols=len(panels), w=4.2, h=3.6)
    for i, (wl, cyc, runs) in enumerate(rows):
        entries = [(lab, kind) for lab in order(cyc) for kind in sorted(cyc[lab], key=lambda k: (k != "young", k))]
        for j, (key, ylab) in enumerate(panels):
            ax = axes[len(panels) * i + j]
            for x, (lab, kind) in enumerate(entries):
                ci = D.median_ci([v for v in (_cycle_kind_values(c)[key] for c in cyc[lab][kind])
                                  if v is not None and v > 0])
                if ci is None:
                    continue
                st = style(lab)
                ax.errorbar([x], [ci[0]], yerr=[[ci[0] - ci[1]], [ci[2] - ci[0]]], color=st["color"],
                            marker=st["marker"], markerfacecolor=st["markerfacecolor"] if kind == "young" else "white",
                            markeredgecolor=st["color"], markersize=7, capsize=3, linestyle="none",
                            label=lab)
            ax.set_xticks(range(len(entries)),
                          [f"{lab}\n{kind} (n={len(cyc[lab][kind])})" for lab, kind in entries],
                          rotation=30, ha="right", fontsize=7)
            ax.set_yscale("log")
            if key.endswith("_bytes"):
                fmt_size_axis(ax, "y")
            else:
                fmt_time_axis(ax, "y")
            ax.set_ylabel(ylab)
            ax.set_title(f"{D.panel_title(wl, refs[wl])}" if j == 0 else ylab, fontsize=9)
            ax.grid(True, axis="y", which="both", alpha=0.3)
    legend_below(fig, axes)
    return fig


def plot_gc_overhead(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Per workload: each mode's and collector's wall time over the same
    runtime's fastest stop-the-world collector on the same workload and size
    (artgc `stw` at its fastest heap; the JVM's Parallel GC, Serial without
    it): what the collector costs apart from the runtime's mutator speed."""
    from .. import overhead
    refs_cfg = D.reference_configs(doc)
    refs = overhead.references(overhead.group_runs(D.series(doc)))
    panels: list[tuple[str, list[str], list[list[float | None]], list[str]]] = []
    missing: list[str] = []
    for wl in D.workloads(doc):
        runs = D.ref_runs(doc, wl, refs_cfg[wl])
        labels: list[str] = []
        vals: list[list[float | None]] = []
        used: list[str] = []
        for lab in order(runs):
            per: list[float | None] = []
            for r in runs[lab]:
                ref = refs.get((r.get("workload"), r.get("size") or 0, overhead.runtime_of(r.get("mode"))))
                if ref and r.get("wall_s"):
                    per.append(float(r["wall_s"]) / ref[0])
                    used.append(ref[1])
            if per:
                labels.append(lab)
                vals.append(per)
            else:
                missing.append(f"{lab} ({wl})")
        if labels:
            panels.append((wl, labels, vals, sorted(set(used))))
    if not panels:
        return skip(notes, "gc_overhead: no run has a stop-the-world reference of its runtime "
                           "(artgc stw; the JVM's Parallel or Serial GC) on the same workload and size")
    fig, axes = grid(len(panels), "GC overhead across runtimes: wall time over the same runtime's fastest "
                     "stop-the-world collector on the same workload (1.0 = as fast)", cols=2, w=6.4, h=3.9)
    for ax, (wl, labels, vals, used) in zip(axes, panels):
        _bars(ax, labels, [("wall / reference", vals, "")], log=False)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylabel("wall / stop-the-world reference")
        ax.set_title(f"{D.panel_title(wl, refs_cfg[wl])}\nreferences: {', '.join(used)}", fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    legend_below(fig, axes)
    note(fig, ["bars: median over invocations of each run's wall / its reference's median wall, error bars "
               "95% CI (min-max under 6 invocations)",
               D.left_out(missing, "no reference of its runtime in these results")])
    return fig
