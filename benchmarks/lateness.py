"""Where a request workload's metered tail comes from: one `lru` run in this
process, its cycles' phases, the requests at or above the metered p99.9
(DaCapo's 100 ms smoothing) grouped into episodes, and the request rate in
10 ms bins around the worst episode.

    python benchmarks/lateness.py --mode minor
    python benchmarks/lateness.py --mode stw --heap 8GiB --max-free 0     # no cycle at all

Each request's start is not kept in a result (millions of numbers); this
script wraps artgc.metrics.request_latencies, which the runner calls with
them, to see them.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

import artgc
from artgc import metrics


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--live", default="128MiB")
    ap.add_argument("--heap", default="512MiB")
    ap.add_argument("--size", type=int, default=4000)
    ap.add_argument("--mode", default="minor")
    ap.add_argument("--max-free", default="512MiB")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    seen: dict[str, npt.NDArray[Any]] = {}
    real = metrics.request_latencies

    def keep(starts: npt.ArrayLike, latency: npt.ArrayLike) -> dict[str, npt.NDArray[np.uint64]]:
        seen["start"] = np.asarray(starts, dtype=np.int64).copy()
        seen["lat"] = np.asarray(latency, dtype=np.int64).copy()
        return real(starts, latency)

    metrics.request_latencies = keep  # type: ignore[assignment]
    try:
        r = artgc.run("lru", live=a.live, heap=a.heap, size=a.size, mode=a.mode, max_free=a.max_free,
                      seed=a.seed)
    finally:
        metrics.request_latencies = real  # type: ignore[assignment]
    if "start" not in seen:
        print("no requests recorded", file=sys.stderr)
        return 1
    s, lat, t0 = seen["start"], seen["lat"], r.t0_ns
    met = np.asarray(r.metered_latency_ns, dtype=np.float64)
    thr = float(np.percentile(met, 99.9))
    print(f"lru --live {a.live} --heap {a.heap} --size {a.size} --mode {a.mode}: wall {r.wall_s:.2f} s, "
          f"metered p99.9 {thr / 1e6:.2f} ms (full smoothing "
          f"{np.percentile(np.asarray(r.metered_full_latency_ns), 99.9) / 1e6:.2f} ms)")
    kinds = np.asarray(r.stall_kinds)
    st = np.asarray(r.stalls_ns, dtype=np.float64)
    print("stalls: " + ", ".join(f"{k} {int((kinds == k).sum())} ({st[kinds == k].sum() / 1e6:.1f} ms)"
                                 for k in sorted(set(r.stall_kinds))))
    print("cycles, ms from the start: marking, flip end, compaction end, end")
    for c in r.cycles:
        print("  %2d %s: %6.0f %6.0f %6.0f %6.0f" % (c["index"], c.get("kind", "full"),
              *((c[k] - t0) / 1e6 for k in ("t_mark_start_ns", "t_flip_end_ns", "t_compact_end_ns", "t_end_ns"))))
    bad = np.where(met >= thr)[0]
    ts = (s[bad] - t0) / 1e6
    order = np.argsort(ts)
    ts, bm = ts[order], met[bad][order]
    cuts = np.where(np.diff(ts) > 20)[0] + 1
    print("requests at or above the p99.9, in episodes (start of the first .. of the last, ms):")
    worst, worst_max = None, -1.0
    for e_ts, e_m in zip(np.split(ts, cuts), np.split(bm, cuts)):
        print(f"  {e_ts[0]:7.0f} .. {e_ts[-1]:7.0f}   {e_ts.size:6d} requests, metered up to {e_m.max() / 1e6:.1f} ms")
        if e_m.max() > worst_max:
            worst, worst_max = e_ts, float(e_m.max())
    assert worst is not None
    rel = (s - t0) / 1e6
    print("requests per 10 ms around the worst episode (their mean and max latency):")
    for b in np.arange(worst[0] - 150, worst[-1] + 60, 10):
        m = (rel >= b) & (rel < b + 10)
        if m.any():
            print(f"  {b:7.0f} ms: {int(m.sum()):6d} requests, mean {lat[m].mean() / 1e3:5.1f} us, "
                  f"max {lat[m].max() / 1e6:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
