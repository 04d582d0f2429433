"""stats (median, bootstrap CI), the machine guard, artgc compare and artgc trace."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from artgc import machine, stats
from artgc.cli import main
from artgc.compare import compare, format_csv
from artgc.results import FORMAT_VERSION
from artgc.trace import trace_events
from conftest import needs_native  # noqa: F401


def _run(pause_ms: float, busy: bool = False, point: str = "bt/minor/2x") -> dict[str, Any]:
    t0 = 1_000_000_000
    p = int(pause_ms * 1e6)
    return {"workload": "binarytrees", "mode": "minor", "delivery": "sigbus", "heap_bytes": 8 << 20,
            "mutators": 1, "gc_threads": 1, "size": 12, "seed": 0, "kernel": None, "wall_s": 1.0, "output": "",
            "verified": None, "pauses_ns": [p, p // 2], "fault_stalls_ns": [1000], "alloc_stalls_ns": [],
            "peak_rss_bytes": 1 << 24, "status": "ok", "point": point, "t0_ns": t0, "t1_ns": t0 + 10**9,
            "machine": {"busy": busy},
            "cycles": [{"index": 1, "t_start_ns": t0 + 10**8, "t_mark_start_ns": t0 + 10**8,
                        "t_mark_end_ns": t0 + 2 * 10**8, "t_flip_start_ns": t0 + 2 * 10**8,
                        "t_flip_end_ns": t0 + 2 * 10**8 + p, "t_compact_end_ns": t0 + 3 * 10**8,
                        "t_end_ns": t0 + 4 * 10**8, "pause_ns": p, "mark_pause_ns": 0, "flip_pause_ns": p,
                        "mark_ns": 10**8, "compact_ns": 10**8, "live_bytes": 1, "moved_bytes": 1, "pages": 1,
                        "faults": 1, "used_before": 6 << 20, "used_after": 1 << 20, "reason": "trigger"}],
            "events": {"t_start_ns": [t0 + 2 * 10**8, t0 + 25 * 10**7], "dur_ns": [p, 1000], "thread": [0, 1],
                       "kind": [0, 1], "cycle": [1, 1], "phase": [2, 0]}}


def _doc(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "suite": "t", "machine": {}, "kernel": {}, "probe": None,
            "runs": runs, "peers": []}


def test_median_ci() -> None:
    e = stats.median_ci([1.0, 2.0, 3.0, 4.0, 100.0])
    assert e.median == 3.0 and e.lo is not None and e.hi is not None
    assert e.lo <= 3.0 <= e.hi and e.lo >= 1.0 and e.hi <= 100.0
    assert stats.median_ci([5.0]).lo == 5.0
    assert stats.median_ci([None]).median is None
    assert stats.median_ci([1.0, 2.0, 3.0]) == stats.median_ci([1.0, 2.0, 3.0])   # seeded


def test_ratio_beyond_noise() -> None:
    same = stats.ratio_ci([10, 11, 12, 10, 11], [11, 10, 12, 11, 10])
    assert same.lo is not None and same.lo <= 1.0 <= same.hi
    up = stats.ratio_ci([10, 11, 12, 10, 11], [30, 31, 33, 29, 30])
    assert up.lo is not None and up.lo > 2.0


def test_machine_watch_and_rule() -> None:
    with machine.MachineWatch() as w:
        sum(range(10000))
    m = w.result
    assert set(m) >= {"loadavg", "steal_frac", "other_cpu_frac", "cpu", "ncpu", "busy"}
    assert machine.is_busy({"steal_frac": 0.2, "other_cpu_frac": 0.0, "loadavg": [0, 0, 0], "ncpu": 2})
    assert machine.is_busy({"steal_frac": 0.0, "other_cpu_frac": 0.5, "loadavg": [0, 0, 0], "ncpu": 2})
    assert machine.is_busy({"steal_frac": 0.0, "other_cpu_frac": 0.0, "loadavg": [3.0, 0, 0], "ncpu": 2})
    assert not machine.is_busy({"steal_frac": 0.01, "other_cpu_frac": 0.05, "loadavg": [1.0, 0, 0], "ncpu": 2})


def test_compare_tells_change_from_noise() -> None:
    a = _doc([_run(1.0 + 0.01 * i) for i in range(5)] + [_run(1.0, point="only-a")])
    b = _doc([_run(3.0 + 0.01 * i, busy=(i == 0)) for i in range(5)])
    res = compare(a, b)
    rows = {r["figure"]: r for r in res["rows"]}
    assert rows["pause_max_ns"]["changed"] == "higher" and rows["pause_max_ns"]["b_busy"]
    assert rows["wall_s"]["changed"] == "no"
    assert res["only_a"] == ["only-a"]
    csv = format_csv(res)
    assert csv.splitlines()[0].startswith("point,figure,unit,a_median")
    assert any(line.startswith("bt/minor/2x,pause_max_ns,ns,") for line in csv.splitlines())


def test_compare_and_trace_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_doc([_run(1.0), _run(1.1), _run(0.9)])))
    b.write_text(json.dumps(_doc([_run(2.0), _run(2.1), _run(1.9)])))
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| worst pause |" in out and "HIGHER" in out and "## Beyond noise" in out
    assert main(["compare", str(a), str(b), "--csv"]) == 0
    assert capsys.readouterr().out.startswith("point,figure")
    t = tmp_path / "trace.json"
    assert main(["trace", str(a), "--out", str(t)]) == 0
    d = json.loads(t.read_text())
    evs = d["traceEvents"]
    assert all({"ph", "pid", "tid", "name"} <= set(e) for e in evs)
    xs = [e for e in evs if e["ph"] == "X"]
    assert all(isinstance(e["ts"], (int, float)) and e["dur"] >= 0 for e in xs)
    names = {e["name"] for e in xs}
    assert {"GC(1) trigger", "mark", "flip", "compact", "release", "pause (flip)", "fault stall"} <= names
    assert {e["tid"] for e in xs if e["name"] == "fault stall"} == {2}   # mutator 1's track
    threads = {e["args"]["name"] for e in evs if e["ph"] == "M" and e["name"] == "thread_name"}
    assert threads == {"GC", "mutator 0", "mutator 1"}


@pytest.mark.parametrize("argv, needle", [
    (["compare", "nope.json", "nope2.json"], "no such file"),
    (["trace", "nope.json", "--out", "t.json"], "no such file"),
])
def test_bad_compare_and_trace_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                     needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_trace_refuses_a_bad_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "a.json"
    a.write_text(json.dumps(_doc([_run(1.0)])))
    assert main(["trace", str(a), "--out", str(tmp_path / "t.json"), "--index", "3"]) == 2
    assert "1 successful run" in capsys.readouterr().err
    assert trace_events(_run(1.0))
