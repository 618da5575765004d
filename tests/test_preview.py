"""Framing advice, skeleton drawing and the atomic preview JPEG (station/preview.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from station.coco import BodyPart
from station.errors import InputError
from station.gait.framing import (
    FRAMING_OK,
    HIPS_NOT_VISIBLE,
    LEGS_NOT_VISIBLE,
    MOVE_LEFT,
    MOVE_RIGHT,
    NO_RUNNER,
    SIDE_ON,
    TOO_BIG,
    TOO_SMALL,
    framing_advice,
    framing_ok,
)
from station.keypoints import read_track_csv
from station.preview import COLOR_LEFT, COLOR_MID, COLOR_RIGHT, draw_skeleton, encode_jpeg_atomic
from tests.conftest import require_shared

W, H = 640, 480
SIZE = (W, H)


def runner(cx: float = 320.0, hip_y: float = 240.0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A runner seen from behind (posterior: left hip on the image's left), whole body, level hips."""
    pts = {
        BodyPart.NOSE: (0, -150), BodyPart.LEFT_EYE: (-5, -155), BodyPart.RIGHT_EYE: (5, -155),
        BodyPart.LEFT_EAR: (-10, -152), BodyPart.RIGHT_EAR: (10, -152),
        BodyPart.LEFT_SHOULDER: (-25, -120), BodyPart.RIGHT_SHOULDER: (25, -120),
        BodyPart.LEFT_ELBOW: (-32, -75), BodyPart.RIGHT_ELBOW: (32, -75),
        BodyPart.LEFT_WRIST: (-28, -40), BodyPart.RIGHT_WRIST: (28, -40),
        BodyPart.LEFT_HIP: (-16, 0), BodyPart.RIGHT_HIP: (16, 0),
        BodyPart.LEFT_KNEE: (-14, 90), BodyPart.RIGHT_KNEE: (14, 90),
        BodyPart.LEFT_ANKLE: (-12, 170), BodyPart.RIGHT_ANKLE: (12, 170),
    }
    xy = np.array([[cx + scale * dx, hip_y + scale * dy] for dx, dy in (pts[p] for p in BodyPart)])
    return xy, np.full(17, 0.9)


def rotate(xy: np.ndarray, deg: float, centre: tuple[float, float] = (W / 2, H / 2)) -> np.ndarray:
    """Rotate image points as a camera rolled by ``deg`` would see them (y down)."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    d = xy - np.asarray(centre)
    return np.asarray(centre) + np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], axis=-1)


def test_a_well_framed_runner_is_ok() -> None:
    xy, score = runner()
    advice = framing_advice(xy, score, SIZE)
    assert advice == [FRAMING_OK]
    assert framing_ok(advice)


def test_nobody_in_view() -> None:
    assert framing_advice(np.zeros((17, 2)), np.zeros(17), SIZE) == [NO_RUNNER]
    xy, score = runner()
    score[:] = 0.1  # everything below min_score
    assert framing_advice(xy, score, SIZE) == [NO_RUNNER]
    # only a head and shoulders (someone walking past the top of the picture) is no runner either
    score = np.zeros(17)
    score[: int(BodyPart.RIGHT_SHOULDER) + 1] = 0.9
    assert framing_advice(xy, score, SIZE) == [NO_RUNNER]


def test_hips_not_visible() -> None:
    xy, score = runner()
    score[[BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP]] = 0.05
    advice = framing_advice(xy, score, SIZE)
    assert HIPS_NOT_VISIBLE in advice
    assert not framing_ok(advice)


def test_legs_not_visible_when_missing_or_cut_by_the_bottom_edge() -> None:
    xy, score = runner()
    score[[BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE]] = 0.0
    assert framing_advice(xy, score, SIZE) == [LEGS_NOT_VISIBLE]
    # the whole runner low in the picture: the ankles sit on the bottom edge
    xy, score = runner(hip_y=H - 170 + 2)
    assert LEGS_NOT_VISIBLE in framing_advice(xy, score, SIZE)


def test_too_small_and_too_close() -> None:
    xy, score = runner(scale=0.4)  # hip-to-ankle 68 px of 480, hips 13 px apart
    assert framing_advice(xy, score, SIZE) == [TOO_SMALL]
    xy, score = runner(scale=2.2, hip_y=80)  # hip-to-ankle 374 px of 480, feet still in the picture
    assert framing_advice(xy, score, SIZE) == [TOO_BIG]
    # a short frame: tall enough relative to it, but 13 px hips are too coarse to measure an angle
    xy, score = runner(scale=0.4, hip_y=100)
    assert framing_advice(xy, score, (640, 200)) == [TOO_SMALL]


def test_a_camera_round_to_the_side_is_not_told_to_move_closer() -> None:
    xy, score = runner()
    hips_etc = np.arange(17) >= BodyPart.LEFT_SHOULDER
    xy[hips_etc, 0] = 320 + (xy[hips_etc, 0] - 320) * 0.3  # seen ~73° off the runner's axis: 10 px hips, 170 px legs
    assert framing_advice(xy, score, SIZE) == [SIDE_ON]
    xy, score = runner()
    xy[:, 0] = 320 + (xy[:, 0] - 320) * 0.7  # 45° round: foreshortened, still measurable
    assert framing_advice(xy, score, SIZE) == [FRAMING_OK]


@pytest.mark.parametrize(("cx", "expected"), [(120.0, MOVE_LEFT), (540.0, MOVE_RIGHT), (360.0, FRAMING_OK)])
def test_off_centre_says_which_way(cx: float, expected: str) -> None:
    xy, score = runner(cx=cx)
    assert framing_advice(xy, score, SIZE) == [expected]


def test_view_mismatch_is_noticed() -> None:
    xy, score = runner()
    assert framing_advice(xy, score, SIZE, view="posterior") == [FRAMING_OK]
    advice = framing_advice(xy, score, SIZE, view="anterior")
    assert len(advice) == 1 and "reversed" in advice[0] and "posterior" in advice[0]


def test_level_needs_a_window_and_flags_a_rolled_camera() -> None:
    xy, score = runner()
    tilted = rotate(xy, 8.0)
    # one frame: a hip line tilted 8° is a normal moment of stance, not evidence of roll
    assert framing_advice(tilted, score, SIZE) == [FRAMING_OK]
    window = np.repeat(tilted[None], 40, axis=0)
    advice = framing_advice(window, np.repeat(score[None], 40, axis=0), SIZE)
    assert len(advice) == 1 and advice[0].startswith("camera not level?") and "8°" in advice[0]


def test_window_tolerates_dropouts_that_a_single_frame_does_not() -> None:
    xy, score = runner()
    xs = np.repeat(xy[None], 30, axis=0)
    ss = np.repeat(score[None], 30, axis=0)
    ss[::5, BodyPart.LEFT_ANKLE] = 0.0  # a dropout every fifth frame
    assert framing_advice(xs[0], ss[0], SIZE) == [LEGS_NOT_VISIBLE]
    assert framing_advice(xs, ss, SIZE) == [FRAMING_OK]


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError):
        framing_advice(np.zeros((16, 2)), np.zeros(16), SIZE)
    with pytest.raises(InputError):
        framing_advice(np.zeros((17, 2)), np.zeros(17), (0, 480))


def _fukuchi(name: str):
    return read_track_csv(require_shared("mocap", "fukuchi2017", f"{name}.track.csv"))


def test_real_treadmill_track_frames_well() -> None:
    """The Fukuchi track (virtual camera 3 m behind, 640x480) is well framed: every frame and every second OK."""
    track = _fukuchi("s01_30fps_clean")
    for i in range(len(track)):
        assert framing_advice(track.xy[i], track.score[i], SIZE) == [FRAMING_OK], f"frame {i}"
    n = 30
    for i in range(0, len(track) - n, n):
        assert framing_advice(track.xy[i : i + n], track.score[i : i + n], SIZE) == [FRAMING_OK], f"window {i}"


def test_real_noisy_track_is_ok_over_windows() -> None:
    track = _fukuchi("s01_30fps_noisy")  # 2 % low-score dropouts: single frames may complain, windows must not
    n = 30
    for i in range(0, len(track) - n, n):
        assert framing_advice(track.xy[i : i + n], track.score[i : i + n], SIZE) == [FRAMING_OK], f"window {i}"


def test_real_track_moved_and_rolled() -> None:
    track = _fukuchi("s01_30fps_clean")
    sl = slice(0, 60)
    shifted = track.xy[sl] + np.array([200.0, 0.0])  # runner at x ≈ 520 of 640
    assert framing_advice(shifted, track.score[sl], SIZE) == [MOVE_RIGHT]
    small = (track.xy[sl] - [320, 240]) * 0.4 + [320, 240]  # the camera three times as far back
    assert TOO_SMALL in framing_advice(small, track.score[sl], SIZE)
    rolled = rotate(track.xy[sl], -10.0)
    advice = framing_advice(rolled, track.score[sl], SIZE)
    assert any(a.startswith("camera not level?") for a in advice), advice


def test_draw_skeleton_draws_sides_in_their_colours_on_a_copy() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    xy, score = runner()
    out = draw_skeleton(image, xy, score, min_score=0.3)
    assert out is not image and not image.any()  # the input is untouched
    lh, rh = xy[BodyPart.LEFT_HIP], xy[BodyPart.RIGHT_HIP]
    mid = np.round((lh + rh) / 2).astype(int)
    assert tuple(out[mid[1], mid[0]]) == COLOR_MID  # the hip line
    lk = np.round((xy[BodyPart.LEFT_KNEE] + xy[BodyPart.LEFT_ANKLE]) / 2).astype(int)
    rk = np.round((xy[BodyPart.RIGHT_KNEE] + xy[BodyPart.RIGHT_ANKLE]) / 2).astype(int)
    assert tuple(out[lk[1], lk[0]]) == COLOR_LEFT
    assert tuple(out[rk[1], rk[0]]) == COLOR_RIGHT
    # a keypoint below min_score takes its edges with it
    score[BodyPart.LEFT_ANKLE] = 0.1
    out2 = draw_skeleton(image, xy, score, min_score=0.3)
    assert not out2[lk[1], lk[0]].any()
    # no pose: a plain copy
    assert np.array_equal(draw_skeleton(image, None, None), image)
    with pytest.raises(InputError):
        draw_skeleton(np.zeros((4, 4), np.uint8), xy, score)


def test_encode_jpeg_atomic_round_trips(tmp_path: Path) -> None:
    image = np.zeros((H, W, 3), np.uint8)
    image[:, : W // 2] = (200, 30, 30)  # red left half (RGB)
    path = tmp_path / "run" / "preview.jpg"
    n = encode_jpeg_atomic(image, path)
    assert path.stat().st_size == n > 0
    back = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert back.shape == image.shape
    assert np.abs(back[10, 10].astype(int) - (200, 30, 30)).max() < 12  # colour order kept
    assert [p.name for p in path.parent.iterdir()] == ["preview.jpg"]  # no temporary left behind


def test_a_reader_never_sees_half_a_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "preview.jpg"
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(3)]
    encode_jpeg_atomic(frames[0], path)
    stop = threading.Event()
    bad: list[int] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            encode_jpeg_atomic(frames[i % 3], path, quality=90)
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(200):
            data = path.read_bytes()
            if not (data.startswith(b"\xff\xd8") and data.rstrip(b"\x00").endswith(b"\xff\xd9")):
                bad.append(len(data))
    finally:
        stop.set()
        writer.join()
    assert bad == []


def test_encode_jpeg_atomic_reports_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from station.errors import StationError

    with pytest.raises(StationError, match="cannot write"):
        encode_jpeg_atomic(np.zeros((8, 8, 3), np.uint8), blocker / "preview.jpg")
