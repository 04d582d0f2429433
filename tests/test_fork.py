"""fork() with a live heap: the child cannot corrupt the parent's heap (the
atfork handler unmaps every heap's ranges in the child; move mode's memory
is MADV_DONTFORK) and any use of the heap in the child is a clear error;
the child exits normally. Every mode and delivery."""
from __future__ import annotations

import pytest

from conftest import mode_params
from isolated import run_isolated


@pytest.mark.parametrize("mode,delivery", mode_params())
def test_fork_child_cannot_touch_the_parents_heap(mode, delivery, require_mode):
    require_mode(mode, delivery)
    run_isolated(f"""
        import ctypes, os, signal, sys, time, artgc
        heap = artgc.Heap("4MiB", mode="{mode}", delivery="{delivery}")
        N = heap.define_class("N", refs=1, data_bytes=64)
        objs = [heap.new(N) for _ in range(500)]
        for i, o in enumerate(objs):
            heap.write_data(o, i.to_bytes(8, "little") * 8)
        heap.collect()
        digest = heap.verify()
        addr, used = heap.primary_address, heap.used

        def wait(pid, what):
            for _ in range(3000):
                got, status = os.waitpid(pid, os.WNOHANG)
                if got:
                    return status
                time.sleep(0.01)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(what + ": the child hung")

        # 1. the API in the child: a clear error, no hang; a normal exit
        pid = os.fork()
        if pid == 0:
            code = 0
            for call in (heap.collect, lambda: heap.read_data(objs[0]), lambda: heap.new(N),
                         heap.verify, lambda: heap.used):
                try:
                    call()
                    code = 3
                except ValueError as e:
                    if "fork" not in str(e):
                        code = 4
            del objs[:]          # dropping handles in the child is harmless
            sys.stdout.flush()
            sys.exit(code)       # finalizers run: the parent's heap is left alone
        st = wait(pid, "API")
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, st

        # 2. raw writes into the heap's addresses: the child has no mapping there
        pid = os.fork()
        if pid == 0:
            os.close(2)          # its segmentation fault is expected: keep stderr quiet
            ctypes.memset(addr, 0xAB, used)
            os._exit(0)
        wait(pid, "raw write")

        # the parent's heap is intact and keeps working
        for i, o in enumerate(objs):
            assert heap.read_data(o) == i.to_bytes(8, "little") * 8
        assert heap.verify() == digest
        heap.collect()
        assert heap.verify() == digest
        heap.close()
        print("DONE")
    """, timeout=120)
