"""inplace_prefix (shmem; minor and stw): a full cycle leaves the dense
prefix in the memfd half it is in and forwards its references where they
are, instead of copying it to the other half ("on"; "auto", the default,
only below a 1 GiB boundary); and recycle_fromspace."""
from __future__ import annotations

import os

import pytest

from artgc import Heap

# (mode, delivery) on shmem
SHMEM = [("minor", "sigbus"), ("minor", "thread"), ("stw", "sigbus")]


def _prefix_with_refs(h: Heap, pages: int = 32) -> tuple[list, list]:
    """Pages of 512-byte objects from the heap's start, each referring to a
    small object allocated after garbage, so that the prefix stays and every
    object it refers to moves."""
    Big = h.define_class("Big", refs=1, data_bytes=496)
    Small = h.define_class("Small", data_bytes=24)
    bigs = [h.new(Big) for _ in range(8 * pages)]
    junk = [h.new(Small) for _ in range(20000)]
    smalls = []
    for i, b in enumerate(bigs):
        s = h.new(Small)
        h.write_data(s, i.to_bytes(8, "little") * 3)
        h.set_ref(b, 0, s)
        smalls.append(s)
    del junk
    return bigs, smalls


def _check(h: Heap, bigs: list) -> None:
    for i, b in enumerate(bigs):
        s = h.get_ref(b, 0)
        assert s is not None and h.read_data(s) == i.to_bytes(8, "little") * 3


@pytest.mark.parametrize("mode,delivery", SHMEM)
def test_prefix_updated_in_place_keeps_the_graph(mode, delivery, require_mode):
    require_mode(mode, delivery)
    with Heap("16MiB", mode=mode, memory="shmem", delivery=delivery, verify=True,
              generational="off", inplace_prefix="on") as h:
        bigs, smalls = _prefix_with_refs(h)
        del smalls
        d0 = h.verify()
        for k in range(6):
            stats = h.collect()
            assert stats["dense_prefix_bytes"] >= 32 * 4096
            # the split is the prefix's end, or a cut of the memfd halves a
            # little below it (the prefix pages above the cut are copied)
            assert 0 < stats["inplace_bytes"] <= stats["dense_prefix_bytes"]
            assert stats["inplace_bytes"] % 4096 == 0
            assert h.verify() == d0
            _check(h, bigs)
            # new garbage and new targets, so that every cycle moves something
            Small = h.define_class(f"S{k}", data_bytes=24)
            junk = [h.new(Small) for _ in range(5000)]
            del junk


@pytest.mark.parametrize("mode,delivery", SHMEM)
@pytest.mark.parametrize("value", ["off", "auto"])
def test_inplace_off_copies_the_prefix(mode, delivery, value, require_mode):
    """off, and auto in a heap under 1 GiB (the split would not be on a 1 GiB
    boundary, which every flip after it would pay for): the prefix is copied."""
    require_mode(mode, delivery)
    with Heap("16MiB", mode=mode, memory="shmem", delivery=delivery, inplace_prefix=value,
              generational="off") as h:
        bigs, smalls = _prefix_with_refs(h)
        d0 = h.verify()
        for _ in range(3):
            stats = h.collect()
            assert stats["dense_prefix_bytes"] >= 32 * 4096 and stats["inplace_bytes"] == 0
            assert h.verify() == d0
        _check(h, bigs)


def test_mutator_faults_on_prefix_pages_are_resolved_in_place(require_mode):
    """Between the flip and the end of compaction a mutator reading the
    prefix faults and forwards that page itself; nothing is copied and the
    memfd never holds the prefix twice."""
    require_mode("minor")
    with Heap("16MiB", mode="minor", delivery="sigbus", generational="off", inplace_prefix="on") as h:
        bigs, _ = _prefix_with_refs(h, pages=64)
        d0 = h.verify()
        h.collect()                      # the first in-place cycle: the halves get their cut
        Small = h.define_class("Junk", data_bytes=24)
        junk = [h.new(Small) for _ in range(5000)]
        del junk                         # garbage after the prefix: the next cycle moves
        held0 = os.fstat(h.memfd).st_blocks * 512
        h.collect_begin()                # flipped: every to-space page faults
        _check(h, bigs)                  # the prefix, and what it refers to
        stats = h.collect_finish()
        assert stats["inplace_bytes"] >= 48 * 4096
        assert stats["faults"] > 0
        assert h.verify() == d0
        # the prefix (256 KiB) was not copied: the memfd holds about what it did
        assert os.fstat(h.memfd).st_blocks * 512 <= held0 + (4 << 20)


def test_inplace_with_young_cycles_between(require_mode):
    """Full cycles with the prefix in place and young cycles keeping the old
    generation in its half, mixed: the cuts of the memfd halves stay few and
    the graph intact."""
    require_mode("minor")
    with Heap("32MiB", mode="minor", generational="on", verify=True, inplace_prefix=True) as h:
        bigs, _ = _prefix_with_refs(h, pages=64)
        d0 = h.verify()
        kinds = set()
        for k in range(12):
            stats = h.collect("young" if k % 3 else "full")
            kinds.add(stats["kind"])
            assert h.verify() == d0
            Small = h.define_class(f"T{k}", data_bytes=24)
            junk = [h.new(Small) for _ in range(4000)]
            del junk
        assert kinds == {"young", "full"}
        _check(h, bigs)


@pytest.mark.parametrize("mode,delivery", [("minor", "sigbus"), ("copy", "sigbus")])
def test_recycle_fromspace_keeps_the_graph_and_the_pages(mode, delivery, require_mode):
    """recycle_fromspace: the from-space above the allocation pointer is
    mapped as the free space at the cycle's end, not punched; allocation
    into it afterwards sees zeroed objects and the graph stays intact over
    many cycles (the memfd halves' cuts stay under their limit)."""
    require_mode(mode, delivery)
    with Heap("32MiB", mode=mode, memory="shmem", delivery=delivery, recycle_fromspace=True, inplace_prefix="on",
              eager_release=True, verify=True, generational="off") as h:
        bigs, smalls = _prefix_with_refs(h, pages=16)
        Junk = h.define_class("Junk", refs=1, data_bytes=48)
        d0 = h.verify()
        recycled = 0
        for k in range(20):
            junk = [h.new(Junk) for _ in range(40000)]       # ~2.5 MiB of garbage a round
            assert h.get_ref(junk[-1], 0) is None and h.read_data(junk[-1]) == bytes(48)
            del junk
            stats = h.collect()
            recycled += stats["recycled_free_bytes"]
            assert h.verify() == d0
        _check(h, bigs)
        assert recycled > 0


def test_recycle_fromspace_off_punches(require_mode):
    """Off by default: nothing of from-space is kept as free space."""
    require_mode("minor")
    with Heap("32MiB", mode="minor", generational="off") as h:
        Junk = h.define_class("Junk", data_bytes=48)
        keep = [h.new(Junk) for _ in range(100)]
        junk = [h.new(Junk) for _ in range(100000)]
        del junk
        stats = h.collect()
        assert stats["recycled_free_bytes"] == 0
        assert len(keep) == 100


def test_inplace_prefix_values_are_checked():
    with pytest.raises(ValueError, match="unknown inplace_prefix 'yes'; valid: off, on, auto"):
        Heap("8MiB", mode="minor", inplace_prefix="yes")
    with pytest.raises(TypeError, match="recycle_fromspace must be True or False"):
        Heap("8MiB", mode="minor", recycle_fromspace="on")    # type: ignore[arg-type]
