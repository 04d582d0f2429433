"""The userfaultfd layer (heap/os/uffd.c, heap/os/fault.c, heap/testing/uffd_selftest.c)."""
from __future__ import annotations

import ctypes
import mmap
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from artgc._lib import ffi, lib

PAGE = 4096
CONTINUE, COPY, MOVE = 0, 1, 2
SIGBUS_DELIVERY, THREAD_DELIVERY = 0, 1


def _caps():
    c = ffi.new("agc_uffd_caps *")
    lib.agc_uffd_caps_get(c)
    return c


def _err() -> str:
    return ffi.string(lib.agc_last_error()).decode()


CAPS = _caps()
needs_uffd = pytest.mark.skipif(not CAPS.available,
                                reason=f"no userfaultfd: {ffi.string(CAPS.reason).decode()}")


def _need(feature: str) -> None:
    if not CAPS.available:
        pytest.skip(f"no userfaultfd: {ffi.string(CAPS.reason).decode()}")
    if not getattr(CAPS, feature):
        pytest.skip(f"this kernel's userfaultfd lacks {feature} (see `artgc probe`)")


_METHOD_FEATURE = {CONTINUE: "minor_shmem", COPY: "missing_shmem", MOVE: "move"}


@pytest.mark.parametrize("delivery", [SIGBUS_DELIVERY, THREAD_DELIVERY], ids=["sigbus", "thread"])
@pytest.mark.parametrize("method", [CONTINUE, COPY, MOVE], ids=["continue", "copy", "move"])
def test_selftest_resolves_every_fault_from_several_threads(method, delivery):
    _need(_METHOD_FEATURE[method])
    if delivery == SIGBUS_DELIVERY:
        _need("sigbus")
    faults = ffi.new("uint64_t *")
    npages = 512
    rc = lib.agc_uffd_selftest(method, delivery, 4, npages, 0xA57C + method, faults)
    assert rc == 0, _err()
    # Every page faulted at least once; threads racing on a page may add more.
    assert npages <= faults[0] <= 4 * npages


def test_selftest_rejects_bad_arguments():
    assert lib.agc_uffd_selftest(7, 0, 1, 1, 0, ffi.NULL) != 0
    assert "method" in _err()
    assert lib.agc_uffd_selftest(0, 0, 0, 1, 0, ffi.NULL) != 0
    assert "threads" in _err()


# --------------------------------------------------------------------------- raw ioctls

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
PROT_RW = mmap.PROT_READ | mmap.PROT_WRITE


def _map(length: int, flags: int, fd: int = -1) -> int:
    addr = libc.mmap(None, length, PROT_RW, flags, fd, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap failed")
    return addr


class _Memfd:
    """A memfd mapped twice: primary (to register) and alias."""

    def __init__(self, npages: int, populate: bool):
        self.size = npages * PAGE
        self.fd = os.memfd_create("artgc-test", os.MFD_CLOEXEC)
        os.ftruncate(self.fd, self.size)
        if populate:
            os.posix_fallocate(self.fd, 0, self.size)
        self.primary = _map(self.size, mmap.MAP_SHARED, self.fd)
        self.alias = _map(self.size, mmap.MAP_SHARED, self.fd)

    def close(self):
        libc.munmap(self.primary, self.size)
        libc.munmap(self.alias, self.size)
        os.close(self.fd)


def _p(addr: int):
    return ffi.cast("void *", addr)


@needs_uffd
def test_continue_over_a_partly_mapped_range_maps_the_rest_and_reports_eexist():
    _need("minor_shmem")
    m = _Memfd(8, populate=True)
    uffd = lib.agc_uffd_open(lib.AGC_UFFD_WANT_MINOR_SHMEM)
    assert uffd >= 0, _err()
    try:
        assert lib.agc_uffd_register(uffd, _p(m.primary), m.size, lib.AGC_UFFD_REG_MINOR) == 0, _err()
        for i in range(8):      # written through the alias: in the page cache, not mapped
            ctypes.memset(m.alias + i * PAGE, 0x30 + i, PAGE)
        assert lib.agc_uffd_continue(uffd, _p(m.primary + 3 * PAGE), PAGE, 0) == 0
        assert lib.agc_uffd_continue(uffd, _p(m.primary + 5 * PAGE), PAGE, 0) == 0
        # Pages 3 and 5 exist: EEXIST is reported as 1 and the rest is still mapped.
        assert lib.agc_uffd_continue(uffd, _p(m.primary), m.size, 0) == 1
        # Every page is mapped now, so these reads do not fault.
        for i in range(8):
            assert ctypes.string_at(m.primary + i * PAGE, PAGE) == bytes([0x30 + i]) * PAGE
        assert lib.agc_uffd_unregister(uffd, _p(m.primary), m.size) == 0
    finally:
        os.close(uffd)
        m.close()


@needs_uffd
def test_copy_over_a_partly_mapped_range():
    _need("missing_shmem")
    m = _Memfd(4, populate=False)
    src = ctypes.create_string_buffer(b"\x5a" * (4 * PAGE), 4 * PAGE)
    uffd = lib.agc_uffd_open(lib.AGC_UFFD_WANT_MISSING_SHMEM)
    assert uffd >= 0, _err()
    try:
        assert lib.agc_uffd_register(uffd, _p(m.primary), m.size, lib.AGC_UFFD_REG_MISSING) == 0
        src_addr = ctypes.addressof(src)
        assert lib.agc_uffd_copy(uffd, _p(m.primary + PAGE), _p(src_addr), PAGE, 0) == 0
        assert lib.agc_uffd_copy(uffd, _p(m.primary), _p(src_addr), m.size, 0) == 1
        assert ctypes.string_at(m.primary, m.size) == b"\x5a" * m.size
        # A COPY into a mapped page is EEXIST only: nothing else to do.
        assert lib.agc_uffd_copy(uffd, _p(m.primary), _p(src_addr), PAGE, 0) == 1
    finally:
        os.close(uffd)
        m.close()


@needs_uffd
def test_move_is_refused_for_memfd_mappings():
    """UFFDIO_MOVE works between private anonymous mappings only (see
    heap/testing/uffd_selftest.c): a memfd destination or source is EINVAL."""
    _need("move")
    _need("missing_shmem")
    m = _Memfd(2, populate=False)
    anon = _map(2 * PAGE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    uffd = lib.agc_uffd_open(lib.AGC_UFFD_WANT_MOVE | lib.AGC_UFFD_WANT_MISSING_SHMEM)
    assert uffd >= 0, _err()
    try:
        assert lib.agc_uffd_register(uffd, _p(m.primary), m.size, lib.AGC_UFFD_REG_MISSING) == 0
        ctypes.memset(anon, 0x41, 2 * PAGE)
        rc = lib.agc_uffd_move(uffd, _p(m.primary), _p(anon), PAGE, 0)
        if rc == 0:
            pytest.skip("this kernel moves pages into shmem: update the comment in "
                        "heap/testing/uffd_selftest.c and consider move mode on the memfd")
        assert rc == -22  # EINVAL
    finally:
        os.close(uffd)
        libc.munmap(anon, 2 * PAGE)
        m.close()


@needs_uffd
def test_register_reports_an_actionable_error():
    uffd = lib.agc_uffd_open(0)
    assert uffd >= 0, _err()
    try:
        anon = _map(PAGE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        # MINOR needs shmem: anonymous memory is refused with a message.
        rc = lib.agc_uffd_register(uffd, _p(anon), PAGE, lib.AGC_UFFD_REG_MINOR)
        assert rc < 0
        assert "UFFDIO_REGISTER" in _err()
        libc.munmap(anon, PAGE)
    finally:
        os.close(uffd)


@needs_uffd
def test_fault_thread_stops_promptly_without_faults():
    uffd = lib.agc_uffd_open(0)
    assert uffd >= 0, _err()

    @ffi.callback("int(void *, void *, int, uint64_t, uint32_t, int)")
    def never(ctx, addr, kind, t, tid, in_signal):  # pragma: no cover - no faults
        return -1

    try:
        t = lib.agc_fault_thread_start(uffd, never, ffi.NULL)
        assert t != ffi.NULL, _err()
        assert lib.agc_fault_thread_alive(t) == 1
        t0 = time.monotonic()
        lib.agc_fault_thread_stop(t)
        assert time.monotonic() - t0 < 1.0
    finally:
        os.close(uffd)


# --------------------------------------------------------------------------- env switch

def test_disable_env_makes_userfaultfd_unavailable(monkeypatch):
    monkeypatch.setenv("ARTGC_DISABLE_UFFD", "1")
    c = _caps()
    assert c.available == 0 and c.disabled_by_env == 1 and c.via == lib.AGC_UFFD_VIA_NONE
    assert c.minor_shmem == 0 and c.sigbus == 0 and c.move == 0
    assert "ARTGC_DISABLE_UFFD" in ffi.string(c.reason).decode()
    assert lib.agc_uffd_open(lib.AGC_UFFD_WANT_MINOR_SHMEM) == -1
    assert "ARTGC_DISABLE_UFFD" in _err() and "artgc probe" in _err()
    assert lib.agc_uffd_errcode() == lib.AGC_EUNSUPPORTED
    assert lib.agc_uffd_selftest(CONTINUE, THREAD_DELIVERY, 1, 1, 0, ffi.NULL) != 0
    monkeypatch.delenv("ARTGC_DISABLE_UFFD")
    assert _caps().disabled_by_env == 0       # re-read on every call


@needs_uffd
def test_open_names_a_missing_feature(monkeypatch):
    missing = [(f, w) for f, w in [("move", lib.AGC_UFFD_WANT_MOVE),
                                   ("minor_shmem", lib.AGC_UFFD_WANT_MINOR_SHMEM),
                                   ("sigbus", lib.AGC_UFFD_WANT_SIGBUS)]
               if not getattr(CAPS, f)]
    if not missing:
        pytest.skip("this kernel offers every feature artgc asks for")
    _, want = missing[0]
    assert lib.agc_uffd_open(want) == -1
    assert "artgc probe" in _err()
    assert lib.agc_uffd_errcode() == lib.AGC_EUNSUPPORTED


# --------------------------------------------------------------------------- SIGBUS chaining

_CHILD = textwrap.dedent("""
    import faulthandler, mmap, os, sys, tempfile
    from artgc._lib import lib
    order, how = sys.argv[1], sys.argv[2]
    if order == "ours-first":
        lib.agc_sigbus_install(); faulthandler.enable()
    elif order == "reasserted":
        lib.agc_sigbus_install(); faulthandler.enable(); lib.agc_sigbus_install()
    elif order == "faulthandler-first":
        faulthandler.enable(); lib.agc_sigbus_install()
    elif order == "ours-only":
        lib.agc_sigbus_install()
    if how == "kill":
        os.kill(os.getpid(), 7)   # SIGBUS
    else:
        f = tempfile.TemporaryFile()
        f.truncate(2 * mmap.PAGESIZE)
        m = mmap.mmap(f.fileno(), 2 * mmap.PAGESIZE)
        f.truncate(0)             # the mapping now lies beyond the end of the file
        print(m[mmap.PAGESIZE])   # SIGBUS (BUS_ADRERR) at an address artgc does not own
    print("survived")
""")


@pytest.mark.parametrize("how", ["truncated-file", "kill"])
@pytest.mark.parametrize("order", ["ours-first", "reasserted", "faulthandler-first", "ours-only"])
def test_sigbus_outside_our_ranges_reaches_the_previous_handler(order, how):
    p = subprocess.run([sys.executable, "-c", _CHILD, order, how], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == -signal.SIGBUS, (p.returncode, p.stderr)
    assert "survived" not in p.stdout
    if order == "ours-only":
        assert "Fatal Python error" not in p.stderr
    else:
        # faulthandler saw it, and exactly once (no handler ping-pong).
        assert p.stderr.count("Fatal Python error: Bus error") == 1, p.stderr


@needs_uffd
def test_our_sigbus_ranges_work_with_faulthandler_enabled_after_us():
    """faulthandler displaces our handler; agc_sigbus_install (which the
    selftest calls) puts ours back in front, and our faults are resolved."""
    _need("sigbus")
    _need("minor_shmem")
    code = textwrap.dedent("""
        import faulthandler
        from artgc._lib import ffi, lib
        lib.agc_sigbus_install(); faulthandler.enable()
        f = ffi.new("uint64_t *")
        rc = lib.agc_uffd_selftest(0, 0, 2, 64, 1, f)
        print(rc, f[0], lib.agc_sigbus_chained_count())
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rc, faults, chained = map(int, p.stdout.split())
    assert rc == 0 and faults >= 64 and chained == 0
