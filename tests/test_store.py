import sqlite3
from pathlib import Path

import numpy as np
import pytest

from station.errors import InputError
from station.store import SESSION_INTERRUPTED, Store


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "gait.db") as s:
        yield s


def test_wal_and_migrations(store: Store):
    mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert {"runners", "sessions", "steps", "cue_events", "pose_chunks", "commands", "meta"} <= set(
        store.db.table_names()
    )
    # reopening applies nothing twice
    Store(store.path).close()


def test_hub_migrations_accept_a_database_that_has_their_tables(tmp_path: Path):
    """A database made by a pre-release build of the hub recorded these migrations under other names: the
    tables and columns are there, and opening it with this build must not fail ("table outbox already exists")."""
    path = tmp_path / "gait.db"
    with Store(path) as s:
        sid = s.start_session(runner="Ana")
        s.db.execute("delete from _sqlite_migrations where name in ('m008_hub_outbox', 'm009_hub_stations')")
        s.db.conn.commit()
    with Store(path) as s:  # both run again, and change nothing
        names = [r[0] for r in s.db.execute("select name from _sqlite_migrations")]
        assert names.count("m008_hub_outbox") == 1 and names.count("m009_hub_stations") == 1
        assert s.session(sid)["runner"] == "Ana" and "outbox" in s.db.table_names()


def test_session_steps_cues_poses(store: Store):
    sid = store.start_session(runner="Ana", source="x.csv", model="m", fps=30.0, view="posterior",
                              settings={"cues": {"amber_deg": 4.0}})
    assert store.add_step(sid, {"side": "left", "t_contact_s": 0.4, "t_end_s": 0.65,
                                "drop_excursion_deg": 2.0, "quality": 0.9, "flags": ["ok"]}) == 0
    assert store.add_step(sid, {"side": "right", "t_contact_s": 0.8, "t_end_s": 1.05,
                                "drop_excursion_deg": None}) == 1
    steps = store.steps(sid)
    assert [s["side"] for s in steps] == ["left", "right"]
    assert steps[0]["quality"] == 0.9 and steps[0]["flags"] == ["ok"]
    assert steps[1]["drop_excursion_deg"] is None
    store.add_cue(sid, {"t_s": 0.65, "kind": "led", "state": "green", "reason": "mean 2.0° < 4.0°"})
    assert store.cues(sid)[0]["state"] == "green"
    rng = np.random.default_rng(0)
    for k in range(3):
        t = np.arange(10) / 30 + k / 3
        store.add_poses(sid, t, rng.uniform(0, 600, (10, 17, 2)), rng.uniform(0, 1, (10, 17)))
    track = store.pose_track(sid)
    assert len(track) == 30 and np.all(np.diff(track.t_s) > 0)
    store.end_session(sid, summary={"steps": 2})
    s = store.session(sid)
    assert s["status"] == "completed" and s["runner"] == "Ana" and s["steps"] == 2
    assert s["settings"]["cues"]["amber_deg"] == 4.0


def test_interrupted_sessions_are_marked(tmp_path: Path):
    path = tmp_path / "g.db"
    with Store(path) as s:
        sid = s.start_session(runner=None)
        s.add_step(sid, {"side": "left", "t_contact_s": 0.1, "t_end_s": 0.3})
    with Store(path) as s:
        assert s.mark_interrupted() == [sid]
        assert s.session(sid)["status"] == SESSION_INTERRUPTED
        assert s.session(sid)["steps"] == 1
        assert s.mark_interrupted() == []


def test_runner_rename_merge(store: Store):
    a = store.runner_id("Ana")
    b = store.runner_id("ana b")
    s1 = store.start_session(runner="Ana")
    s2 = store.start_session(runner="ana b")
    with pytest.raises(InputError):
        store.rename_runner(b, "Ana")
    store.merge_runners(b, a)
    assert store.session(s2)["runner_id"] == a and store.session(s1)["runner_id"] == a
    assert [r["name"] for r in store.runners()] == ["Ana"]
    store.rename_runner(a, "Ana B.")
    assert store.runners()[0]["sessions"] == 2


def test_commands(store: Store):
    cid = store.request("start", {"runner": "Bo"})
    assert [c["payload"]["runner"] for c in store.pending_commands()] == ["Bo"]
    store.finish_command(cid, ok=True, result="session 1")
    assert store.pending_commands() == [] and store.command(cid)["status"] == "done"
    with pytest.raises(InputError):
        store.request("format-disk")


def test_not_a_database(tmp_path: Path):
    p = tmp_path / "junk.db"
    p.write_bytes(b"not sqlite at all" * 100)
    from station.errors import StoreError

    with pytest.raises(StoreError):
        Store(p)


def test_second_connection_sees_committed_steps(store: Store):
    sid = store.start_session()
    store.add_step(sid, {"side": "left", "t_contact_s": 0.1, "t_end_s": 0.3})
    conn = sqlite3.connect(store.path)
    assert conn.execute("select count(*) from steps").fetchone()[0] == 1
    conn.close()
