"""BlazePose full (MediaPipe's detector + landmark models from the mediapipe 0.10.14 wheel) on real images.

The models are fetched from PyPI once (``gait-station models fetch blazepose-full``,
the wheel cached under ~/.cache/gait-station). Off CI, no PyPI means a skip;
under CI=true it is a failure.

Tolerance, measured: on image1 and image2 every keypoint is within 21 px of the
reference (the MoveNet test's figure; worst 18 px), except image2's left wrist,
which is hidden under the crossed right arm: BlazePose puts it at the crossing,
the reference (a MoveNet output) at the elbow's end, 48-57 px apart. That one
keypoint is held to 60 px.
"""

from __future__ import annotations

import csv
import math

import cv2
import numpy as np
import pytest

from station.coco import BodyPart
from station.errors import ModelError
from station.pose import load_estimator
from station.pose.blazepose import COCO_FROM_BLAZEPOSE, BlazePose, region_from_points, ssd_anchor_centres
from station.pose.crop import Square, cut
from tests.conftest import require_shared

TF_EXAMPLES = ("pose_golden", "tf_examples_pose_estimation")
TOLERANCE_PX = 21.0
OCCLUDED = {(1, BodyPart.LEFT_WRIST): 60.0}  # image2: arms crossed, the left wrist is under the right arm


@pytest.fixture(scope="module")
def blazepose_files(blazepose_spec) -> dict:
    from station.pose.models import model_files

    return model_files(blazepose_spec)


@pytest.fixture
def blazepose(blazepose_files) -> BlazePose:
    est = load_estimator("blazepose-full", num_threads=2, pelvis_line=False)  # the model itself
    assert isinstance(est, BlazePose)
    return est


def read_rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def truth(index: int) -> np.ndarray:
    with require_shared(*TF_EXAMPLES, "pose_landmark_truth.csv").open() as f:
        rows = list(csv.reader(f))
    return np.array(rows[1 + index], dtype=float).reshape(17, 2)


# -- pure parts -----------------------------------------------------------------------


def test_anchors_match_mediapipes_pose_detector_layout():
    a = ssd_anchor_centres()
    assert a.shape == (2254, 2)  # 28×28×2 + 14×14×2 + 7×7×6
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])
    assert (a[1960:1966] == a[1960]).all()  # the three stride-32 layers share one grid, 6 anchors a cell


def test_region_from_points_upright_and_leaning():
    up = region_from_points(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert (up.cx, up.cy) == (100.0, 200.0)
    assert up.half == pytest.approx(80 * 1.25) and up.rotation == pytest.approx(0.0)
    lean = region_from_points(np.array([0.0, 0.0]), np.array([50.0, -50.0]))  # scale point up and to the right
    assert lean.rotation == pytest.approx(math.pi / 4)  # clockwise on screen


def test_rotated_crop_maps_back_to_the_frame():
    img = np.zeros((300, 400, 3), np.uint8)
    img[140:160, 240:260] = 255  # a white square at (250, 150)
    region = Square(250.0, 150.0, 60.0, math.radians(30))
    crop = cut(img, region, 120)
    ys, xs = np.nonzero(crop.image[:, :, 0] > 128)
    centre_in_crop = np.array([xs.mean(), ys.mean()])
    np.testing.assert_allclose(crop.points_to_frame(centre_in_crop[None])[0], [250, 150], atol=1.0)
    # the crop's top-centre lies along the region's "up", (sin r, -cos r), from the centre
    top = crop.points_to_frame(np.array([[60.0, 0.0]]))[0]
    np.testing.assert_allclose(top, [250 + 60 * math.sin(region.rotation), 150 - 60 * math.cos(region.rotation)])


def test_the_33_landmarks_map_onto_coco():
    assert len(COCO_FROM_BLAZEPOSE) == 17
    assert COCO_FROM_BLAZEPOSE[BodyPart.NOSE] == 0
    assert COCO_FROM_BLAZEPOSE[BodyPart.LEFT_HIP] == 23 and COCO_FROM_BLAZEPOSE[BodyPart.RIGHT_HIP] == 24
    assert COCO_FROM_BLAZEPOSE[BodyPart.LEFT_ANKLE] == 27 and COCO_FROM_BLAZEPOSE[BodyPart.RIGHT_ANKLE] == 28


# -- the real models --------------------------------------------------------------------


@pytest.mark.parametrize("index,image", [(0, "image1.png"), (1, "image2.jpeg")])
def test_keypoints_near_the_reference(blazepose, index, image):
    img = read_rgb(require_shared(*TF_EXAMPLES, image))
    expected = truth(index)
    limit = np.full(17, TOLERANCE_PX)
    for (i, part), px in OCCLUDED.items():
        if i == index:
            limit[part] = px
    for call in range(3):  # detector on the first call, then the region tracked from the landmarks
        pose = blazepose.estimate(img, t_s=call / 30)
        err = np.linalg.norm(pose.xy - expected, axis=1)
        bad = [f"{BodyPart(k).name} {err[k]:.0f}px" for k in range(17) if err[k] > limit[k]]
        assert not bad, f"{image} call {call}: {bad}"
        assert pose.score.min() > 0.5  # everyone is in plain view
    assert blazepose.last_passes == 1  # tracked: the landmark model alone


@pytest.mark.parametrize("name", ["blazepose-lite", "blazepose-heavy"])
def test_lite_and_heavy_keypoints_near_the_reference(name, blazepose_spec):
    """The npm package's lite and heavy landmark models, behind the wheel's detector, on the same images and
    tolerance as full (measured worst, non-occluded: lite 18 px, heavy 14 px; the hidden wrist 44 / 51 px)."""
    from station.pose.models import fetch, is_installed, load_manifest
    from tests.conftest import skip_or_fail

    spec = load_manifest().get(name)
    if not is_installed(spec):
        try:
            fetch(name)
        except ModelError as exc:
            skip_or_fail(f"{name} is not installed and could not be fetched: {exc}")
    for index, image in enumerate(("image1.png", "image2.jpeg")):
        img = read_rgb(require_shared(*TF_EXAMPLES, image))
        limit = np.full(17, TOLERANCE_PX)
        for (i, part), px in OCCLUDED.items():
            if i == index:
                limit[part] = px
        with load_estimator(name, num_threads=2, pelvis_line=False) as est:
            for call in range(3):  # detector, then the tracked region
                pose = est.estimate(img, t_s=call / 30)
        err = np.linalg.norm(pose.xy - truth(index), axis=1)
        assert not [BodyPart(k).name for k in range(17) if err[k] > limit[k]], (image, np.round(err))


def test_first_frame_runs_the_detector_then_tracks(blazepose):
    img = read_rgb(require_shared(*TF_EXAMPLES, "image3.jpeg"))
    blazepose.estimate(img)
    assert blazepose.last_passes == 2  # detector + landmarks
    assert blazepose._region is not None
    blazepose.estimate(img)
    assert blazepose.last_passes == 1


def test_nobody_gives_an_empty_pose_and_forgets_the_region(blazepose):
    img = read_rgb(require_shared(*TF_EXAMPLES, "image1.png"))
    blazepose.estimate(img)
    assert blazepose._region is not None
    pose = blazepose.estimate(np.full_like(img, 200))
    assert pose.score.max() == 0.0 and blazepose._region is None
    assert blazepose.last_passes == 2  # the tracked region failed, the detector found nobody


def test_wrong_files_for_blazepose_are_model_errors(blazepose_files, tmp_path):
    lightning = require_shared("models", "movenet_singlepose_lightning_int8_v4.tflite")
    with pytest.raises(ModelError, match="does not look like the BlazePose landmark model"):
        load_estimator("blazepose-full", model_path=lightning)
    with pytest.raises(ModelError, match="does not look like MoveNet"):
        load_estimator("movenet-lightning-int8", model_path=blazepose_files["detector"])
    d = tmp_path / "bp"
    d.mkdir()
    (d / "pose_detection.tflite").write_bytes(lightning.read_bytes())
    (d / "pose_landmark_full.tflite").write_bytes(blazepose_files["landmarks"].read_bytes())
    with pytest.raises(ModelError, match="does not look like the BlazePose detector"):
        load_estimator("blazepose-full", model_path=d)
