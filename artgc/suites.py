"""The benchmark sweeps: which points ``artgc bench --suite NAME`` runs.

A point is one configuration of ``artgc run``; a suite is a list of points,
how often each is repeated, a per-point timeout and the JVM peers to run.

  * ``test``     seconds: tiny sizes, for the test suite;
  * ``quick``    a few minutes on a 2-core machine: every mode on small sizes,
                 heaps 1.5x-6x the minimum, 3 invocations;
  * ``standard`` about 10-15 minutes: the README's figures (binary-trees 18
                 at 3x in every mode, pause against heap 1.5x..6x, concurrent
                 against stop-the-world marking), 3 invocations;
  * ``full``     up to 4 GiB heaps (the memfd needs twice that) and more repeats.

Heaps are multiples of each workload's minimum heap (``artgc minheap``), so
that every quick and standard point collects (see ALLOC_RATIO); bench finds
the minimum heaps first (cached).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .options import is_multiple, parse_multiple
from .sizes import format_size, parse_size

ALL_MODES: tuple[tuple[str, str], ...] = (
    ("stw", "sigbus"), ("copy", "sigbus"), ("minor", "sigbus"), ("minor", "thread"), ("move", "sigbus"),
)
BOTH_DELIVERIES: tuple[tuple[str, str], ...] = (
    ("stw", "sigbus"), ("copy", "sigbus"), ("copy", "thread"), ("minor", "sigbus"),
    ("minor", "thread"), ("move", "sigbus"), ("move", "thread"),
)


@dataclass(frozen=True)
class Point:
    """One configuration of ``artgc run``."""

    workload: str
    size: int | None
    mode: str
    delivery: str = "sigbus"
    heap: str = "256MiB"
    mutators: int = 1
    gc_threads: int = 1
    marking: str = "concurrent"
    seed: int = 0
    knobs: tuple[tuple[str, Any], ...] = ()   # other run() keywords, e.g. (("reuse_tospace", False),)
    est_s: float = 1.0                        # a-priori duration, for the progress estimate

    @property
    def heap_bytes(self) -> int | None:
        """The heap in bytes; None for a multiple of the minimum heap ("3x")."""
        return None if is_multiple(self.heap) else parse_size(self.heap, "heap")

    @property
    def heap_multiple(self) -> float | None:
        return parse_multiple(self.heap) if is_multiple(self.heap) else None

    @property
    def key(self) -> str:
        """A stable name: binarytrees-16/minor-sigbus/2x/1 mutator/1 GC thread/concurrent[/knobs]."""
        size = "default" if self.size is None else str(self.size)
        hb = self.heap_bytes
        heap = f"{self.heap_multiple:g}x" if hb is None else format_size(hb)
        m, g = self.mutators, self.gc_threads
        parts = [f"{self.workload}-{size}", f"{self.mode}-{self.delivery}", heap,
                 f"{m} mutator{'s' if m != 1 else ''}", f"{g} GC thread{'s' if g != 1 else ''}", self.marking]
        parts += [f"{k}={v}" for k, v in self.knobs]
        return "/".join(parts)

    def run_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"size": self.size, "mode": self.mode, "delivery": self.delivery,
                              "heap": self.heap, "mutators": self.mutators, "gc_threads": self.gc_threads,
                              "marking": self.marking, "seed": self.seed}
        kw.update(dict(self.knobs))
        return kw

    def argv(self) -> list[str]:
        """Arguments of ``artgc run`` for this point (without --json)."""
        a = ["run", self.workload, "--mode", self.mode, "--delivery", self.delivery, "--heap", self.heap,
             "--mutators", str(self.mutators), "--gc-threads", str(self.gc_threads),
             "--marking", self.marking, "--seed", str(self.seed)]
        if self.size is not None:
            a += ["--size", str(self.size)]
        for k, v in self.knobs:
            flag = "--" + k.replace("_", "-")
            if isinstance(v, bool):
                a.append(flag if v else "--no-" + k.replace("_", "-"))
            else:
                a += [flag, str(v)]
        return a

    def params(self) -> dict[str, Any]:
        """The run keys this point fixes (for skipped/failed records)."""
        return {"workload": self.workload, "mode": self.mode, "delivery": self.delivery,
                "heap_bytes": self.heap_bytes, "heap": self.heap, "mutators": self.mutators, "gc_threads": self.gc_threads,
                "size": self.size, "seed": self.seed, "marking": self.marking,
                "options": dict(self.knobs)}


@dataclass(frozen=True)
class PeerConfig:
    depth: int = 21
    heap: str = "1GiB"
    gcs: tuple[str, ...] = ("serial", "g1", "zgc", "shenandoah")
    threads: int = 1
    est_s: float = 5.0


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    points: tuple[Point, ...]
    repeat: int = 1
    timeout_s: float = 300.0
    peers: PeerConfig | None = None
    quick_probe: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def est_total_s(self, repeat: int | None = None, peers: bool = True) -> float:
        r = repeat or self.repeat
        t = r * sum(p.est_s for p in self.points)
        if peers and self.peers:
            t += r * len(self.peers.gcs) * self.peers.est_s
        return t


# --------------------------------------------------------------------------- estimates

_PY_START_S = 0.35  # a subprocess's interpreter, numpy and cffi start-up


def estimate_s(workload: str, size: int | None) -> float:
    """Rough seconds for one run (single mutator), for the progress estimate;
    calibrated on the 2-core development machine."""
    if workload == "binarytrees":
        n = 21 if size is None else size
        return _PY_START_S + 2.5 * 2.0 ** (n - 18) * 1.2 ** max(0, n - 18)
    if workload == "gcbench":
        n = 16 if size is None else size
        return _PY_START_S + 0.65 * 2.0 ** (n - 16)
    if workload == "lru":
        n = 500 if size is None else size
        return _PY_START_S + 0.5 * n / 500
    if workload == "graph":
        n = 100 if size is None else size
        return _PY_START_S + 0.6 * n / 100
    return _PY_START_S + 2.0


def sweep(workloads: Sequence[tuple[str, int | None]], modes: Iterable[tuple[str, str]],
          heaps: Sequence[str], mutators: Sequence[int] = (1,), gc_threads: Sequence[int] = (1,),
          markings: Sequence[str] = ("concurrent",)) -> list[Point]:
    """Cartesian product of the axes, one point each."""
    modes = list(modes)
    pts: list[Point] = []
    for wl, size in workloads:
        for heap in heaps:
            for m in mutators:
                for g in gc_threads:
                    for mode, delivery in modes:
                        for marking in markings:
                            if mode == "stw" and marking == "stw" and len(markings) > 1:
                                continue  # stw mode marks inside its one pause anyway
                            pts.append(Point(wl, size, mode, delivery, heap, m, g, marking,
                                             est_s=estimate_s(wl, size) * (1.0 if m == 1 else 0.8)))
    return pts


def _dedupe(points: Iterable[Point]) -> tuple[Point, ...]:
    seen: set[str] = set()
    out: list[Point] = []
    for p in points:
        if p.key not in seen:
            seen.add(p.key)
            out.append(p)
    return tuple(out)


# --------------------------------------------------------------------------- suites

def _test() -> Suite:
    pts = sweep([("binarytrees", 14)], [("stw", "sigbus"), ("minor", "sigbus")], ["16MiB"])
    pts += sweep([("gcbench", 12)], [("minor", "sigbus")], ["16MiB"])
    pts += sweep([("lru", 20)], [("minor", "sigbus")], ["8MiB"])
    pts += sweep([("graph", 20)], [("minor", "sigbus")], ["16MiB"], mutators=[2])
    pts = [replace(p, est_s=_PY_START_S + 0.3) for p in pts]
    return Suite("test", "seconds: tiny sizes for the test suite", _dedupe(pts), repeat=1, timeout_s=60.0,
                 peers=PeerConfig(depth=14, heap="64MiB", gcs=("serial",), est_s=1.0))


# Heaps are multiples of each workload's minimum heap (`artgc minheap`). A point
# collects when the workload allocates more than trigger x heap; ALLOC_RATIO is
# a lower bound of (bytes allocated) / (minimum heap) for the workloads and
# sizes the suites use, from `artgc minheap W --size N` (its "allocated at
# least" figure) on the development machine. tests/test_bench.py checks that
# every quick and standard point's multiple x trigger stays below it.
ALLOC_RATIO: dict[tuple[str, int | None], float] = {
    ("binarytrees", 16): 57.0, ("binarytrees", 18): 64.0, ("gcbench", 14): 24.9, ("lru", 100): 8.5, ("graph", None): 5.2,
}
QUICK_SIZES: dict[str, int | None] = {"binarytrees": 16, "gcbench": 14, "lru": 100, "graph": None}
DEFAULT_TRIGGER = 0.75


def _quick() -> Suite:
    pts = sweep([("binarytrees", 16)], ALL_MODES, ["2x", "4x"])
    pts += sweep([("binarytrees", 16)], [("minor", "sigbus")], ["3x"], markings=["stw"])
    pts += sweep([("gcbench", 14)], ALL_MODES, ["1.5x", "6x"])
    pts += sweep([("lru", 100)], ALL_MODES, ["2x", "4x"])
    pts += sweep([("graph", None)], [("stw", "sigbus"), ("minor", "sigbus"), ("copy", "sigbus")], ["2x"],
                 mutators=[1])
    return Suite("quick", "a few minutes: every mode on small sizes, heaps 1.5x-6x the minimum, 3 invocations",
                 _dedupe(pts), repeat=3, timeout_s=120.0,
                 peers=PeerConfig(depth=16, heap="256MiB", est_s=1.5))


def _standard() -> Suite:
    # The headline: binary-trees 18 at 3x the minimum, every mode, both markings for minor.
    pts = sweep([("binarytrees", 18)], ALL_MODES, ["3x"])
    pts += sweep([("binarytrees", 18)], [("minor", "sigbus")], ["3x"], markings=["stw"])
    # Pause against heap multiple.
    pts += sweep([("binarytrees", 16)], [("stw", "sigbus"), ("copy", "sigbus"), ("minor", "sigbus"),
                                         ("move", "sigbus")], ["1.5x", "2x", "4x", "6x"])
    pts += sweep([("gcbench", 14)], ALL_MODES, ["3x"], markings=["concurrent", "stw"])
    pts += sweep([("lru", 100)], BOTH_DELIVERIES, ["2x", "4x"])
    pts += sweep([("graph", None)], ALL_MODES, ["2x"], mutators=[1])
    # Threads: GC threads on the 2 cores.
    pts += sweep([("binarytrees", 16)], [("minor", "sigbus"), ("minor", "thread")], ["3x"],
                 gc_threads=[1, 2])
    return Suite("standard", "about 10-15 minutes: the README's figures, heaps 1.5x-6x the minimum",
                 _dedupe(pts), repeat=3, timeout_s=600.0, peers=PeerConfig(depth=21, heap="1GiB", est_s=8.0),
                 quick_probe=False)


def custom_suite(workloads: Sequence[str] | None = None, modes: Sequence[str] | None = None,
                 heaps: Sequence[str] | None = None, mutators: Sequence[int | str] | None = None,
                 invocations: int = 3) -> Suite:
    """A sweep from the command line: ``workloads`` as "name" or "name:size"
    (sizes default to the quick suite's), ``modes`` as "mode" or
    "mode/delivery", ``heaps`` sizes or multiples ("2x"), ``mutators`` counts."""
    from .options import BY_NAME, MODES, WORKLOADS
    wls: list[tuple[str, int | None]] = []
    for w in workloads or list(QUICK_SIZES):
        name, _, size = str(w).partition(":")
        if name not in WORKLOADS:
            raise ValueError(f"--workloads: unknown workload {name!r}; valid: {', '.join(WORKLOADS)}")
        if size:
            try:
                n = int(size)
            except ValueError:
                raise ValueError(f"--workloads {w!r}: the size after ':' must be an integer") from None
            wls.append((name, BY_NAME["size"].check(n)))
        else:
            wls.append((name, QUICK_SIZES[name]))
    mds: list[tuple[str, str]] = []
    for m in modes or [f"{a}/{b}" for a, b in ALL_MODES]:
        mode, _, dl = str(m).partition("/")
        if mode not in MODES:
            raise ValueError(f"--modes: unknown mode {mode!r}; valid: {', '.join(MODES)} "
                             "(optionally /sigbus or /thread)")
        dl = dl or "sigbus"
        BY_NAME["delivery"].check(dl)
        from .options import check_combination
        check_combination({"mode": mode, "delivery": dl})
        mds.append((mode, dl))
    hs = [str(h).strip() for h in (heaps or ["2x", "4x"])]
    for h in hs:
        BY_NAME["heap"].check(h)
    muts: list[int] = []
    for m in mutators or [1]:
        try:
            n = int(m)
        except (TypeError, ValueError):
            raise ValueError(f"--mutators: {m!r} is not an integer") from None
        muts.append(BY_NAME["mutators"].check(n))
    if isinstance(invocations, bool) or not isinstance(invocations, int) or invocations < 1:
        raise ValueError(f"invocations must be a positive integer, got {invocations!r}")
    pts = sweep(wls, mds, hs, mutators=muts)
    return Suite("custom", f"custom sweep: {len(pts)} points", _dedupe(pts), repeat=invocations,
                 timeout_s=600.0, peers=None)


def _full() -> Suite:
    base = list(_standard().points)
    base += sweep([("binarytrees", 21)], ALL_MODES, ["512MiB", "2GiB", "4GiB"])
    base += sweep([("binarytrees", 22)], ALL_MODES, ["2GiB", "4GiB"])
    base += sweep([("binarytrees", 18)], [("stw", "sigbus"), ("copy", "sigbus"), ("minor", "sigbus"),
                                          ("move", "sigbus")], ["2GiB", "4GiB"])
    base += sweep([("gcbench", 18)], ALL_MODES, ["1GiB", "4GiB"])
    base += sweep([("lru", 2000)], BOTH_DELIVERIES, ["256MiB", "1GiB"], mutators=[1, 2])
    base += sweep([("binarytrees", 21)], [("minor", "sigbus")], ["1GiB"], mutators=[1, 2], gc_threads=[1, 2])
    knobs = [Point("binarytrees", 21, "minor", "sigbus", "1GiB", knobs=k, est_s=estimate_s("binarytrees", 21))
             for k in ((("reuse_tospace", False),), (("gc_install", False),), (("order", "random"),),
                       (("order", "descending"),))]
    return Suite("full", "hours: heaps up to 4 GiB, bigger sizes, knobs", _dedupe(base + knobs), repeat=3,
                 timeout_s=1200.0, peers=PeerConfig(depth=21, heap="1GiB", est_s=8.0), quick_probe=False)


_SUITES = {"test": _test, "quick": _quick, "standard": _standard, "full": _full}
SUITE_NAMES: tuple[str, ...] = tuple(_SUITES)


def get_suite(name: str | Suite) -> Suite:
    """The named suite (or the Suite itself); ValueError lists the valid names."""
    if isinstance(name, Suite):
        return name
    if not isinstance(name, str) or name not in _SUITES:
        raise ValueError(f"unknown suite {name!r}; valid: {', '.join(SUITE_NAMES)}")
    return _SUITES[name]()


# What each mode needs from the kernel (the probe's uffd.features), as the
# heap refuses it: stw needs nothing; sigbus delivery needs the SIGBUS feature.
MODE_FEATURES: dict[str, str] = {"copy": "missing_shmem", "minor": "minor_shmem", "move": "move"}


def skip_reason(point: Point, uffd: dict[str, Any] | None) -> str | None:
    """Why this kernel cannot run the point (None: it can, or we do not know)."""
    knobs = dict(point.knobs)
    if point.mode == "stw" or not uffd:
        return None
    if not uffd.get("available", True):
        return f"userfaultfd is not available: {uffd.get('reason') or 'see artgc probe'}"
    feats = uffd.get("features") or {}
    need = MODE_FEATURES.get(point.mode)
    if need and feats.get(need) is False:
        return f"mode {point.mode} needs the kernel's {need.upper()} userfaultfd feature " \
               f"(artgc probe: features.{need} is false)"
    if point.delivery == "sigbus" and feats.get("sigbus") is False:
        return "delivery sigbus needs UFFD_FEATURE_SIGBUS (artgc probe: features.sigbus is false)"
    return None
