"""The fast-path microbenchmark (`artgc probe --fastpath`): every figure is
measured on every heap memory (shmem with small and with huge pages, anon, anon with small pages), bad arguments are refused, and the CLI adds
the table and the JSON key. Speed itself is judged by benchmarks, not here."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

import artgc
from artgc.fastpath import FASTPATH_OPS, format_fastpath


@pytest.fixture(scope="module")
def result() -> dict:
    return artgc.fastpath(ops=20_000, reps=1)


def test_every_figure_measured_on_every_memory(result: dict) -> None:
    assert set(result) == {"shmem", "shmem-huge", "anon", "anon-small"}
    for kind, d in result.items():
        assert d["ops"] == 20_000 and d["reps"] == 1
        for key in FASTPATH_OPS:
            v = d[key]
            assert isinstance(v, float) and math.isfinite(v) and v > 0, (kind, key, v)


def test_one_memory_kind_only() -> None:
    d = artgc.fastpath("anon", ops=1000, reps=1)
    assert list(d) == ["anon"]


def test_table_names_every_operation(result: dict) -> None:
    text = format_fastpath(result)
    for label, _ in FASTPATH_OPS.values():
        assert label in text
    assert "shmem" in text and "shmem-huge" in text and "anon" in text and "anon-small" in text
    assert format_fastpath({}) == "fast paths: nothing measured"


@pytest.mark.parametrize("kw,msg", [
    ({"memory": "hugetlb"}, "memory must be one of all, shmem, shmem-huge, anon, anon-small"),
    ({"ops": -1}, "ops must be"),
    ({"ops": 10}, "ops must be 1,000 to"),
    ({"reps": 1000}, "reps must be 1 to 101"),
    ({"reps": True}, "reps must be"),
])
def test_bad_arguments_are_refused(kw: dict, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        artgc.fastpath(**kw)


def test_cli_probe_fastpath_json() -> None:
    p = subprocess.run([sys.executable, "-m", "artgc", "probe", "--quick", "--fastpath", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert "uffd" in d and "limits" in d
    assert set(d["fastpath"]) == {"shmem", "shmem-huge", "anon", "anon-small"}
    assert d["fastpath"]["anon"]["alloc_ns"] > 0
