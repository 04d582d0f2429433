"""The compiled core (artgc._native) and helpers to turn its codes into exceptions."""
from __future__ import annotations

import faulthandler
import functools
import signal
from typing import Any, Callable, NoReturn, TypeVar

from . import errors

try:
    from ._native import ffi, lib  # type: ignore[import-not-found]
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "artgc's native core is not built; run `python -m pip install -e .` "
        f"in the source tree ({exc})"
    ) from exc


def last_error() -> str:
    return ffi.string(lib.agc_last_error()).decode("utf-8", "replace")


def raise_for(code: int) -> None:
    """Raise the exception matching an AGC_E* code (no-op for AGC_OK)."""
    if code == lib.AGC_OK:
        return
    _raise(code, last_error())


def _raise(code: int, msg: str) -> NoReturn:
    if code == lib.AGC_EINVAL:
        raise ValueError(msg)
    if code == lib.AGC_EOOM:
        raise errors.OutOfMemory(msg)
    if code == lib.AGC_EUNSUPPORTED:
        raise errors.UnsupportedMode(msg)
    if code == lib.AGC_ECORRUPT:
        raise errors.HeapCorruption(msg)
    if code == lib.AGC_ECLOSED:
        raise ValueError(msg or "the heap is closed")
    if code == lib.AGC_EINTR:
        raise errors.Interrupted(msg)
    raise errors.ArtgcError(msg or f"artgc native error {code}")


# Keeping artgc's SIGBUS handler first ------------------------------------
#
# With --delivery sigbus a userfaultfd fault reaches artgc only through its
# SIGBUS handler. A program that installs its own SIGBUS handler later
# (signal.signal, faulthandler.enable/disable) would take every fault of a
# running compaction: Python's handler returns and the thread faults again
# forever; faulthandler's kills the process. ART's sigchain intercepts
# sigaction() for this; here the Python entry points that change SIGBUS's
# disposition are wrapped so that artgc's handler goes back in front at once
# and the new handler is chained for the faults that are not artgc's (C code
# changing SIGBUS is caught at the next API call or cycle; with the signal
# chain preloaded it never displaces artgc: artgc/sigchain.py).
_F = TypeVar("_F", bound=Callable[..., Any])


def _keeps_sigbus_first(fn: _F, only_sigbus_arg: bool) -> _F:
    if getattr(fn, "__artgc_wrapped__", None) is not None:
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            if not only_sigbus_arg or (args and args[0] == signal.SIGBUS):
                lib.agc_sigbus_reassert()

    wrapper.__artgc_wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


signal.signal = _keeps_sigbus_first(signal.signal, True)
faulthandler.enable = _keeps_sigbus_first(faulthandler.enable, False)
faulthandler.disable = _keeps_sigbus_first(faulthandler.disable, False)
