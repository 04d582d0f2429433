"""The options table: one declaration per option, used by Heap, run, the CLI."""
from __future__ import annotations

import argparse

import pytest

from artgc import options
from artgc.cli import build_parser, main
from artgc.suites import ALLOC_RATIO, DEFAULT_TRIGGER, get_suite
from conftest import needs_native  # noqa: F401


def test_every_c_field_exists_in_the_struct() -> None:
    from artgc._lib import ffi
    have = {f for f, _ in ffi.typeof("agc_options").fields}
    for o in options.HEAP_OPTIONS:
        if o.name == "design":          # a preset of other options, not a C field
            assert o.c_field is None
            continue
        assert o.c_field in have, o.name


def test_to_c_uses_the_table() -> None:
    from artgc._lib import lib
    o = options.heap_options("8MiB", mode="copy", delivery="thread", gc_threads=3, order="random",
                             trigger=0.5, verify=True, seed=7).to_c()
    assert (o.capacity, o.mode, o.delivery, o.gc_threads) == (8 << 20, lib.AGC_MODE_COPY, lib.AGC_DELIVERY_THREAD, 3)
    assert (o.order, o.trigger, o.verify, o.seed) == (lib.AGC_ORDER_RANDOM, 0.5, 1, 7)


def test_gc_threads_limit_is_the_c_one() -> None:
    assert options.BY_NAME["gc_threads"].hi == 64
    with pytest.raises(ValueError, match="between 1 and 64"):
        options.validate({"gc_threads": 65})
    options.validate({"gc_threads": 64})


@pytest.mark.parametrize("kw, exc, msg", [
    ({"mode": "fast"}, ValueError, "stw, copy, minor, move"),
    ({"trigger": 0.0}, ValueError, "fraction"),
    ({"trigger": float("nan")}, TypeError, "trigger"),
    ({"seed": -1}, ValueError, "seed"),
    ({"verify": 1}, TypeError, "True or False"),
    ({"heap": "0.5x"}, ValueError, "from 1x"),
    ({"heap": "ax"}, ValueError, "3x or 1.5x"),
    ({"heap": "512KiB"}, ValueError, "too small"),
    ({"nosuch": 1}, TypeError, "unknown option nosuch"),
    ({"mode": "stw", "delivery": "thread"}, ValueError, "takes no userfaultfd faults"),
])
def test_bad_values_are_refused(kw: dict, exc: type, msg: str) -> None:
    with pytest.raises(exc, match=msg):
        options.validate(kw)


def test_heap_refuses_a_multiple() -> None:
    import artgc
    with pytest.raises(ValueError, match="needs a workload"):
        artgc.Heap("3x", mode="stw")


def test_argparse_flags_come_from_the_table() -> None:
    p = argparse.ArgumentParser()
    options.add_arguments(p)
    ns = p.parse_args(["--gc-threads", "2", "--no-pretouch", "--heap", "3x", "--jvm", "g1"])
    kw = options.from_namespace(ns)
    assert set(kw) == {o.name for o in options.OPTIONS}
    assert kw["gc_threads"] == 2 and kw["pretouch"] is False and kw["heap"] == "3x" and kw["jvm"] == "g1"
    help_ = build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    for o in options.OPTIONS:
        assert o.flag in help_


def test_a_new_option_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = options.Option("hugepages", "choice", "off", "transparent huge pages for the heap",
                           choices={"on": "AGC_X_ON", "off": "AGC_X_OFF"}, c_field="hugepages_not_built")
    monkeypatch.setattr(options, "OPTIONS", options.OPTIONS + (extra,))
    monkeypatch.setattr(options, "HEAP_OPTIONS", options.HEAP_OPTIONS + (extra,))
    monkeypatch.setattr(options, "BY_NAME", {**options.BY_NAME, "hugepages": extra})
    assert options.validate({"hugepages": "on"})["hugepages"] == "on"
    with pytest.raises(ValueError, match="on, off"):
        options.validate({"hugepages": "maybe"})
    p = argparse.ArgumentParser()
    options.add_arguments(p)
    assert p.parse_args(["--hugepages", "on"]).hugepages == "on"
    options.heap_options("4MiB", hugepages="on").to_c()   # a field the core lacks is skipped


def test_cycle_reasons_have_one_name() -> None:
    import artgc
    with artgc.Heap("4MiB", mode="stw") as h:
        assert h.collect()["reason"] == "explicit"
    assert options.CYCLE_REASONS[2] == "allocation-failure"


def test_cli_refuses_stw_with_thread_delivery(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "gcbench", "--mode", "stw", "--delivery", "thread", "--heap", "8MiB"]) == 2
    err = capsys.readouterr().err
    assert "stw" in err and "no userfaultfd faults" in err and len(err.strip().splitlines()) == 1


def test_no_quick_or_standard_point_runs_without_a_cycle() -> None:
    """Every point's heap is a multiple m of the workload's minimum heap M; the
    workload allocates at least ALLOC_RATIO x M (measured by `artgc minheap`),
    and its first cycle starts once trigger x m x M is allocated. So a point
    collects whenever trigger x m < ALLOC_RATIO."""
    for name in ("quick", "standard"):
        for p in get_suite(name).points:
            assert p.heap_multiple is not None, f"{name}: {p.key} has a fixed heap"
            assert 1.5 <= p.heap_multiple <= 6
            ratio = ALLOC_RATIO[(p.workload, p.size)]
            assert DEFAULT_TRIGGER * p.heap_multiple < ratio, f"{name}: {p.key} may not collect"
    assert get_suite("quick").repeat > 1 and get_suite("standard").repeat > 1


@pytest.mark.parametrize("field", ["eager_release", "release_gaps", "huge_pages", "build_ahead", "huge_moves",
                                   "charge_fromspace"])
def test_c_core_refuses_a_flag_that_is_not_0_or_1(field: str) -> None:
    """The C core checks its flags itself (a caller of the C API has no
    options table in front of it)."""
    from artgc._lib import ffi, lib
    o = ffi.new("agc_options *")
    lib.agc_options_default(o)
    setattr(o, field, 2)
    hp = ffi.new("agc_heap **")
    assert lib.agc_heap_create(o, hp) == lib.AGC_EINVAL
    assert f"{field} must be 0 or 1, got 2" in ffi.string(lib.agc_last_error()).decode()
