"""Stress: several native mutators changing a large graph (and an LRU cache)
while cycles run back to back, the verifier after every cycle, every mode.

The default run is bounded (hundreds of cycles across the suite); the soak
target runs thousands per mode:

    ARTGC_SOAK_CYCLES=2000 python -m pytest -m stress tests/test_stress.py

and writes the cycles survived per mode to $ARTGC_SOAK_REPORT if set.
"""
from __future__ import annotations

import json
import os

import pytest

import artgc

from conftest import mode_params

BOUNDED = [("graph", 4, 20, "4MiB"), ("lru", 4, 200, "16MiB")]


@pytest.mark.parametrize("mode,delivery", mode_params())
@pytest.mark.parametrize("workload,mutators,size,heap", BOUNDED)
def test_bounded_stress(workload, mutators, size, heap, mode, delivery, require_mode):
    require_mode(mode, delivery)
    r = artgc.run(workload, size=size, mode=mode, delivery=delivery, heap=heap,
                  mutators=mutators, gc_threads=2, verify=True, seed=11)
    assert r.error in (None, ""), r.error
    assert r.verified is True
    assert len(r.cycles) >= 5
    ref = artgc.run(workload, size=size, mode="stw", heap="64MiB", mutators=mutators, seed=11)
    assert r.output == ref.output   # same digest / hit-miss counts as a quiet stw run


def _soak(mode: str, delivery: str, target: int) -> int:
    survived = 0
    seed = 1
    while survived < target:
        for workload, size, heap in (("graph", 20, "4MiB"), ("lru", 200, "16MiB")):
            r = artgc.run(workload, size=size, mode=mode, delivery=delivery, heap=heap,
                          mutators=8, gc_threads=2, verify=True, seed=seed)
            assert r.error in (None, ""), f"after {survived} cycles: {r.error}"
            assert r.verified is True
            survived += len(r.cycles)
        seed += 1
    return survived


@pytest.mark.stress
@pytest.mark.parametrize("mode,delivery", mode_params())
def test_soak(mode, delivery, require_mode):
    require_mode(mode, delivery)
    target = int(os.environ.get("ARTGC_SOAK_CYCLES", "1000"))
    survived = _soak(mode, delivery, target)
    report = os.environ.get("ARTGC_SOAK_REPORT")
    if report:
        data = {}
        if os.path.exists(report):
            with open(report) as f:
                data = json.load(f)
        data[f"{mode}-{delivery}"] = survived
        with open(report, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
    print(f"soak {mode}-{delivery}: {survived} cycles survived, verifier on")
