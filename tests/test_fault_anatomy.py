"""Where a faulting mutator's time goes: the cycle records' fault_touch_ns,
fault_build_ns and fault_install_ns, and the summary line built from them."""
from __future__ import annotations

import time

import pytest

from artgc import Heap
from artgc.runner import summary_text
from artgc.stats import fault_anatomy

PARTS = ("fault_touch_ns", "fault_build_ns", "fault_install_ns")


@pytest.mark.parametrize("mode,delivery", [("minor", "sigbus"), ("minor", "thread"),
                                           ("copy", "sigbus"), ("move", "sigbus")])
def test_pages_built_by_faults_are_timed(require_mode, mode: str, delivery: str) -> None:
    require_mode(mode, delivery)
    with Heap("8MiB", mode=mode, delivery=delivery) as h:
        Obj = h.define_class("Obj", data_bytes=4088)   # one page each
        h.new(Obj)      # garbage in front: every object slides
        objs = [h.new(Obj) for _ in range(16)]
        for i, o in enumerate(objs):
            h.write_data(o, bytes([i]) * 8, 0)
        h.collect_begin()
        t0 = time.monotonic_ns()
        for k in (3, 9):
            assert h.read_data(objs[k], 0, 8) == bytes([k]) * 8    # each a fault the mutator resolves
        elapsed = time.monotonic_ns() - t0
        stats = h.collect_finish()
        assert stats["pages_by_mutator"] >= 2
        # every part took time, and together no more than the two reads
        assert stats["fault_build_ns"] > 0 and stats["fault_install_ns"] > 0 and stats["fault_touch_ns"] > 0
        assert sum(stats[k] for k in PARTS) <= elapsed
        for i, o in enumerate(objs):
            assert h.read_data(o, 0, 8) == bytes([i]) * 8


def test_pages_built_by_gc_threads_are_not_counted(require_mode) -> None:
    require_mode("minor")
    with Heap("8MiB", mode="minor") as h:
        Obj = h.define_class("Obj", data_bytes=4088)
        h.new(Obj)
        keep = [h.new(Obj) for _ in range(8)]
        stats = h.collect()          # nobody touches the heap while it compacts
        assert stats["pages_by_mutator"] == 0 and stats["pages_by_gc"] >= 8
        assert all(stats[k] == 0 for k in PARTS)
        assert len(keep) == 8


def test_fault_anatomy_per_page_over_cycles() -> None:
    cycles = [{"pages_by_mutator": 3, "fault_touch_ns": 3000, "fault_build_ns": 6000, "fault_install_ns": 1500},
              {"pages_by_mutator": 1, "fault_touch_ns": 1000, "fault_build_ns": 2000, "fault_install_ns": 500},
              {"pages_by_mutator": 0, "fault_touch_ns": 0, "fault_build_ns": 0, "fault_install_ns": 0}]
    assert fault_anatomy(cycles) == {"pages": 4.0, "touch": 1000.0, "build": 2000.0, "install": 500.0}
    assert fault_anatomy(cycles[2:]) is None                 # no page built by a fault
    assert fault_anatomy([{"pages_by_mutator": 5}]) is None   # a record from before the counters
    assert fault_anatomy([]) is None and fault_anatomy(None) is None


def test_summary_line() -> None:
    run = {"workload": "binarytrees", "mode": "minor", "delivery": "sigbus", "heap_bytes": 1 << 30,
           "wall_s": 1.0, "pauses_ns": [1000], "fault_stalls_ns": [9000, 9000],
           "cycles": [{"pages_by_mutator": 2, "fault_touch_ns": 8120, "fault_build_ns": 4620,
                       "fault_install_ns": 2180, "moved_bytes": 0}]}
    lines = summary_text(run).splitlines()
    line = next(x for x in lines if x.strip().startswith("fault builds"))
    assert line == ("  fault builds        2   pages built by faulting mutators, per page: "
                    "get the page 4.06 us, build 2.31 us, install 1.09 us")
    # the line follows the fault stalls
    assert lines.index(line) == next(i for i, x in enumerate(lines) if x.strip().startswith("fault stalls")) + 1
    run["cycles"][0]["pages_by_mutator"] = 0
    assert not any(x.strip().startswith("fault builds") for x in summary_text(run).splitlines())
