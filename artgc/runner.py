"""One run of a native workload on a GC'd heap: ``artgc.run(...)``.

The workload runs in C (its own mutator threads); Python only creates the
heap, starts the run and gathers the measurements into a :class:`RunResult`.
"""
from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import FrameType
from typing import Any

import numpy as np
import numpy.typing as npt

from . import errors, metrics, options
from . import memory as memsample
from .cycles import cycle_to_dict
from .moved import summary_line as moved_summary_line
from .machine import MachineWatch
from ._sigint import on_sigint
from .results import FORMAT_VERSION, dumps, to_jsonable, write_json
from .sizes import format_size, parse_size

from .options import CYCLE_REASONS, DELIVERIES, MARKINGS, MODES, ORDERS, WORKLOADS  # noqa: F401 - re-exported

EVENT_FIELDS: tuple[str, ...] = metrics.EVENT_FIELDS
EVENT_DTYPE = np.dtype([("t_start_ns", "<u8"), ("dur_ns", "<u8"), ("thread", "<u4"),
                        ("kind", "<u4"), ("cycle", "<u4"), ("phase", "<u4"),
                        ("page", "<u4"), ("claimed", "<u4")])


def _u64(values: Any = ()) -> npt.NDArray[np.uint64]:
    return np.asarray(values if values is not None else [], dtype=np.uint64).reshape(-1)


def _empty_events() -> npt.NDArray[Any]:
    return np.zeros(0, dtype=EVENT_DTYPE)


def events_from_json(ev: Any) -> npt.NDArray[Any]:
    """Events from their JSON form (columns, or a list of objects)."""
    cols = metrics.events_columns(ev)
    n = len(cols["t_start_ns"])
    out = np.zeros(n, dtype=EVENT_DTYPE)
    for name in EVENT_FIELDS:
        out[name] = cols[name]
    return out


@dataclass
class RunResult:
    """Everything one run measured. Every contract.md JSON key is an attribute;
    times are nanoseconds on CLOCK_MONOTONIC unless the name says otherwise."""

    workload: str
    mode: str
    delivery: str
    heap_bytes: int
    mutators: int
    gc_threads: int
    size: int | None
    seed: int
    kernel: dict[str, Any] | None
    wall_s: float
    output: str
    verified: bool | None
    pauses_ns: npt.NDArray[np.uint64]
    fault_stalls_ns: npt.NDArray[np.uint64]
    cycles: list[dict[str, Any]]
    peak_rss_bytes: int
    marking: str = "concurrent"
    options: dict[str, Any] = field(default_factory=dict)
    events: npt.NDArray[Any] = field(default_factory=_empty_events)
    alloc_stalls_ns: npt.NDArray[np.uint64] = field(default_factory=_u64)
    heap_map_before: list[int] = field(default_factory=list)
    heap_map_after: list[int] = field(default_factory=list)
    latency_ns: npt.NDArray[np.uint64] | None = None
    metered_latency_ns: npt.NDArray[np.uint64] | None = None        # DaCapo's 100 ms smoothing
    metered_full_latency_ns: npt.NDArray[np.uint64] | None = None   # DaCapo's full smoothing
    counters: list[int] = field(default_factory=list)
    gc_throughput: dict[str, float | None] = field(default_factory=dict)
    failed: bool = False
    error: str | None = None
    error_type: str | None = None
    interrupted: bool = False
    t0_ns: int = 0
    t1_ns: int = 0
    # every stall (metrics.stall_fields), memory (artgc.memory), the runtime
    stalls_ns: npt.NDArray[np.uint64] = field(default_factory=_u64)
    stall_kinds: list[str] = field(default_factory=list)
    peak_pss_bytes: int = 0
    memory_timeline: dict[str, list[int]] = field(default_factory=memsample.empty_timeline)
    heap_cost_bytes: int | None = None
    base_pss_bytes: int = 0   # the process's PSS just before the heap was made (0: not measured)
    runtime: str = "artgc"
    jvm: str | None = None
    jdk: str | None = None
    version: int = FORMAT_VERSION
    machine: dict[str, Any] = field(default_factory=dict)   # the noise guard: artgc.machine
    artgc_version: str = ""

    # ------------------------------------------------------------------ views
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (numpy arrays become lists; events become columns)."""
        d: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = to_jsonable(v)
        return d

    def to_json(self, path: str | None = None, indent: int | None = None) -> str:
        """The result as JSON text; with path, also written there (atomically)."""
        if path is not None:
            write_json(self.to_dict(), path, indent=indent)
        return dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunResult:
        """Rebuild a result from its JSON form (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {k: v for k, v in d.items() if k in names}
        for k in ("pauses_ns", "fault_stalls_ns", "alloc_stalls_ns", "stalls_ns"):
            kw[k] = _u64(kw.get(k))
        for k in ("latency_ns", "metered_latency_ns", "metered_full_latency_ns"):
            if kw.get(k) is not None:
                kw[k] = _u64(kw[k])
        kw["events"] = events_from_json(kw.get("events"))
        return cls(**kw)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def mmu(self, windows: npt.ArrayLike | None = None) -> dict[str, Any]:
        """Minimum mutator utilization curve of this run (see metrics.mmu)."""
        return metrics.mmu(self.events, self.t0_ns, self.t1_ns, windows)

    def raise_for_failure(self) -> None:
        """Raise the exception matching a failed run (no-op if it succeeded)."""
        if not self.failed:
            return
        exc = {"HeapCorruption": errors.HeapCorruption, "OutOfMemory": errors.OutOfMemory,
               "Interrupted": errors.Interrupted}.get(self.error_type or "", errors.ArtgcError)
        raise exc(self.error or "the run failed")

    def summary(self, log_cycles: bool = False) -> str:
        """The table a JVM-log or Whippet reader expects: pauses (count,
        total, mean, p50/p95/p99/p99.9/max), worst stall beside worst pause,
        GC share of wall time, heap before -> after, MMU at 1/10/100 ms, and a
        warning line when the mutators mostly waited or the machine was busy.
        ``log_cycles`` adds a ``-Xlog:gc``-style line per cycle."""
        return summary_text(self.to_summary_dict(), log_cycles=log_cycles)

    def to_summary_dict(self) -> dict[str, Any]:
        """The keys :func:`summary_text` reads (no copies of the big arrays' JSON)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:
        p = metrics.summarize(self.pauses_ns)
        return (f"RunResult({self.workload}, mode={self.mode}, delivery={self.delivery}, "
                f"heap={format_size(self.heap_bytes)}, cycles={len(self.cycles)}, "
                f"pauses={p['count']}, max_pause={metrics.format_ns(p['max'])}, "
                f"wall_s={self.wall_s:.3f}{', FAILED' if self.failed else ''})")


# --------------------------------------------------------------------------- summary

SUMMARY_PERCENTILES = (50.0, 95.0, 99.0, 99.9)


def config_line(r: Mapping[str, Any]) -> str:
    """ "binarytrees (size 16), mode minor/sigbus, heap 12MiB (2x the minimum 6MiB), 1 mutator,
    1 GC thread, concurrent marking" """
    size = f"size {r.get('size')}" if r.get("size") is not None else "default size"
    mode = str(r.get("mode"))
    if r.get("runtime") == "jvm" or r.get("jvm"):
        what = f"JVM {r.get('jvm') or mode}"
    else:
        what = f"mode {mode}" + (f"/{r.get('delivery')}" if mode != "stw" else "")
    hb = int(r.get("heap_bytes") or 0)
    heap = format_size(hb) if hb else "-"
    opts = r.get("options") or {}
    if opts.get("heap_multiple"):
        heap += f" ({opts['heap_multiple']:g}x the minimum {metrics.format_bytes(opts.get('min_heap_bytes'))})"
    m, g = int(r.get("mutators") or 1), r.get("gc_threads")
    parts = [f"{r.get('workload')} ({size})", what, f"heap {heap}", f"{m} mutator{'s' if m != 1 else ''}"]
    if g:
        parts.append(f"{g} GC thread{'s' if g != 1 else ''}")
    if not (r.get("runtime") == "jvm" or r.get("jvm")):
        if mode == "stw":
            parts.append("marks and compacts in one pause")
        else:
            parts.append(f"{r.get('marking')} marking")
    return ", ".join(parts)


def _n(v: Any) -> int:
    return 0 if v is None else len(v)


def summary_text(r: Mapping[str, Any], log_cycles: bool = False) -> str:
    """The summary of one run (a RunResult's fields or its JSON dict)."""
    from . import stats
    from .cycles import log_line
    from .machine import busy_reason
    fn = metrics.format_ns
    pct = SUMMARY_PERCENTILES
    lines = [config_line(r)]

    def row(name: str, vals: Any) -> str:
        s = metrics.summarize(vals if vals is not None else [], pct)
        return (f"  {name:<14}{s['count']:>7}   total {fn(s['total'] if s['count'] else None):>9}"
                f"   mean {fn(s['mean']):>9}   p50 {fn(s['p50']):>9}   p95 {fn(s['p95']):>9}"
                f"   p99 {fn(s['p99']):>9}   p99.9 {fn(s['p99_9']):>9}   max {fn(s['max']):>9}")
    lines.append(row("pauses", r.get("pauses_ns")))
    if r.get("mode") != "stw" or _n(r.get("fault_stalls_ns")):
        lines.append(row("fault stalls", r.get("fault_stalls_ns")))
    fa = stats.fault_anatomy(r.get("cycles"))
    if fa is not None:
        lines.append(f"  {'fault builds':<14}{int(fa['pages']):>7}   pages built by faulting mutators, per page: "
                     f"get the page {fn(fa['touch'])}, build {fn(fa['build'])}, install {fn(fa['install'])}")
    if _n(r.get("alloc_stalls_ns")):
        lines.append(row("alloc waits", r.get("alloc_stalls_ns")))
    st = stats.stalls(r)
    pmax = metrics.percentile(metrics.as_array(r.get("pauses_ns")), 100) if _n(r.get("pauses_ns")) else None
    lines.append(f"  {'worst':<14}pause {fn(pmax)}, stall of any kind {fn(float(st.max()) if st.size else None)}")
    lat = r.get("latency_ns")
    if lat is not None and len(lat):
        la = metrics.summarize(lat)
        mt = metrics.summarize(r.get("metered_latency_ns") if r.get("metered_latency_ns") is not None else [])
        mf = metrics.summarize(r.get("metered_full_latency_ns") if r.get("metered_full_latency_ns") is not None else [])
        lines.append(f"  {'requests':<14}{la['count']:>7}   p50 {fn(la['p50']):>9}   "
                     f"p99 {fn(la['p99']):>9}   max {fn(la['max']):>9}   "
                     f"(metered p99 {fn(mt['p99'])}, max {fn(mt['max'])}; "
                     f"full smoothing p99 {fn(mf['p99'])})")
    cyc = r.get("cycles")
    if cyc is None or (r.get("runtime") == "jvm" and not cyc):
        lines.append(f"  {'cycles':<14}{'-':>7}   (not known for this run)")
    else:
        moved = sum(int(c.get("moved_bytes", 0)) for c in cyc)
        hb = ""
        if cyc:
            b = np.median([int(c.get("used_before") or 0) for c in cyc])
            a_ = np.median([int(c.get("used_after") or 0) for c in cyc])
            hb = f"   heap before -> after (median) {metrics.format_bytes(b)} -> {metrics.format_bytes(a_)}"
        lines.append(f"  {'cycles':<14}{len(cyc):>7}   moved {metrics.format_bytes(moved)}{hb}")
        mf = moved_summary_line(cyc)
        if mf:
            lines.append(mf)
        from .generations import summary_lines
        lines += summary_lines(r)
    share = stats.gc_share(r)
    tp = r.get("gc_throughput") or {}
    tps = "-" if tp.get("compact_bytes_per_s") is None else f"{metrics.format_bytes(tp['compact_bytes_per_s'])}/s compacted"
    if tp.get("mark_bytes_per_s") is not None:
        tps += f", {metrics.format_bytes(tp['mark_bytes_per_s'])}/s marked"
    lines.append(f"  {'GC':<14}{tps}; GC share of wall time {'-' if share is None else f'{100 * share:.0f}%'}")
    mmu = stats.mmu_at(r)
    if any(v is not None for v in mmu.values()):
        lines.append(f"  {'MMU':<14}" + ", ".join(f"{w // 1_000_000} ms {'-' if v is None else f'{v:.2f}'}"
                                                 for w, v in mmu.items()))
    lines.append(f"  {'wall time':<14}{float(r.get('wall_s') or 0):.3f} s")
    mem = f"  {'peak RSS':<14}{metrics.format_bytes(r.get('peak_rss_bytes'))} (whole process)"
    if r.get("peak_pss_bytes"):
        mem += f", peak PSS {metrics.format_bytes(r.get('peak_pss_bytes'))}"
    beyond = memsample.beyond_used_in_cycles(r)["during"]
    if beyond is not None:
        mem += f"; memory beyond the used bytes during a cycle up to {metrics.format_bytes(beyond)}"
    lines.append(mem)
    ver = {True: "every cycle verified", False: "FAILED", None: "not checked (--verify)"}[r.get("verified")]
    if r.get("verified") is True and cyc is not None and not cyc:
        ver = "no cycle ran, so nothing was verified"
    lines.append(f"  {'heap verify':<14}{ver}")
    wait = stats.waiting_fraction(r)
    if wait is not None and wait > 0.5:
        mult = (r.get("options") or {}).get("heap_multiple")
        hint = f"--heap {2 * mult:g}x" if mult else "a larger --heap, e.g. 3x (a multiple of the minimum heap)"
        busy = " or a less busy machine" if (r.get("machine") or {}).get("busy") else ""
        lines.append(f"  NOTE: the mutators spent {100 * wait:.0f}% of the run waiting for the collector, "
                     f"which could not keep up with this workload in this heap (try {hint}{busy})")
    elif cyc is not None and not cyc and r.get("runtime") != "jvm":
        lines.append("  NOTE: no cycle ran: the heap is larger than everything the workload allocated "
                     "(try a smaller --heap, e.g. 2x)")
    m = r.get("machine") or {}
    if m.get("busy"):
        lines.append(f"  WARNING: the machine was busy during this run ({busy_reason(m)}): "
                     "its figures are marked * in tables and may be noise")
    if log_cycles and cyc:
        lines.append("")
        lines += [log_line({**c, "capacity_bytes": r.get("heap_bytes")}, int(r.get("t0_ns") or 0)) for c in cyc]
    if r.get("interrupted"):
        lines.append("  INTERRUPTED: partial results")
    if r.get("failed"):
        lines.append(f"  FAILED: {r.get('error')}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- validation

def validate_args(workload: Any, **kw: Any) -> dict[str, Any]:
    """Check run()'s arguments against the options table; return them
    normalized (the heap as given: "3x" is resolved by :func:`run`).
    Raises ValueError/TypeError saying what is valid."""
    if not isinstance(workload, str):
        raise TypeError(f"workload must be a string, one of: {', '.join(WORKLOADS)}")
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; valid: {', '.join(WORKLOADS)}")
    out = options.validate(kw, scope="run")
    out["workload"] = workload
    return out


# --------------------------------------------------------------------------- native helpers

def _submodule(name: str) -> Any:
    """Import artgc.<name> without leaving the package attribute of the same
    name (the lazy ``artgc.probe`` function) rebound to the module, as a plain
    submodule import would."""
    import importlib
    import sys
    pkg = sys.modules[__package__ or "artgc"]
    before = pkg.__dict__.get(name)
    mod = importlib.import_module(f"{pkg.__name__}.{name}")
    if pkg.__dict__.get(name) is mod:
        if before is not None and before is not mod:
            setattr(pkg, name, before)
        else:
            delattr(pkg, name)
    return mod


def kernel_caps() -> dict[str, Any] | None:
    """The probe's "uffd" capability table, without the slow measurements."""
    try:
        _probe = _submodule("probe")
        fn = getattr(_probe, "capabilities", None)
        if fn is not None:
            caps = fn()
            if isinstance(caps, Mapping) and "uffd" in caps and "available" not in caps:
                caps = caps["uffd"]
            return dict(caps)
    except Exception:  # noqa: BLE001 - fall back to the C table below
        pass
    try:
        from ._lib import ffi, lib
        c = ffi.new("agc_uffd_caps *")
        lib.agc_uffd_caps_get(c)
    except Exception:  # noqa: BLE001 - not built, or no uffd layer: unknown
        return None
    via = {1: "syscall", 2: "dev"}.get(int(c.via))
    reason = ffi.string(c.reason).decode("utf-8", "replace") or None
    return {"available": bool(c.available), "via": via, "reason": reason,
            "features": {k: bool(getattr(c, k)) for k in
                         ("minor_shmem", "missing_shmem", "sigbus", "move", "wp")}}


def _peak_rss() -> int:
    """VmHWM of this process: unlike ru_maxrss it starts afresh at exec, so a
    child process does not report its parent's peak. Heap pages count twice
    (primary and alias mappings); cycles' ``memfd_bytes`` is the heap itself."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _events(ffi: Any, lib: Any, h: Any) -> npt.NDArray[Any]:
    n = int(lib.agc_event_count(h))
    if n == 0:
        return _empty_events()
    buf = ffi.new("agc_event[]", n)
    got = min(int(lib.agc_events(h, buf, n)), n)
    typ = ffi.typeof("agc_event")
    dt = np.dtype({"names": [f for f, _ in typ.fields],
                   "formats": ["<u8" if ffi.sizeof(fld.type) == 8 else "<u4" for _, fld in typ.fields],
                   "offsets": [fld.offset for _, fld in typ.fields], "itemsize": ffi.sizeof(typ)})
    raw = np.frombuffer(ffi.buffer(buf, got * ffi.sizeof(typ)), dtype=dt)
    out = np.zeros(got, dtype=EVENT_DTYPE)
    for name in EVENT_FIELDS:
        out[name] = raw[name]
    return out


def _heap_map(ffi: Any, lib: Any, h: Any, after: int) -> list[int]:
    n = int(lib.agc_heap_map(h, after, ffi.NULL, 0))
    if n == 0:
        return []
    buf = ffi.new("uint32_t[]", n)
    lib.agc_heap_map(h, after, buf, n)
    out: list[int] = np.frombuffer(ffi.buffer(buf, 4 * n), dtype=np.uint32).tolist()
    return out


def _u64_ptr(ffi: Any, ptr: Any, n: int) -> npt.NDArray[np.uint64] | None:
    if ptr == ffi.NULL or n == 0:
        return None
    return np.frombuffer(ffi.buffer(ptr, 8 * n), dtype=np.uint64).copy()


def _request_fields(latency: npt.NDArray[np.uint64] | None,
                    starts: npt.NDArray[np.uint64] | None) -> dict[str, Any]:
    """latency_ns and the two metered latencies of a request workload (empty
    arrays for a workload without requests)."""
    if latency is None or starts is None:
        return {"latency_ns": _u64(latency), "metered_latency_ns": _u64(None),
                "metered_full_latency_ns": _u64(None)}
    return metrics.request_latencies(starts, latency)


def gc_throughput(cycles: list[dict[str, Any]], wall_s: float) -> dict[str, float | None]:
    """Collector work rates summed over cycles: bytes moved per second of
    compaction, live bytes marked per second of marking, and the share of the
    run during which a cycle was in progress."""
    moved = sum(int(c.get("moved_bytes", 0)) for c in cycles)
    compact = sum(int(c.get("compact_ns", 0)) for c in cycles)
    live = sum(int(c.get("live_bytes", 0)) for c in cycles)
    mark = sum(int(c.get("mark_ns", 0)) for c in cycles)
    gc = sum(max(0, int(c.get("t_end_ns", 0)) - int(c.get("t_start_ns", 0))) for c in cycles)
    return {
        "moved_bytes": float(moved), "compact_s": compact / 1e9,
        "compact_bytes_per_s": moved / (compact / 1e9) if compact else None,
        "marked_bytes": float(live), "mark_s": mark / 1e9,
        "mark_bytes_per_s": live / (mark / 1e9) if mark else None,
        "gc_s": gc / 1e9, "gc_fraction": (gc / 1e9) / wall_s if wall_s > 0 and cycles else None,
    }


class _Interrupter:
    """SIGINT handler for the duration of a run: asks the workload to stop.

    The workload runs in a worker thread so that the main thread stays in
    Python and can run the handler (a Python signal handler never runs while
    the main thread is inside a C call)."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.hit = False
        self._cm = on_sigint(self._handler)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.hit = True
        self.lib.agc_workload_interrupt()

    def __enter__(self) -> _Interrupter:
        self._cm.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(None, None, None)


# --------------------------------------------------------------------------- run

def run(workload: str, *, size: int | None = None, mode: str | None = None, delivery: str | None = None,
        heap: int | str = "3x", mutators: int = 1, gc_threads: int = 1, seed: int = 0,
        verify: bool = False, marking: str = "concurrent", gc_install: bool = True,
        reuse_tospace: bool | None = None, order: str | None = None, trigger: float = 0.75,
        pretouch: bool = True, memory: str | None = None, eager_release: bool | None = None,
        release_gaps: bool = False, huge_pages: bool | None = None, build_ahead: bool = False,
        huge_moves: bool | None = None, charge_fromspace: bool | None = None, inplace_prefix: str | bool = "auto",
        recycle_fromspace: bool = False, mutator_recycle: bool = False, keep_tospace: bool = False,
        release_pacing: bool = False, dense_prefix: float | None = None, generational: str | bool | None = None,
        pretouch_window: int | str | None = None, max_free: int | str = "512MiB",
        young_flip_max: float = 1.0, design: str | None = None, jvm: str | None = None, live: int | str | None = None,
        check: bool = False, timeout_s: float | None = None,
        progress: Callable[[str], None] | None = None) -> RunResult:
    """Run a workload on a fresh heap and return what was measured.

    Parameters (the options table, :data:`artgc.options.OPTIONS`, has every
    limit and default; ``artgc run --help`` prints it):

    workload
        "binarytrees", "gcbench", "lru" or "graph".
    size
        the workload's own size parameter (binarytrees: the depth); None: its default.
    heap
        the heap's capacity: bytes, "256MiB", or a multiple of the workload's
        minimum heap such as "3x" (the default; found once by
        :func:`artgc.minheap.min_heap` and cached).
    mode, delivery, gc_threads, marking, gc_install, reuse_tospace, order,
    trigger, verify, seed, pretouch, generational, max_free, young_flip_max,
    mutator_recycle, keep_tospace, release_pacing
        as for :class:`artgc.Heap`.
    mutators
        mutator threads of the workload (1..256).
    jvm
        run the workload's JVM peer with this collector instead ("g1",
        "shenandoah", "25:genzgc", ...), if this build has the JVM peers.
    live
        lru: the cache's live data (a size), passed to the JVM peer.
    check
        raise the failure's exception instead of returning a failed result.
    timeout_s
        stop the workload after this many seconds (the result is
        ``interrupted``); None: no limit.
    progress
        receives a line of text when a minimum heap has to be searched first.

    Bad arguments raise ValueError/TypeError naming the valid values; a mode
    the kernel cannot do raises :class:`artgc.UnsupportedMode`. A run that
    fails on its own (its checks, out of memory, heap corruption under
    ``verify``) returns a result with ``failed=True`` and ``error`` (or raises,
    with ``check=True``). Ctrl-C stops the workload early: the result has
    ``interrupted=True`` and what was measured until then.
    ``live`` (lru only): the cache's live data, e.g. "128MiB". ``jvm``: run the
    JVM peer of the workload under that collector instead (artgc.peers.run_jvm).
    """
    if jvm is not None:
        from .peers import run_jvm
        return run_jvm(workload, jvm, heap=heap, size=size, seed=seed, live=live, mutators=mutators,
                       pretouch=pretouch, check=check)
    live_bytes = 0 if live is None else parse_size(live, "live")
    a = validate_args(workload, size=size, mode=mode, delivery=delivery, heap=heap,
                      mutators=mutators, gc_threads=gc_threads, seed=seed, verify=verify,
                      marking=marking, gc_install=gc_install, reuse_tospace=reuse_tospace,
                      order=order, trigger=trigger, pretouch=pretouch, memory=memory,
                      eager_release=eager_release, release_gaps=release_gaps, huge_pages=huge_pages,
                      build_ahead=build_ahead, huge_moves=huge_moves, charge_fromspace=charge_fromspace,
                      inplace_prefix=inplace_prefix, recycle_fromspace=recycle_fromspace,
                      mutator_recycle=mutator_recycle, keep_tospace=keep_tospace,
                      release_pacing=release_pacing, dense_prefix=dense_prefix,
                      generational=generational,
                      pretouch_window=pretouch_window, max_free=max_free, young_flip_max=young_flip_max,
                      design=design, jvm=jvm, live=live)
    if timeout_s is not None and (isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float))
                                  or not timeout_s > 0):
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    from .minheap import resolve_heap
    heap_bytes, multiple, min_bytes = resolve_heap(a["heap"], a["workload"], a["size"],
                                                   mutators=a["mutators"], seed=a["seed"], progress=progress)
    if a["jvm"] is not None:
        return _run_jvm(a, heap_bytes)
    from . import __version__
    from ._lib import _raise, ffi, last_error, lib

    hopts = options.HeapOptions({**{o.name: a[o.name] for o in options.HEAP_OPTIONS}, "heap": heap_bytes})
    opts = hopts.to_c()
    a["heap_bytes"] = heap_bytes
    options_rec = {k: a[k] for k in ("gc_install", "reuse_tospace", "order", "trigger", "verify", "pretouch",
                                     "release_gaps", "huge_pages", "build_ahead", "huge_moves", "charge_fromspace",
                                     "inplace_prefix", "recycle_fromspace", "mutator_recycle",
                                     "keep_tospace", "release_pacing", "generational")}
    options_rec.update(options.design_settings(a))
    options_rec["design"] = a.get("design")
    options_rec["max_free"] = int(opts.max_free)   # bytes (0: no cap)
    options_rec["young_flip_max"] = float(opts.young_flip_max_ms)   # ms (0: no limit)
    if multiple is not None:
        options_rec["heap_multiple"] = multiple
        options_rec["min_heap_bytes"] = min_bytes
    live_bytes = 0 if a["live"] is None else parse_size(a["live"], "live")
    if live_bytes:
        options_rec["live_bytes"] = live_bytes

    kernel = kernel_caps()
    # the process without the heap, counted as the sampler counts (its file
    # part from one rollup: a small page walk, before any heap exists)
    roll = memsample.read_rollup()
    before_heap = memsample.read_counters(file_pss=roll["pss_file_bytes"] if roll else 0)
    hp = ffi.new("agc_heap **")
    code = lib.agc_heap_create(opts, hp)
    if code != lib.AGC_OK:
        _raise(code, last_error())
    h = hp[0]
    options_rec["shmem_huge"] = ffi.string(lib.agc_heap_shmem_huge(h)).decode()
    options_rec["generational"] = "on" if lib.agc_heap_generational(h) == lib.AGC_GEN_ON else "off"
    name = ffi.new("char[]", a["workload"].encode())
    params = ffi.new("agc_wl_params *")
    params.name = name
    params.size = a["size"] if a["size"] is not None else 0
    params.mutators = a["mutators"]
    params.seed = a["seed"]
    if a["live"] is not None and a["workload"] != "lru":
        lib.agc_heap_destroy(h)
        raise ValueError("--live applies to lru only")
    params.live = live_bytes
    res = ffi.new("agc_wl_result *")
    box: dict[str, Any] = {}
    worker: threading.Thread | None = None
    sampler = memsample.MemorySampler(memfd=memsample.memfd_of(lib, h), meta=memsample.meta_reader(lib, h),
                                      used=memsample.used_reader(lib, h),
                                      charged=memsample.charged_reader(lib, h))

    def work() -> None:
        box["t0"] = time.monotonic_ns()
        try:
            box["code"] = lib.agc_workload_run(h, params, res)
            box["msg"] = last_error() if box["code"] != lib.AGC_OK else ""
            box["t1"] = time.monotonic_ns()
            # a cycle the run started may still be running: let it finish so
            # that it is recorded (its error, if any, is the heap's, reported
            # by the cycle itself)
            lib.agc_heap_quiesce(h)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["exc"] = exc
        box.setdefault("t1", time.monotonic_ns())

    watch = MachineWatch().__enter__()
    try:
        with _Interrupter(lib) as intr:
            worker = threading.Thread(target=work, name=f"artgc-{a['workload']}", daemon=True)
            worker.start()
            deadline = None if timeout_s is None else time.monotonic() + float(timeout_s)
            sampler.start()   # after the workload's start: its set-up never waits for the sampler
            while worker.is_alive():
                worker.join(0.05)
                if deadline is not None and time.monotonic() > deadline:
                    intr.hit = True
                    lib.agc_workload_interrupt()
                    deadline = None
        if "exc" in box:
            raise box["exc"]
        code = box["code"]
        if code == lib.AGC_EINVAL:  # the workload refused its parameters: nothing ran
            msg = ffi.string(res.error).decode("utf-8", "replace") or box.get("msg") or "invalid argument"
            lib.agc_wl_result_free(res)
            raise ValueError(msg)
        t0, t1 = int(box["t0"]), int(box["t1"])
        output = ffi.unpack(res.output, res.output_len).decode("utf-8", "replace") \
            if res.output != ffi.NULL else ""
        nlat = int(res.nlatency)
        latency = _u64_ptr(ffi, res.latency_ns, nlat)
        starts = _u64_ptr(ffi, res.start_ns, nlat)
        counters = [int(res.counters[i]) for i in range(8)]
        wall_s = (int(res.wall_ns) or (t1 - t0)) / 1e9
        wl_error = ffi.string(res.error).decode("utf-8", "replace")
        wl_failed = bool(res.failed)
        interrupted = bool(res.interrupted) or intr.hit or code == lib.AGC_EINTR
        lib.agc_wl_result_free(res)

        ncyc = int(lib.agc_cycle_count(h))
        cs = ffi.new("agc_cycle_stats *")
        cycles: list[dict[str, Any]] = []
        for i in range(ncyc):
            if lib.agc_cycle_get(h, i, cs) == lib.AGC_OK:
                cycles.append(cycle_to_dict(cs))
        events = _events(ffi, lib, h)
        before = _heap_map(ffi, lib, h, 0)
        after = _heap_map(ffi, lib, h, 1)
        # the high-water mark of the whole process (Python and earlier runs in
        # it included); bench runs each point in its own process.
        peak_rss = _peak_rss()
    finally:
        if worker is not None and worker.is_alive():  # never free a heap still in use
            lib.agc_workload_interrupt()
            worker.join()
        samples = sampler.stop()
        lib.agc_heap_destroy(h)

    machine = watch.stop()
    failed = (code != lib.AGC_OK and code != lib.AGC_EINTR) or wl_failed
    error_type = None
    error = None
    if failed:
        error = wl_error or box.get("msg") or f"native error {code}"
        error_type = {lib.AGC_ECORRUPT: "HeapCorruption", lib.AGC_EOOM: "OutOfMemory",
                      lib.AGC_EINVAL: "ValueError"}.get(code, "ArtgcError")
    if a["verify"]:
        verified: bool | None = code != lib.AGC_ECORRUPT and not (
            failed and error_type == "HeapCorruption")
    else:
        verified = None
    kinds = events["kind"]
    result = RunResult(
        workload=a["workload"], mode=a["mode"], delivery=a["delivery"], heap_bytes=a["heap_bytes"],
        mutators=a["mutators"], gc_threads=a["gc_threads"],
        size=a["size"] if a["size"] is not None else _default_size(lib, ffi, a["workload"]),
        seed=a["seed"], kernel=kernel, wall_s=wall_s, output=output, verified=verified,
        pauses_ns=events["dur_ns"][kinds == metrics.EV_PAUSE].astype(np.uint64),
        fault_stalls_ns=events["dur_ns"][kinds == metrics.EV_FAULT].astype(np.uint64),
        cycles=cycles, peak_rss_bytes=int(peak_rss), marking=a["marking"], options=options_rec,
        events=events, **metrics.stall_fields(events),
        **memsample.result_fields(samples, t0, cycles, a["heap_bytes"]),
        base_pss_bytes=int(before_heap["pss_bytes"]) if before_heap else 0,
        heap_map_before=before, heap_map_after=after, **_request_fields(latency, starts),
        counters=counters, gc_throughput=gc_throughput(cycles, wall_s), failed=failed, error=error,
        error_type=error_type, interrupted=interrupted, t0_ns=t0, t1_ns=t1,
        artgc_version=__version__, machine=machine,
    )
    if check:
        result.raise_for_failure()
    return result


def _run_jvm(a: Mapping[str, Any], heap_bytes: int) -> RunResult:
    """The JVM peer of the workload (artgc.peers.run_jvm, where this build has it)."""
    from . import peers
    fn = getattr(peers, "run_jvm", None)
    if fn is None:
        raise ValueError("--jvm: this build of artgc has no JVM peer runner (artgc.peers.run_jvm)")
    watch = MachineWatch().__enter__()
    res: RunResult = fn(a["workload"], a["jvm"], heap=heap_bytes, size=a["size"], seed=a["seed"],
                        live=a["live"], mutators=a["mutators"])
    res.machine = {**watch.stop(), "jdk": res.jdk}
    return res


def _default_size(lib: Any, ffi: Any, workload: str) -> int | None:
    try:
        n = int(lib.agc_workload_default_size(workload.encode()))
    except Exception:  # noqa: BLE001
        return None
    return n if n > 0 else None


# --------------------------------------------------------------------------- invocations

def run_invocations(workload: str, invocations: int, **kw: Any) -> list[RunResult]:
    """``invocations`` runs of the same configuration, one after the other
    (the heap multiple is resolved once); stops early on Ctrl-C."""
    n = options.Option("invocations", "int", 1, "", lo=1, hi=10_000).check(invocations)
    out: list[RunResult] = []
    for _ in range(n):
        r = run(workload, **kw)
        out.append(r)
        if r.interrupted:
            break
    return out


def write_invocations(results: list[RunResult], path: str) -> None:
    """Several runs as one results file (the shape ``artgc bench`` writes)."""
    from . import __version__
    first = results[0]
    doc = {"version": FORMAT_VERSION, "artgc_version": __version__, "suite": "run", "repeat": len(results),
           "machine": first.machine, "kernel": {"uffd": first.kernel}, "probe": None,
           "runs": [{**r.to_dict(), "status": "failed" if r.failed else "ok", "repeat": i,
                     "point": point_key(r.to_dict())} for i, r in enumerate(results)],
           "peers": []}
    write_json(doc, path)


def point_key(r: Mapping[str, Any]) -> str:
    """A run's configuration as one name, e.g.
    ``binarytrees-16/minor-sigbus/2x/1 mutator/1 GC thread/concurrent``."""
    size = "default" if r.get("size") is None else str(r.get("size"))
    opts = r.get("options") or {}
    heap = f"{opts['heap_multiple']:g}x" if opts.get("heap_multiple") else format_size(int(r.get("heap_bytes") or 0))
    m, g = int(r.get("mutators") or 1), r.get("gc_threads") or 1
    return "/".join([f"{r.get('workload')}-{size}", f"{r.get('mode')}-{r.get('delivery')}", heap,
                     f"{m} mutator{'s' if m != 1 else ''}", f"{g} GC thread{'s' if g != 1 else ''}",
                     str(r.get("marking"))])
