"""Where the mutators' faults land: for the cycles with the most faults, each
fault's to-space page against its time since the flip, the GC threads'
progress in their order, and the block of objects allocated during marking
(black) that slides behind the rest."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..faultmap import PAGE, CycleFaults, fault_map
from ..sizes import format_size
from . import _data as D
from ._style import grid, legend_below, note, skip
from .timeline import _PREF

N_PANELS = 4


def _pick(doc: Mapping[str, Any]) -> tuple[D.Run, list[CycleFaults]] | None:
    best: tuple[tuple[Any, ...], D.Run, list[CycleFaults]] | None = None
    for r in D.series(doc):
        if D.is_jvm(r):
            continue
        maps = fault_map(r, most=N_PANELS)
        if not maps:
            continue
        lab = D.label(r)
        rank = (_PREF.index(lab) if lab in _PREF else 99, r["workload"] != "binarytrees",
                -sum(m.page.size for m in maps))
        if best is None or rank < best[0]:
            best = (rank, r, maps)
    return None if best is None else (best[1], best[2])


def plot_fault_map(doc: Mapping[str, Any], notes: list[str] | None = None) -> Figure | None:
    """Per cycle (up to N_PANELS, those with the most mutator faults): every
    fault as a dot at (ms after the flip, to-space offset), the offset the
    GC threads' claims had reached, and the black block shaded."""
    pick = _pick(doc)
    if pick is None:
        return skip(notes, "fault_map: no artgc run with fault events that name their page "
                           "(a run of this version with mutator faults, with its events)")
    run, maps = pick
    fig, axes = grid(len(maps), f"Where the mutator faults landed: {run['workload']} size {run.get('size')}, "
                     f"{D.label(run)}, heap {format_size(int(run['heap_bytes']))}", cols=2, w=6.2, h=4.0)
    mib = PAGE / 2**20
    for ax, m in zip(axes, maps):
        if m.black_pages:
            ax.axhspan((m.npages - m.black_pages) * mib, m.npages * mib, color="#fdd0a2", alpha=0.6, lw=0,
                       label="objects allocated during marking (black block)")
        ax.plot(m.t_ms, m.page * mib, linestyle="none", marker=".", markersize=2, color="#d62728",
                label="a mutator fault (the page it touched)")
        if m.order != "random":
            o = np.argsort(m.t_ms, kind="stable")
            ax.step(m.t_ms[o], m.gc_page[o] * mib, where="post", color="#1f77b4", lw=1.2,
                    label=f"GC threads' claims reached ({m.order} order)")
        ax.set_ylim(0, max(m.npages, 1) * mib)
        ax.set_xlim(left=0)
        ax.set_xlabel("ms after the flip")
        ax.set_ylabel("to-space offset (MiB)")
        ax.set_title(f"cycle {m.index}: {m.page.size} faults from {m.t_ms.min():.1f} to {m.t_ms.max():.1f} ms "
                     f"after the flip, {100 * m.in_black:.0f}% in the black block", fontsize=9)
        ax.grid(True, alpha=0.3)
    legend_below(fig, axes, ncol=3)
    note(fig, ["each dot is a fault stall: a page a mutator touched before it was mapped, which it then "
               "built itself (or waited for while a GC thread did); the GC threads build the rest. The black "
               "block is where the objects allocated during marking land (they slide down behind the "
               "compacted live data); a mutator usually works there right after the flip"])
    return fig
