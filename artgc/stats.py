"""Figures of runs, and their median over invocations with a 95% confidence
interval.

The interval is a **bootstrap percentile interval of the median** (10 000
resamples with replacement, a fixed seed so the same numbers give the same
interval). With 3 invocations it spans at most the smallest to the largest
value. Ratios (``artgc compare``) are the ratio of geometric means with a
**Welch t interval** on the log values (t rather than the bootstrap there: with
3 invocations a side a bootstrap interval of a ratio is far too narrow); a
change is "beyond noise" when the ratio's interval excludes 1.
"""
from __future__ import annotations

import math

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import metrics

RESAMPLES = 10_000
CONFIDENCE = 0.95
CI_METHOD = "bootstrap percentile interval of the median, 10000 resamples"
RATIO_METHOD = "ratio of geometric means, Welch t interval on the logs"
MMU_WINDOWS_NS: tuple[int, ...] = (1_000_000, 10_000_000, 100_000_000)


@dataclass(frozen=True)
class Estimate:
    """A median over invocations and its 95% interval (None without values)."""

    median: float | None
    lo: float | None
    hi: float | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "ci_lo": self.lo, "ci_hi": self.hi, "n": self.n}


def _rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def median_ci(values: Sequence[float | None]) -> Estimate:
    """The median of the values (None ones left out) with its bootstrap 95% CI."""
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if arr.size == 0:
        return Estimate(None, None, None, 0)
    med = float(np.median(arr))
    if arr.size == 1:
        return Estimate(med, med, med, 1)
    idx = _rng().integers(0, arr.size, size=(RESAMPLES, arr.size))
    meds = np.median(arr[idx], axis=1)
    a = (1.0 - CONFIDENCE) / 2.0
    return Estimate(med, float(np.quantile(meds, a)), float(np.quantile(meds, 1.0 - a)), int(arr.size))


# two-sided 95% quantiles of Student's t by degrees of freedom (df > 30: 1.96)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: float) -> float:
    """The 97.5% quantile of Student's t at ``df`` (rounded down: conservative)."""
    k = int(math.floor(df))
    return _T975[max(1, k) - 1] if k <= 30 else 1.96


def ratio_ci(a: Sequence[float | None], b: Sequence[float | None]) -> Estimate:
    """B / A as the ratio of geometric means, with a Welch t 95% interval on
    the difference of the log values (n is the smaller side). Values <= 0
    leave the ratio of means without an interval."""
    xa = np.asarray([v for v in a if v is not None], dtype=np.float64)
    xb = np.asarray([v for v in b if v is not None], dtype=np.float64)
    n = int(min(xa.size, xb.size))
    if n == 0 or float(xa.mean()) == 0.0:
        return Estimate(None, None, None, n)
    if (xa <= 0).any() or (xb <= 0).any():
        return Estimate(float(xb.mean() / xa.mean()), None, None, n)
    la, lb = np.log(xa), np.log(xb)
    d = float(lb.mean() - la.mean())
    if xa.size < 2 or xb.size < 2:
        return Estimate(math.exp(d), None, None, n)
    va, vb = float(la.var(ddof=1)) / xa.size, float(lb.var(ddof=1)) / xb.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Estimate(math.exp(d), math.exp(d), math.exp(d), n)
    df = (va + vb) ** 2 / ((va ** 2 / (xa.size - 1) if va else 0.0) + (vb ** 2 / (xb.size - 1) if vb else 0.0))
    h = t975(df) * se
    return Estimate(math.exp(d), math.exp(d - h), math.exp(d + h), n)


# --------------------------------------------------------------------------- figures of one run

def _arr(run: Mapping[str, Any], key: str) -> np.ndarray:
    v = run.get(key)
    return metrics.as_array([] if v is None else v)


def stalls(run: Mapping[str, Any]) -> np.ndarray:
    """Every span a mutator was held: ``stalls_ns`` where the run has it, else
    pauses, fault stalls and allocation waits together."""
    if run.get("stalls_ns") is not None:
        return _arr(run, "stalls_ns")
    return np.concatenate([_arr(run, "pauses_ns"), _arr(run, "fault_stalls_ns"), _arr(run, "alloc_stalls_ns")])


def waiting_fraction(run: Mapping[str, Any]) -> float | None:
    """The share of the mutators' time spent held by the collector (all
    stalls summed over mutators / (wall time x mutators))."""
    wall = float(run.get("wall_s") or 0.0)
    if wall <= 0:
        return None
    return float(stalls(run).sum()) / 1e9 / (wall * max(1, int(run.get("mutators") or 1)))


def mmu_at(run: Mapping[str, Any], windows_ns: Sequence[int] = MMU_WINDOWS_NS) -> dict[int, float | None]:
    """MMU at the given window widths from the run's events (None without events)."""
    ev = run.get("events")
    t0, t1 = int(run.get("t0_ns") or 0), int(run.get("t1_ns") or 0)
    if ev is None or t1 <= t0:
        return {w: None for w in windows_ns}
    cols = metrics.events_columns(ev)
    if len(cols["t_start_ns"]) == 0:
        return {w: 1.0 for w in windows_ns}
    curve = metrics.mmu(ev, t0, t1, [min(w, t1 - t0) for w in windows_ns])["mmu"]
    return {w: float(v) for w, v in zip(windows_ns, curve)}


def gc_share(run: Mapping[str, Any]) -> float | None:
    """GC share of wall time: the time a cycle was in progress / wall time."""
    tp = run.get("gc_throughput")
    if isinstance(tp, Mapping) and tp.get("gc_fraction") is not None:
        return float(tp["gc_fraction"])
    cyc = run.get("cycles")
    wall = float(run.get("wall_s") or 0.0)
    if cyc is None or len(cyc) == 0 or wall <= 0:
        return None if cyc is None else 0.0
    gc = sum(max(0, int(c.get("t_end_ns", 0)) - int(c.get("t_start_ns", 0))) for c in cyc)
    return gc / 1e9 / wall


FAULT_PARTS = ("touch", "build", "install")


def fault_anatomy(cycles: Sequence[Mapping[str, Any]] | None) -> dict[str, float] | None:
    """Where a faulting mutator's time went, per page it built, summed over
    the cycles (``fault_touch_ns``, ``fault_build_ns``, ``fault_install_ns``
    over ``pages_by_mutator``): ``pages`` and ``touch``/``build``/``install``
    in ns. None when no mutator built a page (or the records predate the
    counters)."""
    if not cycles:
        return None
    pages = sum(int(c.get("pages_by_mutator") or 0) for c in cycles)
    if pages <= 0 or not all("fault_build_ns" in c for c in cycles):
        return None
    out: dict[str, float] = {"pages": float(pages)}
    for part in FAULT_PARTS:
        out[part] = sum(int(c.get(f"fault_{part}_ns") or 0) for c in cycles) / pages
    return out


def _cycles(run: Mapping[str, Any]) -> float | None:
    c = run.get("cycles")
    if c is None or (run.get("runtime") == "jvm" and not c):
        return None   # a JVM peer whose log gave no cycles: unknown, not 0
    return float(len(c))


def _p(vals: np.ndarray, q: float) -> float | None:
    return metrics.percentile(vals, q) if vals.size else None


FIGURES: dict[str, tuple[str, str, Callable[[Mapping[str, Any]], float | None]]] = {
    # name: (label, unit, function of a run)
    "wall_s": ("wall time", "s", lambda r: r.get("wall_s")),
    "pause_max_ns": ("worst pause", "ns", lambda r: _p(_arr(r, "pauses_ns"), 100)),
    "pause_p99_ns": ("p99 pause", "ns", lambda r: _p(_arr(r, "pauses_ns"), 99)),
    "pause_p50_ns": ("p50 pause", "ns", lambda r: _p(_arr(r, "pauses_ns"), 50)),
    "pause_total_ns": ("total pause", "ns", lambda r: float(_arr(r, "pauses_ns").sum())),
    "stall_max_ns": ("worst stall", "ns", lambda r: _p(stalls(r), 100)),
    "stall_p99_ns": ("p99 stall", "ns", lambda r: _p(stalls(r), 99)),
    "fault_p99_ns": ("p99 fault stall", "ns", lambda r: _p(_arr(r, "fault_stalls_ns"), 99)),
    "gc_share": ("GC share of wall", "frac", gc_share),
    "waiting": ("mutators waiting", "frac", waiting_fraction),
    "cycles": ("cycles", "count", _cycles),
    "peak_rss_bytes": ("peak RSS", "bytes", lambda r: r.get("peak_rss_bytes")),
}


def figures(run: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, (_l, _u, fn) in FIGURES.items():
        v = fn(run)
        out[name] = None if v is None else float(v)
    return out


def aggregate(runs: Sequence[Mapping[str, Any]]) -> dict[str, Estimate]:
    """Every figure's median over the runs (invocations) with its 95% CI."""
    per = [figures(r) for r in runs]
    return {name: median_ci([p[name] for p in per]) for name in FIGURES}


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ns":
        return metrics.format_ns(value)
    if unit == "bytes":
        return metrics.format_bytes(value)
    if unit == "frac":
        return f"{100 * value:.1f}%"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:g}"


def fmt_estimate(e: Estimate, unit: str) -> str:
    """ "1.20 ms [1.10 ms, 1.31 ms]" (just the value when n == 1)."""
    if e.median is None:
        return "-"
    if e.n <= 1:
        return fmt(e.median, unit)
    return f"{fmt(e.median, unit)} [{fmt(e.lo, unit)}, {fmt(e.hi, unit)}]"
