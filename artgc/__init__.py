"""artgc: a concurrent-compacting garbage collector prototype on userfaultfd."""
from __future__ import annotations

from typing import Any

from .errors import ArtgcError, HeapCorruption, Interrupted, OutOfMemory, UnsupportedMode
from .sizes import format_size, parse_size

__version__ = "0.1.0"

__all__ = [
    "ArtgcError", "HeapCorruption", "Interrupted", "OutOfMemory", "UnsupportedMode",
    "Heap", "probe", "run", "RunResult", "bench", "plot", "parse_size", "format_size", "__version__",
    "sigchain_library", "sigchain_active", "fastpath",
]

# `probe` and `bench` are functions named like their modules: importing the
# modules here, before binding the names, keeps a later `import artgc.probe`
# from replacing the function by the module. Plotting (matplotlib) loads on
# first use.
from .bench import bench  # noqa: E402
from .fastpath import fastpath  # noqa: E402
from .heap import Heap  # noqa: E402
from .probe import probe  # noqa: E402
from .runner import RunResult, run  # noqa: E402
from .sigchain import sigchain_active, sigchain_library  # noqa: E402

_LAZY = {
    "plot": ("plots", "plot_results"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{mod}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'artgc' has no attribute {name!r}")
