"""``artgc trace RESULT.json --out trace.json``: a run in the Chrome/Perfetto
trace-event format (JSON object format; open it in https://ui.perfetto.dev or
chrome://tracing).

One process per run. Track "GC" (tid 0) holds a complete event ("ph": "X")
per cycle with its phases nested inside (mark, flip, compact, release) from
the cycle's timestamps; each mutator has its own track (tid = 1 + mutator id)
with every pause (named by its phase), fault stall and allocation wait as a
complete event; a counter track shows the heap's occupancy before and after
each cycle. Times are microseconds since the run's start.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from . import metrics
from .options import PAUSE_PHASES
from .results import ResultsError, load, write_json

GC_TID = 0
PID = 1


def _us(ns: float) -> float:
    return round(ns / 1000.0, 3)


def trace_events(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The trace events of one run (a run's JSON dict)."""
    t0 = int(run.get("t0_ns") or 0)
    if not t0:
        starts = [int(c.get("t_start_ns") or 0) for c in run.get("cycles") or []]
        t0 = min(starts) if starts else 0
    ev: list[dict[str, Any]] = []
    name = f"{run.get('workload')} {run.get('mode')}"
    ev.append({"ph": "M", "pid": PID, "tid": GC_TID, "name": "process_name", "args": {"name": f"artgc {name}"}})
    ev.append({"ph": "M", "pid": PID, "tid": GC_TID, "name": "thread_name", "args": {"name": "GC"}})

    def span(tid: int, label: str, cat: str, a: int, b: int, args: Mapping[str, Any] | None = None) -> None:
        if a and b and b >= a:
            ev.append({"ph": "X", "pid": PID, "tid": tid, "name": label, "cat": cat,
                       "ts": _us(a - t0), "dur": _us(b - a), "args": dict(args or {})})

    for c in run.get("cycles") or []:
        g = {k: int(c.get(k) or 0) for k in ("t_start_ns", "t_mark_start_ns", "t_mark_end_ns",
                                             "t_flip_start_ns", "t_flip_end_ns", "t_compact_end_ns", "t_end_ns")}
        idx = int(c.get("index") or 0)
        span(GC_TID, f"GC({idx}) {c.get('reason') or ''}".strip(), "gc.cycle", g["t_start_ns"], g["t_end_ns"],
             {k: c.get(k) for k in ("used_before", "used_after", "live_bytes", "moved_bytes", "pages", "faults",
                                    "pause_ns", "kind", "skipped") if k in c})
        span(GC_TID, "mark", "gc.phase", g["t_mark_start_ns"], g["t_mark_end_ns"])
        span(GC_TID, "flip", "gc.phase", g["t_flip_start_ns"], g["t_flip_end_ns"])
        span(GC_TID, "compact", "gc.phase", g["t_flip_end_ns"], g["t_compact_end_ns"])
        span(GC_TID, "release", "gc.phase", g["t_compact_end_ns"], g["t_end_ns"])
        for t, key in ((g["t_start_ns"], "used_before"), (g["t_end_ns"], "used_after")):
            if t:
                ev.append({"ph": "C", "pid": PID, "tid": GC_TID, "name": "heap used", "ts": _us(t - t0),
                           "args": {"bytes": int(c.get(key) or 0)}})
    cols = metrics.events_columns(run.get("events")) if run.get("events") is not None else None
    threads: set[int] = set()
    if cols is not None:
        for i in range(len(cols["t_start_ns"])):
            kind = int(cols["kind"][i])
            tid = 1 + int(cols["thread"][i])
            threads.add(tid)
            start, dur = int(cols["t_start_ns"][i]), int(cols["dur_ns"][i])
            kname = metrics.EVENT_KINDS.get(kind, str(kind))
            label = f"pause ({PAUSE_PHASES.get(int(cols['phase'][i]), '?')})" if kind == metrics.EV_PAUSE \
                else {"fault": "fault stall", "alloc_wait": "allocation wait"}.get(kname, kname)
            span(tid, label, kname, start, start + dur, {"cycle": int(cols["cycle"][i])})
    for tid in sorted(threads):
        ev.append({"ph": "M", "pid": PID, "tid": tid, "name": "thread_name", "args": {"name": f"mutator {tid - 1}"}})
    return ev


def write_trace(path: str | os.PathLike[str], out: str | os.PathLike[str], index: int = 0) -> int:
    """Write the trace of run ``index`` of a results file; returns the number of events."""
    doc = load(path)
    runs = [r for r in doc.get("runs", []) if r.get("status", "ok") == "ok"]
    if not runs:
        raise ResultsError(f"{path}: no successful run to trace")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(runs):
        raise ValueError(f"--index {index}: {path} has {len(runs)} successful run(s) (0..{len(runs) - 1})")
    r = runs[index]
    if r.get("events") is None and not r.get("cycles"):
        raise ResultsError(f"{path}: run {index} has neither events nor cycles to trace")
    ev = trace_events(r)
    write_json({"traceEvents": ev, "displayTimeUnit": "ms",
                "otherData": {"workload": r.get("workload"), "mode": r.get("mode"), "point": r.get("point"),
                              "source": str(path)}}, out)
    return len(ev)


def load_trace(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        d: dict[str, Any] = json.load(fh)
    return d
