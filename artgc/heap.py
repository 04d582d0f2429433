"""The Python object API: a GC'd heap of objects reached through handles.

Every call is a mutator step of the calling thread in C; a live ``Handle`` is a
GC root and a dropped one is not. For notebooks and tests, not for speed.
"""
from __future__ import annotations

import itertools
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable

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
    """A reference to a heap object held by Python: a GC root while it lives.

    ``copy.copy(handle)`` makes a new root to the same object (the copy and
    the original are dropped independently); deep copies and pickling are
    refused: a handle is a slot in this process's root table."""

    __slots__ = ("_heap", "_idx", "__weakref__")

    def __init__(self, heap: "Heap", idx: int) -> None:
        self._heap = heap
        self._idx = idx

    def __del__(self) -> None:
        h = getattr(self, "_heap", None)
        if h is not None:
            h._drop(self._idx)

    def __copy__(self) -> "Handle":
        return self._heap._dup(self)

    def __deepcopy__(self, memo: dict) -> "Handle":
        raise TypeError("an artgc Handle cannot be deep-copied (the object lives in the heap); "
                        "copy.copy(handle) gives a second handle to the same object")

    def __reduce_ex__(self, protocol: object) -> Any:
        raise TypeError("an artgc Handle cannot be pickled: it is a root in this process's heap")

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
        if self._heap.closed:
            return "<artgc handle (heap closed)>"
        cls, nrefs, dlen, _ = self._heap._info(self)
        return f"<artgc {self._heap._class_name(cls)} refs={nrefs} data={dlen}B>"


_heap_serial = itertools.count(1)


class Heap:
    """A GC'd heap: private anonymous memory, or a memfd mapped twice (mode
    "minor", the seed's plan). Use as a context manager.

    Parameters (the same names, limits and defaults as ``artgc run``'s
    options; the table is :data:`artgc.options.OPTIONS`):

    size
        capacity of the live heap: bytes or a string such as "64MiB", "1GiB"
        (1MiB .. 1TiB; on shmem the memfd holds twice this).
    mode
        "stw" (stop-the-world compaction), "copy" (UFFDIO_COPY into missing
        pages), "minor" (pages built in the alias, mapped by UFFDIO_CONTINUE)
        or "move" (UFFDIO_MOVE). Default "copy" (ART's mode since 2023). A
        mode the kernel lacks raises UnsupportedMode.
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
    memory
        "anon" (private anonymous memory, as ART) or "shmem" (a memfd mapped
        twice, the seed's plan); default: the mode's (minor shmem; stw,
        copy and move anon).
    eager_release
        give from-space back in chunks as compaction goes (default True).
    release_gaps
        before the flip, give back every dead gap of 64 KiB or more (default False).
    huge_pages
        huge pages for the heap's memory (default: on for anonymous memory,
        off for shmem): anonymous memory asks for transparent huge pages;
        shmem puts the heap's file in a tmpfs of its own mounted
        huge=always (see ``shmem_huge``; faster, worse tail latency).
    build_ahead
        GC threads build the pages from a mutator's last fault on first (default False).
    release_pacing
        GC threads give from-space back only as long as they have built,
        unless a mutator needs the memory (default False: from-space is
        held longer, peak PSS up).
    charge_fromspace
        while compaction runs, from-space not given back yet counts as used
        (default True; False in the seed design).
    recycle_fromspace
        shmem: from-space above the allocation pointer becomes the free space
        at the cycle's end instead of being punched (default False: the kept
        pages are memory beyond the used bytes).
    keep_tospace
        shmem, modes that build in place: from-space below a little above
        the cycle's live end is kept for the next cycle's to-space instead
        of punched (default False: memory beyond the budget between cycles).
    mutator_recycle
        anonymous memory, concurrent modes: while compaction runs, mutators
        take their fresh memory from from-space chunks compaction is done
        with (moved into place) instead of new kernel pages (default False).
    inplace_prefix
        shmem, minor and stw: a full cycle updates the dense prefix's pages
        where they are instead of copying them to the memfd's other half:
        "on", "off" or "auto" (the default: only the prefix's part below a
        1 GiB boundary, so that the flip stays cheap; True/False mean on/off).
    huge_moves
        move: GC threads move whole 2 MiB blocks with one ioctl (default True;
        False in the art-2025 design, which moves runs of 16 pages as ART).
    dense_prefix
        leading pages at least this live are not moved (0.95; 0: off).
    generational
        "on": young cycles between full ones (every mode and memory);
        "off": every cycle is full; "auto" (default): on where the memory
        is anonymous or shmem with huge pages, off on shmem of small pages
        (``generational`` says which). Each cycle record says
        its ``kind`` ("young" / "full") and ``kind_reason``.
    young_flip_max
        generational heaps, concurrent modes: no young cycle (``auto``) whose
        flip would forward dirty cards for longer than this many ms,
        estimated (default 1.0; 0: no limit, ART's rule alone).
    max_free
        the free space allocation may use between two cycles, at most
        (default "512MiB"; 0: no cap): a cycle starts by then even if the heap
        has more room (ART's heapmaxfree).
    pretouch
        map free space ahead of allocation (the GC thread between cycles, a
        mutator before the block it allocates into), so no pause waits for
        a fresh page's fault (default True).
    pretouch_window
        map free space this far ahead of allocation between cycles ("auto":
        a 16th of the heap, at least 16MiB; 0: all of it).
    design
        "seed", "art-2023" or "art-2025": sets the knobs that design names
        unless they are given (see ``artgc.options.DESIGNS``).

    Bad values raise ValueError/TypeError naming the valid ones.

    Any thread may call any method; ``close()`` refuses new calls, wakes the
    calls that wait inside (they raise "the heap is closed") and frees the
    heap when the last one has returned. A heap belongs to the process that
    created it: after ``os.fork()`` the child's calls raise ValueError (its
    memory is not mapped in the child). Heaps cannot be copied or pickled.

    >>> with Heap("64MiB", mode="minor") as heap:
    ...     Node = heap.define_class("Node", refs=2, data_bytes=8)
    ...     a = heap.new(Node)
    """

    def __init__(self, size: int | str = "64MiB", mode: str | None = None, *, delivery: str | None = None,
                 gc_threads: int = 1, marking: str = "concurrent", gc_install: bool = True,
                 reuse_tospace: bool | None = None, order: str | None = None, trigger: float = 0.75,
                 verify: bool = False, seed: int = 0, memory: str | None = None,
                 eager_release: bool | None = None, release_gaps: bool = False, huge_pages: bool | None = None,
                 build_ahead: bool = False, huge_moves: bool | None = None,
                 charge_fromspace: bool | None = None, inplace_prefix: str | bool = "auto",
                 recycle_fromspace: bool = False, mutator_recycle: bool = False, keep_tospace: bool = False,
                 release_pacing: bool = False, dense_prefix: float | None = None, generational: str | bool | None = None,
                 pretouch: bool = True, pretouch_window: int | str | None = None, max_free: int | str = "512MiB",
                 young_flip_max: float = 1.0, design: str | None = None) -> None:
        # the C heap, shared with the finalizer: whichever frees it (close(),
        # garbage collection, interpreter exit) empties the cell first, so no
        # handle dropped later reaches freed memory
        self._cell: list[Any] = [None]
        self._pid = os.getpid()
        self._serial = next(_heap_serial)
        self._cv = threading.Condition(threading.RLock())
        self._inflight = 0
        self._closing = False
        hopts = options.heap_options(size, mode=mode, delivery=delivery, gc_threads=gc_threads,
                                     marking=marking, gc_install=gc_install, reuse_tospace=reuse_tospace,
                                     order=order, trigger=trigger, verify=verify, seed=seed, memory=memory,
                                     eager_release=eager_release, release_gaps=release_gaps,
                                     huge_pages=huge_pages, build_ahead=build_ahead,
                                     huge_moves=huge_moves, charge_fromspace=charge_fromspace,
                                     inplace_prefix=inplace_prefix, recycle_fromspace=recycle_fromspace,
                                     mutator_recycle=mutator_recycle, keep_tospace=keep_tospace,
                                     release_pacing=release_pacing, dense_prefix=dense_prefix,
                                     generational=generational,
                                     pretouch=pretouch, pretouch_window=pretouch_window, max_free=max_free,
                                     young_flip_max=young_flip_max, design=design)
        opts = hopts.to_c()
        mode, delivery = hopts["mode"], hopts["delivery"]
        out = ffi.new("agc_heap **")
        raise_for(lib.agc_heap_create(opts, out))
        self._cell[0] = out[0]
        self.mode = mode
        self.delivery = delivery
        self.capacity = int(lib.agc_heap_capacity(self._ptr))
        self._classes: dict[int, Class] = {}
        self._manual = False
        self._builtin = {1: "RefArray", 2: "ByteArray"}
        self._finalizer = weakref.finalize(self, Heap._destroy, self._cell)

    # lifecycle ------------------------------------------------------------
    @property
    def _ptr(self) -> Any:
        return self._cell[0]

    @staticmethod
    def _destroy(cell: list[Any]) -> None:
        ptr, cell[0] = cell[0], None
        if ptr is not None:
            lib.agc_heap_destroy(ptr)

    def close(self) -> None:
        """Release every mapping, descriptor and thread of the heap. Calls in
        other threads return (or raise "the heap is closed") first."""
        if self._foreign():
            self._finalizer.detach()  # a forked child: the parent's heap is not ours
            self._cell[0] = None
            return
        with self._cv:
            if self._ptr is None:
                return
            if self._closing:          # another thread is closing it
                while self._ptr is not None:
                    self._cv.wait()
                return
            self._closing = True
            ptr = self._ptr
        lib.agc_heap_close_begin(ptr)  # wakes the calls waiting in C
        with self._cv:
            while self._inflight:
                self._cv.wait()
            self._finalizer()
            self._cv.notify_all()

    @property
    def closed(self) -> bool:
        return self._ptr is None or self._closing

    def __enter__(self) -> "Heap":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __copy__(self) -> "Heap":
        raise TypeError("an artgc Heap cannot be copied: it owns memory, threads and descriptors")

    def __deepcopy__(self, memo: dict) -> "Heap":
        raise TypeError("an artgc Heap cannot be copied: it owns memory, threads and descriptors")

    def __reduce_ex__(self, protocol: object) -> Any:
        raise TypeError("an artgc Heap cannot be pickled: it owns memory, threads and descriptors")

    def _foreign(self) -> bool:
        return os.getpid() != self._pid

    def _enter(self) -> Any:
        """Count a call in flight (close() waits for it) and return the heap."""
        if self._foreign():
            raise ValueError(f"this heap belongs to process {self._pid}: after fork() a child process "
                             "cannot use its parent's heap; create a new Heap in the child")
        with self._cv:
            if self._ptr is None or self._closing:
                raise ValueError("the heap is closed")
            self._inflight += 1
            return self._ptr

    def _leave(self) -> None:
        with self._cv:
            self._inflight -= 1
            if not self._inflight:
                self._cv.notify_all()

    def _native(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call fn(heap, *args) in C with the heap kept alive for the call."""
        p = self._enter()
        try:
            return fn(p, *args)
        finally:
            self._leave()

    def _run(self, fn: Callable[..., int], *args: Any) -> None:
        raise_for(self._native(fn, *args))

    def _p(self) -> Any:
        if self._foreign():
            self._enter()              # raises the fork error
        if self.closed:
            raise ValueError("the heap is closed")
        return self._ptr

    def _drop(self, idx: int) -> None:
        """A handle was dropped (silently nothing once the heap is closed)."""
        if self._foreign() or self.closed:
            return
        try:
            p = self._enter()
        except ValueError:
            return
        try:
            lib.agc_handle_free(p, idx)
        finally:
            self._leave()

    def _dup(self, h: Handle) -> Handle:
        self._check(h)
        out = ffi.new("uint32_t *")
        self._run(lib.agc_handle_dup, h._idx, out)
        return Handle(self, int(out[0]))

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
        self._run(lib.agc_define_class, name.encode(), refs, data_bytes, out)
        c = Class(self._serial, int(out[0]), name, refs, data_bytes)
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
        if cls.heap_id != self._serial or cls.id not in self._classes:
            raise ValueError(f"unknown class {cls.name!r}: it was defined on another heap")
        out = ffi.new("uint32_t *")
        self._run(lib.agc_new, cls.id, 0, out)
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
        self._run(lib.agc_new, cid, length, out)
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
        self._run(lib.agc_get_ref, obj._idx, self._slot(slot), out)
        return self._wrap(int(out[0]))

    def set_ref(self, obj: Handle, slot: int, value: Handle | None) -> None:
        """Store ``value`` (or None) into reference slot ``slot`` of ``obj``."""
        self._check(obj)
        v = 0 if value is None else self._check(value, "value")._idx
        self._run(lib.agc_set_ref, obj._idx, self._slot(slot), v)

    def _info(self, obj: Handle) -> tuple[int, int, int, int]:
        cls = ffi.new("int *")
        nrefs = ffi.new("uint64_t *")
        dlen = ffi.new("uint64_t *")
        addr = ffi.new("uintptr_t *")
        self._run(lib.agc_obj_info, obj._idx, cls, nrefs, dlen, addr)
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
        self._run(lib.agc_read_data, obj._idx, offset, buf, length)
        return bytes(ffi.buffer(buf, length))

    def write_data(self, obj: Handle, data: bytes | bytearray | memoryview, offset: int = 0) -> None:
        """Write ``data`` into the object's data bytes at ``offset``."""
        self._check(obj)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        _index(offset, "offset")
        b = bytes(data)
        self._run(lib.agc_write_data, obj._idx, offset, b, len(b))

    def same(self, a: Handle, b: Handle) -> bool:
        """Whether two handles refer to the same object."""
        self._check(a)
        self._check(b)
        out = ffi.new("int *")
        self._run(lib.agc_same_object, a._idx, b._idx, out)
        return bool(out[0])

    # collection -----------------------------------------------------------
    def collect(self, kind: str = "full") -> dict[str, Any]:
        """Run one cycle in the heap's mode; returns its statistics. ``kind``:
        "full" (every live object marked and compacted), "young" (a
        generational heap: only what is younger than the old generation;
        full while nothing is old yet) or "auto" (as the heuristic chooses).
        The record's ``kind`` and ``kind_reason`` say what ran and why."""
        kinds = {"full": lib.AGC_COLLECT_FULL, "young": lib.AGC_COLLECT_YOUNG, "auto": lib.AGC_COLLECT_AUTO}
        if not isinstance(kind, str) or kind not in kinds:
            raise ValueError(f"unknown cycle kind {kind!r}; valid: full, young, auto")
        out = ffi.new("agc_cycle_stats *")
        self._run(lib.agc_collect_kind, kinds[kind], out)
        return cycle_to_dict(out)

    def collect_begin(self) -> None:
        """Run a cycle up to the end of its flip and stop: to-space pages are then
        built only when touched (a userfaultfd fault), until collect_finish()."""
        self._run(lib.agc_collect_begin)
        self._manual = True

    def collect_finish(self) -> dict[str, Any]:
        """Let GC threads build the remaining pages and finish the cycle."""
        out = ffi.new("agc_cycle_stats *")
        self._run(lib.agc_collect_finish, out)
        self._manual = False
        return cycle_to_dict(out)

    def page_states(self) -> list[str]:
        """State of every to-space page of the cycle in progress (empty when idle)."""
        n = self.capacity // 4096 + 1
        buf = ffi.new("uint8_t[]", n)
        np_ = ffi.new("uint64_t *")
        self._run(lib.agc_page_states, buf, n, np_)
        return [PAGE_STATES.get(int(buf[i]), "?") for i in range(int(np_[0]))]

    def verify(self) -> str:
        """Check the whole heap; raise HeapCorruption naming the first bad object.
        Returns an address-independent digest of what the live handles reach."""
        out = ffi.new("char[33]")
        self._run(lib.agc_verify, out)
        return ffi.string(out).decode()

    # statistics -----------------------------------------------------------
    @property
    def used(self) -> int:
        """Bytes allocation cannot have: everything allocated (live or not)
        and, while compaction runs with ``charge_fromspace``, the from-space
        not given back yet (so it can exceed the capacity right after a
        flip, until GC threads give from-space back)."""
        return int(self._native(lib.agc_heap_used))

    @property
    def primary_address(self) -> int:
        return int(self._native(lib.agc_heap_primary))

    @property
    def alias_address(self) -> int:
        return int(self._native(lib.agc_heap_alias))

    @property
    def memfd(self) -> int:
        return int(self._native(lib.agc_heap_memfd))

    @property
    def generational(self) -> bool:
        """Whether cycles are generational (young or full), "auto" resolved."""
        return int(self._native(lib.agc_heap_generational)) == int(lib.AGC_GEN_ON)

    @property
    def shmem_huge(self) -> str:
        """How a shmem heap's pages are huge: "tmpfs" (its file in a tmpfs of
        its own mounted huge=always), "madvise" (a memfd the kernel's
        shmem_enabled gives huge pages) or "none" (small pages; anon heaps)."""
        return ffi.string(self._native(lib.agc_heap_shmem_huge)).decode()

    @property
    def live_half(self) -> int:
        return int(self._native(lib.agc_heap_live_half))

    def cycles(self) -> list[dict[str, Any]]:
        out = ffi.new("agc_cycle_stats *")
        res = []
        for i in range(int(self._native(lib.agc_cycle_count))):
            self._run(lib.agc_cycle_get, i, out)
            res.append(cycle_to_dict(out))
        return res

    def snapshot(self) -> "Any":
        """The used heap as uint64 words, references rewritten as offsets (+1):
        equal for two heaps holding the same objects at the same offsets."""
        import numpy as np
        self._p()
        if self._manual:
            raise ValueError("cannot snapshot in the middle of a cycle begun with collect_begin(); "
                             "call collect_finish() first")
        n = int(self._native(lib.agc_heap_snapshot, ffi.NULL, 0)) + 1024
        arr = np.zeros(n, dtype=np.uint64)
        got = int(self._native(lib.agc_heap_snapshot, ffi.cast("uint64_t *", ffi.from_buffer(arr)), n))
        return arr[:min(got, n)].copy()

    def heap_map(self, after: bool = False) -> list[int]:
        """Live bytes per page before (from-space) or after (to-space) the last compaction."""
        n = int(self._native(lib.agc_heap_map, 1 if after else 0, ffi.NULL, 0))
        buf = ffi.new("uint32_t[]", max(1, n))
        self._native(lib.agc_heap_map, 1 if after else 0, buf, n)
        return [int(buf[i]) for i in range(n)]

    def __repr__(self) -> str:
        state = ("of another process" if self._foreign() else "closed" if self.closed
                 else f"{self.used}/{self.capacity} bytes used")
        return f"<artgc.Heap mode={self.mode} {state}>"
