"""Fuzzing every argument of the API and of the command line.

Contract: "nothing the user passes may crash the process"; bad arguments are
``ValueError``/``TypeError`` (or ``artgc.OutOfMemory``/``artgc.UnsupportedMode``),
and the CLI exits 2 with a one-line message and no traceback.

Every input runs in a forked child (the modules already loaded, so a few
milliseconds each): a segfault, an abort or a hang of the library fails the
example (and hypothesis shrinks it) instead of killing pytest. Strict: any
crash fails at once (no retry), an input that is valid must succeed (a
refusal of it is a failure), and a run that reports a corrupt heap fails.
The CLI fuzzers call artgc.cli.main in such a child with fresh
stdout/stderr; test_python_m_artgc_bad_input_is_one_line runs the real
`python -m artgc`. Inputs are derandomized (the same every run); how many each
test tried, and what became of them, is printed in pytest's terminal summary.

Known bugs are pinned by the xfail(strict=True) tests at the end; the fuzzers
tolerate them (KNOWN) so that they keep looking for others.
"""
from __future__ import annotations

import collections
import io
import json
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import mode_supported
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import artgc
import artgc.cli
from artgc.suites import SUITE_NAMES

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20

# What a bad argument may raise (the contract).
CLEAN = (ValueError, TypeError, artgc.OutOfMemory, artgc.UnsupportedMode)
# Known bugs, each pinned by an xfail(strict=True) test below: tolerated by the
# fuzzers so that they keep looking for other problems. Remove an entry when
# its xfail test starts passing.
KNOWN: tuple[type[BaseException], ...] = ()   # none open at the moment

HANG_S = 15.0          # an input that takes longer than this is a hang (legit ones: < 2 s)

def examples(n: int) -> int:
    """n, scaled by ARTGC_FUZZ_SCALE (the sanitizer run uses fewer)."""
    return max(5, int(n * float(os.environ.get("ARTGC_FUZZ_SCALE", "1"))))


FUZZ: dict[str, Any] = {"deadline": None, "derandomize": True, "database": None, "print_blob": False,
                        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                  HealthCheck.data_too_large]}

# --------------------------------------------------------------------------- counting inputs

COUNTS: collections.Counter[str] = collections.Counter()
OUTCOMES: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
_current = [""]


class _CountReport:
    """Prints how many inputs each fuzz test tried, at the end of the session."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not COUNTS:
            return
        tr = terminalreporter
        tr.write_sep("-", f"artgc fuzz: {sum(COUNTS.values())} inputs tried")
        for name, n in sorted(COUNTS.items()):
            how = ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES[name].items()))
            tr.write_line(f"  {name:<34} {n:>6}   ({how})")


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest) -> Any:
    pm = request.config.pluginmanager
    if not pm.has_plugin("artgc-fuzz-counts"):
        pm.register(_CountReport(), "artgc-fuzz-counts")
    yield
    print(f"\nartgc fuzz: {sum(COUNTS.values())} inputs tried: {dict(COUNTS)}")


def _count(name: str) -> None:
    COUNTS[name] += 1
    _current[0] = name


def _outcome_seen(kind: str) -> None:
    if _current[0]:
        OUTCOMES[_current[0]][kind] += 1


# --------------------------------------------------------------------------- isolation

def _wait(pid: int, timeout: float) -> int | None:
    """waitpid with a deadline: the raw status, or None (still running)."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got:
            return status
        if time.monotonic() > deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


_REPORT_FD = [-1]   # in a forked child: where it writes its report


class ChildCrashed(AssertionError):
    def __init__(self, sig: int) -> None:
        self.sig = sig
        super().__init__(f"the process crashed with {signal.Signals(sig).name}")


def _fork(child: Callable[[], int], timeout: float = HANG_S) -> tuple[int, bytes]:
    """Run child() in a forked process; it returns its exit code and may write
    a report to _REPORT_FD[0]. Returns (exit code, report); a signal or a hang fails."""
    r, w = os.pipe()
    with warnings.catch_warnings():   # 3.12+ warns about fork with threads; we own none
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # ------------------------------------------------- child
        code = 70
        try:
            os.close(r)
            _REPORT_FD[0] = w
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = child()
        except BaseException:  # noqa: BLE001 - anything escaping is reported by the code
            code = 71
        finally:
            os._exit(code)
    os.close(w)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    status = None
    try:
        while True:   # drain the report while waiting (it may exceed a pipe's buffer)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([r], [], [], min(left, 0.05))
            if ready:
                b = os.read(r, 1 << 16)
                if b:
                    chunks.append(b)
                    continue
                break   # EOF: the child exited
            got, st_ = os.waitpid(pid, os.WNOHANG)
            if got:
                status = st_
                break
        if status is None:
            status = _wait(pid, max(0.0, deadline - time.monotonic()))
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"hang: the input did not finish within {timeout:.0f} s")
        while True:
            b = os.read(r, 1 << 16)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(r)
    if os.WIFSIGNALED(status):
        raise ChildCrashed(os.WTERMSIG(status))
    return os.WEXITSTATUS(status), b"".join(chunks)


def api_call(fn: Callable[[], Any], timeout: float = HANG_S, *, must_succeed: bool = False,
             allow: tuple[str, ...] = ()) -> tuple[str, str, str]:
    """Run fn() in a forked child: ("ok"|"clean"|"known", exception type, message).
    A crash, a hang, an exception outside CLEAN/KNOWN, or a clean error with an
    empty message fails the calling test; so does any error (but those named in
    `allow`, e.g. OutOfMemory on a tiny heap) when the input is valid
    (must_succeed)."""
    def child() -> int:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            fn()
            out = {"kind": "ok", "type": "", "msg": ""}
        except BaseException as exc:  # noqa: BLE001 - classified below
            kind = "clean" if isinstance(exc, CLEAN) else "known" if type(exc) in KNOWN else "bad"
            msg = str(exc)
            if kind == "bad":
                msg += "\n" + traceback.format_exc()
            out = {"kind": kind, "type": type(exc).__name__, "msg": msg[:4000]}
        os.write(_REPORT_FD[0], json.dumps(out).encode())
        return 0
    code, raw = _fork(child, timeout)
    assert code == 0 and raw, f"the child exited with {code} without a report"
    out = json.loads(raw)
    _outcome_seen({"ok": "accepted", "clean": "refused", "known": "known bug"}.get(out["kind"], out["kind"]))
    if out["kind"] == "bad":
        raise AssertionError(f"unexpected {out['type']}: {out['msg']}")
    if out["kind"] == "clean":
        assert out["msg"].strip(), f"{out['type']} with an empty message"
    if must_succeed and out["kind"] != "ok" and out["type"] not in allow:
        raise AssertionError(f"valid input refused: {out['type']}: {out['msg']}")
    return out["kind"], out["type"], out["msg"]


def cli_call(argv: list[str], timeout: float = HANG_S) -> tuple[int, str, str]:
    """artgc.cli.main(argv) in a forked child with fresh stdout/stderr on files,
    as `python -m artgc ARGV` would run it: (exit code, stdout, stderr)."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        def child() -> int:
            os.dup2(fo.fileno(), 1)
            os.dup2(fe.fileno(), 2)
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                          errors="strict", line_buffering=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                          errors="backslashreplace", line_buffering=True)
            try:
                from artgc.cli import main
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # noqa: BLE001 - what the interpreter would print
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            return int(code) & 0xFF
        def child_fresh() -> int:   # a retried input starts from empty files
            for f in (fo, fe):
                os.ftruncate(f.fileno(), 0)
                os.lseek(f.fileno(), 0, os.SEEK_SET)
            return child()
        code, _ = _fork(child_fresh, timeout)
        fo.seek(0)
        fe.seek(0)
        _outcome_seen(f"exit {code}")
        return code, fo.read().decode("utf-8", "replace"), fe.read().decode("utf-8", "replace")


def assert_cli_clean(argv: list[str], code: int, out: str, err: str) -> None:
    """What the CLI may do with any input: 0, 1 (a run that failed on its own,
    one line) or 2 (bad input, a one-line message plus the --help hint); never
    a traceback or an internal error."""
    ctx = f"argv={argv!r}\nexit {code}\nstderr:\n{err[-3000:]}"
    assert "Traceback" not in err, ctx
    assert "internal error" not in err, ctx
    assert code in (0, 1, 2), ctx
    if code == 2:
        lines = [ln for ln in err.split("\n") if ln.strip()]
        assert lines, ctx
        assert lines[0].startswith("artgc"), ctx
        assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("(see `artgc")), ctx
    if code == 1:
        lines = [ln for ln in err.split("\n") if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("artgc"), ctx
        assert "corrupt" not in err.lower(), ctx      # the collector broke the heap: never acceptable


# --------------------------------------------------------------------------- strategies

BOUNDARY_INTS = [-2**64, -2**63, -1, 0, 1, 2, 7, 8, 63, 64, 65, 255, 256, 257, 4095, 4096,
                 MiB - 1, MiB, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**62, 2**63 - 1, 2**63,
                 2**64 - 1, 2**64, 2**100]
WEIRD_STRINGS = ["", " ", "0", "-1", "1e9", "nan", "inf", "-inf", "1.5", "0x10", "1_000",
                 "64MiB", "1MiB", "1GiB", "1TiB", "9999999999TiB", "16EiB", "-5MiB", "0.5k", " 2 MiB ",
                 "\u0661MiB", "1MiB\n", "a\x00b", "\x00", "\udcff", "\ud800", "\U0001F600",
                 "minor", "MINOR", " minor", "stw", "copy", "move", "sigbus", "thread",
                 "concurrent", "ascending", "descending", "random", "binarytrees", "graph",
                 "x" * 300, "é" * 40, "--help", "-h"]

ANY = st.one_of(
    st.none(), st.booleans(),
    st.integers(),
    st.sampled_from(BOUNDARY_INTS),
    st.floats(),
    st.sampled_from(WEIRD_STRINGS),
    st.text(max_size=12),
    st.binary(max_size=8),
    st.builds(np.int64, st.integers(-2**63, 2**63 - 1)),
    st.builds(np.float32, st.floats(width=32)),
    st.sampled_from([object(), 1 + 2j, [1], (1,), {"a": 1}, b"64MiB", bytearray(b"x"),
                     memoryview(b"ab"), math.pi, Path("x")]),
)


class Drawn(dict):  # type: ignore[type-arg]
    """Keyword arguments, and which of them were fuzzed (`wild`): with none,
    the input is valid and must succeed."""
    wild: frozenset[str] = frozenset()


def some_wild(valid: dict[str, st.SearchStrategy[Any]], wild: dict[str, st.SearchStrategy[Any]],
              max_wild: int = 2) -> st.SearchStrategy[Drawn]:
    """Keyword arguments: valid values, except for up to max_wild of them that
    are fuzzed (wild[name], else ANY) -- so that every argument is reached and
    not only the first one checked."""
    @st.composite
    def build(draw: Any) -> Drawn:
        names = draw(st.lists(st.sampled_from(sorted(valid)), max_size=max_wild, unique=True))
        d = Drawn({k: draw(st.one_of(wild.get(k, ANY), ANY) if k in names else valid[k]) for k in valid})
        d.wild = frozenset(names)
        return d
    return build()


MODES = ["stw", "copy", "minor", "move"]
DELIVERIES = ["sigbus", "thread"]
SMALL_HEAPS = st.sampled_from(["1MiB", "2MiB", MiB, 2 * MiB + 1, "1.5MiB", " 2 MiB ", "2048k"])


def _parses_large(v: Any) -> bool:
    try:
        return artgc.parse_size(v) > 2 * MiB
    except Exception:  # noqa: BLE001
        return False


# A heap for a real run: tiny (the run ends quickly, by itself or out of memory) or invalid.
RUN_HEAP = st.one_of(SMALL_HEAPS, ANY.filter(lambda v: not _parses_large(v)))


# --------------------------------------------------------------------------- Heap(...)

def _exercise(h: artgc.Heap) -> None:
    N = h.define_class("N", refs=2, data_bytes=8)
    a = h.new(N)
    h.set_ref(a, 0, h.new(N))
    h.write_data(a, b"12345678")
    h.collect()
    h.verify()
    assert h.read_data(a) == b"12345678"
    assert h.get_ref(a, 0) is not None and h.get_ref(a, 1) is None


HEAP_VALID = {
    "size": st.one_of(SMALL_HEAPS, st.sampled_from(["64MiB", "1GiB", 4 << 30])),
    "mode": st.sampled_from(MODES), "delivery": st.sampled_from(DELIVERIES),
    "gc_threads": st.integers(1, 64), "marking": st.sampled_from(["stw", "concurrent"]),
    "trigger": st.floats(1e-9, 1.0), "order": st.sampled_from(["ascending", "descending", "random"]),
    "gc_install": st.booleans(), "reuse_tospace": st.booleans(), "verify": st.booleans(),
    "seed": st.integers(0, 2**64 - 1)}
HEAP_WILD = {"size": st.sampled_from(BOUNDARY_INTS), "gc_threads": st.integers(-2, 300),
             "trigger": st.floats(), "seed": st.sampled_from(BOUNDARY_INTS)}


@settings(max_examples=examples(100), **FUZZ)
@given(kw=some_wild(HEAP_VALID, HEAP_WILD))
def test_fuzz_heap_options(kw: dict[str, Any]) -> None:
    _count("Heap(...)")
    if isinstance(kw["mode"], str) and isinstance(kw["delivery"], str) and kw["mode"] in MODES \
            and kw["delivery"] in DELIVERIES and not mode_supported(kw["mode"], kw["delivery"]):
        kw["mode"] = "stw"

    def go() -> None:
        with artgc.Heap(**kw) as h:
            _exercise(h)
    # valid: nothing fuzzed, not gc_install=False in a mode that needs it, and
    # not a delivery for stw (which takes no faults: refused with a message)
    valid = not kw.wild and not (kw["gc_install"] is False and kw["mode"] in ("copy", "move")) \
        and not (kw["mode"] == "stw" and kw["delivery"] == "thread")
    api_call(go, must_succeed=valid)


# --------------------------------------------------------------------------- define_class

@settings(max_examples=examples(100), **FUZZ)
@given(kw=some_wild({"name": st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1,
                                     max_size=20),
                     "refs": st.integers(0, 20), "data_bytes": st.integers(0, 5000)},
                    {"name": st.one_of(st.text(min_size=1, max_size=70), st.sampled_from(
                        ["RefArray", "ByteArray", "x" * 63, "é" * 32, "\U0001F600" * 16])),
                     "refs": st.one_of(st.integers(-3, 3), st.sampled_from([1 << 20, (1 << 20) + 1] + BOUNDARY_INTS)),
                     "data_bytes": st.one_of(st.integers(-3, 3), st.sampled_from(
                         [(1 << 24) - 1, 1 << 24, (1 << 24) + 1] + BOUNDARY_INTS))}),
       mode=st.sampled_from(["stw", "minor"]))
def test_fuzz_define_class(kw: dict[str, Any], mode: Any) -> None:
    _count("define_class")
    name, refs, data_bytes = kw["name"], kw["refs"], kw["data_bytes"]
    if not mode_supported(mode):
        mode = "stw"

    def go() -> None:
        with artgc.Heap("4MiB", mode=mode) as h:
            C = h.define_class(name, refs, data_bytes)
            assert (C.refs, C.data_bytes) == (refs, data_bytes)
            assert h.define_class(name, refs, data_bytes).id == C.id    # looking it up again
            o = h.new(C)
            assert h.refs_count(o) == refs and h.data_size(o) == data_bytes
            if refs:
                h.set_ref(o, refs - 1, o)
            if data_bytes:
                h.write_data(o, b"z", data_bytes - 1)
            h.collect()
            h.verify()
            if refs:
                assert h.same(h.get_ref(o, refs - 1), o)  # type: ignore[arg-type]
            if data_bytes:
                assert h.read_data(o, data_bytes - 1) == b"z"
    api_call(go, must_succeed=not kw.wild)


# --------------------------------------------------------------------------- new / arrays

@settings(max_examples=examples(100), **FUZZ)
@given(kind=st.sampled_from(["new_ref_array", "new_byte_array", "new"]),
       length=st.one_of(st.integers(0, 70_000), st.integers(0, 70_000), st.integers(MiB // 8 - 64, MiB),
                        st.integers(-2, 0), st.sampled_from(BOUNDARY_INTS), ANY),
       mode=st.sampled_from(["stw", "minor"]))
def test_fuzz_allocation_lengths(kind: str, length: Any, mode: str) -> None:
    _count("new/new_ref_array/new_byte_array")
    if not mode_supported(mode):
        mode = "stw"

    def go() -> None:
        with artgc.Heap("1MiB", mode=mode) as h:
            if kind == "new":
                o = h.new(h.define_class("C", 1, 8), length)
                n = 1
            else:
                o = getattr(h, kind)(length)
                n = length
            h.collect()
            h.verify()
            if kind == "new_ref_array":
                assert h.refs_count(o) == n
                if n:
                    h.set_ref(o, n - 1, o)
                    assert h.same(h.get_ref(o, n - 1), o)  # type: ignore[arg-type]
            elif kind == "new_byte_array":
                assert h.data_size(o) == n
                if n:
                    h.write_data(o, b"q", n - 1)
                    assert h.read_data(o, n - 1, 1) == b"q"
    # valid: an array length that fits the 1 MiB heap (larger ones may be out of memory)
    fits = type(length) is int and 0 <= length <= 70_000
    api_call(go, must_succeed=(kind != "new" and fits) or (kind == "new" and length is None),
             allow=("OutOfMemory",) if kind != "new" and type(length) is int and length > 70_000 else ())


# --------------------------------------------------------------------------- get_ref / set_ref

@settings(max_examples=examples(100), **FUZZ)
@given(target=st.sampled_from(["ref_array", "ref_array", "node", "node", "byte_array"]), n=st.integers(1, 5),
       slot_pick=st.one_of(st.integers(0, 10**6), st.integers(0, 10**6), st.just(None)),
       wild_slot=st.one_of(st.integers(-3, 8), st.sampled_from(BOUNDARY_INTS), ANY),
       value=st.sampled_from(["none", "self", "other"] * 4 + ["foreign", "junk_int", "junk_str", "class"]),
       op=st.sampled_from(["get", "set", "both"]))
def test_fuzz_ref_slots(target: str, n: int, slot_pick: int | None, wild_slot: Any, value: str, op: str) -> None:
    """A slot in range (two thirds of the inputs) or anything."""
    slot = wild_slot if slot_pick is None else slot_pick % n
    _count("get_ref/set_ref")

    def go() -> None:
        with artgc.Heap("1MiB", mode="stw") as h, artgc.Heap("1MiB", mode="stw") as h2:
            Node = h.define_class("Node", refs=n, data_bytes=8)
            o = {"ref_array": lambda: h.new_ref_array(n), "node": lambda: h.new(Node),
                 "byte_array": lambda: h.new_byte_array(n)}[target]()
            other = h.new(Node)
            v = {"none": None, "self": o, "other": other, "foreign": h2.new_byte_array(1),
                 "junk_int": 12345, "junk_str": "x", "class": Node}[value]
            if op in ("set", "both"):
                h.set_ref(o, slot, v)  # type: ignore[arg-type]
            if op in ("get", "both"):
                got = h.get_ref(o, slot)
                if op == "both":
                    assert (got is None) if v is None else h.same(got, v)  # type: ignore[arg-type]
            h.collect()
            h.verify()
    api_call(go, must_succeed=slot_pick is not None and value in ("none", "self", "other")
             and target != "byte_array")


# --------------------------------------------------------------------------- read_data / write_data

DATA = st.one_of(st.binary(max_size=80), st.builds(bytearray, st.binary(max_size=20)),
                 st.builds(memoryview, st.binary(max_size=20)),  # type: ignore[arg-type]
                 st.builds(lambda b: memoryview(b)[::2], st.binary(max_size=20)),
                 st.builds(lambda b: np.frombuffer(b, dtype=np.uint8), st.binary(max_size=16)), ANY)


@settings(max_examples=examples(150), **FUZZ)
@given(target=st.sampled_from(["byte_array", "byte_array", "node", "ref_array"]), n=st.integers(0, 64),
       kw=some_wild({"offset": st.integers(0, 64), "length": st.one_of(st.none(), st.integers(0, 64)),
                     "data": st.binary(max_size=64)},
                    {"offset": st.one_of(st.integers(-2, 70), st.sampled_from(BOUNDARY_INTS)),
                     "length": st.one_of(st.integers(-2, 70), st.sampled_from(BOUNDARY_INTS)), "data": DATA},
                    max_wild=1),
       op=st.sampled_from(["read", "write", "both"]))
def test_fuzz_data_access(target: str, n: int, kw: dict[str, Any], op: str) -> None:
    offset, length, data = kw["offset"], kw["length"], kw["data"]
    _count("read_data/write_data")

    def go() -> None:
        with artgc.Heap("1MiB", mode="stw") as h:
            C = h.define_class("C", refs=1, data_bytes=n)
            o = {"byte_array": lambda: h.new_byte_array(n), "node": lambda: h.new(C),
                 "ref_array": lambda: h.new_ref_array(n)}[target]()
            if op in ("write", "both"):
                h.write_data(o, data, offset)
            if op == "read":
                got = h.read_data(o, offset, length)
                assert isinstance(got, bytes)
                if isinstance(length, int):
                    assert len(got) == length
            if op == "both":
                want = bytes(data)
                assert h.read_data(o, offset, len(want)) == want
            h.collect()
            h.verify()
    size = 0 if target == "ref_array" else n
    if kw.wild:
        valid = False
    elif op == "read":
        valid = offset <= size and (length is None or offset + length <= size)
    else:
        valid = offset + len(data) <= size
    api_call(go, must_succeed=valid)


# --------------------------------------------------------------------------- a heap's life, out of order

OPS = st.lists(st.sampled_from([
    "new", "new", "link", "drop", "collect", "collect_begin", "collect_begin", "collect_finish",
    "page_states", "verify", "read", "write", "cycles", "heap_map", "snapshot", "used", "repr",
    "address", "close", "ops_after_close"]), min_size=1, max_size=25)


@settings(max_examples=examples(80), **FUZZ)
@given(md=st.sampled_from([(m, d) for m in MODES for d in DELIVERIES if not (m == "stw" and d == "thread")]),
       ops=OPS, picks=st.lists(st.integers(0, 1000), min_size=25, max_size=25))
def test_fuzz_call_sequences(md: tuple[str, str], ops: list[str], picks: list[int]) -> None:
    """Any order of calls, including collect_begin() twice, collect_finish()
    without a cycle, reads during a cycle and calls after close()."""
    _count("call sequences")
    mode, delivery = md
    if not mode_supported(mode, delivery):
        mode, delivery = "stw", "sigbus"

    def may_fail(op: str, waiting: bool, closed: bool) -> bool:
        """Whether op may raise a clean error in this state; otherwise it must succeed."""
        if closed:
            return op not in ("close", "drop", "ops_after_close")
        if op in ("collect", "verify"):
            return waiting
        if op == "collect_begin":
            return waiting or mode == "stw"
        return op == "collect_finish" and not waiting

    def go() -> None:
        h = artgc.Heap("2MiB", mode=mode, delivery=delivery)
        C = h.define_class("C", refs=2, data_bytes=1000)
        objs = [h.new(C) for _ in range(8)]
        waiting = False   # a collect_begin() cycle is waiting for collect_finish()
        for op, k in zip(ops, picks):
            closed = h.closed
            try:
                o = objs[k % len(objs)] if objs else None
                if op == "new":
                    objs.append(h.new(C))
                elif op == "link" and o is not None:
                    h.set_ref(o, k % 2, objs[(k * 7) % len(objs)])
                elif op == "drop" and objs:
                    objs.pop(k % len(objs))
                elif op == "collect":
                    h.collect()
                elif op == "collect_begin":
                    h.collect_begin()
                    waiting = True
                elif op == "collect_finish":
                    h.collect_finish()
                    waiting = False
                elif op == "page_states":
                    h.page_states()
                elif op == "verify":
                    h.verify()
                elif op == "read" and o is not None:
                    h.read_data(o, k % 1000, 1)
                elif op == "write" and o is not None:
                    h.write_data(o, bytes([k % 256]), k % 1000)
                elif op == "cycles":
                    h.cycles()
                elif op == "heap_map":
                    h.heap_map(bool(k % 2))
                elif op == "snapshot" and not waiting:   # refused during a waiting cycle
                    h.snapshot()
                elif op == "used":
                    _ = h.used, h.capacity, h.live_half
                elif op == "repr":
                    repr(h), repr(o)
                elif op == "address" and o is not None:
                    _ = o.address
                elif op == "close":
                    h.close()
                elif op == "ops_after_close" and h.closed:
                    for f in (h.collect, h.verify, h.collect_begin, h.collect_finish, h.cycles):
                        try:
                            f()
                            raise AssertionError(f"{f.__name__} worked on a closed heap")
                        except ValueError:
                            pass
            except CLEAN + KNOWN as exc:
                if not may_fail(op, waiting, closed):
                    raise AssertionError(f"{op} must succeed here (waiting={waiting}, closed={closed}) "
                                         f"but raised {type(exc).__name__}: {exc}") from exc
        if not h.closed and waiting:
            h.collect_finish()
        if not h.closed:
            h.verify()
        h.close()
    api_call(go, must_succeed=True)


# --------------------------------------------------------------------------- artgc.run

WORKLOAD_SIZE = st.one_of(st.integers(-2, 40), st.sampled_from([0, 1, 4, 24, 25, 30, 31, 500, 20000, 20001,
                                                               10000, 10001, 2**31, 2**62, 2**62 + 1, 2**64]),
                          st.none(), ANY)


RUN_VALID = {
    "workload": st.sampled_from(["binarytrees", "gcbench", "lru", "graph"]), "size": st.integers(4, 6),
    "mode": st.sampled_from(MODES), "delivery": st.sampled_from(DELIVERIES), "heap": SMALL_HEAPS,
    "mutators": st.integers(1, 4), "gc_threads": st.integers(1, 4), "seed": st.integers(0, 2**64 - 1),
    "verify": st.booleans(), "marking": st.sampled_from(["stw", "concurrent"]),
    "order": st.sampled_from(["ascending", "descending", "random"]), "trigger": st.floats(0.05, 1.0)}
RUN_WILD = {"size": WORKLOAD_SIZE, "heap": RUN_HEAP, "mutators": st.integers(-1, 300),
            "gc_threads": st.integers(-1, 300), "seed": st.sampled_from(BOUNDARY_INTS), "trigger": st.floats()}


@settings(max_examples=examples(80), **FUZZ)
@given(kw=some_wild(RUN_VALID, RUN_WILD))
def test_fuzz_run_arguments(kw: dict[str, Any]) -> None:
    """Every keyword of artgc.run; the runs themselves are tiny (a heap of 1-2 MiB
    ends any size quickly, by itself or out of memory)."""
    if kw["heap"] is not None and _parses_large(kw["heap"]):
        kw["heap"] = "1MiB"
    if kw["mode"] in MODES and kw["delivery"] in DELIVERIES and not mode_supported(kw["mode"], kw["delivery"]):
        kw["mode"] = "stw"
    workload = kw.pop("workload")
    _count("artgc.run(...)")


    def go() -> None:
        r = artgc.run(workload, **kw)
        # a run that failed on its own (out of memory on the tiny heap) is a result, not a crash
        assert isinstance(r, artgc.RunResult)
        assert r.ok or (r.failed and r.error and r.error_type in ("OutOfMemory", "ArtgcError",
                                                                 "HeapCorruption", "ValueError")), r
        if r.failed:
            assert r.error_type != "HeapCorruption" and "corrupt" not in (r.error or ""), r.error
        if valid:   # valid arguments: it ran, or ran out of its tiny heap
            assert r.ok or r.error_type == "OutOfMemory", r.error
        json.loads(r.to_json())
    valid = not kw.wild and not (kw["mode"] == "stw" and kw["delivery"] == "thread")
    api_call(go, must_succeed=valid)


@settings(max_examples=examples(60), **FUZZ)
@given(heap=ANY, mode=st.sampled_from(["stw", "minor"]))
def test_fuzz_run_heap_sizes(heap: Any, mode: str) -> None:
    """Any heap value, valid and huge ones included (the run itself is tiny)."""
    _count("artgc.run(heap=...)")
    if not mode_supported(mode):
        mode = "stw"

    def go() -> None:
        r = artgc.run("binarytrees", size=4, heap=heap, mode=mode)
        assert r.ok or r.error_type == "OutOfMemory", r
    try:
        valid = MiB <= artgc.parse_size(heap) <= (1 << 30)
    except Exception:  # noqa: BLE001 - an invalid size
        valid = False
    api_call(go, must_succeed=valid)


# --------------------------------------------------------------------------- the command line

CLI_TEXT = st.one_of(st.sampled_from(WEIRD_STRINGS), st.text(max_size=10),
                     st.integers(-2**70, 2**70).map(str), st.floats().map(str),
                     st.sampled_from(["--", "-", "--mode", "--heap", "--json", "--verify", "--no-verify",
                                      "-1", "1e3", "٣"]))
# What a real argv can hold (no NUL, no lone high surrogate); no line breaks
# either: argparse echoes those raw (known bug, test_unrecognized_argument_with_a_newline_is_one_line)
ARGV_TEXT = CLI_TEXT.filter(lambda s: not any(c in s for c in "\x00\ud800\n\r"))
RUN_TINY_HEAP = st.one_of(st.sampled_from(["1MiB", "2MiB", "1048576"]),
                          ARGV_TEXT.filter(lambda v: not _parses_large(v)))
RUN_OPTIONS = ["--mode", "--delivery", "--mutators", "--gc-threads", "--size", "--seed", "--marking",
               "--order", "--trigger"]


CLI_RUN_VALID = {"--mode": st.sampled_from(MODES), "--delivery": st.sampled_from(DELIVERIES),
                 "--mutators": st.sampled_from(["1", "2", "3"]), "--gc-threads": st.sampled_from(["1", "2"]),
                 "--size": st.sampled_from(["4", "5", "6"]), "--seed": st.integers(0, 2**64 - 1).map(str),
                 "--marking": st.sampled_from(["stw", "concurrent"]),
                 "--order": st.sampled_from(["ascending", "descending", "random"]),
                 "--trigger": st.sampled_from(["0.5", "1", "0.75"])}


@settings(max_examples=examples(100), **FUZZ)
@given(workload=st.one_of(st.sampled_from(["binarytrees", "gcbench", "lru", "graph"]), ARGV_TEXT),
       heap=st.one_of(st.sampled_from(["1MiB", "2MiB", "1048576"]), RUN_TINY_HEAP),
       opts=st.fixed_dictionaries(CLI_RUN_VALID),
       wild=st.lists(st.sampled_from(sorted(CLI_RUN_VALID)), max_size=2, unique=True),
       wild_values=st.lists(ARGV_TEXT, min_size=2, max_size=2),
       flags=st.lists(st.sampled_from(["--verify", "--quiet", "--no-gc-install", "--no-reuse-tospace",
                                       "--gc-install", "--reuse-tospace"] * 3
                                      + ["--gc-install=1", "--bogus", "extra", "--json"]), max_size=2),
       json_to=st.sampled_from([None, None, "file", "dir", "under_file"]),
       invalid=st.booleans())
def test_fuzz_cli_run(workload: str, heap: str, opts: dict[str, str], wild: list[str], wild_values: list[str],
                      flags: list[str], json_to: str | None, invalid: bool,
                      tmp_path_factory: pytest.TempPathFactory) -> None:
    """Half the inputs have fuzzed values (workload, heap, up to two options,
    flags), half are valid apart from where --json points."""
    opts = dict(opts)
    if not invalid:
        workload = workload if workload in ("binarytrees", "gcbench", "lru", "graph") else "binarytrees"
        heap, wild = "1MiB", []
        flags = [f for f in flags if f.startswith("--") and "=" not in f and f not in ("--bogus", "--json")]
    for k, v in zip(wild, wild_values):
        opts[k] = v
    if opts["--mode"] in MODES and opts["--delivery"] in DELIVERIES \
            and not mode_supported(opts["--mode"], opts["--delivery"]):
        opts["--mode"] = "stw"
    _count("cli: artgc run")
    tmp = tmp_path_factory.mktemp("run")
    argv = ["run", workload, "--heap", heap]
    for k, v in opts.items():
        argv += [k, v]
    argv += flags
    if json_to == "file":
        argv += ["--json", str(tmp / "r.json")]
    elif json_to == "dir":
        argv += ["--json", str(tmp)]
    elif json_to == "under_file":
        (tmp / "f").write_text("x")
        argv += ["--json", str(tmp / "f" / "r.json")]
    code, out, err = cli_call(argv)
    assert_cli_clean(argv, code, out, err)
    no_install = "--no-gc-install" in flags and opts["--mode"] in ("copy", "move")
    stw_delivery = opts["--mode"] == "stw" and opts["--delivery"] == "thread"   # refused: stw takes no faults
    if not invalid and json_to in (None, "file") and not no_install and not stw_delivery:
        # valid: it runs, or (exit 1) runs out of its 1 MiB heap
        assert code == 0 or (code == 1 and "out of memory" in err), f"argv={argv!r}: valid input, exit {code}: {err}"
    if code == 0 and json_to == "file":
        assert json.loads((tmp / "r.json").read_text())["workload"] == workload


@settings(max_examples=examples(60), **FUZZ)
@given(suite=ARGV_TEXT.filter(lambda s: s not in SUITE_NAMES) | st.just("test"),
       repeat=st.one_of(st.none(), ARGV_TEXT), out=st.sampled_from(["tmp", "under_file", "none", "proc"]),
       extra=st.lists(st.sampled_from(["--no-peers", "--bogus", "x", "--repeat"]), max_size=1))
def test_fuzz_cli_bench(suite: str, repeat: str | None, out: str, extra: list[str],
                        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Bad sweeps are refused before anything runs (never a real sweep here:
    either the suite is invalid, or the output directory cannot be made)."""
    _count("cli: artgc bench")
    tmp = tmp_path_factory.mktemp("bench")
    (tmp / "f").write_text("x")
    if suite == "test":
        out = "under_file" if out != "proc" else out   # "test" would run: give it an unmakeable --out
    argv = ["bench", "--suite", suite]
    if repeat is not None:
        argv += ["--repeat", repeat]
    if out != "none":
        argv += ["--out", {"tmp": str(tmp / "o"), "under_file": str(tmp / "f" / "o"),
                           "proc": "/proc/artgc-fuzz/o"}[out]]
    argv += extra
    code, outs, err = cli_call(argv, timeout=60)
    assert_cli_clean(argv, code, outs, err)
    assert code == 2, f"argv={argv!r}: expected a refusal, got {code}\n{outs}\n{err}"
    assert not (tmp / "o").exists()


@settings(max_examples=examples(40), **FUZZ)
@given(args=st.lists(ARGV_TEXT, min_size=1, max_size=3))
def test_fuzz_cli_probe(args: list[str]) -> None:
    """probe with junk arguments (inputs that would be a valid probe are skipped:
    a real probe takes a second)."""
    _count("cli: artgc probe")
    from artgc.cli import build_parser
    argv = ["probe", *args]
    try:
        build_parser().parse_args(argv)
        assume(False)
    except SystemExit:
        pass
    code, out, err = cli_call(argv)
    assert_cli_clean(argv, code, out, err)
    assert code in (0, 2)   # 0: --help


# ----- plot: files that are junk, or a real result with one value replaced

JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
              st.text(max_size=8), st.sampled_from(BOUNDARY_INTS)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)


@pytest.fixture(scope="module")
def result_docs() -> dict[str, dict[str, Any]]:
    import artgc.plots
    mode = "minor" if mode_supported("minor") else "stw"
    r = artgc.run("binarytrees", size=10, heap="2MiB", mode=mode)
    assert r.ok, r.error
    run = json.loads(r.to_json())
    rec = {**run, "status": "ok", "repeat": 0, "point": "p"}
    bench = {"version": 1, "suite": "test", "machine": {}, "kernel": {}, "probe": None,
             "runs": [rec, {**rec, "mode": "stw", "point": "q"},
                      {**rec, "status": "failed", "error": "boom", "point": "r"}], "peers": []}
    return {"run": run, "bench": bench}


def _paths(doc: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    out = [prefix]
    if depth >= 3:
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,), depth + 1)
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            out += _paths(v, prefix + (i,), depth + 1)
    return out


@settings(max_examples=examples(25), **FUZZ)
@given(kind=st.sampled_from(["run", "bench", "raw"]), pick=st.integers(0, 10**6),
       action=st.sampled_from(["replace", "delete", "truncate"]), value=JSON_VALUE,
       raw=st.binary(max_size=64), out=st.sampled_from(["tmp", "under_file"]))
def test_fuzz_cli_plot(kind: str, pick: int, action: str, value: Any, raw: bytes, out: str,
                       result_docs: dict[str, dict[str, Any]],
                       tmp_path_factory: pytest.TempPathFactory) -> None:
    _count("cli: artgc plot")
    tmp = tmp_path_factory.mktemp("plot")
    (tmp / "f").write_text("x")
    src = tmp / "in.json"
    if kind == "raw":
        src.write_bytes(raw)
    else:
        doc = json.loads(json.dumps(result_docs[kind]))
        paths = [p for p in _paths(doc) if p]
        path = paths[pick % len(paths)]
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        if action == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
        text = json.dumps(doc)
        if action == "truncate":
            text = text[:pick % max(1, len(text))]
        src.write_text(text)
    argv = ["plot", str(src), "--out", str(tmp / "o" if out == "tmp" else tmp / "f" / "o")]
    code, outs, err = cli_call(argv, timeout=60)
    assert_cli_clean(argv, code, outs, err)


# --------------------------------------------------------------------------- the real entry point

def test_python_m_artgc_bad_input_is_one_line(tmp_path: Path) -> None:
    """The real `python -m artgc` (interpreter start-up included) on bad input,
    every verb, all at once: exit 2, one line (plus the --help hint), no traceback."""
    (tmp_path / "junk.json").write_text("{not json")
    cases = [
        ["run", "binarytrees", "--heap", "1TiB", "--size", "4"],
        ["run", "binarytrees", "--heap", "\udcff"],
        ["run", "nosuch", "--heap", "1MiB"],
        ["run", "binarytrees", "--mutators", "99999999999999999999999", "--heap", "1MiB"],
        ["run", "binarytrees", "--size", str(2**64), "--heap", "1MiB"],
        ["run", "binarytrees", "--seed", str(2**64), "--heap", "1MiB"],
        ["run", "binarytrees", "--trigger", "nan", "--heap", "1MiB"],
        ["run", "graph", "--gc-threads", "65", "--heap", "1MiB", "--size", "1"],
        ["bench", "--suite", "\udcff"],
        ["bench", "--suite", "test", "--repeat", "-1"],
        ["plot", str(tmp_path / "junk.json")],
        ["plot", str(tmp_path / "missing.json")],
        ["probe", "--bogus"],
        ["nosuchverb"],
        [],
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), LC_ALL="C.UTF-8")
    procs = [(argv, subprocess.Popen([sys.executable, "-m", "artgc", *argv], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=tmp_path))
             for argv in cases]
    for argv, p in procs:
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            pytest.fail(f"artgc {argv!r} hung")
        _count("cli: python -m artgc")
        _current[0] = "cli: python -m artgc"
        _outcome_seen(f"exit {p.returncode}")
        e = err.decode("utf-8", "replace")
        assert p.returncode == 2, (argv, p.returncode, e)
        assert_cli_clean(argv, 2, out.decode("utf-8", "replace"), e)


# --------------------------------------------------------------------------- known bugs (xfail)

def _outcome(fn: Callable[[], Any], timeout: float = 10) -> tuple[str, str, str]:
    _current[0] = ""
    saved = globals()["KNOWN"]
    globals()["KNOWN"] = ()
    try:
        return api_call(fn, timeout=timeout)
    finally:
        globals()["KNOWN"] = saved


@pytest.mark.parametrize("call", ["Heap(2**64)", "h.new_ref_array(2**64)", "h.new_byte_array(2**64)",
                                  "h.get_ref(o, 2**64)", "h.set_ref(o, 2**64, None)", "h.read_data(o, 2**64)",
                                  "h.read_data(o, 0, 2**64)", "h.write_data(o, b'x', 2**64)"])
def test_huge_ints_are_value_errors(call: str) -> None:
    def go() -> None:
        with artgc.Heap("1MiB", mode="stw") as h:
            o = h.new_ref_array(2)
            eval(call, {"Heap": artgc.Heap, "h": h, "o": o})
    kind, typ, msg = _outcome(go)
    assert kind == "clean", (typ, msg)


def test_read_data_huge_length_is_a_value_error() -> None:
    def go() -> None:
        with artgc.Heap("1MiB", mode="stw") as h:
            h.read_data(h.new_byte_array(8), 1, 2**62)
    kind, typ, msg = _outcome(go)
    assert kind == "clean" and typ == "ValueError", (typ, msg)


def test_snapshot_during_collect_begin_does_not_hang() -> None:
    mode = next((m for m in ("minor", "copy", "move") if mode_supported(m)), None)
    if mode is None:
        pytest.skip("no concurrent mode on this kernel")

    def go() -> None:
        with artgc.Heap("2MiB", mode=mode) as h:
            C = h.define_class("C", 1, 100)
            keep = [h.new(C) for _ in range(10)]
            h.collect_begin()
            h.snapshot()
            h.collect_finish()
            del keep
    _outcome(go, timeout=2)   # it takes milliseconds when it works


@pytest.mark.parametrize("length", [-5, "x", 10**30])
def test_new_rejects_a_length_for_a_plain_class(length: Any) -> None:
    def go() -> None:
        with artgc.Heap("1MiB", mode="stw") as h:
            h.new(h.define_class("C", 1, 8), length)
    kind, _, _ = _outcome(go)
    assert kind == "clean", "accepted"


# (None for a knob a --design sets, such as reuse_tospace, means "not given")
@pytest.mark.parametrize("kw", [{"seed": 2**70}, {"verify": "no"}, {"gc_install": "x"},
                                {"reuse_tospace": "yes"}, {"eager_release": 1}, {"memory": "disk"}])
def test_heap_validates_like_run(kw: dict[str, Any]) -> None:
    def go() -> None:
        artgc.Heap("1MiB", mode="stw", **kw).close()
    kind, _, _ = _outcome(go)
    assert kind == "clean", "accepted"


def test_class_name_with_nul_is_refused() -> None:
    def go() -> None:
        with artgc.Heap("1MiB", mode="stw") as h:
            h.define_class("a\x00b", 2, 2)
    kind, _, _ = _outcome(go)
    assert kind == "clean", "accepted"


def test_run_json_to_a_directory_names_the_directory(tmp_path: Path) -> None:
    code, _, err = cli_call(["run", "binarytrees", "--size", "4", "--heap", "1MiB", "--mode", "stw",
                               "--json", str(tmp_path)])
    assert code == 2 and str(tmp_path) in err and "/." not in err, err


def test_plot_of_a_result_with_a_bad_value_is_a_clear_error(tmp_path: Path,
                                                            result_docs: dict[str, dict[str, Any]]) -> None:
    doc = dict(result_docs["run"], heap_bytes="x")
    (tmp_path / "r.json").write_text(json.dumps(doc))
    code, _, err = cli_call(["plot", str(tmp_path / "r.json"), "--out", str(tmp_path / "o")])
    assert code == 2 and "heap_bytes" in err and "Warning" not in err, err


def test_unrecognized_argument_with_a_newline_is_one_line() -> None:
    code, _, err = cli_call(["probe", "a\nb"])
    assert code == 2
    assert len([ln for ln in err.split("\n") if ln.strip()]) <= 2, err
