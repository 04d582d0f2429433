"""huge_pages: anonymous heap memory asks for transparent huge pages
(MADV_HUGEPAGE, "hg" in the mapping's VmFlags) unless told not to; a shmem
heap's file lives in a tmpfs of its own mounted huge=always (or a memfd
advised for huge pages). The graph survives cycles either way. Whether huge pages are
faster is a benchmark's question (artgc probe --fastpath), not a test's."""
from __future__ import annotations

import pytest

import artgc
from artgc._lib import ffi, lib


def _vmflags(addr: int) -> list[str]:
    """The VmFlags of the mapping that contains addr (this process's smaps)."""
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and not head[0].endswith(":"):
                a, b = (int(x, 16) for x in head[0].split("-"))
                inside = a <= addr < b
            elif inside and line.startswith("VmFlags:"):
                return line.split()[1:]
    raise AssertionError(f"no mapping holds {addr:#x}")


def _thp_choice(name: str) -> str:
    """The bracketed choice of /sys/kernel/mm/transparent_hugepage/<name>."""
    try:
        with open(f"/sys/kernel/mm/transparent_hugepage/{name}") as f:
            return f.read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return "missing"


def _thp_mode() -> str:
    return _thp_choice("enabled")


@pytest.mark.skipif(_thp_mode() in ("never", "missing"), reason="the kernel offers no transparent huge pages")
@pytest.mark.parametrize("huge", [True, False])
def test_anon_heap_asks_for_huge_pages_unless_told_not_to(huge: bool) -> None:
    with artgc.Heap("64MiB", mode="stw", memory="anon", huge_pages=huge) as h:
        assert ("hg" in _vmflags(h.primary_address)) is huge
        C = h.define_class("C", refs=1, data_bytes=64)
        a = h.new(C)
        h.set_ref(a, 0, h.new(C))
        h.collect()
        digest = h.verify()
        h.collect()
        assert h.verify() == digest
        # the advice stays on the primary range across the flips' mremaps
        assert ("hg" in _vmflags(h.primary_address)) is huge


def _file_bytes(h: artgc.Heap) -> int:
    import os
    return os.fstat(h.memfd).st_blocks * 512


@pytest.mark.parametrize("mode", ["stw", "minor"])
def test_shmem_heap_file_has_huge_pages_unless_told_not_to(mode: str, require_mode) -> None:
    """A shmem heap with huge_pages lives in a tmpfs of its own mounted
    huge=always (or, where that mount is refused, a memfd advised for huge
    pages): one small object populates a whole 2 MiB of the file. Without
    huge_pages, the default on shmem, it is a memfd of small pages."""
    require_mode(mode, "sigbus")
    with artgc.Heap("64MiB", mode=mode, memory="shmem", huge_pages=False, pretouch=False) as h:
        assert h.shmem_huge == "none"
        h.new(h.define_class("C", refs=0, data_bytes=64))
        assert 0 < _file_bytes(h) < 2 << 20
    with artgc.Heap("64MiB", mode=mode, memory="shmem", pretouch=False) as h:
        assert h.shmem_huge == "none"           # the default on shmem: small pages
    with artgc.Heap("64MiB", mode=mode, memory="shmem", huge_pages=True, pretouch=False) as h:
        if h.shmem_huge == "none":
            assert _thp_choice("shmem_enabled") not in ("always", "advise", "within_size", "force")
            pytest.skip("no private tmpfs mount here (CAP_SYS_ADMIN) and shmem_enabled gives memfds no "
                        "huge pages")
        C = h.define_class("C", refs=1, data_bytes=64)
        a = h.new(C)
        n = _file_bytes(h)
        assert n >= 2 << 20 and n % (2 << 20) == 0, n
        assert h.shmem_huge in ("tmpfs", "madvise")
        # the heap's file is what the memory sampler counts once (not the
        # primary and alias mappings of it twice)
        counted = artgc.memory.memfds_populated_bytes()
        assert counted is not None and counted >= n
        h.set_ref(a, 0, h.new(C))
        h.collect()
        digest = h.verify()
        h.collect()
        assert h.verify() == digest


@pytest.mark.parametrize("delivery", ["sigbus", "thread"])
def test_minor_keeps_the_graph_on_huge_and_small_shmem_pages(delivery: str, require_mode) -> None:
    require_mode("minor", delivery)
    runs = [artgc.run("graph", size=20, heap="8MiB", mode="minor", delivery=delivery, mutators=2,
                      gc_threads=2, verify=True, seed=5, huge_pages=huge) for huge in (True, False)]
    for r in runs:
        assert r.ok and r.verified is True and len(r.cycles) >= 3, r.error
    assert runs[0].output == runs[1].output
    assert runs[1].options["shmem_huge"] == "none"
    assert runs[0].options["shmem_huge"] in ("tmpfs", "madvise", "none")


def test_option_in_result_and_checked() -> None:
    r = artgc.run("binarytrees", size=10, heap="8MiB", mode="stw", memory="anon", huge_pages=False)
    assert r.ok and r.options["huge_pages"] is False
    # not given: on for anonymous memory, off for shmem (a trade on shmem:
    # throughput against tail latency, see the option's help)
    assert artgc.run("binarytrees", size=10, heap="8MiB", mode="stw").options["huge_pages"] is True
    r = artgc.run("binarytrees", size=10, heap="8MiB", mode="stw", memory="shmem")
    assert r.options["huge_pages"] is False and r.options["shmem_huge"] == "none"
    o = ffi.new("agc_options *")
    lib.agc_options_default(o)
    assert o.huge_pages == 1     # the C core's own check: tests/test_options.py
    with pytest.raises((TypeError, ValueError)):
        artgc.Heap("8MiB", huge_pages="yes")   # type: ignore[arg-type]


def _resident(addr: int, length: int) -> int:
    """Resident bytes of [addr, addr+length) (mincore through ctypes)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    pages = (length + 4095) // 4096
    vec = (ctypes.c_ubyte * pages)()
    assert libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(length), vec) == 0, ctypes.get_errno()
    return sum(v & 1 for v in vec) * 4096


def test_anon_pretouch_maps_ahead_of_allocation() -> None:
    """Between cycles the GC thread maps the free space above the top of an
    anonymous heap ("auto": a 16th of the heap, at least 16 MiB)."""
    import time
    with artgc.Heap("256MiB", mode="copy", memory="anon") as h:
        C = h.define_class("C", refs=0, data_bytes=4000)
        keep = [h.new(C) for _ in range(100)]
        h.collect()
        base = h.primary_address
        top = (lib.agc_heap_used(h._ptr) + (1 << 21)) & ~((1 << 21) - 1)   # past the TLAB's huge page
        deadline = time.monotonic() + 10
        ahead = 0
        while time.monotonic() < deadline:
            ahead = _resident(base + top, 12 << 20)
            if ahead >= 12 << 20:
                break
            time.sleep(0.05)
        assert ahead >= 12 << 20, f"only {ahead} bytes mapped ahead"
        assert h.verify()
        del keep


@pytest.mark.parametrize("mode", ["copy", "minor", "move"])
def test_build_ahead_keeps_the_graph(mode: str, require_mode) -> None:
    require_mode(mode, "sigbus")
    off = artgc.run("graph", size=20, heap="8MiB", mode=mode, mutators=2, gc_threads=2, verify=True, seed=3)
    on = artgc.run("graph", size=20, heap="8MiB", mode=mode, mutators=2, gc_threads=2, verify=True, seed=3,
                   build_ahead=True)
    assert off.ok and on.ok and on.verified is True and on.cycles
    assert on.output == off.output and on.options["build_ahead"] is True


def test_pretouch_window_auto_and_sizes() -> None:
    from artgc import options
    assert options.heap_options("1GiB").to_c().pretouch_window == options.AUTO_BYTES
    assert options.heap_options("1GiB", pretouch_window="8MiB").to_c().pretouch_window == 8 << 20
    assert options.heap_options("1GiB", pretouch_window=0).to_c().pretouch_window == 0
    with pytest.raises(ValueError):
        options.heap_options("1GiB", pretouch_window="soon")
    with artgc.Heap("16MiB", pretouch_window="auto") as h:
        h.collect()


@pytest.mark.parametrize("delivery", ["sigbus", "thread"])
def test_a_faulting_mutator_builds_into_a_small_page(delivery: str, require_mode) -> None:
    """On a heap file with huge pages a page that a fault builds before any
    GC thread made it is allocated small (through the alias without huge
    pages): the fault does not pay for a fresh 2 MiB (5-7 ms on this VM)."""
    require_mode("minor", delivery)
    with artgc.Heap("64MiB", mode="minor", delivery=delivery, huge_pages=True, pretouch=False) as h:
        if h.shmem_huge == "none":
            pytest.skip("the heap's file has no huge pages here")
        C = h.define_class("C", refs=1, data_bytes=4000)
        objs = [h.new(C) for _ in range(3000)]          # ~12 MiB: several 2 MiB blocks of to-space
        for a, b in zip(objs, objs[1:]):
            h.set_ref(a, 0, b)
        keep = objs[::3]
        del objs
        digest = h.verify()
        h.collect_begin()                                # flipped; no page built yet
        states = h.page_states()
        assert "mapped" not in states
        before = _file_bytes(h)
        h.read_data(keep[-1], 0, 8)                      # a fault far into to-space builds one page
        grew = _file_bytes(h) - before
        assert 0 < grew < 2 << 20, grew
        h.collect_finish()
        assert h.verify() == digest
