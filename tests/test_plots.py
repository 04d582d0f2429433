"""The plots on small synthetic results, with and without the newer keys
(stalls_ns, memory_timeline, peak_pss_bytes, latency_ns, heap_multiple,
cycle kinds): files written, no exception, and each figure says what it left
out. Behaviour only: nothing here depends on timing."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from artgc import metrics, plots
from artgc.plots import _data, heapmap, timeline
from artgc.results import FORMAT_VERSION
from test_bench import _synthetic_run

MiB = 1 << 20


def _run(mode: str, delivery: str = "sigbus", heap: int = 64 * MiB, workload: str = "binarytrees",
         seed: int = 0, cycles: int = 3, new: bool = False, mult: float | None = None) -> dict[str, Any]:
    """test_bench's synthetic run (3 cycles, each with a pause and, in the
    concurrent modes, 20 fault stalls) plus one allocation wait and heap maps
    recorded at different bin sizes; cycles=0: a run that never collected;
    new=True: with the newer keys too."""
    r = _synthetic_run(mode, delivery, heap, workload, seed)
    ev, cyc = r["events"], r["cycles"]
    for k, v in zip(ev, (cyc[1]["t_start_ns"] + 5_000_000, 900_000, 0, 2, 1, 0)):   # one allocation wait
        ev[k].append(v)
    before = r["heap_map_before"]
    r.update(seed=seed, alloc_stalls_ns=[900_000], heap_map_before_pages_per_bin=3,
             heap_map_after=sorted(before, reverse=True)[: len(before) // 2], heap_map_after_pages_per_bin=2)
    kinds, durs = np.array(ev["kind"], dtype=int), np.array(ev["dur_ns"], dtype=int)
    if not cycles:
        r.update(cycles=[], pauses_ns=[], fault_stalls_ns=[], alloc_stalls_ns=[], heap_map_before=[],
                 heap_map_after=[], events={k: [] for k in ev})
        kinds = durs = np.zeros(0, dtype=int)
    if new:
        # fault events name their to-space page and the GC threads' claims then
        ev["page"] = [(250 - 3 * i) % 256 if k == 1 else 0 for i, k in enumerate(ev["kind"])]
        ev["claimed"] = [min(255, 16 * (i % 8)) if k == 1 else 0 for i, k in enumerate(ev["kind"])]
        for c in r["cycles"]:
            c["black_bytes"] = c["black_moved_bytes"] = 64 * 4096
        kind_names = {0: "pause", 1: "fault", 2: "alloc_wait"}
        r["stalls_ns"] = durs.tolist()
        r["stall_kinds"] = [kind_names[int(k)] for k in kinds]
        wall = int(r["wall_s"] * 1e9)
        t = np.linspace(0, wall, 40).astype(int)
        r["memory_timeline"] = {"t_ns": t.tolist(), "pss_bytes": (heap // 2 + t // 100).tolist(),
                                "rss_bytes": (heap + t // 100).tolist(), "anon_bytes": [MiB] * t.size,
                                "memfd_bytes": [heap] * t.size, "meta_bytes": [MiB // 4] * t.size,
                                "used_bytes": [heap // 4] * t.size,
                                "live_t_ns": [c["t_end_ns"] - r["t0_ns"] for c in r["cycles"]],
                                "live_bytes": [MiB] * len(r["cycles"])}
        r["peak_pss_bytes"] = int(heap // 2 + wall // 100 + seed * MiB)
        r["base_pss_bytes"] = 10 * MiB
        for i, c in enumerate(r["cycles"]):
            c["kind"] = "full" if i == len(r["cycles"]) - 1 else "young"
        if workload == "lru":
            lat = np.random.default_rng(seed).lognormal(10, 1, 5000)
            r["latency_ns"] = lat.astype(int).tolist()
            r["metered_latency_ns"] = (lat * 1.5).astype(int).tolist()
        if mult is not None:
            r["heap_multiple"] = mult
    return r


def _jvm(new: bool, workload: str = "binarytrees", in_runs: bool = False) -> dict[str, Any]:
    r = {"version": FORMAT_VERSION, "workload": workload, "mode": "jvm-g1", "delivery": None, "heap_bytes": 256 * MiB,
         "mutators": 1, "gc_threads": None, "size": 16, "seed": 0, "kernel": None, "wall_s": 0.5, "output": "",
         "verified": None, "pauses_ns": [3_000_000, 5_000_000], "fault_stalls_ns": [], "cycles": [],
         "peak_rss_bytes": 1, "peer": True, "status": "ok",
         "events": {"t_start_ns": [1e8, 3e8], "dur_ns": [3e6, 5e6], "thread": [0, 0], "kind": [0, 0],
                    "cycle": [0, 1], "phase": [3, 3]}, "t0_ns": 0, "t1_ns": 500_000_000}
    if in_runs:   # the newer shape: a run with runtime "jvm" and the collector's name
        r.update(mode="shenandoah", runtime="jvm", jvm="25:genshen")
        del r["peer"]
    if new:
        r.update(stalls_ns=[3_000_000, 5_000_000, 9_000_000], stall_kinds=["pause", "pause", "alloc_wait"],
                 peak_pss_bytes=300 * MiB,
                 memory_timeline={"t_ns": [0, 250_000_000, 500_000_000], "pss_bytes": [100 * MiB, 300 * MiB, 200 * MiB],
                                  "rss_bytes": [0, 0, 0], "anon_bytes": [0, 0, 0], "memfd_bytes": [0, 0, 0],
                                  "meta_bytes": [0, 0, 0]})
        if workload == "lru":
            lat = np.random.default_rng(1).lognormal(10.5, 1.2, 5000)
            r["latency_ns"] = lat.astype(int).tolist()
            r["metered_latency_ns"] = (lat * 2).astype(int).tolist()
    return r


def _doc(new: bool) -> dict[str, Any]:
    runs = []
    for inv in range(3):                 # 3 invocations of each point
        for h, m in ((64 * MiB, 2.0), (256 * MiB, 8.0)):
            for mode, dl in (("stw", "sigbus"), ("minor", "sigbus"), ("minor", "thread"), ("copy", "sigbus")):
                runs.append(_run(mode, dl, h, seed=inv, new=new, mult=m))
        runs.append(_run("minor", workload="lru", seed=inv, new=new))
        runs.append(_run("copy", workload="lru", seed=inv, new=new))
    runs.append(_run("move", heap=256 * MiB, cycles=0, new=new))     # never collected: left out
    runs.append({"workload": "graph", "mode": "move", "status": "skipped", "error": "no MOVE here"})
    peers = [_jvm(new), _jvm(new, "lru")]
    if new:
        runs.append(_jvm(new, "lru", in_runs=True))
    probe = {"uffd": {"available": True, "features": {"minor_shmem": True}},
             "limits": {"minor_continue_sigbus_us": 4.2, "missing_copy_sigbus_us": 5.3,
                        "minor_continue_thread_us": None}}
    return {"version": FORMAT_VERSION, "suite": "synthetic", "machine": {"ncpu": 2}, "kernel": {},
            "probe": probe, "runs": runs, "peers": peers}


def _suptitle(fig: Any) -> str:
    """The figure's title and note, whitespace (line wrapping) normalised."""
    return " ".join(str(fig.get_suptitle()).split())


def test_older_results_draw_every_classic_plot_and_skip_the_new_ones_with_a_note(tmp_path: Path) -> None:
    notes: list[str] = []
    errors: list[str] = []
    paths = plots.plot_results(_doc(new=False), out=tmp_path, errors=errors, notes=notes)
    assert errors == []
    names = {Path(p).name for p in paths}
    for name in plots.PLOTS:
        assert f"{name}.png" in names and f"{name}.svg" in names, name
    for name in plots.NEW_PLOTS:
        assert f"{name}.png" not in names, name
        assert any(n.startswith(f"{name}:") for n in notes), (name, notes)
    assert all(Path(p).stat().st_size > 1000 for p in paths)


def test_newer_results_draw_every_plot(tmp_path: Path) -> None:
    notes: list[str] = []
    errors: list[str] = []
    paths = plots.plot_results(_doc(new=True), out=tmp_path, errors=errors, notes=notes)
    assert errors == [] and notes == []
    names = {Path(p).name for p in paths}
    for name in plots.ALL_PLOTS:
        assert f"{name}.png" in names and f"{name}.svg" in names, name


@pytest.mark.parametrize("new", [False, True])
@pytest.mark.parametrize("name", list(plots.ALL_PLOTS))
def test_each_plot_alone_never_raises(name: str, new: bool) -> None:
    doc = _doc(new)
    fig = plots.ALL_PLOTS[name](doc, None)
    if name in plots.PLOTS or new:
        assert fig is not None


def test_runs_without_a_cycle_are_left_out_of_mmu_and_stalls_and_said_so() -> None:
    doc = _doc(new=False)
    for fn in (plots.plot_mmu, plots.plot_worst_stall):
        title = _suptitle(fn(doc))
        assert "left out" in title and "move/sigbus (binarytrees)" in title, title
    # the pause panels: a run without a pause is no curve, and the note names it
    title = _suptitle(plots.plot_pause_cdf(doc))
    assert "left out" in title and "move/sigbus" in title


def test_a_document_of_runs_without_cycles_gives_no_mmu_and_a_reason() -> None:
    doc = _doc(new=False)
    doc["runs"] = [_run("stw", cycles=0), _run("minor", cycles=0)]
    doc["peers"] = []
    notes: list[str] = []
    assert plots.plot_mmu(doc, notes) is None
    assert notes and notes[0].startswith("mmu:") and "minor/sigbus" in notes[0]


def test_pause_vs_heap_uses_heap_multiples_when_every_run_has_one() -> None:
    fig = plots.plot_pause_vs_heap(_doc(new=True))
    assert any("multiple of the minimum heap" in ax.get_xlabel() for ax in fig.axes)
    fig_old = plots.plot_pause_vs_heap(_doc(new=False))
    assert all("multiple" not in ax.get_xlabel() for ax in fig_old.axes)
    assert "absolute heap" in _suptitle(fig_old) and "95% CI" in _suptitle(fig_old)


def test_median_ci() -> None:
    assert _data.median_ci([]) is None
    assert _data.median_ci([3.0, 1.0, 2.0]) == (2.0, 1.0, 3.0)          # under 6: the range
    med, lo, hi = _data.median_ci(list(range(1, 21)))                    # n=20: ranks 6 and 15
    assert (med, lo, hi) == (10.5, 6.0, 15.0)
    assert _data.median_ci([1.0, float("nan"), None]) == (1.0, 1.0, 1.0)  # type: ignore[list-item]


def test_series_styles_are_consistent_and_distinct() -> None:
    labels = ["stw", "copy/sigbus", "copy/thread", "minor/sigbus", "minor/thread", "move/sigbus",
              "jvm-serial", "jvm-parallel", "jvm-g1", "jvm-zgc", "jvm-shenandoah", "jvm-25:genzgc",
              "jvm-25:genshen"]
    styles = [plots.style(lab) for lab in labels]
    assert plots.style("minor/sigbus") == styles[3]
    keys = {(s["color"], s["marker"], s["markerfacecolor"]) for s in styles}
    assert len(keys) == len(labels)
    assert len({s["color"] for s in styles}) == len(labels)
    variant = plots.style("minor/sigbus (stw marking)")     # options: its own colour, its mode's marker
    assert variant["color"] not in {s["color"] for s in styles} and variant["marker"] == styles[3]["marker"]
    assert variant["linestyle"] == "--"


def test_jvm_runs_are_recognised_in_runs_and_in_peers() -> None:
    doc = _doc(new=True)
    labels = set(_data.ref_runs(doc, "lru", _data.reference_configs(doc)["lru"]))
    assert "jvm-g1" in labels and "jvm-25:genshen" in labels


def test_request_latency_draws_simple_and_metered_and_notes_a_run_without_metered() -> None:
    doc = _doc(new=True)
    fig = plots.plot_request_latency(doc)
    titles = [ax.get_title() for ax in fig.axes]
    assert any(": simple" in t for t in titles) and any(": metered" in t for t in titles)
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    for r in doc["runs"]:
        if r["workload"] == "lru" and r["mode"] == "copy":
            r.pop("metered_latency_ns")
    assert "copy/sigbus" in _suptitle(plots.plot_request_latency(doc))


def test_request_latency_draws_from_the_histograms_bench_keeps() -> None:
    """bench keeps a request workload's latencies as log-linear histograms
    (latency_hist_ns), not the millions of raw values: the plot draws from
    them, and their percentiles are the raw ones within a bucket's width."""
    doc = _doc(new=True)
    raw: list[int] = []
    for r in doc["runs"] + doc["peers"]:
        if r.get("workload") != "lru":
            continue
        for k in ("latency_ns", "metered_latency_ns"):
            v = r.pop(k, None)
            if v is not None:
                if k == "latency_ns" and r in doc["runs"]:
                    raw.extend(v)
                r[k[:-3] + "_hist_ns"] = metrics.loglinear_histogram(v)
    fig = plots.plot_request_latency(doc)
    assert fig is not None
    assert any(": metered" in ax.get_title() for ax in fig.axes)
    runs = [r for r in doc["runs"] if r.get("workload") == "lru" and "latency_hist_ns" in r]
    got = _data.pooled(runs, "latency_ns")
    assert got.size == len(raw) > 0
    for q in (50, 99, 99.9):
        assert abs(np.percentile(got, q) / np.percentile(raw, q) - 1) < 0.07


def test_timeline_shows_several_cycles_and_every_pause_at_a_visible_width() -> None:
    doc = _doc(new=False)
    fig = plots.plot_cycle_timeline(doc)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    pause_bars = [c for c in ax.collections if c.get_label() == "pause"]
    assert pause_bars
    widths = [p.get_extents().width for c in pause_bars for p in c.get_paths()]
    assert min(widths) >= timeline.MIN_WIDTH * (hi - lo) * 0.99
    assert "3 consecutive GC cycles" in _suptitle(fig)
    markers = [ln for ln in ax.get_lines() if ln.get_label() == "pause (marker)"]
    assert sum(len(ln.get_xdata()) for ln in markers) == 3


def test_heap_maps_share_one_cell_size() -> None:
    before = np.array([4096.0 * 3] * 10)
    out = heapmap.rebin(before, 3, 7)
    assert out.sum() == pytest.approx(before.sum())
    assert out.size == int(np.ceil(30 / 7))
    fig = plots.plot_heap_map(_doc(new=False))
    images = [ax.get_images()[0].get_array().shape for ax in fig.axes if ax.get_images()]
    assert len(images) == 2 and images[0] == images[1]
    assert "both maps at 3 pages per cell" in _suptitle(fig)


def test_stalls_come_from_the_older_keys_when_stalls_ns_is_missing() -> None:
    old = _run("minor")
    by_kind, native = _data.stalls(old)
    assert not native and by_kind["alloc_wait"].size == 1 and by_kind["fault"].size == 60
    new = _run("minor", new=True)
    by_kind_new, native_new = _data.stalls(new)
    assert native_new and all(np.array_equal(np.sort(by_kind[k]), np.sort(by_kind_new[k])) for k in by_kind)
    assert "taken from pauses_ns" in _suptitle(plots.plot_worst_stall(_doc(new=False)))


def test_cycle_kinds_only_with_kinds() -> None:
    notes: list[str] = []
    assert plots.plot_cycle_kinds(_doc(new=False), notes) is None and "no cycle has a kind" in notes[0]
    fig = plots.plot_cycle_kinds(_doc(new=True))
    ticks = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels()]
    assert any("young" in t for t in ticks) and any("full" in t for t in ticks)


def test_odd_new_keys_do_not_crash() -> None:
    doc = _doc(new=True)
    bad = copy.deepcopy(doc)
    for r in bad["runs"]:
        if r.get("status") == "ok":
            r["memory_timeline"] = {"t_ns": [1, 2], "pss_bytes": [1]}      # unequal columns
            r["stall_kinds"] = ["pause"]                                   # length mismatch
            r["peak_pss_bytes"] = None
            r["heap_multiple"] = None
    for name, fn in plots.ALL_PLOTS.items():     # drawn, not saved: saving is tested above
        fn(bad, [])


@pytest.mark.parametrize("new", [False, True])
def test_zero_length_pauses_and_stalls_draw_without_error(tmp_path: Path, new: bool) -> None:
    """A tiny run can record a pause or a stall of 0 ns (the clock's grain);
    a log axis cannot show 0: every plot still draws."""
    doc = _doc(new)
    for r in doc["runs"] + doc["peers"]:
        for k in ("pauses_ns", "fault_stalls_ns", "alloc_stalls_ns", "stalls_ns"):
            if r.get(k):
                r[k] = [0] * len(r[k])
        ev = r.get("events")
        if ev and ev.get("dur_ns"):
            ev["dur_ns"] = [0] * len(ev["dur_ns"])
        for c in r.get("cycles") or []:
            for k in list(c):
                if k.endswith("pause_ns"):
                    c[k] = 0
    errors: list[str] = []
    plots.plot_results(doc, out=tmp_path, errors=errors, notes=[])
    assert errors == [], errors


def test_a_plot_that_fails_while_drawing_is_named_and_the_rest_are_drawn(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing (savefig) is where matplotlib computes ticks; bench's test
    suite once ended with only "ValueError: Data cannot be log-scaled because
    all values are <= 0." and no plot after it. Now the failing plot is named
    and skipped, the others are written."""
    from matplotlib.figure import Figure

    def broken(doc: Any, notes: Any) -> Figure:
        fig = Figure()
        fig.add_subplot().plot([1, 2], [1, 2])

        def savefig(*a: Any, **k: Any) -> None:
            raise ValueError("Data cannot be log-scaled because all values are <= 0.")
        fig.savefig = savefig  # type: ignore[method-assign]
        return fig
    monkeypatch.setattr(plots, "ALL_PLOTS", {"broken": broken, **plots.ALL_PLOTS})
    errors: list[str] = []
    paths = plots.plot_results(_doc(new=True), out=tmp_path, errors=errors, notes=[])
    assert errors == ["plot broken failed while drawing: ValueError: Data cannot be log-scaled because all "
                      "values are <= 0."], errors
    names = {Path(p).name for p in paths}
    assert "broken.png" not in names and "pause_cdf.png" in names


def test_a_log_axis_without_a_positive_value_is_made_linear() -> None:
    from matplotlib.figure import Figure

    from artgc.plots import _linear_where_nothing_is_positive
    fig = Figure()
    a, b = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    a.plot([1, 2], [0, 0])
    a.set_yscale("log")
    b.plot([1, 2], [0, 3])
    b.set_yscale("log")
    _linear_where_nothing_is_positive(fig)
    assert a.get_yscale() == "linear" and b.get_yscale() == "log"
