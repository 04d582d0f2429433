"""Generational cycles: young cycles keep the old generation where it is and
find old-to-young references by the card table (heap/gen.c). Each test
checks the graph (the verifier's digest, the data) across young and full
cycles in every mode and memory (on shmem a young cycle flips only what
lies above the old generation: heap/space/halves.c)."""
from __future__ import annotations

import gc
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import artgc
from artgc._lib import lib
from artgc.heap import Heap

from conftest import MODE_MEMORY_PARAMS, mode_supported, skip_unless_supported
from test_heap_model import MUTATIONS, run_ops

GEN_MODES = MODE_MEMORY_PARAMS


def gen_heap(mode: str, delivery: str, memory: str = "anon", size: str = "8MiB") -> Heap:
    skip_unless_supported(mode, delivery)
    kw = {} if mode == "stw" else {"delivery": delivery}
    return Heap(size, mode=mode, memory=memory, generational="on", verify=True, **kw)


def garbage(h: Heap, cls: artgc.heap.Class, n: int = 2000) -> None:
    """Objects nobody keeps: what a cycle frees, so that what survives moves."""
    for _ in range(n):
        h.new(cls)
    gc.collect()


def promote(h: Heap, cls: artgc.heap.Class) -> tuple[dict, list]:
    """Two full cycles, with garbage before each (so that they compact): what
    is reachable now has survived two and is old. The old generation ends at
    a page boundary: 400 objects kept too, so that it holds whole pages.
    Returns the second cycle's record and the kept objects."""
    keep = [h.new(cls) for _ in range(400)]
    garbage(h, cls)
    h.collect()
    garbage(h, cls)
    c = h.collect()
    assert c["kind"] == "full" and c["old_bytes"] > 0, c
    return c, keep


@pytest.mark.parametrize("mode,delivery,memory", GEN_MODES)
def test_store_into_old_object_survives_young_cycles(mode, delivery, memory):
    with gen_heap(mode, delivery, memory) as h:
        Node = h.define_class("Node", refs=2, data_bytes=8)
        old = h.new(Node)
        h.write_data(old, b"old-obj!")
        c, keep = promote(h, Node)
        assert old.address - h.primary_address < c["old_bytes"]
        old_at = old.address
        for round_ in range(4):
            garbage(h, Node)
            young = h.new(Node)
            h.write_data(young, b"young-%d!" % round_)
            h.set_ref(old, round_ % 2, young)      # the only path to it: a store into an old object
            young_at = young.address
            del young
            gc.collect()
            digest = h.verify()
            c = h.collect("young")
            assert c["kind"] == "young", c["kind_reason"]
            assert c["cards_scanned"] >= 1           # the store's card
            assert h.verify() == digest
            assert old.address == old_at             # the old generation does not move
            y = h.get_ref(old, round_ % 2)
            assert y is not None and h.read_data(y) == b"young-%d!" % round_
            assert y.address != young_at             # it moved (the garbage before it is gone)
            assert h.class_of(y) == "Node"
            del y
        assert c["marked_bytes"] < c["old_bytes"]


@pytest.mark.parametrize("mode,delivery,memory", GEN_MODES)
def test_young_object_reachable_only_from_a_promoted_one(mode, delivery, memory):
    """A references B while both are young; A is promoted, B is not yet: the
    page builder must dirty A's card, or the next young cycle loses B. (The
    old generation ends at a page boundary no object crosses, rounded down:
    400 more objects after A keep A well below it.)"""
    with gen_heap(mode, delivery, memory) as h:
        Node = h.define_class("Node", refs=1, data_bytes=16)
        c, keep = promote(h, Node)                  # an old generation exists
        a = h.new(Node)
        h.write_data(a, b"AAAAAAAA")
        keep += [h.new(Node) for _ in range(400)]
        c = h.collect("young")                      # a survives once
        assert c["kind"] == "young"
        garbage(h, Node)
        b = h.new(Node)
        h.write_data(b, b"BBBBBBBB")
        keep.append(h.new(Node))
        h.set_ref(a, 0, b)
        del b
        gc.collect()
        c = h.collect("young")                      # a survives twice: old; b once: still young
        assert c["kind"] == "young" and c["promoted_bytes"] > 0
        assert a.address - h.primary_address < c["old_bytes"]
        bb = h.get_ref(a, 0)
        assert bb.address - h.primary_address >= c["old_bytes"]
        del bb
        gc.collect()
        for _ in range(3):
            garbage(h, Node)
            digest = h.verify()
            c = h.collect("young")
            assert c["kind"] == "young"
            assert h.verify() == digest
            bb = h.get_ref(a, 0)
            assert bb is not None and h.read_data(bb)[:8] == b"BBBBBBBB"
            del bb


@pytest.mark.parametrize("mode,delivery,memory", GEN_MODES)
def test_promoted_object_on_the_card_the_old_generation_ends_in(mode, delivery, memory):
    """The old generation ends inside a card (at any object boundary); the
    first object promoted after it lies on that card and refers to a young
    object. The builder dirties the card for it; forwarding the old part's
    dirty cards must not clean it again (stw built its pages before it
    forwarded them, and the next young cycle lost the reference)."""
    with gen_heap(mode, delivery, memory) as h:
        Node = h.define_class("Node", refs=1, data_bytes=16)
        keep = [h.new(Node) for _ in range(37)]       # 37 * 32 bytes: ends inside a card
        garbage(h, Node)
        h.collect()                                   # keep survives once
        b = h.new(Node)                               # lands right after keep at the next cycle
        h.write_data(b, b"promoted")
        garbage(h, Node)
        c = h.collect()                               # keep survives twice: old; b once
        assert c["kind"] == "full" and c["old_bytes"] % 512 != 0, c
        O = c["old_bytes"]
        assert b.address - h.primary_address == O     # b: the first object after the old end
        d = h.new(Node)                               # dies before the cycle that tests
        h.write_data(d, b"dies....")
        garbage(h, Node)
        young = h.new(Node)
        h.write_data(young, b"young!!!")
        h.set_ref(b, 0, young)
        del young
        gc.collect()
        c = h.collect("young")                        # b promoted, on the card O is in
        assert c["kind"] == "young" and c["old_bytes"] > O, c
        assert b.address - h.primary_address == O
        del d
        garbage(h, Node)
        digest = h.verify()
        for _ in range(2):
            c = h.collect("young")                    # the young object moves; b's slot must follow
            assert c["kind"] == "young"
            assert h.verify() == digest
            y = h.get_ref(b, 0)
            assert y is not None and h.read_data(y)[:8] == b"young!!!"
            del y
            garbage(h, Node)


def test_full_cycle_collects_old_garbage_young_does_not():
    with gen_heap("stw", "sigbus") as h:
        Node = h.define_class("Node", refs=1, data_bytes=64)
        keep = [h.new(Node) for _ in range(1000)]
        c, more = promote(h, Node)
        del keep[:], more[:]                         # old garbage now
        gc.collect()
        young = h.collect("young")
        assert young["kind"] == "young"
        assert young["live_bytes"] >= 1000 * 80      # the old generation counts as live
        full = h.collect()
        assert full["kind"] == "full" and full["live_bytes"] < 1000 * 80
        assert full["old_bytes"] < c["old_bytes"]


def test_kinds_and_reasons():
    with gen_heap("copy", "sigbus") as h:
        Node = h.define_class("Node", refs=1, data_bytes=64)
        c = h.collect("young")
        assert c["kind"] == "full" and c["kind_reason"] == "no old generation yet"
        c, keep = promote(h, Node)
        assert c["kind_reason"] == "explicit: full"
        garbage(h, Node)
        c = h.collect("auto")
        assert c["kind"] == "young" and c["kind_reason"] == "young"
        with pytest.raises(ValueError, match="unknown cycle kind"):
            h.collect("medium")
    with Heap("8MiB", mode="stw", generational="off") as h:
        assert h.collect()["kind_reason"] == "generational off"
        with pytest.raises(ValueError, match="needs a generational heap"):
            h.collect("young")


@pytest.mark.parametrize("mode", ["copy", "stw"])
def test_many_dirty_cards_make_a_concurrent_cycle_full(mode):
    """A concurrent young cycle forwards its dirty cards in the flip pause:
    with thousands dirty (one young reference stored into each of 3000 old
    objects of about a card each) `auto` chooses a full cycle and says why;
    a young cycle asked for is still young, and in stw, whose whole cycle is
    one pause anyway, `auto` stays young."""
    with gen_heap(mode, "sigbus", size="32MiB") as h:
        Big = h.define_class("Big", refs=1, data_bytes=504)     # 520 bytes: a card each
        olds = [h.new(Big) for _ in range(3000)]
        c, keep = promote(h, Big)
        assert all(o.address - h.primary_address < c["old_bytes"] for o in olds)

        def dirty_all() -> None:
            for o in olds:
                h.set_ref(o, 0, h.new(Big))
        dirty_all()
        c = h.collect("auto")
        if mode == "stw":
            assert c["kind"] == "young" and c["kind_reason"] == "young", c["kind_reason"]
        else:
            assert c["kind"] == "full" and c["kind_reason"] == "dirty cards: young flip over young_flip_max", c
        dirty_all()
        c = h.collect("young")
        assert c["kind"] == "young" and c["cards_forwarded"] >= 1000, c
        assert all(h.get_ref(o, 0) is not None and h.class_of(h.get_ref(o, 0)) == "Big" for o in olds)
        h.verify()


def test_young_flip_max_zero_keeps_arts_rule_alone():
    with Heap("32MiB", mode="copy", generational="on", young_flip_max=0) as h:
        Big = h.define_class("Big", refs=1, data_bytes=504)
        olds = [h.new(Big) for _ in range(3000)]
        promote(h, Big)
        for o in olds:
            h.set_ref(o, 0, h.new(Big))
        c = h.collect("auto")
        assert c["kind"] == "young" and c["kind_reason"] == "young" and c["cards_forwarded"] >= 1000, c
        h.verify()
    r = artgc.run("lru", size=20, heap="16MiB", mode="copy", young_flip_max=0.5)
    assert r.options["young_flip_max"] == 0.5 and r.error in (None, "")
    for bad in (-1.0, 1001.0):
        with pytest.raises(ValueError, match="young_flip_max"):
            Heap("8MiB", mode="copy", young_flip_max=bad)
    with pytest.raises(TypeError, match="young_flip_max"):
        Heap("8MiB", mode="copy", young_flip_max=float("nan"))


def test_generational_default_and_choices():
    with pytest.raises(ValueError, match="unknown generational"):
        Heap("8MiB", mode="stw", generational="sometimes")
    with Heap("8MiB", mode="stw", generational=True) as h:   # a bool is accepted too
        h.collect()
    # the default: on where the memory is anonymous or shmem with huge
    # pages, off on shmem of small pages
    with Heap("8MiB", mode="copy") as h:
        assert h.generational
        h.collect()
        assert h.collect("young")["kind_reason"] == "no old generation yet"
    with Heap("8MiB", mode="stw", memory="shmem", huge_pages=False) as h:
        assert not h.generational
        with pytest.raises(ValueError, match="needs a generational heap"):
            h.collect("young")
    with Heap("8MiB", mode="stw", memory="shmem") as h:
        assert h.generational is (h.shmem_huge != "none")
    if not mode_supported("minor"):
        return
    for huge in (False, True):
        with Heap("8MiB", mode="minor", huge_pages=huge) as h:
            if h.generational:
                assert huge and h.shmem_huge != "none"
                h.collect()
                assert h.collect("young")["kind_reason"] == "no old generation yet"
            else:
                assert not huge or h.shmem_huge == "none"
                with pytest.raises(ValueError, match="needs a generational heap"):
                    h.collect("young")
    r = artgc.run("binarytrees", size=10, heap="4MiB", mode="minor", huge_pages=False)
    assert r.options["generational"] == "off"
    r = artgc.run("binarytrees", size=10, heap="4MiB", design="seed", huge_pages=True)
    assert r.options["generational"] == "off"        # the design's


SHMEM_GEN = [pytest.param("stw", "sigbus", id="stw"), pytest.param("copy", "sigbus", id="copy"),
             pytest.param("minor", "sigbus", id="minor-sigbus"), pytest.param("minor", "thread", id="minor-thread")]


@pytest.mark.parametrize("mode,delivery", SHMEM_GEN)
def test_shmem_young_cycles_alternate_halves(mode, delivery):
    """On shmem a young cycle leaves the old pages in the memfd half they are
    in and flips the rest, so the live space becomes runs in either half;
    the next young cycle takes the run boundary just below the old end as
    its own and copies the old pages above it as they are. Many young
    cycles with full ones between, the old generation growing: every old
    object keeps its place and data, every young one its data, the digest
    holds, some cycle copied old pages, and the memfd holds no more than
    the heap's two halves."""
    with gen_heap(mode, delivery, "shmem", size="16MiB") as h:
        Node = h.define_class("Node", refs=2, data_bytes=16)
        _, keep = promote(h, Node)
        olds = [(k, k.address) for k in keep[:50]]
        chain = []
        copied = 0
        for i in range(24):
            kind = "full" if i % 7 == 6 else "young"
            more = [h.new(Node) for _ in range(300)]      # survives: the old generation grows
            for j, m in enumerate(more[:20]):
                h.write_data(m, b"r%02d-%02d" % (i, j))
            keep += more
            y = h.new(Node)
            h.write_data(y, b"young%03d" % i)
            h.set_ref(olds[i % len(olds)][0], i % 2, y)  # old -> young by a store
            chain.append((i, olds[i % len(olds)][0], i % 2))
            del y
            garbage(h, Node, 1500)
            digest = h.verify()
            c = h.collect(kind)
            assert c["kind"] == kind, c["kind_reason"]
            assert h.verify() == digest
            copied += c["old_copied_bytes"]
            if kind == "young":
                assert all(o.address == a for o, a in olds), "an old object moved in a young cycle"
            else:
                olds = [(o, o.address) for o, _ in olds]
            assert c["memfd_bytes"] <= 2 * h.capacity
        # the latest reference stored in each slot, with its data
        last = {}
        for i, o, slot in chain:
            last[(id(o), slot)] = (i, o, slot)
        for i, o, slot in last.values():
            r = h.get_ref(o, slot)
            assert r is not None and h.read_data(r)[:8] == b"young%03d" % i
            del r
        for j, m in enumerate(keep[-300:][:20]):
            assert h.read_data(m)[:6] == b"r23-%02d" % j
        assert copied > 0, "no young cycle took an existing run boundary"


KINDS = st.sampled_from(["young", "young", "full", "auto"])
GEN_OPS = st.lists(st.one_of(MUTATIONS, st.tuples(st.just("collect"), KINDS)), min_size=1, max_size=60)


MODE_MEMORY = [pytest.param("stw", "anon", id="stw"), pytest.param("stw", "shmem", id="stw-shmem"),
               pytest.param("copy", "anon", id="copy"), pytest.param("copy", "shmem", id="copy-shmem"),
               pytest.param("move", "anon", id="move"), pytest.param("minor", "shmem", id="minor")]


@pytest.mark.parametrize("mode,memory", MODE_MEMORY)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=GEN_OPS)
def test_model_mixed_young_and_full(mode, memory, ops):
    if not mode_supported(mode):
        pytest.skip(f"kernel cannot run mode {mode}")
    run_ops(mode, ops, generational="on", memory=memory)


@pytest.mark.parametrize("mode,memory", MODE_MEMORY)
@pytest.mark.parametrize("workload", ["binarytrees", "gcbench"])   # lru, graph: tests/test_stress.py
def test_workloads_verified_with_young_cycles(mode, memory, workload):
    if not mode_supported(mode):
        pytest.skip(f"kernel cannot run mode {mode}")
    size = {"binarytrees": 16}.get(workload)
    heap = {"binarytrees": "32MiB"}.get(workload, "48MiB")
    r = artgc.run(workload, size=size, heap=heap, mode=mode, memory=memory, generational="on", verify=True,
                  mutators=2, check=True)
    assert r.ok and r.verified
    assert all(c["kind"] in ("young", "full") for c in r.cycles)
    assert any(c["kind"] == "young" for c in r.cycles)
    assert r.options["generational"] == "on"


@pytest.mark.parametrize("mode,delivery", [("copy", "sigbus"), ("copy", "thread"), ("move", "sigbus"),
                                           ("move", "thread")])
def test_workload_verified_with_the_old_generation_moved_back_late(mode, delivery):
    """binarytrees with two native mutators, in a heap where young flips
    move the whole range and most of the old generation (the long-lived
    tree, 16 MiB) back after the pause: the graph verified after every
    cycle and the output exact, with mutators running into the old
    generation before it is back."""
    skip_unless_supported(mode, delivery)
    r = artgc.run("binarytrees", size=18, heap="64MiB", mode=mode, delivery=delivery, generational="on",
                  verify=True, mutators=2, check=True)
    assert r.ok and r.verified
    assert sum(1 for c in r.cycles if c["old_back_ns"] > 0) >= 3, [c["old_back_ns"] for c in r.cycles]


def test_by_kind_from_records():
    from artgc.generations import by_kind, summary_lines, young_over_full
    cycles = [{"index": 1, "kind": "full", "marked_bytes": 100, "moved_bytes": 300, "promoted_bytes": 0,
               "cards_scanned": 0, "pause_ns": 5, "t_start_ns": 0, "t_end_ns": 10},
              {"index": 2, "kind": "young", "marked_bytes": 10, "moved_bytes": 30, "promoted_bytes": 7,
               "cards_scanned": 3, "pause_ns": 2, "t_start_ns": 20, "t_end_ns": 24},
              {"index": 3, "kind": "young", "marked_bytes": 20, "moved_bytes": 50, "promoted_bytes": 1,
               "cards_scanned": 1, "pause_ns": 4, "t_start_ns": 30, "t_end_ns": 36}]
    events = {"t_start_ns": [1, 21, 22, 31, 32, 33], "dur_ns": [5, 2, 9, 4, 100, 3], "thread": [0] * 6,
              "kind": [0, 0, 1, 0, 3, 0], "cycle": [1, 2, 2, 3, 3, 3], "phase": [2, 2, 0, 2, 0, 0]}
    k = by_kind(cycles, events)
    assert k["young"]["cycles"] == 2 and k["full"]["cycles"] == 1
    assert k["young"]["marked_per_cycle"] == 15 and k["young"]["moved_bytes"] == 80
    assert k["young"]["promoted_bytes"] == 8 and k["young"]["cards_scanned"] == 4
    assert k["young"]["pause_max_ns"] == 4           # the longest single pause event
    assert k["young"]["stall_max_ns"] == 9           # a fault stall; the verifier's 100 is not counted
    assert k["young"]["cycle_pause_max_ns"] == 4 and k["young"]["cycle_mean_ns"] == 5.0
    assert k["young"]["flip_p50_ns"] == 3.0 and k["young"]["flip_p90_ns"] == 3.8   # flips 2 and 4, not the 3
    assert k["full"]["flip_p50_ns"] == 5.0
    assert young_over_full(k) == {"marked_per_cycle": 0.15, "moved_per_cycle": 40 / 300}
    lines = summary_lines({"cycles": cycles, "events": events})
    assert [ln.split()[0] for ln in lines] == ["young", "full"]
    assert summary_lines({"cycles": cycles[:1], "events": events}) == []


@pytest.mark.parametrize("mode,delivery,memory", [p for p in GEN_MODES if p.values[0] != "stw"])
def test_release_gaps_leaves_the_old_generation_alone(mode, delivery, memory):
    """release_gaps gives dead gaps back before the flip, judged by the mark
    bitmap; a young cycle does not mark the old generation, so its objects
    must not be taken for gaps (they were, until 2026-12-07: a young cycle
    released the old generation's pages and the next marking read zeros)."""
    skip_unless_supported(mode, delivery)
    with Heap("32MiB", mode=mode, memory=memory, delivery=delivery, generational="on",
              release_gaps=True, verify=True) as h:
        Big = h.define_class("Big", refs=1, data_bytes=4000)
        keep = []
        for i in range(160):                       # 640 KiB of old objects, gaps of it 64 KiB and more
            o = h.new(Big)
            h.write_data(o, i.to_bytes(8, "little"))
            keep.append(o)
        c, _ = promote(h, Big)
        assert c["old_bytes"] >= 160 * 4000
        for round_ in range(3):
            garbage(h, Big, 1500)                  # ~6 MiB of young garbage: gaps to give back
            y = h.collect("young")
            assert y["kind"] == "young", y
            for i, o in enumerate(keep):
                assert int.from_bytes(h.read_data(o, 0, 8), "little") == i, (round_, i)
        h.collect("full")
        for i, o in enumerate(keep):
            assert int.from_bytes(h.read_data(o, 0, 8), "little") == i


@pytest.mark.parametrize("mode,delivery", [("copy", "sigbus"), ("copy", "thread"), ("move", "sigbus")])
def test_young_flip_of_a_gib_heap_moves_the_whole_and_the_old_back(mode, delivery):
    """In a heap of whole GiBs on anonymous memory a young flip moves the
    whole range (one 1 GiB page-table entry) and the old generation back,
    when the old generation is under half of what is in use: the old objects
    stay where they are, the young ones move, over several young cycles."""
    skip_unless_supported(mode, delivery)
    with Heap("1GiB", mode=mode, memory="anon", delivery=delivery, generational="on", verify=True) as h:
        N = h.define_class("N", refs=1, data_bytes=4000)
        old = []
        for i in range(256):                           # ~1 MiB old
            o = h.new(N)
            h.write_data(o, i.to_bytes(8, "little"))
            old.append(o)
        promote(h, N)
        at = [o.address for o in old]
        young = []
        for round_ in range(3):
            for i in range(2000):                      # ~8 MiB, one in 100 kept
                o = h.new(N)
                h.write_data(o, (1000 + round_ * 10000 + i).to_bytes(8, "little"))
                if i % 100 == 0:
                    young.append((1000 + round_ * 10000 + i, o))
            if round_:
                h.set_ref(old[round_], 0, young[-1][1])    # old -> young, by a store into an old object
            c = h.collect("young")
            assert c["kind"] == "young", c
            assert [o.address for o in old] == at
            for i, o in enumerate(old):
                assert int.from_bytes(h.read_data(o, 0, 8), "little") == i
            for v, o in young:
                assert int.from_bytes(h.read_data(o, 0, 8), "little") == v
        assert h.same(h.get_ref(old[2], 0), young[-1][1])


@pytest.mark.parametrize("mode,delivery", [("copy", "sigbus"), ("copy", "thread"), ("move", "sigbus"),
                                           ("move", "thread")])
def test_old_generation_touched_before_it_is_back(mode, delivery):
    """A young flip on anonymous memory moves the whole range away and the
    old generation back after the pause: a mutator that reads or writes an
    old object before then waits for it (its page faults) and sees its data;
    a store into an old object made then still reaches a young one."""
    skip_unless_supported(mode, delivery)
    with Heap("1GiB", mode=mode, memory="anon", delivery=delivery, generational="on", verify=True) as h:
        N = h.define_class("N", refs=1, data_bytes=4000)
        old = []
        for i in range(1024):                          # ~4 MiB old: more than the 2 MiB moved back in the pause
            o = h.new(N)
            h.write_data(o, i.to_bytes(8, "little"))
            old.append(o)
        promote(h, N)
        at = [o.address for o in old]
        for round_ in range(2):
            garbage(h, N, 4000)                        # ~16 MiB in use above it: the whole range moves
            young = h.new(N)
            h.write_data(young, b"young-%d!" % round_)
            digest = h.verify()
            lib.agc_test_delay_old_back(h._p(), 150_000_000)
            stop = threading.Event()
            errors: list[BaseException] = []
            reads = [0]

            def reader() -> None:
                try:
                    i = 0
                    while not stop.is_set():
                        o = old[i % len(old)]
                        assert int.from_bytes(h.read_data(o, 0, 8), "little") == i % len(old)
                        reads[0] += 1
                        i += 37
                except BaseException as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            t = threading.Thread(target=reader)
            t.start()
            try:
                c = h.collect("young")
            finally:
                stop.set()
                t.join()
            lib.agc_test_delay_old_back(h._p(), 0)
            assert not errors, errors
            assert c["kind"] == "young", c
            assert c["old_back_ns"] >= 150_000_000, c      # it came back after the pause, late
            assert c["fault_waits"] >= 1, c                # the reader waited for it
            assert c["flip_pause_ns"] < 150_000_000, c     # not inside the pause
            assert reads[0] > 0
            assert [o.address for o in old] == at
            assert h.verify() == digest
            h.set_ref(old[5 + round_], 0, young)          # old -> young, after the old generation came back
            del young
            gc.collect()
            c = h.collect("young")
            assert h.read_data(h.get_ref(old[5 + round_], 0), 0, 8) == b"young-%d!" % round_
        for i, o in enumerate(old):
            assert int.from_bytes(h.read_data(o, 0, 8), "little") == i
