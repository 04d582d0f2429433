"""The fast-path table before and after a change: `artgc probe --fastpath`
from two checkouts, alternately, N rounds each, and one markdown table of
the medians (ns per operation), a row per operation and a column pair per
heap memory.

    git worktree add /tmp/base OLD && (cd /tmp/base && python setup.py -q build_ext --inplace)
    python benchmarks/fastpath_ab.py --before /tmp/base --rounds 3

--after defaults to this checkout; --memory picks one heap memory
(shmem, shmem-huge, anon, anon-small); --json FILE keeps every round.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def probe(checkout: str, memory: str | None) -> dict[str, Any]:
    """One `artgc probe --fastpath --json` run from `checkout` (its package)."""
    code = ("import json, sys, artgc; "
            f"json.dump(artgc.fastpath({memory!r}) if {memory!r} else artgc.fastpath(), sys.stdout)")
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800,
                       cwd=os.path.abspath(checkout), env=env)
    if p.returncode != 0:
        raise SystemExit(f"probe in {checkout} failed: {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout)


def table(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    from artgc.fastpath import FASTPATH_OPS
    kinds = [k for k in after[0] if k in before[0]]
    head = "| operation | " + " | ".join(f"{k} before | {k} after" for k in kinds) + " |"
    lines = [head, "|---|" + "---|---|" * len(kinds)]
    for key, (label, _) in FASTPATH_OPS.items():
        cells = []
        for k in kinds:
            for side in (before, after):
                vals = [r[k][key] for r in side if key in r[k] and r[k][key] > 0]
                cells.append(f"{statistics.median(vals):.2f}" if vals else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="a checkout of artgc built in place")
    ap.add_argument("--after", default=HERE, help="another (default: this one)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memory", choices=["shmem", "shmem-huge", "anon", "anon-small"])
    ap.add_argument("--json", help="write every round's results here")
    a = ap.parse_args()
    for c in (a.before, a.after):
        if not os.path.isdir(os.path.join(c, "artgc")):
            ap.error(f"{c!r} is not a checkout of artgc")
    before: list[dict[str, Any]] = []
    after: list[dict[str, Any]] = []
    for r in range(a.rounds):
        before.append(probe(a.before, a.memory))
        after.append(probe(a.after, a.memory))
        print(f"round {r + 1} done", file=sys.stderr, flush=True)
    print(table(before, after))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"before": before, "after": after}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
