"""The station's outbox: what its hub has not yet confirmed, in its own database.

Rows are written by :class:`station.store.Store` in the same transaction as the session
change or step they point to (so a SIGKILL loses nothing that was committed); the outbox
holds only pointers (kind, session id, step index), and the message is built from the row
as it is when it is sent. A row's id is its sequence number: AUTOINCREMENT, never reused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from station.store import STEP_COLUMNS, Store, utcnow

DB_ID_KEY = "hub_db_id"
STEPS_PER_MESSAGE = 50  # a backlog goes out in batches of up to this many steps of one session
SESSION_KEYS = ("id", "runner", "started_at", "ended_at", "status", "trigger", "source", "model", "fps", "view",
                "camera_roll_deg", "settings", "summary", "notes", "steps", "duration_s", "clock")


@dataclass(frozen=True)
class Record:
    seq: int
    kind: str  # session | step
    session_id: int
    idx: int | None


@dataclass(frozen=True)
class Message:
    kind: str  # the topic kind: session | step
    doc: dict[str, Any]
    seqs: tuple[int, ...]


def db_id(store: Store) -> str:
    """This database's id (made once): the hub keeps sequence numbers and session ids per station database,
    so a station whose card was replaced does not collide with its own past."""
    value = store.get_meta(DB_ID_KEY)
    if not isinstance(value, str) or not value:
        value = uuid.uuid4().hex
        store.set_meta(DB_ID_KEY, value)
    return value


def head(store: Store) -> int:
    """The last sequence number ever given (0 before any)."""
    row = store.db.execute("select seq from sqlite_sequence where name = 'outbox'").fetchone()
    return int(row[0]) if row else 0


def backlog(store: Store) -> int:
    return int(store.db.execute("select count(*) from outbox").fetchone()[0])


def records_after(store: Store, seq: int, limit: int) -> list[Record]:
    rows = store.db.execute("select id, kind, session_id, idx from outbox where id > ? order by id limit ?",
                            [seq, limit]).fetchall()
    return [Record(int(r[0]), r[1], int(r[2]), None if r[3] is None else int(r[3])) for r in rows]


def delete_upto(store: Store, seq: int) -> int:
    """Forget what the hub has confirmed."""
    with store.transaction() as conn:
        return conn.execute("delete from outbox where id <= ?", [seq]).rowcount


def enqueue_history(store: Store) -> int:
    """Every session and its steps into the outbox (``gait-station hub push``): one transaction per session,
    the session first. Returns the records added."""
    ids = [r[0] for r in store.db.execute("select id from sessions where station_id is null order by id")]
    added = 0
    for sid in ids:
        now = utcnow()
        with store.transaction() as conn:
            conn.execute("insert into outbox (kind, session_id, idx, created_at) values ('session', ?, null, ?)",
                         [sid, now])
            cur = conn.execute("insert into outbox (kind, session_id, idx, created_at) "
                                   "select 'step', session_id, idx, ? from steps where session_id = ? order by idx",
                                   [now, sid])
            added += 1 + cur.rowcount
    return added


def session_doc(store: Store, session_id: int) -> dict[str, Any] | None:
    row = store.session(session_id)
    return None if row is None else {k: row.get(k) for k in SESSION_KEYS}


def step_doc(row: dict[str, Any], seq: int) -> dict[str, Any]:
    """A stored step row as sent: its index, the Step columns, flags and extra as JSON, when it was stored."""
    doc = {"seq": seq, "idx": row["idx"], **{k: row[k] for k in STEP_COLUMNS}, "created_at": row["created_at"]}
    doc["flags"] = _json(row.get("flags"), [])
    doc["extra"] = _json(row.get("extra"), {})
    return doc


def _json(text: Any, empty: Any) -> Any:
    if not text:
        return empty
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return empty


def messages(store: Store, records: list[Record], db: str) -> Iterator[Message]:
    """The messages for ``records`` (in order): one per session record, one per run of up to
    :data:`STEPS_PER_MESSAGE` consecutive steps of one session."""
    i = 0
    while i < len(records):
        rec = records[i]
        if rec.kind == "step":
            run = [rec]
            while (i + len(run) < len(records) and len(run) < STEPS_PER_MESSAGE
                   and records[i + len(run)].kind == "step" and records[i + len(run)].session_id == rec.session_id):
                run.append(records[i + len(run)])
            i += len(run)
            yield from _step_messages(store, run, db)
            continue
        i += 1
        doc = session_doc(store, rec.session_id)
        if doc is None:
            yield Message("session", {"db": db, "seq": rec.seq, "gone": rec.session_id}, (rec.seq,))
        else:
            yield Message("session", {"db": db, "seq": rec.seq, "session": doc}, (rec.seq,))


def _step_messages(store: Store, run: list[Record], db: str) -> Iterator[Message]:
    sid = run[0].session_id
    idx = [r.idx for r in run]
    marks = ",".join("?" * len(idx))
    rows = {r["idx"]: r for r in store.db.query(f"select * from steps where session_id = ? and idx in ({marks})",
                                                 [sid, *idx])}
    started = store.db.execute("select started_at from sessions where id = ?", [sid]).fetchone()
    steps = [step_doc(rows[r.idx], r.seq) for r in run if r.idx in rows]
    gone = [r.seq for r in run if r.idx not in rows]
    if steps:
        yield Message("step", {"db": db, "session": sid, "session_started_at": started[0] if started else None,
                               "steps": steps}, tuple(s["seq"] for s in steps))
    for seq in gone:  # the step (its session) was deleted here before it went out: the hub only counts the number
        yield Message("session", {"db": db, "seq": seq, "gone": sid}, (seq,))
