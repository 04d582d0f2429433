"""Latency statistics: percentiles, log-linear histograms and minimum mutator
utilization (MMU), as GC people read them (architecture.md section 6).

Everything here is pure numpy and takes plain arrays, so it works on a fresh
run (:class:`artgc.RunResult`) and on results loaded from JSON alike.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

# Event kinds, as in heap_api.h (AGC_EV_*).
EV_PAUSE, EV_FAULT, EV_ALLOC_WAIT, EV_VERIFY = 0, 1, 2, 3
EVENT_KINDS = {EV_PAUSE: "pause", EV_FAULT: "fault", EV_ALLOC_WAIT: "alloc_wait", EV_VERIFY: "verify"}
# What counts as time a mutator lost to the collector in MMU: pauses, fault
# stalls and waits for allocation space. Verification is a debugging cost, not
# the collector's, so it is left out.
LOST_KINDS: tuple[int, ...] = (EV_PAUSE, EV_FAULT, EV_ALLOC_WAIT)

PERCENTILES: tuple[float, ...] = (50.0, 95.0, 99.0)

IntArray = npt.NDArray[np.int64]


def as_array(values: Iterable[float] | npt.ArrayLike | None) -> npt.NDArray[np.float64]:
    """A 1-d float array (empty for None)."""
    if values is None:
        return np.zeros(0, dtype=np.float64)
    arr = np.asarray(values if not isinstance(values, (list, tuple)) else list(values), dtype=np.float64)
    return arr.reshape(-1)


def percentile(values: npt.ArrayLike, q: float) -> float | None:
    """The q-th percentile by nearest rank (the smallest value with at least
    q% of the values at or below it), or None for no values. Nearest rank
    always returns an observed value, as latency tools (HdrHistogram) do."""
    arr = as_array(values)
    if arr.size == 0:
        return None
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    return float(np.percentile(arr, q, method="inverted_cdf"))


def summarize(values: npt.ArrayLike, percentiles: Sequence[float] = PERCENTILES) -> dict[str, float | int | None]:
    """count, total, mean, p50/p95/p99 (nearest rank) and max of values."""
    arr = as_array(values)
    out: dict[str, float | int | None] = {"count": int(arr.size)}
    if arr.size == 0:
        out.update({"total": 0.0, "mean": None, "max": None})
        out.update({f"p{_qname(q)}": None for q in percentiles})
        return out
    out["total"] = float(arr.sum())
    out["mean"] = float(arr.mean())
    for q in percentiles:
        out[f"p{_qname(q)}"] = float(np.percentile(arr, q, method="inverted_cdf"))
    out["max"] = float(arr.max())
    return out


def _qname(q: float) -> str:
    return str(int(q)) if float(q).is_integer() else str(q).replace(".", "_")


# --------------------------------------------------------------------------- histograms

def loglinear_bucket(values: npt.ArrayLike, sub_buckets: int = 16) -> IntArray:
    """Bucket index of each (non-negative integer) value in a log-linear
    histogram: exact below ``sub_buckets``, then ``sub_buckets`` equal buckets
    per power of two (Whippet's latency histogram uses 16)."""
    if sub_buckets < 1 or sub_buckets & (sub_buckets - 1):
        raise ValueError("sub_buckets must be a power of two")
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = np.maximum(np.floor(v), 0).astype(np.uint64)
    shift = int(sub_buckets).bit_length() - 1
    out = v.astype(np.int64)
    big = v >= sub_buckets
    if np.any(big):
        vb = v[big]
        exp = np.floor(np.log2(vb.astype(np.float64))).astype(np.int64)
        # guard float rounding at exact powers of two
        exp = np.where((np.uint64(1) << exp.astype(np.uint64)) > vb, exp - 1, exp)
        exp = np.where((np.uint64(1) << (exp + 1).astype(np.uint64)) <= vb, exp + 1, exp)
        sub = (vb >> (exp - shift).astype(np.uint64)).astype(np.int64) - sub_buckets
        out[big] = (exp - shift + 1) * sub_buckets + sub
    return out


def loglinear_bounds(bucket: int, sub_buckets: int = 16) -> tuple[int, int]:
    """[low, high) of a log-linear histogram bucket."""
    shift = int(sub_buckets).bit_length() - 1
    if bucket < sub_buckets:
        return bucket, bucket + 1
    exp = bucket // sub_buckets + shift - 1
    sub = bucket % sub_buckets
    width = 1 << (exp - shift)
    low = (sub_buckets + sub) * width
    return low, low + width


def loglinear_histogram(values: npt.ArrayLike, sub_buckets: int = 16) -> dict[str, list[int]]:
    """Non-empty buckets of a log-linear histogram: {"low", "high", "count"}."""
    idx = loglinear_bucket(values, sub_buckets)
    if idx.size == 0:
        return {"low": [], "high": [], "count": []}
    buckets, counts = np.unique(idx, return_counts=True)
    lows, highs = zip(*(loglinear_bounds(int(b), sub_buckets) for b in buckets))
    return {"low": list(lows), "high": list(highs), "count": [int(c) for c in counts]}


# --------------------------------------------------------------------------- MMU

def merge_intervals(starts: npt.ArrayLike, ends: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Sort and merge overlapping/touching [start, end) intervals."""
    s = np.asarray(starts, dtype=np.int64).reshape(-1)
    e = np.asarray(ends, dtype=np.int64).reshape(-1)
    keep = e > s
    s, e = s[keep], e[keep]
    if s.size == 0:
        return s, e
    order = np.argsort(s, kind="stable")
    s, e = s[order], e[order]
    run_end = np.maximum.accumulate(e)
    # a new merged interval starts where the start is past every earlier end
    new = np.ones(s.size, dtype=bool)
    new[1:] = s[1:] > run_end[:-1]
    group = np.cumsum(new) - 1
    ms = s[new]
    me = np.zeros(ms.size, dtype=np.int64)
    np.maximum.at(me, group, run_end)
    return ms, me


def _lost_before(x: IntArray, s: IntArray, e: IntArray, prefix: IntArray) -> IntArray:
    """Total lost time in [-inf, x) for merged disjoint intervals (s, e)."""
    k = np.searchsorted(s, x, side="right") - 1
    kk = np.clip(k, 0, None)
    inside = np.clip(np.minimum(x, e[kk]) - s[kk], 0, None)
    return np.where(k >= 0, prefix[kk] + inside, 0)


def mmu_intervals(starts: npt.ArrayLike, ends: npt.ArrayLike, t0: int, t1: int,
                  windows: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Minimum mutator utilization of one thread for each window width.

    The thread lives in [t0, t1) and loses the time of the given intervals.
    For a width w, the lost time in [t, t+w) is piecewise linear in t and
    peaks where the window starts at an interval's start or ends at an
    interval's end, so only those positions (and the ends of the span) are
    tried: O(n log n) per width. A width at or over the span gives the
    overall utilization.
    """
    w_arr = np.asarray(windows, dtype=np.float64).reshape(-1)
    span = int(t1) - int(t0)
    if span <= 0:
        return np.ones(w_arr.size)
    s, e = merge_intervals(np.clip(np.asarray(starts, dtype=np.int64), t0, t1),
                           np.clip(np.asarray(ends, dtype=np.int64), t0, t1))
    if s.size == 0:
        return np.ones(w_arr.size)
    prefix = np.concatenate(([0], np.cumsum(e - s)[:-1])).astype(np.int64)
    out = np.empty(w_arr.size)
    for i, wf in enumerate(w_arr):
        w = int(min(max(wf, 1.0), span))
        cand = np.concatenate((s, e - w, [t0, t1 - w]))
        cand = np.clip(cand, t0, t1 - w)
        lost = _lost_before(cand + w, s, e, prefix) - _lost_before(cand, s, e, prefix)
        out[i] = 1.0 - float(lost.max()) / w
    return np.clip(out, 0.0, 1.0)


def default_windows(span_ns: float, min_ns: float = 100_000.0, per_decade: int = 8) -> npt.NDArray[np.float64]:
    """Log-spaced window widths from min_ns (100 us) to the run length."""
    span_ns = float(span_ns)
    if span_ns <= min_ns:
        return np.array([max(span_ns, 1.0)])
    n = max(2, int(np.ceil(np.log10(span_ns / min_ns) * per_decade)) + 1)
    return np.logspace(np.log10(min_ns), np.log10(span_ns), n)


# An event's fields; a fault's page and the GC threads' claimed pages then
# are 0 for other kinds, and in results written before they were recorded.
EVENT_FIELDS: tuple[str, ...] = ("t_start_ns", "dur_ns", "thread", "kind", "cycle", "phase", "page", "claimed")
_EVENT_OPTIONAL = ("page", "claimed")


def events_columns(events: Any) -> dict[str, npt.NDArray[np.int64]]:
    """Events as columns (EVENT_FIELDS) from a numpy structured array, a dict
    of lists (JSON) or a list of dicts; a missing ``page`` or ``claimed``
    column (an older result, a JVM's events) is zeros."""
    names = EVENT_FIELDS
    if events is None:
        return {n: np.zeros(0, dtype=np.int64) for n in names}
    if isinstance(events, np.ndarray) and events.dtype.names:
        have = events.dtype.names
        return {n: events[n].astype(np.int64) if n in have else np.zeros(events.shape[0], dtype=np.int64)
                for n in names}
    if isinstance(events, Mapping):
        cols = {n: np.asarray(events.get(n, []), dtype=np.int64).reshape(-1)
                for n in names if n not in _EVENT_OPTIONAL or n in events}
        size = cols["t_start_ns"].size
        return {n: cols[n] if n in cols else np.zeros(size, dtype=np.int64) for n in names}
    rows = list(events)
    return {n: np.asarray([r.get(n, 0) if n in _EVENT_OPTIONAL else r[n] for r in rows], dtype=np.int64)
            for n in names}


def lost_by_thread(events: Any, kinds: Sequence[int] = LOST_KINDS) -> dict[int, tuple[IntArray, IntArray]]:
    """Per mutator thread: (starts, ends) of the time it lost."""
    c = events_columns(events)
    sel = np.isin(c["kind"], np.asarray(kinds, dtype=np.int64))
    out: dict[int, tuple[IntArray, IntArray]] = {}
    threads = c["thread"][sel]
    starts = c["t_start_ns"][sel]
    ends = starts + c["dur_ns"][sel]
    for t in np.unique(threads):
        m = threads == t
        out[int(t)] = (starts[m], ends[m])
    return out


def mmu(events: Any, t0: int, t1: int, windows: npt.ArrayLike | None = None,
        kinds: Sequence[int] = LOST_KINDS, per_thread: bool = False
        ) -> dict[str, Any]:
    """MMU curve (Cheng & Blelloch) of a run from its events.

    Each mutator thread is taken to live for the whole run [t0, t1); its
    pauses, fault stalls and allocation waits count as lost. The curve is the
    worst thread's at each width. Returns {"windows_ns", "mmu"} (and
    "threads": {id: curve} with per_thread)."""
    win = default_windows(t1 - t0) if windows is None else np.asarray(windows, dtype=np.float64)
    lost = lost_by_thread(events, kinds)
    curves = {t: mmu_intervals(s, e, t0, t1, win) for t, (s, e) in lost.items()}
    worst = np.min(np.vstack(list(curves.values())), axis=0) if curves else np.ones(win.size)
    out: dict[str, Any] = {"windows_ns": win, "mmu": worst}
    if per_thread:
        out["threads"] = curves
    return out


def utilization(events: Any, t0: int, t1: int, kinds: Sequence[int] = LOST_KINDS) -> float:
    """Overall mutator utilization of the worst thread over [t0, t1)."""
    return float(mmu(events, t0, t1, [max(t1 - t0, 1)], kinds)["mmu"][0])


# --------------------------------------------------------------------------- stalls

STALL_KINDS: tuple[int, ...] = LOST_KINDS


def stall_fields(events: Any) -> dict[str, Any]:
    """The result keys of every span a mutator was held by the GC, from the
    event log: ``stalls_ns`` (durations in start-time order), ``stall_kinds``
    ("pause", "fault" or "alloc_wait", alongside) and ``alloc_stalls_ns``
    (the allocation waits alone, in the same order)."""
    c = events_columns(events)
    sel = np.isin(c["kind"], np.asarray(STALL_KINDS, dtype=np.int64))
    order = np.argsort(c["t_start_ns"][sel], kind="stable")
    dur = c["dur_ns"][sel][order].astype(np.uint64)
    kinds = c["kind"][sel][order]
    return {"stalls_ns": dur, "stall_kinds": [EVENT_KINDS[int(k)] for k in kinds],
            "alloc_stalls_ns": dur[kinds == EV_ALLOC_WAIT]}


def _get(result: Any, name: str, default: Any = None) -> Any:
    if isinstance(result, Mapping):
        return result.get(name, default)
    return getattr(result, name, default)


def worst_stall(result: Any) -> float | None:
    """The longest span any mutator was held (pause, fault stall or
    allocation wait), in ns; None when there was none. Works on a
    RunResult or its JSON dict (older results without ``stalls_ns`` fall
    back to their pauses, fault stalls and allocation waits)."""
    stalls = _get(result, "stalls_ns")
    if stalls is None:
        parts = [as_array(_get(result, k)) for k in ("pauses_ns", "fault_stalls_ns", "alloc_stalls_ns")]
        arr = np.concatenate(parts)
    else:
        arr = as_array(stalls)
    return float(arr.max()) if arr.size else None


def _span(result: Any) -> tuple[int, int]:
    t0, t1 = int(_get(result, "t0_ns", 0) or 0), int(_get(result, "t1_ns", 0) or 0)
    if t1 <= t0:  # no run span recorded: the wall time from t0
        t1 = t0 + int(float(_get(result, "wall_s", 0) or 0) * 1e9)
    return t0, t1


def mmu_at(result: Any, window_ns: float) -> float | None:
    """MMU of the worst mutator at one window width (e.g. 1e6, 1e7, 1e8 for
    1/10/100 ms), every stall counted; None without a run span."""
    t0, t1 = _span(result)
    if t1 <= t0:
        return None
    return float(mmu(_get(result, "events"), t0, t1, [float(window_ns)])["mmu"][0])


def wait_share(result: Any) -> float | None:
    """The fraction of the worst mutator's time lost to stalls (1 - overall
    utilization): 0.9 means it waited 90% of the run. None without a span."""
    t0, t1 = _span(result)
    if t1 <= t0:
        return None
    return 1.0 - utilization(_get(result, "events"), t0, t1)


# --------------------------------------------------------------------------- metered latency

METERED_WINDOW_NS = 100_000_000
"""DaCapo's smoothing window for its headline metered latency ("metered
100ms smoothing"; its harness also prints "metered full smoothing")."""


def metered_latency(starts_ns: npt.ArrayLike, ends_ns: npt.ArrayLike,
                    interval_ns: float | None = None,
                    window_ns: float | None = None) -> npt.NDArray[np.float64]:
    """DaCapo-style metered latency of requests (all threads' together, as
    DaCapo's harness takes them, ordered by start): each request gets a
    synthetic start as if requests arrived evenly, and its latency is the
    larger of end - start and end - synthetic start, so a stall also delays
    the requests queued behind it. Returned in the order given.

    window_ns None (full smoothing): request i of n starts at t_first + i *
    interval, interval the run's mean (end of the last - start of the
    first) / n unless given. window_ns W (DaCapo's default, W = 100 ms:
    METERED_WINDOW_NS): the requests whose starts lie within W/2 of request
    i's are taken to arrive evenly between the first and the last of them
    (DaCapo's LatencyReporter.smoothedStartTime), so lateness builds up over
    a window of W, not over the whole run."""
    s = np.asarray(starts_ns, dtype=np.float64).reshape(-1)
    e = np.asarray(ends_ns, dtype=np.float64).reshape(-1)
    if s.size != e.size:
        raise ValueError(f"metered_latency: {s.size} starts but {e.size} ends")
    if s.size == 0:
        return np.zeros(0)
    order = np.argsort(s, kind="stable")
    base = s[order[0]]
    ss, ee = s[order] - base, e[order] - base
    n = ss.size
    idx = np.arange(n, dtype=np.float64)
    if window_ns is None:
        if interval_ns is None:
            interval_ns = (ee[-1] - ss[0]) / n
        synthetic = ss[0] + idx * float(interval_ns)
    else:
        if not window_ns > 0:
            raise ValueError(f"metered_latency: window_ns must be positive, not {window_ns!r}")
        half = float(window_ns) / 2
        lo = np.minimum(np.searchsorted(ss, ss - half, side="left"), n - 1)
        hi = np.minimum(np.searchsorted(ss, ss + half, side="left"), n - 1)
        span = hi - lo
        interval = np.where(span > 0, (ss[hi] - ss[lo]) / np.maximum(span, 1), 0.0)
        synthetic = ss[lo] + (idx - lo) * interval
    out = np.empty(n)
    out[order] = np.maximum(ee - ss, ee - synthetic)
    return out


def request_latencies(starts_ns: npt.ArrayLike, latency_ns: npt.ArrayLike) -> dict[str, npt.NDArray[np.uint64]]:
    """A request workload's result keys from each request's start and
    latency: latency_ns, metered_latency_ns (DaCapo's 100 ms smoothing) and
    metered_full_latency_ns (full smoothing); the same for artgc's lru and
    the JVM's Lru.java."""
    s = np.asarray(starts_ns, dtype=np.uint64).reshape(-1)
    lat = np.asarray(latency_ns, dtype=np.uint64).reshape(-1)
    if s.size != lat.size:
        raise ValueError(f"request_latencies: {s.size} starts but {lat.size} latencies")
    rel = (s - s.min()).astype(np.float64) if s.size else np.zeros(0)
    ends = rel + lat.astype(np.float64)

    def met(window: float | None) -> npt.NDArray[np.uint64]:
        m = np.rint(metered_latency(rel, ends, window_ns=window)).astype(np.uint64)
        return np.maximum(m, lat)   # never below the request's own latency, whatever the rounding

    return {"latency_ns": lat.copy(), "metered_latency_ns": met(METERED_WINDOW_NS),
            "metered_full_latency_ns": met(None)}


# --------------------------------------------------------------------------- formatting

def format_ns(ns: float | int | None) -> str:
    """A duration for people: 850 ns, 4.2 us, 1.30 ms, 2.51 s."""
    if ns is None:
        return "-"
    ns = float(ns)
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if abs(ns) >= div:
            v = ns / div
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{ns:.0f} ns"


def format_bytes(n: float | int | None) -> str:
    """A byte count for people: 1.5 GiB, 300 MiB, 12 KiB."""
    if n is None:
        return "-"
    n = float(n)
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= div:
            v = n / div
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{n:.0f} B"
