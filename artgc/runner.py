"""One run of a native workload on a GC'd heap: ``artgc.run(...)``.

The workload runs in C (its own mutator threads); Python only creates the
heap, starts the run and gathers the measurements into a :class:`RunResult`.
"""
from __future__ import annotations

import resource
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import FrameType
from typing import Any

import numpy as np
import numpy.typing as npt

from . import errors, memory, metrics
from ._sigint import on_sigint
from .results import FORMAT_VERSION, dumps, to_jsonable, write_json
from .sizes import format_size, parse_size

WORKLOADS: tuple[str, ...] = ("binarytrees", "gcbench", "lru", "graph")
MODES: tuple[str, ...] = ("stw", "copy", "minor", "move")
DELIVERIES: tuple[str, ...] = ("sigbus", "thread")
MARKINGS: tuple[str, ...] = ("concurrent", "stw")
ORDERS: tuple[str, ...] = ("ascending", "descending", "random")
CYCLE_REASONS = {0: "trigger", 1: "explicit", 2: "allocation-failure"}
MAX_THREADS = 256

EVENT_FIELDS: tuple[str, ...] = ("t_start_ns", "dur_ns", "thread", "kind", "cycle", "phase")
EVENT_DTYPE = np.dtype([("t_start_ns", "<u8"), ("dur_ns", "<u8"), ("thread", "<u4"),
                        ("kind", "<u4"), ("cycle", "<u4"), ("phase", "<u4")])


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
    metered_latency_ns: npt.NDArray[np.uint64] | None = None
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
    memory_timeline: dict[str, list[int]] = field(default_factory=memory.empty_timeline)
    heap_cost_bytes: int | None = None
    runtime: str = "artgc"
    jvm: str | None = None
    jdk: str | None = None
    version: int = FORMAT_VERSION
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
        for k in ("latency_ns", "metered_latency_ns"):
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

    def summary(self) -> str:
        """A short table people read: pauses, fault stalls, cycles, throughput."""
        p = metrics.summarize(self.pauses_ns)
        f = metrics.summarize(self.fault_stalls_ns)
        a = metrics.summarize(self.alloc_stalls_ns)
        fn = metrics.format_ns
        size = f"size {self.size}" if self.size is not None else "default size"
        dl = f"/{self.delivery}" if self.mode != "stw" else ""
        lines = [
            f"{self.workload} ({size}), mode {self.mode}{dl}, heap {format_size(self.heap_bytes)}, "
            f"{self.mutators} mutator{'s' if self.mutators != 1 else ''}, "
            f"{self.gc_threads} GC thread{'s' if self.gc_threads != 1 else ''}, marking {self.marking}",
            f"  {'pauses':<14}{p['count']:>7}   p50 {fn(p['p50']):>9}   p99 {fn(p['p99']):>9}"
            f"   max {fn(p['max']):>9}",
            f"  {'fault stalls':<14}{f['count']:>7}   p50 {fn(f['p50']):>9}   p99 {fn(f['p99']):>9}"
            f"   max {fn(f['max']):>9}",
        ]
        if a["count"]:
            lines.append(f"  {'alloc waits':<14}{a['count']:>7}   p50 {fn(a['p50']):>9}   "
                         f"p99 {fn(a['p99']):>9}   max {fn(a['max']):>9}")
        if self.latency_ns is not None and len(self.latency_ns):
            lat = metrics.summarize(self.latency_ns)
            met = metrics.summarize(self.metered_latency_ns if self.metered_latency_ns is not None else [])
            lines.append(f"  {'requests':<14}{lat['count']:>7}   p50 {fn(lat['p50']):>9}   "
                         f"p99 {fn(lat['p99']):>9}   max {fn(lat['max']):>9}   "
                         f"(metered p99 {fn(met['p99'])}, max {fn(met['max'])})")
        moved = sum(int(c.get("moved_bytes", 0)) for c in self.cycles)
        lines.append(f"  {'cycles':<14}{len(self.cycles):>7}   moved {metrics.format_bytes(moved)}")
        tp = self.gc_throughput.get("compact_bytes_per_s")
        mk = self.gc_throughput.get("mark_bytes_per_s")
        tps = "-" if tp is None else f"{metrics.format_bytes(tp)}/s compacted"
        if mk is not None:
            tps += f", {metrics.format_bytes(mk)}/s marked"
        gcf = self.gc_throughput.get("gc_fraction")
        if gcf is not None:
            tps += f"; a cycle was running {100 * gcf:.0f}% of the time"
        lines.append(f"  {'GC throughput':<14}{tps}")
        lines.append(f"  {'wall time':<14}{self.wall_s:.3f} s")
        lines.append(f"  {'peak RSS':<14}{metrics.format_bytes(self.peak_rss_bytes)} (whole process)")
        ver = {True: "every cycle verified", False: "FAILED", None: "not checked (--verify)"}[self.verified]
        lines.append(f"  {'heap verify':<14}{ver}")
        if self.interrupted:
            lines.append("  INTERRUPTED: partial results")
        if self.failed:
            lines.append(f"  FAILED: {self.error}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        p = metrics.summarize(self.pauses_ns)
        return (f"RunResult({self.workload}, mode={self.mode}, delivery={self.delivery}, "
                f"heap={format_size(self.heap_bytes)}, cycles={len(self.cycles)}, "
                f"pauses={p['count']}, max_pause={metrics.format_ns(p['max'])}, "
                f"wall_s={self.wall_s:.3f}{', FAILED' if self.failed else ''})")


# --------------------------------------------------------------------------- validation

def _choice(name: str, value: Any, valid: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of: {', '.join(valid)}")
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def _count(name: str, value: Any, lo: int = 1, hi: int = MAX_THREADS) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer from {lo} to {hi}, not {type(value).__name__}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be from {lo} to {hi}, got {value}")
    return int(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return bool(value)


def validate_args(workload: Any, *, size: Any = None, mode: Any = "minor", delivery: Any = "sigbus",
                  heap: Any = "256MiB", mutators: Any = 1, gc_threads: Any = 1, seed: Any = 0,
                  verify: Any = False, marking: Any = "concurrent", gc_install: Any = True,
                  reuse_tospace: Any = True, order: Any = "ascending", trigger: Any = 0.75,
                  pretouch: Any = True) -> dict[str, Any]:
    """Check run()'s arguments; return them normalized (heap in bytes).
    Raises ValueError/TypeError saying what is valid."""
    out: dict[str, Any] = {
        "workload": _choice("workload", workload, WORKLOADS),
        "mode": _choice("mode", mode, MODES),
        "delivery": _choice("delivery", delivery, DELIVERIES),
        "marking": _choice("marking", marking, MARKINGS),
        "order": _choice("order", order, ORDERS),
        "heap_bytes": parse_size(heap, "heap"),
        "mutators": _count("mutators", mutators),
        "gc_threads": _count("gc_threads", gc_threads),
        "seed": _count("seed", seed, 0, 2**64 - 1),
        "verify": _flag("verify", verify),
        "gc_install": _flag("gc_install", gc_install),
        "reuse_tospace": _flag("reuse_tospace", reuse_tospace),
        "pretouch": _flag("pretouch", pretouch),
    }
    out["size"] = None if size is None else _count("size", size, 1, 2**62)
    if isinstance(trigger, bool) or not isinstance(trigger, (int, float)):
        raise TypeError(f"trigger must be a number in (0, 1], not {type(trigger).__name__}")
    if not 0.0 < float(trigger) <= 1.0:
        raise ValueError(f"trigger must be a fraction of the heap in (0, 1], got {trigger}")
    out["trigger"] = float(trigger)
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


def _cycle_dict(ffi: Any, c: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for name, _ in ffi.typeof("agc_cycle_stats").fields:
        d[name] = int(getattr(c, name))
    d["mode"] = MODES[d["mode"]] if 0 <= d.get("mode", -1) < len(MODES) else d.get("mode")
    d["reason"] = CYCLE_REASONS.get(d.get("reason", -1), d.get("reason"))
    return d


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

def run(workload: str, *, size: int | None = None, mode: str = "minor", delivery: str = "sigbus",
        heap: int | str = "256MiB", mutators: int = 1, gc_threads: int = 1, seed: int = 0,
        verify: bool = False, marking: str = "concurrent", gc_install: bool = True,
        reuse_tospace: bool = True, order: str = "ascending", trigger: float = 0.75,
        pretouch: bool = True, check: bool = False, live: int | str | None = None,
        jvm: str | None = None) -> RunResult:
    """Run a workload on a fresh heap and return what was measured.

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
                      order=order, trigger=trigger, pretouch=pretouch)
    from . import __version__
    from ._lib import _raise, ffi, last_error, lib

    opts = ffi.new("agc_options *")
    lib.agc_options_default(opts)
    opts.capacity = a["heap_bytes"]
    opts.mode = MODES.index(a["mode"])
    opts.delivery = DELIVERIES.index(a["delivery"])
    opts.gc_threads = a["gc_threads"]
    opts.marking = {"stw": lib.AGC_MARKING_STW, "concurrent": lib.AGC_MARKING_CONCURRENT}[a["marking"]]
    opts.gc_install = int(a["gc_install"])
    opts.reuse_tospace = int(a["reuse_tospace"])
    opts.order = ORDERS.index(a["order"])
    opts.trigger = a["trigger"]
    opts.verify = int(a["verify"])
    opts.seed = a["seed"]
    opts.pretouch = int(a["pretouch"])
    options = {k: a[k] for k in ("gc_install", "reuse_tospace", "order", "trigger", "verify", "pretouch")}
    if live_bytes:
        options["live_bytes"] = live_bytes

    kernel = kernel_caps()
    hp = ffi.new("agc_heap **")
    code = lib.agc_heap_create(opts, hp)
    if code != lib.AGC_OK:
        _raise(code, last_error())
    h = hp[0]
    name = ffi.new("char[]", a["workload"].encode())
    params = ffi.new("agc_wl_params *")
    params.name = name
    params.size = a["size"] if a["size"] is not None else 0
    params.mutators = a["mutators"]
    params.seed = a["seed"]
    params.live = live_bytes
    res = ffi.new("agc_wl_result *")
    box: dict[str, Any] = {}
    worker: threading.Thread | None = None
    sampler = memory.MemorySampler(memfd=memory.memfd_of(lib, h), meta=memory.meta_reader(lib, h))

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

    try:
        with _Interrupter(lib) as intr:
            worker = threading.Thread(target=work, name=f"artgc-{a['workload']}", daemon=True)
            worker.start()
            sampler.start()   # after the workload's start: its set-up never waits for the sampler
            while worker.is_alive():
                worker.join(0.05)
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
        metered = _u64_ptr(ffi, res.metered_latency_ns, nlat)
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
                cycles.append(_cycle_dict(ffi, cs))
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
        cycles=cycles, peak_rss_bytes=int(peak_rss), marking=a["marking"], options=options,
        events=events, **metrics.stall_fields(events),
        **memory.result_fields(samples, t0, cycles, a["heap_bytes"]),
        heap_map_before=before, heap_map_after=after, latency_ns=_u64(latency), metered_latency_ns=_u64(metered),
        counters=counters, gc_throughput=gc_throughput(cycles, wall_s), failed=failed, error=error,
        error_type=error_type, interrupted=interrupted, t0_ns=t0, t1_ns=t1,
        artgc_version=__version__,
    )
    if check:
        result.raise_for_failure()
    return result


def _default_size(lib: Any, ffi: Any, workload: str) -> int | None:
    try:
        n = int(lib.agc_workload_default_size(workload.encode()))
    except Exception:  # noqa: BLE001
        return None
    return n if n > 0 else None
