"""Run a test body in a fresh Python process with a time limit, so that a
hang or a crash fails the test instead of the session."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_isolated(code: str, timeout: float = 60.0, env: dict[str, str] | None = None) -> str:
    """Run `code`; it must print DONE last and exit 0. Returns its stdout."""
    timeout = min(timeout, float(os.environ.get("ARTGC_ISOLATED_TIMEOUT_CAP", timeout)))
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    try:
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                           text=True, timeout=timeout, env=e, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"hung for {timeout} s; output so far:\n{exc.stdout}\n{exc.stderr}") from None
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert p.stdout.rstrip().endswith("DONE"), f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p.stdout
