"""Is a difference real, and are there enough steps yet: plain rules on 95 % intervals.

The analyzer gives each side's mean drop a 95 % confidence interval (a half-width in
degrees, :class:`station.gait.summary.SideSummary`). Two such means, of the two sides
or of two sessions, differ for real only when their difference exceeds the combined
half-width (the root sum of squares: independent errors). A cue or a page judging a
side against a band (the amber-red gap, 2 deg by default) should wait while the
interval is wider than that gap: "not enough steps yet".

Pure functions, degrees in, answers out; ``None`` for an interval the data did not give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Difference", "combined_ci95_deg", "compare", "difference_is_real", "enough_steps"]


def combined_ci95_deg(*half_widths_deg: float | None) -> float | None:
    """The 95 % half-width of a sum or difference of independent estimates (root sum of squares)."""
    if any(h is None or not math.isfinite(h) or h < 0 for h in half_widths_deg):
        return None
    return math.sqrt(sum(h * h for h in half_widths_deg))  # type: ignore[operator]


@dataclass(frozen=True)
class Difference:
    """``b - a`` with its 95 % half-width; ``real`` when it exceeds that (None when an interval is unknown)."""

    difference_deg: float
    ci95_deg: float | None
    real: bool | None


def compare(a_deg: float, a_ci95_deg: float | None, b_deg: float, b_ci95_deg: float | None) -> Difference:
    """Compare two means, e.g. left and right, or last month's session and today's (``b - a``)."""
    diff = b_deg - a_deg
    ci = combined_ci95_deg(a_ci95_deg, b_ci95_deg)
    return Difference(difference_deg=diff, ci95_deg=ci, real=None if ci is None else abs(diff) > ci)


def difference_is_real(a_deg: float, a_ci95_deg: float | None, b_deg: float, b_ci95_deg: float | None) -> bool:
    """True only when the two means differ by more than their combined 95 % half-width (unknown: False)."""
    return bool(compare(a_deg, a_ci95_deg, b_deg, b_ci95_deg).real)


def enough_steps(ci95_deg: float | None, gap_deg: float) -> bool:
    """True once the whole 95 % interval (twice its half-width) fits within ``gap_deg``.

    ``gap_deg`` is the width of the band a judgement needs to tell apart, e.g. the amber-red gap of
    the cues (red 6 deg - amber 4 deg = 2 deg). While this is False: "not enough steps yet".
    """
    if gap_deg <= 0:
        raise ValueError(f"gap_deg must be positive, not {gap_deg}")
    return ci95_deg is not None and math.isfinite(ci95_deg) and 2.0 * ci95_deg <= gap_deg
