"""Exceptions raised by artgc."""
from __future__ import annotations


class ArtgcError(RuntimeError):
    """Base class of artgc's own errors."""


class OutOfMemory(ArtgcError, MemoryError):
    """The heap is full even after a collection."""


class UnsupportedMode(ArtgcError):
    """The kernel lacks a userfaultfd feature the requested mode needs."""


class HeapCorruption(ArtgcError):
    """The verifier found a bad object; the message names the first one."""


class Interrupted(ArtgcError):
    """A run was interrupted (SIGINT); partial results may be attached."""
