"""``artgc compare A.json B.json``: the same points side by side.

For every point (configuration) both files ran, each figure's median over
invocations with its 95% interval on both sides, the ratio B/A with its
interval (Welch t on the logs, see :mod:`artgc.stats`) and whether it changed beyond
noise (the ratio's interval excludes 1). A ``*`` marks a side where a run
found the machine busy (:mod:`artgc.machine`).
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

from . import stats
from .results import load

COMPARED: tuple[str, ...] = ("wall_s", "pause_max_ns", "pause_p99_ns", "pause_p50_ns", "pause_total_ns",
                             "stall_max_ns", "gc_share", "cycles", "peak_rss_bytes")


def run_key(r: Mapping[str, Any]) -> str:
    """The point a run belongs to: bench's ``point`` name, else built from its keys."""
    if r.get("point"):
        return str(r["point"])
    from .runner import point_key
    return point_key(r)


def group(doc: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in list(doc.get("runs", [])) + list(doc.get("peers", [])):
        if r.get("status", "ok") == "ok":
            out.setdefault(run_key(r), []).append(r)
    return out


def _busy(rows: Sequence[Mapping[str, Any]]) -> bool:
    return any((r.get("machine") or {}).get("busy") for r in rows)


def compare(a: Mapping[str, Any], b: Mapping[str, Any],
            figures: Sequence[str] = COMPARED) -> dict[str, Any]:
    """{"rows": [{point, figure, a, b, ratio, changed, a_busy, b_busy}], "only_a", "only_b"}."""
    ga, gb = group(a), group(b)
    rows: list[dict[str, Any]] = []
    for key in [k for k in ga if k in gb]:
        fa = [stats.figures(r) for r in ga[key]]
        fb = [stats.figures(r) for r in gb[key]]
        for name in figures:
            va, vb = [f[name] for f in fa], [f[name] for f in fb]
            ea, eb = stats.median_ci(va), stats.median_ci(vb)
            if ea.median is None and eb.median is None:
                continue
            ratio = stats.ratio_ci(va, vb)
            changed = None
            if ratio.lo is not None and ratio.hi is not None and min(ea.n, eb.n) > 1:
                changed = "higher" if ratio.lo > 1.0 else "lower" if ratio.hi < 1.0 else "no"
            rows.append({"point": key, "figure": name, "a": ea, "b": eb, "ratio": ratio, "changed": changed,
                         "a_busy": _busy(ga[key]), "b_busy": _busy(gb[key])})
    return {"rows": rows, "only_a": [k for k in ga if k not in gb], "only_b": [k for k in gb if k not in ga]}


def _ratio_text(e: stats.Estimate) -> str:
    if e.median is None:
        return "-"
    if e.lo is None or e.n <= 1:
        return f"{e.median:.3f}"
    return f"{e.median:.3f} [{e.lo:.3f}, {e.hi:.3f}]"


def format_table(res: Mapping[str, Any], name_a: str = "A", name_b: str = "B") -> str:
    lines = [f"# artgc compare: A = {name_a}, B = {name_b}", "",
             f"Medians over invocations with 95% confidence intervals ({stats.CI_METHOD}); "
             f"ratio = B / A ({stats.RATIO_METHOD}, 95%); 'changed' says whether the ratio's interval excludes 1 "
             "(needs 2+ invocations on both sides). * = the machine was busy during a run of that side.", ""]
    by_point: dict[str, list[dict[str, Any]]] = {}
    for r in res["rows"]:
        by_point.setdefault(r["point"], []).append(r)
    beyond: list[str] = []
    for point, rows in by_point.items():
        lines += [f"## {point}", "", "| figure | A | B | B/A | changed |", "|---|---|---|---|---|"]
        for r in rows:
            label, unit, _ = stats.FIGURES[r["figure"]]
            a = stats.fmt_estimate(r["a"], unit) + (" *" if r["a_busy"] else "")
            b = stats.fmt_estimate(r["b"], unit) + (" *" if r["b_busy"] else "")
            ch = {None: "n/a", "no": "within noise", "higher": "HIGHER", "lower": "LOWER"}[r["changed"]]
            lines.append(f"| {label} | {a} | {b} | {_ratio_text(r['ratio'])} | {ch} |")
            if r["changed"] in ("higher", "lower"):
                beyond.append(f"- {point}: {label} {r['changed']} ({_ratio_text(r['ratio'])}x)")
        lines.append("")
    lines += ["## Beyond noise", ""] + (beyond or ["- nothing: every ratio's interval includes 1"]) + [""]
    if res["only_a"] or res["only_b"]:
        lines += ["## Points in only one file", ""]
        lines += [f"- only in A: {k}" for k in res["only_a"]] + [f"- only in B: {k}" for k in res["only_b"]]
        lines.append("")
    if not res["rows"]:
        lines += ["No point is in both files (they ran different configurations).", ""]
    return "\n".join(lines)


def format_csv(res: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["point", "figure", "unit", "a_median", "a_ci_lo", "a_ci_hi", "a_n", "a_busy",
                "b_median", "b_ci_lo", "b_ci_hi", "b_n", "b_busy", "ratio", "ratio_ci_lo", "ratio_ci_hi",
                "changed"])
    for r in res["rows"]:
        a, b, q = r["a"], r["b"], r["ratio"]
        w.writerow([r["point"], r["figure"], stats.FIGURES[r["figure"]][1], a.median, a.lo, a.hi, a.n,
                    r["a_busy"], b.median, b.lo, b.hi, b.n, r["b_busy"], q.median, q.lo, q.hi,
                    r["changed"] or ""])
    return buf.getvalue()


def compare_files(path_a: str | os.PathLike[str], path_b: str | os.PathLike[str], csv: bool = False) -> str:
    """The comparison of two results files (bench's results.json or a run's --json) as text."""
    res = compare(load(path_a), load(path_b))
    return format_csv(res) if csv else format_table(res, str(path_a), str(path_b))


def invocations_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """``artgc run --invocations N``: each figure's median with its 95% CI."""
    from .machine import busy_reason
    from .runner import config_line
    agg = stats.aggregate(runs)
    lines = [config_line(runs[0]), f"  {len(runs)} invocations; median [95% CI: {stats.CI_METHOD}]"]
    for name, (label, unit, _) in stats.FIGURES.items():
        lines.append(f"  {label:<20}{stats.fmt_estimate(agg[name], unit)}")
    busy = [i + 1 for i, r in enumerate(runs) if (r.get("machine") or {}).get("busy")]
    if busy:
        why = busy_reason(runs[busy[0] - 1].get("machine") or {})
        lines.append(f"  WARNING: the machine was busy during invocation{'s' if len(busy) > 1 else ''} "
                     f"{', '.join(map(str, busy))} ({why}): figures may be noise")
    return "\n".join(lines)
