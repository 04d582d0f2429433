"""The JVM peers: the same binary-trees on Serial, G1, ZGC and Shenandoah.

benchmarks/peers/BinaryTrees.java is compiled once into a cache directory and
run with ``-Xmx<heap>`` (the JVM sizes its heap up to that, as in the
architecture's reference figures) under each collector. Pauses come from the JVM's unified logging,
``-Xlog:safepoint=info``: one line per safepoint, e.g.

    [0.048s][info][safepoint] Safepoint "G1CollectForAllocation", Time since last:
    26366445 ns, Reaching safepoint: 4267 ns, Cleanup: 6139 ns, At safepoint:
    3959388 ns, Total: 3969794 ns

(format checked on OpenJDK 17). "Total" (reaching the safepoint + cleanup +
at the safepoint) is the pause, time-to-safepoint included, as artgc counts
its own. Every safepoint counts, GC or not, as every artgc pause does.
A peer result has the keys of an artgc run where they mean something.
"""
from __future__ import annotations

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

from .results import FORMAT_VERSION
from .sizes import parse_size

GC_FLAGS: dict[str, str] = {
    "serial": "-XX:+UseSerialGC",
    "g1": "-XX:+UseG1GC",
    "zgc": "-XX:+UseZGC",
    "shenandoah": "-XX:+UseShenandoahGC",
}
SOURCE = Path(__file__).resolve().parent.parent / "benchmarks" / "peers" / "BinaryTrees.java"
_SAFEPOINT = re.compile(
    r"Safepoint \"(?P<name>[^\"]*)\".*?Reaching safepoint: (?P<reach>\d+) ns.*?"
    r"At safepoint: (?P<at>\d+) ns.*?Total: (?P<total>\d+) ns")
_UPTIME = re.compile(r"^\[(?:(?P<ns>\d+)ns|(?P<s>[\d.]+)s)\]")


def find_java() -> tuple[str, str] | None:
    """(java, javac) from PATH, or None."""
    java, javac = shutil.which("java"), shutil.which("javac")
    return (java, javac) if java and javac else None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "artgc" / "peers"


def compile_binarytrees(javac: str, source: Path = SOURCE, dest: Path | None = None) -> Path:
    """Compile BinaryTrees.java (once per source version); return the class dir."""
    src = source.read_bytes()
    digest = hashlib.sha256(src).hexdigest()[:16]
    out = (dest or cache_dir()) / digest
    if (out / "BinaryTrees.class").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="build-", dir=str(out.parent)))
    try:
        r = subprocess.run([javac, "-d", str(tmp), str(source)], capture_output=True, text=True,
                           timeout=300)
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


def java_version(java: str) -> str:
    r = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    lines = (r.stderr or r.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"


def gc_available(java: str, gc: str) -> str | None:
    """None if the JVM accepts the collector, else why not (its own words)."""
    flag = GC_FLAGS.get(gc)
    if flag is None:
        return f"unknown collector {gc!r}; valid: {', '.join(GC_FLAGS)}"
    r = subprocess.run([java, flag, "-version"], capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        return None
    lines = [ln for ln in (r.stderr or r.stdout).strip().splitlines() if ln.strip()]
    return f"the JVM rejects {flag}: {lines[0] if lines else f'exit code {r.returncode}'}"


def parse_safepoint_log(text: str) -> list[dict[str, Any]]:
    """Every safepoint in a -Xlog:safepoint=info log: name, JVM uptime when it
    was logged (its end; ns, with the uptimenanos or uptime decorator) and
    reaching/at/total in ns."""
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        m = _SAFEPOINT.search(line)
        if not m:
            continue
        up = _UPTIME.match(line)
        uptime = None if not up else int(up["ns"]) if up["ns"] else int(float(up["s"]) * 1e9)
        out.append({"name": m["name"], "uptime_ns": uptime,
                     "reaching_ns": int(m["reach"]), "at_ns": int(m["at"]), "total_ns": int(m["total"])})
    return out


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


def _events(safepoints: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Safepoints as artgc events (columns): a safepoint stops every Java
    thread, so they are pauses of one representative thread 0. Times are JVM
    uptime; the safepoint ends when it is logged."""
    sp = [s for s in safepoints if s.get("uptime_ns") is not None]
    return {"t_start_ns": [max(0, s["uptime_ns"] - s["total_ns"]) for s in sp],
            "dur_ns": [s["total_ns"] for s in sp], "thread": [0] * len(sp), "kind": [0] * len(sp),
            "cycle": list(range(len(sp))), "phase": [3] * len(sp)}


def _base(gc: str, depth: int, heap_bytes: int, threads: int) -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "workload": "binarytrees", "mode": f"jvm-{gc}", "delivery": None,
            "heap_bytes": heap_bytes, "mutators": threads, "gc_threads": None, "size": depth, "seed": 0,
            "kernel": None, "marking": None, "peer": True, "status": "ok", "error": None}


def run_peer(java: str, classdir: Path, gc: str, depth: int = 21, heap: int | str = "1GiB",
             threads: int = 1, timeout_s: float = 600.0) -> dict[str, Any]:
    """One JVM run; a result with the run keys (pauses from safepoints)."""
    heap_bytes = parse_size(heap, "heap")
    rec = _base(gc, depth, heap_bytes, threads)
    mib = max(1, heap_bytes >> 20)
    with tempfile.TemporaryDirectory(prefix="artgc-jvm-") as tmp:
        log = Path(tmp) / "safepoint.log"
        outf = Path(tmp) / "out.txt"
        errf = Path(tmp) / "err.txt"
        cmd = [java, f"-Xmx{mib}m", GC_FLAGS[gc],
               f"-Xlog:safepoint=info:file={log}:uptimenanos,level,tags",
               "-cp", str(classdir), "BinaryTrees", str(depth), str(threads)]
        rec["command"] = cmd[:3] + ["-Xlog:safepoint=info:file=<log>:uptimenanos,level,tags"] + cmd[4:]
        t0 = time.monotonic()
        with open(outf, "wb") as o, open(errf, "wb") as e:
            proc = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                code, rss, timed_out = _wait_rusage(proc, timeout_s)
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        wall = time.monotonic() - t0
        output = outf.read_text(errors="replace")
        safepoints = parse_safepoint_log(log.read_text(errors="replace")) if log.exists() else []
        err = errf.read_text(errors="replace").strip()
    rec.update({
        "wall_s": wall, "output": output, "verified": None,
        "pauses_ns": [s["total_ns"] for s in safepoints], "fault_stalls_ns": [], "cycles": [],
        "peak_rss_bytes": rss, "safepoints": safepoints, "events": _events(safepoints),
        "t0_ns": 0, "t1_ns": int(wall * 1e9), "jvm_flags": cmd[1:3],
        "output_ok": output == binarytrees_expected(depth),
    })
    if timed_out:
        rec.update(status="failed", error=f"timed out after {timeout_s:.0f} s")
    elif code != 0:
        last = err.splitlines()[-1] if err else f"exit code {code}"
        rec.update(status="failed", error=f"java exited with {code}: {last}")
    elif not rec["output_ok"]:
        rec.update(status="failed", error="output differs from the game's binary-trees text")
    return rec


def run_peers(depth: int = 21, heap: int | str = "1GiB", gcs: Sequence[str] = tuple(GC_FLAGS),
              repeat: int = 1, threads: int = 1, timeout_s: float = 600.0,
              on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every collector, repeated; skipped records (with the reason) when java
    is missing or rejects a collector. on_done is called after each record."""
    heap_bytes = parse_size(heap, "heap")
    out: list[dict[str, Any]] = []

    def emit(rec: dict[str, Any]) -> None:
        out.append(rec)
        if on_done:
            on_done(rec)

    jj = find_java()
    if jj is None:
        for rep in range(repeat):
            for gc in gcs:
                emit({**_base(gc, depth, heap_bytes, threads), "status": "skipped", "repeat": rep,
                      "error": "java and javac are not both on PATH: JVM peers not run"})
        return out
    java, javac = jj
    try:
        classdir = compile_binarytrees(javac)
        version = java_version(java)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        for rep in range(repeat):
            for gc in gcs:
                emit({**_base(gc, depth, heap_bytes, threads), "status": "failed", "repeat": rep,
                      "error": f"cannot build the Java peer: {exc}"})
        return out
    reasons = {gc: gc_available(java, gc) for gc in gcs}
    for rep in range(repeat):
        for gc in gcs:
            if reasons[gc]:
                rec = {**_base(gc, depth, heap_bytes, threads), "status": "skipped", "error": reasons[gc]}
            else:
                rec = run_peer(java, classdir, gc, depth, heap_bytes, threads, timeout_s)
                rec["java_version"] = version
            rec["repeat"] = rep
            rec["point"] = f"binarytrees-{depth}/jvm-{gc}"
            emit(rec)
    return out
