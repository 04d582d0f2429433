"""The ``artgc`` command (also ``python -m artgc``): parse, call the API, print.

Exit codes: 0 success, 1 a run or a command failed, 2 bad usage or input
(including a mode this kernel cannot do), 130 interrupted (Ctrl-C).
Errors are one line on stderr; ``ARTGC_DEBUG=1`` adds the traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from . import __version__, errors
from .results import ResultsError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# bench's subprocesses set this: on an error, the CLI also writes
# {"error_type", "error", "exit"} there so the sweep can tell a mode the
# kernel lacks (skipped) from a failure.
ERROR_FILE_ENV = "ARTGC_ERROR_FILE"

WORKLOADS = "binarytrees, gcbench, lru, graph"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump, exit 2
        message = message.replace("\r", "\\r").replace("\n", "\\n")   # stays one line
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


def _bool_pair(p: argparse.ArgumentParser, name: str, default: bool, help_: str) -> None:
    p.add_argument(f"--{name}", dest=name.replace("-", "_"), action=argparse.BooleanOptionalAction,
                   default=default, help=f"{help_} (default: {'on' if default else 'off'})")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="artgc", description="A concurrent-compacting GC prototype on userfaultfd, "
                "ART-style: probe the kernel, run workloads, sweep benchmarks, plot results.")
    p.add_argument("--version", action="version", version=f"artgc {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="{probe,run,bench,plot}", parser_class=_Parser)
    sub.required = True

    pr = sub.add_parser("probe", help="what this kernel offers and the raw costs measured now")
    pr.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pr.add_argument("--quick", action="store_true", help="fewer repetitions (faster, noisier)")

    r = sub.add_parser("run", help="one run of a workload on the GC'd heap")
    r.add_argument("workload", metavar="WORKLOAD", help=f"one of: {WORKLOADS}")
    r.add_argument("--mode", default="minor", help="stw|copy|minor|move (default: minor)")
    r.add_argument("--delivery", default="sigbus", help="how faults reach a resolver: sigbus|thread "
                   "(default: sigbus)")
    r.add_argument("--heap", default="256MiB", help="heap capacity, e.g. 64MiB, 1GiB (default: 256MiB)")
    r.add_argument("--mutators", type=int, default=1, metavar="N", help="mutator threads (default: 1)")
    r.add_argument("--gc-threads", type=int, default=1, metavar="N", help="compaction threads (default: 1)")
    r.add_argument("--size", type=int, default=None, metavar="N",
                   help="the workload's own size parameter (binarytrees: depth); default: its own")
    r.add_argument("--verify", action="store_true", help="verify heap integrity after every cycle")
    r.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    r.add_argument("--marking", default="concurrent", help="concurrent|stw (default: concurrent)")
    r.add_argument("--json", metavar="FILE", default=None, help="write the full result as JSON to FILE")
    r.add_argument("--live", default=None, metavar="SIZE",
                   help="lru: the cache's live data, e.g. 128MiB (default: 8192 entries)")
    r.add_argument("--jvm", default=None, metavar="GC", help="run the workload's JVM peer instead, with -Xmx = "
                   "--heap: serial|parallel|g1|zgc|shenandoah (JDK 17) or 25:serial|25:parallel|25:g1|"
                   "25:genzgc|25:shenandoah|25:genshen (JDK 25, pip install 'artgc[jvm]')")
    _bool_pair(r, "gc-install", True, "GC threads install the pages they build")
    _bool_pair(r, "reuse-tospace", True, "keep the old from-space half populated for the next cycle")
    _bool_pair(r, "pretouch", True, "between cycles the GC thread maps free space ahead of allocation")
    r.add_argument("--order", default="ascending", help="order GC threads build pages: "
                   "ascending|descending|random (default: ascending)")
    r.add_argument("--trigger", type=float, default=0.75, metavar="F",
                   help="start a cycle when this fraction of the space free after the last cycle is "
                   "used, or earlier if the allocation rate needs it (default: 0.75)")
    r.add_argument("--quiet", action="store_true", help="do not print the workload's output")

    b = sub.add_parser("bench", help="a sweep of modes x workloads x heaps x mutators")
    b.add_argument("--suite", default="quick", help="quick|standard|full (default: quick)")
    b.add_argument("--out", default="results", metavar="DIR", help="output directory (default: results)")
    b.add_argument("--repeat", type=int, default=None, metavar="N", help="repeat each point N times "
                   "(default: the suite's)")
    b.add_argument("--no-peers", action="store_true", help="skip the JVM peers")

    pl = sub.add_parser("plot", help="the plots from saved results")
    pl.add_argument("results", metavar="RESULTS.json", help="bench's results.json or a run's --json file")
    pl.add_argument("--out", default="plots", metavar="DIR", help="output directory (default: plots)")
    return p


# --------------------------------------------------------------------------- verbs

def _cmd_probe(args: argparse.Namespace) -> int:
    from .runner import _submodule
    mod = _submodule("probe")
    caps = mod.probe(quick=args.quick)
    print(json.dumps(caps, indent=2) if args.json else mod.format_probe(caps))
    return EXIT_OK


def _check_output_file(path: str | None, what: str) -> None:
    """Refuse an output path that cannot be written before doing the work."""
    if path is None:
        return
    if os.path.isdir(path):
        raise ValueError(f"{what} {path}: is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"{what} {path}: the directory {parent} does not exist")


def _cmd_run(args: argparse.Namespace) -> int:
    from .runner import run
    _check_output_file(args.json, "--json")
    res = run(args.workload, size=args.size, mode=args.mode, delivery=args.delivery, heap=args.heap,
              mutators=args.mutators, gc_threads=args.gc_threads, seed=args.seed, verify=args.verify,
              marking=args.marking, gc_install=args.gc_install, reuse_tospace=args.reuse_tospace,
              order=args.order, trigger=args.trigger, pretouch=args.pretouch, live=args.live, jvm=args.jvm)
    if res.output and not args.quiet:
        sys.stdout.write(res.output if res.output.endswith("\n") else res.output + "\n")
        sys.stdout.write("\n")
    print(res.summary())
    sys.stdout.flush()
    if args.json:
        res.to_json(args.json)
        print(f"result written to {args.json}")
    if res.interrupted:
        print("artgc: interrupted; the summary above covers what ran until then", file=sys.stderr)
        return EXIT_INTERRUPTED
    if res.failed:
        print(f"artgc: run failed: {res.error}", file=sys.stderr)
        _write_error_file(res.error_type or "ArtgcError", res.error or "run failed", EXIT_FAIL)
        return EXIT_FAIL
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from .runner import _submodule
    res = _submodule("bench").bench(suite=args.suite, out=args.out, repeat=args.repeat,
                                    peers=not args.no_peers, progress=True)
    counts = res.get("counts", {})
    print(f"{counts.get('ok', 0)} ok, {counts.get('failed', 0)} failed, "
          f"{counts.get('skipped', 0)} skipped; peers: {res.get('peer_counts', {}).get('ok', 0)} ok")
    for path in res.get("files", []):
        print(path)
    if res.get("interrupted"):
        print("artgc: interrupted; results.json and summary.md hold the points that finished",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plots import plot_results
    paths = plot_results(args.results, out=args.out)
    for path in paths:
        print(path)
    if not paths:
        print("artgc: nothing to plot in that file (no successful runs)", file=sys.stderr)
    return EXIT_OK


_VERBS = {"probe": _cmd_probe, "run": _cmd_run, "bench": _cmd_bench, "plot": _cmd_plot}


def _write_error_file(kind: str, msg: str, code: int) -> None:
    path = os.environ.get(ERROR_FILE_ENV)
    if not path:
        return
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"error_type": kind, "error": msg, "exit": code}, fh)
    except OSError:
        pass


def _fail(msg: str, code: int, kind: str) -> int:
    print(f"artgc: {msg}", file=sys.stderr)
    _write_error_file(kind, msg, code)
    if os.environ.get("ARTGC_DEBUG"):
        traceback.print_exc()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return _VERBS[args.verb](args)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED, "KeyboardInterrupt")
    except errors.UnsupportedMode as exc:
        hint = "" if "artgc probe" in str(exc) else " (see `artgc probe`)"
        return _fail(f"unsupported mode: {exc}{hint}", EXIT_USAGE, "UnsupportedMode")
    except ResultsError as exc:
        return _fail(str(exc), EXIT_USAGE, "ResultsError")
    except (ValueError, TypeError) as exc:
        return _fail(str(exc), EXIT_USAGE, type(exc).__name__)
    except errors.OutOfMemory as exc:
        return _fail(f"out of memory: {exc}", EXIT_FAIL, "OutOfMemory")
    except errors.ArtgcError as exc:
        return _fail(str(exc), EXIT_FAIL, type(exc).__name__)
    except ImportError as exc:
        return _fail(str(exc), EXIT_FAIL, "ImportError")
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}",
                     EXIT_FAIL, "OSError")
    except Exception as exc:  # noqa: BLE001 - a bug: one line, traceback on request
        return _fail(f"internal error: {type(exc).__name__}: {exc} (ARTGC_DEBUG=1 shows the traceback)",
                     EXIT_FAIL, type(exc).__name__)


if __name__ == "__main__":
    raise SystemExit(main())


def console_main() -> int:
    """The ``artgc`` command and ``python -m artgc``: :func:`main`, and once it
    has answered an interrupt (everything saved, exit 130) a further Ctrl-C
    during the interpreter's shutdown no longer turns the exit into a death by
    SIGINT."""
    code = main()
    if code == EXIT_INTERRUPTED:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code
