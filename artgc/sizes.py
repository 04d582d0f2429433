"""Parsing sizes such as ``"64MiB"``, ``"1GiB"``, ``"512k"`` or plain integers."""
from __future__ import annotations

import re
from fractions import Fraction

_UNITS = {
    "": 1, "b": 1,
    "k": 1 << 10, "kb": 1000, "kib": 1 << 10,
    "m": 1 << 20, "mb": 1000 ** 2, "mib": 1 << 20,
    "g": 1 << 30, "gb": 1000 ** 3, "gib": 1 << 30,
    "t": 1 << 40, "tb": 1000 ** 4, "tib": 1 << 40,
}
_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: int | str, what: str = "size") -> int:
    """Return a byte count; raise ValueError/TypeError with a clear message."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int or a string like '64MiB', not bool")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"{what} must be positive, got {value}")
        if value >= 1 << 63:
            raise ValueError(f"{what} {value} is far too large")
        return value
    if not isinstance(value, str):
        raise TypeError(f"{what} must be an int or a string like '64MiB', not {type(value).__name__}")
    m = _RE.match(value)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"{what}: cannot parse {value!r}; use e.g. 256MiB, 1GiB, 65536")
    digits = m.group(1)
    if len(digits) > 40:           # exact arithmetic below; refuse absurd lengths first
        raise ValueError(f"{what}: a number of {len(digits)} digits is far too large")
    n = Fraction(digits) * _UNITS[m.group(2).lower()]   # exact: no float rounding or overflow
    if n.denominator != 1 or n <= 0:
        raise ValueError(f"{what}: {value!r} is not a positive whole number of bytes")
    if n >= 1 << 63:
        raise ValueError(f"{what}: {value!r} is far too large")
    return int(n)


def format_size(n: int) -> str:
    """Inverse of parse_size for display: 268435456 -> '256MiB'."""
    for unit, mult in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= mult and n % mult == 0:
            return f"{n // mult}{unit}"
    return str(n)
