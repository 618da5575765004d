"""The hub's side of the database: stations, idempotent ingestion of their records, what the web reads.

A hub database has the station's schema (:mod:`station.store`) plus, from migration
``m009_hub_stations``, a station id on each session and command, the commit time of each
step and the ``stations`` table. Sessions are keyed by (station, station database, the
station's session id), steps by (session, index): a record that arrives twice is stored once, and a
session message older than the one applied (``station_seq``) changes nothing.

No paho here: the web and ``gait-station db info`` import this module.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from station.errors import InputError
from station.live.status import StationStatus
from station.store import SESSION_COMPLETED, SESSION_INTERRUPTED, SESSION_RUNNING, STEP_COLUMNS, Store, utcnow

HUB_KEY = "hub"  # meta: this database is a hub's (what the hub process wrote at its start)
SESSION_STATUSES = (SESSION_RUNNING, SESSION_COMPLETED, SESSION_INTERRUPTED)
SESSION_TEXT = ("started_at", "ended_at", "trigger", "source", "model", "view", "notes", "clock")
SESSION_NUMBERS = ("fps", "camera_roll_deg", "duration_s")
STEP_NUMBERS = tuple(k for k in STEP_COLUMNS if k not in ("side", "flags", "frames"))


# -- reading (the web, db info) --------------------------------------------------------------------
@dataclass(frozen=True)
class HubStation:
    """One station as the hub knows it: its last status (typed), whether it is online, what the hub holds."""

    id: str
    status: StationStatus
    online: bool  # it said so, and the hub heard from it within the stale time
    said_online: bool
    last_seen_at: str | None
    age_s: float | None
    sessions: int = 0
    steps: int = 0
    session_hub_id: int | None = None  # the hub's id of the station's running session
    backlog: int = 0  # records the station had not seen confirmed, as its status said
    extra: dict[str, Any] = field(default_factory=dict)


def is_hub(store: Store) -> bool:
    """A hub's database: the hub process has run on it, or it holds stations."""
    if store.get_meta(HUB_KEY) is not None:
        return True
    return "stations" in store.db.table_names() and bool(store.db.execute("select 1 from stations limit 1").fetchone())


def counts(store: Store) -> dict[str, dict[str, int]]:
    """``{station_id: {"sessions": n, "steps": n}}`` for every station the hub knows."""
    out = {r[0]: {"sessions": 0, "steps": 0} for r in store.db.execute("select id from stations order by id")}
    # sessions.steps is the hub's own count of each session's stored steps (apply_steps keeps it)
    sql = """select station_id, count(*), coalesce(sum(steps), 0) from sessions
             where station_id is not null group by station_id"""
    for sid, n, steps in store.db.execute(sql):
        out[sid] = {"sessions": int(n), "steps": int(steps)}
    return dict(sorted(out.items()))


def age_s(when: Any, now: dt.datetime | None = None) -> float | None:
    """Seconds since a stored UTC ISO time (None if it is not one)."""
    if not isinstance(when, str) or not when:
        return None
    now = now or dt.datetime.now(dt.UTC)
    try:
        t = dt.datetime.fromisoformat(when)
    except ValueError:
        return None
    return max((now - (t if t.tzinfo else t.replace(tzinfo=dt.UTC))).total_seconds(), 0.0)


def stations(store: Store, stale_s: float, now: dt.datetime | None = None) -> list[HubStation]:
    """Every station, by id, with its typed status."""
    now = now or dt.datetime.now(dt.UTC)
    totals = counts(store)
    out = []
    for row in store.db.query("select * from stations order by id"):
        try:
            doc = json.loads(row["status"] or "{}")
        except json.JSONDecodeError:
            doc = {}
        doc = doc if isinstance(doc, dict) else {}
        status = StationStatus.from_dict({**doc, "preview_path": None})
        age = age_s(row["last_seen_at"], now)
        said = bool(row["online"])
        running = None
        if status.session_id is not None and row["db_id"]:
            hit = store.db.execute("select id from sessions where station_id = ? and station_db = ? and "
                                   "station_session_id = ?", [row["id"], row["db_id"], status.session_id]).fetchone()
            running = int(hit[0]) if hit else None
        n = totals.get(row["id"], {"sessions": 0, "steps": 0})
        out.append(HubStation(id=row["id"], status=status, online=said and age is not None and age <= stale_s,
                              said_online=said, last_seen_at=row["last_seen_at"], age_s=age,
                              sessions=n["sessions"], steps=n["steps"], session_hub_id=running,
                              backlog=int(doc.get("outbox") or 0) if isinstance(doc.get("outbox"), int) else 0))
    return out


def online(store: Store, stale_s: float) -> set[str]:
    """The ids of the stations online now (they said so, and were heard from within ``stale_s``)."""
    now = dt.datetime.now(dt.UTC)
    return {r[0] for r in store.db.execute("select id, last_seen_at from stations where online = 1")
            if (a := age_s(r[1], now)) is not None and a <= stale_s}


def set_command_status(store: Store, command_id: int, status: str, *, was: str, result: str | None = None) -> None:
    """Move a command on (pending -> sent -> done | failed), only from the state it was in."""
    with store.transaction() as conn:
        if result is None:
            conn.execute("update commands set status = ? where id = ? and status = ?", [status, command_id, was])
        else:
            conn.execute("update commands set status = ?, result = ?, handled_at = ? where id = ? and status = ?",
                         [status, result, utcnow(), command_id, was])


def station(store: Store, station_id: str, stale_s: float) -> HubStation | None:
    return next((s for s in stations(store, stale_s) if s.id == station_id), None)


# -- ingestion (the hub process; the caller holds one transaction per batch) ---------------------------
def _text(v: Any, key: str, limit: int = 10_000) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or len(v) > limit:
        raise InputError(f"{key} must be text")
    return v


def _number(v: Any, key: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise InputError(f"{key} must be a number")
    return v


def _int(v: Any, key: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise InputError(f"{key} must be a whole number")
    return v


def _runner_id(conn: sqlite3.Connection, name: Any) -> int | None:
    name = (_text(name, "runner", 80) or "").strip()
    if not name:
        return None
    row = conn.execute("select id from runners where name = ?", [name]).fetchone()
    if row:
        return int(row[0])
    return int(conn.execute("insert into runners (name, created_at) values (?, ?)", [name, utcnow()]).lastrowid)


def hub_session(conn: sqlite3.Connection, station_id: str, db_id: str, station_session_id: int,
                started_at: str | None = None) -> int:
    """The hub's id of a station's session; a placeholder (running) when its steps came before it."""
    row = conn.execute("select id from sessions where station_id = ? and station_db = ? and station_session_id = ?",
                       [station_id, db_id, station_session_id]).fetchone()
    if row:
        return int(row[0])
    cur = conn.execute(
        "insert into sessions (started_at, status, steps, notes, station_id, station_db, station_session_id, "
        "station_seq) values (?, ?, 0, '', ?, ?, ?, 0)",
        [started_at or utcnow(), SESSION_RUNNING, station_id, db_id, station_session_id])
    return int(cur.lastrowid)


def apply_session(conn: sqlite3.Connection, station_id: str, doc: dict[str, Any]) -> tuple[str, int]:
    """A session record: the station's session row as it is now. Returns (db id, seq)."""
    db_id = _text(doc.get("db"), "db", 64) or ""
    seq = _int(doc.get("seq"), "seq")
    if not db_id:
        raise InputError("a session record needs its db")
    if "gone" in doc:  # deleted on the station before it went out: nothing to store, the number is seen
        return db_id, seq
    s = doc.get("session")
    if not isinstance(s, dict):
        raise InputError("a session record needs its session")
    sid = _int(s.get("id"), "session.id")
    status = s.get("status")
    if status not in SESSION_STATUSES:
        raise InputError(f"session.status {status!r} is not one of {', '.join(SESSION_STATUSES)}")
    values: dict[str, Any] = {k: _text(s.get(k), f"session.{k}") for k in SESSION_TEXT}
    values.update({k: _number(s.get(k), f"session.{k}") for k in SESSION_NUMBERS})
    if not values["started_at"]:
        raise InputError("session.started_at is missing")
    values["notes"] = values["notes"] or ""
    for key in ("settings", "summary"):
        v = s.get(key) or {}
        if not isinstance(v, dict):
            raise InputError(f"session.{key} must be an object")
        values[key] = json.dumps(v, allow_nan=False)
    values["status"] = status
    values["runner_id"] = _runner_id(conn, s.get("runner"))
    hub_id = hub_session(conn, station_id, db_id, sid, values["started_at"])
    cols = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"update sessions set {cols}, station_seq = ? where id = ? and coalesce(station_seq, 0) < ?",
                 [*values.values(), seq, hub_id, seq])
    return db_id, seq


def apply_steps(conn: sqlite3.Connection, station_id: str, doc: dict[str, Any], received_at: str
                ) -> tuple[str, list[int], list[str]]:
    """A step record (a run of one session's steps). Returns (db id, their seqs, the created_at of the steps
    stored now: a step that was here already is not stored again)."""
    db_id = _text(doc.get("db"), "db", 64) or ""
    sid = _int(doc.get("session"), "session")
    steps = doc.get("steps")
    if not db_id or not isinstance(steps, list):
        raise InputError("a step record needs db and steps")
    hub_id = hub_session(conn, station_id, db_id, sid, _text(doc.get("session_started_at"), "session_started_at"))
    seqs: list[int] = []
    stored: list[str] = []
    last_end = None
    for st in steps:
        if not isinstance(st, dict):
            raise InputError("a step must be an object")
        seqs.append(_int(st.get("seq"), "seq"))
        row = _step_row(st)
        row.update(session_id=hub_id, received_at=received_at)
        cols = list(row)
        cur = conn.execute(f"insert or ignore into steps ({', '.join(cols)}) values ({', '.join('?' * len(cols))})",
                           [row[c] for c in cols])
        if cur.rowcount:
            stored.append(row["created_at"] or "")
            last_end = row["t_end_s"] if last_end is None else max(last_end, row["t_end_s"])
    if stored:
        conn.execute("update sessions set steps = (select count(*) from steps where session_id = ?), "
                     "duration_s = max(coalesce(duration_s, 0), ?) where id = ?", [hub_id, last_end, hub_id])
    return db_id, seqs, stored


def _step_row(st: dict[str, Any]) -> dict[str, Any]:
    if st.get("side") not in ("left", "right"):
        raise InputError(f"step side {st.get('side')!r}")
    row: dict[str, Any] = {"idx": _int(st.get("idx"), "idx"), "side": st["side"]}
    for k in STEP_NUMBERS:
        row[k] = _number(st.get(k), k)
    if row["t_contact_s"] is None or row["t_end_s"] is None:
        raise InputError("a step needs t_contact_s and t_end_s")
    row["frames"] = _int(st.get("frames") or 0, "frames")
    flags = st.get("flags") or []
    extra = st.get("extra") or {}
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags) or not isinstance(extra, dict):
        raise InputError("step flags must be a list of text and extra an object")
    row["flags"] = json.dumps(flags)
    row["extra"] = json.dumps(extra, allow_nan=False)
    row["created_at"] = _text(st.get("created_at"), "created_at", 64)
    return row


def apply_status(conn: sqlite3.Connection, station_id: str, doc: dict[str, Any], seen_at: str) -> None:
    """The station's retained status (or its last will, ``online: false`` alone: the last status is kept)."""
    online = doc.get("online") is True
    exists = conn.execute("select 1 from stations where id = ?", [station_id]).fetchone()
    if not exists:
        conn.execute("insert into stations (id, first_seen_at, acked_seq, head_seq, online) values (?, ?, 0, 0, 0)",
                     [station_id, seen_at])
    update: dict[str, Any] = {"online": int(online), "last_seen_at": seen_at}
    if "state" in doc and doc.get("state") != "offline":  # a full status, not the last will
        status = {k: v for k, v in doc.items() if k not in ("v", "preview_path")}
        update["status"] = json.dumps(status, allow_nan=False)
        if isinstance(doc.get("seq"), int):
            update["head_seq"] = doc["seq"]
        if isinstance(doc.get("db"), str) and doc["db"]:
            update["db_id"] = doc["db"][:64]
    elif not online:  # the last will: the station is gone; its last status stays, its state says so
        row = conn.execute("select status from stations where id = ?", [station_id]).fetchone()
        try:
            last = json.loads(row[0]) if row and row[0] else {}
        except json.JSONDecodeError:
            last = {}
        update["status"] = json.dumps({**last, "state": "stopped", "online": False,
                                       "message": "connection lost (last will)"})
    cols = ", ".join(f"{k} = ?" for k in update)
    conn.execute(f"update stations set {cols} where id = ?", [*update.values(), station_id])


def apply_reply(conn: sqlite3.Connection, station_id: str, doc: dict[str, Any], handled_at: str) -> None:
    """A station's answer to a command: only to a command for that station."""
    cid = _int(doc.get("id"), "id")
    result = _text(doc.get("result"), "result", 500) or ""
    status = "done" if doc.get("ok") is True else "failed"
    conn.execute("update commands set status = ?, result = ?, handled_at = ? where id = ? and station_id = ? "
                 "and status in ('pending', 'sent')", [status, result, handled_at, cid, station_id])


def save_acked(conn: sqlite3.Connection, station_id: str, db_id: str, acked: int) -> None:
    exists = conn.execute("select 1 from stations where id = ?", [station_id]).fetchone()
    if not exists:
        conn.execute("insert into stations (id, first_seen_at, acked_seq, head_seq, online) values (?, ?, 0, 0, 0)",
                     [station_id, utcnow()])
    conn.execute("update stations set db_id = ?, acked_seq = ? where id = ?", [db_id, acked, station_id])


def json_object(text: Any) -> dict[str, Any]:
    try:
        v = json.loads(text) if text else {}
    except (TypeError, json.JSONDecodeError):
        return {}
    return v if isinstance(v, dict) else {}
