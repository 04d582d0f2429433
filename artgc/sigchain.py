"""artgc's signal chain: keep artgc's SIGBUS handler in force whatever the
program installs, as ART's libsigchain does.

With ``--delivery sigbus`` a userfaultfd fault reaches artgc only through its
SIGBUS handler. artgc keeps it in front at every API call and cycle, and
right after Python's ``signal.signal`` / ``faulthandler`` calls; C code that
calls ``sigaction(SIGBUS, ...)`` while a compaction runs would still take
the next fault until then. Preloading the chain closes that window::

    LD_PRELOAD=$(python -c 'import artgc; print(artgc.sigchain_library())') python prog.py

The chain interposes ``sigaction()`` and ``signal()``: once artgc claims
SIGBUS, the program's SIGBUS installs change only the action the chain keeps
for it (reported back as the old action, as if installed), and artgc passes
the SIGBUS signals that are not its faults to that action.
"""
from __future__ import annotations

import glob
import os


def sigchain_library() -> str:
    """Path of the signal-chain library to put in LD_PRELOAD."""
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "_sigchain*.so")))
    if not found:
        raise FileNotFoundError(f"artgc's signal chain is not built (no _sigchain*.so in {here}); "
                                "reinstall artgc (pip install .) to build it")
    return found[0]


def sigchain_active() -> bool:
    """Whether the signal chain is preloaded in this process."""
    from ._lib import lib
    return bool(lib.agc_sigchain_active())
