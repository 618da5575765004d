"""``gait-station db backup`` (SQLite's online backup, while the station writes) and ``db restore``."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from station.cli import main
from station.store import Store


def _step(i: int) -> dict:
    return {"side": "left" if i % 2 else "right", "t_contact_s": 0.35 * i, "t_end_s": 0.35 * i + 0.2,
            "drop_excursion_deg": 2.5}


def test_backup_while_the_station_writes_then_restore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "gait.db"
    with Store(db) as store:
        done = store.start_session(runner="Ana")
        for i in range(200):
            store.add_step(done, _step(i))
        store.end_session(done, summary={})
    stop, errors, written = threading.Event(), [], [0]

    def station() -> None:  # the station, committing a step at a time meanwhile
        with Store(db) as store:
            sid = store.start_session(runner="Bo")
            try:
                while not stop.is_set():
                    store.add_step(sid, _step(written[0]))
                    written[0] += 1
            except Exception as exc:  # pragma: no cover - the failure the test is about
                errors.append(exc)

    writer = threading.Thread(target=station)
    writer.start()
    try:
        while written[0] < 50:
            time.sleep(0.01)
        usb = tmp_path / "usb"
        usb.mkdir()
        assert main(["db", "backup", str(usb), "--db", str(db)]) == 0
        during = written[0]
        time.sleep(0.2)
    finally:
        stop.set()
        writer.join()
    assert not errors and written[0] > during  # the station never waited on the backup
    [backup] = list(usb.glob("gait-*.db"))
    assert "backup" in capsys.readouterr().err
    with Store(backup, migrate=False) as copy:
        assert copy.integrity_ok()
        assert len(copy.steps(done)) == 200 and 50 <= len(copy.steps(2)) <= written[0]
    assert not list(usb.glob("*.part"))  # written to a temporary name, renamed when complete

    # restore onto a fresh card: the same sessions and steps
    target = tmp_path / "restored" / "gait.db"
    assert main(["db", "restore", str(backup), "--db", str(target)]) == 0
    with Store(target) as restored:
        assert restored.integrity_ok() and [s["id"] for s in restored.sessions()] == [2, 1]
        assert len(restored.steps(done)) == 200


def test_restore_refuses_while_the_station_runs_and_checks_the_backup(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    db, backup = tmp_path / "gait.db", tmp_path / "b.db"
    with Store(db) as store:
        store.start_session(runner="Ana")
        assert main(["db", "backup", str(backup), "--db", str(db)]) == 0
        store.set_status({"state": "idle"})  # a fresh heartbeat: the station is running on this database
        assert main(["db", "restore", str(backup), "--db", str(db)]) == 1
        assert "stop the station" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 500)
    assert main(["db", "restore", str(junk), "--db", str(tmp_path / "new.db")]) == 1
    assert "not a sound database" in capsys.readouterr().err
    assert main(["db", "backup", str(backup), "--db", str(db)]) == 1  # never over an existing file
    assert "exists" in capsys.readouterr().err
    sqlite3.connect(backup).close()
