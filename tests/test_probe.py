"""artgc.probe: the contract's JSON shape, sane values, and the env switch.

No timing thresholds: figures must only be positive numbers or None + reason.
"""
from __future__ import annotations

import json
import math

import pytest

from artgc.probe import capabilities, format_probe, probe

FEATURES = {"minor_shmem", "missing_shmem", "sigbus", "move", "wp"}
CONTRACT_LIMITS = ["memcpy_gbps", "minor_continue_sigbus_us", "minor_continue_thread_us",
                   "missing_copy_sigbus_us", "missing_copy_thread_us", "continue_per_page_us",
                   "copy_per_page_us", "move_per_page_us"]
EXTRA_LIMITS = ["continue_range_per_page_us", "mremap_1g_aligned_ms", "mremap_2m_aligned_ms",
                "copy_anon_per_page_us", "minor_continue_thread_samecore_us",
                "missing_copy_thread_samecore_us", "copy_anon_busy_per_page_us", "move_busy_per_page_us"]
UFFD_FIGURES = [k for k in CONTRACT_LIMITS + EXTRA_LIMITS
                if k != "memcpy_gbps" and not k.startswith("mremap")]


def _check_figure(limits: dict, key: str) -> None:
    assert key in limits, key
    v = limits[key]
    if v is None:
        reason = limits.get(key + "_reason")
        assert isinstance(reason, str) and reason, f"{key} is None without a reason"
    else:
        assert isinstance(v, float) and math.isfinite(v) and v > 0, (key, v)
        assert key + "_reason" not in limits


@pytest.fixture(scope="module")
def result():
    return probe(quick=True, pages=64)


def test_probe_has_every_contract_key(result):
    assert set(result) == {"uffd", "limits"}
    u = result["uffd"]
    assert set(u) == {"available", "via", "reason", "features"}
    assert isinstance(u["available"], bool)
    assert set(u["features"]) == FEATURES
    assert all(isinstance(v, bool) for v in u["features"].values())
    if u["available"]:
        assert u["via"] in ("syscall", "dev") and u["reason"] is None
    else:
        assert u["via"] is None and u["reason"]
    for key in CONTRACT_LIMITS + EXTRA_LIMITS:
        _check_figure(result["limits"], key)
    assert result["limits"]["pages"] == 64
    json.loads(json.dumps(result))          # plain JSON


def test_probe_measures_what_the_kernel_offers(result):
    u, lim = result["uffd"], result["limits"]
    assert lim["memcpy_gbps"] is not None
    assert lim["mremap_1g_aligned_ms"] is not None
    if u["available"] and u["features"]["minor_shmem"]:
        assert lim["continue_per_page_us"] is not None
        assert lim["minor_continue_thread_us"] is not None
        if u["features"]["sigbus"]:
            assert lim["minor_continue_sigbus_us"] is not None
    if u["available"] and u["features"]["missing_shmem"]:
        assert lim["copy_per_page_us"] is not None
    if u["available"] and u["features"]["move"]:
        assert lim["move_per_page_us"] is not None
    if not (u["available"] and u["features"]["move"]):
        assert lim["move_per_page_us"] is None


def test_format_probe_is_a_readable_table(result):
    text = format_probe(result)
    assert "userfaultfd" in text and "memcpy" in text and "UFFDIO_CONTINUE" in text
    assert "mremap" in text
    # It also copes with a result that lacks the extras (e.g. an older results.json).
    minimal = {"uffd": result["uffd"],
               "limits": {k: result["limits"].get(k) for k in CONTRACT_LIMITS}}
    assert "memcpy" in format_probe(minimal)


def test_disabled_by_env_reports_unavailable_with_reasons(monkeypatch):
    monkeypatch.setenv("ARTGC_DISABLE_UFFD", "1")
    d = probe(quick=True, pages=16)
    u, lim = d["uffd"], d["limits"]
    assert u["available"] is False and u["via"] is None
    assert "ARTGC_DISABLE_UFFD" in u["reason"]
    assert not any(u["features"].values())
    for key in UFFD_FIGURES:
        assert lim[key] is None, key
        assert "ARTGC_DISABLE_UFFD" in lim[key + "_reason"], key
    # What needs no userfaultfd is still measured.
    assert lim["memcpy_gbps"] is not None and lim["mremap_1g_aligned_ms"] is not None
    assert "NOT available" in format_probe(d)
    monkeypatch.delenv("ARTGC_DISABLE_UFFD")
    assert capabilities()["reason"] is None or "ARTGC_DISABLE_UFFD" not in capabilities()["reason"]


def test_probe_rejects_bad_arguments():
    with pytest.raises(ValueError):
        probe(quick=True, pages=-1)
    with pytest.raises(ValueError):
        probe(quick=True, pages=1 << 30)
