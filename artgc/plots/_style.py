"""How every figure looks: one colour and one marker per series (the same in
every figure), time and size axes, small-multiple grids, legends outside the
data and notes that say what a figure leaves out."""
from __future__ import annotations

import textwrap
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MultipleLocator, NullFormatter

from .. import metrics
from ..results import series_label
from ..sizes import format_size

Run = dict[str, Any]

# Base colour and marker per mode / collector. A delivery=thread series takes
# the lighter colour and a hollow marker; a series with non-default options
# keeps its mode's marker and gets a dashed line.
_BASE: dict[str, tuple[str, str]] = {
    "stw": ("#222222", "s"),
    "copy": ("#1f77b4", "o"),
    "minor": ("#2ca02c", "^"),
    "move": ("#9467bd", "D"),
    "jvm-serial": ("#7f7f7f", "x"),
    "jvm-parallel": ("#bcbd22", "P"),
    "jvm-g1": ("#8c564b", "v"),
    "jvm-zgc": ("#d62728", "*"),
    "jvm-genzgc": ("#e377c2", "p"),
    "jvm-shenandoah": ("#ff7f0e", "h"),
    "jvm-genshen": ("#17becf", "H"),
}
_LIGHT: dict[str, str] = {"copy": "#6baed6", "minor": "#74c476", "move": "#c5b0d5"}
# for series with non-default options and unknown collectors: none of the colours above
_EXTRA = ["#aec7e8", "#ffbb78", "#c49c94", "#9edae5", "#dbdb8d", "#f7b6d2", "#393b79", "#637939"]
_EXTRA_MARKERS = ["<", ">", "d", "8", "1", "2"]


def is_jvm(r: Mapping[str, Any]) -> bool:
    """A JVM peer: `runtime == "jvm"`, a `jvm` collector name, the older
    `peer` flag or a "jvm-..." mode."""
    return (r.get("runtime") == "jvm" or bool(r.get("jvm")) or bool(r.get("peer"))
            or str(r.get("mode", "")).startswith("jvm-"))


def label(r: Mapping[str, Any]) -> str:
    """The series name of a run: "minor/sigbus", "stw", "jvm-g1", "jvm-25:genzgc"."""
    if is_jvm(r):
        mode = str(r.get("mode") or "")
        if mode.startswith("jvm-"):
            return mode
        return f"jvm-{r.get('jvm') or mode or '?'}"
    return series_label(r)


def _base(lab: str) -> str:
    head = lab.split(" ")[0]
    if head.startswith("jvm-"):
        name = head[4:].split(":")[-1]           # "25:genzgc" -> "genzgc"
        return f"jvm-{name}"
    return head.split("/")[0].rstrip(",")


def style(lab: str) -> dict[str, Any]:
    """Matplotlib keyword arguments (color, marker, linestyle, fill) of a series."""
    base = _base(lab)
    h = zlib.crc32(lab.encode())
    color, marker = _BASE.get(base, (_EXTRA[h % len(_EXTRA)], _EXTRA_MARKERS[h % len(_EXTRA_MARKERS)]))
    thread = "/thread" in lab.split(" ")[0]
    if thread:
        color = _LIGHT.get(base, color)
    options = " " in lab
    if options and base in _BASE and not base.startswith("jvm-"):
        color = _EXTRA[h % len(_EXTRA)]
    jdk25 = lab.startswith("jvm-25:")
    return {"color": color, "marker": marker,
            "linestyle": "--" if options else (":" if base.startswith("jvm-") and not jdk25 else "-"),
            "markerfacecolor": "white" if thread else color, "markeredgecolor": color}


_RANK = {"stw": 0, "copy": 1, "minor": 2, "move": 3, "jvm-serial": 4, "jvm-parallel": 5, "jvm-g1": 6,
         "jvm-zgc": 7, "jvm-genzgc": 8, "jvm-shenandoah": 9, "jvm-genshen": 10}


def order(labels: Iterable[str]) -> list[str]:
    """artgc modes first (stw, copy, minor, move), then the JVM collectors."""
    return sorted(set(labels), key=lambda s: (s.startswith("jvm-"), _RANK.get(_base(s), 99), s))


def fmt_time_axis(ax: Any, axis: str = "x") -> None:
    """Label a log time axis (ns values) in ns/us/ms/s; call after drawing."""
    a = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    if lo > 0 and hi > 0 and np.log10(hi / lo) < 2.5:
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _p: metrics.format_ns(v) if v > 0 else "0"))
    a.set_minor_formatter(NullFormatter())


def fmt_size_axis(ax: Any, axis: str = "x") -> None:
    """Byte-size tick labels: heap sizes (powers of two) on x as "64MiB",
    amounts on y as "40.0 MiB"."""
    a = ax.xaxis if axis == "x" else ax.yaxis
    if axis == "x":
        a.set_major_formatter(FuncFormatter(lambda v, _p: format_size(int(v)) if v >= 1 else ""))
    else:   # linear amounts: ticks at round numbers of KiB/MiB/GiB (call after drawing)
        lo, hi = ax.get_ylim()
        if ax.get_yscale() == "linear" and hi > lo:
            unit = next(u for u in (1 << 30, 1 << 20, 1 << 10, 1) if hi >= 2 * u)
            raw = (hi - lo) / unit / 5
            step = min((m * 10 ** e for e in range(-1, 7) for m in (1, 2, 5) if m * 10 ** e >= raw))
            a.set_major_locator(MultipleLocator(step * unit))
        a.set_major_formatter(FuncFormatter(lambda v, _p: metrics.format_bytes(v) if v > 0 else "0"))
    a.set_minor_formatter(NullFormatter())


def grid(n: int, title: str, cols: int = 2, w: float = 6.0, h: float = 3.8,
         sharey: bool = False) -> tuple[Figure, list[Any]]:
    """A figure of n small panels (cols per row) under one title."""
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    fig = Figure(figsize=(w * cols, h * rows + 1.2), layout="constrained")
    axes: list[Any] = []
    for i in range(n):
        share = axes[0] if (sharey and axes) else None
        axes.append(fig.add_subplot(rows, cols, i + 1, sharey=share))
    fig.suptitle(title, fontsize=12)
    return fig, axes


def legend_below(fig: Figure, axes: list[Any], ncol: int = 4) -> None:
    """One legend for the whole figure, under the panels (never over data);
    entries with the same label are shown once."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for hd, lb in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lb, hd)
    if seen:
        fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center",
                   ncol=min(ncol, len(seen)), fontsize=8, frameon=False)


def skip(notes: list[str] | None, why: str) -> None:
    """A plot the results have no data for: say why (in notes, when the
    caller collects them) and draw nothing."""
    if notes is not None:
        notes.append(why)


def note(fig: Figure, lines: Iterable[str]) -> None:
    """A note under the figure title (part of the layout, so never over the
    panels): what the figure left out and why."""
    width = max(60, int(fig.get_figwidth() * 13))     # characters per line at this font size
    text = "\n".join(textwrap.fill(x, width) for x in dict.fromkeys(lines) if x)
    if text:
        title = fig.get_suptitle()
        fig.suptitle(f"{title}\nNote: {text}" if title else f"Note: {text}", fontsize=10)


def wrap(text: str, width: int = 90) -> str:
    return textwrap.fill(text, width)


def describe(wl: str, cfg: tuple[Any, ...]) -> str:
    size, heap, mut, gct = cfg
    s = f"{wl} size {size}"
    if heap:
        s += f", heap {format_size(int(heap))}"
    if mut and mut != 1:
        s += f", {mut} mutators"
    if gct and gct != 1:
        s += f", {gct} GC threads"
    return s
