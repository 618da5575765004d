"""One contract from the analyzer to the phone: the same numbers in ``analyze``, the database and the API;
settings that reach what they claim; a 45° roll the config accepts does not stop the station."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from station.cli import cli
from station.config import Settings, analyzer_settings, from_dict, takes_effect
from station.cues.board import open_board
from station.errors import BoardError, InputError
from station.gait.steps import STEP_FIELDS
from station.gait.summary import Summary
from station.store import Store
from tests.conftest import require_shared
from web import create_app
from web.auth import PASSWORD_KEY

PASSWORD = "contract test password"


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    monkeypatch.setenv("GAIT_STATION_CONFIG", str(cfg))
    return cfg


def _as_reported(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary at the report's precision (the database and the API keep full precision)."""
    return Summary.from_dict(summary).to_dict()


def test_analyze_database_and_api_give_the_same_numbers(tmp_path: Path, no_config: Path) -> None:
    track = require_shared("mocap", "fukuchi2017", "s01_30fps_noisy.track.csv")
    db = tmp_path / "gait.db"
    runner = CliRunner()
    out = runner.invoke(cli, ["run", "--source", str(track), "--db", str(db), "--mock-pins", "--no-preview"])
    assert out.exit_code == 0, out.output
    report = json.loads(runner.invoke(cli, ["analyze", str(track), "--format", "json"]).stdout)

    with Store(db) as store:
        [session] = store.sessions()
        stored = session["summary"]
        assert [s["side"] for s in store.steps(session["id"])] == [s["side"] for s in report["steps"]]
        from werkzeug.security import generate_password_hash

        store.set_meta(PASSWORD_KEY, generate_password_hash(PASSWORD))
    app = create_app({"TESTING": True, "DATABASE": str(db)})
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert client.post("/auth/login", data={"password": PASSWORD, "csrf_token": token}).status_code == 302
    api = client.get(f"/api/sessions/{session['id']}").get_json()["summary"]
    listed = next(r for r in client.get("/api/sessions").get_json()["sessions"] if r["id"] == session["id"])

    expected = report["summary"]
    assert _as_reported(stored) == expected  # per-side means, SD, asymmetry, cadence, duration
    assert _as_reported(api) == expected
    assert report["summary"]["asymmetry"]["drop_excursion_deg"] == pytest.approx(
        report["summary"]["right"]["drop_excursion_deg"] - report["summary"]["left"]["drop_excursion_deg"], abs=0.011)
    for side in ("left", "right"):
        assert round(listed[side]["drop_excursion_deg"], 2) == expected[side]["drop_excursion_deg"]
        assert listed[side]["steps"] == expected[side]["steps"]
    assert round(listed["cadence_spm"], 1) == expected["cadence_spm"]


def test_the_steps_table_has_a_column_for_every_step_field(tmp_path: Path) -> None:
    with Store(tmp_path / "g.db") as store:
        columns = set(store.db["steps"].columns_dict)
    assert set(STEP_FIELDS) <= columns


def test_a_45_degree_roll_the_config_accepts_runs_the_station(tmp_path: Path, no_config: Path) -> None:
    no_config.write_text("[camera]\ncamera_roll_deg = 45.0\n")
    settings = from_dict({"camera": {"camera_roll_deg": 45.0}})
    assert analyzer_settings(settings).camera_roll_deg == 45.0
    track = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    db = tmp_path / "gait.db"
    out = CliRunner().invoke(cli, ["run", "--source", str(track), "--db", str(db), "--mock-pins", "--no-preview"])
    assert out.exit_code == 0, out.output
    with Store(db) as store:
        [session] = store.sessions()
        assert session["status"] == "completed" and session["camera_roll_deg"] == 45.0
        assert store.steps(session["id"])
    with pytest.raises(InputError, match="camera.camera_roll_deg"):
        from_dict({"camera": {"camera_roll_deg": 45.5}})


def test_camera_fps_and_the_models_input_size_reach_the_source(tmp_path: Path, no_config: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import station.camera
    from station.camera.track import TrackSource

    track = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    asked: list[dict[str, Any]] = []

    def fake_open_source(spec: str, **kwargs: Any) -> TrackSource:
        asked.append({"spec": spec, **kwargs})
        return TrackSource(track)  # stands in for the camera: ends with the track

    monkeypatch.setattr(station.camera, "open_source", fake_open_source)
    for config, size in (("", 540), ("[model]\npelvis_line = false\n", 256)):
        # with the pelvis line (the default) the camera gives frames the waist can be read in; without, the model's
        asked.clear()
        no_config.write_text("[camera]\nfps = 90.0\n" + config)
        out = CliRunner().invoke(cli, ["run", "--source", "webcam", "--model", "movenet-thunder-int8", "--db",
                                       str(tmp_path / f"g{size}.db"), "--mock-pins", "--no-preview"])
        assert out.exit_code == 0, out.output
        assert asked and asked[0] == {"spec": "webcam", "model_input_size": size, "fps": 90.0}


def test_settings_say_when_they_take_effect() -> None:
    assert takes_effect("cues.amber_deg") == "from the next session"
    assert takes_effect("cues.buzzer_kind") == "when the station restarts"
    assert takes_effect("pins.green") == "when the station restarts"
    assert takes_effect("session.auto") == "at once"
    for section, values in Settings().to_dict().items():
        for key in values:
            assert takes_effect(f"{section}.{key}")


def test_a_board_that_cannot_open_its_pins_on_a_pi_is_an_error() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(BoardError, match="cannot open the GPIO cue board"):
            open_board(Settings(), on_pi=True)  # no GPIO on this machine: a Pi would say so, not pretend
        board = open_board(Settings(), on_pi=False)  # off the Pi: gpiozero's mock pins stand in
    with board:
        board.set_led("green")
        assert board.lights.green.is_lit
