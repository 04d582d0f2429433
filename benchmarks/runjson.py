"""One `python -m artgc run ... --json` in its own process, its JSON result
read back (shared by the benchmark scripts in this folder)."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any


def run_json(argv: list[str], timeout_s: float, checkout: str | None = None,
             extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run argv with --json FILE appended (extra_env added to the
    environment); the result, or {"failed": True, "error": the end of
    stderr} when no result was written."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    env = None
    if checkout:         # another checkout of artgc (built in place): its package, from its folder
        env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout))
    if extra_env:
        env = dict(env or os.environ, **extra_env)
    p = subprocess.run(argv + ["--json", path], capture_output=True, text=True, timeout=timeout_s,
                       cwd=os.path.abspath(checkout) if checkout else None, env=env)
    try:
        with open(path) as fh:
            d = json.load(fh)
    except (OSError, ValueError):
        d = {"failed": True, "error": p.stderr.strip()[-500:]}
    finally:
        if os.path.exists(path):
            os.unlink(path)
    if isinstance(d, list):          # --invocations N writes a list of runs
        d = d[0]
    return d
