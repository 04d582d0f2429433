"""The minimum heap of a workload, and heap sizes as multiples of it.

MMTk's running-ng convention: a heap is given as a multiple of the smallest
heap the workload completes in (``--heap 3x``), so that one number means the
same pressure for every workload and size. :func:`min_heap` finds that heap by
bisection: a generous run first (its largest live size is a lower bound),
then halving the interval between a heap that failed (or is below the live
size) and one that completed, until it is within 5% (at least 64 KiB); the
first probe after the generous run is just above the live size, which in
practice is a tight bound. A run
counts as failed when it runs out of memory or thrashes: takes longer than
ten times the generous run (at least 10 s), when it is stopped.

The search runs in mode ``stw`` (one pause, no concurrent allocation: the
tightest fit), once per workload, size, mutator count, seed and artgc version;
results are cached in ``$ARTGC_CACHE/minheap.json`` (default
``~/.cache/artgc``).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import errors
from .options import MAX_HEAP, MIN_HEAP, is_multiple, parse_multiple
from .sizes import parse_size

GRANULE = 64 << 10
REL_TOL = 0.05
SEARCH_MODE = "stw"
THRASH_FACTOR = 10.0
THRASH_MIN_S = 10.0


@dataclass
class MinHeap:
    """The result of a search: ``bytes`` is the smallest heap that completed."""

    workload: str
    size: int | None
    mutators: int
    seed: int
    bytes: int
    artgc_version: str
    mode: str = SEARCH_MODE
    max_live_bytes: int = 0
    allocated_bytes: int = 0        # at the minimum heap: bytes allocated between cycles (a lower bound)
    probes: list[dict[str, Any]] = field(default_factory=list)   # every heap tried: bytes, ok, why
    cached: bool = False


def cache_dir() -> Path:
    """``$ARTGC_CACHE`` or ``~/.cache/artgc``."""
    env = os.environ.get("ARTGC_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "artgc"


def _key(workload: str, size: int | None, mutators: int, seed: int, version: str) -> str:
    return f"{workload}/{'default' if size is None else size}/m{mutators}/s{seed}/{version}"


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        d = json.loads(path.read_text())
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def _store(path: Path, key: str, rec: MinHeap) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        d = _load_cache(path)
        d[key] = {k: v for k, v in asdict(rec).items() if k != "cached"}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".minheap-")
        with os.fdopen(fd, "w") as fh:
            json.dump(d, fh, indent=1)
        os.replace(tmp, path)
    except OSError:
        pass   # a cache that cannot be written is only slower


def _allocated(cycles: list[dict[str, Any]]) -> int:
    total, after = 0, 0
    for c in cycles:
        total += max(0, int(c.get("used_before") or 0) - after)
        after = int(c.get("used_after") or 0)
    return total


def min_heap(workload: str, size: int | None = None, *, mutators: int = 1, seed: int = 0,
             cache: bool = True, progress: Callable[[str], None] | None = None) -> MinHeap:
    """The smallest heap (bytes) ``workload`` at ``size`` completes in (see the
    module docstring); cached. ``progress`` receives a line per probe run."""
    from . import __version__
    from .options import validate
    from .runner import run
    v = validate({"size": size, "mutators": mutators, "seed": seed})
    from .options import WORKLOADS
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; valid: {', '.join(WORKLOADS)}")
    size, mutators, seed = v["size"], v["mutators"], v["seed"]
    key = _key(workload, size, mutators, seed, __version__)
    path = cache_dir() / "minheap.json"
    if cache:
        hit = _load_cache(path).get(key)
        if isinstance(hit, dict):
            try:
                return MinHeap(**{**hit, "cached": True})
            except TypeError:
                pass
    say = progress or (lambda s: None)
    probes: list[dict[str, Any]] = []

    def attempt(heap: int, timeout: float | None) -> tuple[bool, Any]:
        r = run(workload, size=size, mode=SEARCH_MODE, heap=heap, mutators=mutators, seed=seed,
                timeout_s=timeout)
        if r.failed and r.error_type not in ("OutOfMemory",):
            raise errors.ArtgcError(f"{workload}: the run at heap {heap} bytes failed: {r.error}")
        if r.interrupted and (timeout is None or r.wall_s < 0.9 * timeout):
            raise KeyboardInterrupt   # Ctrl-C, not the thrashing limit
        ok = r.ok
        why = "ok" if ok else ("out of memory" if r.failed else f"thrashing (over {timeout:.0f} s)")
        probes.append({"bytes": heap, "ok": ok, "why": why, "wall_s": r.wall_s, "cycles": len(r.cycles)})
        say(f"  heap {heap / (1 << 20):8.2f} MiB: {why} ({r.wall_s:.2f} s, {len(r.cycles)} cycles)")
        return ok, r

    hi = 16 << 20
    while True:
        ok, r = attempt(hi, None)
        if ok:
            break
        if hi >= MAX_HEAP // 2:
            raise errors.ArtgcError(f"{workload}: does not complete even in a {hi >> 20} MiB heap")
        hi *= 2
    timeout = max(THRASH_MIN_S, THRASH_FACTOR * r.wall_s)
    live = max([int(c.get("live_bytes") or 0) for c in r.cycles] or [0])
    lo = max(MIN_HEAP - GRANULE, (live // GRANULE) * GRANULE)   # below the live data nothing completes
    best = r
    if live > 0:
        # the largest live size is a tight bound in practice: try just above it first
        first = -(-int(live * (1 + REL_TOL)) // GRANULE) * GRANULE
        if lo < first < hi:
            ok, r = attempt(max(MIN_HEAP, first), timeout)
            if ok:
                hi, best = max(MIN_HEAP, first), r
            else:
                lo = first
    while hi - lo > max(GRANULE, int(REL_TOL * hi)):
        mid = max(MIN_HEAP, ((lo + hi) // 2 // GRANULE) * GRANULE)
        if mid >= hi or mid <= lo:
            break
        ok, r = attempt(mid, timeout)
        if ok:
            hi, best = mid, r
        else:
            lo = mid
    rec = MinHeap(workload=workload, size=size if size is not None else best.size, mutators=mutators,
                  seed=seed, bytes=hi, artgc_version=__version__, max_live_bytes=live,
                  allocated_bytes=_allocated(best.cycles), probes=probes)
    rec.size = size   # the key names the size as asked (None: the workload's default)
    if cache:
        _store(path, key, rec)
    return rec


def resolve_heap(heap: int | str, workload: str, size: int | None, *, mutators: int = 1, seed: int = 0,
                 progress: Callable[[str], None] | None = None) -> tuple[int, float | None, int | None]:
    """A heap in bytes: (bytes, the multiple or None, the minimum heap or None).
    "3x" is three times :func:`min_heap` (rounded up to 64 KiB)."""
    if not is_multiple(heap):
        return parse_size(heap, "heap"), None, None
    assert isinstance(heap, str)
    mult = parse_multiple(heap)
    m = min_heap(workload, size, mutators=mutators, seed=seed, progress=progress)
    b = -(-int(mult * m.bytes) // GRANULE) * GRANULE
    return max(MIN_HEAP, min(MAX_HEAP, b)), mult, m.bytes
