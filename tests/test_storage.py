"""Raw poses: float32 from m004 on (old chunks still read), and a disk budget that keeps steps and summaries
(issue 14, finding 9). The days a 32 GB card holds come from ``scripts/bench_kiosk.py storage``."""

from __future__ import annotations

import datetime as dt
import threading
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import sqlite_utils
from sqlite_utils.migrations import Migrations

from station import store as store_module
from station.config import Settings, StorageSettings
from station.cues import CueBoard, mock_factory
from station.live.station import RunOptions, Station
from station.simulate import RunnerParams, SimulatedRunner, SimulatedSource
from station.store import Store, enforce_pose_budget

Usage = namedtuple("Usage", "total used free")
RNG = np.random.default_rng(0)


def _poses(n: int, t0: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return t0 + np.arange(n) / 60.0, RNG.uniform(0, 1920, (n, 17, 2)), RNG.uniform(0, 1, (n, 17))


def test_old_float64_chunks_stay_readable_after_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Migrations("gait-station")  # the database as the station wrote it before m004
    old(name="m001_initial")(store_module.m001_initial)
    old(name="m002_step_fields_as_columns")(store_module.m002_step_fields_as_columns)
    db = sqlite_utils.Database(path)
    old.apply(db)
    db["sessions"].insert({"id": 1, "started_at": "2025-01-01T10:00:00.000+00:00", "status": "completed"})
    t, xy, score = _poses(30)
    legacy = np.concatenate([t[:, None], np.concatenate([xy, score[:, :, None]], axis=2).reshape(30, -1)], axis=1)
    db["pose_chunks"].insert({"session_id": 1, "t0_s": 0.0, "frames": 30, "data": legacy.astype("<f8").tobytes()})
    db.conn.close()

    with Store(path) as store:
        assert store.session(1)["pose_bytes"] == 30 * 52 * 8  # counted by the migration
        t2, xy2, score2 = _poses(30, t0=0.5)
        store.add_poses(1, t2, xy2, score2)  # a new chunk of the same session, float32
        assert store.session(1)["pose_bytes"] == 30 * 52 * 8 + 30 * 212
        track = store.pose_track(1)
    assert len(track) == 60
    np.testing.assert_array_equal(track.t_s[:30], t)  # the old chunk exactly
    np.testing.assert_array_equal(track.xy[:30], xy)
    np.testing.assert_array_equal(track.t_s[30:], t2)  # times stay float64
    np.testing.assert_allclose(track.xy[30:], xy2, atol=1e-3)  # keypoints float32: < 0.001 px
    np.testing.assert_allclose(track.score[30:], score2, atol=1e-7)


def _session(store: Store, started_at: str, frames: int) -> int:
    sid = store.start_session(runner="Ana")
    store.db.execute("update sessions set started_at = ? where id = ?", [started_at, sid])
    store.add_step(sid, {"side": "left", "t_contact_s": 0.1, "t_end_s": 0.3, "drop_excursion_deg": 2.0})
    store.add_poses(sid, *_poses(frames))
    store.end_session(sid, summary={})
    return sid


def test_the_budget_removes_the_oldest_raw_poses_and_keeps_steps(tmp_path: Path) -> None:
    now = dt.datetime(2025, 6, 10, 12, tzinfo=dt.UTC)
    with Store(tmp_path / "g.db") as store:
        ids = [_session(store, f"2025-06-0{d}T10:00:00.000+00:00", 1000) for d in (1, 2, 3, 4)]
        running = store.start_session(runner="Bo")
        store.add_poses(running, *_poses(1000))
        each = 1000 * 212
        # a 1 MB disk, raw poses at most 50 %: three sessions' worth fits (running one included)
        settings = StorageSettings(poses_max_disk_pct=50.0, min_free_mb=0.0)
        state = enforce_pose_budget(store, settings, running=running, disk_usage=lambda p: Usage(1e6, 0, 9e5),
                                    now=now)
        assert state.removed == ids[:3] and store.pose_bytes() == 2 * each <= state.budget_bytes
        assert "disk budget" in store.session(ids[0])["poses_removed"]
        assert len(store.pose_track(ids[0])) == 0 and len(store.steps(ids[0])) == 1  # steps always kept
        assert store.summary(ids[0]) is not None
        # days: older than 7 days is gone, whatever the share
        settings = StorageSettings(poses_max_disk_pct=90.0, poses_max_days=7.0, min_free_mb=0.0)
        state = enforce_pose_budget(store, settings, running=running, disk_usage=lambda p: Usage(1e9, 0, 9e8),
                                    now=dt.datetime(2025, 6, 11, 12, tzinfo=dt.UTC))
        assert state.removed == [ids[3]] and store.session(running)["pose_bytes"] == each
        assert store.get_meta("storage")["pose_bytes"] == each  # the state the web shows


def test_low_disk_removes_raw_poses_first(tmp_path: Path) -> None:
    with Store(tmp_path / "g.db") as store:
        ids = [_session(store, f"2025-06-0{d}T10:00:00.000+00:00", 500) for d in (1, 2)]
        settings = StorageSettings(poses_max_disk_pct=90.0, min_free_mb=1.0)
        state = enforce_pose_budget(store, settings, running=None, disk_usage=lambda p: Usage(1e9, 0, 0.95e6))
        # 0.95 MB free on disk + the pages the first session's poses leave free inside the file >= 1 MB
        assert state.removed == [ids[0]] and not state.low_disk
        state = enforce_pose_budget(store, settings, running=None, disk_usage=lambda p: Usage(1e9, 0, 0))
        assert state.removed == [ids[1]] and state.low_disk  # nothing left to remove: still low


def test_the_station_drops_raw_poses_and_keeps_measuring_when_the_disk_runs_low(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    old = _session(store, "2025-06-01T10:00:00.000+00:00", 2000)
    free = {"bytes": 5e9}
    board = CueBoard.from_settings(Settings(), pin_factory=mock_factory())
    options = RunOptions(source_name="sim", session_at_once="file", preview_path=None, latest_only=False,
                         storage_check_s=0.0,
                         disk_usage=lambda p: Usage(32e9, 0, free["bytes"]))
    stop = threading.Event()
    src = SimulatedSource(SimulatedRunner(RunnerParams(seed=5)), fps=30.0, duration_s=40.0)
    station = Station(Settings(), store, board, lambda: src, options=options,
                      on_event=lambda kind, data: free.update(bytes=1e6) if kind == "step" else None)
    try:
        station.run(stop)
        sessions = {s["id"]: s for s in store.sessions()}
        live = max(sessions)
        assert sessions[live]["status"] == "completed" and sessions[live]["steps"] >= 40  # measured to the end
        assert "low disk" in (sessions[old]["poses_removed"] or "")  # the old raw poses went first
        assert "low disk" in (sessions[live]["poses_removed"] or "")  # then the running session stopped keeping them
        assert store.pose_bytes() == 0 and len(store.steps(old)) == 1
        assert store.get_meta("storage")["low_disk"] is True
    finally:
        board.close()
        store.close()


@pytest.mark.parametrize("bad", [{"poses_max_disk_pct": 0.0}, {"poses_max_disk_pct": 95.0},
                                 {"poses_max_days": 0.0}, {"min_free_mb": -1.0}])
def test_storage_settings_are_validated(bad: dict) -> None:
    from station.errors import InputError

    with pytest.raises(InputError, match="storage."):
        Settings().merged({"storage": bad})


def test_the_web_shows_the_budget_and_removed_poses(tmp_path: Path) -> None:
    from werkzeug.security import generate_password_hash

    from tests.web.conftest import PASSWORD, AuthActions
    from web import create_app
    from web.auth import PASSWORD_KEY

    db = tmp_path / "g.db"
    app = create_app({"TESTING": True, "DATABASE": str(db)})
    with Store(db) as store:
        store.set_meta(PASSWORD_KEY, generate_password_hash(PASSWORD))
        sid = _session(store, "2025-06-01T10:00:00.000+00:00", 100)
        enforce_pose_budget(store, StorageSettings(min_free_mb=1.0), disk_usage=lambda p: Usage(1e9, 0, 0))
    client = app.test_client()
    AuthActions(client).login()
    assert client.get("/api/storage").get_json()["storage"]["low_disk"] is True
    assert "disk low" in client.get("/sessions/").get_data(as_text=True)
    page = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert "Raw poses removed (low disk" in page and "poses.csv" not in page
