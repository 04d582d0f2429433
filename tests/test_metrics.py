"""metrics.py (percentiles, histograms, MMU, metered latency) and results.py
(JSON writing, loading and validation). Pure Python: no native build needed."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from artgc import metrics
from artgc.results import (
    CYCLE_KEYS,
    FORMAT_VERSION,
    RUN_KEYS,
    ResultsError,
    load,
    series_label,
    to_jsonable,
    validate,
    write_json,
)

# --------------------------------------------------------------------------- percentiles


def test_percentile_nearest_rank() -> None:
    v = list(range(1, 11))  # 1..10
    assert metrics.percentile(v, 50) == 5.0
    assert metrics.percentile(v, 90) == 9.0
    assert metrics.percentile(v, 91) == 10.0
    assert metrics.percentile(v, 100) == 10.0
    assert metrics.percentile(v, 0) == 1.0
    assert metrics.percentile([], 50) is None
    with pytest.raises(ValueError):
        metrics.percentile(v, 101)


def test_percentile_returns_observed_values() -> None:
    v = np.array([3, 1000, 7, 7, 42])
    for q in (1, 25, 50, 75, 99):
        assert metrics.percentile(v, q) in set(v.tolist())


def test_summarize() -> None:
    s = metrics.summarize(np.arange(1, 101, dtype=np.uint64))
    assert s["count"] == 100 and s["p50"] == 50 and s["p95"] == 95 and s["p99"] == 99
    assert s["max"] == 100 and s["total"] == 5050 and s["mean"] == 50.5
    empty = metrics.summarize([])
    assert empty["count"] == 0 and empty["max"] is None and empty["p99"] is None


# --------------------------------------------------------------------------- histograms

def test_loglinear_buckets_contain_their_values() -> None:
    v = np.concatenate([np.arange(0, 5000), [2**20, 2**20 + 1, 2**32 - 1, 2**40 + 12345]])
    b = metrics.loglinear_bucket(v)
    for x, bi in zip(v.tolist(), b.tolist()):
        lo, hi = metrics.loglinear_bounds(bi)
        assert lo <= x < hi, (x, lo, hi)
    # buckets never get wider than 1/16 of their value
    for bi in np.unique(b).tolist():
        lo, hi = metrics.loglinear_bounds(bi)
        assert hi - lo <= max(1, lo // 16)


def test_loglinear_histogram_counts() -> None:
    h = metrics.loglinear_histogram([1, 1, 100, 1000, 1001])
    assert sum(h["count"]) == 5
    assert h["low"][0] == 1 and h["count"][0] == 2
    assert metrics.loglinear_histogram([]) == {"low": [], "high": [], "count": []}


# --------------------------------------------------------------------------- MMU

def test_merge_intervals() -> None:
    s, e = metrics.merge_intervals([5, 0, 8, 20, 30], [10, 6, 12, 25, 30])
    assert s.tolist() == [0, 20] and e.tolist() == [12, 25]


def test_mmu_single_pause_known_answers() -> None:
    # one 10-unit pause at 40 in a 100-unit run
    got = metrics.mmu_intervals([40], [50], 0, 100, [5, 10, 20, 50, 100, 1000])
    np.testing.assert_allclose(got, [0.0, 0.0, 0.5, 0.8, 0.9, 0.9])


def test_mmu_two_pauses_window_covering_both() -> None:
    # pauses [10,20) and [30,40): a 30-wide window at 10 loses 20 -> 1/3
    got = metrics.mmu_intervals([10, 30], [20, 40], 0, 100, [10, 30, 100])
    np.testing.assert_allclose(got, [0.0, 1 / 3, 0.8])


def test_mmu_no_events_is_one() -> None:
    assert metrics.mmu_intervals([], [], 0, 100, [1, 10]).tolist() == [1.0, 1.0]
    assert metrics.mmu(None, 0, 100, [10])["mmu"].tolist() == [1.0]


def test_mmu_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    starts = np.sort(rng.integers(0, 10_000, 40))
    ends = starts + rng.integers(1, 200, 40)
    windows = [50, 100, 333, 1000, 5000]
    got = metrics.mmu_intervals(starts, ends, 0, 10_000, windows)
    lost = np.zeros(10_000, dtype=bool)
    for s, e in zip(starts, ends):
        lost[s:min(e, 10_000)] = True
    cum = np.concatenate([[0], np.cumsum(lost)])
    for w, g in zip(windows, got):
        worst = max(cum[t + w] - cum[t] for t in range(0, 10_000 - w + 1))
        assert g == pytest.approx(1 - worst / w)


def test_mmu_from_events_per_thread_worst_and_kinds() -> None:
    ev = {"t_start_ns": [100, 100, 500], "dur_ns": [50, 10, 100], "thread": [0, 1, 1],
          "kind": [metrics.EV_PAUSE, metrics.EV_FAULT, metrics.EV_VERIFY],
          "cycle": [1, 1, 1], "phase": [2, 0, 0]}
    out = metrics.mmu(ev, 0, 1000, [50, 1000], per_thread=True)
    # thread 0 loses a whole 50-wide window; verification does not count
    np.testing.assert_allclose(out["mmu"], [0.0, 0.95])
    np.testing.assert_allclose(out["threads"][1], [0.8, 0.99])
    assert metrics.utilization(ev, 0, 1000) == pytest.approx(0.95)


def test_mmu_accepts_structured_arrays_and_rows() -> None:
    dt = np.dtype([("t_start_ns", "<u8"), ("dur_ns", "<u8"), ("thread", "<u4"), ("kind", "<u4"),
                   ("cycle", "<u4"), ("phase", "<u4")])
    arr = np.array([(10, 10, 0, 0, 0, 0)], dtype=dt)
    rows = [{"t_start_ns": 10, "dur_ns": 10, "thread": 0, "kind": 0, "cycle": 0, "phase": 0}]
    a = metrics.mmu(arr, 0, 100, [20])["mmu"]
    b = metrics.mmu(rows, 0, 100, [20])["mmu"]
    assert a.tolist() == b.tolist() == [0.5]


def test_default_windows_span_100us_to_run() -> None:
    w = metrics.default_windows(2e9)
    assert w[0] == pytest.approx(1e5) and w[-1] == pytest.approx(2e9)
    assert np.all(np.diff(w) > 0)
    assert metrics.default_windows(5e4).tolist() == [5e4]


# --------------------------------------------------------------------------- metered latency

def test_metered_latency() -> None:
    # three requests of 1 each, the second stalled by 10: the third waits behind it
    starts = [0, 1, 12]
    ends = [1, 12, 13]
    got = metrics.metered_latency(starts, ends, interval_ns=1)
    assert got.tolist() == [1, 11, 11]


def _dacapo_smoothed(starts: list[float], window: float) -> list[float]:
    """DaCapo's LatencyReporter.smoothedStartTime, loop by loop."""
    n, lo, hi, out = len(starts), 0, 0, []
    for i in range(n):
        while starts[lo] < starts[i] - window / 2 and lo < n - 1:
            lo += 1
        while starts[hi] < starts[i] + window / 2 and hi < n - 1:
            hi += 1
        interval = (starts[hi] - starts[lo]) / (hi - lo) if hi > lo else 0.0
        out.append(starts[lo] + (i - lo) * interval)
    return out


def test_metered_latency_with_a_window_is_dacapos() -> None:
    # a stall delays the requests behind it within the window, not beyond
    starts = [0, 1, 2, 12, 13, 14]
    ends = [1, 2, 12, 13, 14, 15]
    assert metrics.metered_latency(starts, ends, window_ns=4).tolist() == [1, 1, 10, 1, 1, 1]
    # full smoothing: the stall's lateness carries to the end of the run
    assert metrics.metered_latency(starts, ends).tolist() == [1, 1, 10, 5.5, 4, 2.5]
    rng = np.random.default_rng(7)
    for window in (50.0, 400.0, 5000.0):
        lat = rng.exponential(3.0, 2000) + np.where(rng.random(2000) < 0.01, 200.0, 0.0)
        s = np.concatenate([[0.0], np.cumsum(lat[:-1] + rng.random(1999))])
        want = np.maximum(lat, s + lat - np.asarray(_dacapo_smoothed(s.tolist(), window)))
        got = metrics.metered_latency(s, s + lat, window_ns=window)
        assert np.allclose(got, want)
        # given in another order (requests of several threads), the same per request
        perm = rng.permutation(s.size)
        assert np.allclose(metrics.metered_latency(s[perm], (s + lat)[perm], window_ns=window), want[perm])
    with pytest.raises(ValueError, match="window_ns must be positive"):
        metrics.metered_latency([0], [1], window_ns=0)
    with pytest.raises(ValueError, match="2 starts but 1 ends"):
        metrics.metered_latency([0, 1], [1])


def test_request_latencies_gives_both_metered_figures() -> None:
    start = np.array([10**12, 10**12 + 5, 10**12 + 200_000_000], dtype=np.uint64)
    lat = np.array([5, 100_000_000, 3], dtype=np.uint64)
    got = metrics.request_latencies(start, lat)
    assert got["latency_ns"].tolist() == lat.tolist()
    assert all(got[k].dtype == np.uint64 and bool(np.all(got[k] >= lat))
               for k in ("metered_latency_ns", "metered_full_latency_ns"))
    assert got["metered_latency_ns"].tolist() == metrics.metered_latency(
        start - start[0], start - start[0] + lat, window_ns=metrics.METERED_WINDOW_NS).round().tolist()
    empty = metrics.request_latencies([], [])
    assert all(v.size == 0 for v in empty.values())


def test_format() -> None:
    assert metrics.format_ns(850) == "850 ns"
    assert metrics.format_ns(4200) == "4.2 us"
    assert metrics.format_ns(1.3e6) == "1.3 ms"
    assert metrics.format_ns(None) == "-"
    assert metrics.format_bytes(3 << 30) == "3 GiB"


# --------------------------------------------------------------------------- results

def _run(**over: Any) -> dict[str, Any]:
    cyc = {k: 1 for k in CYCLE_KEYS}
    d: dict[str, Any] = {k: None for k in RUN_KEYS}
    d.update(version=FORMAT_VERSION, workload="binarytrees", mode="minor", delivery="sigbus",
             heap_bytes=1 << 26, mutators=1, gc_threads=1, size=10, seed=0, kernel={}, wall_s=0.1,
             output="", verified=None, pauses_ns=[1, 2], fault_stalls_ns=[], cycles=[cyc],
             peak_rss_bytes=1)
    d.update(over)
    return d


def test_load_single_run_becomes_a_sweep(tmp_path: Path) -> None:
    p = tmp_path / "run.json"
    p.write_text(json.dumps(_run()))
    doc = load(p)
    assert doc["single_run"] and len(doc["runs"]) == 1 and doc["runs"][0]["status"] == "ok"


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    text = json.dumps({"version": FORMAT_VERSION, "suite": "x", "machine": {}, "kernel": {}, "probe": None,
                       "runs": [_run()], "peers": []})
    p.write_text(text[: len(text) // 2])
    with pytest.raises(ResultsError, match="truncated"):
        load(p)
    (tmp_path / "e.json").write_text("")
    with pytest.raises(ResultsError, match="empty"):
        load(tmp_path / "e.json")
    with pytest.raises(ResultsError, match="no such file"):
        load(tmp_path / "missing.json")


def test_old_or_unknown_version_is_refused(tmp_path: Path) -> None:
    for v, msg in ((0, "version 0"), (99, "version 99")):
        p = tmp_path / f"v{v}.json"
        p.write_text(json.dumps(_run(version=v)))
        with pytest.raises(ResultsError, match=msg):
            load(p)
    p = tmp_path / "nov.json"
    d = _run()
    del d["version"]
    p.write_text(json.dumps(d))
    with pytest.raises(ResultsError, match="version"):
        load(p)


def test_missing_keys_are_named() -> None:
    d = _run()
    del d["fault_stalls_ns"]
    with pytest.raises(ResultsError, match="fault_stalls_ns"):
        validate(d)
    d = _run(cycles=[{"pause_ns": 1}])
    with pytest.raises(ResultsError, match="cycles\\[0\\]"):
        validate(d)
    sweep = {"version": FORMAT_VERSION, "suite": "x", "machine": {}, "kernel": {}, "probe": None,
             "runs": [{"status": "failed", "error": "boom"}, _run()], "peers": []}
    assert len(validate(sweep)["runs"]) == 2   # failed runs need no contract keys
    del sweep["peers"]
    with pytest.raises(ResultsError, match="peers"):
        validate(sweep)
    with pytest.raises(ResultsError, match="neither"):
        validate({"version": FORMAT_VERSION})


def test_write_json_is_atomic_and_plain(tmp_path: Path) -> None:
    p = write_json({"a": np.arange(3, dtype=np.uint64), "b": np.float64("nan"), "c": (1, 2)},
                   tmp_path / "sub" / "x.json")
    assert json.loads(p.read_text()) == {"a": [0, 1, 2], "b": None, "c": [1, 2]}
    assert [f.name for f in p.parent.iterdir()] == ["x.json"]
    mode = stat.S_IMODE(os.stat(p).st_mode)
    assert mode & 0o044, "results should be readable by others (umask permitting)"


def test_to_jsonable_structured_events() -> None:
    dt = np.dtype([("t_start_ns", "<u8"), ("dur_ns", "<u8")])
    arr = np.array([(1, 2), (3, 4)], dtype=dt)
    assert to_jsonable(arr) == {"t_start_ns": [1, 3], "dur_ns": [2, 4]}


def test_series_label() -> None:
    assert series_label({"mode": "stw", "delivery": "sigbus"}) == "stw"
    assert series_label({"mode": "minor", "delivery": "thread"}) == "minor/thread"
    assert series_label({"mode": "minor", "delivery": "sigbus", "marking": "stw"}) == "minor/sigbus (stw marking)"
    assert series_label({"mode": "jvm-g1", "peer": True}) == "jvm-g1"
    assert series_label({"mode": "copy", "delivery": "sigbus",
                         "options": {"reuse_tospace": False, "order": "ascending"}}) == \
        "copy/sigbus reuse_tospace=False"
