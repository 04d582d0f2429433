"""A SIGINT handler for the duration of a ``with`` block, where one can be had."""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


@contextmanager
def on_sigint(handler: Callable[[int, FrameType | None], Any]) -> Iterator[bool]:
    """Install ``handler`` for SIGINT inside the block and restore the previous
    one after it. Only the main thread can own signal handlers: elsewhere the
    block runs unchanged. Yields whether the handler was installed."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    old = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, handler)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.SIG_DFL)
