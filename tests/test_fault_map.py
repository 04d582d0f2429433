"""Fault events name the page a mutator built and the GC threads' progress
then; artgc.faultmap and the fault_map plot read them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import artgc
from artgc import metrics
from artgc.faultmap import fault_map
from artgc.plots import plot_fault_map
from artgc.results import dumps, validate, write_json


def _run(require_mode, delivery: str = "sigbus", order: str = "ascending") -> dict:
    require_mode("minor", delivery)
    r = artgc.run("binarytrees", size=17, heap="48MiB", mode="minor", delivery=delivery, order=order)
    return r.to_summary_dict()


@pytest.mark.parametrize("delivery", ["sigbus", "thread"])
def test_fault_events_name_their_page_within_the_cycle(require_mode, delivery: str) -> None:
    run = _run(require_mode, delivery)
    cols = metrics.events_columns(run["events"])
    pages = {int(c["index"]): int(c["pages"]) for c in run["cycles"]}
    f = cols["kind"] == metrics.EV_FAULT
    assert f.sum() > 0, "binarytrees 17 in 48 MiB faults in nearly every cycle"
    for cyc, page, claimed in zip(cols["cycle"][f], cols["page"][f], cols["claimed"][f]):
        assert 0 <= page < pages[int(cyc)] and 0 <= claimed <= pages[int(cyc)]
    other = ~f
    assert not cols["page"][other].any() and not cols["claimed"][other].any()
    maps = fault_map(run)
    assert sum(m.page.size for m in maps) == int(f.sum())
    for m in maps:
        assert m.npages == pages[m.index] and m.page.size == m.t_ms.size == m.gc_page.size
        assert 0 <= m.black_pages <= m.npages
        assert np.all((m.gc_page >= 0) & (m.gc_page <= m.npages))
        assert 0.0 <= m.in_black <= 1.0 and m.t_ms.min() >= -1.0   # faults come after the flip
    top = fault_map(run, most=2)
    assert len(top) == min(2, len(maps)) and [m.index for m in top] == sorted(m.index for m in top)
    chosen = {m.index for m in top}
    rest = [m.page.size for m in maps if m.index not in chosen]
    assert min(m.page.size for m in top) >= max(rest, default=0)


def test_descending_order_counts_claims_from_the_top(require_mode) -> None:
    run = _run(require_mode, order="descending")
    assert run["options"]["order"] == "descending"
    cols = metrics.events_columns(run["events"])
    f = cols["kind"] == metrics.EV_FAULT
    for m in fault_map(run):
        assert m.order == "descending"
        claimed = cols["claimed"][f & (cols["cycle"] == m.index)]
        assert np.array_equal(np.sort(m.gc_page), np.sort(m.npages - claimed))


def test_the_pages_survive_json_and_older_results_read_as_zeros(require_mode, tmp_path: Path) -> None:
    run = _run(require_mode)
    p = tmp_path / "r.json"
    write_json(run, p)
    doc = json.loads(p.read_text())
    a, b = metrics.events_columns(run["events"]), metrics.events_columns(doc["events"])
    assert np.array_equal(a["page"], b["page"]) and np.array_equal(a["claimed"], b["claimed"])
    old = {k: v for k, v in doc["events"].items() if k not in ("page", "claimed")}
    cols = metrics.events_columns(old)
    assert cols["page"].size == cols["t_start_ns"].size and not cols["page"].any()
    rows = [{k: old[k][i] for k in old} for i in range(3)]
    assert not metrics.events_columns(rows)["claimed"].any()
    assert fault_map({**doc, "events": old}) == []


def test_the_plot_draws_the_cycles_with_most_faults_and_skips_without(require_mode) -> None:
    run = _run(require_mode)
    fig = plot_fault_map(validate(json.loads(dumps(run)), "run"))
    assert fig is not None and 1 <= len(fig.axes) <= 4
    assert "Where the mutator faults landed" in str(fig.get_suptitle())
    stw = artgc.run("binarytrees", size=14, heap="16MiB", mode="stw").to_summary_dict()
    notes: list[str] = []
    assert plot_fault_map(validate(json.loads(dumps(stw)), "run"), notes) is None and notes and notes[0].startswith("fault_map:")
