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
