"""Memory measured honestly: a sampler of a process's proportional set size.

RSS counts a page once per mapping, and artgc maps its heap twice (primary and
alias), so RSS over-counts the heap. PSS (``/proc/<pid>/smaps_rollup``)
counts each physical page once, shared ones split among their sharers. The
sampler reads, every ``interval_s`` (15 ms by default) in a Python thread
(it only reads /proc: the GIL is never needed by the heap):

  * ``pss_bytes``, ``rss_bytes``, ``anon_bytes``: from smaps_rollup (Pss,
    Rss, Anonymous) of the process running the heap (artgc: this process;
    a JVM peer: the java process);
  * ``memfd_bytes``: the heap's memfd populated bytes (st_blocks * 512 of
    the fd; 0 for an anonymous heap and for the JVM);
  * ``meta_bytes``: artgc's own metadata (bitmaps, page states, buffers)
    from ``agc_heap_meta_bytes`` when the native core has it, else 0.

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

TIMELINE_COLUMNS: tuple[str, ...] = ("t_ns", "pss_bytes", "rss_bytes", "anon_bytes", "memfd_bytes",
                                     "meta_bytes", "sample_cost_ns")
# Reading smaps_rollup walks the process's page tables under the mmap lock:
# about 2.5 ms of CPU for a Python process with a small heap, 7-13 ms for a
# 256 MiB heap (artgc's two mappings of it, or a pretouched JVM) on this
# machine. The sampler waits at least this many times a sample's CPU time
# before the next, so that it takes at most about 1/MAX_COST_SHARE of a CPU.
MAX_COST_SHARE = 20
_ROLLUP_FIELDS = {"Pss:": "pss_bytes", "Rss:": "rss_bytes", "Anonymous:": "anon_bytes"}


def read_rollup(pid: int | str = "self") -> dict[str, int] | None:
    """PSS, RSS and anonymous bytes of a process from /proc/<pid>/smaps_rollup;
    None when the process is gone or the file is unreadable."""
    out = {v: 0 for v in _ROLLUP_FIELDS.values()}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                parts = line.split()
                key = _ROLLUP_FIELDS.get(parts[0]) if parts else None
                if key is not None and len(parts) >= 2:
                    out[key] = int(parts[1]) * 1024
    except (OSError, ValueError):
        return None
    return out


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
    CPU time the last sample cost (``sample_cost_ns``, kernel time included)."""

    def __init__(self, pid: int | str = "self", *, memfd: int = -1,
                 meta: Callable[[], int] | None = None, interval_s: float = 0.015) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.pid = pid
        self.memfd = memfd
        self.meta = meta
        self.interval_s = float(interval_s)
        self.samples: dict[str, list[int]] = {k: [] for k in TIMELINE_COLUMNS}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def sample(self) -> bool:
        """Take one sample now; False (nothing recorded) when the process is gone."""
        t = time.monotonic_ns()
        c0 = time.thread_time_ns()
        roll = read_rollup(self.pid)
        cost = time.thread_time_ns() - c0   # CPU time (kernel's page walk included), not waits
        if roll is None:
            return False
        memfd = fd_populated_bytes(self.memfd)
        meta = 0
        if self.meta is not None:
            try:
                meta = int(self.meta())
            except Exception:  # noqa: BLE001 - a heap being torn down: no figure
                meta = 0
        with self._lock:
            row = {"t_ns": t, **roll, "memfd_bytes": memfd, "meta_bytes": meta, "sample_cost_ns": cost}
            for k in TIMELINE_COLUMNS:
                self.samples[k].append(int(row[k]))
        return True

    def _loop(self) -> None:
        wait = self.interval_s
        while not self._stop.wait(wait):
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
