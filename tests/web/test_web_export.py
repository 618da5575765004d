"""Exports and the JSON API match what the database holds."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient

from station.keypoints import TRACK_COLUMNS, read_track_csv
from station.store import STEP_COLUMNS, Store
from tests.web.conftest import AuthActions
from web.filters import local_time


@pytest.fixture()
def logged_in(auth: AuthActions) -> AuthActions:
    assert auth.login().status_code == 302
    return auth


def _same(cell: str, value: Any) -> bool:
    if value is None:
        return cell == ""
    if isinstance(value, float):
        return float(cell) == value  # exact: written with repr
    if isinstance(value, list):
        return cell == ";".join(value)  # flags
    return cell == str(value)


def test_steps_csv_matches_database(client: FlaskClient, logged_in: AuthActions, store: Store,
                                    session_id: int) -> None:
    r = client.get(f"/sessions/{session_id}/steps.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    # issue 11: named with the runner and the date (it was session-N-steps.csv), and every row says whose steps
    session = store.session(session_id)
    day = local_time(session["started_at"], "%Y-%m-%d-%H%M")
    assert f'filename="Ana-{day}-session-{session_id}-steps.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert tuple(rows[0]) == ("session_id", "runner", "session_started_at", "idx", *STEP_COLUMNS)
    steps = store.steps(session_id)
    assert len(rows) - 1 == len(steps) == 60
    for row, step in zip(rows[1:], steps, strict=True):
        assert row[:3] == [str(session_id), "Ana", session["started_at"]]
        for name, cell in zip(rows[0][3:], row[3:], strict=True):
            assert _same(cell, step[name]), (name, cell, step[name])
    assert any(row[rows[0].index("drop_excursion_deg")] == "" for row in rows[1:])  # null stays empty


def test_steps_json_matches_database(client: FlaskClient, logged_in: AuthActions, store: Store,
                                     session_id: int) -> None:
    r = client.get(f"/sessions/{session_id}/steps.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = json.loads(r.get_data(as_text=True))
    assert doc["session"]["id"] == session_id and doc["session"]["runner"] == "Ana"
    assert doc["steps"] == store.steps(session_id)  # extra fields (quality) included
    assert doc["steps"][0]["quality"] == 0.9
    assert set(doc["summary"]) >= {"steps", "cadence_spm", "left", "right"}
    assert doc["summary"]["steps"] == 60
    assert doc["summary"]["left"]["drop_peak_deg"] is None  # not measured: null, never 0


def test_api_steps_and_after(client: FlaskClient, logged_in: AuthActions, store: Store, session_id: int) -> None:
    data = client.get(f"/api/sessions/{session_id}/steps").get_json()
    assert data["steps"] == store.steps(session_id)
    later = client.get(f"/api/sessions/{session_id}/steps?after=55").get_json()["steps"]
    assert [s["idx"] for s in later] == [56, 57, 58, 59]


def test_api_session_has_summary_fatigue_cues(client: FlaskClient, logged_in: AuthActions, store: Store,
                                              session_id: int) -> None:
    data = client.get(f"/api/sessions/{session_id}").get_json()
    assert data["session"]["steps"] == 60
    assert [c["state"] for c in data["cues"]] == [c["state"] for c in store.cues(session_id)]
    assert data["amber_deg"] == 4.0 and data["red_deg"] == 6.0
    assert data["fatigue"]["left"]["trunk_lean_deg"]["change"] > 0  # trunk lean rises in the fixture
    assert data["summary"]["asymmetry"]["drop_excursion_deg"] == pytest.approx(0.5)  # right - left, as everywhere


def test_nan_in_extra_is_null_json(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    sid = store.start_session(runner="N")
    store.add_step(sid, {"side": "left", "t_contact_s": 0.1, "t_end_s": 0.3, "drop_excursion_deg": 1.0,
                         "quality": float("nan")})
    body = client.get(f"/api/sessions/{sid}/steps").get_data(as_text=True)
    assert "NaN" not in body
    assert json.loads(body)["steps"][0]["quality"] is None
    assert "NaN" not in client.get(f"/sessions/{sid}/steps.json").get_data(as_text=True)


def test_pose_track_export_round_trips(client: FlaskClient, logged_in: AuthActions, store: Store,
                                       real_session: dict[str, Any], tmp_path: Path) -> None:
    """The raw pose track of a real session comes back as a pose track CSV equal to what was stored."""
    sid = real_session["id"]
    r = client.get(f"/sessions/{sid}/poses.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    assert text.splitlines()[0].split(",") == list(TRACK_COLUMNS)
    out = tmp_path / "export.track.csv"
    out.write_text(text)
    got = read_track_csv(out)  # the station's own reader accepts it
    stored = store.pose_track(sid)
    source = real_session["track"]
    assert len(got) == len(stored) == len(source)
    np.testing.assert_array_equal(got.t_s, stored.t_s)
    np.testing.assert_array_equal(got.xy, stored.xy)
    np.testing.assert_array_equal(got.score, stored.score)
    np.testing.assert_allclose(got.xy, source.xy)


def test_real_session_steps_csv(client: FlaskClient, logged_in: AuthActions, real_session: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(client.get(f"/sessions/{real_session['id']}/steps.csv")
                                          .get_data(as_text=True))))
    truth = real_session["truth"]["steps"]
    assert len(rows) == len(truth) == 77
    for row, st in zip(rows, truth, strict=True):
        assert row["side"] == st["side"]
        assert float(row["drop_excursion_deg"]) == st["drop_excursion_deg"]
        assert float(row["t_end_s"]) == st["t_toe_off_s"]
        assert not math.isnan(float(row["t_contact_s"]))


def test_empty_pose_track_is_a_header(client: FlaskClient, logged_in: AuthActions, session_id: int) -> None:
    text = client.get(f"/sessions/{session_id}/poses.csv").get_data(as_text=True)
    assert text.splitlines() == [",".join(TRACK_COLUMNS)]
