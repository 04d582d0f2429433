"""cffi build script: compiles every C file under heap/ into ``artgc._native``.

Each C module declares what Python may call in a ``*.cdef`` file next to it;
they are concatenated here, so modules can be added without editing this file.
Set ``ARTGC_SANITIZE=address,undefined`` to build with sanitizers.
"""
from __future__ import annotations

import glob
import os

from cffi import FFI

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAP = os.path.join(ROOT, "heap")


# Headers that are their own cffi declaration (preprocessor lines dropped).
PUBLIC_HEADERS = ("include/heap_api.h",)
# heap/include: what Python and the workloads see; heap/os: userfaultfd and
# fault delivery; heap/testing: probe, self-tests and test hooks; the core
# (heap/*.c, heap/modes, heap/space) includes them by name.
INCLUDE_DIRS = ("", "include", "os", "testing")


def _sources() -> list[str]:
    """Every C file of the core, its folders included; heap/tools (standalone
    drivers) and heap/sigchain (a library to preload, built on its own by
    setup.py) are not part of the extension."""
    files = sorted(glob.glob(os.path.join(HEAP, "**", "*.c"), recursive=True))
    files = [f for f in files if os.path.relpath(f, HEAP).split(os.sep)[0] not in ("tools", "sigchain")]
    return [os.path.relpath(f, ROOT) for f in files]


def _header_as_cdef(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return "".join(line for line in fh if not line.lstrip().startswith("#"))


def _cdef() -> str:
    parts = [_header_as_cdef(os.path.join(HEAP, h)) for h in PUBLIC_HEADERS]
    for f in sorted(glob.glob(os.path.join(HEAP, "**", "*.cdef"), recursive=True)):
        with open(f, encoding="utf-8") as fh:
            parts.append(fh.read())
    return "\n".join(parts)


def _cpu_has(flag: str) -> bool:
    """Whether this x86-64 CPU (the one that will run the build) has ``flag``."""
    import platform
    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return flag in line.split()
    except OSError:
        pass
    return False


def _flags() -> tuple[list[str], list[str]]:
    cflags = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-pthread",
              "-fno-strict-aliasing", "-Wno-unused-parameter"]
    ldflags = ["-pthread"]
    if _cpu_has("popcnt"):
        cflags.append("-mpopcnt")   # the compaction's address arithmetic is popcounts
    san = os.environ.get("ARTGC_SANITIZE", "").strip()
    if san:
        cflags += [f"-fsanitize={san}", "-fno-omit-frame-pointer", "-O1"]
        ldflags += [f"-fsanitize={san}"]
    if os.environ.get("ARTGC_WERROR"):
        cflags.append("-Werror")
    return cflags, ldflags


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
_cflags, _ldflags = _flags()
ffibuilder.set_source(
    "artgc._native",
    '#include "artgc_api.h"\n',
    sources=_sources(),
    include_dirs=[os.path.relpath(os.path.join(HEAP, d), ROOT) for d in INCLUDE_DIRS],
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
    libraries=["pthread", "m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
