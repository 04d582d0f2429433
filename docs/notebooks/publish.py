"""Execute every notebook in notebooks/ with its default parameters and
write the executed copy (with outputs and figures) to docs/notebooks/,
with the run time and the machine's load average in its metadata.

    PYTHONPATH=$PWD python docs/notebooks/publish.py [NAME.ipynb ...]

A cell that raises stops the notebook and this script exits non-zero
(nothing is published for that notebook).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "notebooks"
OUT = ROOT / "docs" / "notebooks"


def publish(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    t = time.monotonic()
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(SRC)}}).execute()
    took = time.monotonic() - t
    nb.metadata["artgc_published"] = {"executed_s": round(took, 1), "loadavg": list(os.getloadavg()),
                                      "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    nbformat.write(nb, OUT / path.name)
    return took


def main(names: list[str]) -> int:
    os.environ.pop("ARTGC_NB_SMALL", None)          # the published copies use the default sizes
    os.environ.setdefault("MPLBACKEND", "Agg")
    OUT.mkdir(parents=True, exist_ok=True)
    paths = [SRC / n for n in names] if names else sorted(SRC.glob("*.ipynb"))
    for p in paths:
        print(f"{p.name}: {publish(p):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
