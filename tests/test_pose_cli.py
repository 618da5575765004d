"""`gait-station pose`: the real console script on real and deliberately broken files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from station.keypoints import TRACK_COLUMNS, read_track_csv
from tests.conftest import ROOT, require_shared
from tests.media import cut_file, write_mp4

GAIT_STATION = ROOT / ".venv" / "bin" / "gait-station"
POSTERIOR = ("videos", "radluy_posterior_outdoor_run_openpose_rendered_30fps.mp4")
MOVENET = ("models", "movenet_singlepose_lightning_int8_v4.tflite")


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    if not GAIT_STATION.exists():
        pytest.fail(f"{GAIT_STATION} is missing: run `make setup` first")
    return subprocess.run([str(GAIT_STATION), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode != 0, proc.stdout
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr
    assert len(err.splitlines()) == 1, proc.stderr
    assert err.startswith("gait-station: ")
    for w in words:
        assert w in err, err
    return err


@pytest.fixture(scope="module")
def movenet_path() -> Path:
    return require_shared(*MOVENET)


@pytest.fixture(scope="module")
def posterior_track(tmp_path_factory: pytest.TempPathFactory, movenet_path: Path) -> tuple[Path, str]:
    video = require_shared(*POSTERIOR)
    out = tmp_path_factory.mktemp("pose") / "posterior.track.csv"
    proc = run("pose", video, "-o", out, "--model-path", movenet_path)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def test_pose_writes_a_valid_track_with_container_times(posterior_track):
    out, stdout = posterior_track
    track = read_track_csv(out)
    assert len(track) == 103  # one row per decoded frame
    assert np.all(np.diff(track.t_s) > 0)
    np.testing.assert_allclose(track.t_s, np.arange(103) / 30.0, atol=1e-4)  # the clip's PTS at 30 fps
    assert out.read_text().splitlines()[0].split(",") == list(TRACK_COLUMNS)
    # keypoints are in the 1920 x 1080 source frame, not in the model's 192 x 192 input
    seen = track.score > 0.3
    assert track.xy[..., 0][seen].max() > 192 and track.xy[..., 0][seen].max() <= 1920
    assert track.xy[..., 1][seen].max() <= 1080
    assert "103 frames" in stdout


def test_pose_keeps_no_progress_bar_off_a_terminal(posterior_track, movenet_path, tmp_path):
    # stderr is a pipe here: no tqdm bar may leak into logs or CI
    proc = run("pose", require_shared(*POSTERIOR), "-o", tmp_path / "t.csv", "--model-path", movenet_path)
    assert proc.returncode == 0 and proc.stderr == ""


def test_missing_video(tmp_path):
    assert_one_line_error(run("pose", tmp_path / "nope.mp4", "-o", tmp_path / "t.csv"), "no such file")


def test_text_file_named_mp4(tmp_path):
    bad = tmp_path / "holiday.mp4"
    bad.write_text("not a video at all\n" * 50)
    assert_one_line_error(run("pose", bad, "-o", tmp_path / "t.csv"), "not a readable video")
    assert not (tmp_path / "t.csv").exists()


def test_png_renamed_mp4(tmp_path):
    import cv2

    png = tmp_path / "frame.png"
    cv2.imwrite(str(png), np.zeros((32, 32, 3), np.uint8))
    bad = png.rename(tmp_path / "frame.mp4")
    assert_one_line_error(run("pose", bad, "-o", tmp_path / "t.csv"), "still image")


def test_video_cut_before_its_index(tmp_path):
    whole = write_mp4(tmp_path / "whole.mp4", [33 * i for i in range(40)], size=(96, 64), faststart=False)
    cut = cut_file(whole, tmp_path / "cut.mp4", 0.6)
    assert_one_line_error(run("pose", cut, "-o", tmp_path / "t.csv"), "not a readable video")


def test_truncated_video_fails_after_writing_what_decoded(tmp_path, movenet_path):
    # the Sports2D clip keeps its index up front, so a cut copy still decodes its first part
    whole = require_shared("videos", "sports2d_demo_walk_backflip_2people.mp4")
    cut = cut_file(whole, tmp_path / "cut.mp4", 0.15)
    out = tmp_path / "partial.csv"
    err = assert_one_line_error(run("pose", cut, "-o", out, "--model-path", movenet_path),
                                "truncated or damaged video", "of the 230 frames", str(out))
    rows = len(read_track_csv(out))
    assert 0 < rows < 230 and f"decoded {rows} of the 230" in err
    # --allow-truncated keeps the partial track and exits 0
    proc = run("pose", cut, "-o", tmp_path / "kept.csv", "--model-path", movenet_path, "--allow-truncated")
    assert proc.returncode == 0 and len(read_track_csv(tmp_path / "kept.csv")) == rows
    assert "truncated" in proc.stderr and "Traceback" not in proc.stderr


def test_pose_track_csv_as_input_is_refused(tmp_path):
    track = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    assert_one_line_error(run("pose", track, "-o", tmp_path / "t.csv"), "already a pose track CSV")


def test_missing_model_file(tmp_path):
    video = write_mp4(tmp_path / "v.mp4", [0, 33, 66])
    assert_one_line_error(run("pose", video, "-o", tmp_path / "t.csv", "--model-path", tmp_path / "m.tflite"),
                          "no such model file")


def test_corrupt_model_file(tmp_path):
    video = write_mp4(tmp_path / "v.mp4", [0, 33, 66])
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\x00" * 4096)
    assert_one_line_error(run("pose", video, "-o", tmp_path / "t.csv", "--model-path", model))


def test_unknown_model_name(tmp_path):
    video = write_mp4(tmp_path / "v.mp4", [0, 33, 66])
    assert_one_line_error(run("pose", video, "-o", tmp_path / "t.csv", "--model", "no-such-model"), "no-such-model")


def test_unwritable_output(tmp_path, movenet_path):
    video = write_mp4(tmp_path / "v.mp4", [0, 33, 66])
    assert_one_line_error(run("pose", video, "-o", tmp_path / "no" / "dir" / "t.csv", "--model-path", movenet_path),
                          "cannot write")


def test_progress_bar_shows_on_a_terminal(tmp_path, movenet_path):
    """With stderr on a terminal (a pseudo-terminal here) tqdm draws its bar there; stdout stays clean."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    video = write_mp4(tmp_path / "v.mp4", [33 * i for i in range(20)], size=(128, 96))
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    try:
        proc = subprocess.run([str(GAIT_STATION), "pose", str(video), "-o", str(tmp_path / "t.csv"),
                               "--model-path", str(movenet_path)],
                              stdout=subprocess.PIPE, stderr=secondary, text=True, timeout=120)
        os.close(secondary)
        secondary = -1
        chunks = []
        while True:
            try:
                data = os.read(primary, 4096)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if secondary != -1:
            os.close(secondary)
        os.close(primary)
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "/20 [" in terminal and "frame/s" in terminal and "%|" in terminal  # tqdm's bar, count and rate
    assert "20 frames" in proc.stdout and "frame/s" not in proc.stdout


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"a,b,c\n1,2,3\n", "not a pose track CSV"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\x00", "not a text CSV file"),
        (b"", "empty file"),
    ],
)
def test_unreadable_track_csv_through_the_cli(tmp_path, content, words):
    """Pose track CSVs are read by TrackSource wherever a source is opened; `analyze` is the command that does."""
    bad = tmp_path / "session.csv"
    bad.write_bytes(content)
    assert_one_line_error(run("analyze", bad), words, str(bad))
