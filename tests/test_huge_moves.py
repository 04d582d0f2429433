"""huge_moves (mode move): GC threads build whole 2 MiB blocks of to-space
into recycled from-space pages and move each block with one UFFDIO_MOVE; a
block a mutator has faulted in goes in runs of pages instead. Every path
must keep the graph as it was."""
from __future__ import annotations

import threading

import pytest

import artgc
from artgc import Heap
from artgc._lib import ffi, lib

BLOCK = 2 << 20


def _chain(h: Heap, n: int, garbage: int = 2) -> tuple[list, list[bytes]]:
    """n kept objects of about 4 KiB, each pointing at the previous one, with
    `garbage` dead ones allocated between them (so that everything moves)."""
    C = h.define_class("Big", refs=1, data_bytes=4000)
    keep, datas = [], []
    prev = None
    for i in range(n):
        for _ in range(garbage):
            h.new(C)
        o = h.new(C)
        d = (i.to_bytes(4, "little") * 1000)
        h.write_data(o, d)
        if prev is not None:
            h.set_ref(o, 0, prev)
        keep.append(o)
        datas.append(d)
        prev = o
    return keep, datas


def _check(h: Heap, keep: list, datas: list[bytes], digest: str) -> None:
    assert h.verify() == digest             # the verifier passes; the graph's digest unchanged
    for i in range(len(keep) - 1, 0, -1):
        assert h.read_data(keep[i]) == datas[i]
        assert h.same(h.get_ref(keep[i], 0), keep[i - 1])


@pytest.mark.parametrize("huge", [True, False])
def test_blocks_move_whole_and_keep_the_graph(huge: bool, require_mode) -> None:
    require_mode("move")
    with Heap("64MiB", mode="move", huge_moves=huge, dense_prefix=0.0, generational="off") as h:
        keep, datas = _chain(h, 2500)           # about 10 MiB live out of 30
        d = h.verify()
        c = h.collect()
        assert c["moved_bytes"] > 4 * BLOCK
        if huge:
            assert c["huge_blocks"] >= 1
            # a whole block is one install call: far fewer calls than runs of 16
            assert c["gc_installs"] < c["pages_by_gc"] / 16
            assert c["recycled_pages"] >= c["huge_blocks"] * 512
        else:
            assert c["huge_blocks"] == 0 and c["broken_blocks"] == 0
            assert c["gc_installs"] >= c["pages_by_gc"] / 16
        assert c["compact_cpu_ns"] > 0 and c["install_ns"] <= c["compact_cpu_ns"] + c["compact_ns"]
        _check(h, keep, datas, d)
        h.collect()                             # the blocks moved in are from-space now
        _check(h, keep, datas, d)


def test_a_block_a_mutator_faulted_in_goes_in_runs(require_mode) -> None:
    """Pages a mutator built itself (a fault between the flip and the GC
    threads) make their blocks ineligible: those go in runs, the rest whole."""
    require_mode("move")
    with Heap("64MiB", mode="move", dense_prefix=0.0, generational="off") as h:
        keep, datas = _chain(h, 2500)
        d = h.verify()
        h.collect_begin()
        for o in keep[::1500]:                  # to-space: 10 MiB, 5 blocks; faults in two
            h.read_data(o, 0, 8)
        c = h.collect_finish()
        assert c["pages_by_mutator"] >= 2
        assert c["huge_blocks"] >= 1            # the blocks nobody touched
        _check(h, keep, datas, d)


def test_mutators_faulting_while_blocks_are_built(require_mode) -> None:
    """Threads read the graph while the calling thread builds blocks: a fault
    on a page already built in a block breaks it (the page goes in first),
    one on a page not yet claimed takes it. Which happens is timing; the graph
    must be intact either way."""
    require_mode("move")
    with Heap("64MiB", mode="move", dense_prefix=0.0, generational="off") as h:
        keep, datas = _chain(h, 2500)
        d = h.verify()
        for _ in range(3):
            h.collect_begin()
            stop = threading.Event()
            errors: list[BaseException] = []

            def reader(start: int) -> None:
                try:
                    i = start
                    while not stop.is_set():
                        assert h.read_data(keep[i], 0, 4) == datas[i][:4]
                        i = (i + 97) % len(keep)
                except BaseException as e:  # noqa: BLE001 - reported below
                    errors.append(e)
            ts = [threading.Thread(target=reader, args=(k * 811,)) for k in range(2)]
            for t in ts:
                t.start()
            c = h.collect_finish()
            stop.set()
            for t in ts:
                t.join()
            assert not errors, errors
            assert c["huge_blocks"] + c["broken_blocks"] >= 1 or c["pages_by_mutator"] > 0
            _check(h, keep, datas, d)


def test_option_checked_recorded_and_off_in_art_2025(require_mode) -> None:
    o = ffi.new("agc_options *")
    lib.agc_options_default(o)
    assert o.huge_moves == 1     # the C core's own check: tests/test_options.py
    with pytest.raises((TypeError, ValueError)):
        Heap("8MiB", mode="stw", huge_moves="yes")   # type: ignore[arg-type]
    require_mode("move")
    r = artgc.run("binarytrees", size=12, heap="16MiB", mode="move")
    assert r.ok and r.options["huge_moves"] is True
    r = artgc.run("binarytrees", size=12, heap="16MiB", design="art-2025")      # ART: runs of 16 pages
    assert r.ok and r.options["huge_moves"] is False
    assert all(c["huge_blocks"] == 0 for c in r.cycles)
    r = artgc.run("binarytrees", size=12, heap="16MiB", design="art-2025", huge_moves=True)
    assert r.ok and r.options["huge_moves"] is True
