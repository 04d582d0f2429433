"""Every heap and run option in one table: name, type, default, limits, help,
choices and how it lands in the C ``agc_options`` struct (heap/include/heap_api.h).

The table is the one place an option is declared. It is read by
  * :class:`artgc.Heap` (through :func:`heap_options` and :meth:`HeapOptions.to_c`),
  * :func:`artgc.run` (the same :class:`HeapOptions`, plus the run-only entries),
  * the suites (a point's keywords are validated by :func:`validate`),
  * the command line (:func:`add_arguments` generates ``artgc run``'s flags).

Adding an option is one :class:`Option` entry in :data:`OPTIONS`; if it has a
``c_field`` it is copied into ``agc_options`` (when the built core has that
field), with ``choices`` mapping each name to the C enum constant.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .sizes import parse_size

U64_MAX = (1 << 64) - 1
MAX_GC_THREADS = 64      # heap/heap.c: agc_heap_create refuses more
MAX_MUTATORS = 256       # heap/workloads/runner.c: MAX_MUTATORS
MIN_HEAP = 1 << 20       # heap/heap.c: the smallest capacity it accepts
MAX_HEAP = 1 << 40       # heap/heap.c: the largest


# --------------------------------------------------------------------------- names used everywhere

MODES: tuple[str, ...] = ("stw", "copy", "minor", "move")
DELIVERIES: tuple[str, ...] = ("sigbus", "thread")
MARKINGS: tuple[str, ...] = ("concurrent", "stw")
ORDERS: tuple[str, ...] = ("ascending", "descending", "random")
WORKLOADS: tuple[str, ...] = ("binarytrees", "gcbench", "lru", "graph")
# agc_cycle_stats.reason (heap_api.cdef: 0 trigger, 1 explicit, 2 allocation failure)
CYCLE_REASONS: dict[int, str] = {0: "trigger", 1: "explicit", 2: "allocation-failure"}
# agc_event.phase for pauses (heap_api.cdef: 0 init mark, 1 mark, 2 flip, 3 stw)
PAUSE_PHASES: dict[int, str] = {0: "init-mark", 1: "mark", 2: "flip", 3: "stw"}
JVM_GCS: tuple[str, ...] = ("serial", "parallel", "g1", "zgc", "shenandoah")
MEMORIES: tuple[str, ...] = ("auto", "shmem", "anon")
MEMORY_NAMES: dict[int, str] = {1: "shmem", 2: "anon"}     # agc_cycle_stats.memory
CYCLE_KINDS: dict[int, str] = {0: "full", 1: "young"}
SKIP_REASONS: dict[int, str | None] = {
    0: None, 1: "nothing would move: the live data below the cycle's start is dense"}

# Designs, by name rather than knobs: each preset fills the options it names
# unless they are given explicitly. "seed" is the seed's plan (minor faults
# on a memfd mapped twice, to-space kept populated), "art-2023" ART's CMC as
# it shipped in 2023 (private anonymous memory, UFFDIO_COPY, faults resolved
# in the faulting thread, reverse order, black-dense prefix, from-space freed
# as compaction goes), "art-2025" the same with UFFDIO_MOVE from recycled
# from-space pages.
DESIGNS: dict[str, dict[str, Any]] = {
    "seed": {"mode": "minor", "memory": "shmem", "delivery": "sigbus", "order": "ascending",
             "dense_prefix": 0.0, "eager_release": False, "reuse_tospace": True, "pretouch_window": "0",
             "charge_fromspace": False, "huge_pages": False, "generational": "off"},
    "art-2023": {"mode": "copy", "memory": "anon", "delivery": "sigbus", "order": "descending",
                 "dense_prefix": 0.95, "eager_release": True},
    "art-2025": {"mode": "move", "memory": "anon", "delivery": "sigbus", "order": "descending",
                 "dense_prefix": 0.95, "eager_release": True, "huge_moves": False},
}


@dataclass(frozen=True)
class Option:
    """One option. ``kind`` is one of: "size" (bytes, "64MiB"; with
    ``multiple`` also "3x", a multiple of the workload's minimum heap),
    "int", "float", "bool", "choice", "str"."""

    name: str
    kind: str
    default: Any
    help: str
    choices: Mapping[str, str] | tuple[str, ...] | None = None  # name -> C enum constant, or names
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False          # lo itself is excluded
    optional: bool = False         # None is allowed (and means "the workload's own")
    c_field: str | None = None     # the agc_options field it sets
    scope: str = "heap"            # "heap": Heap and run; "run": run only
    metavar: str | None = None
    multiple: bool = False         # "size" accepting "3x"
    auto: bool = False             # "bytes" accepting "auto" (the C side's AGC_PRETOUCH_AUTO)
    cli: bool = True               # an ``artgc run`` flag
    unset: str = "none"            # what None means, for the help text

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def names(self) -> tuple[str, ...]:
        return tuple(self.choices) if self.choices is not None else ()

    def limits_text(self) -> str:
        if self.kind == "choice" or self.choices:
            return "|".join(self.names())
        if self.lo is None and self.hi is None:
            return ""
        lo = "" if self.lo is None else f"{_num(self.lo)}"
        hi = "" if self.hi is None else f"{_num(self.hi)}"
        return f"({lo}, {hi}]" if self.lo_open else f"{lo}..{hi}"

    # ------------------------------------------------------------------ validation
    def check(self, value: Any) -> Any:
        """The value normalized (sizes stay as given: see :func:`resolve_heap`),
        or ValueError/TypeError saying what is valid."""
        if value is None and self.optional:
            return None
        k = self.kind
        if k == "bool":
            if not _is_bool(value):
                raise TypeError(f"{self.name} must be True or False, not {value!r}")
            return bool(value)
        if k == "choice":
            valid = ", ".join(self.names())
            if _is_bool(value) and {"on", "off"} <= set(self.names()):
                return "on" if value else "off"
            if not isinstance(value, str):
                raise TypeError(f"{self.name} must be a string, one of: {valid}")
            if value not in self.names():
                raise ValueError(f"unknown {self.name} {value!r}; valid: {valid}")
            return value
        if k == "int":
            lo, hi = int(self.lo if self.lo is not None else 0), int(self.hi if self.hi is not None else U64_MAX)
            if _is_bool(value) or not _is_int(value):
                raise TypeError(f"{self.name} must be an integer between {lo} and {hi}, "
                                f"not {type(value).__name__}")
            if not lo <= int(value) <= hi:
                raise ValueError(f"{self.name} must be between {lo} and {hi}, got {value}")
            return int(value)
        if k == "float":
            if _is_bool(value) or not isinstance(value, (int, float)) or \
                    (isinstance(value, float) and not math.isfinite(value)):
                raise TypeError(f"{self.name} must be a number in {self.limits_text()}, not {value!r}")
            v = float(value)
            lo_ok = self.lo is None or (v > self.lo if self.lo_open else v >= self.lo)
            if not lo_ok or (self.hi is not None and v > self.hi):
                raise ValueError(f"{self.name} must be a fraction in {self.limits_text()}, got {value}")
            return v
        if k == "size":
            if self.multiple and is_multiple(value):
                parse_multiple(value, self.name)
                return value.strip()
            n = parse_size(value, self.name)
            if self.lo is not None and n < self.lo:
                raise ValueError(f"{self.name} {value!r} is too small: at least {_num(self.lo)} bytes (1MiB)")
            if self.hi is not None and n > self.hi:
                raise ValueError(f"{self.name} {value!r} is too large: at most {_num(self.hi)} bytes (1TiB)")
            return value
        if k == "bytes":
            if _is_int(value) and not _is_bool(value) and int(value) == 0 or value == "0":
                return value
            if self.auto and value == "auto":
                return value
            n = parse_size(value, self.name)
            if self.hi is not None and n > self.hi:
                raise ValueError(f"{self.name} {value!r} is too large: at most {_num(self.hi)} bytes")
            return value
        if k == "str":
            if not isinstance(value, str):
                raise TypeError(f"{self.name} must be a string, not {type(value).__name__}")
            if self.choices is not None and value not in self.names():
                raise ValueError(f"unknown {self.name} {value!r}; valid: {', '.join(self.names())}")
            return value
        raise AssertionError(f"option {self.name}: unknown kind {k}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool) or type(v).__name__ == "bool_"


def _is_int(v: Any) -> bool:
    import numbers
    return isinstance(v, numbers.Integral)


def parse_multiple(value: str, what: str = "heap") -> float:
    """ "3x" -> 3.0: a heap as a multiple of the workload's minimum heap."""
    s = value.strip().lower()[:-1].strip()
    try:
        f = float(s)
    except ValueError:
        raise ValueError(f"{what}: cannot parse {value!r}; a multiple of the minimum heap is "
                         f"written like 3x or 1.5x") from None
    if not math.isfinite(f) or f < 1.0 or f > 1000.0:
        raise ValueError(f"{what}: {value!r}: a multiple of the minimum heap must be from 1x to 1000x")
    return f


def is_multiple(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().endswith("x")


# --------------------------------------------------------------------------- the table

_C = "AGC_"
AUTO_BYTES = 2**64 - 1   # "auto" for a bytes option (AGC_PRETOUCH_AUTO in heap_api.h)
OPTIONS: tuple[Option, ...] = (
    Option("heap", "size", "3x", "heap capacity: the live-plus-free budget (the JVM's -Xmx), a size "
           "(64MiB, 1GiB) or a multiple of the workload's minimum heap (3x; see `artgc minheap`); what it "
           "costs at peak is reported as heap_cost_bytes and peak_pss_bytes", lo=MIN_HEAP, hi=MAX_HEAP, c_field="capacity",
           metavar="SIZE|Nx", multiple=True),
    Option("mode", "choice", "copy", "how compaction fills to-space (default copy: UFFDIO_COPY on "
           "private anonymous memory, as ART has shipped since 2023, the fastest and leanest design "
           "measured here without allocation waits at the default heap; minor is the seed's plan)",
           choices={m: f"{_C}MODE_{m.upper()}" for m in MODES}, c_field="mode"),
    Option("delivery", "choice", "sigbus", "how faults reach a resolver (not with --mode stw: it takes no faults)",
           choices={d: f"{_C}DELIVERY_{d.upper()}" for d in DELIVERIES}, c_field="delivery"),
    Option("gc_threads", "int", 1, "compaction threads", lo=1, hi=MAX_GC_THREADS, c_field="gc_threads",
           metavar="N"),
    Option("marking", "choice", "concurrent", "concurrent marking, or marking inside a pause",
           choices={"concurrent": f"{_C}MARKING_CONCURRENT", "stw": f"{_C}MARKING_STW"}, c_field="marking"),
    Option("gc_install", "bool", True, "GC threads install the pages they build", c_field="gc_install"),
    Option("reuse_tospace", "bool", True, "keep the old from-space half populated for the next cycle",
           c_field="reuse_tospace"),
    Option("order", "choice", "ascending", "order GC threads build pages",
           choices={o: f"{_C}ORDER_{o.upper()}" for o in ORDERS}, c_field="order"),
    Option("trigger", "float", 0.75, "start a cycle when this fraction of the space free after the last "
           "cycle is used, or earlier if the allocation rate needs it (the first cycle at half the heap "
           "at the latest: the rate is not known yet); 1: only when the heap is full", lo=0.0, hi=1.0, lo_open=True,
           c_field="trigger", metavar="F"),
    Option("verify", "bool", False, "verify heap integrity after every cycle", c_field="verify"),
    Option("seed", "int", 0, "random seed", lo=0, hi=U64_MAX, c_field="seed", metavar="N"),
    Option("pretouch", "bool", True, "between cycles the GC thread maps free space ahead of allocation "
           "(--pretouch-window), and a mutator maps what it is about to allocate into out of the world's "
           "way (the rest of its 2 MiB block on anonymous memory with huge pages, 128 KiB elsewhere), so "
           "a pause does not wait for its fresh pages' faults",
           c_field="pretouch"),
    Option("pretouch_window", "bytes", "auto", "with --pretouch: how far ahead of allocation free space "
           "is mapped (auto: a 16th of the heap, at least 16MiB, but never more than 16MiB past where the "
           "next cycle starts; a size: that far, whole; 0: all of it at once, the memory of the whole "
           "capacity)", lo=0, hi=MAX_HEAP, c_field="pretouch_window", metavar="SIZE|auto", auto=True),
    Option("max_free", "bytes", "512MiB", "the free space allocation may use between two cycles, at most "
           "(ART's heapmaxfree): a bigger heap starts its cycles by then, so that it does not touch more "
           "fresh memory than it saves in cycles (on this VM freed memory goes back to the host, and "
           "memory the host backs anew is dear: binarytrees 20 ran faster in every mode with 512 MiB "
           "than with 1 GiB, at 1 GiB and 4 GiB heaps, with 170-450 MiB less peak PSS); the mutators may "
           "still use the whole heap while a cycle runs; 0: no cap, the trigger's fraction of all the free "
           "space", lo=0, hi=MAX_HEAP,
           c_field="max_free", metavar="SIZE|0"),
    Option("young_flip_max", "float", 1.0, "generational, concurrent modes: a young cycle forwards the old "
           "generation's dirty cards in its flip pause (ART rebuilds those pages after the flip instead), so "
           "auto takes a full cycle when that would last longer than this many ms, estimated from the cards "
           "dirty at the cycle's start and the last young flip's time per card (lru --live 128MiB in 512MiB: "
           "young flips of 3-6 ms, full ones 0.2 ms); 0: no limit, ART's rule alone",
           lo=0.0, hi=1000.0, c_field="young_flip_max_ms", metavar="MS"),
    Option("memory", "choice", "auto", "the heap's memory: private anonymous (as ART) or a memfd mapped "
           "twice (the seed's plan; minor needs it); auto: minor shmem, stw, copy and move anon",
           choices={m: f"{_C}MEMORY_{m.upper()}" for m in MEMORIES}, c_field="memory"),
    Option("eager_release", "bool", True, "give from-space back in chunks as compaction goes (ART), "
           "instead of after the cycle", c_field="eager_release"),
    Option("release_gaps", "bool", False, "with eager_release: before the flip, give back every dead gap "
           "of 64 KiB or more (less memory beyond the used bytes during a cycle; the flip waits for it, "
           "which costs allocation waits when the heap is nearly full)", c_field="release_gaps"),
    Option("huge_pages", "bool", None, "huge pages for the heap's memory, so a fresh page costs less per "
           "byte: anonymous memory asks for transparent huge pages (MADV_HUGEPAGE; no effect where the "
           "kernel's THP setting is never); shmem puts the heap's file in a tmpfs of its own mounted "
           "huge=always (needs CAP_SYS_ADMIN; else a memfd with MADV_HUGEPAGE, huge only where "
           "shmem_enabled allows it; the result's options say which: shmem_huge). On shmem it trades "
           "latency for throughput on this VM: minor on binarytrees 21 / 1 GiB 14.6 -> 8.4 s, but lru's "
           "metered p99.9 2-15 -> 40-165 ms (fresh 2 MiB folios the host backs anew, 5 ms each, "
           "block faults that land in them)", optional=True, unset="on for anonymous memory, off for shmem",
           c_field="huge_pages"),
    Option("build_ahead", "bool", False, "GC threads build the pages ahead of a mutator's last fault (from "
           "8 pages past it, in runs of 4 installed at once, up to 64 runs, until a run is all built; "
           "giving from-space back waits meanwhile unless it is urgent) before going on in their order; "
           "it needs "
           "release_pacing, else the GC thread is giving from-space back while the mutator faults (off: "
           "binarytrees 21 / 1 GiB minor, 3 interleaved rounds, with descending order and release_pacing "
           "MMU at 10 ms 0.00, an allocation wait of 528 ms; with keep_tospace too 0.49 against 0.23)",
           c_field="build_ahead"),
    Option("release_pacing", "bool", False, "concurrent modes with eager_release: GC threads give ready "
           "from-space chunks back only while that has taken no more of their time than building pages, "
           "unless a mutator waits for the memory or the room it leaves is under a 16th of the heap. "
           "Without it every ready chunk goes at once, which right after the flip (the dead chunks) kept "
           "the GC thread from building for 80-115 ms on binarytrees 21 / 1 GiB while the mutator built "
           "the black block's pages itself (the fault_map plot). Off by default: there, 3 interleaved "
           "rounds, MMU at 10 ms 0.23 -> 0.28 but peak PSS 775 -> 1023 MiB (from-space held longer); "
           "with descending order, build_ahead and keep_tospace MMU at 10 ms 0.49", c_field="release_pacing"),
    Option("charge_fromspace", "bool", True, "while compaction runs, from-space not given back yet "
           "counts as used: mutators allocate only what the heap's capacity leaves beside it (and wait "
           "while GC threads give it back chunk by chunk), so the memory the heap holds stays within "
           "its budget, as ART's accounting keeps it; off: what a cycle frees is allocatable from the "
           "flip on, while from-space still holds it (the seed's plan)", c_field="charge_fromspace"),
    Option("recycle_fromspace", "bool", False, "shmem: from-space well above the allocation pointer is "
           "kept when compaction is done with it (still charged as used) and becomes the free space "
           "above what the mutators have allocated by the cycle's end, mapped at the same offsets, so "
           "they allocate into memfd pages that exist instead of fresh ones (each a kernel allocation, "
           "clear and page-cache insert); the kept pages are memory beyond the used bytes until "
           "allocated into (binarytrees 21 / 1 GiB, interleaved runs with the prefix in place: wall "
           "13.2 s against 15.4, peak PSS 1119 MiB against 932, 469-627 MiB beyond used), so off by "
           "default: all of from-space is punched and the free space populated afresh",
           c_field="recycle_fromspace"),
    Option("keep_tospace", "bool", False, "shmem, minor (and stw on shmem): from-space below 1.125x "
           "the cycle's live end is not punched, so the next cycle, whose to-space is that memfd half, "
           "builds into pages that exist instead of fresh ones (a kernel allocation, clear and page-cache "
           "insert, about 3 us a page on this VM). Memory beyond the budget between cycles, for a faster "
           "compaction; off by default (2026-12-07, lru --live 128MiB / 512 MiB minor: compaction 236 -> "
           "124 ms a cycle, fault stalls 753 -> 300 ms a run, metered p99.9 no better, peak PSS 503 -> "
           "682 MiB; the metered figure was held back by a 10-17 ms stall at every cycle's end, fixed "
           "since: 15.32 -> 16.77 ms, medians of 4 interleaved); ignored with recycle_fromspace and in "
           "young cycles", c_field="keep_tospace"),
    Option("mutator_recycle", "bool", False, "anon, concurrent modes: while compaction runs, a mutator "
           "that needs fresh memory gets 2 MiB of a from-space chunk compaction is done with, moved into "
           "place with mremap and zeroed by the allocator, instead of a fresh kernel page (8 ready "
           "chunks kept for it; the ones left at the cycle's end become the free space the GC thread "
           "would map ahead). Off by default (2026-12-07, interleaved runs): binarytrees 21 / 1 GiB, the "
           "mutator mapped memory for 0.63 s against 1.15 (wall 6.39 s against 7.32, inside the VM's "
           "noise); at --heap 3x the kept chunks, still charged, cost one run a 118 ms allocation wait; "
           "lru --live 128MiB metered p99.9 54-69 ms against 8-10 (one 178). The moved pages stay "
           "mappings of their own (another anon_vma), so the next flip moves the heap 2 MiB entry by "
           "entry, the mutators asleep", c_field="mutator_recycle"),
    Option("inplace_prefix", "choice", "auto", "shmem, modes that build in place (minor; stw): a full "
           "cycle leaves the dense prefix in the memfd half it is in and updates its pages where they are "
           "(each still faults after the flip until its references are forwarded), instead of copying it "
           "to the other half: no fresh memfd page, no copy and nothing to punch for it (binarytrees 21 / "
           "1 GiB: wall 15.4 s against 16.6 interleaved, median compaction 271 ms against 309). But the "
           "halves' split it leaves makes every second flip move the primary in two mappings, 2 MiB entry "
           "by entry unless the split is on a 1 GiB boundary (flip remap p90 0.23 ms against 0.08 at "
           "1 GiB, with the mutators asleep through such flips; 1.1 ms spinning): auto does only the "
           "prefix's part below a 1 GiB boundary (none in a heap of 1 GiB or less), on all of it, off none",
           choices={"off": f"{_C}INPLACE_OFF", "on": f"{_C}INPLACE_ON", "auto": f"{_C}INPLACE_AUTO"},
           c_field="inplace_prefix"),
    Option("huge_moves", "bool", True, "move: GC threads build whole 2 MiB blocks of to-space into "
           "recycled from-space huge pages and move each with one UFFDIO_MOVE (the kernel moves one PMD: "
           "one TLB flush for 512 pages, no split of the huge page), and install everything else (runs, "
           "blocks a mutator faulted in, the mutators' own faults) with UFFDIO_COPY, which costs less here "
           "than a 4 KiB MOVE (benchmarks/move_cost.c); off: UFFDIO_MOVE in runs of 16 pages, as ART",
           c_field="huge_moves"),
    Option("generational", "choice", "auto", "generational cycles as ART's CMC since 2024: young cycles "
           "mark from the roots and the old generation's dirty cards and move only what is younger, "
           "leaving the old generation (survived two cycles) where it is; full cycles when the heap is "
           "under a quarter free or young cycles free less than half as fast; on shmem a young cycle "
           "flips only what lies above the old generation, which stays in its memfd half; auto: on "
           "where the memory is anonymous (faster on binarytrees 21 and gcbench in every such mode, "
           "benchmarks/designs) and on shmem with huge pages (binarytrees 21 / 1 GiB minor: 6.9 s "
           "against 8.9, worst stall no worse), off on shmem of small pages (there the young flips "
           "cost worse pauses: 1.09 ms against 0.12); the result's options say what auto became",
           choices={"off": f"{_C}GEN_OFF", "on": f"{_C}GEN_ON", "auto": f"{_C}GEN_AUTO"}, c_field="generational"),
    Option("dense_prefix", "float", 0.95, "the leading pages at least this live are not moved (ART's "
           "black-dense prefix; 0: off)", lo=0.0, hi=1.0, c_field="dense_prefix", metavar="F"),
    Option("design", "choice", None, "a named design, setting the knobs it names unless given: "
           + "; ".join(f"{k}: " + ", ".join(f"{n}={v}" for n, v in d.items()) for k, d in DESIGNS.items()),
           choices=tuple(DESIGNS), optional=True, metavar="|".join(DESIGNS), unset="none"),
    # run only
    Option("size", "int", None, "the workload's own size parameter (binarytrees: depth)",
           lo=1, hi=2**62, optional=True, scope="run", metavar="N", unset="the workload's own"),
    Option("mutators", "int", 1, "mutator threads", lo=1, hi=MAX_MUTATORS, scope="run", metavar="N"),
    Option("jvm", "str", None, "run the workload's JVM peer with this collector instead: "
           + "|".join(JVM_GCS) + " or a JDK 25 one such as 25:genzgc, 25:genshen",
           optional=True, scope="run", metavar="GC", unset="none: artgc's own heap"),
    Option("live", "size", None, "lru: the cache's live data, e.g. 128MiB", optional=True, scope="run",
           lo=1, metavar="SIZE"),
)
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}
HEAP_OPTIONS: tuple[Option, ...] = tuple(o for o in OPTIONS if o.scope == "heap")
RUN_OPTIONS: tuple[Option, ...] = OPTIONS


def defaults(scope: str = "run") -> dict[str, Any]:
    return {o.name: o.default for o in OPTIONS if scope == "run" or o.scope == scope}


def validate(values: Mapping[str, Any], scope: str = "run") -> dict[str, Any]:
    """Every option of ``scope`` ("heap" or "run"), defaults filled in, each
    checked; unknown names and contradictions are refused."""
    table = {o.name: o for o in OPTIONS if scope == "run" or o.scope == scope}
    unknown = sorted(set(values) - set(table))
    if unknown:
        raise TypeError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                        f"valid: {', '.join(table)}")
    design = values.get("design")
    # None for a knob a design sets means "not given"; elsewhere it is checked
    given = {k: v for k, v in values.items() if v is not None or k not in PRESET_KEYS}
    if design is not None:
        BY_NAME["design"].check(design)
        given = {**DESIGNS[design], **given}
    out = {name: opt.check(given.get(name, opt.default)) for name, opt in table.items()}
    check_combination(out)
    if "huge_pages" in out and out["huge_pages"] is None:
        out["huge_pages"] = memory_of(out) == "anon"
    if out.get("generational") == "auto":
        out["generational"] = resolve_generational(out)
    return out


def resolve_generational(v: Mapping[str, Any]) -> str:
    """What generational "auto" is for these options: "on" on anonymous
    memory, "off" on shmem without huge pages, and on shmem with them
    "auto" still: whether the heap's file gets huge pages is known only
    once it exists (the C core resolves it then; Heap.generational and a
    run's options say what it became)."""
    if memory_of(v) == "anon":
        return "on"
    return "auto" if v.get("huge_pages", True) else "off"


def memory_of(v: Mapping[str, Any]) -> str:
    """The memory a heap of these options runs on: the option, or the
    mode's default (minor: shmem; stw, copy, move: anon)."""
    mem = v.get("memory") or "auto"
    if mem != "auto":
        return str(mem)
    return "shmem" if v.get("mode") == "minor" else "anon"


def check_combination(v: Mapping[str, Any]) -> None:
    """Refuse options that contradict each other."""
    if v.get("mode") == "minor" and v.get("memory") == "anon":
        raise ValueError("--mode minor needs --memory shmem: UFFDIO_CONTINUE maps pages of a shared "
                         "mapping's page cache, which private anonymous memory has not")
    if v.get("mode") == "move" and v.get("memory") == "shmem":
        raise ValueError("--mode move needs --memory anon: Linux's UFFDIO_MOVE refuses shmem "
                         "(see heap/testing/uffd_selftest.c)")
    if v.get("mode") == "stw" and v.get("delivery") == "thread":
        raise ValueError("--delivery thread does not apply to --mode stw: stop-the-world compaction "
                         "takes no userfaultfd faults; use --mode copy|minor|move with --delivery thread, "
                         "or drop --delivery")


# options a design sets: None (not given) lets the design or the table decide
PRESET_KEYS: frozenset[str] = frozenset(k for d in DESIGNS.values() for k in d)


def design_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a run used for the knobs designs name (for the result)."""
    return {k: values[k] for k in sorted(PRESET_KEYS) if k in values}


# --------------------------------------------------------------------------- the C struct

@dataclass(frozen=True)
class HeapOptions:
    """Validated heap options (heap capacity in bytes); :meth:`to_c` builds
    the ``agc_options`` both :class:`artgc.Heap` and :func:`artgc.run` pass
    to ``agc_heap_create``."""

    values: dict[str, Any] = field(default_factory=dict)

    @property
    def capacity(self) -> int:
        return int(self.values["heap"])

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def to_c(self) -> Any:
        from ._lib import ffi, lib
        o = ffi.new("agc_options *")
        lib.agc_options_default(o)
        have = {f for f, _ in ffi.typeof("agc_options").fields}
        for opt in HEAP_OPTIONS:
            if opt.c_field is None or opt.c_field not in have:
                continue
            setattr(o, opt.c_field, _to_c(opt, self.values[opt.name], lib))
        return o


def _to_c(opt: Option, value: Any, lib: Any) -> Any:
    if opt.kind == "choice":
        assert isinstance(opt.choices, Mapping)
        return int(getattr(lib, opt.choices[value]))
    if opt.kind == "bool":
        return 1 if value else 0
    if opt.kind == "size":
        return parse_size(value, opt.name)
    if opt.kind == "bytes":
        if opt.auto and value == "auto":
            return AUTO_BYTES
        return 0 if value in (0, "0") else parse_size(value, opt.name)
    if opt.kind == "float":
        return float(value)
    return int(value)


def heap_options(heap: int | str = "64MiB", **kw: Any) -> HeapOptions:
    """The options of a heap whose capacity is known in bytes (a multiple
    such as "3x" needs a workload: :func:`artgc.run` resolves it first)."""
    if is_multiple(heap):
        raise ValueError(f"heap {heap!r}: a multiple of the minimum heap needs a workload "
                         "(artgc.run / artgc run); give Heap a size such as 64MiB")
    v = validate({"heap": heap, **kw}, scope="heap")
    v["heap"] = parse_size(v["heap"], "heap")
    return HeapOptions(v)


# --------------------------------------------------------------------------- argparse

def add_arguments(p: argparse.ArgumentParser, scope: str = "run",
                  skip: Iterable[str] = (), defaults_override: Mapping[str, Any] | None = None) -> None:
    """Add one flag per option of the table to an argparse parser. Values are
    parsed by the table's checks afterwards (so the CLI and the API give the
    same messages); bools get --name / --no-name."""
    over = dict(defaults_override or {})
    skip = set(skip)
    for o in OPTIONS:
        if not o.cli or o.name in skip or (scope == "heap" and o.scope != "heap"):
            continue
        default = over.get(o.name, o.default)
        shown = "on" if default is True else "off" if default is False else o.unset if default is None else default
        if o.name in PRESET_KEYS and o.name not in over:
            default = None      # not given: the --design's setting, else the table's default
        limits = o.limits_text() if o.kind in ("int", "float") else ""
        help_ = f"{o.help}" + (f" ({limits})" if limits else "")
        help_ += f" (default: {shown})"
        dest = o.name
        if o.kind == "bool":
            p.add_argument(o.flag, dest=dest, action=argparse.BooleanOptionalAction, default=default,
                           help=help_)
        elif o.kind == "int":
            p.add_argument(o.flag, dest=dest, type=int, default=default, metavar=o.metavar or "N", help=help_)
        elif o.kind == "float":
            p.add_argument(o.flag, dest=dest, type=float, default=default, metavar=o.metavar or "F", help=help_)
        else:
            metavar = o.metavar or ("|".join(o.names()) if o.choices else None)
            p.add_argument(o.flag, dest=dest, default=default, metavar=metavar, help=help_)


def from_namespace(ns: argparse.Namespace, scope: str = "run") -> dict[str, Any]:
    """The table's options out of parsed arguments (as keywords for run())."""
    return {o.name: getattr(ns, o.name) for o in OPTIONS
            if hasattr(ns, o.name) and (scope == "run" or o.scope == "heap")}


def to_argv(values: Mapping[str, Any]) -> list[str]:
    """The inverse of the parser: ``artgc run`` flags for these values (only
    those given and differing from the default)."""
    out: list[str] = []
    for name, v in values.items():
        o = BY_NAME.get(name)
        if o is None or v is None:
            continue
        if o.kind == "bool":
            out.append(o.flag if v else "--no-" + o.flag[2:])
        else:
            out += [o.flag, str(v)]
    return out
