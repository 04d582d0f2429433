"""When a cycle starts: the trigger fraction, the adaptive reserve, and the
first cycle, whose allocation rate is not known yet (it starts at half the
heap at the latest); a trigger of 1 leaves every cycle to a full heap."""
from __future__ import annotations

import time
from typing import Any

import pytest

import artgc

from conftest import needs_native

MIB = 1 << 20


def _first_cycle(h: Any, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while not h.cycles() and time.monotonic() < deadline:
        time.sleep(0.01)
    cs = h.cycles()
    assert cs, "no cycle started"
    return cs[0]


@needs_native
@pytest.mark.parametrize("mode", ["stw", "copy"])
def test_the_first_cycle_starts_at_half_the_heap(mode: str, require_mode: Any) -> None:
    require_mode(mode)
    with artgc.Heap("64MiB", mode=mode) as h:          # trigger 0.75: 48 MiB
        C = h.define_class("C", refs=0, data_bytes=4000)
        for _ in range(40 * MIB // 4096):               # 40 MiB of garbage, short of 48
            h.new(C)
        # asked for at half the heap (32 MiB); it begins when the GC thread
        # gets to it, by when this thread may have allocated the rest
        c = _first_cycle(h)
        assert c["reason"] == "trigger"
        assert 30 * MIB <= c["used_before"] <= 40 * MIB, c["used_before"] >> 20


@needs_native
def test_a_lower_trigger_is_kept_for_the_first_cycle() -> None:
    with artgc.Heap("64MiB", mode="stw", trigger=0.25) as h:
        C = h.define_class("C", refs=0, data_bytes=4000)
        for _ in range(20 * MIB // 4096):
            h.new(C)
        c = _first_cycle(h)                             # asked for at 16 MiB
        assert c["reason"] == "trigger" and 14 * MIB <= c["used_before"] <= 20 * MIB, c["used_before"] >> 20


@needs_native
def test_trigger_one_waits_for_a_full_heap() -> None:
    with artgc.Heap("64MiB", mode="stw", trigger=1.0) as h:
        C = h.define_class("C", refs=0, data_bytes=4000)
        for _ in range(56 * MIB // 4096):               # 56 of 64 MiB: no cycle yet
            h.new(C)
        time.sleep(0.1)
        assert not h.cycles()
        for _ in range(16 * MIB // 4096):               # past the capacity: a cycle makes room
            h.new(C)
        c = _first_cycle(h)
        assert c["reason"] == "allocation-failure"


def _fill(h: Any, mib: int) -> None:
    C = h.define_class("C", refs=0, data_bytes=4000)
    for _ in range(mib * MIB // 4096):
        h.new(C)


@needs_native
@pytest.mark.parametrize("mode", ["stw", "copy"])
def test_max_free_starts_cycles_before_the_heap_is_used(mode: str, require_mode: Any) -> None:
    """max_free caps the free space allocation uses between two cycles: in a
    256 MiB heap with 8 MiB of it, 60 MiB of garbage takes several cycles,
    each begun within a few MiB of 8 past the last one's used bytes (the GC
    thread may start a little late); without the cap, the first cycle waits
    for half the heap."""
    require_mode(mode)
    with artgc.Heap("256MiB", mode=mode, max_free="8MiB") as h:
        _fill(h, 60)
        h.collect()
        cs = h.cycles()
        triggered = [c for c in cs if c["reason"] == "trigger"]
        assert len(triggered) >= 4, [c["used_before"] >> 20 for c in cs]
        prev_after = 0
        for c in cs:
            if c["reason"] == "trigger":
                assert c["used_before"] - prev_after <= 16 * MIB, (c["used_before"] >> 20, prev_after >> 20)
            prev_after = c["used_after"]
    with artgc.Heap("256MiB", mode=mode, max_free=0) as h:
        _fill(h, 60)
        time.sleep(0.1)
        assert not [c for c in h.cycles() if c["reason"] == "trigger"]   # half the heap is 128 MiB


@needs_native
def test_max_free_is_reported_and_checked() -> None:
    r = artgc.run("binarytrees", size=6, heap="16MiB", mode="stw", max_free="4MiB")
    assert not r.failed and r.options["max_free"] == 4 * MIB
    for bad, err in (("-1MiB", ValueError), ("2TiB", ValueError), (1000, ValueError), ("lots", ValueError),
                     (True, TypeError)):
        with pytest.raises(err, match="max_free"):
            artgc.Heap("16MiB", mode="stw", max_free=bad)
