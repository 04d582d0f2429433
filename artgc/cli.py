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

from . import __version__, errors, options
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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="artgc", description="A concurrent-compacting GC prototype on userfaultfd, "
                "ART-style: probe the kernel, run workloads, sweep benchmarks, plot results.")
    p.add_argument("--version", action="version", version=f"artgc {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="{probe,run,bench,plot,minheap,compare,trace}", parser_class=_Parser)
    sub.required = True

    pr = sub.add_parser("probe", help="what this kernel offers and the raw costs measured now")
    pr.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pr.add_argument("--quick", action="store_true", help="fewer repetitions (faster, noisier)")
    pr.add_argument("--fastpath", action="store_true",
                    help="also time the mutator's fast paths (allocation, black allocation, barriers, "
                         "shadow stack, poll, the workloads' tree build and count) in ns per operation, "
                         "next to a plain bump allocator, plain stores and plain-pointer trees, on each "
                         "heap memory (shmem, shmem-huge, anon, anon-small)")

    r = sub.add_parser("run", help="one run of a workload on the GC'd heap")
    r.add_argument("workload", metavar="WORKLOAD", help=f"one of: {WORKLOADS}")
    options.add_arguments(r)
    r.add_argument("--invocations", type=int, default=1, metavar="N",
                   help="run N times; figures are medians with 95%% confidence intervals (default: 1)")
    r.add_argument("--log-cycles", action="store_true", help="a -Xlog:gc-style line per cycle")
    r.add_argument("--json", metavar="FILE", default=None, help="write the full result as JSON to FILE "
                   "(with --invocations N > 1: a results file of N runs)")
    r.add_argument("--quiet", action="store_true", help="do not print the workload's output")

    b = sub.add_parser("bench", help="a sweep of modes x workloads x heaps x mutators")
    b.add_argument("--suite", default=None, help="quick|standard|full (default: quick, or a custom sweep "
                   "when --workloads/--modes/--heaps/--mutators are given)")
    b.add_argument("--out", default="results", metavar="DIR", help="output directory (default: results)")
    b.add_argument("--invocations", "--repeat", dest="invocations", type=int, default=None, metavar="N",
                   help="run each point N times (default: the suite's; --repeat is the old name)")
    b.add_argument("--workloads", default=None, metavar="W[:SIZE],...",
                   help="custom sweep: workloads, each with an optional size (binarytrees:16,lru); "
                   "sizes default to the quick suite's")
    b.add_argument("--modes", default=None, metavar="M[/DELIVERY],...",
                   help="custom sweep: modes, e.g. minor,copy,minor/thread (default: every mode)")
    b.add_argument("--heaps", default=None, metavar="H,...",
                   help="custom sweep: heaps, sizes or multiples of the minimum heap (default: 2x,4x)")
    b.add_argument("--mutators", default=None, metavar="N,...", help="custom sweep: mutator counts (default: 1)")
    b.add_argument("--no-peers", action="store_true", help="skip the JVM peers")
    b.add_argument("--csv", action="store_true", help="also write OUT/summary.csv (one row per point)")
    b.add_argument("--generational", default=None, metavar="on|off|auto",
                   help="generational cycles for every artgc point (default: each point's own, auto: on "
                   "for anonymous memory); with on, minor's points are skipped (shmem)")

    mh = sub.add_parser("minheap", help="the smallest heap a workload completes in (cached)")
    mh.add_argument("workload", metavar="WORKLOAD", help=f"one of: {WORKLOADS}")
    mh.add_argument("--size", type=int, default=None, metavar="N", help="the workload's size (default: its own)")
    mh.add_argument("--mutators", type=int, default=1, metavar="N", help="mutator threads (default: 1)")
    mh.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    mh.add_argument("--no-cache", action="store_true", help="search again even if cached")
    mh.add_argument("--json", action="store_true", help="print JSON")

    c = sub.add_parser("compare", help="two results side by side: ratios with confidence intervals")
    c.add_argument("a", metavar="A.json", help="the baseline: results.json or a run's --json file")
    c.add_argument("b", metavar="B.json", help="the other")
    c.add_argument("--csv", action="store_true", help="print CSV instead of a table")

    t = sub.add_parser("trace", help="a run as Chrome/Perfetto trace events")
    t.add_argument("result", metavar="RESULT.json", help="a run's --json file (or results.json: --index)")
    t.add_argument("--out", required=True, metavar="FILE", help="the trace file to write (trace.json)")
    t.add_argument("--index", type=int, default=0, metavar="I", help="which run of a results file (default: 0)")

    pl = sub.add_parser("plot", help="the plots from saved results")
    pl.add_argument("results", metavar="RESULTS.json", help="bench's results.json or a run's --json file")
    pl.add_argument("--out", default="plots", metavar="DIR", help="output directory (default: plots)")
    return p


# --------------------------------------------------------------------------- verbs

def _cmd_probe(args: argparse.Namespace) -> int:
    from .runner import _submodule
    mod = _submodule("probe")
    caps = mod.probe(quick=args.quick)
    text = mod.format_probe(caps)
    if args.fastpath:
        fp = _submodule("fastpath")
        caps["fastpath"] = fp.fastpath(ops=200_000 if args.quick else 0, reps=3 if args.quick else 0)
        text += "\n\n" + fp.format_fastpath(caps["fastpath"])
    print(json.dumps(caps, indent=2) if args.json else text)
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


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _cmd_run(args: argparse.Namespace) -> int:
    from .runner import run, run_invocations
    _check_output_file(args.json, "--json")
    kw = options.from_namespace(args)
    if args.invocations == 1:
        res = run(args.workload, progress=_progress, **kw)
        results = [res]
    else:
        results = run_invocations(args.workload, args.invocations, progress=_progress, **kw)
        res = results[-1]
    if res.output and not args.quiet:
        sys.stdout.write(res.output if res.output.endswith("\n") else res.output + "\n")
        sys.stdout.write("\n")
    if len(results) == 1:
        print(res.summary(log_cycles=args.log_cycles))
    else:
        from .compare import invocations_table
        if args.log_cycles:
            for i, r in enumerate(results):
                print(f"invocation {i + 1}:")
                print(r.summary(log_cycles=True))
                print()
        print(invocations_table([r.to_dict() for r in results]))
    sys.stdout.flush()
    if args.json:
        if len(results) == 1:
            res.to_json(args.json)
        else:
            from .runner import write_invocations
            write_invocations(results, args.json)
        print(f"result written to {args.json}")
    if any(r.interrupted for r in results):
        print("artgc: interrupted; the summary above covers what ran until then", file=sys.stderr)
        return EXIT_INTERRUPTED
    bad = next((r for r in results if r.failed), None)
    if bad is not None:
        print(f"artgc: run failed: {bad.error}", file=sys.stderr)
        _write_error_file(bad.error_type or "ArtgcError", bad.error or "run failed", EXIT_FAIL)
        return EXIT_FAIL
    return EXIT_OK


def _split(v: str | None) -> list[str] | None:
    return None if v is None else [x.strip() for x in v.split(",") if x.strip()]


def _cmd_bench(args: argparse.Namespace) -> int:
    from .runner import _submodule
    res = _submodule("bench").bench(suite=args.suite, out=args.out, repeat=args.invocations,
                                    peers=not args.no_peers, progress=True,
                                    workloads=_split(args.workloads), modes=_split(args.modes),
                                    heaps=_split(args.heaps), mutators=_split(args.mutators), csv=args.csv,
                                    generational=args.generational)
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


def _cmd_minheap(args: argparse.Namespace) -> int:
    from .minheap import min_heap
    from .sizes import format_size
    if not args.json:
        print(f"searching the minimum heap of {args.workload}"
              f"{'' if args.size is None else f' size {args.size}'} (mode stw, bisection)...", file=sys.stderr)
    m = min_heap(args.workload, args.size, mutators=args.mutators, seed=args.seed, cache=not args.no_cache,
                 progress=None if args.json else _progress)
    if args.json:
        from dataclasses import asdict
        print(json.dumps(asdict(m), indent=2))
        return EXIT_OK
    from .metrics import format_bytes
    size = "default size" if m.size is None else f"size {m.size}"
    print(f"{m.workload} ({size}, {m.mutators} mutator{'s' if m.mutators != 1 else ''}): minimum heap "
          f"{format_bytes(m.bytes)} ({m.bytes} bytes{', ' + format_size(m.bytes) if format_size(m.bytes) != str(m.bytes) else ''})"
          f"{' (cached)' if m.cached else ''}; largest live {format_bytes(m.max_live_bytes)}, "
          f"allocated at least {format_bytes(m.allocated_bytes)}")
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare_files
    print(compare_files(args.a, args.b, csv=args.csv), end="")
    return EXIT_OK


def _cmd_trace(args: argparse.Namespace) -> int:
    from .trace import write_trace
    _check_output_file(args.out, "--out")
    n = write_trace(args.result, args.out, index=args.index)
    print(f"{n} trace events written to {args.out} (open in https://ui.perfetto.dev)")
    return EXIT_OK


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plots import plot_results
    paths = plot_results(args.results, out=args.out)
    for path in paths:
        print(path)
    if not paths:
        print("artgc: nothing to plot in that file (no successful runs)", file=sys.stderr)
    return EXIT_OK


_VERBS = {"probe": _cmd_probe, "run": _cmd_run, "bench": _cmd_bench, "plot": _cmd_plot,
          "minheap": _cmd_minheap, "compare": _cmd_compare, "trace": _cmd_trace}


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
