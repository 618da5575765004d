"""Per-side means, cadence and left/right asymmetry over a list of steps."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from station.gait.steps import Step
from station.gait.uncertainty import compare

METRICS: tuple[str, ...] = (
    "drop_excursion_deg",
    "drop_peak_deg",
    "trunk_lean_deg",
    "knee_fppa_deg",
    "step_width_norm",
)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


# the drop metrics whose side means carry a 95 % confidence interval
CI_METRICS: tuple[str, ...] = ("drop_excursion_deg", "drop_peak_deg")


def _r(v: float | None, nd: int) -> float | None:
    return None if v is None else round(v, nd)


@dataclass(frozen=True)
class SideSummary:
    """One side's means over its steps, the spread of its steps' excursions, and the means' 95 % intervals.

    ``drop_excursion_ci95_deg`` / ``drop_peak_ci95_deg``: half-width (deg) of the 95 % confidence
    interval of ``means["drop_excursion_deg"]`` / ``means["drop_peak_deg"]``, as the analyzer gave it
    with the side's last step (keypoint noise, step-to-step variation and the model fit, from the
    data alone); None before the analyzer could tell (or without a declared roll, for the peak).
    """

    steps: int
    means: dict[str, float | None]  # metric -> mean over this side's steps where it was measured
    drop_excursion_sd_deg: float | None = None
    drop_excursion_ci95_deg: float | None = None
    drop_peak_ci95_deg: float | None = None

    def ci95(self, metric: str) -> float | None:
        """The 95 % half-width of a drop metric's mean (None for metrics without one)."""
        known = {"drop_excursion_deg": self.drop_excursion_ci95_deg, "drop_peak_deg": self.drop_peak_ci95_deg}
        return known.get(metric)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"steps": self.steps}
        for k, v in self.means.items():
            d[k] = _r(v, 3 if k == "step_width_norm" else 2)
        d["drop_excursion_sd_deg"] = _r(self.drop_excursion_sd_deg, 2)
        d["drop_excursion_ci95_deg"] = _r(self.drop_excursion_ci95_deg, 2)
        d["drop_peak_ci95_deg"] = _r(self.drop_peak_ci95_deg, 2)
        return d


@dataclass(frozen=True)
class Summary:
    steps: int
    cadence_spm: float | None
    left: SideSummary
    right: SideSummary
    # right mean minus left mean, per metric (None unless both sides measured it)
    asymmetry: dict[str, float | None] = field(default_factory=dict)
    duration_s: float | None = None
    # for the drop metrics: the 95 % half-width of that difference (deg), and whether it is real (it exceeds
    # that half-width; None while either side's interval is unknown)
    asymmetry_ci95: dict[str, float | None] = field(default_factory=dict)
    asymmetry_real: dict[str, bool | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "cadence_spm": _r(self.cadence_spm, 1),
            "duration_s": _r(self.duration_s, 3),
            "left": self.left.to_dict(),
            "right": self.right.to_dict(),
            "asymmetry": {k: _r(v, 3 if k == "step_width_norm" else 2) for k, v in self.asymmetry.items()},
            "asymmetry_ci95": {k: _r(v, 2) for k, v in self.asymmetry_ci95.items()},
            "asymmetry_real": dict(self.asymmetry_real),
        }


def _side(steps: list[Step]) -> SideSummary:
    means: dict[str, float | None] = {}
    for key in METRICS:
        vals = [v for s in steps if (v := getattr(s, key)) is not None and math.isfinite(v)]
        means[key] = _mean(vals)
    exc = [s.drop_excursion_deg for s in steps if s.drop_excursion_deg is not None]
    sd = float(np.std(exc, ddof=1)) if len(exc) >= 2 else None
    exc_ci = next((s.drop_excursion_mean_ci95_deg for s in reversed(steps)
                   if s.drop_excursion_mean_ci95_deg is not None), None)
    peak_ci = next((s.drop_peak_mean_ci95_deg for s in reversed(steps) if s.drop_peak_mean_ci95_deg is not None), None)
    return SideSummary(steps=len(steps), means=means, drop_excursion_sd_deg=sd, drop_excursion_ci95_deg=exc_ci,
                       drop_peak_ci95_deg=peak_ci)


def summarize(steps: Iterable[Step]) -> Summary:
    """Summary of DESIGN.md: per-side means, cadence over the steps' own step times, asymmetry (right - left).

    Each side's drop means carry the 95 % interval the analyzer gave with that side's last step:
    one analyzer per session (its passes included), so summarize the steps of one session. The
    left/right difference of the drop means is called real only when it exceeds its combined
    interval (:func:`station.gait.uncertainty.compare`).

    Cadence is 60 x (number of measured step intervals) / (their total duration): steps
    across a gap carry no cadence and do not count, so pauses do not lower it.
    """
    steps = list(steps)
    left = _side([s for s in steps if s.side == "left"])
    right = _side([s for s in steps if s.side == "right"])
    periods = [60.0 / s.cadence_spm for s in steps if s.cadence_spm]
    cadence = 60.0 * len(periods) / sum(periods) if periods else None
    asym = {
        k: (right.means[k] - left.means[k])  # type: ignore[operator]
        if right.means[k] is not None and left.means[k] is not None
        else None
        for k in METRICS
    }
    duration = (steps[-1].t_end_s - steps[0].t_contact_s) if steps else None
    asym_ci: dict[str, float | None] = {}
    asym_real: dict[str, bool | None] = {}
    for k in CI_METRICS:
        lm, rm = left.means[k], right.means[k]
        diff = compare(lm, left.ci95(k), rm, right.ci95(k)) if lm is not None and rm is not None else None
        asym_ci[k] = None if diff is None else diff.ci95_deg
        asym_real[k] = None if diff is None else diff.real
    return Summary(steps=len(steps), cadence_spm=cadence, left=left, right=right, asymmetry=asym, duration_s=duration,
                   asymmetry_ci95=asym_ci, asymmetry_real=asym_real)
