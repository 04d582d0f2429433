"""GC overhead that holds across runtimes: a point's wall time relative to the
same runtime's fastest stop-the-world collector on the same workload.

artgc's native mutators and the JVM's JIT-compiled ones run at different
speeds, so wall times across runtimes compare the mutators as much as the
collectors. Dividing by the same runtime's stop-the-world reference (artgc
`stw`, the fastest of its heaps in the same document; the JVM's Parallel GC
of the same JDK, Serial where Parallel did not run) leaves what the collector
costs or saves: 1.00 is as fast as the reference, 1.50 is 50% slower.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["runtime_of", "reference_modes", "references", "overheads", "group_runs"]


def runtime_of(mode: str | None) -> str:
    """``"artgc"``, ``"jvm17"`` or ``"jvm25"`` for a record's mode."""
    m = str(mode or "")
    if not m.startswith("jvm-"):
        return "artgc"
    return "jvm25" if m.startswith("jvm-25:") else "jvm17"


def reference_modes(runtime: str) -> tuple[str, ...]:
    """The modes that serve as a runtime's reference, preferred first."""
    if runtime == "artgc":
        return ("stw",)
    if runtime == "jvm25":
        return ("jvm-25:parallel", "jvm-25:serial")
    return ("jvm-parallel", "jvm-serial")


def group_runs(records: Iterable[Mapping[str, Any]]) -> dict[Hashable, list[Mapping[str, Any]]]:
    """Runs and peers of a document grouped by point (its configuration)."""
    import json
    groups: dict[Hashable, list[Mapping[str, Any]]] = {}
    for r in records:
        if r.get("status", "ok") == "skipped":
            continue
        key = (r.get("workload"), r.get("size") or 0, r.get("heap_bytes") or 0, r.get("mutators") or 0,
               str(r.get("mode")), str(r.get("delivery")),
               json.dumps(r.get("options") or {}, sort_keys=True, default=str))
        groups.setdefault(key, []).append(r)
    return groups


def _median_wall(rows: Iterable[Mapping[str, Any]]) -> float | None:
    w = [float(r["wall_s"]) for r in rows if r.get("status", "ok") == "ok" and r.get("wall_s")]
    return float(np.median(w)) if w else None


def references(groups: Mapping[Hashable, list[Mapping[str, Any]]],
               workload_of: Callable[[list[Mapping[str, Any]]], tuple[Any, Any]] | None = None,
               ) -> dict[tuple[Any, Any, str], tuple[float, str]]:
    """The reference of each (workload, size, runtime) found among the groups
    (one point each: several invocations): its median wall and its name."""
    wl = workload_of or _workload
    refs: dict[tuple[Any, Any, str], tuple[float, str]] = {}
    for runtime in ("artgc", "jvm17", "jvm25"):
        for pref in reference_modes(runtime):
            found: dict[tuple[Any, Any], tuple[float, str]] = {}
            for rows in groups.values():
                w = _median_wall(rows)
                if not rows or w is None or str(rows[0].get("mode")) != pref:
                    continue
                key = wl(rows)
                heap = rows[0].get("heap_bytes")
                name = pref + (f" at {_size(heap)}" if runtime == "artgc" and heap else "")
                if key not in found or w < found[key][0]:
                    found[key] = (w, name)
            for key, v in found.items():
                refs.setdefault((*key, runtime), v)
    return refs


def overheads(groups: Mapping[Hashable, list[Mapping[str, Any]]],
              workload_of: Callable[[list[Mapping[str, Any]]], tuple[Any, Any]] | None = None,
              ) -> dict[Hashable, tuple[float, str] | None]:
    """For every group of runs (one point: several invocations), its median
    wall over the reference's, and the reference's name: ``(ratio, "stw
    at 1GiB")``; ``None`` where the document has no reference run for its
    workload, size and runtime. workload_of maps a group's rows to the
    (workload, size) it is compared within (default: the first row's)."""
    wl = workload_of or _workload
    refs = references(groups, wl)
    out: dict[Hashable, tuple[float, str] | None] = {}
    for k, rows in groups.items():
        w = _median_wall(rows)
        ref = refs.get((*wl(rows), runtime_of(rows[0].get("mode")))) if rows else None
        out[k] = (w / ref[0], ref[1]) if w is not None and ref and ref[0] > 0 else None
    return out


def _workload(rows: list[Mapping[str, Any]]) -> tuple[Any, Any]:
    return rows[0].get("workload"), rows[0].get("size") or 0


def _size(b: Any) -> str:
    from .sizes import format_size
    try:
        return format_size(int(b))
    except (TypeError, ValueError):
        return str(b)
