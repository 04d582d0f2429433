"""`artgc probe`: what this kernel's userfaultfd offers, and the raw costs.

Everything is measured in C (heap/testing/probe.c); this module only turns the result
into the contract's JSON shape (contract.md, "artgc probe --json") and a table.
A figure that could not be measured is ``None`` with the reason in a sibling
``"<name>_reason"`` key.
"""
from __future__ import annotations

from typing import Any

from ._lib import ffi, lib, raise_for

__all__ = ["probe", "capabilities", "format_probe"]

_VIA = {lib.AGC_UFFD_VIA_SYSCALL: "syscall", lib.AGC_UFFD_VIA_DEV: "dev"}
_FEATURES = ("minor_shmem", "missing_shmem", "sigbus", "move", "wp")

# limits key -> (struct, field, reason fields tried in order)
_FIGURES: list[tuple[str, str, str, tuple[tuple[str, str], ...]]] = [
    ("memcpy_gbps", "o", "memcpy_gbps", ()),
    ("minor_continue_sigbus_us", "o", "minor_continue_sigbus_us",
     (("x", "sigbus_reason"), ("o", "minor_reason"))),
    ("minor_continue_thread_us", "o", "minor_continue_thread_us", (("o", "minor_reason"),)),
    ("missing_copy_sigbus_us", "o", "missing_copy_sigbus_us",
     (("x", "sigbus_reason"), ("o", "missing_reason"))),
    ("missing_copy_thread_us", "o", "missing_copy_thread_us", (("o", "missing_reason"),)),
    ("continue_per_page_us", "o", "continue_per_page_us", (("o", "minor_reason"),)),
    ("copy_per_page_us", "o", "copy_per_page_us", (("o", "missing_reason"),)),
    ("move_per_page_us", "o", "move_per_page_us", (("o", "move_reason"),)),
    # extras
    ("continue_range_per_page_us", "o", "continue_range_per_page_us", (("o", "minor_reason"),)),
    ("copy_anon_per_page_us", "x", "copy_anon_per_page_us", (("x", "copy_anon_reason"),)),
    ("copy_anon_busy_per_page_us", "x", "copy_anon_busy_per_page_us",
     (("x", "copy_anon_reason"), ("x", "busy_reason"))),
    ("move_busy_per_page_us", "x", "move_busy_per_page_us", (("o", "move_reason"), ("x", "busy_reason"))),
    ("minor_continue_thread_samecore_us", "x", "minor_continue_thread_samecore_us",
     (("x", "samecore_reason"), ("o", "minor_reason"))),
    ("missing_copy_thread_samecore_us", "x", "missing_copy_thread_samecore_us",
     (("x", "samecore_reason"), ("o", "missing_reason"))),
    ("mremap_1g_aligned_ms", "o", "mremap_1g_aligned_ms", (("o", "mremap_reason"),)),
    ("mremap_2m_aligned_ms", "x", "mremap_2m_aligned_ms", (("o", "mremap_reason"),)),
]


def _s(buf: Any) -> str:
    return ffi.string(buf).decode("utf-8", "replace")


def _num(v: float) -> float:
    return float(f"{v:.4g}")


def capabilities() -> dict[str, Any]:
    """The ``"uffd"`` part of the probe, without measuring anything (cheap).

    ARTGC_DISABLE_UFFD is read on every call.
    """
    c = ffi.new("agc_uffd_caps *")
    lib.agc_uffd_caps_get(c)
    available = bool(c.available)
    reason = _s(c.reason)
    return {
        "available": available,
        "via": _VIA.get(c.via) if available else None,
        "reason": None if available else (reason or "userfaultfd is not available"),
        "features": {name: bool(getattr(c, name)) for name in _FEATURES},
    }


def probe(quick: bool = False, *, pages: int = 0) -> dict[str, Any]:
    """Capabilities and limits, as ``artgc probe --json`` prints them.

    quick: fewer pages and smaller buffers (well under a second).
    pages: pages (samples) per fault/ioctl figure; 0 = default (2048, quick 256).
    """
    if pages < 0:
        raise ValueError(f"pages must be >= 0, got {pages}")
    uffd = capabilities()
    o = ffi.new("agc_probe_limits *")
    x = ffi.new("agc_probe_extras *")
    raise_for(lib.agc_probe_measure_ex(o, x, pages, 1 if quick else 0))
    structs = {"o": o, "x": x}
    limits: dict[str, Any] = {}
    for key, st, field, reasons in _FIGURES:
        v = getattr(structs[st], field)
        if v is not None and v > 0:
            limits[key] = _num(v)
            continue
        limits[key] = None
        why = ""
        for rst, rfield in reasons:
            why = _s(getattr(structs[rst], rfield))
            if why:
                break
        if not why and not uffd["available"] and key != "memcpy_gbps" and "mremap" not in key:
            why = uffd["reason"] or ""
        limits[key + "_reason"] = why or "could not be measured"
    limits["mremap_populated_mib"] = int(x.mremap_populated_mib)
    limits["memcpy_mib"] = int(x.memcpy_mib)
    limits["pages"] = int(x.pages)
    limits["fault_cpu"] = int(x.fault_cpu)
    limits["handler_cpu"] = int(x.handler_cpu)
    limits["quick"] = bool(quick)
    return {"uffd": uffd, "limits": limits}


def _yn(v: Any) -> str:
    return "yes" if v else "no"


def format_probe(d: dict[str, Any]) -> str:
    """A readable table of a probe() result (also of one loaded from JSON)."""
    u = d.get("uffd", {}) or {}
    lim = d.get("limits", {}) or {}
    out: list[str] = []
    if u.get("available"):
        out.append(f"userfaultfd   available (via {u.get('via')})")
    else:
        out.append("userfaultfd   NOT available")
        if u.get("reason"):
            out.append(f"  reason: {u['reason']}")
    feats = u.get("features", {}) or {}
    out.append("  features:   " + "  ".join(f"{k} {_yn(feats.get(k))}" for k in _FEATURES))

    pages = lim.get("pages")
    where = ""
    if lim.get("fault_cpu", -1) is not None and lim.get("fault_cpu", -1) >= 0:
        if lim.get("handler_cpu") != lim.get("fault_cpu"):
            where = (f"; faulting thread on CPU {lim.get('fault_cpu')}, "
                     f"handler thread on CPU {lim.get('handler_cpu')}")
        else:
            where = f"; all on CPU {lim.get('fault_cpu')}"
    out.append("")
    out.append(f"limits (medians over {pages} pages{where})" if pages else "limits")

    def row(label: str, key: str, unit: str, extra: str | None = None) -> None:
        v = lim.get(key)
        if v is None:
            if key not in lim and key + "_reason" not in lim:
                return
            text = f"{'-':>10}       ({lim.get(key + '_reason') or 'not measured'})"
        else:
            text = f"{v:>10.4g} {unit}"
            if extra:
                text += f"{'':<{6 - len(unit)}}{extra}"
        out.append(f"  {label:<52}{text}")

    def samecore(key: str) -> str | None:
        v = lim.get(key)
        return f"(same core: {v:.4g} us)" if v is not None else None

    mc = lim.get("memcpy_mib")
    row(f"memcpy{f' ({mc} MiB)' if mc else ''}", "memcpy_gbps", "GB/s")
    row("minor fault + UFFDIO_CONTINUE, SIGBUS in the thread", "minor_continue_sigbus_us", "us")
    row("minor fault + UFFDIO_CONTINUE, handler thread", "minor_continue_thread_us", "us",
        samecore("minor_continue_thread_samecore_us"))
    row("missing fault + UFFDIO_COPY, SIGBUS in the thread", "missing_copy_sigbus_us", "us")
    row("missing fault + UFFDIO_COPY, handler thread", "missing_copy_thread_us", "us",
        samecore("missing_copy_thread_samecore_us"))
    row("UFFDIO_CONTINUE by a GC thread, per page", "continue_per_page_us", "us")
    row("UFFDIO_CONTINUE over a whole range, per page", "continue_range_per_page_us", "us")
    row("UFFDIO_COPY by a GC thread, per page (memfd)", "copy_per_page_us", "us")
    row("UFFDIO_COPY by a GC thread, per page (anonymous)", "copy_anon_per_page_us", "us")
    row("UFFDIO_MOVE by a GC thread, per page (anonymous)", "move_per_page_us", "us")
    row("UFFDIO_COPY per page, anonymous, other CPU busy", "copy_anon_busy_per_page_us", "us")
    row("UFFDIO_MOVE per page, anonymous, other CPU busy", "move_busy_per_page_us", "us")
    mib = lim.get("mremap_populated_mib")
    size = f"{mib} MiB" if mib else "a populated region"
    row(f"mremap of {size} populated, 1 GiB aligned", "mremap_1g_aligned_ms", "ms")
    row(f"mremap of {size} populated, 2 MiB aligned", "mremap_2m_aligned_ms", "ms")
    return "\n".join(out)
