"""The native workloads (heap/workloads/*.c), driven through the C API.

Every workload runs in every mode x delivery the kernel supports, on heaps
small enough that many collections happen while it runs; the workloads' own
outputs and checks must not depend on the mode.
"""
from __future__ import annotations

import threading
import time

import pytest

from artgc._lib import ffi, lib

MODES = [("stw", "sigbus"), ("copy", "sigbus"), ("copy", "thread"), ("minor", "sigbus"),
         ("minor", "thread"), ("move", "sigbus"), ("move", "thread")]
MODE_IDS = [f"{m}-{d}" for m, d in MODES]
MiB = 1 << 20


def _mode(name: str) -> int:
    return {"stw": lib.AGC_MODE_STW, "copy": lib.AGC_MODE_COPY,
            "minor": lib.AGC_MODE_MINOR, "move": lib.AGC_MODE_MOVE}[name]


def _delivery(name: str) -> int:
    return {"sigbus": lib.AGC_DELIVERY_SIGBUS, "thread": lib.AGC_DELIVERY_THREAD}[name]


class Heap:
    """A heap of the given mode; skips the test when the kernel cannot."""

    def __init__(self, mode: str = "stw", delivery: str = "sigbus", capacity: int = 2 * MiB,
                 verify: bool = False):
        o = ffi.new("agc_options *")
        lib.agc_options_default(o)
        o.capacity = capacity
        o.mode = _mode(mode)
        o.delivery = _delivery(delivery)
        o.verify = int(verify)
        hp = ffi.new("agc_heap **")
        rc = lib.agc_heap_create(o, hp)
        if rc == lib.AGC_EUNSUPPORTED:
            pytest.skip(f"mode {mode}/{delivery}: " + ffi.string(lib.agc_last_error()).decode())
        assert rc == lib.AGC_OK, ffi.string(lib.agc_last_error()).decode()
        self.h = hp[0]

    def __enter__(self) -> "Heap":
        return self

    def __exit__(self, *exc) -> None:
        lib.agc_heap_destroy(self.h)

    @property
    def cycles(self) -> int:
        return int(lib.agc_cycle_count(self.h))

    def run(self, name: str, size: int = 0, mutators: int = 1, seed: int = 1) -> dict:
        p = ffi.new("agc_wl_params *")
        cname = ffi.new("char[]", name.encode())
        p.name = cname
        p.size = size
        p.mutators = mutators
        p.seed = seed
        r = ffi.new("agc_wl_result *")
        rc = lib.agc_workload_run(self.h, p, r)
        try:
            n = int(r.nlatency)
            res = {
                "rc": rc,
                "output": ffi.string(r.output).decode() if r.output != ffi.NULL else "",
                "failed": bool(r.failed),
                "error": ffi.string(r.error).decode(),
                "last_error": ffi.string(lib.agc_last_error()).decode(),
                "counters": list(r.counters),
                "interrupted": bool(r.interrupted),
                "wall_ns": int(r.wall_ns),
                "latency": list(r.latency_ns[0:n]) if n else [],
                "start": list(r.start_ns[0:n]) if n else [],
            }
        finally:
            lib.agc_wl_result_free(r)
        return res


def expected_binarytrees(n: int) -> str:
    """The game's output, from the game's formula."""
    min_depth = 4
    max_depth = max(min_depth + 2, n)
    check = lambda d: (1 << (d + 1)) - 1  # noqa: E731 - node count of a full tree
    out = [f"stretch tree of depth {max_depth + 1}\t check: {check(max_depth + 1)}"]
    for d in range(min_depth, max_depth + 1, 2):
        it = 1 << (max_depth - d + min_depth)
        out.append(f"{it}\t trees of depth {d}\t check: {it * check(d)}")
    out.append(f"long lived tree of depth {max_depth}\t check: {check(max_depth)}")
    return "\n".join(out) + "\n"


def test_expected_text_matches_the_game():
    t = expected_binarytrees(21).splitlines()
    assert t[0] == "stretch tree of depth 22\t check: 8388607"
    assert t[1] == "2097152\t trees of depth 4\t check: 65011712"
    assert t[-1] == "long lived tree of depth 21\t check: 4194303"


def test_names_and_default_sizes():
    assert ffi.string(lib.agc_workload_names()).decode() == "binarytrees,gcbench,lru,graph"
    assert lib.agc_workload_default_size(b"binarytrees") == 21
    assert lib.agc_workload_default_size(b"gcbench") == 16
    assert lib.agc_workload_default_size(b"lru") > 0
    assert lib.agc_workload_default_size(b"graph") > 0
    assert lib.agc_workload_default_size(b"nope") == -1


@pytest.mark.parametrize("mode,delivery", MODES, ids=MODE_IDS)
def test_binarytrees_exact_text(mode, delivery):
    with Heap(mode, delivery, capacity=1 * MiB) as h:
        for n, mut in [(6, 1), (9, 2), (12, 1), (12, 3)]:
            r = h.run("binarytrees", n, mut)
            assert r["rc"] == lib.AGC_OK, r["error"]
            assert not r["failed"]
            assert r["output"] == expected_binarytrees(n), (n, mut)
        assert h.cycles > 10


@pytest.mark.parametrize("mode,delivery", MODES, ids=MODE_IDS)
def test_gcbench_checks(mode, delivery):
    with Heap(mode, delivery, capacity=2 * MiB) as h:
        for mut in (1, 2):
            r = h.run("gcbench", 10, mut)
            assert r["rc"] == lib.AGC_OK, r["error"]
            lines = r["output"].splitlines()
            assert lines[0] == "Garbage Collector Test"
            assert " Stretching memory with a binary tree of depth 12" in lines
            ts = lambda d: (1 << (d + 1)) - 1  # noqa: E731 - TreeSize
            creating = [x for x in lines if x.startswith("Creating ")]
            assert creating == [f"Creating {2 * ts(12) // ts(d)} trees of depth {d}" for d in (4, 6, 8, 10)]
            assert lines[-1] == "gcbench checks: ok"
        assert h.cycles > 0


_reference: dict = {}


def _reference_run(name: str, size: int, mutators: int, seed: int, capacity: int) -> dict:
    key = (name, size, mutators, seed, capacity)
    if key not in _reference:
        with Heap("stw", capacity=capacity) as h:
            _reference[key] = h.run(name, size, mutators, seed)
    return _reference[key]


@pytest.mark.parametrize("mode,delivery", MODES, ids=MODE_IDS)
def test_graph_digest_same_in_every_mode(mode, delivery):
    ref = _reference_run("graph", 8, 3, 42, 3 * MiB)
    assert ref["rc"] == lib.AGC_OK, ref["error"]
    assert "graph digest: " in ref["output"]
    with Heap(mode, delivery, capacity=3 * MiB) as h:
        r = h.run("graph", 8, 3, 42)
        assert r["rc"] == lib.AGC_OK, r["error"]
        assert r["output"] == ref["output"]
        assert r["counters"] == ref["counters"]
        assert h.cycles > 0


def test_graph_digest_depends_on_seed_and_repeats_on_one_heap():
    with Heap("stw", capacity=4 * MiB) as h:
        a = h.run("graph", 2, 2, 1)
        b = h.run("graph", 2, 2, 2)
        c = h.run("graph", 2, 2, 1)
    assert a["rc"] == b["rc"] == c["rc"] == lib.AGC_OK
    dig = lambda r: [x for x in r["output"].splitlines() if x.startswith("graph digest: ")][0]  # noqa: E731
    assert dig(a) != dig(b)
    assert dig(a) == dig(c)


@pytest.mark.parametrize("mode,delivery", MODES, ids=MODE_IDS)
def test_lru_counts_same_in_every_mode(mode, delivery):
    ref = _reference_run("lru", 60, 2, 7, 16 * MiB)
    assert ref["rc"] == lib.AGC_OK, ref["error"]
    with Heap(mode, delivery, capacity=16 * MiB) as h:
        r = h.run("lru", 60, 2, 7)
        assert r["rc"] == lib.AGC_OK, r["error"]
        assert h.cycles > 0
    assert r["output"] == ref["output"]
    hits, misses = r["counters"][0], r["counters"][1]
    assert r["output"] == f"lru: requests 60000 hits {hits} misses {misses}\n"
    assert hits + misses == 60000 and hits > 0 and misses > 0
    assert r["counters"][:5] == ref["counters"][:5]
    assert len(r["latency"]) == len(r["start"]) == 60000
    # thread by thread (30,000 requests each), each request starts after the one before it ended
    for t in (0, 1):
        st, lat = r["start"][t * 30000:(t + 1) * 30000], r["latency"][t * 30000:(t + 1) * 30000]
        assert all(st[i] + lat[i] <= st[i + 1] for i in range(len(st) - 1))


def test_lru_seed_changes_counts():
    with Heap("stw", capacity=8 * MiB) as h:
        a = h.run("lru", 10, 1, 1)
        b = h.run("lru", 10, 1, 2)
    assert a["output"] != b["output"]


@pytest.mark.parametrize("params,words", [
    (("nope", 0, 1), ["unknown workload 'nope'", "binarytrees,gcbench,lru,graph"]),
    (("lru", 0, 0), ["--mutators must be between 1 and 256"]),
    (("graph", 0, 257), ["--mutators must be between 1 and 256"]),
    (("binarytrees", 31, 1), ["--size must be between 1 and 30"]),
    (("gcbench", 3, 1), ["--size must be between 4 and 24"]),
    (("lru", 10**9, 1), ["--size must be between"]),
])
def test_bad_parameters_refused(params, words):
    with Heap("stw", capacity=1 * MiB) as h:
        r = h.run(*params)
    assert r["rc"] == lib.AGC_EINVAL
    assert r["failed"]
    for w in words:
        assert w in r["error"] and w in r["last_error"]


@pytest.mark.parametrize("name,size,mutators", [
    ("binarytrees", 20, 1), ("binarytrees", 20, 4), ("gcbench", 18, 2), ("lru", 50, 3), ("graph", 100, 3)])
def test_out_of_memory_ends_the_run_cleanly(name, size, mutators):
    with Heap("stw", capacity=1 * MiB) as h:
        t0 = time.monotonic()
        r = h.run(name, size, mutators)
        assert time.monotonic() - t0 < 30
        assert r["rc"] == lib.AGC_EOOM, r
        assert r["failed"]
        assert "out of memory" in r["error"] and name in r["error"]
        assert r["error"] == r["last_error"]
        # the heap is still usable afterwards
        ok = h.run("binarytrees", 6, 2)
        assert ok["rc"] == lib.AGC_OK and ok["output"] == expected_binarytrees(6)


@pytest.mark.parametrize("name,size,mutators", [
    ("binarytrees", 19, 2), ("gcbench", 18, 1), ("lru", 20000, 2), ("graph", 500, 3)])
def test_interrupt_stops_the_run(name, size, mutators):
    with Heap("stw", capacity=128 * MiB) as h:
        box: dict = {}
        t = threading.Thread(target=lambda: box.update(r=h.run(name, size, mutators)))
        t.start()
        time.sleep(0.3)
        lib.agc_workload_interrupt()
        t.join(30)
        assert not t.is_alive()
        r = box["r"]
    assert r["rc"] == lib.AGC_EINTR, r["error"]
    assert r["interrupted"] and not r["failed"]
    assert r["wall_ns"] < 10 * 10**9


def test_lru_live_sets_the_cache_size():
    """--live: the cache holds live / 824 B entries; 0 keeps the 8192 entries
    (the default output of every seed unchanged)."""
    import artgc
    base = artgc.run("lru", size=20, heap="64MiB", mode="stw", check=True)
    assert base.output == "lru: requests 20000 hits 5967 misses 14033\n"   # as before --live existed
    small = artgc.run("lru", size=20, heap="64MiB", mode="stw", live="1MiB", check=True)
    big = artgc.run("lru", size=20, heap="64MiB", mode="stw", live="24MiB", check=True)
    # the key space is four times the cache: another cache size, other requests
    assert len({small.output, base.output, big.output}) == 3
    assert big.options["live_bytes"] == 24 * MiB and "live_bytes" not in base.options


def test_lru_live_measured_after_a_stw_cycle():
    import artgc
    r = artgc.run("lru", size=80, heap="32MiB", mode="stw", live="16MiB", check=True)
    full = [c for c in r.cycles if c["kind"] == "full"]
    assert full, "no full cycle ran"
    # the cache was full before the cycle: the marked live data is the cache's
    # (a full cycle's: a young one counts the old generation as live unmarked,
    # and the run may end on one: a local CI run did, and 1 of 6 runs after)
    assert 15 * MiB <= full[-1]["live_bytes"] <= 17 * MiB


@pytest.mark.parametrize("workload,live,msg", [("gcbench", "1MiB", "--live applies to lru only"),
                                               ("lru", 1 << 50, "is too large")])
def test_lru_live_refused_with_a_reason(workload, live, msg):
    import artgc
    with pytest.raises(ValueError, match=msg):
        artgc.run(workload, size=5, heap="8MiB", live=live)
