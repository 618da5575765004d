"""``gait-station run`` on a track in-process, then ``db info / export / track`` on what it wrote."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from station.cli import cli, main
from station.keypoints import read_track_csv
from tests.conftest import require_shared


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    track = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    monkeypatch.setenv("GAIT_STATION_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("[session]\ndefault_runner = \"Test runner\"\n")
    db = tmp_path / "gait.db"
    out = CliRunner().invoke(cli, ["run", "--source", str(track), "--db", str(db), "--mock-pins"])
    assert out.exit_code == 0, out.output
    assert re.search(r"session 1: (7[4-9]|80) steps", out.output)
    assert (tmp_path / "run" / "preview.jpg").exists()  # the preview goes beside the database
    return db


def test_db_info_export_and_track(recorded: Path, tmp_path: Path) -> None:
    r = CliRunner()
    info = r.invoke(cli, ["db", "info", "--db", str(recorded)])
    assert info.exit_code == 0 and "1 sessions" in info.output and "integrity ok" in info.output
    assert "completed" in info.output and "Test runner" in info.output

    exp = r.invoke(cli, ["db", "export", "1", "--db", str(recorded)])
    rows = list(csv.DictReader(io.StringIO(exp.output)))
    assert exp.exit_code == 0 and 74 <= len(rows) <= 80 and {x["side"] for x in rows} == {"left", "right"}

    js = json.loads(r.invoke(cli, ["db", "export", "1", "--db", str(recorded), "--format", "json"]).output)
    assert js["session"]["status"] == "completed" and len(js["steps"]) == len(rows) and js["cues"]

    out = tmp_path / "replay.csv"
    tr = r.invoke(cli, ["db", "track", "1", str(out), "--db", str(recorded)])
    assert tr.exit_code == 0 and len(read_track_csv(out)) == 900


def test_db_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "info", "--db", str(tmp_path / "nope.db")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gait-station: {tmp_path / 'nope.db'}: no such database"]


def test_db_info_after_the_demo_points_at_the_demos_database(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAIT_STATION_DB", str(tmp_path / "gait.db"))
    (tmp_path / "demo.db").write_bytes(b"")  # `gait-station demo` keeps its sessions beside the station's database
    assert main(["db", "info"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gait-station: {tmp_path / 'gait.db'}: no such database (the demo's is {tmp_path / 'demo.db'}: "
                   f"add --db {tmp_path / 'demo.db'})"]
