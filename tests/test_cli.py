"""The ``artgc`` command line: errors exit 2 with one clear line (no
traceback), runs write the contract's JSON, Ctrl-C exits 130."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artgc import runner
from artgc.cli import main
from artgc.results import CYCLE_KEYS, FORMAT_VERSION, RUN_KEYS

ROOT = Path(__file__).resolve().parent.parent


from conftest import needs_native  # noqa: E402


def _err(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("argv, needle", [
    (["run", "nosuch"], "binarytrees, gcbench, lru, graph"),
    (["run", "binarytrees", "--mode", "fast"], "stw, copy, minor, move"),
    (["run", "binarytrees", "--delivery", "pigeon"], "sigbus, thread"),
    (["run", "binarytrees", "--marking", "lazy"], "concurrent, stw"),
    (["run", "binarytrees", "--order", "sideways"], "ascending, descending, random"),
    (["run", "binarytrees", "--heap", "lots"], "256MiB"),
    (["run", "binarytrees", "--heap", "0"], "positive"),
    (["run", "binarytrees", "--heap", "-5MiB"], "heap"),
    (["run", "binarytrees", "--mutators", "0"], "mutators must be between 1 and 256"),
    (["run", "binarytrees", "--gc-threads", "-1"], "gc_threads must be between 1 and 64"),
    (["run", "binarytrees", "--size", "0"], "size must be between 1 and"),
    (["run", "binarytrees", "--seed", "-1"], "seed"),
    (["run", "binarytrees", "--trigger", "1.5"], "trigger"),
    (["run", "binarytrees", "--mutators", "two"], "invalid int value"),
    (["frobnicate"], "invalid choice"),
    (["bench", "--suite", "huge"], "quick, standard, full"),
    (["bench", "--repeat", "0"], "repeat"),
])
def test_bad_input_exits_2_with_a_message(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          needle: str) -> None:
    code, err = _err(capsys, argv)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) <= 2


def test_api_validation_lists_valid_values() -> None:
    with pytest.raises(ValueError, match="binarytrees, gcbench, lru, graph"):
        runner.run("nosuch")
    with pytest.raises(TypeError, match="mutators"):
        runner.run("binarytrees", mutators=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="verify"):
        runner.run("binarytrees", verify="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="heap"):
        runner.run("binarytrees", heap="12 parsecs")


def test_plot_refuses_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "runs": [')
    code, err = _err(capsys, ["plot", str(bad), "--out", str(tmp_path / "p")])
    assert code == 2 and "truncated" in err
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"version": 0, "runs": [], "peers": []}))
    code, err = _err(capsys, ["plot", str(old), "--out", str(tmp_path / "p")])
    assert code == 2 and "version 0" in err
    code, err = _err(capsys, ["plot", str(tmp_path / "none.json")])
    assert code == 2 and "no such file" in err


def test_help_and_module_entry_point() -> None:
    r = subprocess.run([sys.executable, "-m", "artgc", "--help"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert r.returncode == 0
    for verb in ("probe", "run", "bench", "plot"):
        assert verb in r.stdout
    r = subprocess.run([sys.executable, "-m", "artgc", "run", "--help"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    for opt in ("--mode", "--delivery", "--heap", "--mutators", "--gc-threads", "--size", "--verify",
                "--seed", "--marking", "--json", "--no-gc-install", "--no-reuse-tospace", "--order",
                "--trigger"):
        assert opt in r.stdout


@needs_native
def test_run_prints_output_and_summary_and_writes_json(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    code = main(["run", "binarytrees", "--size", "12", "--heap", "16MiB", "--mode", "stw", "--verify",
                 "--json", str(out)])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert cap.out.startswith("stretch tree of depth 13\t check: 16383\n")
    assert "pauses" in cap.out and "wall time" in cap.out
    # stw takes no faults and marks inside its pause: no fault row, no "concurrent marking" label
    assert "fault stalls" not in cap.out and "concurrent" not in cap.out
    assert "marks and compacts in one pause" in cap.out and "1 mutator, 1 GC thread" in cap.out
    d = json.loads(out.read_text())
    for k in RUN_KEYS:
        assert k in d, k
    for c in d["cycles"]:
        for k in CYCLE_KEYS:
            assert k in c, k
    assert d["version"] == FORMAT_VERSION and d["verified"] is True and d["mode"] == "stw"
    assert d["heap_bytes"] == 16 << 20 and d["size"] == 12


@needs_native
def test_run_api_result_types() -> None:
    import numpy as np
    r = runner.run("binarytrees", size=12, heap="16MiB", mode="stw")
    assert isinstance(r.pauses_ns, np.ndarray) and r.pauses_ns.dtype == np.uint64
    assert isinstance(r.fault_stalls_ns, np.ndarray)
    assert r.verified is None and not r.failed and r.wall_s > 0
    assert "pauses" in r.summary()
    again = runner.RunResult.from_dict(json.loads(r.to_json()))
    assert again.pauses_ns.tolist() == r.pauses_ns.tolist()
    assert len(again.events) == len(r.events)


@needs_native
def test_workload_size_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _err(capsys, ["run", "binarytrees", "--size", "99", "--heap", "16MiB", "--mode", "stw"])
    assert code == 2 and "size" in err


@needs_native
def test_ctrl_c_exits_130_with_partial_results(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "artgc", "run", "binarytrees", "--size", "24", "--heap",
                          "2GiB", "--mode", "stw", "--json", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # wait until the workload runs (the interpreter, the run's worker and the
    # native mutator and GC threads), so the signal does not land in start-up
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        try:
            if len(os.listdir(f"/proc/{p.pid}/task")) >= 3:
                break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    if p.poll() is not None:
        pytest.skip("the run ended before it could be interrupted")
    p.send_signal(signal.SIGINT)
    try:
        so, se = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("the run did not stop within 60 s of SIGINT")
    assert p.returncode == 130, se
    assert "interrupted" in se and "Traceback" not in se
    assert "pauses" in so
    d = json.loads(out.read_text())
    assert d["interrupted"] is True


def test_run_invocations_and_log_cycles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "inv.json"
    code = main(["run", "binarytrees", "--size", "12", "--heap", "4MiB", "--mode", "stw", "--invocations", "3",
                 "--log-cycles", "--quiet", "--json", str(out)])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "3 invocations; median [95% CI: bootstrap" in cap.out
    assert "worst pause" in cap.out and "GC share of wall" in cap.out
    assert "] GC(1) stw full (" in cap.out and "->" in cap.out   # -Xlog:gc-style cycle lines
    d = json.loads(out.read_text())
    assert len(d["runs"]) == 3 and all(r["machine"]["ncpu"] >= 1 for r in d["runs"])
    assert d["runs"][0]["point"] == d["runs"][2]["point"]
    assert main(["run", "binarytrees", "--invocations", "0"]) == 2


def test_summary_reads_like_a_gc_log() -> None:
    r = runner.run("binarytrees", size=12, heap="4MiB", mode="minor")
    s = r.summary()
    for needle in ("total", "mean", "p95", "p99.9", "worst", "GC share of wall time", "heap before -> after",
                   "MMU", "1 ms", "100 ms", "concurrent marking"):
        assert needle in s, needle
    assert r.machine and "busy" in r.machine
