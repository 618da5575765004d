"""The pelvis line read from the picture (station.pose.pelvis) on synthetic backs with a known tilt.

A synthetic runner seen from behind: a trunk (shirt) turned by a third of the pelvis's tilt, a pelvis
(the shirt's lower edge, the waistband, the tights and the legs) turned by the tilt, on a cluttered,
asymmetric background. The "model" gives level hips (what the pose models do); the pass must read the
tilt, follow a rolled camera, turn only the hip line, and leave the hips alone where there is no waist.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from station.coco import BodyPart
from station.keypoints import Pose
from station.pose.base import PoseEstimator
from station.pose.pelvis import PelvisLine, PelvisRefined

LH, RH, LS, RS = BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP, BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER
SHIRT, TIGHTS, SKIN = (40, 150, 90), (35, 40, 80), (150, 100, 70)
S = 84.0  # shoulder width, px (a 540x960 frame at 3 m)


def _to_image(pts: np.ndarray, angle_deg: float, origin: np.ndarray) -> np.ndarray:
    """Body-frame points (u right, v down, px) turned by angle_deg (+ = right end up on screen) to image px."""
    r = math.radians(angle_deg)
    rot = np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]])
    return pts @ rot.T + origin


def _fill(img: np.ndarray, pts: np.ndarray, colour: tuple[int, int, int], angle: float, origin: np.ndarray) -> None:
    cv2.fillPoly(img, [np.round(_to_image(pts, angle, origin) * 16).astype(np.int32)], colour, cv2.LINE_AA, shift=4)


def synthetic_back(tilt_deg: float, roll_deg: float = 0.0, seed: int = 0) -> tuple[np.ndarray, Pose]:
    """A 540x960 picture of a back whose pelvis is tilted by tilt_deg, and a pose with level hips."""
    rng = np.random.default_rng(seed)
    w, h = 540, 960
    small = rng.integers(40, 220, (12, 7, 3)).astype(np.uint8)  # blocky, asymmetric background
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    hip = np.array([270.0, 520.0])
    trunk = 0.3 * tilt_deg
    # trunk: shoulders to just above the waist, turned by a third of the tilt
    _fill(img, np.array([[-0.55, -1.45], [0.55, -1.45], [0.42, -0.45], [-0.42, -0.45]]) * S, SHIRT, trunk, hip)
    # arms beside the trunk (asymmetric: one forward, one back)
    _fill(img, np.array([[-0.62, -1.4], [-0.5, -1.4], [-0.55, -0.2], [-0.68, -0.2]]) * S, SKIN, trunk, hip)
    _fill(img, np.array([[0.5, -1.4], [0.62, -1.4], [0.75, -0.7], [0.62, -0.65]]) * S, SKIN, trunk, hip)
    # pelvis: the shirt's lower part with a zig-zag hem, tights from the waistband down, the legs
    hem_u = np.linspace(-0.44, 0.44, 12)
    hem = np.stack([hem_u, -0.2 + 0.025 * (np.arange(12) % 2)], axis=1)
    shirt_low = np.vstack([[[-0.43, -0.5], [0.43, -0.5]], hem[::-1]])
    _fill(img, np.array([[-0.44, -0.22], [0.44, -0.22], [0.47, 0.25], [0.1, 0.35], [-0.1, 0.35], [-0.47, 0.25]]) * S,
          TIGHTS, tilt_deg, hip)
    _fill(img, shirt_low * S, SHIRT, tilt_deg, hip)
    for side in (-1, 1):
        _fill(img, np.array([[side * 0.05, 0.2], [side * 0.45, 0.2], [side * 0.35, 1.6], [side * 0.12, 1.6]]) * S,
              TIGHTS, tilt_deg, hip)
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    xy = np.zeros((17, 2))
    xy[LS], xy[RS] = _to_image(np.array([[-0.5, -1.35], [0.5, -1.35]]) * S, trunk, hip)
    xy[LH], xy[RH] = hip + (-0.2 * S, 0.0), hip + (0.2 * S, 0.0)  # level, as the models read it
    score = np.zeros(17)
    score[[LS, RS, LH, RH]] = 0.9
    if roll_deg:
        # the whole picture turned by roll_deg on screen (+ = counter-clockwise: a level line's right end up)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), roll_deg, 1.0)
        img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        xy = xy @ m[:, :2].T + m[:, 2]
    return img, Pose(0.0, xy, score, (w, h))


def _angle(pose: Pose) -> float:
    left, right = pose.xy[LH], pose.xy[RH]
    if left[0] > right[0]:
        left, right = right, left
    return math.degrees(math.atan2(-(right[1] - left[1]), right[0] - left[0]))


@pytest.mark.parametrize("tilt", [-5.0, -2.0, 0.0, 1.0, 3.0])
def test_reads_the_tilt_of_the_waist_where_the_models_hips_are_level(tilt):
    img, pose = synthetic_back(tilt)
    line = PelvisLine()
    for _ in range(3):  # a few frames: the scale is a median over frames, the search starts at the last reading
        out = line.refine(img, pose)
    assert line.last is not None and line.last.symmetry > 0.8
    assert _angle(out) == pytest.approx(tilt, abs=0.4)


@pytest.mark.parametrize("tilt", [-3.0, 1.0, 2.5])
def test_reading_does_not_jitter_with_where_the_model_put_the_hips(tilt):
    # the model's hips place the band; moving them by a fraction of a pixel to two pixels must not move the
    # reading (a parabola through only the best three tilts followed the resampling's jitter: 0.5-0.8° here)
    img, pose = synthetic_back(tilt)
    readings = []
    for dx, dy in [(0, 0), (0, 0.1), (0, 0.2), (0, 0.3), (0, 0.5), (0.1, 0), (0.3, 0), (0.5, 0.5), (0, 1), (1, 0),
                   (0, 2), (2, 0)]:
        xy = pose.xy.copy()
        xy[[LH, RH]] += (dx, dy)
        line = PelvisLine()
        for _ in range(3):
            line.refine(img, Pose(0.0, xy, pose.score, pose.frame_size))
        assert line.last is not None
        readings.append(line.last.angle_deg)
    assert max(readings) - min(readings) <= 0.2, readings
    assert np.mean(readings) == pytest.approx(tilt, abs=0.4)


@pytest.mark.parametrize("tilt", [-3.0, 0.0, 2.0])
def test_a_light_from_one_side_does_not_turn_the_reading(tilt):
    # the picture brighter towards one side (a window on the runner's right): the band's row-to-row change
    # is compared, not its brightness, so the shading drops out (with the brightness it moved 0.05-0.15°)
    img, pose = synthetic_back(tilt)
    ramp = 1.0 + 0.4 * (np.arange(img.shape[1]) - 270.0) / 270.0
    lit = np.clip(img * ramp[None, :, None], 0, 255).astype(np.uint8)
    readings = []
    for picture in (img, lit):
        line = PelvisLine()
        for _ in range(3):
            line.refine(picture, pose)
        assert line.last is not None
        readings.append(line.last.angle_deg)
    assert readings[1] == pytest.approx(readings[0], abs=0.03)
    assert readings[1] == pytest.approx(tilt, abs=0.4)


@pytest.mark.parametrize("roll", [-15.0, 20.0])
def test_follows_a_rolled_camera(roll):
    img, pose = synthetic_back(2.0, roll_deg=roll)
    out = PelvisLine().refine(img, pose)
    assert _angle(out) == pytest.approx(2.0 + roll, abs=0.5)


def test_turns_only_the_hip_line_about_its_midpoint():
    img, pose = synthetic_back(4.0)
    xy = pose.xy.copy()
    xy[[0, 7, 13, 15]] = [[270, 100], [200, 400], [240, 700], [250, 900]]
    pose = Pose(1.5, xy, pose.score, pose.frame_size)
    out = PelvisLine().refine(img, pose)
    others = [i for i in range(17) if i not in (LH, RH)]
    assert np.array_equal(out.xy[others], pose.xy[others]) and np.array_equal(out.score, pose.score)
    assert out.t_s == 1.5 and out.frame_size == pose.frame_size
    assert np.allclose(out.xy[[LH, RH]].mean(axis=0), pose.xy[[LH, RH]].mean(axis=0))
    assert np.hypot(*(out.xy[RH] - out.xy[LH])) == pytest.approx(np.hypot(*(pose.xy[RH] - pose.xy[LH])))
    assert out.xy[LH, 0] < out.xy[RH, 0] and out.xy[RH, 1] < out.xy[LH, 1]  # right end up: a +4 deg tilt
    # seen from the front the left hip is on the image's right, and stays there
    front = pose.xy.copy()
    front[[LH, RH]] = front[[RH, LH]]
    out = PelvisLine().refine(img, Pose(0.0, front, pose.score, pose.frame_size))
    assert out.xy[LH, 0] > out.xy[RH, 0] and _angle(out) == pytest.approx(4.0, abs=0.5)


def test_keeps_the_models_hips_where_there_is_no_symmetric_waist():
    rng = np.random.default_rng(1)
    _, pose = synthetic_back(0.0)
    noise = rng.integers(0, 255, (960, 540, 3)).astype(np.uint8)
    line = PelvisLine()
    assert line.refine(noise, pose) is pose and line.last is None


def test_keeps_the_models_hips_when_hips_or_shoulders_are_unseen_or_too_small():
    img, pose = synthetic_back(3.0)
    for part in (LH, RS):
        score = pose.score.copy()
        score[part] = 0.1
        blind = Pose(0.0, pose.xy, score, pose.frame_size)
        assert PelvisLine().refine(img, blind) is blind
    tiny = pose.xy.copy()
    tiny[[LS, RS]] = tiny[[LS, RS]].mean(axis=0) + [[-10, 0], [10, 0]]  # shoulders 20 px apart
    small = Pose(0.0, tiny, pose.score, pose.frame_size)
    assert PelvisLine().refine(img, small) is small


class _Fixed(PoseEstimator):
    name = "fixed"
    input_size = 192

    def __init__(self, pose: Pose) -> None:
        self.pose = pose
        self.resets = self.closes = 0

    def estimate(self, image: np.ndarray, t_s: float = 0.0) -> Pose:
        return Pose(t_s, self.pose.xy, self.pose.score, self.pose.frame_size)

    def reset(self) -> None:
        self.resets += 1

    def close(self) -> None:
        self.closes += 1


def test_refined_estimator_is_the_model_with_the_hip_line_turned():
    img, pose = synthetic_back(-3.0)
    base = _Fixed(pose)
    with PelvisRefined(base) as est:
        assert est.name == "fixed" and est.input_size == 192
        out = est.estimate(img, 2.0)
        assert out.t_s == 2.0 and _angle(out) == pytest.approx(-3.0, abs=0.4)
        est.reset()
        assert base.resets == 1 and est.line.last is None
    assert base.closes == 1


def test_load_estimator_adds_the_pass_unless_turned_off():
    from station.pose import load_estimator
    from station.pose.movenet import MoveNet
    from tests.conftest import require_shared

    model = require_shared("models", "movenet_singlepose_lightning_int8_v4.tflite")
    with load_estimator("movenet-lightning-int8", model_path=model) as est:  # on by default
        assert isinstance(est, PelvisRefined) and isinstance(est.base, MoveNet)
        assert est.input_size == 192 and len(est.tflite_models) == 1
    with load_estimator("movenet-lightning-int8", model_path=model, pelvis_line=False) as est:  # the model itself
        assert isinstance(est, MoveNet)


def test_config_switches_the_pass():
    from station.config import from_dict
    from station.errors import InputError

    assert from_dict({}).model.pelvis_line is True  # on unless turned off
    assert from_dict({"model": {"pelvis_line": False}}).model.pelvis_line is False
    with pytest.raises(InputError, match="model.pelvis_line"):
        from_dict({"model": {"pelvis_line": "yes"}})


def test_hip_midpoint_follows_the_waist_of_this_frame_not_a_lagging_model():
    """A back bobbing up and down, the model's hips one frame late (a tracking crop's lag).

    The midpoint's motion is the picture's."""
    img0, pose0 = synthetic_back(2.0)
    line = PelvisLine()
    true_mid = pose0.xy[[LH, RH]].mean(axis=0)
    errors_model, errors_out = [], []
    prev_dy = 0.0
    for k in range(60):  # 2 s at 30 fps
        dy = 12.0 * math.sin(2 * math.pi * k / 9.0)  # the pelvis's vertical bob, ~3.3 per second
        img = np.roll(img0, int(round(dy)), axis=0)
        xy = pose0.xy.copy()
        xy[[LH, RH]] += (0.0, round(prev_dy))  # the model reports last frame's hips
        out = line.refine(img, Pose(k / 30.0, xy, pose0.score, pose0.frame_size))
        prev_dy = dy
        if k >= 30:  # the offset's median has seen a second
            want = true_mid[1] + round(dy)
            errors_model.append(xy[[LH, RH], 1].mean() - want)
            errors_out.append(out.xy[[LH, RH], 1].mean() - want)
        assert _angle(out) == pytest.approx(2.0, abs=0.6)
    # where the midpoint sits is the model's (a constant offset from the waist); how it moves is the picture's
    lag = np.ptp(errors_model)
    follows = np.ptp(errors_out)
    assert lag >= 15.0 and follows < 2.5, (lag, follows)


def test_midpoint_offset_starts_again_when_time_goes_back():
    img, pose = synthetic_back(1.0)
    line = PelvisLine()
    line.refine(img, Pose(5.0, pose.xy, pose.score, pose.frame_size))
    out = line.refine(img, Pose(0.0, pose.xy, pose.score, pose.frame_size))  # a new stream
    assert len(line._offsets) == 1
    assert np.allclose(out.xy[[LH, RH]].mean(axis=0), pose.xy[[LH, RH]].mean(axis=0))
