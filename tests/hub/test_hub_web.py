"""The web app on a hub's database: the live page lists every station from its typed status, sessions and
runners name their station, start/stop go to one station and are refused for an offline one."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from station.hub import db as hubdb
from station.hub import outbox
from station.live.status import SideStatus, StationStatus
from station.store import Store, utcnow
from tests.hub.conftest import ingest
from tests.web.conftest import XSS_NAME, AuthActions, add_synthetic_session, password_hash  # noqa: F401
from web import create_app
from web.auth import PASSWORD_KEY


def status(state: str = "session", **kw: object) -> dict:
    s = StationStatus(state=state, session_id=1 if state == "session" else None, runner=kw.pop("runner", None),
                      elapsed_s=75.0, steps=40, cue="amber", cadence_spm=171.0,
                      left=SideStatus(drop_deg=4.4, level="amber", steps_in_window=8),
                      right=SideStatus(drop_deg=2.1, level="green", steps_in_window=8))
    return {**s.to_dict(), "online": True, "db": "d", "seq": 1, **kw}


@pytest.fixture()
def hub_db(tmp_path: Path, password_hash: str) -> Path:  # noqa: F811
    """A hub that has heard from two stations (one running a session, one gone), with their history."""
    path = tmp_path / "hub.db"
    db_ids = {}
    with Store(path) as hub:
        hub.set_meta(PASSWORD_KEY, password_hash)
        for sid, runner in (("track-1", XSS_NAME), ("clubhouse", "Ana")):
            with Store(tmp_path / f"{sid}.db") as station:
                station.set_outbox(True)
                add_synthetic_session(station, runner=runner, n_steps=20)
                ingest(hub, sid, station)
                db_ids[sid] = outbox.db_id(station)
        with hub.transaction() as conn:
            hubdb.apply_status(conn, "track-1", status(runner=XSS_NAME, db=db_ids["track-1"]), utcnow())
            old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)).isoformat(timespec="milliseconds")
            hubdb.apply_status(conn, "clubhouse", status("idle", db=db_ids["clubhouse"]), old)  # 3 minutes ago
    return path


@pytest.fixture()
def app(hub_db: Path) -> Iterator[Flask]:
    yield create_app({"TESTING": True, "DATABASE": str(hub_db)})


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


def test_live_page_lists_each_station_with_its_runner_cue_and_drop(client: FlaskClient) -> None:
    page = client.get("/live").get_data(as_text=True)
    cards = re.findall(r'<li class="card station-card" data-station="([^"]+)" data-online="(\w+)"', page)
    assert cards == [("clubhouse", "false"), ("track-1", "true"), ("__station__", "false")]  # + the template
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page and XSS_NAME not in page  # escaped
    assert "4.4°" in page and "2.1°" in page and "cue-amber" in page and "level-amber" in page
    assert "1 of 2 online" in page and "Offline: start and stop are refused." in page
    assert 'id="station-template"' in page  # a station that appears later gets the same card
    assert "Station offline" not in page  # not the one-station page


def test_api_stations_is_the_typed_status_per_station(client: FlaskClient, auth: AuthActions) -> None:
    doc = client.get("/api/stations").get_json()
    by_id = {s["id"]: s for s in doc["stations"]}
    live = by_id["track-1"]
    assert live["online"] and live["session"]["runner"] == XSS_NAME and live["session"]["cue"] == "amber"
    assert live["session"]["left"] == {"drop_deg": 4.4, "level": "amber", "steps": 8}
    assert live["sessions"] == 1 and live["steps"] == 20 and live["session"]["hub_id"] is not None
    gone = by_id["clubhouse"]
    assert not gone["online"] and gone["state"] == "offline" and gone["age_s"] > 100


def test_sessions_and_runners_name_the_station(client: FlaskClient, auth: AuthActions, hub_db: Path) -> None:
    auth.login()
    listing = client.get("/sessions/").get_data(as_text=True)
    assert "Station track-1" in listing and "Station clubhouse" in listing
    with Store(hub_db) as hub:
        sid = next(s["id"] for s in hub.sessions() if s["station_id"] == "clubhouse")
        ana = next(r["id"] for r in hub.runners() if r["name"] == "Ana")
    assert "station clubhouse" in client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert "Station clubhouse" in client.get(f"/runners/{ana}").get_data(as_text=True)
    runners = client.get("/runners/").get_data(as_text=True)
    assert re.search(r"<dt>Stations</dt><dd[^>]*>clubhouse</dd>", runners)
    api = client.get("/api/sessions").get_json()["sessions"]
    assert {s["station_id"] for s in api} == {"track-1", "clubhouse"}
    assert client.get(f"/api/sessions/{sid}").get_json()["session"]["station_id"] == "clubhouse"


def test_start_and_stop_name_one_station_and_an_offline_one_refuses(client: FlaskClient, auth: AuthActions,
                                                                     hub_db: Path) -> None:
    auth.login()  # start and stop follow the station page's rule: the admin (or anyone on a kiosk)
    r = auth.post_json("/live/stations/clubhouse/start", {"runner": "Bo"})
    assert r.status_code == 503 and r.get_json()["error"] == ("Station clubhouse is offline: it cannot start a "
                                                              "session now.")
    r = auth.post_json("/live/stations/track-1/start", {"runner": "Bo"})
    assert r.status_code == 409 and "stop it first" in r.get_json()["error"]
    assert auth.post_json("/live/stations/nope/stop").status_code == 404
    assert auth.post_json("/live/stations/track-1/start", {"runner": "x" * 81}).status_code == 400
    r = auth.post_json("/live/stations/track-1/stop")
    assert r.status_code == 202 and r.get_json()["message"] == "Stopping the session on track-1…"
    with Store(hub_db) as hub:
        rows = list(hub.db.query("select kind, status, station_id from commands"))
        assert rows == [{"kind": "stop", "status": "pending", "station_id": "track-1"}]
        assert hub.pending_commands() == []  # a hub's commands are for its stations, not for a loop here
    # a form post without JavaScript: a redirect back with the message flashed
    r = auth.post("/live/stations/clubhouse/stop")
    assert r.status_code == 302 and r.location.endswith("/live")
    assert "Station clubhouse is offline" in client.get("/live").get_data(as_text=True)


def test_the_hub_live_page_follows_live_page_public(client: FlaskClient, auth: AuthActions, hub_db: Path) -> None:
    with Store(hub_db) as hub:
        hub.set_settings_overrides({"web": {"live_page_public": False}})
    assert client.get("/api/stations").status_code == 401
    assert client.get("/live").status_code == 302
    assert auth.post_json("/live/stations/track-1/stop").status_code == 401
    auth.login()
    assert client.get("/api/stations").status_code == 200
