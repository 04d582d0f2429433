"""The JSON result format: what keys a run and a bench file must have, turning
numpy values into JSON, writing atomically, and loading with validation.

Two kinds of file are read back:
  * a single run (``artgc run ... --json FILE``): one run object;
  * a sweep (``artgc bench``'s results.json): {"version", "suite", "machine",
    "kernel", "probe", "runs": [...], "peers": [...]}.
:func:`load` accepts both and returns the sweep shape (a single run becomes a
sweep of one), so the plots and tables need only one code path.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

# Version of the file format (not of artgc). Bump when a key changes meaning;
# load() refuses versions it does not know.
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})

# contract.md: keys every run result has.
RUN_KEYS: tuple[str, ...] = (
    "workload", "mode", "delivery", "heap_bytes", "mutators", "gc_threads", "size",
    "seed", "kernel", "wall_s", "output", "verified", "pauses_ns", "fault_stalls_ns",
    "cycles", "peak_rss_bytes",
)
CYCLE_KEYS: tuple[str, ...] = (
    "pause_ns", "mark_pause_ns", "flip_pause_ns", "mark_ns", "compact_ns",
    "live_bytes", "moved_bytes", "pages", "faults",
)
# Keys of the second wave (every stall, request latency, memory, the runtime):
# every new result has them; older results may not, so they are checked when
# present. stall_kinds is as long as stalls_ns; memory_timeline's sample
# columns are of one length and so are its live_* columns.
EXTRA_RUN_KEYS: tuple[str, ...] = (
    "stalls_ns", "stall_kinds", "alloc_stalls_ns", "latency_ns", "metered_latency_ns",
    "metered_full_latency_ns", "peak_pss_bytes", "memory_timeline", "heap_cost_bytes", "runtime", "jvm", "jdk",
)
STALL_KINDS: tuple[str, ...] = ("pause", "fault", "alloc_wait")
RUNTIMES: tuple[str, ...] = ("artgc", "jvm")
BENCH_KEYS: tuple[str, ...] = ("version", "suite", "machine", "kernel", "probe", "runs", "peers")
STATUSES = ("ok", "failed", "skipped")


class ResultsError(ValueError):
    """A results file that cannot be used: unreadable, truncated, of an
    unknown version, or missing keys. The message says which and where."""


# --------------------------------------------------------------------------- writing

def to_jsonable(obj: Any) -> Any:
    """Recursively turn numpy arrays/scalars, tuples, Paths and dataclass-like
    values into plain JSON values. NaN and infinities become null."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.names:
            return {n: to_jsonable(obj[n]) for n in obj.dtype.names}
        if obj.dtype.kind in "iub" or (obj.dtype.kind == "f" and bool(np.isfinite(obj).all())):
            return obj.tolist()  # plain numbers already
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return obj


def dumps(obj: Any, indent: int | None = None) -> str:
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(obj: Any, path: str | os.PathLike[str], indent: int | None = None) -> Path:
    """Write JSON atomically (temp file + rename): a reader never sees half a file."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(obj, indent=indent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent or "."))
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# --------------------------------------------------------------------------- validation

def missing_keys(run: Mapping[str, Any]) -> list[str]:
    """Contract keys absent from a run (and from its cycles)."""
    missing = [k for k in RUN_KEYS if k not in run]
    cycles = run.get("cycles")
    if isinstance(cycles, list):
        for i, c in enumerate(cycles):
            if not isinstance(c, Mapping):
                missing.append(f"cycles[{i}] (not an object)")
                continue
            gone = [k for k in CYCLE_KEYS if k not in c]
            if gone:
                missing.append(f"cycles[{i}].{'/'.join(gone)}")
                break
    elif "cycles" in run:
        missing.append("cycles (not a list)")
    for k in ("pauses_ns", "fault_stalls_ns"):
        if k in run and not isinstance(run[k], list):
            missing.append(f"{k} (not a list)")
    return missing


# Types of the contract's keys (numbers may be null where a run failed).
_NUMERIC_KEYS = ("heap_bytes", "mutators", "gc_threads", "seed", "wall_s", "peak_rss_bytes")
_TEXT_KEYS = ("workload", "mode", "delivery", "output")


def validate_run(run: Any, where: str = "run") -> None:
    if not isinstance(run, Mapping):
        raise ResultsError(f"{where}: expected a JSON object, got {type(run).__name__}")
    gone = missing_keys(run)
    if gone:
        raise ResultsError(f"{where}: missing required keys: {', '.join(gone)}")
    for k in _NUMERIC_KEYS:
        v = run[k]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ResultsError(f"{where}: {k} must be a number, not {v!r}")
    for k in _TEXT_KEYS:
        if run[k] is not None and not isinstance(run[k], str):
            raise ResultsError(f"{where}: {k} must be a string, not {run[k]!r}")
    for k in ("pauses_ns", "fault_stalls_ns"):
        v = run[k]
        if v is not None and not isinstance(v, list):
            raise ResultsError(f"{where}: {k} must be a list of numbers")
        if v and any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v[:1000]):
            raise ResultsError(f"{where}: {k} must hold numbers only")
    if not isinstance(run["cycles"], list):
        raise ResultsError(f"{where}: cycles must be a list")
    _validate_extras(run, where)


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and not any(isinstance(x, bool) or not isinstance(x, (int, float))
                                           for x in v[:1000])


def _validate_extras(run: Mapping[str, Any], where: str) -> None:
    """The second wave's keys, where present (see EXTRA_RUN_KEYS)."""
    for k in ("stalls_ns", "alloc_stalls_ns", "latency_ns", "metered_latency_ns", "metered_full_latency_ns"):
        if run.get(k) is not None and not _numbers(run[k]):
            raise ResultsError(f"{where}: {k} must be a list of numbers")
    kinds = run.get("stall_kinds")
    if kinds is not None:
        if not isinstance(kinds, list) or any(k not in STALL_KINDS for k in kinds):
            raise ResultsError(f"{where}: stall_kinds must be a list of {', '.join(STALL_KINDS)}")
        if len(kinds) != len(run.get("stalls_ns") or []):
            raise ResultsError(f"{where}: stall_kinds has {len(kinds)} entries but stalls_ns "
                               f"{len(run.get('stalls_ns') or [])}")
    lat = run.get("latency_ns")
    for k in ("metered_latency_ns", "metered_full_latency_ns"):
        met = run.get(k)
        if lat is not None and met is not None and len(lat) != len(met):
            raise ResultsError(f"{where}: latency_ns and {k} differ in length")
    for k in ("peak_pss_bytes", "heap_cost_bytes"):
        v = run.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ResultsError(f"{where}: {k} must be a number, not {v!r}")
    if run.get("runtime") is not None and run["runtime"] not in RUNTIMES:
        raise ResultsError(f"{where}: runtime must be one of {', '.join(RUNTIMES)}, not {run['runtime']!r}")
    tl = run.get("memory_timeline")
    if tl is None:
        return
    if not isinstance(tl, Mapping):
        raise ResultsError(f"{where}: memory_timeline must be an object of columns")
    from .memory import TIMELINE_COLUMNS
    for group in (TIMELINE_COLUMNS, ("live_t_ns", "live_bytes")):
        cols = [k for k in group if k in tl]
        if any(not _numbers(tl[k]) for k in cols):
            raise ResultsError(f"{where}: memory_timeline columns must be lists of numbers")
        if len({len(tl[k]) for k in cols}) > 1:
            raise ResultsError(f"{where}: memory_timeline columns {', '.join(cols)} differ in length")


def _check_version(d: Mapping[str, Any], name: str) -> None:
    v = d.get("version")
    if v is None:
        raise ResultsError(f"{name}: no \"version\" key; this is not an artgc results file "
                           f"(or one from before format version {FORMAT_VERSION})")
    if v not in SUPPORTED_VERSIONS:
        known = ", ".join(str(x) for x in sorted(SUPPORTED_VERSIONS))
        raise ResultsError(f"{name}: results format version {v!r} is not one this artgc reads "
                           f"(it reads version {known}); re-run the benchmark with this version")


def validate(d: Any, name: str = "results") -> dict[str, Any]:
    """Check a loaded file (run or sweep) and return it in sweep shape."""
    if not isinstance(d, Mapping):
        raise ResultsError(f"{name}: expected a JSON object at the top, got {type(d).__name__}")
    _check_version(d, name)
    if "runs" in d:
        gone = [k for k in BENCH_KEYS if k not in d]
        if gone:
            raise ResultsError(f"{name}: missing required keys: {', '.join(gone)}")
        if not isinstance(d["runs"], list) or not isinstance(d["peers"], list):
            raise ResultsError(f"{name}: \"runs\" and \"peers\" must be lists")
        for i, r in enumerate(d["runs"]):
            if not isinstance(r, Mapping):
                raise ResultsError(f"{name}: runs[{i}] is not an object")
            status = r.get("status", "ok")
            if status not in STATUSES:
                raise ResultsError(f"{name}: runs[{i}] has unknown status {status!r}")
            if status == "ok":
                validate_run(r, f"{name}: runs[{i}]")
        return dict(d)
    if "workload" in d:
        validate_run(d, name)
        run = dict(d)
        run.setdefault("status", "failed" if run.get("failed") else "ok")
        return {"version": d["version"], "suite": None, "machine": {}, "kernel": {"uffd": d.get("kernel")},
                "probe": None, "runs": [run], "peers": [], "single_run": True}
    raise ResultsError(f"{name}: neither a run (no \"workload\") nor a sweep (no \"runs\")")


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a run's or a sweep's JSON file; see :func:`validate`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{p}: no such file") from None
    except IsADirectoryError:
        cand = p / "results.json"
        if cand.is_file():
            return load(cand)
        raise ResultsError(f"{p}: is a directory without a results.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{p}: cannot read: {exc}") from None
    if not text.strip():
        raise ResultsError(f"{p}: the file is empty")
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{p}: not valid JSON (truncated or corrupt?): {exc.msg} at line "
                           f"{exc.lineno} column {exc.colno}") from None
    return validate(d, str(p))


def ok_runs(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [r for r in results.get("runs", []) if r.get("status", "ok") == "ok"]


def all_series(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """ok runs followed by ok peers (peers share the run keys that matter)."""
    return ok_runs(results) + [p for p in results.get("peers", []) if p.get("status", "ok") == "ok"]


def series_label(run: Mapping[str, Any]) -> str:
    """How a run's configuration is named in tables and legends:
    "stw", "minor/sigbus", "minor/thread (stw marking)", "jvm-g1", ..."""
    mode = str(run.get("mode"))
    if run.get("peer") or mode.startswith("jvm-"):
        return mode
    label = mode if mode == "stw" else f"{mode}/{run.get('delivery')}"
    if run.get("marking") == "stw" and mode != "stw":
        label += " (stw marking)"
    defaults = {"gc_install": True, "reuse_tospace": True, "order": "ascending"}
    opts = run.get("options") or {}
    label += "".join(f" {k}={v}" for k, v in sorted(opts.items()) if k in defaults and v != defaults[k])
    return label
