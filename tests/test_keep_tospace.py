"""keep_tospace (shmem, modes that build in place): from-space below a
little above a cycle's live end is not punched, so the next cycle builds
into memfd pages that exist. The kept pages hold stale objects: the graph
must stay intact, objects allocated into them must read as zero, and the
memfd must hold them (and not without the option)."""
from __future__ import annotations

import pytest

from artgc import Heap

MiB = 1 << 20


def _graph(h: Heap, n: int) -> tuple[object, list]:
    C = h.define_class("C", refs=1, data_bytes=240)
    objs = [h.new(C) for _ in range(n)]
    for i, o in enumerate(objs):
        h.write_data(o, i.to_bytes(8, "little") * 30)
        if i:
            h.set_ref(o, 0, objs[i - 1])
    return C, objs


def _check(h: Heap, objs: list) -> None:
    for i, o in enumerate(objs):
        assert h.read_data(o) == i.to_bytes(8, "little") * 30
        assert h.get_ref(o, 0) == (objs[i - 1] if i else None)


@pytest.mark.parametrize("mode,delivery,generational", [
    ("minor", "sigbus", "off"), ("minor", "thread", "off"), ("stw", "sigbus", "off"), ("minor", "sigbus", "on")])
def test_keep_tospace_keeps_the_graph_and_zeroes_new_objects(mode, delivery, generational, require_mode):
    require_mode(mode, delivery)
    with Heap("32MiB", mode=mode, memory="shmem", delivery=delivery, keep_tospace=True, verify=True,
              generational=generational) as h:
        C, objs = _graph(h, 12000)                 # ~3 MiB, a chain through all of it
        d0 = h.verify()
        for k in range(12):
            junk = [h.new(C) for _ in range(30000)]    # garbage: the next cycle's to-space was from-space
            assert h.read_data(junk[-1]) == bytes(240) and h.get_ref(junk[-1], 0) is None
            del junk
            h.collect("full" if generational == "off" or k % 3 == 0 else "auto")
            assert h.verify() == d0
        _check(h, objs)


def test_keep_tospace_holds_the_pages_and_off_does_not(require_mode):
    require_mode("minor")
    held = {}
    for keep in (False, True):
        with Heap("32MiB", mode="minor", memory="shmem", keep_tospace=keep, generational="off") as h:
            C, objs = _graph(h, 16000)             # ~4 MiB live
            for _ in range(4):
                junk = [h.new(C) for _ in range(20000)]
                del junk
                st = h.collect()
            held[keep] = st["memfd_bytes"]
            live = st["live_bytes"]
            _check(h, objs)
    # off: the live data (and no more than the pages mapped ahead of allocation)
    assert held[False] < live + 2 * MiB
    # on: the other half keeps about as much again
    assert held[True] >= held[False] + live


def test_keep_tospace_is_ignored_where_pages_are_installed_by_copy(require_mode):
    """copy on shmem installs by UFFDIO_COPY into an empty to-space: the
    option changes nothing there (a kept page would make COPY fail)."""
    require_mode("copy")
    with Heap("32MiB", mode="copy", memory="shmem", keep_tospace=True, verify=True, generational="off") as h:
        C, objs = _graph(h, 8000)
        for _ in range(6):
            junk = [h.new(C) for _ in range(30000)]
            del junk
            h.collect()
        _check(h, objs)


def test_keep_tospace_values_are_checked():
    with pytest.raises(TypeError, match="keep_tospace must be True or False"):
        Heap("8MiB", mode="stw", keep_tospace="yes")    # type: ignore[arg-type]
