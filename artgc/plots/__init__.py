"""The plots, from a bench results.json or a single run's JSON (headless).

Each figure is written as PNG and SVG and stands on its own (title, units,
one legend below the panels, a note saying what it left out). Every series
(mode/delivery, JVM collector) has one colour and one marker, the same in
every figure. Drawn from any results file (also older ones):
  pause_cdf          pause times, tail first: percentile curves p50..p99.99
                     on a log axis, per workload, artgc and JVM in separate panels
  fault_stalls       fault stalls the same way, per workload and delivery, with
                     the probe's raw round trips as floor lines
  pause_vs_heap      worst and p99 pause against heap size (multiple of the
                     minimum heap when known), median and 95% CI over invocations
  mmu                minimum mutator utilization, every stall counted; runs
                     without a cycle left out, and the figure says which
  worst_stall        worst stall (any kind) next to worst pause, and MMU at
                     1/10/100 ms, per mode and collector
  gc_overhead        wall time over the same runtime's fastest stop-the-world
                     collector (artgc stw; the JVM's Parallel GC), per workload
  cycle_timeline     several consecutive cycles: collector phases and each
                     mutator's pauses (marked, a minimum visible width), stalls
  heap_map           live bytes per cell before and after a compaction, the
                     same cell size in both
Drawn when the results have the newer keys (skipped, with a note, otherwise):
  memory_timeline    PSS and live data against time, per mode and collector
  memory_cycle       the heap's memory, used bytes and memory beyond them
                     through each mode's worst cycle (target: 16 MiB + metadata)
  peak_pss           peak PSS against heap size
  request_latency    request latency p50..p99.99, simple and metered
  cycle_kinds        per-kind (young/full) cycle statistics
  fault_map          where the mutators' faults landed in to-space, per cycle,
                     against the GC threads' progress and the black block
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# Figures are built with matplotlib's object API (Figure, no pyplot), so they
# need no backend: importing this module leaves a notebook's inline backend alone.
from matplotlib.figure import Figure

from ..results import all_series, load, validate
from ._data import median_ci, reference_configs
from ._style import label, style
from .heap import plot_pause_vs_heap, plot_peak_pss
from .faultmap import plot_fault_map
from .heapmap import plot_heap_map
from .latency import plot_fault_stalls, plot_pause_percentiles, plot_request_latency
from .stalls import plot_cycle_kinds, plot_gc_overhead, plot_mmu, plot_worst_stall
from .memcycle import plot_memory_cycle
from .timeline import plot_cycle_timeline, plot_memory_timeline

PlotFn = Callable[..., Figure | None]

# the historical name: the pause distribution, now drawn tail first
plot_pause_cdf = plot_pause_percentiles

# Plots every results file has the data for.
PLOTS: dict[str, PlotFn] = {
    "pause_cdf": plot_pause_percentiles,
    "fault_stalls": plot_fault_stalls,
    "pause_vs_heap": plot_pause_vs_heap,
    "mmu": plot_mmu,
    "worst_stall": plot_worst_stall,
    "gc_overhead": plot_gc_overhead,
    "cycle_timeline": plot_cycle_timeline,
    "heap_map": plot_heap_map,
}
# Plots of the newer result keys; results without them skip these with a note.
NEW_PLOTS: dict[str, PlotFn] = {
    "memory_timeline": plot_memory_timeline,
    "memory_cycle": plot_memory_cycle,
    "peak_pss": plot_peak_pss,
    "request_latency": plot_request_latency,
    "cycle_kinds": plot_cycle_kinds,
    "fault_map": plot_fault_map,
}
ALL_PLOTS: dict[str, PlotFn] = {**PLOTS, **NEW_PLOTS}


def plot_results(results_or_path: Mapping[str, Any] | str | os.PathLike[str],
                 out: str | os.PathLike[str] = "plots", errors: list[str] | None = None,
                 notes: list[str] | None = None) -> list[str]:
    """Draw every plot the results have data for; return the files written
    (PNG and SVG of each). Accepts a loaded document or a file path (a bench
    results.json or a run's --json); a bad file raises ResultsError. A plot
    that fails is skipped with a warning (or its message appended to
    errors); a plot the results have no data for is skipped, and why is
    appended to notes when given."""
    if isinstance(results_or_path, Mapping):
        doc = validate(dict(results_or_path), "results")
    else:
        doc = load(results_or_path)
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    paths: list[str] = []
    for name, fn in ALL_PLOTS.items():
        try:
            fig = fn(doc, notes)
        except Exception as exc:  # noqa: BLE001 - one odd data set must not cost the other plots
            msg = f"plot {name} failed: {type(exc).__name__}: {exc}"
            if errors is None:
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
            else:
                errors.append(msg)
            continue
        if fig is None:
            continue
        _linear_where_nothing_is_positive(fig)
        try:
            for ext in ("png", "svg"):
                p = outdir / f"{name}.{ext}"
                fig.savefig(p, dpi=110)
                paths.append(str(p))
        except Exception as exc:  # noqa: BLE001 - drawing happens here: the same rule as above
            msg = f"plot {name} failed while drawing: {type(exc).__name__}: {exc}"
            if errors is None:
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
            else:
                errors.append(msg)
    return paths


def _linear_where_nothing_is_positive(fig: Any) -> None:
    """A log axis whose data has no positive value (every pause of a tiny
    run measured 0 ns, say) cannot get ticks: matplotlib raises while the
    figure is drawn. Such an axis is made linear, where 0 shows."""
    for ax in fig.axes:
        for axis, setter in ((ax.xaxis, ax.set_xscale), (ax.yaxis, ax.set_yscale)):
            if axis.get_scale() == "log":
                pos = axis.get_minpos()
                if not (pos > 0 and math.isfinite(pos)):
                    setter("linear")


__all__ = ["plot_results", "PLOTS", "NEW_PLOTS", "ALL_PLOTS", "reference_configs", "all_series",
           "plot_pause_cdf", "plot_pause_percentiles", "plot_fault_stalls", "plot_pause_vs_heap", "plot_mmu",
           "plot_worst_stall", "plot_gc_overhead", "plot_cycle_timeline", "plot_heap_map", "plot_memory_timeline", "plot_memory_cycle",
           "plot_peak_pss", "plot_request_latency", "plot_cycle_kinds", "median_ci", "label", "style"]
