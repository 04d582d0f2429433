"""release_pacing: GC threads give from-space back as they build, not all
at once after the flip; either way the graph is intact and nothing of
from-space is left held when the cycle ends."""
from __future__ import annotations

import pytest

import artgc
from artgc import Heap

MiB = 1 << 20


@pytest.mark.parametrize("pacing", [True, False])
@pytest.mark.parametrize("mode", ["minor", "copy"])
def test_graph_intact_and_from_space_all_given_back(require_mode, mode: str, pacing: bool) -> None:
    require_mode(mode)
    with Heap("96MiB", mode=mode, release_pacing=pacing, dense_prefix=0, generational="off") as h:
        C = h.define_class("C", refs=1, data_bytes=4072)       # a page each
        junk = [h.new(C) for _ in range(32 * MiB // 4096)]      # dead chunks in front: given back early
        keep = [h.new(C) for _ in range(8 * MiB // 4096)]
        for a, b in zip(keep, keep[1:]):
            h.set_ref(a, 0, b)
        del junk
        d0 = h.verify()
        c = h.collect()
        assert c["released_bytes"] >= 24 * MiB, c["released_bytes"] >> 20
        assert h.verify() == d0
        for a, b in zip(keep, keep[1:]):
            assert h.same(h.get_ref(a, 0), b)
        # what the heap's memory holds after the cycle: the live data and
        # what is mapped ahead of allocation, no from-space
        assert c["held_bytes"] <= c["used_after"] + 24 * MiB, (c["held_bytes"] >> 20, c["used_after"] >> 20)


def test_the_option_is_recorded_and_checked(require_mode) -> None:
    require_mode("minor")
    r = artgc.run("binarytrees", size=14, heap="16MiB", mode="minor", release_pacing=True)
    assert r.options["release_pacing"] is True
    assert artgc.run("binarytrees", size=14, heap="16MiB", mode="minor").options["release_pacing"] is False
    with pytest.raises(TypeError, match="release_pacing must be True or False"):
        Heap("16MiB", mode="minor", release_pacing="yes")     # type: ignore[arg-type]
