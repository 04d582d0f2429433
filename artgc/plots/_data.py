"""Which runs a figure draws: reference configurations, series, points
(invocations of the same configuration), medians with confidence intervals,
and each run's stalls (also for results older than `stalls_ns`)."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.ticker import FuncFormatter

from .. import metrics
from ..results import ok_runs
from ..sizes import format_size
from ._style import describe, is_jvm, label

Run = dict[str, Any]
WORKLOAD_ORDER = ["binarytrees", "gcbench", "lru", "graph"]


def series(doc: Mapping[str, Any]) -> list[Run]:
    """Every ok artgc run and every ok JVM peer (in `peers`, or in `runs`
    with runtime "jvm")."""
    peers = [p for p in doc.get("peers", []) if p.get("status", "ok") == "ok"]
    return ok_runs(doc) + peers


def config(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (r.get("size"), r.get("heap_bytes"), r.get("mutators"), r.get("gc_threads"))


def reference_configs(doc: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Per workload, the configuration (size, heap, mutators, GC threads) with
    the most successful artgc runs (ties: the larger heap, then size): the one
    the per-mode comparisons are drawn for."""
    out: dict[str, tuple[Any, ...]] = {}
    by: dict[str, Counter[tuple[Any, ...]]] = {}
    for r in series(doc):
        if not is_jvm(r):
            by.setdefault(str(r["workload"]), Counter())[config(r)] += 1
    for wl, cnt in by.items():
        out[wl] = max(cnt, key=lambda c: (cnt[c], c[1] or 0, c[0] or 0, -(c[2] or 0), -(c[3] or 0)))
    for r in series(doc):   # a workload only the JVM ran
        if is_jvm(r):
            out.setdefault(str(r["workload"]), config(r))
    return out


def workloads(doc: Mapping[str, Any]) -> list[str]:
    refs = reference_configs(doc)
    return [w for w in WORKLOAD_ORDER if w in refs] + sorted(w for w in refs if w not in WORKLOAD_ORDER)


def ref_runs(doc: Mapping[str, Any], wl: str, cfg: tuple[Any, ...]) -> dict[str, list[Run]]:
    """The ok runs of a workload's reference configuration by series label;
    JVM peers of the workload join (the same size and heap preferred, then
    the same size, then any; a label says the size when it differs)."""
    out: dict[str, list[Run]] = {}
    jvm: list[Run] = []
    for r in series(doc):
        if r.get("workload") != wl:
            continue
        if is_jvm(r):
            jvm.append(r)
        elif config(r) == cfg:
            out.setdefault(label(r), []).append(r)
    for pick in ([p for p in jvm if p.get("size") == cfg[0] and p.get("heap_bytes") == cfg[1]],
                 [p for p in jvm if p.get("size") == cfg[0]], jvm):
        if pick:
            for p in pick:
                lab = label(p) + ("" if p.get("size") == cfg[0] else f" (size {p.get('size')})")
                out.setdefault(lab, []).append(p)
            break
    return out


def panel_title(wl: str, cfg: tuple[Any, ...]) -> str:
    return describe(wl, cfg)


def values(r: Mapping[str, Any], key: str) -> np.ndarray:
    """A run's values of key (e.g. latency_ns); where bench kept only their
    log-linear histogram (key_hist_ns: millions of request latencies), each
    bucket's midpoint as many times as it counted (within a bucket's width,
    1/16 of its power of two)."""
    v = r.get(key)
    if v is not None and len(v):
        return np.asarray(v, dtype=np.float64).reshape(-1)
    h = r.get(key[:-3] + "_hist_ns") if key.endswith("_ns") else None
    if isinstance(h, Mapping) and h.get("count"):
        mid = (np.asarray(h["low"], dtype=np.float64) + np.asarray(h["high"], dtype=np.float64)) / 2
        return np.repeat(mid, np.asarray(h["count"], dtype=np.int64))
    return np.zeros(0)


def has_values(r: Mapping[str, Any], key: str) -> bool:
    v = r.get(key)
    if v is not None and len(v):
        return True
    h = r.get(key[:-3] + "_hist_ns") if key.endswith("_ns") else None
    return isinstance(h, Mapping) and bool(h.get("count"))


def pooled(runs: list[Run], key: str) -> np.ndarray:
    arrs = [values(r, key) for r in runs]
    return np.concatenate(arrs) if arrs else np.zeros(0)


def has_cycles(r: Mapping[str, Any]) -> bool:
    """Whether the collector ran at all: a cycle (artgc) or a pause (JVM,
    whose results carry no per-cycle records)."""
    if is_jvm(r):
        return bool(r.get("pauses_ns")) or bool(r.get("cycles"))
    return bool(r.get("cycles"))


def point_key(r: Mapping[str, Any]) -> tuple[Any, ...]:
    """Runs of the same point: the same workload/mode/delivery/heap/mutators/
    gc_threads/size (and options); each is one invocation."""
    return (r.get("workload"), label(r), r.get("heap_bytes"), r.get("mutators"), r.get("gc_threads"),
            r.get("size"))


def median_ci(values: list[float] | np.ndarray) -> tuple[float, float, float] | None:
    """Median and a distribution-free 95% confidence interval of the median
    (order statistics of the binomial); with fewer than 6 values no interval
    reaches 95%, and the range (min, max) is returned instead."""
    v = np.sort(np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64))
    n = v.size
    if n == 0:
        return None
    med = float(np.median(v))
    if n < 6:
        return med, float(v[0]), float(v[-1])
    # smallest k with P(B(n, 1/2) < k) <= 2.5%: the interval [v[k-1], v[n-k]]
    cdf, k = 0.0, 0
    while True:
        p = math.comb(n, k) / 2.0 ** n
        if cdf + p > 0.025:
            break
        cdf += p
        k += 1
    k = max(k, 1)
    return med, float(v[k - 1]), float(v[n - k])


STALL_KINDS = ("pause", "fault", "alloc_wait")


def stalls(r: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], bool]:
    """A run's stalls by kind ("pause", "fault", "alloc_wait") and whether
    they came from `stalls_ns`/`stall_kinds` (False: an older result, built
    from pauses_ns, fault_stalls_ns and alloc_stalls_ns, the same spans)."""
    s, k = r.get("stalls_ns"), r.get("stall_kinds")
    if isinstance(s, list) and isinstance(k, list) and len(s) == len(k):
        vals = np.asarray(s, dtype=np.float64)
        kinds = np.asarray(k, dtype=object)
        return {name: vals[kinds == name] for name in STALL_KINDS}, True
    return {"pause": np.asarray(r.get("pauses_ns") or [], dtype=np.float64),
            "fault": np.asarray(r.get("fault_stalls_ns") or [], dtype=np.float64),
            "alloc_wait": np.asarray(r.get("alloc_stalls_ns") or [], dtype=np.float64)}, False


def run_span(r: Mapping[str, Any]) -> tuple[int, int] | None:
    """A run's span [t0, t1) on its event clock (peers: JVM uptime)."""
    t0, t1 = int(r.get("t0_ns") or 0), int(r.get("t1_ns") or 0)
    if t1 > t0:
        return t0, t1
    wall = int(float(r.get("wall_s") or 0) * 1e9)
    if wall <= 0:
        return None
    starts = metrics.events_columns(r.get("events"))["t_start_ns"]
    t0 = int(starts.min()) if starts.size else 0
    return t0, t0 + wall


def left_out(names: list[str], why: str) -> str:
    return f"left out ({why}): {', '.join(sorted(set(names)))}" if names else ""


def fmt_heap(r: Mapping[str, Any]) -> str:
    h = r.get("heap_bytes")
    return format_size(int(h)) if h else "?"


def times_formatter() -> FuncFormatter:
    """Tick labels for heap multiples: 1.5x, 2x, 4x."""
    return FuncFormatter(lambda v, _p: f"{v:g}x" if v > 0 else "")


__all__ = ["Run", "series", "config", "reference_configs", "workloads", "ref_runs", "pooled", "has_cycles",
           "point_key", "median_ci", "stalls", "run_span", "left_out", "fmt_heap", "times_formatter",
           "label", "is_jvm"]
