"""Every stall of a mutator is data: pauses, fault stalls and allocation
waits in stalls_ns / stall_kinds, counted in MMU and in the summary helpers."""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pytest

from artgc import metrics
from conftest import needs_native


def _events(rows: list[tuple[int, int, int, int]]) -> dict[str, list[int]]:
    """(start, dur, thread, kind) rows as event columns."""
    return {"t_start_ns": [r[0] for r in rows], "dur_ns": [r[1] for r in rows],
            "thread": [r[2] for r in rows], "kind": [r[3] for r in rows],
            "cycle": [0] * len(rows), "phase": [0] * len(rows)}


ROWS = [(300, 50, 0, metrics.EV_FAULT), (100, 20, 0, metrics.EV_PAUSE),
        (500, 200, 0, metrics.EV_ALLOC_WAIT), (800, 999, 0, metrics.EV_VERIFY),
        (900, 10, 1, metrics.EV_PAUSE)]


def test_stall_fields_orders_and_names_every_kind_but_verification() -> None:
    f = metrics.stall_fields(_events(ROWS))
    assert f["stalls_ns"].tolist() == [20, 50, 200, 10]
    assert f["stall_kinds"] == ["pause", "fault", "alloc_wait", "pause"]
    assert f["alloc_stalls_ns"].tolist() == [200]


def test_summary_helpers_count_allocation_waits() -> None:
    d: dict[str, Any] = {"events": _events(ROWS), "t0_ns": 0, "t1_ns": 1000,
                         **{k: v.tolist() if isinstance(v, np.ndarray) else v
                            for k, v in metrics.stall_fields(_events(ROWS)).items()}}
    assert metrics.worst_stall(d) == 200.0
    # thread 0 loses 20 + 50 + 200 of 1000 ns; a 200 ns window inside the wait is all lost
    assert metrics.wait_share(d) == pytest.approx(0.27)
    assert metrics.mmu_at(d, 200) == 0.0
    assert metrics.mmu_at(d, 1000) == pytest.approx(0.73)
    assert metrics.mmu_at(d, 400) == pytest.approx(0.375)   # [300, 700): 50 + 200 lost
    # without the allocation wait the same run looks much better: it must count
    kinds = (metrics.EV_PAUSE, metrics.EV_FAULT)
    assert metrics.utilization(d["events"], 0, 1000, kinds) == pytest.approx(0.93)


def test_worst_stall_of_old_results_falls_back_to_their_lists() -> None:
    assert metrics.worst_stall({"pauses_ns": [5], "fault_stalls_ns": [7], "alloc_stalls_ns": []}) == 7.0
    assert metrics.worst_stall({"pauses_ns": []}) is None
    assert metrics.mmu_at({"t0_ns": 0, "t1_ns": 0}, 1e6) is None


def _check_consistent(r: Any) -> Counter[str]:
    assert len(r.stalls_ns) == len(r.stall_kinds)
    kinds = np.asarray(r.stall_kinds)
    stalls = np.asarray(r.stalls_ns)
    assert sorted(stalls[kinds == "pause"].tolist()) == sorted(r.pauses_ns.tolist())
    assert sorted(stalls[kinds == "fault"].tolist()) == sorted(r.fault_stalls_ns.tolist())
    assert sorted(stalls[kinds == "alloc_wait"].tolist()) == sorted(r.alloc_stalls_ns.tolist())
    assert metrics.worst_stall(r) == float(stalls.max())
    d = json.loads(r.to_json())
    assert d["stalls_ns"] == stalls.tolist() and d["stall_kinds"] == list(r.stall_kinds)
    assert metrics.mmu_at(d, 1e7) == pytest.approx(metrics.mmu_at(r, 1e7))
    return Counter(r.stall_kinds)


@needs_native
@pytest.mark.parametrize("mode", ["stw", "minor"])
def test_a_tiny_heap_records_allocation_waits(mode: str, require_mode: Any) -> None:
    """With trigger=1.0 the first cycle starts only when an allocation finds
    the heap full, so at least one allocation wait is certain. (Whether a
    pause is felt too depends on timing: a mutator blocked in its allocation
    wait through a whole cycle feels that cycle's pause inside its wait.)"""
    require_mode(mode)
    import artgc
    r = artgc.run("binarytrees", size=12, heap="4MiB", mode=mode, trigger=1.0, check=True)
    assert r.cycles[0]["reason"] == "allocation-failure"
    kinds = _check_consistent(r)
    assert kinds["alloc_wait"] >= 1
    assert set(kinds) <= {"pause", "fault", "alloc_wait"}
    assert 0.0 < metrics.wait_share(r) < 1.0  # type: ignore[operator]


@needs_native
@pytest.mark.parametrize("delivery", ["sigbus", "thread"])
def test_a_mutator_touching_unbuilt_pages_records_fault_stalls(delivery: str, require_mode: Any) -> None:
    """With gc_install off the GC threads leave the pages to the mutator:
    each page it touches during compaction is a fault stall of its own."""
    require_mode("minor", delivery)
    import artgc
    from artgc._lib import ffi, lib
    from artgc.runner import _events
    with artgc.Heap("8MiB", mode="minor", delivery=delivery, gc_install=False) as h:
        C = h.define_class("C", refs=1, data_bytes=2000)
        objs = [h.new(C) for _ in range(1000)]
        del objs[::2]
        h.collect_begin()
        for o in objs[::10]:           # 50 objects, each on its own page
            h.read_data(o, 0, 8)
        h.collect_finish()
        f = metrics.stall_fields(_events(ffi, lib, h._p()))
    assert f["stall_kinds"].count("fault") == 50 == len(f["stalls_ns"])


@needs_native
def test_a_concurrent_run_counts_its_fault_stalls_and_latencies(require_mode: Any) -> None:
    require_mode("minor")
    import artgc
    r = artgc.run("lru", size=50, heap="16MiB", mode="minor", check=True)
    kinds = _check_consistent(r)
    assert kinds["fault"] == len(r.fault_stalls_ns) and kinds["pause"] >= 1
    assert len(r.latency_ns) == len(r.metered_latency_ns) == len(r.metered_full_latency_ns) == 50_000
    assert bool(np.all(r.metered_latency_ns >= r.latency_ns)) and bool(np.all(r.metered_full_latency_ns >= r.latency_ns))


def test_results_validation_checks_the_new_keys() -> None:
    from artgc.results import ResultsError, validate_run
    base = {"workload": "lru", "mode": "stw", "delivery": "sigbus", "heap_bytes": 1, "mutators": 1,
            "gc_threads": 1, "size": 1, "seed": 0, "kernel": None, "wall_s": 1.0, "output": "",
            "verified": None, "pauses_ns": [1], "fault_stalls_ns": [], "cycles": [], "peak_rss_bytes": 1,
            "stalls_ns": [1], "stall_kinds": ["pause"], "runtime": "artgc",
            "memory_timeline": {"t_ns": [0, 1], "pss_bytes": [5, 6], "live_t_ns": [], "live_bytes": []}}
    validate_run(base)
    for bad, msg in ((dict(stall_kinds=["pause", "fault"]), "stall_kinds has 2"),
                     (dict(stall_kinds=["nap"]), "stall_kinds must be"),
                     (dict(runtime="hotspot"), "runtime must be"),
                     (dict(latency_ns=[1], metered_latency_ns=[]), "differ in length"),
                     (dict(latency_ns=[1], metered_latency_ns=[1], metered_full_latency_ns=[1, 2]),
                      "latency_ns and metered_full_latency_ns differ in length"),
                     (dict(memory_timeline={"t_ns": [0], "pss_bytes": [1, 2]}), "differ in length")):
        with pytest.raises(ResultsError, match=msg):
            validate_run({**base, **bad})
