"""artgc minheap: bisection for the smallest heap, cached; --heap Nx."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import artgc
from artgc import minheap
from artgc.cli import main
from conftest import needs_native  # noqa: F401


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ARTGC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_min_heap_is_the_smallest_that_completes(cache: Path) -> None:
    m = minheap.min_heap("binarytrees", 12)
    assert not m.cached and m.bytes >= 1 << 20
    ok = [p["bytes"] for p in m.probes if p["ok"]]
    bad = [p["bytes"] for p in m.probes if not p["ok"]]
    assert min(ok) == m.bytes
    assert all(b < m.bytes for b in bad)
    # it completes at the minimum; bisection stops within 2% (or 64 KiB) of a failure or the live size
    assert artgc.run("binarytrees", size=12, mode="stw", heap=m.bytes).ok
    assert m.bytes - max(bad + [m.max_live_bytes, (1 << 20) - minheap.GRANULE]) <= \
        max(minheap.GRANULE, int(minheap.REL_TOL * m.bytes)) * 2
    again = minheap.min_heap("binarytrees", 12)
    assert again.cached and again.bytes == m.bytes
    d = json.loads((cache / "minheap.json").read_text())
    assert any(k.startswith("binarytrees/12/") for k in d)


def test_heap_multiple_in_run(cache: Path) -> None:
    m = minheap.min_heap("binarytrees", 12)
    r = artgc.run("binarytrees", size=12, mode="stw", heap="3x")
    assert r.ok and r.options["heap_multiple"] == 3.0 and r.options["min_heap_bytes"] == m.bytes
    assert r.heap_bytes >= 3 * m.bytes and r.heap_bytes - 3 * m.bytes < minheap.GRANULE
    assert len(r.cycles) > 0
    assert "3x the minimum" in r.summary()


def test_minheap_cli(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["minheap", "binarytrees", "--size", "10", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["workload"] == "binarytrees" and d["size"] == 10 and d["bytes"] > 0
    assert main(["minheap", "binarytrees", "--size", "10"]) == 0
    assert "(cached)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["minheap", "nosuch"], "binarytrees, gcbench, lru, graph"),
    (["minheap", "binarytrees", "--size", "0"], "size must be between 1"),
    (["run", "binarytrees", "--heap", "0.5x"], "from 1x"),
    (["run", "binarytrees", "--heap", "twox"], "3x or 1.5x"),
])
def test_bad_minheap_input(cache: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_timeout_stops_a_run() -> None:
    # a heap the run fits in (at 64 MiB the long-lived tree of depth 20 fills
    # the heap at about the time the timeout comes, and the run may fail first)
    r = artgc.run("binarytrees", size=20, mode="stw", heap="256MiB", timeout_s=0.2)
    assert r.interrupted and not r.failed, (r.error, r.wall_s)
    with pytest.raises(ValueError, match="timeout_s"):
        artgc.run("binarytrees", size=10, heap="8MiB", timeout_s=-1)
