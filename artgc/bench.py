"""``artgc bench``: a sweep of runs, each in its own process, and its report.

Each point runs as ``python -m artgc run ... --json FILE`` in a subprocess with
a timeout, so a crash or a hang of one point is recorded as failed (with its
error) and the sweep goes on, and each run's peak RSS is its own. Modes the
kernel lacks are recorded as skipped with the reason. Each record is appended
to OUT/runs.jsonl as it finishes and results.json is rewritten every few
seconds and at the end, also on Ctrl-C: a stopped sweep keeps everything that
finished (runs.jsonl is removed once results.json is complete).
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from . import __version__, metrics, options, overhead, stats
from . import peers as peers_mod
from ._sigint import on_sigint
from .results import FORMAT_VERSION, series_label, to_jsonable, validate_run, write_json
from .sizes import format_size
from .machine import cpu_model
from .suites import Point, Suite, custom_suite, get_suite, skip_reason

HEAP_MAP_BINS = 2048          # heap maps in results.json are at most this many bins
SAVE_EVERY_S = 20.0           # rewrite results.json at most this often during a sweep
ERROR_FILE_ENV = "ARTGC_ERROR_FILE"


# --------------------------------------------------------------------------- progress

class Progress:
    """A one-line progress bar on stderr with an estimate of the time left.

    The estimate scales each remaining item's a-priori duration by how much
    longer or shorter the finished ones took than their estimate."""

    def __init__(self, total_est_s: float, n_items: int, stream: TextIO | None = None,
                 enabled: bool = True) -> None:
        self.total_est = max(total_est_s, 1e-3)
        self.n = n_items
        self.done = 0
        self.done_est = 0.0
        self.t0 = time.monotonic()
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last_len = 0

    def eta_s(self) -> float | None:
        if self.done_est <= 0:
            return None
        ratio = (time.monotonic() - self.t0) / self.done_est
        return max(0.0, (self.total_est - self.done_est) * ratio)

    def start(self, label: str) -> None:
        self._show(label, final=False)

    def advance(self, est_s: float, label: str, status: str) -> None:
        self.done += 1
        self.done_est += est_s
        self._show(f"{label}: {status}", final=True)

    def _show(self, label: str, final: bool) -> None:
        if not self.enabled:
            return
        frac = min(1.0, self.done_est / self.total_est)
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        eta = self.eta_s()
        el = _hms(time.monotonic() - self.t0)
        left = "?" if eta is None else "~" + _hms(eta)
        line = f"[{bar}] {self.done}/{self.n} {el} elapsed, {left} left  {label}"
        if self.tty:
            pad = max(0, self.last_len - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.last_len = len(line)
        elif final:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _hms(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# --------------------------------------------------------------------------- machine

def machine_info() -> dict[str, Any]:
    cpu = cpu_model()
    mem = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    return {"hostname": socket.gethostname(), "cpu_model": cpu, "cores": os.cpu_count(), "mem_bytes": mem,
            "python": sys.version.split()[0], "platform": platform.platform()}


def _uname() -> dict[str, str]:
    u = platform.uname()
    return {"system": u.system, "release": u.release, "version": u.version, "machine": u.machine}


def _python_cmd() -> list[str]:
    return [sys.executable, "-m", "artgc"]


def _child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # make sure the child imports this very artgc (e.g. a source tree not installed)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if extra:
        env.update(extra)
    return env


def _tail(path: Path, n: int = 5) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _spawn(argv: list[str], workdir: Path, timeout_s: float, env: Mapping[str, str]
           ) -> tuple[int | None, str, bool]:
    """Run a child in its own session: (exit code or None, stderr tail, timed out).
    On Ctrl-C the child is interrupted (then killed) and KeyboardInterrupt re-raised."""
    errf = workdir / "stderr.txt"
    with open(workdir / "stdout.txt", "wb") as o, open(errf, "wb") as e:
        proc = subprocess.Popen(argv, stdout=o, stderr=e, stdin=subprocess.DEVNULL, env=dict(env),
                                start_new_session=True, cwd=str(workdir))
        try:
            code: int | None = proc.wait(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            _killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code, timed_out = None, True
        except BaseException:
            _killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise
    return code, _tail(errf), timed_out


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


# --------------------------------------------------------------------------- points

def point_command(point: Point, json_path: Path) -> list[str]:
    """The child command of a point (a seam the tests use to inject failures)."""
    return _python_cmd() + point.argv() + ["--json", str(json_path), "--quiet"]


def downsample_map(values: list[int], bins: int = HEAP_MAP_BINS) -> tuple[list[int], int]:
    """Sum consecutive pages so a heap map has at most bins entries: (map, pages per bin)."""
    if len(values) <= bins:
        return list(values), 1
    per = -(-len(values) // bins)
    arr = np.asarray(values, dtype=np.int64)
    arr = np.concatenate((arr, np.zeros(per * -(-len(arr) // per) - len(arr), dtype=np.int64)))
    return arr.reshape(-1, per).sum(axis=1).tolist(), per


def run_point(point: Point, repeat: int, timeout_s: float,
              command: Callable[[Point, Path], list[str]] | None = None) -> dict[str, Any]:
    """Run one point in a subprocess; a record with status ok|failed|skipped."""
    cmd_fn = command or point_command
    base = {**point.params(), "status": "failed", "error": None, "repeat": repeat, "point": point.key}
    with tempfile.TemporaryDirectory(prefix="artgc-point-") as tmp:
        tdir = Path(tmp)
        jpath, epath = tdir / "result.json", tdir / "error.json"
        t0 = time.monotonic()
        code, err_tail, timed_out = _spawn(cmd_fn(point, jpath), tdir, timeout_s,
                                           _child_env({ERROR_FILE_ENV: str(epath)}))
        elapsed = time.monotonic() - t0
        err_info: dict[str, Any] = {}
        if epath.exists():
            try:
                err_info = json.loads(epath.read_text())
            except (OSError, ValueError):
                err_info = {}
        run: dict[str, Any] | None = None
        if jpath.exists():
            try:
                run = json.loads(jpath.read_text())
            except (OSError, ValueError) as exc:
                err_info.setdefault("error", f"the run's JSON is unreadable: {exc}")
    base["elapsed_s"] = elapsed
    base["exit_code"] = code
    if timed_out:
        return {**base, "error": f"timed out after {timeout_s:.0f} s (killed)"}
    if err_info.get("error_type") == "UnsupportedMode":
        return {**base, "status": "skipped", "error": err_info.get("error")}
    if run is None:
        if code is not None and code < 0:
            msg = f"crashed with {_signal_name(code)}"
        else:
            msg = err_info.get("error") or f"exit code {code}"
        if err_tail and err_tail not in msg:
            msg += f"; stderr: {err_tail}"
        return {**base, "error": msg}
    rec = {**base, **run, "status": "ok", "repeat": repeat, "point": point.key, "elapsed_s": elapsed,
           "exit_code": code}
    for k in ("heap_map_before", "heap_map_after"):
        m, per = downsample_map(rec.get(k) or [])
        rec[k] = m
        rec[f"{k}_pages_per_bin"] = per
    # request latencies (lru) can be millions of numbers: keep their summary
    # and log-linear histogram here (the run's own --json keeps them raw)
    for k in ("latency_ns", "metered_latency_ns", "metered_full_latency_ns"):
        vals = rec.pop(k, None)
        if vals:
            rec[k.replace("_ns", "_summary_ns")] = metrics.summarize(vals)
            rec[k.replace("_ns", "_hist_ns")] = metrics.loglinear_histogram(vals)
    if run.get("failed") or code not in (0, None):
        rec["status"] = "failed"
        rec["error"] = run.get("error") or err_info.get("error") or f"exit code {code}"
    else:
        try:
            validate_run(rec, point.key)
        except ValueError as exc:
            rec.update(status="failed", error=str(exc))
    return rec


# --------------------------------------------------------------------------- probe

def run_probe(quick: bool, timeout_s: float = 300.0) -> dict[str, Any]:
    """``artgc probe --json`` in a subprocess: its figures, or {"error": ...}."""
    with tempfile.TemporaryDirectory(prefix="artgc-probe-") as tmp:
        argv = _python_cmd() + ["probe", "--json"] + (["--quick"] if quick else [])
        code, err, timed_out = _spawn(argv, Path(tmp), timeout_s, _child_env())
        out = (Path(tmp) / "stdout.txt").read_text(errors="replace")
    if timed_out:
        return {"error": f"artgc probe timed out after {timeout_s:.0f} s"}
    if code != 0:
        return {"error": f"artgc probe failed (exit {code}): {err}"}
    try:
        d = json.loads(out)
    except ValueError:
        return {"error": "artgc probe printed no JSON"}
    return d if isinstance(d, dict) else {"error": "artgc probe printed no object"}


# --------------------------------------------------------------------------- the sweep

def bench(suite: str | Suite | None = None, out: str | os.PathLike[str] = "results", repeat: int | None = None,
          peers: bool = True, progress: bool = True,
          command: Callable[[Point, Path], list[str]] | None = None, *,
          workloads: list[str] | None = None, modes: list[str] | None = None, heaps: list[str] | None = None,
          mutators: list[str] | None = None, csv: bool = False, invocations: int | None = None,
          generational: str | None = None) -> dict[str, Any]:
    """Run a suite; write OUT/results.json, OUT/summary.md and OUT/plots/.

    suite
        "quick" (the default), "standard", "full", "test" or a Suite; or
        give the axes of a custom sweep instead: ``workloads`` ("name" or
        "name:size"), ``modes`` ("mode" or "mode/delivery"), ``heaps``
        (sizes or multiples such as "2x"), ``mutators``.
    repeat, invocations
        runs per point (the same thing; default: the suite's, 3 for a custom sweep).
    peers
        run the suite's JVM peers too.
    csv
        also write OUT/summary.csv, one row per point.
    generational
        "on", "off" or "auto" for every artgc point (None: each point's own,
        the table's default auto); with "on", points on shmem (minor) are
        skipped with the reason.

    Heaps given as multiples are resolved first (``artgc minheap``, cached).
    Returns the results document, plus "files" (paths written), "counts"
    (ok/failed/skipped) and "interrupted" (Ctrl-C stopped the sweep early)."""
    if invocations is not None:
        repeat = invocations
    if repeat is not None and (isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1):
        raise ValueError(f"repeat (invocations) must be a positive integer, got {repeat!r}")
    axes = any(x is not None for x in (workloads, modes, heaps, mutators))
    if axes:
        if suite is not None:
            raise ValueError("give either --suite or the axes of a custom sweep "
                             "(--workloads/--modes/--heaps/--mutators), not both")
        s = custom_suite(workloads, modes, heaps, mutators, repeat or 3)
    else:
        s = get_suite(suite if suite is not None else "quick")
    reps = repeat or s.repeat
    if generational is not None:
        options.BY_NAME["generational"].check(generational)
        s = dataclasses.replace(s, points=tuple(dataclasses.replace(
            p, knobs=tuple((k, v) for k, v in p.knobs if k != "generational") + (("generational", generational),))
            for p in s.points))
    outdir = Path(out)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output directory {outdir}: {exc.strerror}") from None
    res_path = outdir / "results.json"
    doc: dict[str, Any] = {
        "version": FORMAT_VERSION, "artgc_version": __version__, "suite": s.name,
        "suite_description": s.description, "repeat": reps,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "finished": None,
        "machine": machine_info(), "kernel": {"uname": _uname(), "uffd": None}, "probe": None,
        "runs": [], "peers": [], "interrupted": False,
    }
    log_path = outdir / "runs.jsonl"   # every record as it finishes: survives even a kill -9
    log_path.write_text("")
    saver = _Saver(doc, res_path, log_path)
    run_peers = bool(peers and s.peers)
    n_items = reps * len(s.points) + (reps * len(s.peers.gcs) if run_peers and s.peers else 0) + 1
    probe_est = 3.0 if s.quick_probe else 15.0
    prog = Progress(s.est_total_s(reps, run_peers) + probe_est, n_items, enabled=progress)
    try:
        prog.start("probing the kernel")
        doc["probe"] = run_probe(s.quick_probe)
        doc["kernel"]["uffd"] = doc["probe"].get("uffd")
        prog.advance(probe_est, "probe", "error" if "error" in doc["probe"] else "ok")
        write_json(doc, res_path)
        uffd = doc["kernel"]["uffd"]
        doc["min_heaps"] = {}
        for rep in range(reps):
            for point in s.points:
                label = f"{point.key}" + (f" #{rep + 1}" if reps > 1 else "")
                reason = skip_reason(point, uffd)
                if reason:
                    rec = {**point.params(), "status": "skipped", "error": reason, "repeat": rep,
                           "point": point.key}
                else:
                    _min_heap_for(point, doc["min_heaps"], progress)
                    prog.start(label)
                    rec = run_point(point, rep, s.timeout_s, command)
                doc["runs"].append(rec)
                saver.record(rec)
                prog.advance(point.est_s if not reason else 0.0, label, _status_text(rec))
        if run_peers and s.peers:
            pc = s.peers

            def on_done(rec: dict[str, Any]) -> None:
                doc["peers"].append(rec)
                saver.record(rec)
                prog.advance(pc.est_s, f"{rec['mode']} binarytrees {pc.depth}", _status_text(rec))

            prog.start(f"JVM peers: binarytrees {pc.depth}, heap {pc.heap}")
            peers_mod.run_peers(depth=pc.depth, heap=pc.heap, gcs=pc.gcs, repeat=reps, threads=pc.threads,
                                timeout_s=s.timeout_s, on_done=on_done)
    except KeyboardInterrupt:
        doc["interrupted"] = True
    finally:
        with _SavingShield() as shield:
            prog.close()
            doc["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            files = _write_outputs(doc, outdir, csv=csv)
    if shield.pressed and not doc.get("interrupted"):
        raise KeyboardInterrupt   # everything is saved; the user still asked to stop
    doc["files"] = files
    doc["counts"] = _counts(doc["runs"])
    doc["peer_counts"] = _counts(doc["peers"])
    return doc


class _SavingShield:
    """Holds off Ctrl-C while the outputs are written (the plots take seconds).

    A second Ctrl-C there would otherwise land anywhere, for instance in a
    weak-reference callback of an import, where Python prints it as an ignored
    exception and the files may be left half written. Presses are counted and
    answered with one line; the caller decides what they mean once the files
    are complete."""

    def __init__(self) -> None:
        self.pressed = 0
        self._cm = on_sigint(self._handler)

    def _handler(self, signum: int, frame: object) -> None:
        self.pressed += 1
        if self.pressed == 1:
            os.write(2, b"\nartgc: saving the results first (a few seconds)\n")

    def __enter__(self) -> _SavingShield:
        self._cm.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(None, None, None)


class _Saver:
    """Appends each record to runs.jsonl and rewrites results.json now and then
    (rewriting a large file after every point would cost more than the runs)."""

    def __init__(self, doc: dict[str, Any], res_path: Path, log_path: Path) -> None:
        self.doc, self.res_path, self.log_path = doc, res_path, log_path
        self.last = time.monotonic()

    def record(self, rec: Mapping[str, Any]) -> None:
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(to_jsonable(rec), allow_nan=False) + "\n")
        if time.monotonic() - self.last >= SAVE_EVERY_S:
            write_json(self.doc, self.res_path)
            self.last = time.monotonic()


def _status_text(rec: Mapping[str, Any]) -> str:
    st = rec.get("status", "ok")
    if st == "ok":
        p = rec.get("pauses_ns") or []
        busy = ", machine busy" if (rec.get("machine") or {}).get("busy") else ""
        return (f"ok (max pause {metrics.format_ns(max(p) if p else None)}, {rec.get('wall_s', 0):.2f} s, "
                f"{len(rec.get('cycles') or [])} cycles{busy})")
    return f"{st}: {str(rec.get('error'))[:80]}"


def _counts(recs: list[dict[str, Any]]) -> dict[str, int]:
    c = {"ok": 0, "failed": 0, "skipped": 0}
    for r in recs:
        c[r.get("status", "ok")] = c.get(r.get("status", "ok"), 0) + 1
    return c


def _min_heap_for(p: Point, found: dict[str, int], progress: bool) -> None:
    """Find (or read from the cache) the minimum heap of a point given as a
    multiple, before its first run, so that the point's own runs find it cached."""
    from .minheap import _key, min_heap
    if p.heap_multiple is None:
        return
    key = _key(p.workload, p.size, p.mutators, p.seed, __version__)
    if key in found:
        return
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if progress else None
    if say:
        say(f"\nminimum heap of {p.workload} size {p.size if p.size is not None else 'default'}"
            f"{'' if p.mutators == 1 else f', {p.mutators} mutators'} (searched once, then cached):")
    m = min_heap(p.workload, p.size, mutators=p.mutators, seed=p.seed, progress=say)
    if say:
        say(f"  {m.bytes / (1 << 20):.2f} MiB{' (cached)' if m.cached else ''}")
    found[key] = m.bytes


def _write_outputs(doc: dict[str, Any], outdir: Path, csv: bool = False) -> list[str]:
    """results.json, summary.md and the plots; a failing plot does not lose the rest."""
    files: list[str] = []
    write_json(doc, outdir / "results.json")
    files.append(str(outdir / "results.json"))
    errors: list[str] = []
    try:
        from .plots import plot_results
        doc["plots"] = [os.path.relpath(p, outdir) for p in plot_results(doc, out=outdir / "plots",
                                                                         errors=errors)]
    except Exception as exc:  # noqa: BLE001 - the numbers matter more than the pictures
        doc["plots"] = []
        errors.append(f"{type(exc).__name__}: {exc}")
    doc["plot_error"] = "; ".join(errors) or None
    (outdir / "summary.md").write_text(summary_markdown(doc), encoding="utf-8")
    files.append(str(outdir / "summary.md"))
    if csv:
        (outdir / "summary.csv").write_text(summary_csv(doc), encoding="utf-8")
        files.append(str(outdir / "summary.csv"))
    files += [str(outdir / p) for p in doc["plots"]]
    write_json(doc, outdir / "results.json")
    try:
        (outdir / "runs.jsonl").unlink()
    except OSError:
        pass
    return files


# --------------------------------------------------------------------------- summary.md

def _group_key(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (r.get("workload"), r.get("size") or 0, r.get("heap_bytes") or 0, r.get("mutators") or 0,
            r.get("gc_threads") or 0, str(r.get("mode")), str(r.get("delivery")), str(r.get("marking")),
            json.dumps(r.get("options") or {}, sort_keys=True) if not r.get("peer") else "")


TABLE_FIGURES: tuple[str, ...] = ("pause_max_ns", "pause_p99_ns", "pause_p50_ns", "pause_total_ns",
                                  "stall_max_ns", "fault_p99_ns", "gc_share", "cycles", "wall_s",
                                  "peak_rss_bytes")


def _agg(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    for r in ok:
        if r.get("peer") and not r.get("cycles"):
            r.setdefault("runtime", "jvm")   # a JVM peer without a GC log: cycles unknown, not 0
    pauses = np.concatenate([np.asarray(r.get("pauses_ns") or [], dtype=np.float64) for r in ok]) \
        if ok else np.zeros(0)
    faults = np.concatenate([np.asarray(r.get("fault_stalls_ns") or [], dtype=np.float64) for r in ok]) \
        if ok else np.zeros(0)
    return {"n_ok": len(ok), "n": len(rows), "pause": metrics.summarize(pauses), "fault": metrics.summarize(faults),
            "est": stats.aggregate(ok), "busy": any((r.get("machine") or {}).get("busy") for r in ok),
            "faults": int(faults.size), "pauses": int(pauses.size)}


def _heap_text(heap: int, rows: list[dict[str, Any]]) -> str:
    mult = {(r.get("options") or {}).get("heap_multiple") for r in rows} - {None}
    base = "-" if not heap else format_size(int(heap)) if int(heap) % (1 << 20) == 0 \
        else metrics.format_bytes(int(heap))
    return base + (f" ({', '.join(f'{m:g}' for m in sorted(mult))}x the minimum)" if mult else "")


def summary_csv(doc: Mapping[str, Any]) -> str:
    """One row per point: its configuration, each figure's median and 95% CI."""
    import csv as _csv
    import io
    buf = io.StringIO()
    w = _csv.writer(buf, lineterminator="\n")
    head = ["point", "workload", "size", "mode", "delivery", "heap_bytes", "heap_multiple", "mutators",
            "gc_threads", "marking", "runs_ok", "runs", "busy"]
    for f in TABLE_FIGURES:
        head += [f, f + "_ci_lo", f + "_ci_hi"]
    head += ["gc_overhead", "gc_overhead_ref"]
    w.writerow(head)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in list(doc.get("runs", [])) + list(doc.get("peers", [])):
        if r.get("status", "ok") != "skipped":
            groups.setdefault(str(r.get("point") or _group_key(r)), []).append(r)
    ovh = overhead.overheads(groups)
    for key, rows in groups.items():
        a = _agg(rows)
        r0 = next((r for r in rows if r.get("status", "ok") == "ok"), rows[0])
        row = [key, r0.get("workload"), r0.get("size"), r0.get("mode"), r0.get("delivery"), r0.get("heap_bytes"),
               (r0.get("options") or {}).get("heap_multiple"), r0.get("mutators"), r0.get("gc_threads"),
               r0.get("marking"), a["n_ok"], a["n"], a["busy"]]
        for f in TABLE_FIGURES:
            e = a["est"][f]
            row += [e.median, e.lo, e.hi]
        o = ovh.get(key)
        row += [round(o[0], 4) if o else None, o[1] if o else None]
        w.writerow(row)
    return buf.getvalue()


def summary_markdown(doc: Mapping[str, Any]) -> str:
    """The tables a person reads: per workload x configuration, peers included."""
    fn = metrics.format_ns
    m = doc.get("machine") or {}
    lines = [f"# artgc bench: suite `{doc.get('suite')}`", ""]
    lines.append(f"artgc {doc.get('artgc_version', '?')}, {doc.get('started')} .. {doc.get('finished')}; "
                 f"{m.get('cpu_model', '?')}, {m.get('cores', '?')} cores, "
                 f"{metrics.format_bytes(m.get('mem_bytes'))} RAM; kernel "
                 f"{(doc.get('kernel') or {}).get('uname', {}).get('release', '?')}; "
                 f"Python {m.get('python', '?')}; each point repeated {doc.get('repeat', 1)}x.")
    if doc.get("interrupted"):
        lines += ["", "**Interrupted**: only the points that finished are here."]
    c = _counts(list(doc.get("runs", [])))
    lines += ["", f"Runs: {c['ok']} ok, {c['failed']} failed, {c['skipped']} skipped."]
    ok_runs_ = [r for r in doc.get("runs", []) if r.get("status") == "ok"]
    busy = [r for r in ok_runs_ if (r.get("machine") or {}).get("busy")]
    if busy:
        lines += ["", f"**Noise warning**: {len(busy)} of {len(ok_runs_)} runs found the machine busy "
                  "(marked * below); their figures may reflect other processes rather than the collector."]
    nocycle = sorted({str(r.get("point")) for r in ok_runs_ if not r.get("cycles")})
    if nocycle:
        lines += ["", "Points that ran without a cycle (their pause figures say nothing about the collector): "
                  + ", ".join(nocycle) + "."]
    lines += _probe_section(doc.get("probe"))
    lines += ["", "## Pauses, fault stalls and throughput", "",
              "Pauses: every pause a mutator saw (time-to-safepoint included); stalls: pauses, fault stalls "
              "and allocation waits. Each figure is computed per invocation and reported as the median over "
              f"invocations with its 95% confidence interval in brackets ({stats.CI_METHOD}). "
              "GC share: the time a cycle was in progress / wall time. pauses and faults: counts pooled over "
              "invocations. A * after the mode: the machine was busy during at least one of its invocations "
              "(artgc.machine's rule: steal > 5%, other processes > 10% of the CPUs, or a load above the core "
              "count). JVM rows: safepoint totals from -Xlog:safepoint; '-' where a figure is not known.", ""]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in doc.get("runs", []):
        if r.get("status", "ok") != "skipped":
            groups.setdefault(_group_key(r), []).append(r)
    by_wl: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], list[dict[str, Any]]]]] = {}
    for key, rows in groups.items():
        by_wl.setdefault(key[:5], []).append((key, rows))
    # each peer joins the table of its workload and size (same heap preferred)
    for r in doc.get("peers", []):
        if r.get("status", "ok") == "skipped":
            continue
        tables = [k for k in by_wl if k[0] == r.get("workload") and k[1] == (r.get("size") or 0)]
        tables.sort(key=lambda k: (k[2] != r.get("heap_bytes"), k[3] != r.get("mutators"), -k[2]))
        wkey = tables[0] if tables else _group_key(r)[:5]
        entry = by_wl.setdefault(wkey, [])
        pkey = (*wkey, str(r.get("mode")))
        for k, rows in entry:
            if k == pkey:
                rows.append(r)
                break
        else:
            entry.append((pkey, [r]))
    ovh = overhead.overheads({(wkey, key): rows for wkey, entry in by_wl.items() for key, rows in entry})
    order = {"stw": 0, "copy": 1, "minor": 2, "move": 3,
             "jvm-serial": 4, "jvm-g1": 5, "jvm-zgc": 6, "jvm-shenandoah": 7}
    wl_rank = {"binarytrees": 0, "gcbench": 1, "lru": 2, "graph": 3}
    for wkey in sorted(by_wl, key=lambda k: (wl_rank.get(str(k[0]), 9), str(k[0]), *(int(x or 0) for x in k[1:]))):
        wl, size, heap, mut, gct = wkey
        all_rows = [r for _k, rows in by_wl[wkey] for r in rows if not r.get("peer")]
        lines += [f"### {wl} size {size}, heap {_heap_text(int(heap or 0), all_rows)}, "
                  f"{mut} mutator{'s' if mut != 1 else ''}, {gct or 1} GC thread{'s' if (gct or 1) != 1 else ''}",
                  "",
                  "| mode | runs ok | worst pause | p99 pause | p50 pause | total pause | worst stall "
                  "| fault p99 | GC share | cycles | wall | peak RSS | pauses | faults | wall / STW ref |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        rows_sorted = sorted(by_wl[wkey], key=lambda kr: (str(kr[0][5]).startswith("jvm-"),
                                                          order.get(str(kr[0][5]), 9), str(kr[0][5:])))
        for _key, rows in rows_sorted:
            a = _agg(rows)
            cells = [stats.fmt_estimate(a["est"][f], stats.FIGURES[f][1]) for f in TABLE_FIGURES]
            label = series_label(rows[0]) + (" *" if a["busy"] else "")
            o = ovh.get((wkey, _key))
            lines.append(f"| {label} | {a['n_ok']}/{a['n']} | " + " | ".join(cells)
                         + f" | {a['pauses']} | {a['faults']} | {f'{o[0]:.2f}' if o else '-'} |")
        refs_here = sorted({o[1] for k, _rows in by_wl[wkey] if (o := ovh.get((wkey, k)))})
        if refs_here:
            lines += ["", "wall / STW ref: median wall over the same runtime's fastest stop-the-world "
                      "collector on this workload and size (" + ", ".join(refs_here) + "); 1.00 = as fast."]
        peer_heaps = {r.get("heap_bytes") for _k, rows in by_wl[wkey] for r in rows if r.get("peer")}
        if peer_heaps and peer_heaps != {heap}:
            lines.append("")
            lines.append("JVM rows ran with -Xmx " + ", ".join(format_size(int(h)) for h in peer_heaps if h) + ".")
        lines.append("")
    lines += _problems_section(doc)
    if doc.get("plots"):
        lines += ["## Plots", ""] + [f"- [{p}]({p})" for p in doc["plots"] if p.endswith(".png")] + [""]
    if doc.get("plot_error"):
        lines += [f"Plotting failed: {doc['plot_error']}", ""]
    return "\n".join(lines)


def _probe_section(probe: Any) -> list[str]:
    if not isinstance(probe, Mapping):
        return []
    if "error" in probe and "uffd" not in probe:
        return ["", f"Probe: {probe['error']}"]
    out = ["", "## The physical floor (artgc probe)", ""]
    u = probe.get("uffd") or {}
    feats = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in (u.get("features") or {}).items())
    out.append(f"userfaultfd: {'available via ' + str(u.get('via')) if u.get('available') else 'not available'}"
               f"{'; ' + feats if feats else ''}{'; ' + str(u['reason']) if u.get('reason') else ''}")
    lim = probe.get("limits") or {}
    if lim:
        out += ["", "| figure | value |", "|---|---|"]
        for k, v in lim.items():
            if k.endswith("_reason") or isinstance(v, (dict, list)):
                continue
            out.append(f"| {k} | {'n/a (' + str(lim.get(k + '_reason')) + ')' if v is None else v} |")
    return out


def _problems_section(doc: Mapping[str, Any]) -> list[str]:
    bad = [r for r in list(doc.get("runs", [])) + list(doc.get("peers", []))
           if r.get("status", "ok") != "ok"]
    if not bad:
        return []
    out = ["## Failed and skipped", "", "| point | repeat | status | why |", "|---|---|---|---|"]
    seen: set[tuple[str, str, str]] = set()
    for r in bad:
        point = str(r.get("point") or f"{r.get('workload')}/{r.get('mode')}")
        why = str(r.get("error") or "").replace("|", "\\|").replace("\n", " ")
        key = (point, str(r.get("status")), why)
        if r.get("status") == "skipped" and key in seen:
            continue
        seen.add(key)
        out.append(f"| {point} | {int(r.get('repeat') or 0) + 1} | {r.get('status')} | {why[:300]} |")
    return out + [""]
