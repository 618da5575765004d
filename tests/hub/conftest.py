"""Fixtures for the hub: a real Mosquitto (tests/mqtt.py), stations and hub as real processes, and the
comparison every hub test ends with: the hub holds exactly each station's own steps, each once."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.hub import db as hubdb
from station.hub import outbox, protocol
from station.store import STEP_COLUMNS, Store, utcnow
from tests.conftest import ROOT, require_shared
from tests.mqtt import Mosquitto

STATIONS = ("track-1", "track-2", "clubhouse")
TRACKS = {  # three runners, three different shared tracks (30 s each)
    "track-1": ("mocap", "fukuchi2017", "s01_30fps_clean.track.csv"),
    "track-2": ("mocap", "fukuchi2017", "s02_30fps_noisy.track.csv"),
    "clubhouse": ("mocap", "fukuchi2017", "s32_30fps_noisy.track.csv"),
}
STEP_KEYS = ("idx", *STEP_COLUMNS, "extra", "created_at")


def cli() -> list[str]:
    exe = Path(sys.executable).parent / "gait-station"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "station.cli"]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path, [*STATIONS, "intruder"]) as b:
        yield b


class Procs:
    """The test's processes (hub, stations): logs in tmp, stopped at the end."""

    def __init__(self, tmp: Path, broker: Mosquitto) -> None:
        self.tmp = tmp
        self.broker = broker
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.hub_db = tmp / "hub.db"

    def env(self, name: str) -> dict[str, str]:
        config = self.tmp / f"{name}.toml"
        if name in STATIONS or name == "intruder":
            config.write_text(f'[hub]\npassword_file = "{self.broker.password_file(name)}"\n')
        else:
            config.write_text("")
        return {**os.environ, "GAIT_STATION_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen([*cli(), "-v", *args], stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env(name.split("#")[0]), cwd=ROOT)
        log.close()
        return self.procs[name]

    def hub(self, *extra: str) -> subprocess.Popen[bytes]:
        return self.start("hub", ["hub", "--broker", self.broker.url, "--db", str(self.hub_db), "--password-file",
                                  str(self.broker.password_file("gait-hub")), *extra])

    def station(self, station_id: str, *extra: str, track: Path | None = None, speed: float = 1.0,
                ) -> subprocess.Popen[bytes]:
        track = track or require_shared(*TRACKS[station_id])
        return self.start(station_id, ["run", "--mock-pins", "--no-preview", "--source", str(track), "--realtime",
                                       "--speed", str(speed), "--db", str(self.db(station_id)), "--hub",
                                       self.broker.url, "--station-id", station_id, *extra])

    def db(self, station_id: str) -> Path:
        return self.tmp / f"{station_id}.db"

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def wait(self, name: str, timeout_s: float) -> int:
        try:
            return self.procs[name].wait(timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} still running after {timeout_s} s: {self.log(name)}")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def procs(tmp_path: Path, broker: Mosquitto) -> Iterator[Procs]:
    p = Procs(tmp_path, broker)
    try:
        yield p
    finally:
        p.stop_all()


def _read(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()


def station_steps(db: Path) -> dict[tuple[int, int], tuple[Any, ...]]:
    """A station's own steps: (its session id, idx) -> every stored column."""
    cols = ", ".join(STEP_KEYS)
    return {(r[0], r[1]): r[1:] for r in _read(db, f"select session_id, {cols} from steps")}


def hub_steps(hub_db: Path, station_id: str) -> list[tuple[tuple[int, int], tuple[Any, ...]]]:
    """The hub's steps of one station, keyed the station's way; a list, so a step stored twice would show."""
    cols = ", ".join(f"t.{k}" for k in STEP_KEYS)
    rows = _read(hub_db, f"select s.station_session_id, {cols} from steps t join sessions s on s.id = t.session_id "
                         "where s.station_id = ?", (station_id,))
    return [((r[0], r[1]), r[1:]) for r in rows]


def station_sessions(db: Path) -> dict[int, tuple[Any, ...]]:
    return {r[0]: r[1:] for r in _read(db, "select id, status, steps, started_at, ended_at from sessions")}


def hub_sessions(hub_db: Path, station_id: str) -> dict[int, tuple[Any, ...]]:
    rows = _read(hub_db, "select station_session_id, status, steps, started_at, ended_at from sessions "
                         "where station_id = ?", (station_id,))
    return {r[0]: r[1:] for r in rows}


def hub_lacks(hub_db: Path, station_id: str, db: Path) -> int:
    """How many of the station's steps the hub does not hold (yet)."""
    have = {k for k, _ in hub_steps(hub_db, station_id)}
    return sum(1 for k in station_steps(db) if k not in have)


def wait_until_hub_has(procs: Procs, station_ids: tuple[str, ...] | list[str], timeout_s: float, what: str) -> None:
    """Every step each station holds now reaches the hub within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        lacking = {s: hub_lacks(procs.hub_db, s, procs.db(s)) for s in station_ids}
        if not any(lacking.values()):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: after {timeout_s} s the hub still lacks {lacking}\nhub: {procs.log('hub')}")
        time.sleep(0.25)


def assert_hub_matches(procs: Procs, station_ids: tuple[str, ...] | list[str], timeout_s: float = 30.0) -> None:
    """The end state: the hub holds exactly the steps each station holds, each once, every session with the
    station's status and step count."""
    deadline = time.monotonic() + timeout_s
    while True:
        problems = []
        for sid in station_ids:
            mine = station_steps(procs.db(sid))
            theirs = hub_steps(procs.hub_db, sid)
            keys = [k for k, _ in theirs]
            if len(keys) != len(set(keys)):
                problems.append(f"{sid}: a step stored twice on the hub")
            if dict(theirs) != mine:
                missing = len(set(mine) - set(keys))
                wrong = sum(1 for k, v in theirs if k in mine and mine[k] != v)
                problems.append(f"{sid}: hub has {len(theirs)} steps, station {len(mine)} "
                                f"({missing} missing, {len(set(keys) - set(mine))} extra, {wrong} differ)")
            if hub_sessions(procs.hub_db, sid) != station_sessions(procs.db(sid)):
                problems.append(f"{sid}: sessions differ: hub {hub_sessions(procs.hub_db, sid)} "
                                f"station {station_sessions(procs.db(sid))}")
        if not problems:
            return
        if time.monotonic() > deadline:
            pytest.fail("; ".join(problems) + f"\nhub log: {procs.log('hub')}")
        time.sleep(0.25)


def wait_for_steps(db: Path, n: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while len(_read(db, "select 1 from steps")) < n:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{db.stem} exited ({proc.returncode}) before {n} steps")
        if time.monotonic() > deadline:
            pytest.fail(f"{db.stem}: fewer than {n} steps within {timeout_s} s")
        time.sleep(0.1)


@contextlib.contextmanager
def broker_down(broker: Mosquitto, seconds: float) -> Iterator[None]:
    broker.kill()
    try:
        yield
        time.sleep(seconds)
    finally:
        broker.start()


def apply_messages(hub: Store, station_id: str, msgs: list[outbox.Message], received_at: str | None = None
                   ) -> list[int]:
    """What the hub does with a station's messages (as they travel: JSON), without a broker; their seqs."""
    seqs: list[int] = []
    with hub.transaction() as conn:
        for m in msgs:
            doc = protocol.decode(protocol.encode(m.doc))
            if m.kind == "session":
                seqs.append(hubdb.apply_session(conn, station_id, doc)[1])
            else:
                seqs.extend(hubdb.apply_steps(conn, station_id, doc, received_at or utcnow())[1])
    return seqs


def ingest(hub: Store, station_id: str, station: Store) -> None:
    """Everything in a station's outbox, into the hub."""
    db = outbox.db_id(station)
    apply_messages(hub, station_id, list(outbox.messages(station, outbox.records_after(station, 0, 10_000), db)))

