"""Arm swing per step (station.gait.arms): the stance-side hand against the body's midline, in hip widths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from station.coco import NUM_KEYPOINTS, BodyPart
from station.gait.analyzer import analyze_track
from station.gait.arms import ArmSwing, wrist_offsets
from station.gait.steps import Step
from station.gait.summary import summarize
from station.simulate import RunnerParams, SimulatedRunner


def pose(left_wrist_x: float, right_wrist_x: float) -> tuple[np.ndarray, np.ndarray]:
    """A runner seen from behind: hips 40 px apart around x = 320, shoulders above them, wrists at hip height."""
    xy = np.zeros((NUM_KEYPOINTS, 2))
    xy[BodyPart.LEFT_HIP], xy[BodyPart.RIGHT_HIP] = (300, 300), (340, 300)
    xy[BodyPart.LEFT_SHOULDER], xy[BodyPart.RIGHT_SHOULDER] = (290, 200), (350, 200)
    xy[BodyPart.LEFT_WRIST], xy[BodyPart.RIGHT_WRIST] = (left_wrist_x, 300), (right_wrist_x, 300)
    return xy, np.ones(NUM_KEYPOINTS, bool)


def test_offsets_are_hip_widths_from_the_midline_positive_on_the_hands_own_side() -> None:
    xy, ok = pose(310.0, 360.0)
    left, right = wrist_offsets(xy, ok)
    assert left == pytest.approx(0.25) and right == pytest.approx(1.0)
    xy, ok = pose(330.0, 300.0)  # both hands past the midline
    left, right = wrist_offsets(xy, ok)
    assert left == pytest.approx(-0.25) and right == pytest.approx(-0.5)
    ok[BodyPart.RIGHT_SHOULDER] = False  # no midline without both shoulders
    assert all(math.isnan(v) for v in wrist_offsets(xy, ok))


def test_a_step_takes_the_stance_side_hand_over_its_stance_and_half_the_flight() -> None:
    arms = ArmSwing()
    # the left hand sweeps from 0.5 hip widths on its own side to 0.25 past the midline and back
    for i, t in enumerate(np.arange(0.0, 0.6, 1 / 60)):
        x = 300.0 + 30.0 * math.sin(math.pi * i / 35)
        arms.add(float(t), *pose(x, 360.0))
    step = arms.measure(Step(side="left", t_contact_s=0.0, t_end_s=0.3))
    assert step.arm_cross_norm == pytest.approx(0.25, abs=0.01)  # crossed by a quarter of a hip width
    assert step.arm_swing_norm == pytest.approx(0.75, abs=0.02)  # from +0.5 to -0.25
    right = arms.measure(Step(side="right", t_contact_s=0.0, t_end_s=0.3))
    assert right.arm_cross_norm == pytest.approx(-1.0) and right.arm_swing_norm == pytest.approx(0.0)


def test_wrists_not_seen_give_no_arm_metrics_never_zero() -> None:
    arms = ArmSwing()
    for t in np.arange(0.0, 0.5, 1 / 30):
        xy, ok = pose(310.0, 330.0)
        ok[BodyPart.LEFT_WRIST] = t < 0.1  # seen in fewer than half of the frames
        arms.add(float(t), xy, ok)
    step = arms.measure(Step(side="left", t_contact_s=0.0, t_end_s=0.3))
    assert step.arm_cross_norm is None and step.arm_swing_norm is None
    assert arms.measure(Step(side="right", t_contact_s=0.0, t_end_s=0.3)).arm_cross_norm == pytest.approx(-0.25)


def _steps(params: RunnerParams, duration_s: float = 20.0) -> list[Step]:
    poses = list(SimulatedRunner(params).poses(fps=30.0, duration_s=duration_s))
    return analyze_track(np.array([p.t_s for p in poses]), np.stack([p.xy for p in poses]),
                         np.stack([p.score for p in poses]))


def test_the_analyzer_measures_hands_swinging_inward_on_a_simulated_runner() -> None:
    """Hands that swing 0.3 m further inward cross nearer the midline and swing wider; the drop is untouched."""
    straight, inward = _steps(RunnerParams(seed=3)), _steps(RunnerParams(seed=3, arm_inward_m=0.3))
    a, b = summarize(straight), summarize(inward)
    for side in ("left", "right"):
        assert a.side(side).means["arm_cross_norm"] < -0.8  # the hands stay on their own side
        # the hand at the front of its swing comes ~0.1 m (0.35 of the 0.3 m at this stride) nearer: ~0.5 hip width
        gain = b.side(side).means["arm_cross_norm"] - a.side(side).means["arm_cross_norm"]
        assert 0.35 < gain < 0.7
        assert b.side(side).means["arm_swing_norm"] > a.side(side).means["arm_swing_norm"] + 0.35
        assert b.side(side).means["drop_excursion_deg"] == pytest.approx(a.side(side).means["drop_excursion_deg"])
    measured = [s for s in inward if s.arm_cross_norm is not None]
    assert len(measured) >= 0.9 * len(inward)
