"""Live bytes per heap cell before and after the last compaction, both maps
drawn with the same cell size and layout so that they compare directly."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .. import metrics
from ..sizes import format_size
from . import _data as D
from ._style import note, skip
from .timeline import pick_cycles

PAGE = 4096


def rebin(values: np.ndarray, per: int, target: int) -> np.ndarray:
    """Re-bin a map of `per` pages per bin into bins of `target` pages
    (target >= per); a source bin that straddles two target bins is split
    between them in proportion to its overlap (its bytes assumed even)."""
    if target == per or values.size == 0:
        return values.astype(np.float64)
    lo = np.arange(values.size, dtype=np.float64) * per
    hi = lo + per
    n = int(np.ceil(hi[-1] / target))
    out = np.zeros(n)
    first = (lo // target).astype(np.int64)
    edge = (first + 1) * target
    in_first = np.minimum(hi, edge) - lo
    np.add.at(out, first, values * in_first / per)
    rest = values * (per - in_first) / per
    m = rest > 0
    np.add.at(out, np.minimum(first[m] + 1, n - 1), rest[m])
    return out


def _pick(doc: Mapping[str, Any]) -> D.Run | None:
    pick = pick_cycles(doc)
    cands = [r for r in D.series(doc) if r.get("heap_map_before") and r.get("heap_map_after")]
    if pick and pick[0] in cands:
        return pick[0]
    return cands[0] if cands else None


def plot_heap_map(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Live fraction of each cell before (from-space) and after (to-space)
    the last compaction: the same cell size and cells per row in both."""
    run = _pick(doc)
    if run is None:
        return skip(notes, "heap_map: no run has heap_map_before/heap_map_after")
    raw = {k: (np.asarray(run[k], dtype=np.float64), int(run.get(f"{k}_pages_per_bin") or 1))
           for k in ("heap_map_before", "heap_map_after")}
    per = max(p for _v, p in raw.values())
    maps = {k: rebin(v, p, per) for k, (v, p) in raw.items()}
    n = max(m.size for m in maps.values())      # the same layout for both: cells past a map are free
    cols = int(min(256, max(16, 2 ** np.ceil(np.log2(np.sqrt(n * 4) + 1)))))
    rows = -(-n // cols)
    fig = Figure(figsize=(11, 2.6 + 2 * max(1.2, min(3.2, rows * 0.08))), layout="constrained")
    axes = [fig.add_subplot(2, 1, i + 1) for i in range(2)]
    im = None
    unit = "page" if per == 1 else f"{per} pages ({metrics.format_bytes(per * PAGE)})"
    row_bytes = cols * per * PAGE
    for ax, key, what in zip(axes, maps, ("before (from-space)", "after (to-space)")):
        vals = maps[key]
        img = np.full(rows * cols, np.nan)
        img[:vals.size] = np.clip(vals / (PAGE * per), 0, 1)
        im = ax.imshow(img.reshape(rows, cols), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                       interpolation="nearest")
        ax.set_facecolor("#eeeeee")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p, rb=row_bytes: metrics.format_bytes(max(v, 0) * rb)))
        ax.set_title(f"{what}: {metrics.format_bytes(vals.sum())} live in {np.count_nonzero(vals)} non-empty "
                     f"of {vals.size} cells", fontsize=9)
        ax.set_xlabel(f"cell within the row (address order; one cell = {unit}, {cols} per row)")
        ax.set_ylabel("heap offset of the row")
    if im is not None:
        fig.colorbar(im, ax=axes, label="live fraction of the cell", shrink=0.8)
    fig.suptitle(f"Heap map around the last compaction: {run['workload']} size {run.get('size')}, "
                 f"{D.label(run)}, heap {format_size(int(run['heap_bytes']))}", fontsize=11)
    pb, pa = raw["heap_map_before"][1], raw["heap_map_after"][1]
    note(fig, [f"both maps at {per} pages per cell (recorded at {pb} before, {pa} after; the finer one "
               "re-binned, a straddling bin split by overlap); grey: beyond the end of the map"
               if pb != pa else ""])
    return fig
