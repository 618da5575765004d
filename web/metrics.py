"""What the pages show about a session, computed from its stored steps (pure functions).

Words and units as in DESIGN.md. Per side the *mean* over that side's steps
(the report JSON's summary), plus the spread; the fatigue change is the mean of
the last third of the session (by stream time) minus the mean of the first
third; asymmetry is left minus right. A metric no step has is ``None`` (shown
as "—"), never 0. The rolling value of the live page is the median of each
side's last ``window_steps`` values, as the cue policy judges it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

SIDES = ("left", "right")

#: per-step metrics shown per side: (key, label, unit)
METRICS: tuple[tuple[str, str, str], ...] = (
    ("drop_excursion_deg", "Pelvic drop (excursion)", "°"),
    ("drop_peak_deg", "Pelvic drop (peak, levelled camera)", "°"),
    ("trunk_lean_deg", "Trunk lean to stance side", "°"),
    ("knee_fppa_deg", "Knee FPPA (valgus +)", "°"),
    ("step_width_norm", "Step width (× hip width, − = crossover)", ""),
)


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float (a metric that could not be measured) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def _values(steps: Iterable[dict[str, Any]], key: str) -> list[float]:
    return [float(s[key]) for s in steps
            if isinstance(s.get(key), int | float) and not isinstance(s[key], bool) and math.isfinite(s[key])]


def mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def sd(values: Sequence[float]) -> float | None:
    return statistics.stdev(values) if len(values) >= 2 else None


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def cadence_spm(steps: Sequence[dict[str, Any]]) -> float | None:
    """Steps per minute over the steps given: (n − 1) contacts per elapsed contact time."""
    t = sorted(float(s["t_contact_s"]) for s in steps if s.get("t_contact_s") is not None)
    if len(t) < 2 or t[-1] <= t[0]:
        return None
    return 60.0 * (len(t) - 1) / (t[-1] - t[0])


def side_stats(steps: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per side: steps and, for each metric, mean and sd."""
    out: dict[str, dict[str, Any]] = {}
    for side in SIDES:
        mine = [s for s in steps if s.get("side") == side]
        row: dict[str, Any] = {"steps": len(mine)}
        for key, _, _ in METRICS:
            v = _values(mine, key)
            row[key] = mean(v)
            row[key + "_sd"] = sd(v)
        out[side] = row
    return out


def summary(steps: Sequence[dict[str, Any]], stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report JSON's summary keys (steps, cadence_spm, left/right means) plus spread and asymmetry.

    Values the station stored at the end of the session (``stored``) win over the recomputed ones
    for the keys DESIGN.md defines; the rest is computed here from the steps.
    """
    per_side = side_stats(steps)
    out: dict[str, Any] = {"steps": len(steps), "cadence_spm": cadence_spm(steps), **per_side}
    stored = stored or {}
    if isinstance(stored.get("cadence_spm"), int | float):
        out["cadence_spm"] = float(stored["cadence_spm"])
    for side in SIDES:
        st = stored.get(side)
        if isinstance(st, dict):
            for key in ("drop_excursion_deg", "drop_peak_deg"):
                if isinstance(st.get(key), int | float):
                    out[side][key] = float(st[key])
    out["asymmetry"] = {key: diff(out["left"][key], out["right"][key]) for key, _, _ in METRICS}
    return out


def thirds(steps: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The steps of the first and the last third of the session's stream time."""
    t = [float(s["t_contact_s"]) for s in steps if s.get("t_contact_s") is not None]
    if len(t) < 2:
        return [], []
    t0, t1 = min(t), max(t)
    span = t1 - t0
    if span <= 0:
        return [], []
    first = [s for s in steps if float(s["t_contact_s"]) < t0 + span / 3]
    last = [s for s in steps if float(s["t_contact_s"]) >= t1 - span / 3]
    return first, last


def fatigue(steps: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Change from the first to the last third: per side and metric (last − first), and cadence."""
    first, last = thirds(steps)
    out: dict[str, Any] = {"first_steps": len(first), "last_steps": len(last)}
    for side in SIDES:
        f = [s for s in first if s.get("side") == side]
        la = [s for s in last if s.get("side") == side]
        out[side] = {}
        for key, _, _ in METRICS:
            a, b = mean(_values(f, key)), mean(_values(la, key))
            out[side][key] = {"first": a, "last": b, "change": diff(b, a)}
    c0, c1 = cadence_spm(first), cadence_spm(last)
    out["cadence_spm"] = {"first": c0, "last": c1, "change": diff(c1, c0)}
    return out


def rolling(steps_by_side: dict[str, Sequence[dict[str, Any]]], window_steps: int) -> dict[str, Any]:
    """Median drop of each side's last ``window_steps`` measured steps (newest last in each list)."""
    out: dict[str, Any] = {}
    for side in SIDES:
        v = _values(steps_by_side.get(side, []), "drop_excursion_deg")[-window_steps:]
        out[side] = {"drop_excursion_deg": statistics.median(v) if v else None, "steps": len(v)}
    return out


def thresholds(session_settings: dict[str, Any] | None, fallback_amber_deg: float,
               fallback_red_deg: float) -> tuple[float, float]:
    """(amber_deg, red_deg) the session ran with if it recorded them, else the current ones."""
    cues = (session_settings or {}).get("cues") or {}
    amber, red = cues.get("amber_deg"), cues.get("red_deg")
    if isinstance(amber, int | float) and isinstance(red, int | float) and red > amber:
        return float(amber), float(red)
    return fallback_amber_deg, fallback_red_deg
