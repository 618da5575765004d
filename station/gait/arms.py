"""Arm swing per step: how far the stance-side hand comes across the body's midline, and how wide it swings.

Pure numpy, no clock. The running-retraining literature suggests two gait changes against a
large hip drop besides cadence: a narrower step and a calmer, straighter arm swing (a hand
that swings across the body's midline pulls the trunk and pelvis round). Seen from behind
or in front, the camera sees the side-to-side part of the swing.

Arms counter the legs: while one foot is on the ground its own arm swings forward, and a
hand that crosses the midline does so at the front of that swing, near the end of the
stance. So a step's arm metrics are the **stance side's** wrist (a left step: the left
hand), over its stance and the first half of the flight after it (from contact to the end
of stance plus half the stance time). Its lateral position is measured from the body's
midline (the line through the middle of the hips and the middle of the shoulders),
perpendicular to it, in hip widths, positive on the hand's own side:

* ``arm_cross_norm`` — how far the hand comes past the midline towards the other side at its
  furthest (positive: it crosses by that much; negative: it stays that far short of it);
* ``arm_swing_norm`` — the hand's side-to-side range over the window.

Both are None unless the wrist, both hips and both shoulders were seen in at least half of
the window's frames (and in at least :data:`MIN_FRAMES`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import replace

import numpy as np

from station.coco import BodyPart
from station.gait.steps import Step

LH, RH = int(BodyPart.LEFT_HIP), int(BodyPart.RIGHT_HIP)
LS, RS = int(BodyPart.LEFT_SHOULDER), int(BodyPart.RIGHT_SHOULDER)
LW, RW = int(BodyPart.LEFT_WRIST), int(BodyPart.RIGHT_WRIST)

MIN_FRAMES = 3
SEEN_SHARE = 0.5
FLIGHT_SHARE = 0.5  # the window runs this share of the stance time past the end of stance
BUFFER_S = 3.0  # a step is emitted within 0.25 s of its end: three seconds of frames are plenty


def wrist_offsets(xy: np.ndarray, ok: np.ndarray) -> tuple[float, float]:
    """(left, right) wrist's lateral distance from the body's midline in hip widths, + on its own side.

    NaN for a wrist not seen, or when the hips or shoulders are not both seen (or the trunk is
    shorter than half a hip width: no midline to speak of).
    """
    if not (ok[LH] and ok[RH] and ok[LS] and ok[RS]):
        return math.nan, math.nan
    mid_hip = (xy[LH] + xy[RH]) / 2.0
    axis = (xy[LS] + xy[RS]) / 2.0 - mid_hip
    hip_w = float(np.hypot(*(xy[RH] - xy[LH])))
    length = float(np.hypot(*axis))
    if hip_w <= 0.0 or length < 0.5 * hip_w:
        return math.nan, math.nan
    normal = np.array([-axis[1], axis[0]]) / length
    out = []
    for wrist, hip in ((LW, LH), (RW, RH)):
        if not ok[wrist]:
            out.append(math.nan)
            continue
        own = 1.0 if float(normal @ (xy[hip] - mid_hip)) >= 0.0 else -1.0
        out.append(own * float(normal @ (xy[wrist] - mid_hip)) / hip_w)
    return out[0], out[1]


class ArmSwing:
    """Fed every pose the analyzer sees (after its left/right repair); adds the arm metrics to each step."""

    def __init__(self, buffer_s: float = BUFFER_S) -> None:
        self.buffer_s = buffer_s
        self._frames: deque[tuple[float, float, float]] = deque()  # (t, left offset, right offset)

    def add(self, t_s: float, xy: np.ndarray, ok: np.ndarray) -> None:
        """One frame: keypoints (17, 2) in pixels and which of them were seen."""
        left, right = wrist_offsets(xy, ok)
        self._frames.append((t_s, left, right))
        while self._frames and self._frames[0][0] < t_s - self.buffer_s:
            self._frames.popleft()

    def metrics(self, side: str, t_contact_s: float, t_end_s: float) -> tuple[float | None, float | None]:
        """(arm_cross_norm, arm_swing_norm) of the ``side`` hand over a step's window; None where not seen."""
        t_hi = t_end_s + FLIGHT_SHARE * max(t_end_s - t_contact_s, 0.0)
        col = 1 if side == "left" else 2
        window = [f[col] for f in self._frames if t_contact_s <= f[0] <= t_hi]
        values = np.asarray([v for v in window if math.isfinite(v)])
        if values.size < MIN_FRAMES or values.size < SEEN_SHARE * len(window):
            return None, None
        return float(-values.min()), float(values.max() - values.min())

    def measure(self, step: Step) -> Step:
        """The step with its arm metrics."""
        cross, swing = self.metrics(step.side, step.t_contact_s, step.t_end_s)
        return replace(step, arm_cross_norm=cross, arm_swing_norm=swing)
