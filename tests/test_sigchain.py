"""artgc's signal chain (heap/sigchain, preloaded): C code that installs its
own SIGBUS handler while compactions run never takes artgc's faults, and
the SIGBUS signals that are not artgc's reach the program's handler."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import artgc
from conftest import needs_native

HAMMER = textwrap.dedent("""
    import ctypes, os, signal, sys, threading
    import artgc
    from artgc._lib import lib
    assert artgc.sigchain_active(), "the chain is not preloaded"
    libc = ctypes.CDLL(None)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
    stop = threading.Event()
    installs = [0]
    def hammer():
        # what a C library would do: SIGBUS to the default action, straight
        # through libc's signal(), thousands of times while cycles compact
        while not stop.is_set():
            libc.signal(signal.SIGBUS, 0)        # SIG_DFL
            installs[0] += 1
    t = threading.Thread(target=hammer)
    t.start()
    try:
        # gc_install=False: GC threads build pages but leave mapping them to
        # the mutators' faults, so every page touched after a flip faults
        # (with GC installs the GC thread can get to every page first)
        r = artgc.run("binarytrees", size=16, heap="8MiB", mode="minor", delivery="sigbus", gc_install=False,
                      check=True)
        # a run's mutators may sit in allocation waits through every
        # compaction (a small heap fills before the cycle ends): faults are
        # made certain on a heap of our own, whose cycle waits after its flip
        # for the pages we touch (collect_begin), while the hammer goes on
        with artgc.Heap("16MiB", mode="minor", delivery="sigbus", generational="off") as h:
            C = h.define_class("Big", refs=1, data_bytes=2000)
            keep, prev = [], None
            for i in range(2000):
                h.new(C)                           # garbage between: everything moves
                o = h.new(C)
                h.write_data(o, i.to_bytes(4, "little") * 500)
                if prev is not None:
                    h.set_ref(o, 0, prev)
                keep.append(o)
                prev = o
            before = installs[0]
            h.collect_begin()
            for i, o in enumerate(keep):
                assert h.read_data(o) == i.to_bytes(4, "little") * 500
            c = h.collect_finish()
            assert h.verify()
            during = installs[0] - before
    finally:
        stop.set()
        t.join()
    faults = c["faults"]
    # the program's action is what it installed, not artgc's
    assert signal.getsignal(signal.SIGBUS) == signal.SIG_DFL, signal.getsignal(signal.SIGBUS)
    # a SIGBUS that is not artgc's reaches the program's handler
    got = []
    signal.signal(signal.SIGBUS, lambda s, f: got.append(s))
    os.kill(os.getpid(), signal.SIGBUS)
    assert got == [signal.SIGBUS], got
    import json
    print(json.dumps({"output": r.output, "cycles": len(r.cycles), "faults": faults, "installs": installs[0],
                      "installs_during": during}))
""")


def _preloaded(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LD_PRELOAD=artgc.sigchain_library())
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_the_library_is_built_and_not_preloaded_here() -> None:
    assert os.path.exists(artgc.sigchain_library())
    if "_sigchain" not in os.environ.get("LD_PRELOAD", ""):
        assert artgc.sigchain_active() is False


@needs_native
def test_c_code_installing_sigbus_handlers_during_compaction_never_takes_artgc_faults(
        require_mode: Any) -> None:
    require_mode("minor", "sigbus")
    if "asan" in os.environ.get("LD_PRELOAD", "") or os.environ.get("ARTGC_SANITIZE"):
        pytest.skip("AddressSanitizer intercepts sigaction itself")
    p = _preloaded(HAMMER)
    assert p.returncode == 0, p.stderr[-3000:]
    d = json.loads(p.stdout.strip().splitlines()[-1])
    ref = artgc.run("binarytrees", size=16, heap="64MiB", mode="stw")
    assert d["output"] == ref.output
    # mutators faulted (through SIGBUS) while the program kept replacing the handler
    assert d["cycles"] >= 3 and d["installs"] > 100, d
    # mutator reads took SIGBUS faults while the program replaced the handler
    assert d["faults"] > 0 and d["installs_during"] > 0, d
