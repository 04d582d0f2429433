"""Request latency of artgc's designs and the JVM's collectors on one
workload, same machine, same run of this script: percentile curves p50 ..
p99.99 on a log time axis, simple, metered (DaCapo's 100 ms smoothing) and
metered with full smoothing, one curve per point (its invocations pooled).

    python benchmarks/latency_plot.py --out benchmarks/designs --invocations 1

Runs each point in this process (artgc.run, numpy arrays: a run's JSON of
millions of requests would not fit in memory as Python lists) and draws it
at once; writes OUT/request_latency_lru.png and .svg and prints each
point's p99.9s.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import artgc
from artgc.plots._style import grid, legend_below, note
from artgc.plots.latency import finish_axis, percentile_curve

POINTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("minor", {"mode": "minor"}), ("copy (default)", {}), ("art-2023", {"design": "art-2023"}),
    ("art-2025", {"design": "art-2025"}), ("seed", {"design": "seed"}),
    ("jvm-shenandoah", {"jvm": "shenandoah"}), ("jvm-g1", {"jvm": "g1"}), ("jvm-zgc", {"jvm": "zgc"}),
    ("jvm-parallel", {"jvm": "parallel"}))
KEYS = (("latency_ns", "simple"), ("metered_latency_ns", "metered, 100 ms smoothing"),
        ("metered_full_latency_ns", "metered, full smoothing"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "designs"))
    ap.add_argument("--invocations", type=int, default=1)
    ap.add_argument("--live", default="128MiB")
    ap.add_argument("--heap", default="512MiB")
    ap.add_argument("--size", type=int, default=4000)
    a = ap.parse_args()
    t0 = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    fig, axes = grid(3, f"lru --live {a.live} --heap {a.heap} --size {a.size}: request latency, tail first "
                     f"({a.invocations} run(s) a point pooled; {t0}-{{end}} UTC)", cols=3)
    lines = []
    for lab, kw in POINTS:
        got: dict[str, list[np.ndarray]] = {k: [] for k, _ in KEYS}
        for _ in range(a.invocations):
            r = artgc.run("lru", live=a.live, heap=a.heap, size=a.size, **kw)   # type: ignore[arg-type]
            if r.failed:
                print(f"{lab}: failed: {r.error}", file=sys.stderr)
                continue
            for k, _ in KEYS:
                v = getattr(r, k)
                if v is not None and len(v):
                    got[k].append(np.asarray(v, dtype=np.float64))
        p999 = []
        for ax, (k, _) in zip(axes, KEYS):
            if got[k]:
                v = np.concatenate(got[k])
                percentile_curve(ax, v, lab)
                p999.append(f"{np.percentile(v, 99.9) / 1e6:.2f}")
            else:
                p999.append("-")
        lines.append(f"{lab}: p99.9 simple / metered / full smoothing {' / '.join(p999)} ms")
        print(lines[-1], flush=True)
    for ax, (_, what) in zip(axes, KEYS):
        finish_axis(ax, "request latency (log scale)", what)
    fig.suptitle(fig.get_suptitle().replace("{end}", time.strftime("%H:%M", time.gmtime())), fontsize=12)
    legend_below(fig, axes, ncol=5)
    note(fig, ["python benchmarks/latency_plot.py --invocations %d" % a.invocations])
    os.makedirs(a.out, exist_ok=True)
    for ext in ("png", "svg"):
        path = os.path.join(a.out, f"request_latency_lru.{ext}")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
