"""The Python object API: a GC'd heap of objects reached through handles.

Every call is a mutator step of the calling thread in C; a live ``Handle`` is a
GC root and a dropped one is not. For notebooks and tests, not for speed.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from ._lib import ffi, lib, raise_for

from .cycles import cycle_to_dict
from . import options
from .options import heap_options

PAGE_STATES = {0: "unprocessed", 1: "processing", 2: "processed", 3: "mapped"}
U64_MAX = (1 << 64) - 1


def _index(value: object, what: str) -> int:
    """A non-negative int that fits the C side's 64 bits, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    if value > U64_MAX:
        raise ValueError(f"{what} {value} is out of range (at most 2**64 - 1)")
    return value


def make_options(heap: int | str = "64MiB", **kw: Any) -> Any:
    """Validate heap options (artgc.options' table) and build the C ``agc_options``."""
    return heap_options(heap, **kw).to_c()


@dataclass(frozen=True)
class Class:
    """A class of objects on one heap."""
    heap_id: int
    id: int
    name: str
    refs: int
    data_bytes: int

    def __repr__(self) -> str:
        return f"<artgc class {self.name} refs={self.refs} data_bytes={self.data_bytes}>"


class Handle:
    """A reference to a heap object held by Python: a GC root while it lives."""

    __slots__ = ("_heap", "_idx", "__weakref__")

    def __init__(self, heap: "Heap", idx: int) -> None:
        self._heap = heap
        self._idx = idx

    def __del__(self) -> None:
        h = getattr(self, "_heap", None)
        if h is not None and h._ptr is not None:
            lib.agc_handle_free(h._ptr, self._idx)

    @property
    def heap(self) -> "Heap":
        return self._heap

    @property
    def address(self) -> int:
        """The object's current address in the primary mapping (it changes at every cycle)."""
        return self._heap._info(self)[3]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Handle) or other._heap is not self._heap:
            return NotImplemented
        return self._heap.same(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self._heap._ptr is None:
            return "<artgc handle (heap closed)>"
        cls, nrefs, dlen, _ = self._heap._info(self)
        return f"<artgc {self._heap._class_name(cls)} refs={nrefs} data={dlen}B>"


class Heap:
    """A GC'd heap in a memfd mapped twice. Use as a context manager.

    Parameters (the same names, limits and defaults as ``artgc run``'s
    options; the table is :data:`artgc.options.OPTIONS`):

    size
        capacity of the live heap: bytes or a string such as "64MiB", "1GiB"
        (1MiB .. 1TiB; the memfd holds twice this).
    mode
        "stw" (stop-the-world compaction), "copy" (UFFDIO_COPY into missing
        pages), "minor" (pages built in the alias, mapped by UFFDIO_CONTINUE)
        or "move" (UFFDIO_MOVE). A mode the kernel lacks raises UnsupportedMode.
    delivery
        how a mutator's fault reaches its resolver: "sigbus" (in the faulting
        thread) or "thread" (a handler thread). Not with mode "stw", which
        takes no faults.
    gc_threads
        compaction threads, 1..64.
    marking
        "concurrent" (SATB marking beside the mutators) or "stw" (inside a pause).
    gc_install
        GC threads install the pages they build (False only with mode "minor").
    reuse_tospace
        keep the old from-space half populated for the next cycle.
    order
        the order GC threads build pages: "ascending", "descending", "random".
    trigger
        start a cycle when this fraction (0, 1] of the space free after the
        last cycle is used.
    verify
        verify the heap's integrity after every cycle (raises HeapCorruption).
    seed
        seed of the random page order (0 .. 2**64-1).

    Bad values raise ValueError/TypeError naming the valid ones.

    >>> with Heap("64MiB", mode="minor") as heap:
    ...     Node = heap.define_class("Node", refs=2, data_bytes=8)
    ...     a = heap.new(Node)
    """

    def __init__(self, size: int | str = "64MiB", mode: str | None = None, *, delivery: str | None = None,
                 gc_threads: int = 1, marking: str = "concurrent", gc_install: bool = True,
                 reuse_tospace: bool | None = None, order: str | None = None, trigger: float = 0.75,
                 verify: bool = False, seed: int = 0, memory: str | None = None,
                 eager_release: bool | None = None, dense_prefix: float | None = None,
                 pretouch_window: int | str | None = None, design: str | None = None) -> None:
        self._ptr: Any = None
        hopts = options.heap_options(size, mode=mode, delivery=delivery, gc_threads=gc_threads,
                                     marking=marking, gc_install=gc_install, reuse_tospace=reuse_tospace,
                                     order=order, trigger=trigger, verify=verify, seed=seed, memory=memory,
                                     eager_release=eager_release, dense_prefix=dense_prefix,
                                     pretouch_window=pretouch_window, design=design)
        opts = hopts.to_c()
        mode, delivery = hopts["mode"], hopts["delivery"]
        out = ffi.new("agc_heap **")
        raise_for(lib.agc_heap_create(opts, out))
        self._ptr = out[0]
        self.mode = mode
        self.delivery = delivery
        self.capacity = int(lib.agc_heap_capacity(self._ptr))
        self._classes: dict[int, Class] = {}
        self._manual = False
        self._builtin = {1: "RefArray", 2: "ByteArray"}
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, Heap._destroy, self._ptr)

    # lifecycle ------------------------------------------------------------
    @staticmethod
    def _destroy(ptr: Any) -> None:
        lib.agc_heap_destroy(ptr)

    def close(self) -> None:
        """Release every mapping, descriptor and thread of the heap."""
        if self._ptr is not None:
            self._ptr = None
            self._finalizer()

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def __enter__(self) -> "Heap":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _p(self) -> Any:
        if self._ptr is None:
            raise ValueError("the heap is closed")
        return self._ptr

    def _check(self, h: object, what: str = "object") -> Handle:
        if not isinstance(h, Handle):
            raise TypeError(f"{what} must be a handle returned by this heap, not {type(h).__name__}")
        if h._heap is not self:
            raise ValueError(f"{what} is a handle from another heap")
        self._p()
        return h

    # classes --------------------------------------------------------------
    def define_class(self, name: str, refs: int = 0, data_bytes: int = 0) -> Class:
        """Define (or look up) a class with ``refs`` reference slots and ``data_bytes`` of data."""
        if not isinstance(name, str):
            raise TypeError("class name must be a string")
        if "\x00" in name:
            raise ValueError("a class name cannot contain a NUL character")
        for v, what in ((refs, "refs"), (data_bytes, "data_bytes")):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{what} must be an int")
            if v < 0:
                raise ValueError(f"{what} must be >= 0, got {v}")
        if refs > (1 << 20) or data_bytes > (1 << 24):
            raise ValueError(f"class {name!r}: at most {1 << 20} refs and {1 << 24} data bytes")
        out = ffi.new("int *")
        raise_for(lib.agc_define_class(self._p(), name.encode(), refs, data_bytes, out))
        c = Class(id(self), int(out[0]), name, refs, data_bytes)
        self._classes[c.id] = c
        return c

    def _class_name(self, cid: int) -> str:
        if cid in self._classes:
            return self._classes[cid].name
        return self._builtin.get(cid, f"class#{cid}")

    # objects --------------------------------------------------------------
    def _wrap(self, idx: int) -> Handle | None:
        return Handle(self, idx) if idx else None

    def new(self, cls: Class, length: int | None = None) -> Handle:
        """Allocate an object of ``cls`` (zeroed); returns a handle (a root).
        Arrays: new_ref_array() and new_byte_array()."""
        if length is not None:
            raise TypeError("new() takes no length: classes have a fixed size; "
                            "use new_ref_array(n) or new_byte_array(n) for arrays")
        if not isinstance(cls, Class):
            raise TypeError(f"new() needs a class from define_class() or ref_array/byte_array, not {type(cls).__name__}")
        if cls.heap_id != id(self) or cls.id not in self._classes:
            raise ValueError(f"unknown class {cls.name!r}: it was defined on another heap")
        out = ffi.new("uint32_t *")
        raise_for(lib.agc_new(self._p(), cls.id, 0, out))
        return Handle(self, int(out[0]))

    def new_ref_array(self, length: int) -> Handle:
        """An array of ``length`` references (all None)."""
        return self._new_array(1, length)

    def new_byte_array(self, length: int) -> Handle:
        """An array of ``length`` bytes (zeroed)."""
        return self._new_array(2, length)

    def _new_array(self, cid: int, length: int) -> Handle:
        _index(length, "array length")
        out = ffi.new("uint32_t *")
        raise_for(lib.agc_new(self._p(), cid, length, out))
        return Handle(self, int(out[0]))

    def _slot(self, slot: int) -> int:
        if isinstance(slot, bool) or not isinstance(slot, int):
            raise TypeError(f"slot must be an int, not {type(slot).__name__}")
        if slot < 0:
            raise ValueError(f"slot {slot} out of range: slots are numbered from 0")
        return _index(slot, "slot")

    def get_ref(self, obj: Handle, slot: int) -> Handle | None:
        """The object in reference slot ``slot`` of ``obj`` (None if empty)."""
        self._check(obj)
        out = ffi.new("uint32_t *")
        raise_for(lib.agc_get_ref(self._p(), obj._idx, self._slot(slot), out))
        return self._wrap(int(out[0]))

    def set_ref(self, obj: Handle, slot: int, value: Handle | None) -> None:
        """Store ``value`` (or None) into reference slot ``slot`` of ``obj``."""
        self._check(obj)
        v = 0 if value is None else self._check(value, "value")._idx
        raise_for(lib.agc_set_ref(self._p(), obj._idx, self._slot(slot), v))

    def _info(self, obj: Handle) -> tuple[int, int, int, int]:
        cls = ffi.new("int *")
        nrefs = ffi.new("uint64_t *")
        dlen = ffi.new("uint64_t *")
        addr = ffi.new("uintptr_t *")
        raise_for(lib.agc_obj_info(self._p(), obj._idx, cls, nrefs, dlen, addr))
        return int(cls[0]), int(nrefs[0]), int(dlen[0]), int(addr[0])

    def class_of(self, obj: Handle) -> str:
        self._check(obj)
        return self._class_name(self._info(obj)[0])

    def refs_count(self, obj: Handle) -> int:
        self._check(obj)
        return self._info(obj)[1]

    def data_size(self, obj: Handle) -> int:
        self._check(obj)
        return self._info(obj)[2]

    def read_data(self, obj: Handle, offset: int = 0, length: int | None = None) -> bytes:
        """The object's data bytes (all of them by default)."""
        self._check(obj)
        n = self._info(obj)[2]
        _index(offset, "offset")
        if length is None:
            length = max(0, n - offset)
        _index(length, "length")
        if offset > n or length > n - offset:
            raise ValueError(f"data out of range: {self.class_of(obj)} has {n} data bytes; "
                             f"asked for {length} at offset {offset}")
        buf = ffi.new("uint8_t[]", max(1, length))
        raise_for(lib.agc_read_data(self._p(), obj._idx, offset, buf, length))
        return bytes(ffi.buffer(buf, length))

    def write_data(self, obj: Handle, data: bytes | bytearray | memoryview, offset: int = 0) -> None:
        """Write ``data`` into the object's data bytes at ``offset``."""
        self._check(obj)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        _index(offset, "offset")
        b = bytes(data)
        raise_for(lib.agc_write_data(self._p(), obj._idx, offset, b, len(b)))

    def same(self, a: Handle, b: Handle) -> bool:
        """Whether two handles refer to the same object."""
        self._check(a)
        self._check(b)
        out = ffi.new("int *")
        raise_for(lib.agc_same_object(self._p(), a._idx, b._idx, out))
        return bool(out[0])

    # collection -----------------------------------------------------------
    def collect(self) -> dict[str, Any]:
        """Run one full cycle in the heap's mode; returns its statistics."""
        out = ffi.new("agc_cycle_stats *")
        raise_for(lib.agc_collect(self._p(), out))
        return cycle_to_dict(out)

    def collect_begin(self) -> None:
        """Run a cycle up to the end of its flip and stop: to-space pages are then
        built only when touched (a userfaultfd fault), until collect_finish()."""
        raise_for(lib.agc_collect_begin(self._p()))
        self._manual = True

    def collect_finish(self) -> dict[str, Any]:
        """Let GC threads build the remaining pages and finish the cycle."""
        out = ffi.new("agc_cycle_stats *")
        raise_for(lib.agc_collect_finish(self._p(), out))
        self._manual = False
        return cycle_to_dict(out)

    def page_states(self) -> list[str]:
        """State of every to-space page of the cycle in progress (empty when idle)."""
        n = self.capacity // 4096 + 1
        buf = ffi.new("uint8_t[]", n)
        np_ = ffi.new("uint64_t *")
        raise_for(lib.agc_page_states(self._p(), buf, n, np_))
        return [PAGE_STATES.get(int(buf[i]), "?") for i in range(int(np_[0]))]

    def verify(self) -> str:
        """Check the whole heap; raise HeapCorruption naming the first bad object.
        Returns an address-independent digest of what the live handles reach."""
        out = ffi.new("char[33]")
        raise_for(lib.agc_verify(self._p(), out))
        return ffi.string(out).decode()

    # statistics -----------------------------------------------------------
    @property
    def used(self) -> int:
        return int(lib.agc_heap_used(self._p()))

    @property
    def primary_address(self) -> int:
        return int(lib.agc_heap_primary(self._p()))

    @property
    def alias_address(self) -> int:
        return int(lib.agc_heap_alias(self._p()))

    @property
    def memfd(self) -> int:
        return int(lib.agc_heap_memfd(self._p()))

    @property
    def live_half(self) -> int:
        return int(lib.agc_heap_live_half(self._p()))

    def cycles(self) -> list[dict[str, Any]]:
        p = self._p()
        out = ffi.new("agc_cycle_stats *")
        res = []
        for i in range(int(lib.agc_cycle_count(p))):
            raise_for(lib.agc_cycle_get(p, i, out))
            res.append(cycle_to_dict(out))
        return res

    def snapshot(self) -> "Any":
        """The used heap as uint64 words, references rewritten as offsets (+1):
        equal for two heaps holding the same objects at the same offsets."""
        import numpy as np
        p = self._p()
        if self._manual:
            raise ValueError("cannot snapshot in the middle of a cycle begun with collect_begin(); "
                             "call collect_finish() first")
        n = int(lib.agc_heap_snapshot(p, ffi.NULL, 0)) + 1024
        arr = np.zeros(n, dtype=np.uint64)
        got = int(lib.agc_heap_snapshot(p, ffi.cast("uint64_t *", ffi.from_buffer(arr)), n))
        return arr[:min(got, n)].copy()

    def heap_map(self, after: bool = False) -> list[int]:
        """Live bytes per page before (from-space) or after (to-space) the last compaction."""
        p = self._p()
        n = int(lib.agc_heap_map(p, 1 if after else 0, ffi.NULL, 0))
        buf = ffi.new("uint32_t[]", max(1, n))
        lib.agc_heap_map(p, 1 if after else 0, buf, n)
        return [int(buf[i]) for i in range(n)]

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else f"{self.used}/{self.capacity} bytes used"
        return f"<artgc.Heap mode={self.mode} {state}>"
