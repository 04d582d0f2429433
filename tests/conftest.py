"""Shared fixtures: which modes this kernel can run."""
from __future__ import annotations

import os

import pytest

ALL_MODES = ["stw", "copy", "minor", "move"]


def _native() -> bool:
    try:
        from artgc._lib import lib  # noqa: F401
    except ImportError:
        return False
    return True


needs_native = pytest.mark.skipif(not _native(), reason="artgc's native core is not built")


def _caps() -> dict:
    from artgc._lib import ffi, lib
    c = ffi.new("agc_uffd_caps *")
    lib.agc_uffd_caps_get(c)
    return {"available": bool(c.available), "minor_shmem": bool(c.minor_shmem),
            "missing_shmem": bool(c.missing_shmem), "sigbus": bool(c.sigbus), "move": bool(c.move)}


def mode_supported(mode: str, delivery: str = "sigbus") -> bool:
    if mode == "stw":
        return True
    c = _caps()
    if not c["available"] or (delivery == "sigbus" and not c["sigbus"]):
        return False
    return {"copy": c["missing_shmem"], "minor": c["minor_shmem"], "move": c["move"]}[mode]


def mode_params() -> list:
    """(mode, delivery) pairs; unsupported ones are skipped with the reason."""
    out = []
    for m in ALL_MODES:
        for d in (["sigbus"] if m == "stw" else ["sigbus", "thread"]):
            out.append(pytest.param(m, d, id=f"{m}-{d}"))
    return out


# (mode, delivery, memory): every mode on each memory it runs on, with both
# deliveries where the mode takes faults
MODE_MEMORY_PARAMS = [pytest.param("stw", "sigbus", "anon", id="stw"),
                      pytest.param("stw", "sigbus", "shmem", id="stw-shmem"),
                      pytest.param("copy", "sigbus", "anon", id="copy-sigbus"),
                      pytest.param("copy", "thread", "anon", id="copy-thread"),
                      pytest.param("copy", "sigbus", "shmem", id="copy-shmem"),
                      pytest.param("move", "sigbus", "anon", id="move-sigbus"),
                      pytest.param("move", "thread", "anon", id="move-thread"),
                      pytest.param("minor", "sigbus", "shmem", id="minor-sigbus"),
                      pytest.param("minor", "thread", "shmem", id="minor-thread")]


def skip_unless_supported(mode: str, delivery: str = "sigbus") -> None:
    if not mode_supported(mode, delivery):
        pytest.skip(f"kernel cannot run mode {mode} with delivery {delivery}")


@pytest.fixture
def require_mode():
    def check(mode: str, delivery: str = "sigbus") -> None:
        if os.environ.get("ARTGC_DISABLE_UFFD") == "1" and mode != "stw":
            pytest.skip("userfaultfd disabled by ARTGC_DISABLE_UFFD=1")
        if not mode_supported(mode, delivery):
            pytest.skip(f"kernel cannot run mode {mode} with delivery {delivery}")
    return check
