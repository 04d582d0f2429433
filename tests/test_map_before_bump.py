"""Mutators map the fresh memory they are about to allocate into out of the
world's way (map_before_bump, with pretouch): after every flip nothing above
the allocation pointer is known mapped, so the mutators' first TLABs there map
their block. The graph, the output and the verifier must not notice, in every
mode, memory and delivery, also where such a map lands on to-space that is
still registered (it fails with SIGBUS delivery, or faults through the
handler thread). Whether it shortens pauses is a benchmark's question."""
from __future__ import annotations

import pytest

import artgc

from conftest import MODE_MEMORY_PARAMS, skip_unless_supported

# the modes that take faults, on every memory they run on, both deliveries
CASES = [p for p in MODE_MEMORY_PARAMS if p.values[0] != "stw"]


@pytest.mark.parametrize("mode,delivery,memory", CASES)
def test_mutators_map_ahead_and_the_graph_is_intact(mode: str, delivery: str, memory: str) -> None:
    skip_unless_supported(mode, delivery)
    ref = artgc.run("binarytrees", size=17, heap="32MiB", mode="stw", pretouch=False)
    r = artgc.run("binarytrees", size=17, heap="32MiB", mode=mode, memory=memory, delivery=delivery,
                  mutators=2, verify=True, check=True)
    assert r.output == ref.output and r.verified is True
    compacting = [c for c in r.cycles if not c["skipped"] and c["moved_bytes"] > 0]
    assert len(compacting) >= 3
    # mutators allocate during every compaction, above a flip that left
    # nothing known mapped: they must have mapped blocks themselves
    assert sum(c["mutator_maps"] for c in r.cycles) >= len(compacting)
    assert all(c["mutator_map_ns"] >= 0 for c in r.cycles)
    assert sum(c["mutator_map_ns"] for c in r.cycles) > 0


def test_stw_maps_ahead_too() -> None:
    ref = artgc.run("binarytrees", size=16, heap="16MiB", mode="stw", pretouch=False)
    r = artgc.run("binarytrees", size=16, heap="16MiB", mode="stw", memory="anon", verify=True, check=True)
    assert r.output == ref.output and r.verified is True and len(r.cycles) >= 3
    assert sum(c["mutator_maps"] for c in r.cycles) > 0


@pytest.mark.parametrize("mode", ["stw", "copy"])
def test_without_pretouch_mutators_map_nothing(mode: str) -> None:
    skip_unless_supported(mode, "sigbus")
    r = artgc.run("binarytrees", size=16, heap="16MiB", mode=mode, pretouch=False, verify=True, check=True)
    assert r.verified is True and len(r.cycles) >= 3
    assert all(c["mutator_maps"] == 0 and c["mutator_map_ns"] == 0 for c in r.cycles)
