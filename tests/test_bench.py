"""bench (sweeps in subprocesses), suites, peers, summary and plots."""
from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from artgc import peers, plots
from artgc.bench import Progress, bench, downsample_map, summary_markdown
from artgc.cli import main
from artgc.results import CYCLE_KEYS, FORMAT_VERSION, RUN_KEYS, load
from artgc.suites import SUITE_NAMES, PeerConfig, Point, Suite, get_suite, skip_reason

bench_mod = sys.modules["artgc.bench"]  # (artgc.bench is the function)


from conftest import needs_native  # noqa: E402


# --------------------------------------------------------------------------- synthetic results

def _synthetic_run(mode: str, delivery: str = "sigbus", heap: int = 64 << 20, workload: str = "binarytrees",
                   seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    t0, wall = 10**12, 1_000_000_000
    ev: dict[str, list[int]] = {k: [] for k in ("t_start_ns", "dur_ns", "thread", "kind", "cycle", "phase")}
    cycles = []
    for c in range(3):
        ts = t0 + 100_000_000 + c * 300_000_000
        pause = int(rng.integers(20_000, 200_000)) * (50 if mode == "stw" else 1)
        rows = [(ts + 1_000_000, pause, 0, 0, c, 2)]
        if mode != "stw":
            rows += [(ts + 2_000_000 + f * 50_000, int(rng.integers(3000, 60000)), 0, 1, c, 0) for f in range(20)]
        for row in rows:
            for k, v in zip(ev, row):
                ev[k].append(v)
        cycles.append({"index": c + 1, "t_start_ns": ts, "t_mark_start_ns": ts, "t_mark_end_ns": ts + 800_000,
                       "t_flip_start_ns": ts + 1_000_000, "t_flip_end_ns": ts + 1_000_000 + pause,
                       "t_compact_end_ns": ts + 4_000_000, "t_end_ns": ts + 4_500_000, "pause_ns": pause,
                       "mark_pause_ns": 0, "flip_pause_ns": pause, "mark_ns": 800_000, "compact_ns": 3_000_000,
                       "live_bytes": 1 << 20, "moved_bytes": 1 << 20, "pages": 256, "faults": 20})
    kinds = np.array(ev["kind"])
    durs = np.array(ev["dur_ns"])
    before = rng.integers(0, 4097, heap // 4096 // 4).tolist()
    return {"version": FORMAT_VERSION, "workload": workload, "mode": mode, "delivery": delivery,
            "heap_bytes": heap, "mutators": 1, "gc_threads": 1, "size": 16, "seed": 0, "kernel": {},
            "wall_s": wall / 1e9, "output": "", "verified": None, "pauses_ns": durs[kinds == 0].tolist(),
            "fault_stalls_ns": durs[kinds == 1].tolist(), "cycles": cycles, "peak_rss_bytes": 1 << 26,
            "marking": "concurrent", "events": ev, "t0_ns": t0, "t1_ns": t0 + wall,
            "heap_map_before": before, "heap_map_after": sorted(before, reverse=True),
            "gc_throughput": {"compact_bytes_per_s": 1e9}, "status": "ok", "options": {}}


def _synthetic_doc() -> dict[str, Any]:
    runs = [_synthetic_run(m, d, h, seed=i) for i, (m, d, h) in enumerate(
        (m, d, h) for h in (64 << 20, 256 << 20)
        for m, d in (("stw", "sigbus"), ("minor", "sigbus"), ("minor", "thread"), ("copy", "sigbus")))]
    runs.append(_synthetic_run("minor", workload="lru"))
    runs.append({"workload": "graph", "mode": "move", "status": "skipped", "error": "no MOVE here"})
    peer = {"version": FORMAT_VERSION, "workload": "binarytrees", "mode": "jvm-g1", "delivery": None,
            "heap_bytes": 256 << 20, "mutators": 1, "gc_threads": None, "size": 16, "seed": 0, "kernel": None,
            "wall_s": 0.5, "output": "", "verified": None, "pauses_ns": [3_000_000, 5_000_000],
            "fault_stalls_ns": [], "cycles": [], "peak_rss_bytes": 1, "peer": True, "status": "ok",
            "events": {"t_start_ns": [1e8, 3e8], "dur_ns": [3e6, 5e6], "thread": [0, 0], "kind": [0, 0],
                       "cycle": [0, 1], "phase": [3, 3]}, "t0_ns": 0, "t1_ns": 500_000_000}
    probe = {"uffd": {"available": True, "features": {"minor_shmem": True}},
             "limits": {"minor_continue_sigbus_us": 4.2, "missing_copy_sigbus_us": 5.3,
                        "minor_continue_thread_us": None}}
    return {"version": FORMAT_VERSION, "suite": "synthetic", "machine": {"cores": 2}, "kernel": {},
            "probe": probe, "runs": runs, "peers": [peer]}


def test_plots_from_synthetic_results(tmp_path: Path) -> None:
    paths = plots.plot_results(_synthetic_doc(), out=tmp_path)
    names = {Path(p).name for p in paths}
    for name in plots.PLOTS:
        assert f"{name}.png" in names and f"{name}.svg" in names, name
    for p in paths:
        assert Path(p).stat().st_size > 1000


def test_plots_from_a_saved_file_and_single_run(tmp_path: Path) -> None:
    doc = _synthetic_doc()
    f = tmp_path / "results.json"
    f.write_text(json.dumps(doc))
    assert main(["plot", str(f), "--out", str(tmp_path / "a")]) == 0
    single = tmp_path / "run.json"
    single.write_text(json.dumps({k: v for k, v in doc["runs"][1].items() if k != "status"}))
    paths = plots.plot_results(single, out=tmp_path / "b")
    assert any(p.endswith("cycle_timeline.png") for p in paths)


def test_summary_tables_include_peers_and_problems() -> None:
    md = summary_markdown(_synthetic_doc())
    assert "| mode | runs ok | worst pause | p99 pause | p50 pause" in md
    assert "| jvm-g1 |" in md and "| minor/thread |" in md
    assert "no MOVE here" in md
    # the peer joins the binary-trees table of its heap
    table = md.split("### binarytrees size 16, heap 256MiB")[1].split("###")[0]
    assert "jvm-g1" in table


# --------------------------------------------------------------------------- pieces

def test_suites_are_well_formed() -> None:
    assert set(SUITE_NAMES) >= {"test", "quick", "standard", "full"}
    for name in SUITE_NAMES:
        s = get_suite(name)
        assert s.points and len({p.key for p in s.points}) == len(s.points)
        for p in s.points:
            assert p.argv()[:2] == ["run", p.workload]
    quick = get_suite("quick")
    assert quick.est_total_s() < 200
    modes = {(p.mode, p.delivery) for p in quick.points}
    assert {("stw", "sigbus"), ("copy", "sigbus"), ("minor", "sigbus"), ("minor", "thread"),
            ("move", "sigbus")} <= modes
    assert max(p.heap_bytes or 0 for p in get_suite("full").points) == 4 << 30
    with pytest.raises(ValueError, match="quick, standard, full"):
        get_suite("nope")


def test_point_argv_with_knobs() -> None:
    p = Point("lru", 5, "copy", "thread", "64MiB", knobs=(("reuse_tospace", False), ("order", "random")))
    argv = p.argv()
    assert "--no-reuse-tospace" in argv and argv[argv.index("--order") + 1] == "random"
    assert p.key.endswith("reuse_tospace=False/order=random")


def test_skip_reason_from_caps() -> None:
    none = {"available": False, "reason": "no userfaultfd (vm.unprivileged_userfaultfd=0)"}
    p = Point("binarytrees", 10, "minor")
    assert "vm.unprivileged_userfaultfd" in (skip_reason(p, none) or "")
    assert skip_reason(Point("binarytrees", 10, "stw"), none) is None
    nomove = {"available": True, "features": {"move": False, "minor_shmem": True, "sigbus": True}}
    assert "MOVE" in (skip_reason(Point("binarytrees", 10, "move"), nomove) or "")
    assert skip_reason(p, nomove) is None
    assert skip_reason(p, None) is None


def test_progress_shows_an_estimate() -> None:
    buf = io.StringIO()
    pr = Progress(10.0, 2, stream=buf)
    pr.start("a")
    pr.advance(5.0, "a", "ok")
    pr.advance(5.0, "b", "ok")
    pr.close()
    out = buf.getvalue()
    assert "1/2" in out and "2/2" in out and "left" in out


def test_downsample_map() -> None:
    m, per = downsample_map(list(range(10)), bins=4)
    assert per == 3 and m == [3, 12, 21, 9]
    assert downsample_map([1, 2], bins=4) == ([1, 2], 1)


# --------------------------------------------------------------------------- peers

SAFEPOINT_LOG = """\
[0.048s][info][safepoint] Safepoint "G1CollectForAllocation", Time since last: 26366445 ns, \
Reaching safepoint: 4267 ns, Cleanup: 6139 ns, At safepoint: 3959388 ns, Total: 3969794 ns
[186449109ns][info][safepoint] Safepoint "ZMarkStart", Time since last: 112641518 ns, \
Reaching safepoint: 96313 ns, Cleanup: 29944 ns, At safepoint: 20761 ns, Total: 147018 ns
[0.050s][info][gc] something else
"""


def test_parse_safepoint_log() -> None:
    sp = peers.parse_safepoint_log(SAFEPOINT_LOG)
    assert [s["total_ns"] for s in sp] == [3969794, 147018]
    assert sp[0]["uptime_ns"] == 48_000_000 and sp[1]["uptime_ns"] == 186449109
    assert sp[1]["name"] == "ZMarkStart" and sp[1]["reaching_ns"] == 96313


def test_binarytrees_expected_text() -> None:
    text = peers.binarytrees_expected(21)
    assert text.startswith("stretch tree of depth 22\t check: 8388607\n")
    assert text.endswith("long lived tree of depth 21\t check: 4194303\n")
    assert "2097152\t trees of depth 4\t check: 65011712\n" in text


def test_peers_skipped_cleanly_without_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    recs = peers.run_peers(depth=6, heap="64MiB", gcs=("serial", "g1"))
    assert [r["status"] for r in recs] == ["skipped", "skipped"]
    assert all("java" in r["error"] for r in recs)
    assert {r["mode"] for r in recs} == {"jvm-serial", "jvm-g1"}


@pytest.mark.skipif(peers.find_java() is None, reason="java/javac not installed")
def test_peer_runs_on_the_jvm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    recs = peers.run_peers(depth=10, heap="64MiB", gcs=("serial",))
    r = recs[0]
    assert r["status"] == "ok", r["error"]
    assert r["output_ok"] and r["output"] == peers.binarytrees_expected(10)
    assert r["wall_s"] > 0 and r["peak_rss_bytes"] > 0 and isinstance(r["pauses_ns"], list)
    assert peers.gc_available(peers.find_java()[0], "nosuchgc") is not None  # type: ignore[index]


# --------------------------------------------------------------------------- the sweep

@needs_native
def test_bench_test_suite_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "res"
    res = bench("test", out=out, peers=False, progress=False)
    assert not res["interrupted"]
    assert not res.get("plot_error"), res.get("plot_error")
    doc = load(out / "results.json")
    assert doc["suite"] == "test" and doc["version"] == FORMAT_VERSION
    for k in ("hostname", "cpu_model", "cores", "mem_bytes", "python"):
        assert k in doc["machine"]
    assert "uname" in doc["kernel"] and "uffd" in doc["kernel"] and doc["probe"]
    ok = [r for r in doc["runs"] if r["status"] == "ok"]
    assert ok, [r.get("error") for r in doc["runs"]]
    for r in doc["runs"]:
        assert r["status"] in ("ok", "skipped"), r.get("error")
    for r in ok:
        for k in RUN_KEYS:
            assert k in r, k
        for c in r["cycles"]:
            for k in CYCLE_KEYS:
                assert k in c, k
        assert "point" in r and "repeat" in r
    summary = (out / "summary.md").read_text()
    assert "| mode |" in summary and "binarytrees" in summary
    pngs = sorted((out / "plots").glob("*.png"))
    assert pngs and all(p.stat().st_size > 0 for p in pngs)
    assert {p.stem for p in pngs} >= {"pause_cdf", "mmu", "cycle_timeline"}
    # and `artgc plot` redraws from the saved file
    assert main(["plot", str(out / "results.json"), "--out", str(tmp_path / "again")]) == 0
    assert sorted(p.name for p in (tmp_path / "again").glob("*.png")) == sorted(p.name for p in pngs)


def _tiny_suite(points: list[Point], timeout_s: float = 60.0) -> Suite:
    return Suite("tiny", "test-only", tuple(points), repeat=1, timeout_s=timeout_s,
                 peers=PeerConfig(depth=6, heap="64MiB", gcs=("serial",), est_s=1.0))


@needs_native
def test_broken_points_are_recorded_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = Point("binarytrees", 10, "stw", heap="16MiB")
    impossible = Point("binarytrees", 10, "stw", heap="4KiB")        # the heap refuses it
    crash = Point("binarytrees", 11, "stw", heap="16MiB")            # the child aborts
    hang = Point("binarytrees", 12, "stw", heap="16MiB")             # the child hangs

    def command(p: Point, json_path: Path) -> list[str]:
        if p == crash:
            return [sys.executable, "-c", "import os; os.abort()"]
        if p == hang:
            return [sys.executable, "-c", "import time; time.sleep(60)"]
        return bench_mod.point_command(p, json_path)

    monkeypatch.setenv("PATH", str(tmp_path))  # no java: peers skipped, the sweep goes on
    res = bench(_tiny_suite([good, impossible, crash, hang], timeout_s=5.0), out=tmp_path / "o",
                progress=False, command=command)
    by = {r["point"]: r for r in res["runs"]}
    assert by[good.key]["status"] == "ok"
    assert by[impossible.key]["status"] == "failed" and by[impossible.key]["error"]
    assert by[crash.key]["status"] == "failed" and "SIGABRT" in by[crash.key]["error"]
    assert by[hang.key]["status"] == "failed" and "timed out" in by[hang.key]["error"]
    assert res["peers"] and res["peers"][0]["status"] == "skipped"
    md = (tmp_path / "o" / "summary.md").read_text()
    assert "SIGABRT" in md and "timed out" in md
    assert load(tmp_path / "o" / "results.json")["runs"]


@needs_native
def test_modes_the_kernel_lacks_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTGC_DISABLE_UFFD", "1")
    pts = [Point("binarytrees", 10, "stw", heap="16MiB"), Point("binarytrees", 10, "minor", heap="16MiB")]
    res = bench(_tiny_suite(pts), out=tmp_path, peers=False, progress=False)
    st = {r["mode"]: r for r in res["runs"]}
    assert st["stw"]["status"] == "ok"
    assert st["minor"]["status"] == "skipped" and st["minor"]["error"]


def test_bench_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="repeat"):
        bench("test", out=tmp_path, repeat=0)
    with pytest.raises(ValueError, match="suite"):
        bench("nope", out=tmp_path)


def test_machine_info() -> None:
    m = bench_mod.machine_info()
    assert m["cores"] and m["python"] == sys.version.split()[0]
    assert os.path.basename(sys.executable)


def test_custom_sweep_with_invocations_and_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTGC_CACHE", str(tmp_path / "cache"))
    res = bench(workloads=["binarytrees:10"], modes=["stw", "minor"], heaps=["2x"], invocations=2,
                out=tmp_path / "o", peers=False, progress=False, csv=True)
    assert res["suite"] == "custom" and res["repeat"] == 2
    runs = [r for r in res["runs"] if r["status"] == "ok"]
    assert len(runs) >= 2 and all(r["options"]["heap_multiple"] == 2.0 for r in runs)
    assert all(r["point"].startswith("binarytrees-10/") and "/2x/1 mutator/1 GC thread/" in r["point"]
               for r in res["runs"])
    assert all("busy" in r["machine"] for r in runs)
    md = (tmp_path / "o" / "summary.md").read_text()
    assert "bootstrap percentile interval of the median" in md
    assert "(2x the minimum)" in md and "| stw" in md and " [" in md   # medians with intervals
    csv = (tmp_path / "o" / "summary.csv").read_text().splitlines()
    assert csv[0].startswith("point,workload,size,mode") and "pause_max_ns_ci_lo" in csv[0]
    assert len(csv) == 1 + len({r["point"] for r in res["runs"]})


def test_custom_sweep_generational_on(tmp_path: Path) -> None:
    """--generational on for every point, minor's (shmem) too."""
    res = bench(workloads=["binarytrees:12"], modes=["copy", "minor"], heaps=["16MiB"], invocations=1,
                out=tmp_path / "o", peers=False, progress=False, generational="on")
    by_mode = {r["mode"]: r for r in res["runs"]}
    assert by_mode["copy"]["status"] == "ok" and "generational=on" in by_mode["copy"]["point"]
    assert any(c["kind"] == "young" for c in by_mode["copy"]["cycles"]) or len(by_mode["copy"]["cycles"]) < 3
    assert by_mode["minor"]["status"] == "ok" and "generational=on" in by_mode["minor"]["point"]


@pytest.mark.parametrize("kw, msg", [
    ({"suite": "quick", "workloads": ["lru"]}, "not both"),
    ({"workloads": ["lru"], "generational": "sometimes"}, "unknown generational"),
    ({"workloads": ["nosuch"]}, "unknown workload"),
    ({"workloads": ["lru:ten"]}, "must be an integer"),
    ({"modes": ["fast"]}, "unknown mode"),
    ({"modes": ["stw/thread"]}, "no userfaultfd faults"),
    ({"heaps": ["0.5x"]}, "from 1x"),
    ({"mutators": ["0"]}, "mutators must be between 1"),
    ({"workloads": ["lru"], "invocations": 0}, "positive integer"),
])
def test_custom_sweep_refuses_bad_axes(tmp_path: Path, kw: dict[str, Any], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        bench(out=tmp_path, peers=False, progress=False, **kw)


def test_jvm_rows_show_unknown_cycles_as_a_dash() -> None:
    doc = _synthetic_doc()
    peer = dict(doc["runs"][0], mode="jvm-g1", peer=True, cycles=[], delivery=None, point="binarytrees-16/jvm-g1")
    doc["peers"] = [peer]
    md = summary_markdown(doc)
    row = next(line for line in md.splitlines() if line.startswith("| jvm-g1"))
    assert "| 0 |" not in row.split("|")[10] and row.split("|")[10].strip() == "-"
    assert "m1/g1" not in md
