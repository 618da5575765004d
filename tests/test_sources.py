"""Frame sources: timestamps from the source, RGB uint8, one-line errors, idempotent close."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from station.camera import open_source
from station.camera.base import Frame
from station.camera.opencv import WebcamSource
from station.camera.picam import Picamera2Source, camera_present, lores_size_for, yuv420_to_rgb
from station.camera.track import TrackSource
from station.camera.video import VideoFileSource
from station.errors import InputError, MissingFileError, SourceError, StationError
from station.keypoints import read_track_csv
from tests.conftest import require_shared
from tests.media import cut_file, write_mp4

VFR_PTS_MS = [0, 33, 66, 100, 200, 233, 266, 400, 433, 466, 500, 533]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    long = write_mp4(d / "long.mp4", [33 * i for i in range(60)], size=(160, 120))
    png = d / "still.mp4"
    cv2.imwrite(str(d / "still.png"), np.zeros((40, 50, 3), np.uint8))
    (d / "still.png").rename(png)
    text = d / "notes.mp4"
    text.write_text("this is a shopping list, not a video\n" * 20)
    return {
        "vfr": write_mp4(d / "vfr.mp4", VFR_PTS_MS),
        "offset": write_mp4(d / "offset.mp4", [1000 + 40 * i for i in range(8)]),
        "long": long,
        "truncated": cut_file(long, d / "truncated.mp4", 0.5),
        "no_index": cut_file(write_mp4(d / "long_moov_at_end.mp4", [33 * i for i in range(60)], size=(160, 120),
                                       faststart=False), d / "no_index.mp4", 0.5),
        "png": png,
        "text": text,
    }


def _frames(source) -> list[Frame]:
    with source:
        return list(source)


# --- video files -------------------------------------------------------------------------------


def test_video_timestamps_are_the_container_pts_not_index_over_fps(media):
    frames = _frames(VideoFileSource(media["vfr"]))
    assert [round(f.t_s * 1000) for f in frames] == VFR_PTS_MS
    # the gaps (100 ms, 134 ms) are kept: a frame counter at the nominal rate would not have them
    assert np.diff([f.t_s for f in frames]).max() == pytest.approx(0.134, abs=1e-6)
    assert [f.index for f in frames] == list(range(len(VFR_PTS_MS)))


def test_video_timestamps_count_from_the_stream_start(media):
    frames = _frames(VideoFileSource(media["offset"]))
    assert [f.t_s for f in frames] == pytest.approx([0.04 * i for i in range(8)], abs=1e-6)


def test_video_frames_are_rgb_uint8_in_source_pixels(tmp_path):
    red = np.zeros((48, 64, 3), np.uint8)
    red[..., 0] = 220  # R channel only
    path = write_mp4(tmp_path / "red.mp4", [0, 33, 66], images=[red] * 3)
    with VideoFileSource(path) as src:
        assert (src.width, src.height) == (64, 48)
        frames = list(src)
    img = frames[0].image
    assert img.dtype == np.uint8 and img.shape == (48, 64, 3) and frames[0].size == (64, 48)
    mean = img.reshape(-1, 3).mean(axis=0)
    assert mean[0] > 180 and mean[1] < 40 and mean[2] < 40  # red stays in channel 0: RGB, not BGR


def test_video_display_rotation_is_applied(tmp_path):
    import av

    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display matrix")
    img = np.zeros((48, 64, 3), np.uint8)
    img[:8, :8] = 255  # a white block in the top-left corner of the stored picture
    path = write_mp4(tmp_path / "rot.mp4", [0, 33], images=[img, img], rotation_deg=90)
    frames = _frames(VideoFileSource(path))
    upright = frames[0].image
    assert upright.shape == (64, 48, 3)  # portrait after a quarter turn
    # 90° counter-clockwise takes the top-left corner to the bottom-left
    assert upright[-6:, :6].mean() > 200 and upright[:6, :6].mean() < 60


def test_real_clip_decodes_with_monotonic_container_times():
    path = require_shared("videos", "radluy_posterior_outdoor_run_openpose_rendered_30fps.mp4")
    with VideoFileSource(path) as src:
        assert src.expected_frames == 103 and src.fps == pytest.approx(30.0)
        times = [f.t_s for f in src if f.image.shape == (1080, 1920, 3)]
    assert len(times) == 103
    assert np.all(np.diff(times) > 0)
    assert times[-1] == pytest.approx(102 / 30, abs=1e-3)


def test_truncated_video_yields_what_decodes_then_fails(media):
    src = VideoFileSource(media["truncated"])
    got: list[Frame] = []
    pattern = r"truncated or damaged video: decoded (\d+) of the 60 frames"
    with pytest.raises(SourceError, match=pattern) as info, src:
        for frame in src:
            got.append(frame)
    assert 0 < len(got) < 60
    assert f"decoded {len(got)} of the 60" in str(info.value)
    assert np.all(np.diff([f.t_s for f in got]) > 0)


def test_truncated_matroska_is_told_by_its_duration(tmp_path):
    # Matroska has no frame index to count against: the stated duration gives the cut away
    whole = write_mp4(tmp_path / "whole.mkv", [33 * i for i in range(60)], size=(160, 120),
                      container_format="matroska")
    with VideoFileSource(whole) as src:
        assert src.expected_frames is None and src.duration_s == pytest.approx(1.98, abs=0.05)
        assert len(list(src)) == 60
    cut = cut_file(whole, tmp_path / "cut.mkv", 0.5)
    with pytest.raises(SourceError, match=r"truncated or damaged video: the frames end at 0\.\d+ s of its 1\.9"):
        _frames(VideoFileSource(cut))


def test_truncated_video_with_strict_false_warns(media, caplog):
    with caplog.at_level(logging.WARNING):
        frames = _frames(VideoFileSource(media["truncated"], strict=False))
    assert 0 < len(frames) < 60
    assert any("truncated" in r.getMessage() for r in caplog.records)


def test_complete_video_is_not_called_truncated(media, caplog):
    with caplog.at_level(logging.WARNING):
        frames = _frames(VideoFileSource(media["long"]))
    assert len(frames) == 60 and not caplog.records


@pytest.mark.parametrize(
    ("key", "error", "words"),
    [
        ("text", SourceError, "not a readable video"),
        ("png", InputError, "still image"),
        ("no_index", SourceError, "not a readable video"),
    ],
)
def test_not_a_video_is_one_line_error(media, key, error, words):
    with pytest.raises(error, match=words) as info:
        VideoFileSource(media[key])
    assert "\n" not in str(info.value) and str(media[key]) in str(info.value)


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(MissingFileError):
        VideoFileSource(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="directory"):
        VideoFileSource(tmp_path)


def test_video_source_closes_idempotently_and_iterates_once(media):
    src = VideoFileSource(media["vfr"])
    with src:
        first = next(iter(src))
        assert first.t_s == 0.0
    assert src.closed
    src.close()  # twice is fine
    with pytest.raises(SourceError, match="closed"):
        list(src)
    fresh = VideoFileSource(media["vfr"])
    list(fresh)
    with pytest.raises(SourceError, match="once"):
        list(fresh)
    fresh.close()


# --- pose track CSV ----------------------------------------------------------------------------


def test_track_source_replays_poses_with_their_times():
    path = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    track = read_track_csv(path)
    with TrackSource(path) as src:
        frames = list(src)
    assert len(frames) == len(track)
    assert all(f.image is None and f.pose is not None for f in frames)
    np.testing.assert_allclose([f.t_s for f in frames], track.t_s)
    np.testing.assert_allclose(frames[10].pose.xy, track.xy[10])


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "empty file"),
        ("a,b,c\n1,2,3\n", "not a pose track CSV"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not"),
    ],
)
def test_unreadable_track_csv_fails_on_open(tmp_path, content, words):
    path = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InputError, match=words) as info:
        TrackSource(path)
    assert "\n" not in str(info.value)


def test_track_with_a_bad_row_fails_at_that_row(tmp_path):
    good = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    lines = good.read_text().splitlines()[:6]
    cells = lines[4].split(",")
    cells[5] = "banana"
    lines[4] = ",".join(cells)
    path = tmp_path / "bad_row.csv"
    path.write_text("\n".join(lines) + "\n")
    with TrackSource(path) as src:
        it = iter(src)
        assert [next(it).index for _ in range(3)] == [0, 1, 2]
        with pytest.raises(InputError, match="line 5"):
            next(it)


def test_track_header_only_and_missing(tmp_path):
    good = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    path = tmp_path / "header.csv"
    path.write_text(good.read_text().splitlines()[0] + "\n")
    with pytest.raises(InputError, match="no rows"):
        TrackSource(path)
    with pytest.raises(MissingFileError):
        TrackSource(tmp_path / "absent.csv")


# --- webcam (OpenCV) ---------------------------------------------------------------------------


def test_webcam_that_does_not_open_is_a_source_error(capfd):
    with pytest.raises(SourceError, match="webcam 9 did not open"):
        WebcamSource(9)
    assert "WARN" not in capfd.readouterr().err  # OpenCV's own C++ warning is silenced
    with pytest.raises(InputError):
        WebcamSource(-1)


def test_webcam_uses_the_capture_timestamps_when_the_backend_gives_them(media):
    # OpenCV's FFmpeg backend reports the PTS as CAP_PROP_POS_MSEC, as V4L2 reports the buffer time
    cap = cv2.VideoCapture(str(media["vfr"]))
    with WebcamSource(0, capture=cap, clock=lambda: 1e9) as cam:
        frames = list(_take(cam, len(VFR_PTS_MS)))
        assert cam.clock == "capture"
    assert [round(f.t_s * 1000) for f in frames] == VFR_PTS_MS
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8


class _NoTimestampCapture:
    """OpenCV's VideoCapture interface as a backend without timestamps presents it (POS_MSEC = 0)."""

    def __init__(self, n: int) -> None:
        self.n, self.released = n, 0

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop: int, value: float) -> bool:
        return False

    def get(self, prop: int) -> float:
        return 0.0

    def grab(self) -> bool:
        self.n -= 1
        return self.n >= 0

    def retrieve(self):
        img = np.zeros((4, 6, 3), np.uint8)
        img[..., 2] = 200  # blue in OpenCV's BGR order
        return True, img

    def release(self) -> None:
        self.released += 1


def test_webcam_falls_back_to_the_monotonic_clock_read_at_grab():
    ticks = iter([100.0, 100.05, 100.1, 100.2])
    cap = _NoTimestampCapture(4)
    cam = WebcamSource(0, capture=cap, clock=lambda: next(ticks))
    frames = list(_take(cam, 4))
    assert cam.clock == "monotonic"
    assert [f.t_s for f in frames] == pytest.approx([0.0, 0.05, 0.1, 0.2])
    assert frames[0].image[0, 0].tolist() == [200, 0, 0]  # converted to RGB
    cam.close()
    cam.close()
    assert cap.released == 1


def test_webcam_unplugged_is_a_source_error():
    cam = WebcamSource(0, capture=_NoTimestampCapture(0), clock=time.monotonic)
    with pytest.raises(SourceError, match="no frames"):
        list(cam)


def _take(source, n: int):
    it = iter(source)
    for _ in range(n):
        yield next(it)


# --- picamera2 (stand-in camera; the real one is untested here) --------------------------------


class _Platform:
    def __init__(self, name: str) -> None:
        self.name = name


class _Request:
    def __init__(self, cam: _FakePicamera2, ts_ns: int) -> None:
        self.cam, self.ts_ns = cam, ts_ns

    def get_metadata(self) -> dict:
        return {"SensorTimestamp": self.ts_ns, "ExposureTime": 8000}

    def make_array(self, name: str) -> np.ndarray:
        return self.cam.arrays[name]

    def release(self) -> None:
        self.cam.released += 1


class _FakePicamera2:
    """The part of picamera2.Picamera2's interface the adapter uses, recording what it is asked."""

    def __init__(self, platform: str, lores: np.ndarray, main: np.ndarray, timestamps_ns: list[int]) -> None:
        self.platform = _Platform(platform)
        self.arrays = {"lores": lores, "main": main}
        self.timestamps = list(timestamps_ns)
        self.asked: dict | None = None
        self.calls: list[str] = []
        self.released = 0
        self.waits: list[float | None] = []
        self.adjusted: dict[str, dict] = {}  # what libcamera changed when validating the configuration

    def create_video_configuration(self, **kwargs) -> dict:
        self.asked = kwargs
        return {k: dict(v) if isinstance(v, dict) else v for k, v in kwargs.items()}

    def align_configuration(self, config: dict) -> None:
        self.calls.append("align")

    def configure(self, config: dict) -> None:
        self.configured = config
        self.calls.append("configure")

    def stream_configuration(self, name: str) -> dict:
        return {**self.configured[name], **self.adjusted.get(name, {})}

    def start(self) -> None:
        self.calls.append("start")

    def capture_request(self, wait: float | None = None) -> _Request:
        self.waits.append(wait)
        if not self.timestamps:
            raise TimeoutError()
        return _Request(self, self.timestamps.pop(0))

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


def _i420_with_stride(rgb: np.ndarray, stride: int) -> np.ndarray:
    """picamera2's YUV420 layout: (h * 3 / 2, stride) rows, planes padded to the stride."""
    h, w = rgb.shape[:2]
    padded = np.zeros((h, stride, 3), np.uint8)
    padded[:, :w] = rgb
    padded[:, w:] = rgb[:, -1:]
    return cv2.cvtColor(padded, cv2.COLOR_RGB2YUV_I420)


def test_lores_size_keeps_the_aspect_ratio_with_the_model_size_as_short_side():
    assert lores_size_for((1536, 864), 192) == (342, 192)
    assert lores_size_for((1536, 864), 256) == (456, 256)
    assert lores_size_for((640, 480), 640) == (640, 480)  # never larger than main


def test_picamera2_on_a_pi4_asks_for_yuv_lores_and_converts_it():
    rng = np.random.default_rng(1)
    rgb = np.kron(rng.integers(0, 256, (96, 171, 3), dtype=np.uint8), np.ones((2, 2, 1), np.uint8))[:, :342]
    lores = _i420_with_stride(rgb, stride=384)
    main = np.full((864, 1536, 3), 7, np.uint8)
    cam = _FakePicamera2("VC4", lores, main, [5_000_000_000, 5_033_333_333, 5_066_666_667])
    with Picamera2Source(model_input_size=192, fps=30.0, camera=cam) as src:
        assert cam.asked["lores"] == {"size": (342, 192), "format": "YUV420"}
        assert cam.asked["main"] == {"size": (1536, 864), "format": "BGR888"}
        assert cam.asked["controls"]["FrameDurationLimits"] == (33333, 33333)
        assert cam.calls[:2] == ["configure", "start"]  # no align_configuration: it would squash the picture
        frames = list(_take(src, 3))
    assert [f.t_s for f in frames] == pytest.approx([0.0, 0.033333333, 0.066666667])
    img = frames[0].image
    assert img.shape == (192, 342, 3) and img.dtype == np.uint8
    assert np.abs(img.astype(int) - rgb.astype(int)).mean() < 6  # chroma subsampling only
    assert src.preview() is not None and src.preview().shape == (864, 1536, 3)
    assert cam.released == 3 and cam.calls[-2:] == ["stop", "close"]
    src.close()
    assert cam.calls.count("close") == 1


def test_picamera2_on_a_pi5_takes_rgb_lores_as_is():
    lores = np.zeros((192, 342, 3), np.uint8)
    lores[..., 1] = 99
    cam = _FakePicamera2("PISP", lores, np.zeros((864, 1536, 3), np.uint8), [10, 20])
    with Picamera2Source(model_input_size=192, fps=60.0, camera=cam) as src:
        assert cam.asked["lores"]["format"] == "BGR888"  # libcamera's BGR888 is R, G, B in memory
        assert cam.asked["controls"]["FrameDurationLimits"] == (16667, 16667)
        frames = list(_take(src, 2))
        assert cam.waits == [2.0, 2.0]  # never an unbounded wait
        with pytest.raises(SourceError, match="no frame within 2.0 s"):  # the camera stops answering
            next(iter(src))
    assert frames[0].image[0, 0].tolist() == [0, 99, 0]
    assert frames[0].image is not lores  # copied out before the request is released


def test_picamera2_warns_when_libcamera_changes_the_lores_shape(caplog):
    cam = _FakePicamera2("VC4", np.zeros((288, 320), np.uint8), np.zeros((864, 1536, 3), np.uint8), [])
    cam.adjusted["lores"] = {"size": (320, 192)}
    with caplog.at_level(logging.WARNING), Picamera2Source(model_input_size=192, camera=cam) as src:
        assert src.lores_size == (320, 192)
    assert any("angles will be off" in r.getMessage() for r in caplog.records)


def test_picamera2_is_importable_off_a_pi_and_reports_no_camera():
    assert camera_present() is False
    with pytest.raises(SourceError, match="picamera2"):
        Picamera2Source()


def test_yuv420_to_rgb_crops_the_stride():
    rgb = np.full((4, 6, 3), (10, 200, 30), np.uint8)
    out = yuv420_to_rgb(_i420_with_stride(rgb, 8), (6, 4))
    assert out.shape == (4, 6, 3)
    assert np.abs(out.astype(int) - rgb.astype(int)).max() <= 3


# --- open_source -------------------------------------------------------------------------------


def test_open_source_picks_the_source_by_spec(media):
    with open_source(str(media["vfr"])) as src:
        assert isinstance(src, VideoFileSource)
    csv_path = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    with open_source(str(csv_path)) as src:
        assert isinstance(src, TrackSource)


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        ("", InputError, "no source"),
        ("webcam:one", InputError, "integer"),
        ("webcam:7", SourceError, "webcam 7 did not open"),
        ("/no/such/clip.mp4", MissingFileError, "no such file"),
        ("auto", SourceError, "no camera found"),
        ("camera", SourceError, "picamera2"),
    ],
)
def test_open_source_errors_are_station_errors(spec, error, words):
    with pytest.raises(error, match=words) as info:
        open_source(spec)
    assert isinstance(info.value, StationError) and "\n" not in str(info.value)


# --- iter_poses --------------------------------------------------------------------------------


def test_iter_poses_passes_track_poses_through_without_a_model():
    from station.pose.stream import iter_poses

    path = require_shared("mocap", "fukuchi2017", "s01_30fps_noisy.track.csv")
    track = read_track_csv(path)
    with TrackSource(path) as src:
        poses = list(iter_poses(src, None, progress=True))  # stderr is not a terminal here: no bar
    assert len(poses) == len(track)
    np.testing.assert_allclose([p.t_s for p in poses], track.t_s)
    np.testing.assert_allclose(poses[-1].score, track.score[-1])


def test_iter_poses_needs_a_model_for_images(media):
    from station.pose.stream import iter_poses

    with VideoFileSource(media["vfr"]) as src, pytest.raises(InputError, match="pose model is needed"):
        list(iter_poses(src, None))


def test_iter_poses_keeps_the_source_clock(media):
    """Whatever time an estimator stamps, the pose carries the frame's source timestamp."""
    from station.keypoints import Pose
    from station.pose.base import PoseEstimator
    from station.pose.stream import iter_poses

    class WallClockEstimator(PoseEstimator):
        def estimate(self, image: np.ndarray, t_s: float = 0.0) -> Pose:
            return Pose.empty(time.time(), (image.shape[1], image.shape[0]))

    with VideoFileSource(media["vfr"]) as src:
        poses = list(iter_poses(src, WallClockEstimator()))
    assert [round(p.t_s * 1000) for p in poses] == VFR_PTS_MS
