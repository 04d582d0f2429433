"""A GC cycle's record: the C ``agc_cycle_stats`` turned into a dict (one
function for the Heap API and for runs), and its ``-Xlog:gc``-style line."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .options import CYCLE_KINDS, CYCLE_REASONS, MEMORY_NAMES, MODES, SKIP_REASONS

# enum-valued fields of agc_cycle_stats and the one name of each value
CYCLE_ENUMS: dict[str, Mapping[int, str | None]] = {
    "mode": dict(enumerate(MODES)),
    "reason": CYCLE_REASONS,
    "memory": MEMORY_NAMES,
    "kind": CYCLE_KINDS,
    "skipped": SKIP_REASONS,
}


def cycle_to_dict(c: Any) -> dict[str, Any]:
    """Every field of an ``agc_cycle_stats`` (cffi struct) as a plain value;
    enums by name (reason 2 is "allocation-failure"), char arrays as strings
    (empty -> None)."""
    from ._lib import ffi
    d: dict[str, Any] = {}
    for name, fld in ffi.typeof("agc_cycle_stats").fields:
        v = getattr(c, name)
        if fld.type.kind == "array" and fld.type.item.cname == "char":
            s = ffi.string(v).decode("utf-8", "replace")
            d[name] = s or None
        elif fld.type.kind == "primitive" and fld.type.cname in ("float", "double"):
            d[name] = float(v)
        else:
            d[name] = int(v)
    for name, names in CYCLE_ENUMS.items():
        if isinstance(d.get(name), int):
            d[name] = names[d[name]] if d[name] in names else str(d[name])
    return d


def _mb(n: Any) -> str:
    return f"{int(n or 0) / (1 << 20):.1f}M"


def _ms(ns: Any) -> str:
    return f"{int(ns or 0) / 1e6:.3f}ms"


def log_line(c: Mapping[str, Any], t0_ns: int = 0) -> str:
    """One line per cycle in the manner of ``-Xlog:gc``:
    ``[0.512s] GC(3) minor full (trigger) 48.0M->12.1M(64.0M) pause 0.210ms (mark 0.050ms, flip 0.160ms) cycle 5.100ms``."""
    start = int(c.get("t_start_ns") or 0)
    t = max(0, start - t0_ns) / 1e9 if t0_ns else 0.0
    dur = max(0, int(c.get("t_end_ns") or 0) - start)
    kind = c.get("kind") or ""
    parts = [f"[{t:.3f}s] GC({int(c.get('index') or 0)})", str(c.get("mode") or "?")]
    if kind:
        parts.append(str(kind))
    parts.append(f"({c.get('reason') or '?'})")
    cap = c.get("capacity_bytes")
    heap = f"{_mb(c.get('used_before'))}->{_mb(c.get('used_after'))}"
    if cap:
        heap += f"({_mb(cap)})"
    parts.append(heap)
    parts.append(f"pause {_ms(c.get('pause_ns'))} (init {_ms(c.get('init_pause_ns'))}, "
                 f"mark {_ms(c.get('mark_pause_ns'))}, flip {_ms(c.get('flip_pause_ns'))})")
    parts.append(f"cycle {_ms(dur)}")
    parts.append(f"live {_mb(c.get('live_bytes'))} moved {_mb(c.get('moved_bytes'))} "
                 f"faults {int(c.get('faults') or 0)}")
    if c.get("skipped"):
        parts.append(f"skipped: {c['skipped']}")
    return " ".join(parts)
