"""Stress: several native mutators changing a large graph (and an LRU cache)
while cycles run back to back, the verifier after every cycle, every mode.

The default run is bounded (hundreds of cycles across the suite); the soak
target runs thousands per mode:

    ARTGC_SOAK_CYCLES=2000 python -m pytest -m stress tests/test_stress.py

and writes the cycles survived per mode to $ARTGC_SOAK_REPORT if set (after
every run, so a soak stopped early keeps its real counts). ARTGC_SOAK_UNTIL
(a Unix time) shares the time left among the combinations still to run.
"""
from __future__ import annotations

import json
import os
import time

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


GEN_PARAMS = mode_params()   # minor: young cycles on shmem
# graph in 6 MiB rather than 4: at 4 MiB the heap stays under a quarter free
# after each cycle, so every cycle is full ("heap pressure")
GEN_BOUNDED = [("graph", 4, 20, "6MiB"), ("lru", 4, 200, "16MiB")]


@pytest.mark.parametrize("mode,delivery", GEN_PARAMS)
@pytest.mark.parametrize("workload,mutators,size,heap", GEN_BOUNDED)
def test_bounded_stress_generational(workload, mutators, size, heap, mode, delivery, require_mode):
    """The same with young cycles: stores into old objects from 4 mutators
    while the card table is scanned, cleaned and forwarded (young_flip_max 0:
    graph dirties enough cards that the default would take full cycles)."""
    require_mode(mode, delivery)
    r = artgc.run(workload, size=size, mode=mode, delivery=delivery, heap=heap, mutators=mutators,
                  gc_threads=2, verify=True, seed=11, generational="on", young_flip_max=0)
    assert r.error in (None, ""), r.error
    assert r.verified is True
    assert len(r.cycles) >= 5 and any(c["kind"] == "young" for c in r.cycles)
    ref = artgc.run(workload, size=size, mode="stw", heap="64MiB", mutators=mutators, seed=11)
    assert r.output == ref.output


SOAK_RUNS = (("graph", 20, "4MiB"), ("lru", 200, "16MiB"))
GEN_SOAK_RUNS = (("graph", 20, "6MiB"), ("lru", 200, "16MiB"))   # young cycles too (GEN_BOUNDED)


def _record(report: str | None, key: str, entry: dict) -> None:
    """Write this combination's figures now (after every run), so that a soak
    stopped early still leaves its real counts."""
    if not report:
        return
    data: dict = {}
    if os.path.exists(report):
        with open(report) as f:
            data = json.load(f)
    data.setdefault("cycles", {})[key] = entry["cycles"]
    data.setdefault("detail", {})[key] = entry
    tmp = report + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, report)


def _budget_s(mode: str, delivery: str) -> float | None:
    """With ARTGC_SOAK_UNTIL (a Unix time), this combination's share of the
    time left: the combinations still to run share it equally."""
    until = os.environ.get("ARTGC_SOAK_UNTIL")
    if not until:
        return None
    keys = [f"{p.values[0]}-{p.values[1]}" for p in mode_params()]
    left = len(keys) - keys.index(f"{mode}-{delivery}")
    return max(0.0, (float(until) - time.time()) / left)


def _soak(mode: str, delivery: str, target: int, report: str | None, generational: str = "off") -> dict:
    key = f"{mode}-{delivery}" + ("-generational" if generational == "on" else "")
    budget = _budget_s(mode, delivery) if generational == "off" else None
    t0 = time.time()
    entry = {"cycles": 0, "runs": 0, "seconds": 0.0, "target": target, "stopped_by_time": False}
    seed = 1
    while entry["cycles"] < target:
        if budget is not None and time.time() - t0 >= budget:
            entry["stopped_by_time"] = True
            break
        for workload, size, heap in (SOAK_RUNS if generational == "off" else GEN_SOAK_RUNS):
            r = artgc.run(workload, size=size, mode=mode, delivery=delivery, heap=heap,
                          mutators=8, gc_threads=2, verify=True, seed=seed, generational=generational,
                          young_flip_max=0)   # young cycles even where many cards are dirty
            assert r.error in (None, ""), f"after {entry['cycles']} cycles: {r.error}"
            assert r.verified is True
            entry["cycles"] += len(r.cycles)
            entry["runs"] += 1
        entry["seconds"] = round(time.time() - t0, 1)
        _record(report, key, entry)
        seed += 1
    entry["seconds"] = round(time.time() - t0, 1)
    _record(report, key, entry)
    return entry


@pytest.mark.stress
@pytest.mark.parametrize("mode,delivery", mode_params())
def test_soak(mode, delivery, require_mode):
    require_mode(mode, delivery)
    target = int(os.environ.get("ARTGC_SOAK_CYCLES", "1000"))
    entry = _soak(mode, delivery, target, os.environ.get("ARTGC_SOAK_REPORT"))
    print(f"soak {mode}-{delivery}: {entry['cycles']} cycles survived in {entry['runs']} runs, "
          f"{entry['seconds']} s, verifier on")
    # every run passed its checks; short of the target only when time ran out
    assert entry["cycles"] >= target or entry["stopped_by_time"]


@pytest.mark.stress
@pytest.mark.parametrize("mode,delivery", [p for p in GEN_PARAMS
                                           if p.id in ("stw-sigbus", "copy-sigbus", "minor-sigbus", "move-thread")])
def test_soak_generational(mode, delivery, require_mode):
    require_mode(mode, delivery)
    target = int(os.environ.get("ARTGC_SOAK_CYCLES", "1000"))
    entry = _soak(mode, delivery, target, os.environ.get("ARTGC_SOAK_REPORT"), generational="on")
    print(f"soak {mode}-{delivery} generational: {entry['cycles']} cycles survived in {entry['runs']} runs, "
          f"{entry['seconds']} s, verifier on")
    assert entry["cycles"] >= target
