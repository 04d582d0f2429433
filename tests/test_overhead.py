"""GC overhead across runtimes: wall over the same runtime's fastest
stop-the-world collector (artgc stw; the JVM's Parallel GC, Serial without
it), in the API, bench's tables and CSV, and its plot."""
from __future__ import annotations

from typing import Any

import pytest

from artgc import overhead
from artgc.bench import summary_csv, summary_markdown


def _rec(mode: str, wall: float, heap: int = 1 << 30, size: int = 21, wl: str = "binarytrees",
         **kw: Any) -> dict[str, Any]:
    r = {"workload": wl, "size": size, "mode": mode, "delivery": None if mode.startswith("jvm-") else "sigbus",
         "heap_bytes": heap, "mutators": 1, "gc_threads": 1, "wall_s": wall, "status": "ok"}
    r.update(kw)
    return r


def test_runtime_and_reference_names() -> None:
    assert overhead.runtime_of("minor") == "artgc"
    assert overhead.runtime_of("jvm-shenandoah") == "jvm17"
    assert overhead.runtime_of("jvm-25:genshen") == "jvm25"
    assert overhead.reference_modes("jvm17")[0] == "jvm-parallel"
    assert overhead.reference_modes("jvm25") == ("jvm-25:parallel", "jvm-25:serial")


def test_each_runtime_against_its_own_fastest_stw() -> None:
    recs = [_rec("stw", 10.0, heap=1 << 30), _rec("stw", 8.0, heap=4 << 30), _rec("stw", 9.0, heap=4 << 30),
            _rec("minor", 12.0), _rec("minor", 14.0),
            _rec("jvm-parallel", 2.0, peer=True), _rec("jvm-serial", 1.0, peer=True),
            _rec("jvm-shenandoah", 5.0, peer=True),
            _rec("jvm-25:genshen", 6.0, peer=True), _rec("jvm-25:serial", 3.0, peer=True),
            _rec("minor", 1.0, size=16, wl="gcbench")]
    groups = overhead.group_runs(recs)
    out = {k[4] + f"@{k[0]}/{k[2] >> 30}": v for k, v in overhead.overheads(groups).items()}
    # artgc: the fastest stw point (4 GiB, median 8.5 s), not the same heap's
    assert out["minor@binarytrees/1"] == (pytest.approx(13.0 / 8.5), "stw at 4GiB")
    assert out["stw@binarytrees/1"][0] == pytest.approx(10.0 / 8.5)
    # JDK 17: Parallel is the reference even where Serial is faster
    assert out["jvm-shenandoah@binarytrees/1"] == (pytest.approx(2.5), "jvm-parallel")
    assert out["jvm-serial@binarytrees/1"] == (pytest.approx(0.5), "jvm-parallel")
    # JDK 25 without Parallel: Serial of the same JDK
    assert out["jvm-25:genshen@binarytrees/1"] == (pytest.approx(2.0), "jvm-25:serial")
    # no stw run of gcbench: no reference, no figure
    assert out["minor@gcbench/1"] is None


def test_failed_and_skipped_runs_do_not_count() -> None:
    recs = [_rec("stw", 1.0, status="failed"), _rec("stw", 4.0), _rec("copy", 6.0),
            _rec("stw", 0.5, status="skipped")]
    out = overhead.overheads(overhead.group_runs(recs))
    assert sorted(v[0] for v in out.values() if v) == [pytest.approx(1.0), pytest.approx(1.5)]


def test_bench_tables_and_csv_carry_the_figure() -> None:
    runs = [_rec("stw", 4.0, point="bt/stw", cycles=[{}]), _rec("copy", 6.0, point="bt/copy", cycles=[{}])]
    doc = {"suite": "custom", "runs": runs, "peers": [_rec("jvm-parallel", 2.0, peer=True, point="bt/jvm-parallel"),
                                                      _rec("jvm-g1", 3.0, peer=True, point="bt/jvm-g1")]}
    md = summary_markdown(doc)
    assert "wall / STW ref" in md
    line = next(ln for ln in md.splitlines() if ln.startswith("| copy"))
    assert line.rstrip().endswith("| 1.50 |")
    g1 = next(ln for ln in md.splitlines() if "g1" in ln.lower() and ln.startswith("|"))
    assert g1.rstrip().endswith("| 1.50 |")
    assert "(jvm-parallel, stw at 1GiB)" in md
    csv = summary_csv(doc).splitlines()
    head = csv[0].split(",")
    i = head.index("gc_overhead")
    copy_row = next(r.split(",") for r in csv[1:] if r.startswith("bt/copy"))
    assert float(copy_row[i]) == pytest.approx(1.5) and copy_row[i + 1] == "stw at 1GiB"


def test_plot_draws_or_says_why_not() -> None:
    from artgc.plots import plot_gc_overhead
    runs = [_rec("stw", 4.0, cycles=[{}]), _rec("copy", 6.0, cycles=[{}])]
    assert plot_gc_overhead({"runs": runs}) is not None
    notes: list[str] = []
    assert plot_gc_overhead({"runs": [_rec("copy", 6.0, cycles=[{}])]}, notes) is None
    assert notes and "gc_overhead" in notes[0]
