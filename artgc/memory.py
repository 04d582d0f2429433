"""Memory measured honestly: a sampler of a process's resident memory with
each physical page counted once (its proportional set size).

RSS counts a page once per mapping, and artgc maps its heap twice (primary and
alias), so RSS over-counts the heap. The sampler reads, every ``interval_s``
(15 ms by default) in a Python thread (it only reads /proc: the GIL is never
needed by the heap):

  * ``pss_bytes``: the kernel's anonymous-page counter (``RssAnon`` of
    ``/proc/<pid>/status``) + the populated bytes of every memfd the process
    holds open (st_blocks, each page once however many times it is mapped;
    ``RssShmem`` when it holds none) + the file-backed PSS (libraries, code)
    read once from ``smaps_rollup`` when sampling starts. For a process
    without shared anonymous memory this is its PSS (a test checks it against
    ``smaps_rollup``), except that a memfd page populated but mapped nowhere
    counts too: it costs memory all the same.
  * ``rss_bytes``, ``anon_bytes``: ``VmRSS`` and ``RssAnon`` (counters);
  * ``memfd_bytes``: the heap's memfd populated bytes (st_blocks * 512 of
    the fd; 0 for an anonymous heap and for the JVM);
  * ``meta_bytes``: artgc's own metadata (bitmaps, page states, buffers)
    from ``agc_heap_meta_bytes`` when the native core has it, else 0;
  * ``used_bytes``: the heap's used bytes at the sample: what allocation
    cannot have, i.e. everything allocated (live or not) and, while
    compaction runs with ``charge_fromspace``, the from-space not given back
    yet (``agc_heap_used``; 0 for the JVM);
  * ``charged_bytes``: that from-space part of ``used_bytes``
    (``agc_heap_charged``; 0 between cycles, with the option off, and for
    the JVM).

With ``base_pss_bytes`` (the process's PSS just before the heap was made),
:func:`beyond_used` is what the heap costs beyond the bytes it holds:
``pss - base - used``: metadata, free space mapped ahead, to-space not yet
filled and from-space not yet given back beyond what is charged. With
``top=True`` it is measured against the allocated bytes alone (``used -
charged``), as before the charge: from-space held after the flip counts
as beyond.

Why not ``smaps_rollup`` every sample (``exact=True`` still does): it walks
the process's page tables under the mmap lock, 7-13 ms for a 256 MiB heap
and more for 1 GiB mapped twice, and a flip's mremap waits for that lock.
Measured on binarytrees 21 / 1 GiB, ``minor``: worst pause 13.7-16.7 ms with
a rollup every 15 ms, 0.25 ms without (``python benchmarks/sampler_ab.py``).
The counters cost microseconds and take no lock a mutator or the GC needs.

:func:`timeline` joins the samples and the live data after each cycle into
the ``memory_timeline`` result key (columns, times since the run's start).

What a heap size means: ``heap_bytes`` is the live-plus-free budget (what the
mutators can hold at once). An artgc heap keeps two halves of that size
(from-space and to-space) in one memfd, so at peak it can populate twice the
budget, plus its metadata: :func:`heap_cost_bytes`. The JVM peers run with
``-Xmx`` equal to the same budget.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

TIMELINE_COLUMNS: tuple[str, ...] = ("t_ns", "pss_bytes", "rss_bytes", "anon_bytes", "memfd_bytes", "used_bytes",
                                     "charged_bytes", "meta_bytes", "sample_cost_ns")
# Reading smaps_rollup walks the process's page tables under the mmap lock:
# about 2.5 ms of CPU for a Python process with a small heap, 7-13 ms for a
# 256 MiB heap (artgc's two mappings of it, or a pretouched JVM) on this
# machine; the counters of /proc/<pid>/status cost microseconds. The sampler
# waits at least this many times a sample's CPU time before the next, so that
# it takes at most about 1/MAX_COST_SHARE of a CPU.
MAX_COST_SHARE = 20
SPREAD_MAX = 4 << 20     # bytes the used count may move while one sample is read
FILE_PSS_REFRESH_S = 1.0
_ROLLUP_FIELDS = {"Pss:": "pss_bytes", "Rss:": "rss_bytes", "Anonymous:": "anon_bytes",
                  "Pss_File:": "pss_file_bytes"}
_STATUS_FIELDS = {"VmRSS:": "rss_bytes", "RssAnon:": "anon_bytes", "RssShmem:": "shmem_bytes"}


def _read_kib_fields(path: str, fields: Mapping[str, str]) -> dict[str, int] | None:
    out = {v: 0 for v in fields.values()}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                key = fields.get(parts[0]) if parts else None
                if key is not None and len(parts) >= 2:
                    out[key] = int(parts[1]) * 1024
    except (OSError, ValueError):
        return None
    return out


def read_rollup(pid: int | str = "self") -> dict[str, int] | None:
    """PSS, RSS, anonymous and file-backed PSS bytes of a process from
    /proc/<pid>/smaps_rollup (a page-table walk under the mmap lock); None
    when the process is gone or the file is unreadable."""
    return _read_kib_fields(f"/proc/{pid}/smaps_rollup", _ROLLUP_FIELDS)


def read_status(pid: int | str = "self") -> dict[str, int] | None:
    """RSS, anonymous and shmem resident bytes of a process from the kernel's
    counters in /proc/<pid>/status (no page-table walk); None when gone."""
    return _read_kib_fields(f"/proc/{pid}/status", _STATUS_FIELDS)


def is_heap_file(link: str) -> bool:
    """Whether an fd's link names shared memory a heap is made of: a memfd,
    or artgc's file in a tmpfs of its own (huge shmem: heap/space/shmemfile.c)."""
    return link.startswith("/memfd:") or link.startswith("/artgc-heap")


def memfds_populated_bytes(pid: int | str = "self") -> int | None:
    """Populated bytes of every memfd (or artgc heap file) the process holds
    open, each file once (however many fds or mappings it has); None when it
    holds none."""
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return None
    seen: set[tuple[int, int]] = set()
    total = 0
    for n in names:
        try:
            if not is_heap_file(os.readlink(f"{base}/{n}")):
                continue
            st = os.stat(f"{base}/{n}")
        except OSError:
            continue   # closed meanwhile
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += int(st.st_blocks) * 512
    return total if seen else None


def read_counters(pid: int | str = "self", file_pss: int = 0) -> dict[str, int] | None:
    """``pss_bytes``, ``rss_bytes`` and ``anon_bytes`` from counters, without
    a page-table walk: anonymous pages + every memfd's populated pages once
    (the shmem counter if the process holds no memfd) + ``file_pss`` (the
    file-backed PSS, from a rollup taken once). None when the process is gone."""
    st = read_status(pid)
    if st is None:
        return None
    memfds = memfds_populated_bytes(pid)
    shared = st["shmem_bytes"] if memfds is None else memfds
    return {"pss_bytes": st["anon_bytes"] + shared + int(file_pss), "rss_bytes": st["rss_bytes"],
            "anon_bytes": st["anon_bytes"]}


def fd_populated_bytes(fd: int) -> int:
    """Bytes a file (the heap's memfd) holds in memory: st_blocks * 512."""
    if fd < 0:
        return 0
    try:
        return int(os.fstat(fd).st_blocks) * 512
    except OSError:
        return 0


def empty_timeline() -> dict[str, list[int]]:
    return {**{k: [] for k in TIMELINE_COLUMNS}, "live_t_ns": [], "live_bytes": []}


def _read(fn: Callable[[], int] | None) -> int:
    if fn is None:
        return 0
    try:
        return int(fn())
    except Exception:  # noqa: BLE001 - a heap being torn down: no figure
        return 0


class MemorySampler:
    """Samples a process's memory every interval_s in a daemon thread.

    ``with MemorySampler(pid) as s: ...`` or start()/stop(). Times are
    CLOCK_MONOTONIC ns (absolute); :func:`timeline` makes them relative.
    memfd: the heap's fd (-1: none); meta: a callable giving artgc's
    metadata bytes (None: 0). start() does not wait for a sample (a sample
    walks the page tables under the mmap lock, ms of kernel time): the
    thread takes one every interval, the first an interval after start, and
    stop() a last one when fewer than two were taken, so even a short run
    has two. The wait between samples stretches to MAX_COST_SHARE times the
    CPU time the last sample cost (``sample_cost_ns``, kernel time included).
    ``exact=True`` reads smaps_rollup for every sample (exact PSS, but each
    read holds the process's mmap lock for milliseconds: it stretches the
    pauses it lands in); the default reads it once, when the thread starts,
    for the file-backed part, and counters after (see the module's text)."""

    def __init__(self, pid: int | str = "self", *, memfd: int = -1,
                 meta: Callable[[], int] | None = None, interval_s: float = 0.015,
                 exact: bool = False, used: Callable[[], int] | None = None,
                 charged: Callable[[], int] | None = None) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.pid = pid
        self.exact = bool(exact)
        self._file_pss: int | None = None
        self.memfd = memfd
        self.meta = meta
        self.used = used
        self.charged = charged
        self.interval_s = float(interval_s)
        self.samples: dict[str, list[int]] = {k: [] for k in TIMELINE_COLUMNS}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._sampling = threading.Lock()

    def sample(self) -> bool:
        """Take one sample now; False (nothing recorded) when the process is gone."""
        with self._sampling:   # one at a time, so the columns stay in time order
            return self._sample()

    def _read_memory(self) -> dict[str, int] | None:
        if self.exact:
            return read_rollup(self.pid)
        if self._file_pss is None:   # once: the only page-table walk
            base = read_rollup(self.pid)
            self._file_pss = base["pss_file_bytes"] if base is not None else 0
        return read_counters(self.pid, self._file_pss)

    def _sample(self) -> bool:
        t = time.monotonic_ns()
        c0 = time.thread_time_ns()
        # the heap's used bytes read before and after the memory: when they
        # differ by more than SPREAD_MAX (a flip or a cycle's end fell in
        # between; the sampler may have been preempted there) the memory is
        # read again, up to twice, so that PSS and used are of one moment
        u0 = _read(self.used)
        for _ in range(3):
            roll = self._read_memory()
            used = _read(self.used)
            if roll is None or abs(used - u0) <= SPREAD_MAX:
                break
            u0 = used
        cost = time.thread_time_ns() - c0   # CPU time (kernel's page walk included), not waits
        if roll is None:
            return False
        memfd = fd_populated_bytes(self.memfd)
        meta, charged = _read(self.meta), _read(self.charged)
        with self._lock:
            row = {"t_ns": t, "pss_bytes": roll["pss_bytes"], "rss_bytes": roll["rss_bytes"],
                   "anon_bytes": roll["anon_bytes"], "memfd_bytes": memfd, "meta_bytes": meta, "used_bytes": used,
                   "charged_bytes": charged, "sample_cost_ns": cost}
            for k in TIMELINE_COLUMNS:
                self.samples[k].append(int(row[k]))
        return True

    def _loop(self) -> None:
        if not self.exact and self._file_pss is None:
            base = read_rollup(self.pid)   # the one walk, before the first interval
            self._file_pss = base["pss_file_bytes"] if base is not None else 0
        # another process (a JVM) was just started: its libraries are not all
        # in yet, so its file-backed part is read once more a second later
        refresh_at = None if self.exact or self.pid == "self" else time.monotonic() + FILE_PSS_REFRESH_S
        wait = self.interval_s
        while not self._stop.wait(wait):
            if refresh_at is not None and time.monotonic() >= refresh_at:
                refresh_at = None
                again = read_rollup(self.pid)
                if again is not None:
                    self._file_pss = max(self._file_pss or 0, again["pss_file_bytes"])
            if not self.sample():
                return
            with self._lock:
                cost = self.samples["sample_cost_ns"][-1] / 1e9
            wait = max(self.interval_s, MAX_COST_SHARE * cost)

    def start(self) -> MemorySampler:
        if self._thread is not None:
            raise RuntimeError("this MemorySampler was already started")
        self._thread = threading.Thread(target=self._loop, name="artgc-memory-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, list[int]]:
        """Stop sampling (one last sample first) and return the columns."""
        if self._thread is not None and not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            with self._lock:
                n = len(self.samples["t_ns"])
            if n < 2:
                self.sample()
        with self._lock:
            return {k: list(v) for k, v in self.samples.items()}

    def __enter__(self) -> MemorySampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def peak_pss_bytes(self) -> int:
        with self._lock:
            return max(self.samples["pss_bytes"], default=0)


def timeline(samples: Mapping[str, Iterable[int]], t0_ns: int,
             live: Iterable[tuple[int, int]] = ()) -> dict[str, list[int]]:
    """The ``memory_timeline`` result key: the sampler's columns with times
    since t0_ns (samples before t0 are kept, clamped to 0), plus ``live_t_ns``
    / ``live_bytes``: (absolute end time, live bytes) of each cycle."""
    out: dict[str, list[int]] = {k: [int(v) for v in samples.get(k, [])] for k in TIMELINE_COLUMNS}
    out["t_ns"] = [max(0, t - int(t0_ns)) for t in out["t_ns"]]
    pairs = sorted((int(t), int(b)) for t, b in live)
    out["live_t_ns"] = [max(0, t - int(t0_ns)) for t, _ in pairs]
    out["live_bytes"] = [b for _, b in pairs]
    return out


def cycle_live(cycles: Iterable[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """(end time, live bytes) of each artgc cycle that has both."""
    out = []
    for c in cycles:
        t, b = c.get("t_end_ns"), c.get("live_bytes")
        if t and b is not None:
            out.append((int(t), int(b)))
    return out


def peak_pss(tl: Mapping[str, Iterable[int]]) -> int:
    return max((int(v) for v in tl.get("pss_bytes", [])), default=0)


def heap_cost_bytes(heap_bytes: int, meta_bytes: int = 0, halves: int = 2) -> int:
    """The most memory an artgc heap of this budget can populate: both halves
    (from-space and to-space) plus its metadata."""
    return int(halves) * int(heap_bytes) + int(meta_bytes)


def meta_reader(lib: Any, h: Any) -> Callable[[], int] | None:
    """A callable giving the heap's metadata bytes, or None if this build of
    the native core lacks ``agc_heap_meta_bytes``."""
    fn = getattr(lib, "agc_heap_meta_bytes", None)
    if fn is None:
        return None
    return lambda: int(fn(h))


def used_reader(lib: Any, h: Any) -> Callable[[], int] | None:
    """A callable giving the heap's used bytes (agc_heap_used)."""
    fn = getattr(lib, "agc_heap_used", None)
    return None if fn is None else (lambda: int(fn(h)))


def charged_reader(lib: Any, h: Any) -> Callable[[], int] | None:
    """A callable giving the from-space charged as used (agc_heap_charged)."""
    fn = getattr(lib, "agc_heap_charged", None)
    return None if fn is None else (lambda: int(fn(h)))


def beyond_used(tl: Mapping[str, Any], base_pss_bytes: int, top: bool = False) -> tuple[list[int], list[int]]:
    """(times, bytes): what the heap costs beyond its used bytes at each
    sample, ``pss - base - used`` (clamped at 0); empty without used_bytes.
    ``top``: beyond the allocated bytes alone (``used - charged``)."""
    t, pss, used = tl.get("t_ns") or [], tl.get("pss_bytes") or [], tl.get("used_bytes") or []
    if not used or len(used) != len(pss) or not base_pss_bytes:
        return [], []
    ch = tl.get("charged_bytes") or []
    if top and len(ch) == len(used):
        used = [int(u) - int(c) for u, c in zip(used, ch)]
    return list(t), [max(0, int(p) - int(base_pss_bytes) - int(u)) for p, u in zip(pss, used)]


def beyond_used_in_cycles(r: Mapping[str, Any], top: bool = False) -> dict[str, int | None]:
    """The most memory beyond used bytes in samples taken during a cycle
    (``during``) and between cycles (``between``); None where no sample fell.
    ``top``: beyond the allocated bytes alone (see :func:`beyond_used`)."""
    tl = r.get("memory_timeline") or {}
    t, b = beyond_used(tl, int(r.get("base_pss_bytes") or 0), top=top)
    t0 = int(r.get("t0_ns") or 0)
    spans = [(int(c["t_start_ns"]) - t0, int(c["t_end_ns"]) - t0) for c in r.get("cycles") or []
             if c.get("t_start_ns") and c.get("t_end_ns")]
    during: list[int] = []
    between: list[int] = []
    for ti, bi in zip(t, b):
        (during if any(a <= ti <= e for a, e in spans) else between).append(bi)
    return {"during": max(during) if during else None, "between": max(between) if between else None}


def memfd_of(lib: Any, h: Any) -> int:
    try:
        return int(lib.agc_heap_memfd(h))
    except Exception:  # noqa: BLE001 - no memfd accessor: treat as anonymous
        return -1


def result_fields(samples: Mapping[str, Iterable[int]], t0_ns: int, cycles: Iterable[Mapping[str, Any]],
                  heap_bytes: int) -> dict[str, Any]:
    """The memory keys of an artgc RunResult from its sampler's columns:
    ``memory_timeline``, ``peak_pss_bytes`` and ``heap_cost_bytes``."""
    tl = timeline(samples, t0_ns, cycle_live(cycles))
    meta = max(tl["meta_bytes"], default=0)
    return {"memory_timeline": tl, "peak_pss_bytes": peak_pss(tl),
            "heap_cost_bytes": heap_cost_bytes(heap_bytes, meta)}
