"""``gait-station db`` on damaged databases and impossible ids; repeated timestamps are reported (issue 14, 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from station.cli import main
from station.store import Store
from tests.conftest import require_shared


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GAIT_STATION_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    return subprocess.run([sys.executable, "-m", "station.cli", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("gait-station:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def corrupt_db(tmp_path: Path) -> Path:
    """A database whose step pages were overwritten (a dying SD card), its first page and schema intact."""
    db = tmp_path / "gait.db"
    with Store(db) as store:
        sid = store.start_session(runner="Ana")
        for i in range(3000):
            store.add_step(sid, {"side": "left" if i % 2 else "right", "t_contact_s": i * 0.35,
                                 "t_end_s": i * 0.35 + 0.2, "drop_excursion_deg": 3.0})
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with db.open("r+b") as f:
        rng = np.random.default_rng(1)
        for page in range(size // 4096 // 3, size // 4096 - 2, 7):
            f.seek(page * 4096)
            f.write(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return db


def test_db_info_reports_a_failed_integrity_check(tmp_path: Path, corrupt_db: Path) -> None:
    out = _cli(tmp_path, "db", "info", "--db", str(corrupt_db))
    assert out.returncode == 1, out.stderr
    assert "integrity FAILED" in out.stdout + out.stderr and "internal error" not in out.stderr
    line = _one_line(out.stderr)
    assert "damaged" in line and "backup" in line


def test_other_commands_on_a_damaged_database_are_one_line(tmp_path: Path, corrupt_db: Path) -> None:
    out = _cli(tmp_path, "db", "export", "1", "--db", str(corrupt_db))
    assert out.returncode == 1 and "internal error" not in out.stderr, out.stderr
    assert "damaged" in _one_line(out.stderr)


def test_a_25_digit_session_id_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "g.db"
    Store(db).close()
    for verb in (["export", "9" * 25], ["track", "9" * 25, str(tmp_path / "o.csv")]):
        rc = main(["db", *verb, "--db", str(db)])
        err = capsys.readouterr().err
        assert rc in (1, 2) and "internal error" not in err and len(err.strip().splitlines()) == 1, err


def _track_with_repeats(tmp_path: Path) -> Path:
    """The real treadmill track with every 50th row written twice (the same timestamp)."""
    src = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    lines = src.read_text().splitlines(keepends=True)
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        out.append(line)
        if i % 50 == 49:
            out.append(line)
    path = tmp_path / "repeats.csv"
    path.write_text("".join(out))
    return path


def test_analyze_reports_repeated_timestamps(tmp_path: Path) -> None:
    track = _track_with_repeats(tmp_path)
    out = _cli(tmp_path, "analyze", str(track), "--format", "json")
    assert out.returncode == 0, out.stderr
    repeats = (len(track.read_text().splitlines()) - 1) // 51
    assert json.loads(out.stdout)["frames_repeated_time"] == repeats
    assert f"{repeats} frames repeat the timestamp before them" in out.stderr


def test_run_reports_repeated_timestamps(tmp_path: Path) -> None:
    track = _track_with_repeats(tmp_path)
    out = _cli(tmp_path, "run", "--source", str(track), "--db", str(tmp_path / "g.db"), "--mock-pins", "--no-preview")
    assert out.returncode == 0, out.stderr
    repeats = (len(track.read_text().splitlines()) - 1) // 51
    assert f"{repeats} repeated timestamps skipped" in out.stderr


def test_the_web_says_a_damaged_database_in_one_page(corrupt_db: Path) -> None:
    from werkzeug.security import generate_password_hash

    from tests.web.conftest import PASSWORD, AuthActions
    from web import create_app
    from web.auth import PASSWORD_KEY

    app = create_app({"TESTING": True, "DATABASE": str(corrupt_db)})
    with Store(corrupt_db, migrate=False) as store:
        store.set_meta(PASSWORD_KEY, generate_password_hash(PASSWORD))
    client = app.test_client()
    AuthActions(client).login()
    r = client.get("/api/sessions/1/steps")
    assert r.status_code == 503 and "damaged" in r.get_json()["error"]
