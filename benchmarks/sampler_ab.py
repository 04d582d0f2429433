"""A/B: what the memory sampler does to the pauses it lands in.

    python benchmarks/sampler_ab.py [--mode minor] [--size 21] [--heap 1GiB] [--repeat 2]

Runs the same artgc run with three samplers, interleaved, each in its own
process: ``exact`` (smaps_rollup every sample: a page-table walk under the
mmap lock), ``counters`` (the default: /proc/<pid>/status counters and the
memfds' sizes) and ``off`` (two samples only). Prints worst pause, p99
pause, worst flip pause, worst stall, MMU at 10 ms and peak PSS per run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys
import numpy as np
import artgc
from artgc import memory, metrics
variant, mode, size, heap = sys.argv[1:5]
orig = memory.MemorySampler.__init__
def init(self, *a, **k):
    if variant == "exact":
        k["exact"] = True
    elif variant == "off":
        k["interval_s"] = 1e6
    orig(self, *a, **k)
memory.MemorySampler.__init__ = init
r = artgc.run("binarytrees", size=int(size), heap=heap, mode=mode)
p = np.asarray(r.pauses_ns, dtype=float)
print(json.dumps({"variant": variant, "wall_s": r.wall_s, "pause_max_ms": p.max() / 1e6,
                  "pause_p99_ms": float(np.percentile(p, 99)) / 1e6,
                  "flip_max_ms": max(c["flip_pause_ns"] for c in r.cycles) / 1e6,
                  "stall_max_ms": float(max(r.stalls_ns)) / 1e6, "mmu10": metrics.mmu_at(r, 1e7),
                  "samples": len(r.memory_timeline["t_ns"]), "peak_pss_mib": r.peak_pss_bytes / 2**20}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default="minor")
    ap.add_argument("--size", type=int, default=21)
    ap.add_argument("--heap", default="1GiB")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    print(f"binarytrees {a.size} / {a.heap}, mode {a.mode}")
    print(f"{'sampler':9} {'wall s':>7} {'pause max':>9} {'p99':>6} {'flip max':>8} {'stall max':>9} "
          f"{'MMU10':>5} {'samples':>7} {'peak PSS MiB':>12}")
    for _ in range(a.repeat):
        for v in ("exact", "counters", "off"):
            out = subprocess.run([sys.executable, "-c", CHILD, v, a.mode, str(a.size), a.heap],
                                 check=True, capture_output=True, text=True).stdout
            d = json.loads(out.strip().splitlines()[-1])
            print(f"{v:9} {d['wall_s']:7.1f} {d['pause_max_ms']:9.2f} {d['pause_p99_ms']:6.2f} "
                  f"{d['flip_max_ms']:8.2f} {d['stall_max_ms']:9.2f} {d['mmu10']:5.2f} {d['samples']:7d} "
                  f"{d['peak_pss_mib']:12.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
