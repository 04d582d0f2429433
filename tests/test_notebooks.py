"""The notebooks run top to bottom, strictly, and their executed copies are
published.

Each notebook is executed with nbclient in a fresh ``python3`` kernel with
``ARTGC_NB_SMALL=1`` in the environment (small, fast runs). Any error in any
cell fails the test, and so does a notebook that carries on without a point it
needs: the notebooks raise when a run fails or a mode is refused (tested here
by asking for a mode or a heap that cannot work), and no output may hold a
fallback message. The notebooks in ``notebooks/`` are committed without
outputs; their executed copies (default sizes, with outputs) are in
``docs/notebooks/`` and must be of the current code (re-publish with
``python docs/notebooks/publish.py``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
PUBLISHED = ROOT / "docs" / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = int(os.environ.get("ARTGC_NB_CELL_TIMEOUT", "300"))

INSTALL_HINT = "install the test dependencies with: python -m pip install -e '.[test]'"
# What a notebook printed when it used to carry on without a point: never again.
FALLBACK_PHRASES = ("no successful run", "falling back", "not available on this kernel", "FAILED",
                    "timed out after", "section 3 will be skipped", "using stw")


def _nb_modules() -> tuple[Any, Any]:
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


def _execute(path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Any:
    """Run the notebook with env set; return the executed notebook (raises
    CellExecutionError from the first cell that fails)."""
    nbformat, nbclient = _nb_modules()
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("MPLBACKEND", "Agg")         # headless; the notebooks select inline themselves
    for k, v in env.items():
        monkeypatch.setenv(k, v)                    # the kernel inherits this environment
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NB_DIR)}})
    client.execute()
    return nb


def _text_outputs(nb: Any) -> str:
    parts = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream":
                parts.append(o.get("text", ""))
            elif o.get("output_type") in ("execute_result", "display_data"):
                parts.append(str(o.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def test_notebooks_exist() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert names, f"no notebooks found in {NB_DIR}"
    for expected in ("01-tour.ipynb", "02-minor-vs-copy.ipynb", "03-design-space.ipynb",
                     "04-fragmentation.ipynb"):
        assert expected in names, f"{expected} is missing from {NB_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path: Path) -> None:
    nbformat, _ = _nb_modules()
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; strip them "
                       "before committing (see notebooks/README.md)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_strictly(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _nb_modules()
    from nbclient.exceptions import CellExecutionError

    try:
        nb = _execute(path, monkeypatch, {"ARTGC_NB_SMALL": "1"})
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: error outputs: {[(e.ename, e.evalue) for e in errors]}"
    text = _text_outputs(nb)
    found = [p for p in FALLBACK_PHRASES if p in text]
    assert not found, f"{path.name} carried on without a point it needs: {found}"


@pytest.mark.parametrize("name, env, expect", [
    ("01-tour.ipynb", {"ARTGC_NB_MODE": "nonsense"}, "nonsense"),
    ("04-fragmentation.ipynb", {"ARTGC_NB_MODE": "nonsense"}, "nonsense"),
    ("03-design-space.ipynb", {"ARTGC_NB_HEAP": "12 parsecs"}, "PointFailed"),
    ("02-minor-vs-copy.ipynb", {"ARTGC_NB_ORDER": "sideways"}, "sideways"),
], ids=["01-refused-mode", "04-refused-mode", "03-failed-point", "02-failed-point"])
def test_notebook_fails_when_a_point_fails(name: str, env: dict[str, str], expect: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A mode or run that cannot work stops the notebook with the reason,
    instead of a fallback or a table row saying there was no result."""
    _nb_modules()
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError) as info:
        _execute(NB_DIR / name, monkeypatch, {"ARTGC_NB_SMALL": "1", **env})
    assert expect in str(info.value), str(info.value)[-2000:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_published_copy_is_executed_and_current(path: Path) -> None:
    nbformat, _ = _nb_modules()
    pub = PUBLISHED / path.name
    assert pub.is_file(), f"{pub} is missing: run python docs/notebooks/publish.py {path.name}"
    src = nbformat.read(path, as_version=4)
    out = nbformat.read(pub, as_version=4)
    code = [c.source for c in src.cells if c.cell_type == "code"]
    assert [c.source for c in out.cells if c.cell_type == "code"] == code, (
        f"{pub} is not of the current {path.name}: re-run python docs/notebooks/publish.py {path.name}")
    assert [c.source for c in out.cells] == [c.source for c in src.cells], f"{pub}: prose differs; re-publish"
    outs = [c for c in out.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in outs), f"{pub}: not every code cell was executed"
    assert not [o for c in outs for o in c.outputs if o.output_type == "error"], f"{pub} has error outputs"
    assert not [p for p in FALLBACK_PHRASES if p in _text_outputs(out)], f"{pub} shows a fallback"
    images = [o for c in outs for o in c.outputs if "image/png" in o.get("data", {})]
    assert images or path.name.startswith("01"), f"{pub}: no figure in the outputs"
