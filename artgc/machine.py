"""The noise guard: how busy the machine was while a run ran.

:class:`MachineWatch` reads /proc/stat and this process's CPU time at the
start and at the end of a run and yields the result's ``machine`` key:

``loadavg``        the three load averages at the start;
``steal_frac``     CPU time the hypervisor stole / all CPU time, over the run;
``other_cpu_frac`` CPU time used by other processes (all busy time minus this
                   process's own, threads included) / all CPU time, over the run;
``cpu``, ``ncpu``  the CPU model and the number of CPUs;
``busy``           the rule: ``steal_frac > 0.05`` or ``other_cpu_frac > 0.10``
                   or a 1-minute load average at the start above the number
                   of CPUs (the load includes this process's own earlier work,
                   so only a load beyond what the cores can run counts).

A busy run's figures are marked (``*``) in summaries and ``artgc compare``.
"""
from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from typing import Any

STEAL_LIMIT = 0.05
OTHER_CPU_LIMIT = 0.10


def _cpu_times() -> tuple[float, float, float] | None:
    """(all, busy, steal) seconds of every CPU since boot, from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            first = fh.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    v = [int(x) for x in first[1:9]] + [0] * max(0, 8 - len(first[1:9]))
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    hz = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
    total = sum(v[:8]) / hz
    busy = (user + nice + system + irq + softirq) / hz
    return total, busy, steal / hz


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def is_busy(m: Mapping[str, Any]) -> bool:
    """The documented rule (module docstring) on a ``machine`` dict."""
    steal = m.get("steal_frac")
    other = m.get("other_cpu_frac")
    load = (m.get("loadavg") or [None])[0]
    ncpu = m.get("ncpu") or os.cpu_count() or 1
    return bool((steal is not None and steal > STEAL_LIMIT) or
                (other is not None and other > OTHER_CPU_LIMIT) or
                (load is not None and load > ncpu))


def busy_reason(m: Mapping[str, Any]) -> str:
    """Why a run counts as busy, in words (empty if it does not)."""
    why = []
    if (m.get("steal_frac") or 0) > STEAL_LIMIT:
        why.append(f"steal {100 * m['steal_frac']:.0f}%")
    if (m.get("other_cpu_frac") or 0) > OTHER_CPU_LIMIT:
        why.append(f"other processes used {100 * m['other_cpu_frac']:.0f}% of the CPUs")
    load = (m.get("loadavg") or [0])[0] or 0
    if load > (m.get("ncpu") or 1):
        why.append(f"load average {load:.2f} on {m.get('ncpu')} CPUs")
    return ", ".join(why)


class MachineWatch:
    """``with MachineWatch() as w: ...`` then ``w.result`` is the ``machine`` dict."""

    def __init__(self) -> None:
        self.result: dict[str, Any] = {}

    def __enter__(self) -> MachineWatch:
        try:
            self._load = list(os.getloadavg())
        except OSError:
            self._load = None
        self._cpu0 = _cpu_times()
        self._self0 = _self_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.result = self.stop()

    def stop(self) -> dict[str, Any]:
        cpu1 = _cpu_times()
        self1 = _self_cpu()
        ncpu = os.cpu_count() or 1
        steal = other = None
        if self._cpu0 is not None and cpu1 is not None:
            total = cpu1[0] - self._cpu0[0]
            if total > 0:
                steal = max(0.0, (cpu1[2] - self._cpu0[2]) / total)
                other = max(0.0, ((cpu1[1] - self._cpu0[1]) - (self1 - self._self0)) / total)
        m: dict[str, Any] = {"loadavg": self._load, "steal_frac": steal, "other_cpu_frac": other,
                             "cpu": cpu_model(), "ncpu": ncpu}
        m["busy"] = is_busy(m)
        return m
