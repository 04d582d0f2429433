"""A heap's lifetime at the edges of the API: close() while other threads are
inside it, manual cycles from many threads, a full heap between
collect_begin() and collect_finish(), copies of handles and heaps, objects
of a closed heap, per-thread resources. Each body runs in its own process
(tests/isolated.py) so that a hang or a crash fails the test."""
from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
import time

import pytest

import artgc
from artgc._lib import lib

from conftest import mode_params
from isolated import run_isolated

CONCURRENT = [p for p in mode_params() if p.values[0] != "stw"]


@pytest.mark.parametrize("mode,delivery", mode_params())
def test_close_while_threads_are_inside(mode, delivery, require_mode):
    """Threads in collect(), allocation and reads while another closes the
    heap: each gets "the heap is closed" or finishes, none blocks, and the
    next heaps (often at the same address) work."""
    require_mode(mode, delivery)
    out = run_isolated(f"""
        import threading, time, artgc
        for rnd in range(6):
            heap = artgc.Heap("4MiB", mode="{mode}", delivery="{delivery}")
            N = heap.define_class("N", refs=1, data_bytes=64)
            keep = [heap.new(N) for _ in range(200)]
            errors, start = [], threading.Barrier(5)
            def worker(k):
                start.wait()
                try:
                    while True:
                        if k % 2:
                            heap.collect()
                        else:
                            x = heap.new(N)
                            heap.write_data(x, b"y" * 64)
                            heap.read_data(keep[k])
                except ValueError as e:
                    errors.append(str(e))
                except BaseException as e:
                    errors.append("unexpected: %r" % e)
            ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
            for t in ts: t.start()
            start.wait()
            time.sleep(0.02 * (rnd + 1))
            heap.close()
            for t in ts:
                t.join(20)
                assert not t.is_alive(), "a thread is still blocked in the closed heap"
            assert errors == ["the heap is closed"] * 4, errors
            assert heap.closed
            del keep
        with artgc.Heap("4MiB", mode="{mode}", delivery="{delivery}") as h2:
            h2.collect(); h2.collect()
            assert h2.verify()
        print("DONE")
    """, timeout=120)
    assert "DONE" in out


@pytest.mark.parametrize("mode,delivery", CONCURRENT)
def test_collect_finish_from_many_threads(mode, delivery, require_mode):
    """Exactly one of several simultaneous collect_finish() calls finishes the
    cycle; the others get a clear error; the heap stays usable."""
    require_mode(mode, delivery)
    run_isolated(f"""
        import threading, artgc
        heap = artgc.Heap("8MiB", mode="{mode}", delivery="{delivery}")
        N = heap.define_class("N", refs=1, data_bytes=256)
        keep = [heap.new(N) for _ in range(2000)]
        for i, h in enumerate(keep):
            heap.write_data(h, i.to_bytes(8, "little"))
        for rnd in range(12):
            heap.collect_begin()
            results, bar = [], threading.Barrier(4)
            def fin():
                bar.wait()
                try:
                    results.append(("ok", heap.collect_finish()["index"]))
                except ValueError as e:
                    results.append(("err", str(e)))
            ts = [threading.Thread(target=fin) for _ in range(4)]
            for t in ts: t.start()
            for t in ts:
                t.join(30)
                assert not t.is_alive(), "collect_finish() never returned"
            oks = [r for r in results if r[0] == "ok"]
            assert len(oks) == 1, results
            for kind, msg in results:
                if kind == "err":
                    assert "another thread is already finishing" in msg or "no cycle is waiting" in msg, msg
        heap.collect()
        for i, h in enumerate(keep):
            assert heap.read_data(h)[:8] == i.to_bytes(8, "little")
        assert heap.verify()
        heap.close()
        print("DONE")
    """, timeout=120)


@pytest.mark.parametrize("mode,delivery", CONCURRENT)
def test_collect_begin_while_others_allocate(mode, delivery, require_mode):
    """collect_begin() while other threads allocate (and trigger cycles)
    always leaves a cycle waiting for collect_finish()."""
    require_mode(mode, delivery)
    run_isolated(f"""
        import threading, artgc
        heap = artgc.Heap("2MiB", mode="{mode}", delivery="{delivery}", trigger=0.3)
        N = heap.define_class("N", refs=0, data_bytes=1024)
        stop = threading.Event()
        def alloc():
            while not stop.is_set():
                heap.new(N)
        ts = [threading.Thread(target=alloc) for _ in range(3)]
        for t in ts: t.start()
        try:
            for i in range(300):
                heap.collect_begin()
                c = heap.collect_finish()
                assert c["index"] >= 0
        finally:
            stop.set()
            for t in ts: t.join(30)
        assert heap.verify()
        heap.close()
        print("DONE")
    """, timeout=180)


@pytest.mark.parametrize("mode,delivery", CONCURRENT)
def test_full_heap_between_begin_and_finish(mode, delivery, require_mode):
    """A heap that fills up while a collect_begin() cycle waits says so (no
    collection could run), not "after a full collection"; finishing the
    cycle then frees the garbage."""
    require_mode(mode, delivery)
    with artgc.Heap("2MiB", mode=mode, delivery=delivery) as heap:
        N = heap.define_class("N", refs=0, data_bytes=4096)
        keep = heap.new(N)
        heap.write_data(keep, b"k" * 4096)
        heap.collect_begin()
        with pytest.raises(artgc.OutOfMemory) as ei:
            for _ in range(10_000):
                heap.new(N)
        msg = str(ei.value)
        assert "collect_begin()" in msg and "collect_finish()" in msg, msg
        assert "after a full collection" not in msg
        heap.collect_finish()
        heap.collect()
        assert heap.read_data(keep) == b"k" * 4096
        heap.new(N)   # room again
        assert heap.verify()


@pytest.mark.parametrize("mode", ["stw", "minor"])
def test_copy_of_a_handle_is_a_new_root(mode, require_mode):
    require_mode(mode)
    with artgc.Heap("4MiB", mode=mode) as heap:
        N = heap.define_class("N", refs=0, data_bytes=8)
        a = heap.new(N)
        heap.write_data(a, b"original")
        c = copy.copy(a)
        assert c == a and c is not a
        del c
        gc.collect()
        others = [heap.new(N) for _ in range(50)]   # would reuse a freed root slot
        for o in others:
            heap.write_data(o, b"another!")
        heap.collect()
        assert heap.read_data(a) == b"original"
        with pytest.raises(TypeError, match="deep-copied"):
            copy.deepcopy(a)
        with pytest.raises(TypeError, match="pickled"):
            pickle.dumps(a)


def test_a_heap_cannot_be_copied_or_pickled(require_mode):
    with artgc.Heap("4MiB", mode="stw") as heap:
        for f in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(TypeError, match="cannot be"):
                f(heap)
    with pytest.raises(ValueError, match="closed"):
        heap.collect()


def test_a_closed_heaps_objects_are_refused_by_a_new_heap(require_mode):
    """Classes and handles of a closed heap are refused by any later heap,
    even one that Python puts at the same id() as the closed one."""
    old = artgc.Heap("4MiB", mode="stw")
    h_old = old.new(old.define_class("Node", refs=1, data_bytes=8))
    old.close()
    with artgc.Heap("4MiB", mode="stw") as new:
        x = new.new_ref_array(1)
        with pytest.raises(ValueError, match="another heap"):
            new.set_ref(x, 0, h_old)
    # a class of the closed heap, with the id() the next heap gets when
    # Python reuses the closed heap's memory (as happens in long sessions)
    old = artgc.Heap("4MiB", mode="stw")
    C = old.define_class("Node", refs=1, data_bytes=8)
    old.close()
    with artgc.Heap("4MiB", mode="stw") as new:
        new.define_class("Node", refs=1, data_bytes=8)
        for cls in (C, dataclasses.replace(C, heap_id=id(new))):
            with pytest.raises(ValueError, match="another heap"):
                new.new(cls)


@pytest.mark.parametrize("size", ["9" * 400 + "MiB", "99999999999999999999999TiB",
                                  "18446744073709551616", "1.0000000000000000001GiB"])
def test_sizes_that_overflow_are_refused(size):
    with pytest.raises(ValueError):
        artgc.Heap(size, mode="stw")


def test_sizes_that_overflow_are_refused_by_the_cli():
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "artgc", "run", "graph", "--heap", "9" * 400 + "MiB"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    assert "too large" in p.stderr


@pytest.mark.parametrize("mode,delivery", [p for p in CONCURRENT if p.values[0] != "minor"])
def test_thread_exit_frees_fault_buffers(mode, delivery, require_mode):
    """Python threads that fault on to-space pages (SIGBUS delivery) or
    finish a cycle build pages in per-thread buffers (copy and move modes;
    minor mode builds in place); they go when the thread exits."""
    require_mode(mode, delivery)
    import threading
    with artgc.Heap("8MiB", mode=mode, delivery=delivery) as heap:
        N = heap.define_class("N", refs=0, data_bytes=2048)
        keep = [heap.new(N) for _ in range(1500)]
        def one_round() -> None:
            heap.collect_begin()
            def read(k):
                for h in keep[k::8]:
                    heap.read_data(h, 0, 8)
            ts = [threading.Thread(target=read, args=(k,)) for k in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            fin = threading.Thread(target=heap.collect_finish)
            fin.start()
            fin.join()

        def settled(want: int | None) -> int:
            # join() returns before the OS thread has run its exit destructors
            n, last, same = -1, None, 0
            for _ in range(300):
                n = lib.agc_test_page_buffers()
                if n == want or (want is None and same >= 10):
                    break
                same = same + 1 if n == last else 0
                last = n
                time.sleep(0.01)
            return n

        one_round()          # the long-lived threads (GC, fault handler) get theirs
        before = settled(None)
        for _ in range(3):
            one_round()
        settled(before)
        assert lib.agc_test_page_buffers() == before
        assert heap.verify()
