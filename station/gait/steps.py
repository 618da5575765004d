"""The :class:`Step`: one stance phase and its metrics, exactly as DESIGN.md defines them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

Side = Literal["left", "right"]

# quality flags a step can carry (strings, so they survive JSON and SQLite unchanged)
FLAG_SWAP_REPAIRED = "lr_swap_repaired"  # left/right keypoints were swapped in some frames and put back
FLAG_GAPS = "keypoint_gaps"  # some stance frames lacked a confident hip or stance-side keypoint
# no stride model yet (the first steps of a session or of a track-side pass): the drop comes from this step's own
# samples alone, noisier, with its interval from their residuals (None when too few were seen)
FLAG_WARMUP = "drop_warmup"
FLAG_NO_CADENCE = "no_cadence"  # no plausible previous contact to measure the step time from
# the feet's crossing gave a stance longer than running allows: the step is timed from the pelvis (contact and
# end at half a typical running stance either side of the hip's low point); only its side comes from the feet
FLAG_CONTACT_ESTIMATED = "contact_estimated"


def _round(value: float | None, ndigits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), ndigits)


@dataclass(frozen=True)
class Step:
    """One stance phase.

    ``side`` is the stance side; ``t_contact_s`` its initial contact and ``t_end_s``
    the end of stance (estimated; see :mod:`station.gait.analyzer`). Angles in degrees,
    signs as DESIGN.md: ``drop_*`` positive when the swing-side hip is lower,
    ``trunk_lean_deg`` positive toward the stance side, ``knee_fppa_deg`` positive in
    valgus, ``step_width_norm`` in hip widths, negative when the foot crosses the
    pelvis midline. ``arm_cross_norm`` and ``arm_swing_norm`` are the stance side's hand
    (:mod:`station.gait.arms`): how far it comes past the body's midline (hip widths, negative
    when it stays short of it) and its side-to-side range (hip widths). A metric whose
    keypoints were not visible is ``None``, never 0.
    """

    side: Side
    t_contact_s: float
    t_end_s: float
    drop_excursion_deg: float | None = None
    drop_peak_deg: float | None = None
    cadence_spm: float | None = None
    trunk_lean_deg: float | None = None
    knee_fppa_deg: float | None = None
    step_width_norm: float | None = None
    t_peak_s: float | None = None
    # 95 % confidence interval (half-width, deg) of the mean drop of this step's side over the steps so far,
    # as the analyzer knew it when it emitted this step: the interval of SideSummary's mean at this point
    drop_excursion_mean_ci95_deg: float | None = None
    drop_peak_mean_ci95_deg: float | None = None
    score_min: float = 0.0
    frames: int = 0
    flags: tuple[str, ...] = field(default_factory=tuple)
    arm_cross_norm: float | None = None
    arm_swing_norm: float | None = None

    @property
    def stance_s(self) -> float:
        return self.t_end_s - self.t_contact_s

    def shifted(self, dt_s: float) -> Step:
        """The same step with its times moved by ``dt_s`` (stream time to session time and back)."""
        return replace(self, t_contact_s=self.t_contact_s + dt_s, t_end_s=self.t_end_s + dt_s,
                       t_peak_s=None if self.t_peak_s is None else self.t_peak_s + dt_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: times to the millisecond, angles to 0.01 deg, non-finite as None."""
        d = asdict(self)
        d["t_contact_s"] = round(self.t_contact_s, 4)
        d["t_end_s"] = round(self.t_end_s, 4)
        d["t_peak_s"] = _round(self.t_peak_s, 4)
        for key in ("drop_excursion_deg", "drop_peak_deg", "trunk_lean_deg", "knee_fppa_deg",
                    "drop_excursion_mean_ci95_deg", "drop_peak_mean_ci95_deg"):
            d[key] = _round(d[key], 2)
        d["cadence_spm"] = _round(self.cadence_spm, 1)
        d["step_width_norm"] = _round(self.step_width_norm, 3)
        d["arm_cross_norm"] = _round(self.arm_cross_norm, 3)
        d["arm_swing_norm"] = _round(self.arm_swing_norm, 3)
        d["score_min"] = round(self.score_min, 3)
        d["flags"] = list(self.flags)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        """A step from its :meth:`to_dict` form (or a stored row); keys that are not fields are ignored."""
        names = cls.__dataclass_fields__
        kwargs = {k: v for k, v in d.items() if k in names and not (v is None and k in _REQUIRED_NOT_NONE)}
        kwargs["flags"] = tuple(kwargs.get("flags") or ())
        return cls(**kwargs)


_REQUIRED_NOT_NONE = ("score_min", "frames")  # a row from before these were stored: take the defaults

#: the step's fields in dataclass order: the columns of the steps table, of every step CSV and of the report
STEP_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Step))
