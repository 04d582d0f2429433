"""Where a run's mutator faults landed: per cycle, each fault's time since the
flip, its to-space page (one the mutator touched before it was mapped: it
built it, or waited while a GC thread did), and the GC threads' progress then (the fault
events' ``page`` and ``claimed``), beside the cycle's block of objects
allocated during marking (black). What the ``fault_map`` plot draws.

The GC threads claim pages in their order (``order``: ascending from page
0, descending from the top, or random); ``claimed`` pages had been claimed
when the fault came: in ascending order the GC threads had reached page
``claimed``, in descending order page ``npages - claimed``. (A page a
mutator built is one no GC thread had claimed, so it lies beyond that
point, unless build_ahead had the GC threads build out of their order.)"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import metrics

PAGE = 4096


@dataclass(eq=False)
class CycleFaults:
    """One cycle's mutator faults."""

    index: int               # the cycle's index (its record's ``index``)
    npages: int              # to-space pages the cycle built
    black_pages: int         # of them, the black block's (black_bytes): the last ones, behind the rest
    order: str               # the GC threads' claim order
    t_ms: npt.NDArray[np.float64]     # each fault's start, ms after the flip's end
    page: npt.NDArray[np.int64]       # its to-space page
    gc_page: npt.NDArray[np.int64]    # where the GC threads' claims had reached (a page; -1: random order)

    @property
    def in_black(self) -> float:
        """The share of faults in the black block (NaN without faults)."""
        if self.page.size == 0:
            return float("nan")
        return float(np.mean(self.page >= self.npages - self.black_pages))


def _gc_page(claimed: npt.NDArray[np.int64], npages: int, order: str) -> npt.NDArray[np.int64]:
    if order == "descending":
        return npages - claimed
    if order == "random":
        return np.full(claimed.shape, -1, dtype=np.int64)
    return claimed


def fault_map(run: Mapping[str, Any], most: int | None = None) -> list[CycleFaults]:
    """The run's cycles with mutator faults (fault events with a page), in
    cycle order; with ``most``, only that many, those with the most faults.
    Empty for a run without fault events or from before they held pages."""
    ev = run.get("events")
    cycles: Sequence[Mapping[str, Any]] = run.get("cycles") or []
    if ev is None or not cycles:
        return []
    cols = metrics.events_columns(ev)
    sel = cols["kind"] == metrics.EV_FAULT
    if not sel.any() or not cols["page"][sel].any():
        return []
    order = str((run.get("options") or {}).get("order") or "ascending")
    t, page, claimed, cyc = (cols[k][sel] for k in ("t_start_ns", "page", "claimed", "cycle"))
    out: list[CycleFaults] = []
    for c in cycles:
        m = cyc == int(c.get("index", -1))
        if not m.any():
            continue
        npages = int(c.get("pages") or 0)
        flip = int(c.get("t_flip_end_ns") or 0)
        out.append(CycleFaults(
            index=int(c["index"]), npages=npages,
            black_pages=min(npages, max(int(c.get("black_bytes") or 0), int(c.get("black_moved_bytes") or 0)) // PAGE),
            order=order,
            t_ms=(t[m] - flip) / 1e6, page=page[m], gc_page=_gc_page(claimed[m], npages, order)))
    if most is not None:
        keep = sorted(out, key=lambda f: -f.page.size)[:most]
        out = sorted(keep, key=lambda f: f.index)
    return out
