"""What the pages show about a session beyond its :class:`~station.gait.summary.Summary`, computed by the
station's own functions: the change from the first to the last third (fatigue), the uncertainty of a side's
mean drop, the difference between two sessions, the verdict in plain words and the thresholds the session ran
with. Means, cadence and asymmetry are :func:`station.gait.summary.summarize`'s; the thirds are
:func:`station.gait.summary.thirds` (running time, pauses out of view left out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from station.gait.steps import Step
from station.gait.summary import METRICS, SideSummary, Summary, running_times_s, summarize, thirds
from station.gait.uncertainty import combined_ci95_deg

SIDES = ("left", "right")
Z95 = 1.96


@dataclass(frozen=True)
class Plain:
    """A metric as the pages name it: in plain words, with its unit and a line of help."""

    key: str
    label: str
    unit: str
    decimals: int
    help: str


_WORDS: dict[str, tuple[str, str, int, str]] = {
    "drop_excursion_deg": ("Hip drop", "°", 1,
                           "How far the hip of the swinging leg falls while the other foot is on the ground."),
    "drop_peak_deg": ("Hip drop below level", "°", 1, "Only with a levelled camera (its tilt declared)."),
    "trunk_lean_deg": ("Trunk lean", "°", 1, "Toward the foot on the ground."),
    "knee_fppa_deg": ("Knee caving in", "°", 1,
                      "The knee's angle seen from behind; more than 0 means it falls inward."),
    "step_width_norm": ("Step width", " hip widths", 2, "Below 0 the foot lands across the body's midline."),
    "arm_cross_norm": ("Hand past midline", " hip widths", 2,
                       "At the front of the swing: above 0 the hand crosses the body's midline by that much, "
                       "below 0 it stays that far short of it."),
    "arm_swing_norm": ("Arm swing sideways", " hip widths", 2, "How far the hand travels from side to side."),
}

#: every per-step metric of :data:`station.gait.summary.METRICS`, in its order, in plain words where the pages have
#: them (a metric added to the analysis shows with its own label until it gets some)
PLAIN: tuple[Plain, ...] = tuple(Plain(m.key, *_WORDS.get(m.key, (m.label, m.unit, m.decimals, ""))) for m in METRICS)
PLAIN_BY_KEY = {p.key: p for p in PLAIN}
ARM_KEYS = ("arm_cross_norm", "arm_swing_norm")


def measured_keys(summary: Summary) -> list[str]:
    """The metrics measured on at least one side."""
    return [p.key for p in PLAIN if any(summary.side(side).means.get(p.key) is not None for side in SIDES)]


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


@dataclass(frozen=True)
class Estimate:
    """A side's mean drop and the half-width of its 95 % interval (deg; None when it cannot be said)."""

    mean: float | None
    ci95: float | None
    steps: int

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "ci95": self.ci95, "steps": self.steps}


@dataclass(frozen=True)
class Difference:
    """``after`` − ``before`` with the half-width of its 95 % interval; ``real`` when the interval excludes 0."""

    value: float | None
    ci95: float | None

    @property
    def real(self) -> bool:
        return self.value is not None and self.ci95 is not None and abs(self.value) > self.ci95

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci95": self.ci95, "real": self.real}


def drop_estimate(side: SideSummary) -> Estimate:
    """The side's mean drop with its 95 % interval: the analysis's own when the summary carries one
    (``drop_excursion_ci95_deg``), else from the steps' spread (1.96 SD / √n)."""
    mean = side.means.get("drop_excursion_deg")
    ci = getattr(side, "drop_excursion_ci95_deg", None)
    if ci is None and side.drop_excursion_sd_deg is not None and side.steps >= 2:
        ci = Z95 * side.drop_excursion_sd_deg / math.sqrt(side.steps)
    return Estimate(mean, None if mean is None else ci, side.steps)


def difference(before: Estimate, after: Estimate) -> Difference:
    """after − before; independent means, so their intervals combine as :mod:`station.gait.uncertainty` says."""
    value = diff(after.mean, before.mean)
    return Difference(value, None if value is None else combined_ci95_deg(before.ci95, after.ci95))


def fatigue(steps: Sequence[Step]) -> dict[str, Any]:
    """Change from the first to the last third of the running time: per side and metric (last − first), the
    drop with its uncertainty, cadence, and the running time (s, pauses out of view left out)."""
    first, last = thirds(steps)
    a, b = summarize(first), summarize(last)
    times = running_times_s(steps)
    out: dict[str, Any] = {"first_steps": len(first), "last_steps": len(last),
                           "running_s": times[-1] if times else None}
    for side in SIDES:
        out[side] = {m.key: {"first": a.side(side).means[m.key], "last": b.side(side).means[m.key],
                             "change": diff(b.side(side).means[m.key], a.side(side).means[m.key])} for m in METRICS}
        before, after = drop_estimate(a.side(side)), drop_estimate(b.side(side))
        out[side]["drop"] = {"first": before.to_dict(), "last": after.to_dict(),
                             "change": difference(before, after).to_dict()}
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


def _deg(v: float) -> str:
    return f"{abs(v):.1f}°"


def band_words(value: float, amber_deg: float, red_deg: float) -> str:
    if value >= red_deg:
        return f"in the red (from {red_deg:.1f}°)"
    if value >= amber_deg:
        return f"in the amber (from {amber_deg:.1f}°)"
    return f"below amber ({amber_deg:.1f}°)"


def verdict(summary: Summary, fat: dict[str, Any] | None, amber_deg: float, red_deg: float) -> list[str]:
    """The session in a few plain sentences, the hip drop first.

    "Left drops 1.8° more than right (4.5° against 2.7°); it rose 2.6° from the first to the last third."
    A difference is said only when it is larger than its 95 % interval.
    """
    est = {side: drop_estimate(summary.side(side)) for side in SIDES}
    if any(e.mean is None for e in est.values()):
        measured = [side for side in SIDES if est[side].mean is not None]
        if not measured:
            return ["Not enough steps were measured to judge the hip drop."]
        side = measured[0]
        return [f"Only the {side} side could be measured: its hip drop is {_deg(est[side].mean)} "  # type: ignore[arg-type]
                f"({band_words(est[side].mean, amber_deg, red_deg)})."]  # type: ignore[arg-type]
    left, right = est["left"], est["right"]
    asym = difference(right, left)  # left − right
    if summary.asymmetry_real.get("drop_excursion_deg") is not None:  # the analysis's own judgement wins
        asym = Difference(asym.value, summary.asymmetry_ci95.get("drop_excursion_deg"))
    worse = "left" if left.mean >= right.mean else "right"  # type: ignore[operator]
    other = "right" if worse == "left" else "left"
    if asym.real and abs(asym.value) >= 0.5:  # type: ignore[arg-type]
        first = (f"{worse.capitalize()} drops {_deg(asym.value)} more than {other} "  # type: ignore[arg-type]
                 f"({_deg(est[worse].mean)} against {_deg(est[other].mean)})")  # type: ignore[arg-type]
    else:
        first = f"Both sides drop about the same (left {_deg(left.mean)}, right {_deg(right.mean)})"  # type: ignore[arg-type]
    sentences = []
    if fat and fat.get("first_steps") and fat.get("last_steps"):
        change = Difference(**{k: fat[worse]["drop"]["change"][k] for k in ("value", "ci95")})
        if change.value is not None and change.real and abs(change.value) >= 0.5:
            way = "rose" if change.value > 0 else "fell"
            subject = "it" if first.startswith(worse.capitalize()) else f"the {worse} side"
            first += f"; {subject} {way} {_deg(change.value)} from the first to the last third"
        elif change.value is not None:
            first += "; it held steady from the first to the last third"
    sentences.append(first + ".")
    sentences.append(f"The {worse} side is {band_words(est[worse].mean, amber_deg, red_deg)}.")  # type: ignore[arg-type]
    cadence = summary.cadence_spm
    if cadence is not None:
        text = f"Cadence {cadence:.0f} steps a minute"
        c = (fat or {}).get("cadence_spm") or {}
        if c.get("change") is not None and abs(c["change"]) >= 3:
            text += f", {'up' if c['change'] > 0 else 'down'} from {c['first']:.0f} to {c['last']:.0f} by the end"
        sentences.append(text + ".")
    arms = [(side, summary.side(side).means.get("arm_cross_norm")) for side in SIDES]
    crossing = [side for side, v in arms if v is not None and v > 0]
    if crossing:
        sentences.append(" and ".join(s.capitalize() if i == 0 else s for i, s in enumerate(crossing))
                         + (" hand crosses" if len(crossing) == 1 else " hands cross") + " the body's midline.")
    elif all(v is not None for _, v in arms):
        sentences.append("The hands stay on their own side of the body.")
    return sentences


def compare(before: Summary, after: Summary) -> dict[str, Any]:
    """Two sessions side by side: per side the drop with its interval and the difference (real or not), every
    other metric's means and change, and the cadence."""
    out: dict[str, Any] = {}
    for side in SIDES:
        a, b = drop_estimate(before.side(side)), drop_estimate(after.side(side))
        out[side] = {"before": a.to_dict(), "after": b.to_dict(), "change": difference(a, b).to_dict(),
                     "metrics": {p.key: {"before": before.side(side).means.get(p.key),
                                         "after": after.side(side).means.get(p.key),
                                         "change": diff(after.side(side).means.get(p.key),
                                                        before.side(side).means.get(p.key))} for p in PLAIN}}
    out["cadence_spm"] = {"before": before.cadence_spm, "after": after.cadence_spm,
                          "change": diff(after.cadence_spm, before.cadence_spm)}
    return out


def _signed(v: float) -> str:
    return "0.0°" if round(v, 1) == 0 else f"{'+' if v > 0 else '−'}{abs(v):.1f}°"


def compare_words(cmp: dict[str, Any]) -> list[str]:
    """What changed from the first session to the second, in plain sentences."""
    out = []
    for side in SIDES:
        ch = cmp[side]["change"]
        if ch["value"] is None:
            out.append(f"{side.capitalize()}: not measured in both sessions.")
        elif ch["real"]:
            way = "less" if ch["value"] < 0 else "more"
            out.append(f"{side.capitalize()} hip drops {_deg(ch['value'])} {way} (± {ch['ci95']:.1f}°): "
                       "a real change.")
        elif ch["ci95"] is not None:
            out.append(f"{side.capitalize()}: no clear change ({_signed(ch['value'])}, within ± {ch['ci95']:.1f}°).")
        else:
            out.append(f"{side.capitalize()}: {_signed(ch['value'])}.")
    c = cmp["cadence_spm"]
    if c["change"] is not None:
        out.append(f"Cadence {c['before']:.0f} → {c['after']:.0f} steps a minute.")
    return out
