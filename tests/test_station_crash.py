"""Power-cut behaviour: kill -9 the station mid-session, find the database intact, restart."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station.store import Store
from tests.conftest import require_shared


def _station(*args: str) -> list[str]:
    return [sys.executable, "-m", "station.cli", "run", "--mock-pins", "--no-preview", *args]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "GAIT_STATION_CONFIG": str(tmp_path / "none.toml"), "PYTHONUNBUFFERED": "1"}


def _steps_on_disk(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(conn.execute("select count(*) from steps").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_sigkill_mid_session_keeps_completed_steps_and_restart_marks_it_interrupted(tmp_path: Path) -> None:
    track = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    db = tmp_path / "gait.db"
    (tmp_path / "none.toml").write_text("")
    proc = subprocess.Popen(_station("--source", str(track), "--realtime", "--speed", "2", "--db", str(db)),
                            env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _steps_on_disk(db) < 10:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no steps reached the database within 60 s"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)  # a power cut, as far as the database can tell
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    steps_seen = _steps_on_disk(db)
    assert 10 <= steps_seen < 70  # killed mid-file (77 steps in all)

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    status, n = conn.execute("select status, steps from sessions where id = 1").fetchone()
    assert status == "running" and n == steps_seen  # the session row counted every committed step
    idx = [r[0] for r in conn.execute("select idx from steps where session_id = 1 order by idx")]
    assert idx == list(range(steps_seen))  # no hole, no half-written step
    conn.close()

    # restart on the same database: the killed session is marked interrupted and the new one runs to the end
    out = subprocess.run(_station("--source", str(track), "--db", str(db)), env=_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    with Store(db) as store:
        assert store.integrity_ok()
        first, second = store.session(1), store.session(2)
        assert first is not None and second is not None
        assert first["status"] == "interrupted" and first["steps"] >= steps_seen
        assert len(store.steps(1)) == first["steps"]
        assert second["status"] == "completed" and 74 <= second["steps"] <= 80
    assert "session 2" in out.stdout and "station:" in out.stderr


def test_sigterm_closes_the_session_with_its_summary(tmp_path: Path) -> None:
    track = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    db = tmp_path / "gait.db"
    (tmp_path / "none.toml").write_text("")
    proc = subprocess.Popen(_station("--source", str(track), "--realtime", "--speed", "2", "--db", str(db)),
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _steps_on_disk(db) < 10:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    with Store(db) as store:
        s = store.session(1)
        assert s is not None and s["status"] == "completed" and s["summary"]["steps"] == s["steps"] >= 10
        assert s["summary"]["end_reason"] == "stopped"
        assert (store.status() or {}).get("state") == "stopped"
    assert "session 1:" in stdout and "cue latency" in stderr


@pytest.mark.parametrize("bad", ["missing.mp4", "notes.txt"])
def test_bad_source_is_one_line_and_non_zero(tmp_path: Path, bad: str) -> None:
    if bad == "notes.txt":
        (tmp_path / bad).write_text("not a video")
    out = subprocess.run(_station("--source", str(tmp_path / bad), "--db", str(tmp_path / "g.db")),
                         env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("gait-station:")]
    assert lines and "Traceback" not in out.stderr
