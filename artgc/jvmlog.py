"""Reading the JVM's unified log (``-Xlog:gc*,safepoint``) into artgc's stall
accounting.

A peer runs with ``-Xlog:gc*=info,safepoint=info:file=LOG:uptimenanos,level,tags``
so that each line starts with ``[<uptime>ns][info][<tags>]``. From it:

* **Safepoints** (every one is a pause of every Java thread, GC or not), e.g.
  JDK 17: ``Safepoint "G1CollectForAllocation", Time since last: 26366445 ns,
  Reaching safepoint: 4267 ns, Cleanup: 6139 ns, At safepoint: 3959388 ns,
  Total: 3969794 ns``; JDK 25 has ``Leaving safepoint`` instead of ``Cleanup``.
  ``Total`` (time-to-safepoint included) is the pause; the line is logged when
  the safepoint ends.
* **The stalls the GC log names**, on the ``[gc]`` tag:
  ZGC (both JDKs) ``Allocation Stall (main) 76.771ms``: a thread waited for
  memory outside any safepoint, so it is an ``alloc_wait`` of that thread;
  Shenandoah ``Pause Degenerated GC (...) 45M->16M(48M) 13.531ms`` and
  ``Pause Full``, G1/Parallel/Serial ``Pause Full (...)`` and G1's
  ``(G1 Humongous Allocation)`` pauses: these run inside a safepoint, so they
  are ``pause`` stalls already counted by that safepoint; they are kept as
  named stalls (``gc_pauses``) and only added when no safepoint covers them
  (a log without safepoint lines). Shenandoah's pacing delays are not logged
  per allocation and are not counted.
* **The heap after each cycle**: ZGC's ``Live:`` row (the live bytes at
  relocate end; generational ZGC: young plus old, the latest of each), else
  the ``[gc]`` summary line's ``A->B(C)`` (B: the heap used after the cycle).
"""
from __future__ import annotations

import re
from typing import Any

_UPTIME = re.compile(r"^\[(?:(?P<ns>\d+)ns|(?P<s>[\d.]+)s)\]")
_TAGS = re.compile(r"^\[[^\]]*\]\[(?:trace|debug|info|warning|error)\s*\]\[(?P<tags>[a-z0-9,+ ]+)\]")
_SAFEPOINT = re.compile(
    r"Safepoint \"(?P<name>[^\"]*)\".*?Reaching safepoint: (?P<reach>\d+) ns.*?"
    r"At safepoint: (?P<at>\d+) ns.*?Total: (?P<total>\d+) ns")
_ALLOC_STALL = re.compile(r"Allocation Stall \((?P<thread>[^)]*)\) (?P<ms>[\d.]+)ms")
_GC_PAUSE = re.compile(r"GC\((?P<gc>\d+)\) (?P<name>Pause .*?)\s+(?:\d+[KMGB]\S*\s+)?(?P<ms>[\d.]+)ms\s*$")
_NAMED = ("Pause Degenerated GC", "Pause Full", "Humongous")
_UNITS = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_HEAP_AFTER = re.compile(r"GC\(\d+\) .*?\d+[KMGB](?:\(\d+%\))?->(?P<n>\d+)(?P<u>[KMGB])")
_ZLIVE = re.compile(r"GC\(\d+\) (?:(?P<gen>[YyOo]): )?\s*Live:\s+-\s+\S+\s*\S*\s+\S+\s*\S*\s+(?P<n>\d+)(?P<u>[KMGB])")


def uptime_ns(line: str) -> int | None:
    """The line's uptime decorator in ns ([123ns] or [0.048s]), or None."""
    up = _UPTIME.match(line)
    if not up:
        return None
    return int(up["ns"]) if up["ns"] else int(float(up["s"]) * 1e9)


def tags(line: str) -> str | None:
    """The line's tag set, spaces stripped ("gc", "gc,heap", "safepoint")."""
    m = _TAGS.match(line)
    return m["tags"].replace(" ", "") if m else None


def parse_safepoint_log(text: str) -> list[dict[str, Any]]:
    """Every safepoint: name, uptime when logged (its end; ns) and
    reaching/at/total in ns."""
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        m = _SAFEPOINT.search(line)
        if m:
            out.append({"name": m["name"], "uptime_ns": uptime_ns(line), "reaching_ns": int(m["reach"]),
                        "at_ns": int(m["at"]), "total_ns": int(m["total"])})
    return out


def parse_gc_stalls(text: str) -> list[dict[str, Any]]:
    """The stalls the [gc] log names: {"kind": "alloc_wait" | "pause", "name",
    "thread" (alloc waits) , "uptime_ns" (end), "dur_ns"}. Pauses are the
    degenerated/full/humongous ones only (other GC pauses are plain
    safepoints and come from the safepoint log)."""
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        if tags(line) != "gc":
            continue
        up = uptime_ns(line)
        m = _ALLOC_STALL.search(line)
        if m:
            out.append({"kind": "alloc_wait", "name": "Allocation Stall", "thread": m["thread"],
                        "uptime_ns": up, "dur_ns": int(round(float(m["ms"]) * 1e6))})
            continue
        m = _GC_PAUSE.search(line)
        if m and any(n in line for n in _NAMED):
            out.append({"kind": "pause", "name": m["name"].strip(), "thread": None, "uptime_ns": up,
                        "dur_ns": int(round(float(m["ms"]) * 1e6))})
    return out


def parse_live(text: str) -> list[tuple[int, int]]:
    """(uptime ns, bytes) after each cycle: ZGC's Live rows when present,
    else the [gc] lines' heap-after figure."""
    zlive: list[tuple[int, int]] = []
    gens: dict[str, int] = {}
    after: list[tuple[int, int]] = []
    for line in text.splitlines():
        up = uptime_ns(line)
        if up is None:
            continue
        t = tags(line)
        if t == "gc,heap":
            m = _ZLIVE.search(line)
            if m:
                gens[(m["gen"] or "-").upper()] = int(m["n"]) * _UNITS[m["u"]]
                zlive.append((up, sum(gens.values())))
        elif t == "gc":
            m = _HEAP_AFTER.search(line)
            if m:
                after.append((up, int(m["n"]) * _UNITS[m["u"]]))
    return zlive or after


def thread_index(name: str | None) -> int:
    """A Java thread's name as a mutator index: "main" and unnumbered names
    0, "pool-1-thread-3" 2 (1-based pool), "lru-2"/"gcbench-2" 2."""
    if not name:
        return 0
    m = re.fullmatch(r"pool-\d+-thread-(\d+)", name)
    if m:
        return max(0, int(m[1]) - 1)
    m = re.search(r"-(\d+)$", name)
    return int(m[1]) if m else 0


def stalls(text: str, mutators: int = 1) -> dict[str, Any]:
    """Every stall of a JVM run as artgc accounts them.

    Returns {"events": columns (t_start_ns, dur_ns, thread, kind, cycle,
    phase; JVM uptime), "safepoints", "gc_stalls"}. A safepoint stops every
    mutator: one pause event per mutator thread (as artgc records a pause
    once per mutator). An allocation stall is its thread's. A named GC pause
    inside a safepoint (the safepoint ends at or after its line and starts
    before the pause began) is that safepoint's, not added again."""
    from .metrics import EV_ALLOC_WAIT, EV_PAUSE
    sps = [s for s in parse_safepoint_log(text) if s["uptime_ns"] is not None]
    gcs = parse_gc_stalls(text)
    spans = [(s["uptime_ns"] - s["total_ns"], s["uptime_ns"]) for s in sps]
    rows: list[tuple[int, int, int, int]] = []  # start, dur, thread, kind
    for s0, s1 in spans:
        for t in range(max(1, mutators)):
            rows.append((max(0, s0), s1 - s0, t, EV_PAUSE))
    for g in gcs:
        if g["uptime_ns"] is None:
            continue
        start = g["uptime_ns"] - g["dur_ns"]
        if g["kind"] == "alloc_wait":
            rows.append((max(0, start), g["dur_ns"], thread_index(g["thread"]), EV_ALLOC_WAIT))
            continue
        covered = any(s0 <= start + 1000 and s1 >= g["uptime_ns"] - 1000 for s0, s1 in spans)
        g["in_safepoint"] = covered
        if not covered:
            for t in range(max(1, mutators)):
                rows.append((max(0, start), g["dur_ns"], t, EV_PAUSE))
    rows.sort()
    ev = {"t_start_ns": [r[0] for r in rows], "dur_ns": [r[1] for r in rows],
          "thread": [r[2] for r in rows], "kind": [r[3] for r in rows],
          "cycle": [0] * len(rows), "phase": [0] * len(rows)}
    return {"events": ev, "safepoints": sps, "gc_stalls": gcs}
