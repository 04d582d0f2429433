"""The mutator's fast paths in ns per operation (`artgc probe --fastpath`).

Measured in C (heap/testing/fastpath.c): allocation, reference store with and
without the marking barrier, reference load, shadow-stack push/pop and the
safepoint poll, each next to what the same operation costs without a
collector (a plain bump allocator that zeroes TLAB-sized chunks, plain loads
and stores) on the same machine, in the same process.
"""
from __future__ import annotations

from typing import Any

from ._lib import ffi, lib, raise_for

__all__ = ["fastpath", "format_fastpath", "FASTPATH_OPS"]

# key -> (what it is, the reference it is compared with or None)
FASTPATH_OPS: dict[str, tuple[str, str | None]] = {
    "alloc_ns": ("agc_alloc, 32-byte object, pages mapped ahead", "bump_ns"),
    "alloc_fresh_ns": ("agc_alloc onto fresh pages (first touch included)", "bump_fresh_ns"),
    "store_ns": ("agc_store_ref, not marking", "plain_store_ns"),
    "store_marking_ns": ("agc_store_ref while marking (SATB)", "plain_store_ns"),
    "load_ns": ("agc_load_ref", None),
    "push_pop_ns": ("agc_push + agc_pop (shadow stack)", None),
    "poll_ns": ("agc_poll, no stop requested", None),
    "alloc_marking_ns": ("agc_alloc while marking (black allocation)", "bump_ns"),
    "tree_build_ns": ("tree build per node (wl_make_tree)", "plain_build_ns"),
    "tree_count_ns": ("tree count per node (wl_tree_count)", "plain_count_ns"),
    "bump_ns": ("plain bump allocator, pages mapped ahead", None),
    "bump_fresh_ns": ("plain bump onto fresh anonymous pages (anon: same page size)", None),
    "plain_store_ns": ("plain pointer store", None),
    "plain_build_ns": ("plain tree build per node (bump, C stack)", None),
    "plain_count_ns": ("plain tree count per node", None),
}

# name -> (memory kind, huge_pages), each heap memory as `run` makes it:
# "shmem" the default shmem heap (4 KiB pages), "shmem-huge" with
# --huge-pages (a huge=always tmpfs of its own), "anon" the default anonymous
# heap (transparent huge pages asked for), "anon-small" with 4 KiB pages
_MEMORY = {"shmem": (lib.AGC_MEMORY_SHMEM, 0), "shmem-huge": (lib.AGC_MEMORY_SHMEM, 1),
           "anon": (lib.AGC_MEMORY_ANON, 1), "anon-small": (lib.AGC_MEMORY_ANON, 0)}


def fastpath(memory: str = "all", *, ops: int = 0, reps: int = 0) -> dict[str, Any]:
    """ns per operation of each fast path, medians over `reps` repetitions of
    `ops` operations (0: 2,000,000 and 5), per heap memory: ``"shmem"`` (4 KiB
    pages, the default), ``"shmem-huge"`` (``huge_pages=True``), ``"anon"``
    (huge pages asked for, the default), ``"anon-small"`` (4 KiB pages:
    ``huge_pages=False``) or ``"all"``: ``{"shmem": {...}, ...}``. The tree
    rows time the workloads' own build and count per node, on a tree of at
    most `ops` nodes."""
    if memory not in ("all", *_MEMORY):
        raise ValueError(f"memory must be one of all, {', '.join(_MEMORY)}; got {memory!r}")
    if not isinstance(ops, int) or isinstance(ops, bool) or ops < 0:
        raise ValueError(f"ops must be a non-negative integer, got {ops!r}")
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 0:
        raise ValueError(f"reps must be a non-negative integer, got {reps!r}")
    kinds = list(_MEMORY) if memory == "all" else [memory]
    out: dict[str, Any] = {}
    for kind in kinds:
        r = ffi.new("agc_fastpath_result *")
        raise_for(lib.agc_fastpath_measure(r, _MEMORY[kind][0], _MEMORY[kind][1], ops, reps))
        d: dict[str, Any] = {k: round(float(getattr(r, k)), 3) for k in FASTPATH_OPS}
        d["ops"] = int(r.ops)
        d["reps"] = int(r.reps)
        out[kind] = d
    return out


def format_fastpath(d: dict[str, Any]) -> str:
    """A table of a fastpath() result: ns per operation, and how many times the
    reference's cost where there is one."""
    kinds = [k for k in _MEMORY if k in d]
    if not kinds:
        return "fast paths: nothing measured"
    first = d[kinds[0]]
    head = f"fast paths (ns per operation, medians of {first.get('reps')} x {first.get('ops'):,} operations)"
    lines = [head, f"  {'operation':<52}" + "".join(f"{k:>16}" for k in kinds)]
    lines.append("  (in brackets: times the reference row's cost)")
    for key, (label, ref) in FASTPATH_OPS.items():
        cells = []
        for k in kinds:
            v = d[k].get(key)
            if v is None or v < 0:
                cells.append(f"{'-':>16}")
                continue
            rv = d[k].get(ref) if ref else None
            x = f" ({v / rv:.1f}x)" if rv else ""
            cells.append(f"{f'{v:.2f}{x}':>16}")
        lines.append(f"  {label:<52}" + "".join(cells))
    return "\n".join(lines)
