"""The hub's pieces without a broker: [hub] settings, the outbox in the step's own transaction, the hub's
idempotent ingestion, its end-to-end acknowledgement, the topics and the ACL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from station.config import HubSettings, load_settings
from station.errors import InputError
from station.hub import db as hubdb
from station.hub import outbox, protocol
from station.hub.hub import Track
from station.live.status import SideStatus, StationStatus
from station.store import Store
from tests.hub.conftest import apply_messages


def _steps(store: Store, sid: int, n: int, t0: float = 0.3) -> None:
    for i in range(n):
        store.add_step(sid, {"side": "left" if i % 2 == 0 else "right", "t_contact_s": t0 + 0.35 * i,
                             "t_end_s": t0 + 0.35 * i + 0.25, "drop_excursion_deg": 2.0 + 0.1 * i,
                             "cadence_spm": 170.0, "flags": ["keypoint_gaps"] if i == 1 else []})


# -- settings -------------------------------------------------------------------------------------------
def test_hub_settings_are_validated_like_the_other_sections(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[hub]\nurl = "mqtts://hub.local"\nstation_id = "treadmill-2"\npassword_file = "/etc/p"\n'
                   'tls_ca = "/etc/ca.crt"\n')
    hub = load_settings(cfg).hub
    assert hub.enabled and hub.user == "treadmill-2" and hub.tls_ca == "/etc/ca.crt"
    assert not HubSettings().enabled  # off by default
    for text, message in [
        ('[hub]\nurl = "http://hub"\nstation_id = "a"\n', "config: hub.url must start with mqtt:// or mqtts://"),
        ('[hub]\nurl = "mqtt://hub"\nstation_id = "a/b"\n', "config: hub.station_id must be 1-32 letters"),
        ('[hub]\nurl = "mqtt://hub"\nstation_id = ""\n', "config: hub.station_id must be 1-32 letters"),
        ('[hub]\nurl = "mqtt://u:p@hub"\nstation_id = "a"\n', "config: hub.url must not hold a user or password"),
        ('[hub]\nurl = "mqtt://hub:99999"\nstation_id = "a"\n', "config: hub.url is not a broker URL"),
        ('[hub]\nurl = "mqtt://hub"\nstation_id = "a"\ntls_ca = "/x"\n', "config: hub.tls_ca needs an mqtts://"),
        ('[hub]\nurl = "mqtt://hub"\nstation = "a"\n', "config: unknown setting hub.station"),
    ]:
        cfg.write_text(text)
        with pytest.raises(InputError) as err:
            load_settings(cfg)
        assert str(err.value).startswith(message), (text, str(err.value))


# -- the outbox --------------------------------------------------------------------------------------------
def test_the_outbox_is_written_in_the_same_transaction_as_each_change(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        sid = store.start_session(runner="Ana")
        _steps(store, sid, 2)
        assert outbox.backlog(store) == 0  # no hub configured: nothing queued
        store.set_outbox(True)
        _steps(store, sid, 2, t0=1.0)
        store.set_notes(sid, "new shoes")
        store.end_session(sid)
        kinds = store.db.execute("select kind, session_id, idx from outbox order by id").fetchall()
        assert kinds == [("step", sid, 2), ("step", sid, 3), ("session", sid, None), ("session", sid, None)]
        # a step that cannot be stored (no such session) leaves no outbox row either: one transaction
        with pytest.raises(sqlite3.IntegrityError):
            store.add_step(999, {"side": "left", "t_contact_s": 0.1, "t_end_s": 0.3})
        assert outbox.backlog(store) == 4
        assert outbox.head(store) == 4
        # the outbox row is the last write of a step: when it fails, the step and its count are not kept
        # (a step committed without its row is a step the hub never gets: a SIGKILL between the two lost one)
        store.db.execute("create temp trigger no_outbox before insert on outbox "
                         "begin select raise(abort, 'the outbox is full'); end")
        with pytest.raises(sqlite3.IntegrityError):
            store.add_step(sid, {"side": "left", "t_contact_s": 9.0, "t_end_s": 9.3})
        with pytest.raises(sqlite3.IntegrityError):
            store.set_notes(sid, "lost with its record")
        store.db.execute("drop trigger no_outbox")
        assert len(store.steps(sid)) == 4 and store.session(sid)["steps"] == 4
        assert store.session(sid)["notes"] == "new shoes"
        assert outbox.backlog(store) == 4
    with Store(tmp_path / "s.db") as again:  # the switch is in the database: every process sees it
        assert again.outbox
        assert again.mark_interrupted() == []
        sid2 = again.start_session()
    with Store(tmp_path / "s.db") as after_crash:
        assert after_crash.mark_interrupted() == [sid2]
        assert after_crash.db.execute("select kind, session_id from outbox order by id desc limit 2").fetchall() == [
            ("session", sid2), ("session", sid2)]


def test_outbox_messages_carry_the_stored_rows_and_batch_a_backlog(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.set_outbox(True)
        sid = store.start_session(runner="Ana", settings={"cues": {"amber_deg": 4.0}})
        _steps(store, sid, 60)
        store.end_session(sid)
        db = outbox.db_id(store)
        assert outbox.db_id(store) == db and len(db) == 32
        records = outbox.records_after(store, 0, 1000)
        msgs = list(outbox.messages(store, records, db))
        assert [m.kind for m in msgs] == ["session", "step", "step", "session"]
        assert [len(m.doc["steps"]) for m in msgs if m.kind == "step"] == [50, 10]
        assert [s for m in msgs for s in m.seqs] == [r.seq for r in records]  # every record once, in order
        first = msgs[1].doc["steps"][1]
        row = store.steps(sid)[1]
        assert first["idx"] == 1 and first["drop_excursion_deg"] == row["drop_excursion_deg"]
        assert first["flags"] == ["keypoint_gaps"] and first["created_at"] == row["created_at"]
        assert msgs[0].doc["session"]["runner"] == "Ana" and msgs[0].doc["session"]["status"] == "completed"
        store.delete_session(sid)  # deleted here before it went out: the records still count, as "gone"
        gone = list(outbox.messages(store, records, db))
        assert {m.doc.get("gone") for m in gone} == {sid} and sum(len(m.seqs) for m in gone) == len(records)
        assert outbox.delete_upto(store, records[10].seq) == 11


# -- the hub's side: idempotent, order-proof ----------------------------------------------------------------
def _station_db(tmp_path: Path) -> tuple[Store, str, list[outbox.Message]]:
    store = Store(tmp_path / "station.db")
    store.set_outbox(True)
    sid = store.start_session(runner="Zoë")
    _steps(store, sid, 6)
    store.end_session(sid)
    db = outbox.db_id(store)
    return store, db, list(outbox.messages(store, outbox.records_after(store, 0, 100), db))


def test_hub_ingestion_stores_each_step_once_whatever_the_order(tmp_path: Path) -> None:
    station, db, msgs = _station_db(tmp_path)
    start, steps, end = msgs[0], msgs[1], msgs[2]
    with Store(tmp_path / "hub.db") as hub:
        apply_messages(hub, "track-1", [steps])  # the steps before their session: a placeholder, running
        s = hub.sessions()[0]
        assert s["status"] == "running" and s["station_id"] == "track-1" and s["steps"] == 6
        apply_messages(hub, "track-1", [end, start, steps, steps])  # the end before the start, the steps twice
        s = hub.sessions()[0]
        assert len(hub.sessions()) == 1 and s["status"] == "completed" and s["runner"] == "Zoë"
        assert hub.db.execute("select count(*) from steps").fetchone()[0] == 6
        mine = [{k: r[k] for k in ("idx", "side", "t_contact_s", "drop_excursion_deg", "flags", "created_at")}
                for r in station.steps(1)]
        assert [{k: r[k] for k in mine[0]} for r in hub.steps(s["id"])] == mine
        assert hubdb.counts(hub) == {"track-1": {"sessions": 1, "steps": 6}}
        # the same session id from another station, or from this station's new card, is another session
        apply_messages(hub, "track-2", [start])
        other = json.loads(json.dumps(start.doc))
        other["db"] = "f" * 32
        apply_messages(hub, "track-1", [outbox.Message("session", other, start.seqs)])
        assert len(hub.sessions()) == 3
        assert hub.runners()[0]["stations"] in ("track-1,track-2", "track-2,track-1")
    station.close()


@pytest.mark.parametrize("doc", [
    {"db": "x", "seq": 1, "session": {"id": 1, "status": "exploded", "started_at": "t"}},
    {"db": "x", "seq": -1, "session": {"id": 1, "status": "running", "started_at": "t"}},
    {"db": "x", "seq": 1, "session": {"id": 1, "status": "running", "started_at": "t", "fps": "fast"}},
    {"db": "x", "session": 1, "steps": [{"seq": 1, "idx": 0, "side": "up", "t_contact_s": 0, "t_end_s": 1}]},
    {"db": "x", "session": 1, "steps": [{"seq": 1, "idx": 0, "side": "left", "t_contact_s": None, "t_end_s": 1}]},
    {"db": "x", "session": 1, "steps": [{"seq": 1, "idx": 0, "side": "left", "t_contact_s": 0, "t_end_s": 1,
                                         "drop_excursion_deg": float("nan")}]},
])
def test_hub_refuses_malformed_records(tmp_path: Path, doc: dict) -> None:
    with Store(tmp_path / "hub.db") as hub, pytest.raises(InputError), hub.transaction() as conn:
        if "steps" in doc:
            hubdb.apply_steps(conn, "a", doc, "now")
        else:
            hubdb.apply_session(conn, "a", doc)


def test_status_and_last_will_on_the_hub(tmp_path: Path) -> None:
    status = StationStatus(state="session", session_id=3, runner="Ana", steps=12,
                           left=SideStatus(drop_deg=3.1, level="green", steps_in_window=6), cue="green")
    with Store(tmp_path / "hub.db") as hub:
        now = "2999-01-01T00:00:00.000+00:00"
        with hub.transaction() as conn:
            hubdb.apply_status(conn, "track-1", {**status.to_dict(), "online": True, "db": "d", "seq": 9}, now)
        assert hubdb.is_hub(hub)
        (st,) = hubdb.stations(hub, stale_s=5.0)
        assert st.online and st.status.runner == "Ana" and st.status.left.drop_deg == 3.1
        with hub.transaction() as conn:
            hubdb.apply_status(conn, "track-1", {"online": False, "state": "offline"}, now)  # the last will
        (st,) = hubdb.stations(hub, stale_s=5.0)
        assert not st.online and st.status.runner == "Ana" and st.status.state == "stopped"


def test_the_hub_acknowledges_contiguous_records_and_asks_again_for_gaps() -> None:
    t = Track("d")
    t.saw([1, 2, 4], now=10.0)
    assert t.acked == 2 and t.above == {4} and t.dirty
    assert not t.wants_resend(11.0, after_s=3.0)
    assert t.wants_resend(13.5, after_s=3.0)  # a gap for 3 s: a broker lost something
    t.saw([3], now=14.0)
    assert t.acked == 4 and not t.above
    t.head = 9  # the station's status: it has written up to 9, nothing came for 3 s
    assert t.wants_resend(17.5, after_s=3.0)
    t.last_request = 17.5
    assert not t.wants_resend(18.0, after_s=3.0)  # not again at once
    t.floor(20)  # everything up to 20 was confirmed before (another hub) and deleted there
    assert t.acked == 20


# -- topics and the ACL ----------------------------------------------------------------------------------
def test_topics_and_acl() -> None:
    assert protocol.parse_topic("gait/track-1/step") == protocol.Topic("track-1", "step")
    for bad in ("gait/+/step", "gait/#", "gait/a/b/step", "other/track-1/step", "gait/track-1/nope"):
        assert protocol.parse_topic(bad) is None
    acl = protocol.acl_text()
    assert "pattern write gait/%u/step" in acl and "pattern read gait/%u/cmd" in acl
    assert "pattern write gait/%u/cmd" not in acl and "pattern read gait/%u/step" not in acl
    out = subprocess.run([sys.executable, "-m", "station.cli", "hub", "acl"], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout == acl


def test_db_info_json_counts_per_station_on_a_hub(tmp_path: Path) -> None:
    station, db, msgs = _station_db(tmp_path)
    station.close()
    with Store(tmp_path / "hub.db") as hub:
        apply_messages(hub, "track-1", msgs)
        with hub.transaction() as conn:
            hubdb.apply_status(conn, "clubhouse", {"online": True, "state": "idle", "db": "e", "seq": 0}, "now")
    out = {}
    for name in ("hub.db", "station.db"):
        proc = subprocess.run([sys.executable, "-m", "station.cli", "db", "info", "--format", "json", "--db",
                               str(tmp_path / name)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        out[name] = json.loads(proc.stdout)
    assert out["hub.db"]["sessions"] == 1 and out["hub.db"]["steps"] == 6
    assert out["hub.db"]["stations"] == {"clubhouse": {"sessions": 0, "steps": 0},
                                         "track-1": {"sessions": 1, "steps": 6}}
    assert "stations" not in out["station.db"] and out["station.db"]["outbox"] == 8
