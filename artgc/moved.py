"""How much of its live data each cycle moved (issue #14: with the dense
prefix, a workload with a stable old data set should move less than half of
it per cycle after the first). Two ratios per cycle: moved over live bytes as
the cycle counts them (objects the mutators allocated during the cycle, which
are black and slide down behind the compacted data as in ART, count on both
sides), and the same for the objects marking found live alone, without that
black block. For a run's summary, ``benchmarks/designs.py`` and notebooks."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _ratios(c: Mapping[str, Any]) -> tuple[float, float | None] | None:
    live, moved = int(c.get("live_bytes") or 0), int(c.get("moved_bytes") or 0)
    if live <= 0 or c.get("skipped"):
        return None
    black = int(c.get("black_moved_bytes") or 0)
    marked_live, marked_moved = live - black, max(0, moved - black)
    return moved / live, (marked_moved / marked_live if marked_live > 0 else None)


def moved_fractions(cycles: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Over the cycles after the first that compacted: the median and largest
    moved/live ratio and how many were over half, with and without the black
    block (``marked_*``), and the largest black block slid. None without
    such a cycle."""
    rows = [(r, int(c.get("black_moved_bytes") or 0))
            for c in cycles if int(c.get("index") or 0) > 1 and (r := _ratios(c)) is not None]
    if not rows:
        return None
    all_ = np.array([r[0] for r, _ in rows])
    marked = np.array([r[1] for r, _ in rows if r[1] is not None])
    return {
        "cycles": len(rows),
        "median": float(np.median(all_)), "max": float(all_.max()), "over_half": int((all_ > 0.5).sum()),
        "marked_median": float(np.median(marked)) if marked.size else None,
        "marked_max": float(marked.max()) if marked.size else None,
        "marked_over_half": int((marked > 0.5).sum()),
        "black_moved_max_bytes": max(b for _, b in rows),
    }


def summary_line(cycles: Sequence[Mapping[str, Any]], label_width: int = 14) -> str | None:
    """One line for the run's summary, or None (fewer than two cycles)."""
    f = moved_fractions(cycles)
    if f is None:
        return None
    from .metrics import format_bytes
    line = (f"  {'moved/live':<{label_width}}after the first cycle median {100 * f['median']:.0f}%, "
            f"max {100 * f['max']:.0f}% ({f['over_half']} of {f['cycles']} over half)")
    if f["marked_max"] is not None and f["black_moved_max_bytes"]:
        line += (f"; without what was allocated during the cycle (slid, up to "
                 f"{format_bytes(f['black_moved_max_bytes'])}) median {100 * f['marked_median']:.0f}%, "
                 f"max {100 * f['marked_max']:.0f}% ({f['marked_over_half']} over half)")
    return line
