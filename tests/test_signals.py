"""artgc's SIGBUS handler stays in force when the program installs its own
SIGBUS handler while a compaction runs (signal.signal, faulthandler, a C
library calling signal()), and chains to it for SIGBUS that is not artgc's.
SIGBUS delivery, every concurrent mode; each body in its own process."""
from __future__ import annotations

import pytest

from conftest import mode_params
from isolated import run_isolated

SIGBUS_MODES = [p for p in mode_params() if p.values[0] != "stw" and p.values[1] == "sigbus"]

PRELUDE = """
import ctypes, faulthandler, signal, artgc
heap = artgc.Heap("8MiB", mode="{mode}", delivery="sigbus")
N = heap.define_class("N", refs=0, data_bytes=1024)
objs = [heap.new(N) for _ in range(3000)]
for i, o in enumerate(objs):
    heap.write_data(o, i.to_bytes(8, "little"))
heap.collect()
def read_all(part):
    for i in range(part, len(objs), 3):
        assert heap.read_data(objs[i], 0, 8) == i.to_bytes(8, "little")
heap.collect_begin()      # to-space pages are now built only by faults
"""

EPILOGUE = """
heap.collect_finish()
heap.verify()
heap.close()
print("DONE")
"""


@pytest.mark.parametrize("mode,delivery", SIGBUS_MODES)
def test_python_signal_handler_installed_during_compaction(mode, delivery, require_mode):
    require_mode(mode, delivery)
    run_isolated(PRELUDE.format(mode=mode) + """
calls = []
signal.signal(signal.SIGBUS, lambda s, f: calls.append(s))
read_all(0)
assert calls == [], calls          # artgc's faults never reached it
signal.raise_signal(signal.SIGBUS) # not artgc's: chained to the program's handler
assert calls == [signal.SIGBUS], calls
read_all(1)
""" + EPILOGUE, timeout=60)


@pytest.mark.parametrize("mode,delivery", SIGBUS_MODES)
def test_faulthandler_enabled_during_compaction(mode, delivery, require_mode):
    require_mode(mode, delivery)
    out = run_isolated(PRELUDE.format(mode=mode) + """
faulthandler.disable()
faulthandler.enable()
read_all(0)
faulthandler.disable()
read_all(1)
faulthandler.enable()
read_all(2)
""" + EPILOGUE, timeout=60)
    assert "Fatal Python error" not in out


@pytest.mark.parametrize("mode,delivery", SIGBUS_MODES)
def test_c_library_changing_sigbus_during_compaction(mode, delivery, require_mode):
    """A handler set from C (here SIG_IGN through libc's signal()) is put
    behind artgc's at the next API call."""
    require_mode(mode, delivery)
    run_isolated(PRELUDE.format(mode=mode) + """
libc = ctypes.CDLL(None)
libc.signal.restype = ctypes.c_void_p
libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.signal(signal.SIGBUS, ctypes.c_void_p(1))    # SIG_IGN
read_all(0)
read_all(1)
""" + EPILOGUE, timeout=60)
