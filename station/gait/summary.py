"""Per-side means, cadence and left/right asymmetry over a list of steps."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from station.gait.steps import Step

METRICS: tuple[str, ...] = (
    "drop_excursion_deg",
    "drop_peak_deg",
    "trunk_lean_deg",
    "knee_fppa_deg",
    "step_width_norm",
)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


@dataclass(frozen=True)
class SideSummary:
    steps: int
    means: dict[str, float | None]  # metric -> mean over this side's steps where it was measured
    drop_excursion_sd_deg: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"steps": self.steps}
        for k, v in self.means.items():
            d[k] = None if v is None else round(v, 3 if k == "step_width_norm" else 2)
        sd = self.drop_excursion_sd_deg
        d["drop_excursion_sd_deg"] = None if sd is None else round(sd, 2)
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "cadence_spm": None if self.cadence_spm is None else round(self.cadence_spm, 1),
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "left": self.left.to_dict(),
            "right": self.right.to_dict(),
            "asymmetry": {k: None if v is None else round(v, 3 if k == "step_width_norm" else 2)
                          for k, v in self.asymmetry.items()},
        }


def _side(steps: list[Step]) -> SideSummary:
    means: dict[str, float | None] = {}
    for key in METRICS:
        vals = [v for s in steps if (v := getattr(s, key)) is not None and math.isfinite(v)]
        means[key] = _mean(vals)
    exc = [s.drop_excursion_deg for s in steps if s.drop_excursion_deg is not None]
    sd = float(np.std(exc, ddof=1)) if len(exc) >= 2 else None
    return SideSummary(steps=len(steps), means=means, drop_excursion_sd_deg=sd)


def summarize(steps: Iterable[Step]) -> Summary:
    """Summary of DESIGN.md: per-side means, cadence over the steps' own step times, asymmetry (right - left).

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
    return Summary(steps=len(steps), cadence_spm=cadence, left=left, right=right, asymmetry=asym, duration_s=duration)
