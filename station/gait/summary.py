"""Per-side means, cadence and left/right asymmetry over a list of steps: the one place they are computed.

The report JSON, the station's session row, the live status and every web page
take their summaries from here: one metric list (:data:`METRICS`), one cadence
formula (:func:`cadence_spm`), one asymmetry sign (right − left).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from station.gait.steps import Step
from station.gait.uncertainty import compare

# plausible running (and brisk walking) step rates: an interval outside them is a missed step or a pause
MIN_STEP_RATE_SPM = 100.0
MAX_STEP_RATE_SPM = 240.0


@dataclass(frozen=True)
class Metric:
    """A per-step metric: its key in :class:`Step`, a label in plain words, its unit and the decimals shown."""

    key: str
    label: str
    unit: str
    decimals: int


#: the per-step metrics summarised per side, in the order every report and page shows them
METRICS: tuple[Metric, ...] = (
    Metric("drop_excursion_deg", "Pelvic drop excursion", "°", 1),
    Metric("drop_peak_deg", "Pelvic drop peak (levelled camera)", "°", 1),
    Metric("trunk_lean_deg", "Trunk lean to stance side", "°", 1),
    Metric("knee_fppa_deg", "Knee FPPA (valgus +)", "°", 1),
    Metric("step_width_norm", "Step width (hip widths, − = crossover)", "", 2),
    Metric("arm_cross_norm", "Hand past the body's midline (hip widths, − = short of it)", "", 2),
    Metric("arm_swing_norm", "Arm swing side to side (hip widths)", "", 2),
)
METRIC_KEYS: tuple[str, ...] = tuple(m.key for m in METRICS)
# the drop metrics whose side means carry a 95 % confidence interval
CI_METRICS: tuple[str, ...] = ("drop_excursion_deg", "drop_peak_deg")
_DECIMALS = {m.key: (3 if m.unit == "" else 2) for m in METRICS}  # stored precision (one more than shown)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _round(key: str, v: float | None, rounded: bool = True) -> float | None:
    return None if v is None else round(v, _DECIMALS[key]) if rounded else float(v)


def step_intervals_s(steps: Iterable[Step]) -> list[float]:
    """The step times a cadence is measured from, one per step that has one.

    A step's time is its own (the analyzer's ``cadence_spm``, which it leaves empty across a
    gap); a step that carries none (a truth file, a hand-made step) takes the time since the
    previous step's contact when that is a plausible running step time. A missed step or a
    pause out of view is longer than any running step, so it carries no time.
    """
    out: list[float] = []
    prev: float | None = None
    for s in sorted(steps, key=lambda s: s.t_contact_s):
        if s.cadence_spm:
            out.append(60.0 / s.cadence_spm)
        elif prev is not None and 60.0 / MAX_STEP_RATE_SPM <= s.t_contact_s - prev <= 60.0 / MIN_STEP_RATE_SPM:
            out.append(s.t_contact_s - prev)
        prev = s.t_contact_s
    return out


def cadence_spm(steps: Iterable[Step]) -> float | None:
    """Steps per minute: 60 × (measured step times) / (their total duration). The one cadence formula.

    Pauses and missed steps carry no step time (:func:`step_intervals_s`), so they do not lower it.
    One step time is one measurement, not a cadence: it needs two.
    """
    periods = step_intervals_s(steps)
    return 60.0 * len(periods) / sum(periods) if len(periods) >= 2 else None


@dataclass(frozen=True)
class SideSummary:
    steps: int
    means: dict[str, float | None]  # metric -> mean over this side's steps where it was measured
    drop_excursion_sd_deg: float | None = None
    drop_excursion_ci95_deg: float | None = None  # 95 % half-width of the mean excursion (deg)
    drop_peak_ci95_deg: float | None = None  # 95 % half-width of the mean peak (deg)

    def ci95(self, metric: str) -> float | None:
        """The 95 % half-width of a drop metric's mean (None for metrics without one)."""
        known = {"drop_excursion_deg": self.drop_excursion_ci95_deg, "drop_peak_deg": self.drop_peak_ci95_deg}
        return known.get(metric)

    def __getitem__(self, key: str) -> Any:
        """``side["drop_excursion_deg"]``: the mean of a metric (templates and JSON read it this way)."""
        if key == "steps":
            return self.steps
        if key in ("drop_excursion_sd_deg", "drop_excursion_ci95_deg", "drop_peak_ci95_deg"):
            return getattr(self, key)
        return self.means[key]

    def to_dict(self, rounded: bool = True) -> dict[str, Any]:
        """JSON-ready; ``rounded`` to the report's precision (0.01°), else in full (the database, the API)."""
        d: dict[str, Any] = {"steps": self.steps}
        for k, v in self.means.items():
            d[k] = _round(k, v, rounded)
        for key in ("drop_excursion_sd_deg", "drop_excursion_ci95_deg", "drop_peak_ci95_deg"):
            v = getattr(self, key)
            d[key] = None if v is None else round(v, 2) if rounded else v
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SideSummary:
        return cls(steps=int(d.get("steps") or 0), means={k: d.get(k) for k in METRIC_KEYS},
                   drop_excursion_sd_deg=d.get("drop_excursion_sd_deg"),
                   drop_excursion_ci95_deg=d.get("drop_excursion_ci95_deg"),
                   drop_peak_ci95_deg=d.get("drop_peak_ci95_deg"))


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

    def side(self, side: str) -> SideSummary:
        return self.left if side == "left" else self.right

    def to_dict(self, rounded: bool = True) -> dict[str, Any]:
        """The report JSON's summary; ``rounded`` as the report shows it, else in full precision."""
        def r(v: float | None, nd: int) -> float | None:
            return None if v is None else round(v, nd) if rounded else v

        return {
            "steps": self.steps,
            "cadence_spm": r(self.cadence_spm, 1),
            "duration_s": r(self.duration_s, 3),
            "left": self.left.to_dict(rounded),
            "right": self.right.to_dict(rounded),
            "asymmetry": {k: _round(k, v, rounded) for k, v in self.asymmetry.items()},
            "asymmetry_ci95": {k: r(v, 2) for k, v in self.asymmetry_ci95.items()},
            "asymmetry_real": dict(self.asymmetry_real),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Summary:
        """The summary back from its :meth:`to_dict` form (as the station stores it)."""
        asym = d.get("asymmetry") or {}
        return cls(steps=int(d.get("steps") or 0), cadence_spm=d.get("cadence_spm"),
                   left=SideSummary.from_dict(d.get("left") or {}), right=SideSummary.from_dict(d.get("right") or {}),
                   asymmetry={k: asym.get(k) for k in METRIC_KEYS}, duration_s=d.get("duration_s"),
                   asymmetry_ci95=dict(d.get("asymmetry_ci95") or {}),
                   asymmetry_real=dict(d.get("asymmetry_real") or {}))


def _side(steps: list[Step]) -> SideSummary:
    means: dict[str, float | None] = {}
    for key in METRIC_KEYS:
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
    """Summary of DESIGN.md: per-side means, cadence (:func:`cadence_spm`), asymmetry (right − left).

    Each side's drop means carry the 95 % interval the analyzer gave with that side's last step:
    one analyzer per session (its passes included), so summarize the steps of one session. The
    left/right difference of the drop means is called real only when it exceeds its combined
    interval (:func:`station.gait.uncertainty.compare`).
    """
    steps = list(steps)
    left = _side([s for s in steps if s.side == "left"])
    right = _side([s for s in steps if s.side == "right"])
    asym = {
        k: (right.means[k] - left.means[k])  # type: ignore[operator]
        if right.means[k] is not None and left.means[k] is not None
        else None
        for k in METRIC_KEYS
    }
    duration = (steps[-1].t_end_s - steps[0].t_contact_s) if steps else None
    asym_ci: dict[str, float | None] = {}
    asym_real: dict[str, bool | None] = {}
    for k in CI_METRICS:
        lm, rm = left.means[k], right.means[k]
        diff = compare(lm, left.ci95(k), rm, right.ci95(k)) if lm is not None and rm is not None else None
        asym_ci[k] = None if diff is None else diff.ci95_deg
        asym_real[k] = None if diff is None else diff.real
    return Summary(steps=len(steps), cadence_spm=cadence_spm(steps), left=left, right=right, asymmetry=asym,
                   duration_s=duration, asymmetry_ci95=asym_ci, asymmetry_real=asym_real)


def running_times_s(steps: Sequence[Step]) -> list[float]:
    """Each step's time into the running (its contact, from the first), pauses out of view left out.

    Steps in contact order. A gap between two contacts longer than two steps at the slowest running
    step rate is time the runner was not seen (off the treadmill, out of frame): it counts as one
    typical step time, so a pause does not stretch the session's first, middle or last third.
    """
    ordered = sorted(steps, key=lambda s: s.t_contact_s)
    if not ordered:
        return []
    gaps = np.diff([s.t_contact_s for s in ordered])
    longest = 2 * 60.0 / MIN_STEP_RATE_SPM
    usual = [g for g in gaps if g <= longest]
    typical = float(np.median(usual)) if usual else 60.0 / MIN_STEP_RATE_SPM
    return [0.0, *np.cumsum([g if g <= longest else typical for g in gaps]).tolist()]


def thirds(steps: Sequence[Step]) -> tuple[list[Step], list[Step]]:
    """The steps of the first and of the last third of the running time (fatigue: last − first).

    Running time is the steps' own stream time with pauses out of view left out (:func:`running_times_s`).
    """
    if len(steps) < 2:
        return [], []
    ordered = sorted(steps, key=lambda s: s.t_contact_s)
    times = running_times_s(ordered)
    span = times[-1]
    if span <= 0:
        return [], []
    return ([s for s, t in zip(ordered, times, strict=True) if t < span / 3],
            [s for s, t in zip(ordered, times, strict=True) if t >= span - span / 3])
