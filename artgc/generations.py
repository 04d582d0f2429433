"""Young and full cycles apart (a generational heap, heap/gen.c): how many of
each, what they marked, moved and promoted, the cards they scanned, their
pauses, and the worst stall a mutator felt during each kind. For a run's
summary, ``artgc compare`` and notebooks."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import metrics

KINDS: tuple[str, ...] = ("young", "full")
EV_PAUSE, EV_VERIFY = 0, 3    # agc_event.kind: a pause; the verifier's stop (not the collector's)
PHASE_FLIP = 2                # agc_event.phase of a pause: the flip (options.PAUSE_PHASES)


def _max_by_cycle(events: Any, pauses_only: bool) -> dict[int, int]:
    """The longest event of each cycle: pauses, or stalls of any kind."""
    cols = metrics.events_columns(events)
    sel = cols["kind"] == EV_PAUSE if pauses_only else cols["kind"] != EV_VERIFY
    out: dict[int, int] = {}
    for cyc, dur in zip(cols["cycle"][sel].tolist(), cols["dur_ns"][sel].tolist()):
        if dur > out.get(cyc, -1):
            out[cyc] = dur
    return out


def _flips_by_cycle(events: Any) -> dict[int, list[int]]:
    """Each cycle's flip pauses as the mutators felt them (one per mutator)."""
    cols = metrics.events_columns(events)
    sel = (cols["kind"] == EV_PAUSE) & (cols["phase"] == PHASE_FLIP)
    out: dict[int, list[int]] = {}
    for cyc, dur in zip(cols["cycle"][sel].tolist(), cols["dur_ns"][sel].tolist()):
        out.setdefault(cyc, []).append(dur)
    return out


def by_kind(cycles: Sequence[Mapping[str, Any]], events: Any = None) -> dict[str, dict[str, Any]]:
    """Per kind that ran ("young", "full"): cycles, the bytes marked, moved and
    promoted (totals and per cycle), cards scanned, the pauses of a cycle
    summed (worst and total), the mean cycle duration, and with the run's
    events the worst single pause and the worst stall of any kind (pause,
    fault stall, allocation wait) a mutator felt during those cycles, and
    the median and 90th percentile of their flips as the mutators felt them
    (a run's worst pause is one flip of many: these say what a flip of each
    kind costs)."""
    stall = _max_by_cycle(events, False) if events is not None else {}
    pause = _max_by_cycle(events, True) if events is not None else {}
    flips = _flips_by_cycle(events) if events is not None else {}
    out: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        cs = [c for c in cycles if c.get("kind") == kind]
        if not cs:
            continue
        n = len(cs)

        def total(key: str) -> int:
            return int(sum(int(c.get(key) or 0) for c in cs))

        durs = [max(0, int(c.get("t_end_ns") or 0) - int(c.get("t_start_ns") or 0)) for c in cs]
        stalls = [stall[int(c["index"])] for c in cs if "index" in c and int(c["index"]) in stall]
        pauses = [pause[int(c["index"])] for c in cs if "index" in c and int(c["index"]) in pause]
        flip = np.asarray([d for c in cs if "index" in c for d in flips.get(int(c["index"]), [])], dtype=np.float64)
        out[kind] = {
            "cycles": n,
            "marked_bytes": total("marked_bytes"), "moved_bytes": total("moved_bytes"),
            "promoted_bytes": total("promoted_bytes"), "cards_scanned": total("cards_scanned"),
            "marked_per_cycle": total("marked_bytes") / n, "moved_per_cycle": total("moved_bytes") / n,
            "cycle_pause_max_ns": max(int(c.get("pause_ns") or 0) for c in cs), "pause_total_ns": total("pause_ns"),
            "cycle_mean_ns": float(np.mean(durs)),
            "pause_max_ns": max(pauses) if pauses else None,
            "stall_max_ns": max(stalls) if stalls else None,
            "flip_p50_ns": float(np.percentile(flip, 50)) if flip.size else None,
            "flip_p90_ns": float(np.percentile(flip, 90)) if flip.size else None,
        }
    return out


def young_over_full(kinds: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    """Per cycle, young over full: marked and moved bytes (None without both kinds)."""
    y, f = kinds.get("young"), kinds.get("full")
    out: dict[str, float | None] = {}
    for key in ("marked_per_cycle", "moved_per_cycle"):
        out[key] = (float(y[key]) / float(f[key])) if y and f and f[key] else None
    return out


def summary_lines(run: Mapping[str, Any]) -> list[str]:
    """The summary's lines for a run with young cycles (none otherwise)."""
    kinds = by_kind(run.get("cycles") or [], run.get("events"))
    if "young" not in kinds:
        return []
    fb, fn = metrics.format_bytes, metrics.format_ns
    lines = []
    for kind in KINDS:
        k = kinds.get(kind)
        if not k:
            continue
        lines.append(f"  {kind + ' cycles':<14}{k['cycles']:>7}   per cycle marked {fb(k['marked_per_cycle'])}, "
                     f"moved {fb(k['moved_per_cycle'])}; promoted {fb(k['promoted_bytes'])}, "
                     f"cards {k['cards_scanned']}; worst pause {fn(k['pause_max_ns'])}, "
                     f"worst stall {fn(k['stall_max_ns'])}; flips p50 {fn(k['flip_p50_ns'])}, "
                     f"p90 {fn(k['flip_p90_ns'])}")
    return lines
