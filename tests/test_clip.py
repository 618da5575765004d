"""Each session's clip (station.live.clip): the live loop writes a few seconds of its most typical steps as a
small H.264 MP4 with the skeleton and the pelvis line, beside the database, within a disk budget."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest

from station.config import Settings
from station.cues import CueBoard, mock_factory
from station.live.clip import LENGTH_S, ClipRecorder, Mp4Encoder, crop_box, draw_clip_frame, prune
from station.live.station import RunOptions, Station
from station.simulate import RunnerParams, SimulatedRunner, SimulatedSource
from station.store import Store, clip_path


def run_session(tmp_path: Path, params: RunnerParams, duration_s: float, budget_mb: float = 200.0,
                max_pending: int = 100_000) -> ClipRecorder:
    """A simulated session through the live loop, faster than real time: the encoder may fall behind, so by
    default no frame is skipped for it (a live camera paces the loop; skipping is tested on its own)."""
    settings = Settings()
    recorder = ClipRecorder(tmp_path / "clips", budget_mb=budget_mb, max_pending=max_pending)
    runner = SimulatedRunner(params)
    with Store(tmp_path / "gait.db") as store, CueBoard.from_settings(settings, pin_factory=mock_factory()) as board:
        station = Station(settings, store, board, lambda: SimulatedSource(runner, fps=30.0, duration_s=duration_s),
                          options=RunOptions(source_name="sim", latest_only=False, session_at_once="file"),
                          on_event=recorder.on_event, on_frame=recorder.on_frame)
        station.run(threading.Event())
    recorder.close()
    return recorder


def test_the_live_loop_keeps_the_most_typical_seconds_as_an_h264_clip(tmp_path: Path) -> None:
    # the left drop rises steadily from 2° to 8°: the session's mean (~5°) is in the middle of the run
    params = RunnerParams(drop_left_deg=2.0, drop_right_deg=2.0, fatigue_left_deg_per_min=6.0, seed=4)
    recorder = run_session(tmp_path, params, 60.0)
    [(path, t0, t1)] = recorder.written
    assert path == clip_path(tmp_path / "gait.db", 1) and path.exists()
    assert t1 - t0 == pytest.approx(LENGTH_S)
    assert 20.0 <= t0 <= 40.0, "the clip should be from the middle of a steadily rising run"
    assert 5_000 < path.stat().st_size < 400_000  # small
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert float(stream.duration * stream.time_base) == pytest.approx(LENGTH_S, abs=0.1)
    assert 100 <= len(frames) <= 121  # 30 fps, at most
    h, w = frames[0].shape[:2]
    assert h > w and h % 2 == 0 == w % 2  # portrait, cropped round the runner
    middle = frames[len(frames) // 2]
    yellow = (middle[:, :, 0] > 200) & (middle[:, :, 1] > 180) & (middle[:, :, 2] < 90)
    assert yellow.sum() > 100  # the pelvis line is drawn
    assert middle.std() > 10  # and the skeleton
    assert list(tmp_path.glob("clips/.clip-*")) == [] and list(tmp_path.glob("clips/*")) == [path]
    assert recorder.skipped == 0


def test_a_slow_encoder_skips_frames_and_never_piles_them_up(tmp_path: Path) -> None:
    """At most ``max_pending`` frames wait for the encoder: a loop faster than it skips frames, and the clip
    is still written (with fewer frames)."""
    recorder = run_session(tmp_path, RunnerParams(drop_left_deg=2.0, drop_right_deg=2.0, seed=4), 40.0,
                           max_pending=1)
    [(path, _t0, _t1)] = recorder.written
    assert recorder.skipped > 0
    with av.open(str(path)) as c:
        assert 2 <= sum(1 for _ in c.decode(video=0)) <= 121


def test_a_session_too_short_for_a_clip_writes_none(tmp_path: Path) -> None:
    recorder = run_session(tmp_path, RunnerParams(seed=1), 9.0)
    assert recorder.written == [] and not any((tmp_path / "clips").glob("*.mp4"))


def test_the_clips_folder_stays_within_its_disk_budget(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(5):
        p = folder / f"session-{i}.mp4"
        p.write_bytes(b"x" * 400_000)
        import os

        os.utime(p, (1000 + i, 1000 + i))
    removed = prune(folder, 1_000_000, keep=folder / "session-0.mp4")
    left = sorted(p.name for p in folder.glob("*.mp4"))
    assert left == ["session-0.mp4", "session-4.mp4"]  # the oldest went first, never the one just written
    assert len(removed) == 3


def test_deleting_a_session_deletes_its_clip(tmp_path: Path) -> None:
    with Store(tmp_path / "gait.db") as store:
        sid = store.start_session(runner="Ana")
        store.end_session(sid)
        path = store.clip_path(sid)
        path.parent.mkdir()
        path.write_bytes(b"clip")
        store.delete_session(sid)
        assert not path.exists()


def test_the_crop_is_portrait_round_the_runner_and_the_encoder_makes_h264() -> None:
    xy = np.array([[320.0, 100.0 + 20 * i] for i in range(17)])
    x, y, w, h = crop_box(640, 480, xy, np.ones(17))
    assert (w, h) == (int(320 * 1.3 * 0.75), int(320 * 1.3)) and x < 320 < x + w and y < 260 < y + h
    assert crop_box(640, 480, xy, np.zeros(17)) == (0, 0, 640, 480)
    image = draw_clip_frame(np.zeros((120, 96, 3), np.uint8), xy * 0.2, np.ones(17))
    encoder = Mp4Encoder()
    for i in range(10):
        encoder.add(i / 30.0, image)
    data = encoder.close()
    assert data[4:8] == b"ftyp" and b"avc1" in data[:4096]
    assert not encoder.path.parent.exists()  # the temporary file is gone
