"""What the pages show about a session beyond its :class:`~station.gait.summary.Summary`, computed by the
station's own functions: the change from the first to the last third (fatigue) and the thresholds the
session ran with. Nothing here has a formula of its own: means, cadence and asymmetry are
:func:`station.gait.summary.summarize`'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from station.gait.steps import Step
from station.gait.summary import METRICS, summarize, thirds

SIDES = ("left", "right")


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float (a metric that could not be measured) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def fatigue(steps: Sequence[Step]) -> dict[str, Any]:
    """Change from the first to the last third: per side and metric (last − first), and cadence.

    Each third is summarised by :func:`summarize` (so its cadence is the one cadence formula).
    """
    first, last = thirds(steps)
    a, b = summarize(first), summarize(last)
    out: dict[str, Any] = {"first_steps": len(first), "last_steps": len(last)}
    for side in SIDES:
        out[side] = {m.key: {"first": a.side(side).means[m.key], "last": b.side(side).means[m.key],
                             "change": diff(b.side(side).means[m.key], a.side(side).means[m.key])} for m in METRICS}
    out["cadence_spm"] = {"first": a.cadence_spm, "last": b.cadence_spm, "change": diff(b.cadence_spm, a.cadence_spm)}
    return out


def thresholds(session_settings: dict[str, Any] | None, fallback_amber_deg: float,
               fallback_red_deg: float) -> tuple[float, float]:
    """(amber_deg, red_deg) the session ran with if it recorded them, else the current ones."""
    cues = (session_settings or {}).get("cues") or {}
    amber, red = cues.get("amber_deg"), cues.get("red_deg")
    if isinstance(amber, int | float) and isinstance(red, int | float) and red > amber:
        return float(amber), float(red)
    return fallback_amber_deg, fallback_red_deg
