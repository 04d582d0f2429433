"""Faults around the collector: mutators that vanish mid-run; a full heap."""
from __future__ import annotations

import os

import pytest

import artgc
from artgc._lib import lib, raise_for
from artgc.heap import Heap

from conftest import mode_params


@pytest.mark.parametrize("how", [0, 1, 2], ids=["return", "pthread_exit", "cancelled"])
@pytest.mark.parametrize("mode,delivery", mode_params())
def test_mutator_that_vanishes(mode, delivery, how, require_mode):
    """A native mutator leaves without detaching (or is cancelled while
    running): later pauses must not wait for it, and the heap stays sound."""
    require_mode(mode, delivery)
    with Heap("8MiB", mode=mode, delivery=delivery, verify=True) as h:
        Node = h.define_class("Node", refs=1, data_bytes=8)
        keep = h.new(Node)
        h.write_data(keep, b"survivor")
        for _ in range(3):
            raise_for(lib.agc_test_abandon_mutator(h._p(), how))
            h.collect()
        d = h.verify()
        h.collect()
        assert h.verify() == d
        assert h.read_data(keep) == b"survivor"
        threads = len(os.listdir("/proc/self/task"))
        assert threads < 40


def test_full_heap_during_compaction_is_an_error_not_a_crash(require_mode):
    require_mode("minor")
    r = artgc.run("lru", size=50, mode="minor", heap="2MiB", mutators=2)
    assert r.failed
    assert "out of memory" in r.error


@pytest.mark.parametrize("mode", ["minor", "copy", "move"])
def test_handler_thread_dies(mode, require_mode):
    """The fault handler thread dies mid-run: faulting mutators are released
    at the end of the compaction, the next cycle starts a new handler and
    says so, and nothing is lost."""
    require_mode(mode, "thread")
    with Heap("8MiB", mode=mode, delivery="thread", gc_install=(mode != "minor"), verify=True) as h:
        Obj = h.define_class("Obj", data_bytes=4088)
        objs = [h.new(Obj) for _ in range(32)]
        for i, o in enumerate(objs):
            h.write_data(o, bytes([i]) * 16, 0)
        h.collect_begin()
        raise_for(lib.agc_test_kill_fault_thread(h._p()))
        h.collect_finish()      # GC builds every page and wakes any waiter
        h.collect()             # restarts the handler
        assert lib.agc_test_fault_thread_restarts(h._p()) == 1
        for i, o in enumerate(objs):
            assert h.read_data(o, 0, 16) == bytes([i]) * 16
        h.verify()


# A kernel without a feature, simulated (ARTGC_UFFD_HIDE), so that the
# refusal is tested here too, not skipped on a kernel that has everything.
HIDDEN = [("minor", "sigbus", "minor_shmem", "UFFD_FEATURE_MINOR_SHMEM"),
          ("copy", "sigbus", "missing_shmem", "UFFD_FEATURE_MISSING_SHMEM"),   # copy on shmem needs it
          ("move", "sigbus", "move", "UFFD_FEATURE_MOVE"),
          ("minor", "sigbus", "sigbus", "UFFD_FEATURE_SIGBUS")]


@pytest.mark.parametrize("mode,delivery,feature,name", HIDDEN, ids=[h[2] for h in HIDDEN])
def test_a_missing_kernel_feature_is_refused(mode, delivery, feature, name, monkeypatch):
    import subprocess
    import sys
    monkeypatch.setenv("ARTGC_UFFD_HIDE", feature)
    memory = "shmem" if mode != "move" else "anon"
    with pytest.raises(artgc.UnsupportedMode, match=name) as ei:
        Heap("4MiB", mode=mode, delivery=delivery, memory=memory)
    assert "artgc probe" in str(ei.value)
    if feature == "missing_shmem":   # copy on anonymous memory (its default) does not need it
        with Heap("4MiB", mode=mode, delivery=delivery, memory="anon") as h:
            h.collect()
    p = subprocess.run([sys.executable, "-m", "artgc", "run", "graph", "--size", "5", "--mode", mode,
                        "--delivery", delivery, "--heap", "16MiB", "--memory", memory],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert name in p.stderr and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    from artgc.probe import capabilities
    assert capabilities()["features"][feature] is False
    if feature == "sigbus":      # the other delivery still works
        with Heap("4MiB", mode=mode, delivery="thread") as h:
            h.collect()
