"""The compiled core (artgc._native) and helpers to turn its codes into exceptions."""
from __future__ import annotations

from typing import NoReturn

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
