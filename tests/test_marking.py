"""Marking: deep and wide structures, the lost-object race under concurrent
marking, and objects allocated during every phase of a cycle."""
from __future__ import annotations

import gc

import pytest

from artgc._lib import ffi, lib, raise_for
from artgc.heap import Handle, Heap

from conftest import mode_params


def native_list(h: Heap, n: int) -> Handle:
    out = ffi.new("uint32_t *")
    raise_for(lib.agc_test_build_list(h._p(), n, out))
    return Handle(h, int(out[0]))


def check_list(h: Heap, head: Handle, n: int) -> None:
    raise_for(lib.agc_test_check_list(h._p(), head._idx, n))


@pytest.mark.parametrize("marking", ["stw", "concurrent"])
@pytest.mark.parametrize("mode", ["stw", "minor"])
def test_deep_list_millions_long(mode, marking, require_mode):
    require_mode(mode)
    n = 2_000_000            # 24 bytes a node: 48 MB of one linked list
    with Heap("128MiB", mode=mode, marking=marking) as h:
        head = native_list(h, n)
        stats = h.collect()
        assert stats["live_bytes"] == 24 * n
        check_list(h, head, n)


def test_wide_tree(require_mode):
    require_mode("minor")
    with Heap("64MiB", mode="minor") as h:
        Leaf = h.define_class("Leaf", data_bytes=8)
        wide = h.new_ref_array(200_000)
        leaf = h.new(Leaf)
        h.write_data(leaf, b"leafleaf")
        for i in range(0, 200_000, 1000):
            h.set_ref(wide, i, leaf)
        sub = [native_list(h, 1000) for _ in range(20)]
        for i, s in enumerate(sub):
            h.set_ref(wide, i * 1000 + 1, s)
        del sub
        gc.collect()
        d = h.verify()
        stats = h.collect()
        assert stats["live_bytes"] == 16 + 8 * 200_000 + 16 + 20 * 1000 * 24
        assert h.verify() == d
        for i in range(20):
            check_list(h, h.get_ref(wide, i * 1000 + 1), 1000)


@pytest.mark.parametrize("mode,delivery", mode_params())
def test_lost_object_race(mode, delivery, require_mode):
    """Mutators move the only reference to unmarked objects into already
    scanned ones during marking: nothing may be lost (verifier on every cycle)."""
    require_mode(mode, delivery)
    with Heap("4MiB", mode=mode, delivery=delivery, marking="concurrent", verify=True,
              gc_threads=2) as h:
        raise_for(lib.agc_test_rewire_race(h._p(), 3, 20_000, 2000))
        cycles = h.cycles()
        assert len(cycles) >= 10


def test_objects_allocated_in_every_phase_survive(require_mode):
    """collect_begin stops right after the flip: allocate then, and during a
    marking that Python objects keep busy, and check contents after."""
    require_mode("minor")
    with Heap("16MiB", mode="minor", marking="concurrent") as h:
        Node = h.define_class("Node", refs=1, data_bytes=8)
        old = [h.new(Node) for _ in range(100)]
        for i, o in enumerate(old):
            h.write_data(o, i.to_bytes(8, "little"))
        h.collect_begin()                      # flipped; compaction not done
        during = [h.new(Node) for _ in range(100)]
        for i, o in enumerate(during):
            h.write_data(o, (1000 + i).to_bytes(8, "little"))
            h.set_ref(o, 0, old[i])           # new object -> unbuilt old page (fault)
        h.collect_finish()
        h.collect()
        h.verify()
        for i, o in enumerate(during):
            assert int.from_bytes(h.read_data(o), "little") == 1000 + i
            assert int.from_bytes(h.read_data(h.get_ref(o, 0)), "little") == i
