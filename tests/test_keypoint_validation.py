"""The per-frame pose-model report: keypoint errors against true joints, the obliquity error's stride-locked share."""

from __future__ import annotations

import numpy as np
import pytest

from station.keypoint_validation import image_obliquity_deg, keypoint_report, stride_locked_share, stride_phase
from station.keypoints import BodyPart


def _true_track(n: int = 600, fps: float = 60.0, stride_s: float = 0.76):
    """A runner seen from behind: hips 40 px apart, obliquity swinging at the step frequency."""
    t = np.arange(n) / fps
    theta = 3.0 * np.sin(2 * np.pi * 2 * t / stride_s)  # deg, two steps per stride
    xy = np.zeros((n, 17, 2))
    centre = np.array([320.0, 240.0])
    half = 20.0 * np.stack([np.cos(np.radians(theta)), -np.sin(np.radians(theta))], axis=1)
    xy[:, BodyPart.LEFT_HIP] = centre - half
    xy[:, BodyPart.RIGHT_HIP] = centre + half
    for name, dy in (("KNEE", 110.0), ("ANKLE", 220.0)):
        xy[:, BodyPart[f"LEFT_{name}"]] = xy[:, BodyPart.LEFT_HIP] + [0.0, dy]
        xy[:, BodyPart[f"RIGHT_{name}"]] = xy[:, BodyPart.RIGHT_HIP] + [0.0, dy]
    score = np.ones((n, 17))
    contacts = np.arange(0.0, t[-1] + stride_s, stride_s)
    return t, xy, score, theta, contacts


def test_obliquity_sign_is_designs_in_both_views():
    left, right = np.array([100.0, 200.0]), np.array([140.0, 190.0])  # right hip higher (y down), posterior
    assert image_obliquity_deg(left, right, "posterior") > 0
    # from the front the runner's right hip is on the image's left
    assert image_obliquity_deg(np.array([140.0, 200.0]), np.array([100.0, 190.0]), "anterior") > 0


def test_true_track_against_itself_has_no_error():
    t, xy, score, _, contacts = _true_track()
    r = keypoint_report(t, xy, score, t, xy, score, contacts)
    assert r.matched_frames == len(t) and r.hip_width_px == pytest.approx(40.0)
    assert all(e.median_px == 0.0 for e in r.joints.values())
    assert r.obliquity_bias_deg == pytest.approx(0.0, abs=1e-9) and r.obliquity_sd_deg == pytest.approx(0.0, abs=1e-9)


def test_an_offset_and_a_stride_locked_tilt_are_reported():
    t, xy, score, theta, contacts = _true_track()
    model = xy.copy()
    model[:, :, 1] -= 8.0  # every keypoint 8 px high, as MoveNet puts the hips above the joint centres
    # the model's right hip rides up and down with the stride (a 1.5 deg stride-locked tilt) + frame noise
    rng = np.random.default_rng(3)
    tilt = 1.5 * np.sin(2 * np.pi * stride_phase(t, contacts)) + rng.normal(0, 0.5, len(t))
    model[:, BodyPart.RIGHT_HIP, 1] -= 40.0 * np.radians(tilt)
    r = keypoint_report(t, model, score, t, xy, score, contacts)
    knee = r.joints["left_knee"]
    assert knee.median_px == pytest.approx(8.0) and knee.bias_y_px == pytest.approx(-8.0)
    assert r.joints["left_hip"].median_hip_width == pytest.approx(0.2)
    assert r.obliquity_bias_deg == pytest.approx(0.0, abs=0.15)
    assert r.obliquity_sd_deg == pytest.approx(np.sqrt(1.5**2 / 2 + 0.5**2), rel=0.1)
    assert 0.8 < r.obliquity_stride_locked_share < 0.95  # 1.125 / (1.125 + 0.25) of the variance


def test_white_noise_is_not_stride_locked():
    rng = np.random.default_rng(0)
    phase = (np.arange(3000) / 45.6) % 1.0
    share, rms = stride_locked_share(rng.normal(0, 1.0, 3000), phase)
    assert share < 0.02 and rms < 0.15


def test_frames_are_matched_by_time_and_unseen_keypoints_skipped():
    t, xy, score, _, contacts = _true_track(n=120, fps=30.0)
    model_score = score.copy()
    model_score[::2, BodyPart.LEFT_ANKLE] = 0.1  # half the frames lose the left ankle
    r = keypoint_report(t[10:50] + 0.002, xy[10:50], model_score[10:50], t, xy, score, contacts)
    assert r.frames == 40 and r.matched_frames == 40
    assert r.joints["left_ankle"].frames == 20 and r.joints["right_ankle"].frames == 40
