"""mutator_recycle: while compaction runs, mutators take their fresh memory
from from-space chunks compaction is done with (moved into the primary
above everything allocated) instead of new kernel pages, and the chunks
left at the cycle's end become the free space ahead. The bytes moved in are
garbage: the allocator must zero them, so the output, the graph digest and
the verifier must not notice, with several mutators carving TLABs at once,
across many cycles (each flip maps the emptied range as one again)."""
from __future__ import annotations

import pytest

import artgc
from artgc import Heap

from conftest import skip_unless_supported

CASES = [pytest.param("copy", "sigbus", id="copy-sigbus"),
         pytest.param("copy", "thread", id="copy-thread"),
         pytest.param("move", "sigbus", id="move-sigbus")]


@pytest.mark.parametrize("mode,delivery", CASES)
@pytest.mark.parametrize("workload,size,heap", [("binarytrees", 18, "64MiB"), ("gcbench", 16, "64MiB")])
def test_recycled_memory_keeps_every_object_intact(mode: str, delivery: str, workload: str, size: int,
                                                    heap: str) -> None:
    skip_unless_supported(mode, delivery)
    ref = artgc.run(workload, size=size, heap=heap, mode="stw", mutators=2, pretouch=False)
    r = artgc.run(workload, size=size, heap=heap, mode=mode, delivery=delivery, memory="anon",
                  mutators=2, verify=True, check=True, mutator_recycle=True)
    assert r.output == ref.output and r.verified is True
    assert r.options["mutator_recycle"] is True
    compacting = [c for c in r.cycles if not c["skipped"] and c["moved_bytes"] > 0]
    assert len(compacting) >= 3
    recycled = [c["recycled_free_bytes"] for c in r.cycles]
    assert sum(recycled) > 0, recycled
    assert all(b % (2 << 20) == 0 for b in recycled), recycled   # whole 2 MiB pieces


def test_off_by_default_and_nothing_recycled() -> None:
    skip_unless_supported("copy", "sigbus")
    r = artgc.run("binarytrees", size=17, heap="32MiB", mode="copy", memory="anon", check=True)
    assert r.options["mutator_recycle"] is False
    assert all(c["recycled_free_bytes"] == 0 for c in r.cycles)


def test_shmem_has_nothing_to_move_in() -> None:
    """A memfd's pages stay at their file offsets: the option is accepted
    and does nothing there."""
    skip_unless_supported("copy", "sigbus")
    ref = artgc.run("binarytrees", size=17, heap="32MiB", mode="stw", pretouch=False)
    r = artgc.run("binarytrees", size=17, heap="32MiB", mode="copy", memory="shmem", verify=True,
                  check=True, mutator_recycle=True)
    assert r.output == ref.output and r.verified is True
    assert all(c["recycled_free_bytes"] == 0 for c in r.cycles)


def test_bad_value_is_refused() -> None:
    with pytest.raises((TypeError, ValueError), match="mutator_recycle"):
        Heap("8MiB", mode="copy", mutator_recycle="yes")
