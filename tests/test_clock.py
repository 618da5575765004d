"""The clock a Pi without a real-time clock has after a power cut (issue 14, finding 9): detected, marked, corrected."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from station.clock import ClockReading, kernel_synchronised, read_clock
from station.config import Settings
from station.cues import CueBoard, mock_factory
from station.live.station import RunOptions, Station
from station.simulate import RunnerParams, SimulatedRunner, SimulatedSource
from station.store import Store

BOOT = "3f1c-boot"
STALE = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)  # what fake-hwclock restored after the power cut
TRUE = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)  # what NTP says, once it is reached


def test_the_kernel_can_be_asked() -> None:
    assert kernel_synchronised() in (True, False, None)
    r = read_clock()
    assert r.boot_s > 0 and r.wall.tzinfo is not None


def test_a_clock_behind_the_database_or_unsynchronised_is_marked(tmp_path: Path) -> None:
    with Store(tmp_path / "g.db") as store:
        ok = store.start_session(clock=ClockReading(TRUE, BOOT, 50.0, True))
        back = store.start_session(clock=ClockReading(STALE, BOOT, 60.0, True))  # synchronised, yet in the past
        unsync = store.start_session(clock=ClockReading(TRUE + dt.timedelta(hours=1), BOOT, 70.0, False))
        assert [store.session(i)["clock"] for i in (ok, back, unsync)] == ["synchronised", "backwards",
                                                                          "unsynchronised"]


def test_dates_are_corrected_from_the_boot_clock_once_synchronised(tmp_path: Path) -> None:
    with Store(tmp_path / "g.db") as store:
        sid = store.start_session(clock=ClockReading(STALE, BOOT, 100.0, False))
        store.end_session(sid, duration_s=30.0)
        ended = dt.datetime.fromisoformat(store.session(sid)["ended_at"])
        other_boot = store.start_session(clock=ClockReading(STALE, "an earlier boot", 5.0, False))
        assert store.correct_dates(ClockReading(STALE + dt.timedelta(seconds=90), BOOT, 190.0, False)) == []
        assert store.correct_dates(ClockReading(TRUE, BOOT, 160.0, True)) == [sid]  # 60 s of boot clock later
        s = store.session(sid)
        start = dt.datetime.fromisoformat(s["started_at"])
        assert start == TRUE - dt.timedelta(seconds=60)
        assert dt.datetime.fromisoformat(s["ended_at"]) - start == ended - STALE  # the session's length is kept
        assert s["clock"] == "corrected (was unsynchronised)"
        assert not store.session(other_boot)["clock"].startswith("corrected")  # cannot be known: stays marked


def test_the_station_marks_and_corrects_its_session(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    board = CueBoard.from_settings(Settings(), pin_factory=mock_factory())
    reads = []

    def clock() -> ClockReading:  # unsynchronised at the session's start, synchronised a moment later
        reads.append(1)
        if len(reads) == 1:
            return ClockReading(STALE, BOOT, 100.0, False)
        return ClockReading(TRUE, BOOT, 105.0, True)

    options = RunOptions(source_name="sim", session_at_once="file", preview_path=None, latest_only=False,
                         clock=clock, clock_check_s=0.0)
    src = SimulatedSource(SimulatedRunner(RunnerParams(seed=1)), fps=30.0, duration_s=5.0)
    try:
        Station(Settings(), store, board, lambda: src, options=options).run(threading.Event())
        [s] = store.sessions()
        assert s["clock"] == "corrected (was unsynchronised)"
        assert dt.datetime.fromisoformat(s["started_at"]) == TRUE - dt.timedelta(seconds=5)
    finally:
        board.close()
        store.close()


def test_the_web_says_the_date_is_uncertain(tmp_path: Path) -> None:
    from werkzeug.security import generate_password_hash

    from tests.web.conftest import PASSWORD, AuthActions
    from web import create_app
    from web.auth import PASSWORD_KEY

    db = tmp_path / "g.db"
    app = create_app({"TESTING": True, "DATABASE": str(db)})
    with Store(db) as store:
        store.set_meta(PASSWORD_KEY, generate_password_hash(PASSWORD))
        sid = store.start_session(clock=ClockReading(STALE, BOOT, 1.0, False))
    client = app.test_client()
    AuthActions(client).login()
    assert "Date uncertain" in client.get(f"/sessions/{sid}").get_data(as_text=True)
