"""Stations and a hub through a real Mosquitto: start/stop from the hub's page reach the station, an offline
station refuses them, the ACL keeps a station to its own topics, history goes up with `hub push`, and bad
credentials are one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from flask.testing import FlaskClient
from paho.mqtt.enums import CallbackAPIVersion

from station.hub import protocol
from station.store import Store
from tests.conftest import require_shared
from tests.hub.conftest import STATIONS, Procs, _read, assert_hub_matches, cli, wait_for_steps
from tests.mqtt import Mosquitto
from tests.web.conftest import PASSWORD, AuthActions, csrf_token
from web import create_app
from web.auth import set_password


def wait_for(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {timeout_s} s")


def hub_client(procs: Procs) -> FlaskClient:
    """The hub's web app, logged in as its admin (start and stop follow the station page's rule)."""
    wait_for(lambda: _read(procs.hub_db, "select 1 from meta where key = 'hub'"), 20, "the hub's database")
    with Store(procs.hub_db) as hub:
        set_password(hub, PASSWORD)
    client = create_app({"TESTING": True, "DATABASE": str(procs.hub_db)}).test_client()
    assert AuthActions(client).login().status_code == 302
    return client


def post(client: FlaskClient, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, json=body or {}, headers={"X-CSRFToken": csrf_token(client, "/live"),
                                                        "Accept": "application/json"})


def command_result(client: FlaskClient, command_id: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        c = client.get(f"/api/live/commands/{command_id}").get_json()
        return c if c["status"] in ("done", "failed") else None

    return wait_for(done, 20, f"command {command_id}")


def test_start_and_stop_from_the_hub_page_reach_the_station_and_an_offline_one_refuses(procs: Procs) -> None:
    sid = STATIONS[0]
    procs.hub()
    station = procs.station(sid)
    wait_for_steps(procs.db(sid), 3, 60, station)
    client = hub_client(procs)
    wait_for(lambda: client.get("/api/stations").get_json()["stations"], 20, "the station on the hub page")
    page = client.get("/live").get_data(as_text=True)
    assert f'data-station="{sid}"' in page and "Stop on track-1" in page

    r = post(client, f"/live/stations/{sid}/stop")
    assert r.status_code == 202, r.get_json()
    c = command_result(client, r.get_json()["command_id"])
    assert (c["status"], c["result"]) == ("done", "session 1 ended")

    wait_for(lambda: client.get("/api/stations").get_json()["stations"][0]["session"] is None, 10, "idle")
    r = post(client, f"/live/stations/{sid}/start", {"runner": "Ana <b>B</b>"})
    assert r.status_code == 202
    c = command_result(client, r.get_json()["command_id"])
    assert (c["status"], c["result"]) == ("done", "session 2 started")
    st = wait_for(lambda: (client.get("/api/stations").get_json()["stations"][0]["session"] or {}).get("runner"),
                  10, "the runner on the hub page")
    assert st == "Ana <b>B</b>"
    # the station refuses what it cannot do, and the page says so
    r = post(client, f"/live/stations/{sid}/start")
    assert r.status_code == 409 and "stop it first" in r.get_json()["error"]
    with Store(procs.hub_db) as hub:  # a request the station itself refuses: its answer comes back
        refused = hub.request("start", {}, station_id=sid)
    c = command_result(client, refused)
    assert c["status"] == "failed" and c["result"] == "session 2 is running"

    # the station stops (SIGTERM: its final status says offline): start and stop are refused at once
    station.terminate()
    assert station.wait(30) == 0
    wait_for(lambda: not client.get("/api/stations").get_json()["stations"][0]["online"], 10, "offline")
    r = post(client, f"/live/stations/{sid}/start", {"runner": "Bo"})
    assert r.status_code == 503 and r.get_json()["error"] == f"Station {sid} is offline: it cannot start a session now."
    assert "Offline: start and stop are refused." in client.get("/live").get_data(as_text=True)
    with Store(procs.hub_db) as hub:  # a request that got past the page: the hub fails it, never sends it later
        late = hub.request("start", {}, station_id=sid)
    c = command_result(client, late)
    assert (c["status"], c["result"]) == ("failed", f"station {sid} is offline")
    assert post(client, "/live/stations/nowhere/start").status_code == 404
    assert_hub_matches(procs, [sid])
    with Store(procs.hub_db) as hub:
        s2 = [s for s in hub.sessions() if s["station_session_id"] == 2][0]
    assert s2["runner"] == "Ana <b>B</b>" and s2["trigger"] == "web" and s2["status"] == "completed"


def _client(broker: Mosquitto, user: str, received: list[str]) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{user}", clean_session=True)
    c.username_pw_set(user, broker.passwords[user])
    c.on_message = lambda client, userdata, msg: received.append(msg.topic)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    return c


def test_the_acl_keeps_a_station_to_its_own_topics(procs: Procs) -> None:
    victim = STATIONS[0]
    procs.hub()
    station = procs.station(victim)
    wait_for_steps(procs.db(victim), 3, 60, station)
    received: list[str] = []
    intruder = _client(procs.broker, "intruder", received)
    try:
        intruder.subscribe([(protocol.topic(victim, "cmd"), 1), (protocol.topic("+", "step"), 1),
                            (protocol.topic("+", "status"), 1), ("#", 1)])
        forged = {"db": "f" * 32, "seq": 1, "session": {"id": 1, "status": "completed", "started_at": "2020-01-01",
                                                        "runner": "Forged"}}
        for topic in (protocol.topic(victim, "session"), protocol.topic("intruder", "session")):
            intruder.publish(topic, protocol.encode(forged), qos=1).wait_for_publish(10)
        # impersonating the hub: a stop for the victim, an ack telling it to forget its outbox
        intruder.publish(protocol.topic(victim, "cmd"), protocol.encode({"id": 1, "kind": "stop"}), qos=1)
        intruder.publish(protocol.topic(victim, "ack"), protocol.encode({"db": "x", "seq": 10**9}), qos=1)
        # its own topic reaches the hub (the ACL is not simply closed)...
        wait_for(lambda: _read(procs.hub_db, "select 1 from sessions where station_id = 'intruder'"), 20,
                 "the intruder's own session on the hub")
        # ...the hub's command to the victim reaches the victim, not the intruder
        with Store(procs.hub_db) as hub:
            hub.request("stop", station_id=victim)
        wait_for(lambda: _read(procs.db(victim), "select 1 from sessions where status = 'completed'"), 20,
                 "the hub's stop at the station")
        time.sleep(1.0)
    finally:
        intruder.loop_stop()
        intruder.disconnect()
    own = {protocol.topic("intruder", k) for k in protocol.HUB_KINDS}  # the hub's ack of its own record
    assert received and set(received) <= own, received  # it read nothing of anyone else's
    runners = {r[0] for r in _read(procs.hub_db, "select r.name from sessions s join runners r on r.id = s.runner_id "
                                                 f"where s.station_id = '{victim}'")}
    assert "Forged" not in runners
    kinds = [r[0] for r in _read(procs.db(victim), "select kind from commands")]
    assert kinds == ["stop"]  # the hub's, once; not the intruder's
    station.terminate()
    assert station.wait(30) == 0
    assert_hub_matches(procs, [victim])


def _history(db: Path) -> int:
    """A station that worked alone: two sessions of a real track, no hub."""
    track = require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv")
    for _ in range(2):
        out = subprocess.run([*cli(), "run", "--mock-pins", "--no-preview", "--source", str(track), "--db", str(db)],
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "GAIT_STATION_CONFIG": str(db.with_suffix(".toml"))})
        assert out.returncode == 0, out.stderr
    return len(_read(db, "select 1 from steps"))


def test_hub_push_sends_a_station_s_past_once_and_a_broker_that_was_down_loses_nothing(procs: Procs) -> None:
    sid = STATIONS[2]
    db = procs.db(sid)
    db.with_suffix(".toml").write_text("")
    steps = _history(db)
    assert steps > 100 and not _read(db, "select 1 from outbox")  # no hub: nothing queued

    # a run while the broker is unreachable: the station works as ever, the outbox keeps every record
    procs.broker.stop()
    run = procs.station(sid, speed=100.0)
    assert procs.wait(sid, 120) == 0, procs.log(sid)
    assert "steps in 1 session(s)" in procs.log(sid)
    waiting = len(_read(db, "select 1 from outbox"))
    assert waiting == len(_read(db, "select 1 from steps where session_id = 3")) + 2  # start, steps, end
    assert run.returncode == 0
    procs.broker.start()
    procs.hub()
    push = [*cli(), "hub", "push", "--db", str(db), "--hub", procs.broker.url, "--station-id", sid,
            "--timeout-s", "60"]
    for _ in range(2):  # the second push sends everything again: the hub stores each step once
        out = subprocess.run(push, capture_output=True, text=True, timeout=120, env=procs.env(sid))
        assert out.returncode == 0, out.stderr
        assert "the hub has them all" in out.stdout
        assert_hub_matches(procs, [sid])
        assert not _read(db, "select 1 from outbox")
    info = json.loads(subprocess.run([*cli(), "db", "info", "--format", "json", "--db", str(procs.hub_db)],
                                     capture_output=True, text=True, check=True, timeout=60).stdout)
    assert info["stations"] == {sid: {"sessions": 3, "steps": len(_read(db, "select 1 from steps"))}}


def test_bad_credentials_are_one_line_errors(procs: Procs, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    hub = subprocess.run([*cli(), "hub", "--broker", procs.broker.url, "--db", str(tmp_path / "h.db"),
                          "--password-file", str(wrong)], capture_output=True, text=True, timeout=60)
    assert hub.returncode == 1 and "Traceback" not in hub.stderr
    assert hub.stderr.strip().splitlines()[-1].startswith("gait-station: the broker mqtt://127.0.0.1:")
    assert "refused the hub: Not authorized" in hub.stderr
    missing = subprocess.run([*cli(), "run", "--source", "x.csv", "--hub", procs.broker.url, "--station-id", "a",
                              "--db", str(tmp_path / "s.db")], capture_output=True, text=True, timeout=60,
                             env={**procs.env("nobody"), "GAIT_STATION_CONFIG": str(tmp_path / "none.toml")})
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    (tmp_path / "s.toml").write_text(f'[hub]\npassword_file = "{tmp_path / "absent"}"\n')
    with Store(tmp_path / "s.db"):
        pass
    push = subprocess.run([*cli(), "hub", "push", "--db", str(tmp_path / "s.db"), "--hub", procs.broker.url,
                           "--station-id", "track-1", "--config", str(tmp_path / "s.toml")],
                          capture_output=True, text=True, timeout=60)
    assert push.returncode == 1
    assert push.stderr.strip() == f"gait-station: hub password file {tmp_path / 'absent'}: no such file"
    (tmp_path / "s.toml").write_text(f'[hub]\npassword_file = "{wrong}"\n')
    push = subprocess.run([*cli(), "hub", "push", "--db", str(tmp_path / "s.db"), "--hub", procs.broker.url,
                           "--station-id", "track-1", "--config", str(tmp_path / "s.toml"), "--timeout-s", "10"],
                          capture_output=True, text=True, timeout=60)
    assert push.returncode == 1 and "Traceback" not in push.stderr
    assert push.stderr.strip().splitlines()[-1] == (f"gait-station: the broker {procs.broker.url} refused station "
                                                    "track-1: Not authorized")


def test_tls_stations_and_hub_over_mqtts(tmp_path: Path) -> None:
    """With a certificate the broker takes TLS on its own port: a station pushes and the hub receives over
    mqtts:// checked against the CA; a station that does not trust that CA gets nothing through."""
    with Mosquitto(tmp_path, ["track-1"], tls=True) as broker:
        procs = Procs(tmp_path, broker)
        try:
            procs.start("hub", ["hub", "--broker", broker.tls_url, "--tls-ca", str(broker.ca), "--db",
                                str(procs.hub_db), "--password-file", str(broker.password_file("gait-hub"))])
            db = procs.db("track-1")
            with Store(db) as store:
                sid = store.start_session(runner="Ana")
                store.add_step(sid, {"side": "left", "t_contact_s": 0.3, "t_end_s": 0.55, "drop_excursion_deg": 2.5})
                store.end_session(sid)
            config = tmp_path / "tls.toml"
            push = [*cli(), "hub", "push", "--db", str(db), "--config", str(config), "--timeout-s", "30"]
            config.write_text(f'[hub]\nurl = "{broker.tls_url}"\nstation_id = "track-1"\n'
                              f'password_file = "{broker.password_file("track-1")}"\ntls_ca = "{broker.ca}"\n')
            out = subprocess.run(push, capture_output=True, text=True, timeout=90)
            assert out.returncode == 0, out.stderr + procs.log("hub")
            assert_hub_matches(procs, ["track-1"])
            # the system's CAs do not know this broker: the connection never gets through
            config.write_text(f'[hub]\nurl = "{broker.tls_url}"\nstation_id = "track-1"\n'
                              f'password_file = "{broker.password_file("track-1")}"\n')
            out = subprocess.run([*push[:-1], "5"], capture_output=True, text=True, timeout=60)
            assert out.returncode == 1 and "did not answer within 5 s" in out.stderr and "Traceback" not in out.stderr
        finally:
            procs.stop_all()


def test_home_assistant_discovery_announces_each_station(tmp_path: Path) -> None:
    """With --ha-discovery the hub announces a device per station whose sensors read the station's own retained
    status; Home Assistant's user (in the ACL) reads them; the templates, rendered, give the drop per side."""
    import jinja2

    from station.config import HubSettings
    from station.hub.publisher import Publisher
    from station.live.status import SideStatus, StationStatus

    with Mosquitto(tmp_path, ["track-1"], home_assistant="homeassistant") as broker:
        procs = Procs(tmp_path, broker)
        received: dict[str, bytes] = {}
        statuses: list[dict[str, Any]] = []
        ha = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-ha")
        ha.username_pw_set("homeassistant", broker.passwords["homeassistant"])

        def on_message(client: mqtt.Client, userdata: Any, m: mqtt.MQTTMessage) -> None:
            received[m.topic] = m.payload
            if m.topic.endswith("/status"):
                statuses.append(json.loads(m.payload))

        ha.on_message = on_message
        try:
            procs.hub("--ha-discovery")
            db = procs.db("track-1")
            with Store(db) as store:
                store.set_status(StationStatus(state="session", session_id=1, runner="Ana", cue="amber",
                                               cadence_spm=172.0, left=SideStatus(drop_deg=4.4, level="amber"),
                                               right=SideStatus(drop_deg=2.0, level="green")))
            hub = HubSettings(url=broker.url, station_id="track-1",
                              password_file=str(broker.password_file("track-1")))
            with Publisher(str(db), hub):
                ha.connect("127.0.0.1", broker.port)
                ha.loop_start()
                ha.subscribe([("homeassistant/#", 1), ("gait/+/status", 1)])
                wait_for(lambda: len([t for t in received if t.startswith("homeassistant/")]) >= 6, 20,
                         "six discovery messages")
        finally:
            ha.loop_stop()
            procs.stop_all()
    configs = {t: json.loads(v) for t, v in received.items() if t.startswith("homeassistant/")}
    left = configs["homeassistant/sensor/gait_track_1/drop_left/config"]
    assert left["state_topic"] == "gait/track-1/status" and left["unit_of_measurement"] == "°"
    status = next(s for s in statuses if s["online"])  # while the station ran (its last is offline)
    render = jinja2.Environment().from_string
    assert render(left["value_template"]).render(value_json=status) == "4.4"
    assert render(left["availability_template"]).render(value_json=status) == "online"
    runner = configs["homeassistant/sensor/gait_track_1/runner/config"]
    assert render(runner["value_template"]).render(value_json=status) == "Ana"
    assert render(left["availability_template"]).render(value_json=statuses[-1]) == "offline"
