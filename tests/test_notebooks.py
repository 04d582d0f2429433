"""The notebooks run top to bottom, and are committed without outputs.

Each notebook is executed with nbclient in a fresh ``python3`` kernel with
``ARTGC_NB_SMALL=1`` in the environment (small, fast runs: each notebook well
under a minute); any error in any cell fails the test. The notebooks are read
from ``notebooks/`` and never written back.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = int(os.environ.get("ARTGC_NB_CELL_TIMEOUT", "300"))

INSTALL_HINT = "install the test dependencies with: python -m pip install -e '.[test]'"


def _nb_modules():
    """nbformat and nbclient, or a test failure saying how to get them (never a skip:
    CI installs '.[test]', which includes them)."""
    try:
        import ipykernel  # noqa: F401  (the python3 kernel the notebooks run in)
        import nbclient
        import nbformat
    except ImportError as exc:
        pytest.fail(f"the notebook tests need nbclient, nbformat and ipykernel ({exc}); {INSTALL_HINT}",
                    pytrace=False)
    return nbformat, nbclient


def test_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    assert names, f"no notebooks found in {NB_DIR}"
    for expected in ("01-tour.ipynb", "02-minor-vs-copy.ipynb", "03-design-space.ipynb",
                     "04-fragmentation.ipynb"):
        assert expected in names, f"{expected} is missing from {NB_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path: Path):
    nbformat, _ = _nb_modules()
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; strip them "
                       "before committing (see notebooks/README.md)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch):
    nbformat, nbclient = _nb_modules()
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("ARTGC_NB_SMALL", "1")       # the kernel inherits this environment
    monkeypatch.setenv("MPLBACKEND", "Agg")         # headless; the notebooks select inline themselves
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NB_DIR)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: error outputs: {[(e.ename, e.evalue) for e in errors]}"
