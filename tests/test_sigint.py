"""Ctrl-C (SIGINT to the process group, as a terminal sends it) during
`artgc run` and `artgc bench`: a prompt, clean stop, exit code 130, and what
finished is kept (the run's summary and --json; the sweep's results.json).

Only generous hang timeouts, no timing thresholds: the stop latency is
measured and printed (pytest -s) but not asserted beyond the hang timeout.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import mode_supported

from artgc.results import CYCLE_KEYS, RUN_KEYS

ROOT = Path(__file__).resolve().parent.parent
HANG_S = 30.0          # a stop that takes longer than this is a hang


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("ARTGC_DEBUG", None)

    def child_setup() -> None:   # a shell's background job may have inherited SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    return subprocess.Popen([sys.executable, "-m", "artgc", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(cwd),
                            start_new_session=True, preexec_fn=child_setup)  # noqa: PLW1509


def _kill(p: subprocess.Popen[str]) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    p.communicate()


def _wait_for(p: subprocess.Popen[str], cond: Any, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if p.poll() is not None:
            out, err = p.communicate()
            pytest.fail(f"the process ended (exit {p.returncode}) before {what}:\n{out[-2000:]}\n{err[-2000:]}")
        if time.monotonic() > deadline:
            _kill(p)
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return 0


def _interrupt(p: subprocess.Popen[str], second_after: float | None = None) -> tuple[str, str, float]:
    """Ctrl-C: SIGINT to the whole process group (twice with second_after); then
    wait. Returns (stdout, stderr, seconds from the first SIGINT to the exit)."""
    t0 = time.monotonic()
    os.killpg(p.pid, signal.SIGINT)
    if second_after is not None:
        time.sleep(second_after)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
    try:
        out, err = p.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        _kill(p)
        pytest.fail(f"hang: still running {HANG_S:.0f} s after Ctrl-C")
    dt = time.monotonic() - t0
    print(f"\nstopped {dt:.2f} s after Ctrl-C, exit {p.returncode}")
    return out, err, dt


def _mode(preferred: str, delivery: str = "sigbus") -> str:
    return preferred if mode_supported(preferred, delivery) and os.environ.get("ARTGC_DISABLE_UFFD") != "1" \
        else "stw"


# --------------------------------------------------------------------------- artgc run

@pytest.mark.parametrize("case", ["binarytrees-minor-json", "graph-copy-thread"])
def test_ctrl_c_stops_a_run_and_keeps_what_ran(case: str, tmp_path: Path) -> None:
    if case.startswith("binarytrees"):
        mode, delivery = _mode("minor"), "sigbus"
        argv = ["run", "binarytrees", "--size", "20", "--heap", "256MiB", "--mode", mode]
    else:
        delivery = "thread"
        mode = _mode("copy", delivery)
        argv = ["run", "graph", "--size", "1000", "--heap", "256MiB", "--mutators", "2", "--mode", mode,
                "--delivery", delivery]
    out_json = tmp_path / "run.json"
    if case.endswith("json"):
        argv += ["--json", str(out_json)]
    else:
        argv += ["--quiet"]
    p = _start(argv, tmp_path)
    # the workload runs: Python's main thread, the run's worker, native mutator and GC threads
    _wait_for(p, lambda: _threads(p.pid) >= 4, "the workload started")
    time.sleep(1.0)
    if p.poll() is not None:
        pytest.fail(f"the run ended by itself before Ctrl-C (exit {p.returncode}): make it longer")
    out, err, _ = _interrupt(p)

    assert p.returncode == 130, f"exit {p.returncode}\n{err}"
    assert "Traceback" not in err and "internal error" not in err, err
    err_lines = [ln for ln in err.splitlines() if ln.strip()]
    assert err_lines == ["artgc: interrupted; the summary above covers what ran until then"], err
    # the summary of what ran
    assert "pauses" in out and "fault stalls" in out and "cycles" in out, out
    assert "INTERRUPTED: partial results" in out, out
    if not case.endswith("json"):
        return
    assert f"result written to {out_json}" in out
    d = json.loads(out_json.read_text())
    missing = [k for k in RUN_KEYS if k not in d]
    assert not missing, missing
    assert d["interrupted"] is True and d["failed"] is False
    assert d["workload"] == argv[1] and d["mode"] == mode and d["heap_bytes"] == 256 << 20
    assert d["wall_s"] > 0.5   # it ran for about a second before the Ctrl-C
    assert isinstance(d["cycles"], list) and isinstance(d["pauses_ns"], list)
    for c in d["cycles"]:
        assert all(k in c for k in CYCLE_KEYS), c
    assert len(d["pauses_ns"]) >= len(d["cycles"])
    assert not list(tmp_path.glob(".run.json.*")), "a temp file of the JSON writer was left behind"


# --------------------------------------------------------------------------- artgc bench

def _lines(path: Path) -> int:
    try:
        return sum(1 for ln in path.read_text().splitlines() if ln.strip())
    except FileNotFoundError:
        return 0


def _bench_until_points(tmp_path: Path, n: int) -> tuple[subprocess.Popen[str], Path, int]:
    out_dir = tmp_path / "out"
    p = _start(["bench", "--suite", "quick", "--out", str(out_dir)], tmp_path)
    log = out_dir / "runs.jsonl"
    _wait_for(p, lambda: _lines(log) >= n, f"{n} point(s) of the sweep finished", timeout=120)
    return p, out_dir, _lines(log)


def _children(pid: int) -> list[int]:
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _check_kept(out_dir: Path, seen: int) -> dict[str, Any]:
    res = out_dir / "results.json"
    assert res.exists(), sorted(os.listdir(out_dir))
    d = json.loads(res.read_text())
    assert d["interrupted"] is True
    runs = d["runs"]
    # every point that finished before the Ctrl-C, perhaps one more that finished just after it
    assert seen <= len(runs) <= seen + 1, (seen, len(runs))
    for r in runs:
        assert r["status"] in ("ok", "failed", "skipped"), r.get("status")
        assert not r.get("interrupted"), f"a point cut short by the Ctrl-C was kept: {r['point']}"
    ok = [r for r in runs if r["status"] == "ok"]
    assert ok, [r.get("error") for r in runs]
    for r in ok:
        assert all(k in r for k in RUN_KEYS)
    return d


def test_ctrl_c_stops_a_sweep_and_keeps_the_points_that_finished(tmp_path: Path) -> None:
    p, out_dir, seen = _bench_until_points(tmp_path, 1)
    kids = _children(p.pid)   # the point running now (in its own session: Ctrl-C does not reach it)
    out, err, _ = _interrupt(p)
    assert p.returncode == 130, f"exit {p.returncode}\n{err[-3000:]}"
    assert "Traceback" not in err and "internal error" not in err, err[-3000:]
    assert "artgc: interrupted; results.json and summary.md hold the points that finished" in err
    d = _check_kept(out_dir, seen)
    assert (out_dir / "summary.md").exists()
    assert not (out_dir / "runs.jsonl").exists(), "runs.jsonl is removed once results.json is complete"
    n_ok = sum(1 for r in d["runs"] if r["status"] == "ok")
    assert f"{n_ok} ok" in out, out
    # the point that was running was stopped too, not left behind
    deadline = time.monotonic() + 10
    while any(_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [k for k in kids if _alive(k)], "a point of the sweep outlived it"


def test_second_ctrl_c_while_the_sweep_saves(tmp_path: Path) -> None:
    """An impatient user presses Ctrl-C again while the sweep writes its files
    (the plots take a few seconds): still 130, no traceback, results.json kept."""
    p, out_dir, seen = _bench_until_points(tmp_path, 1)
    _, err, _ = _interrupt(p, second_after=0.5)
    assert p.returncode == 130, f"exit {p.returncode}\n{err[-3000:]}"
    assert "Traceback" not in err and "internal error" not in err, err[-3000:]
    _check_kept(out_dir, seen)


def test_saving_shield_holds_off_ctrl_c_and_restores_the_handler(capfd: pytest.CaptureFixture[str]) -> None:
    """While the sweep writes its files a Ctrl-C is counted and answered, not
    raised; afterwards the handler that was there before is back."""
    from artgc.bench import _SavingShield
    before = signal.getsignal(signal.SIGINT)
    with _SavingShield() as shield:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 5
        while shield.pressed < 2 and time.monotonic() < deadline:
            time.sleep(0.01)   # the Python-level handler runs between bytecodes
    assert shield.pressed == 2
    assert signal.getsignal(signal.SIGINT) is before
    err = capfd.readouterr().err
    assert err.count("artgc: saving the results first") == 1, err
