"""The station's SQLite database: runners, sessions, steps, cue events, raw poses, commands.

sqlite-utils over one file in WAL mode, schema changes as decorated migrations.
The station process writes sessions, steps, cues, poses and its status row; the
web process reads them and writes only *requests* (the ``commands`` table, which
the station polls), settings overrides, notes and runner edits. That table is
the one mechanism by which the web asks the station for anything.

Durability: every write is its own transaction (``synchronous=FULL``), so a
completed step is on disk when :meth:`Store.add_step` returns and a power cut
loses at most the step in progress. On the next start
:meth:`Store.mark_interrupted` closes sessions left ``running``.

Hub: while ``meta.hub_outbox`` is on (``gait-station run`` with a hub), every session change and every
step also writes a row to the ``outbox`` table *in the same transaction*, which the publisher
(:mod:`station.hub.publisher`) sends and deletes once the hub has confirmed it.

Timestamps written here (``*_at``) are wall-clock UTC ISO 8601 strings; stream
times (``t_*_s``) are the source's seconds since the session's first frame.
"""

from __future__ import annotations

import collections.abc
import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils
from sqlite_utils.migrations import Migrations

from station.clock import BACKWARDS, CORRECTED, UNSYNCHRONISED, ClockReading
from station.config import StorageSettings, check_runner_name
from station.errors import InputError, StoreError
from station.gait.steps import STEP_FIELDS, Step
from station.gait.summary import Summary, summarize
from station.keypoints import NUM_KEYPOINTS, PoseTrack
from station.live.status import StationStatus

log = logging.getLogger(__name__)

migrations = Migrations("gait-station")

SESSION_RUNNING = "running"
SESSION_COMPLETED = "completed"
SESSION_INTERRUPTED = "interrupted"

#: raw poses from m004 on: the stream time (float64) and x, y, score of the 17 keypoints (float32)
POSE_DTYPE = np.dtype([("t", "<f8"), ("kp", "<f4", (NUM_KEYPOINTS * 3,))])
POSE_ENCODING = "t:f8,kp:f4x51"

#: the steps table's own columns: the fields of :class:`Step`, in its order (anything else a step row
#: carries goes to ``extra``, JSON)
STEP_COLUMNS: tuple[str, ...] = STEP_FIELDS


def clip_path(db_path: str | Path, session_id: int) -> Path:
    """Where a session's clip lives: ``clips/session-<id>.mp4`` beside the database (station.live.clip)."""
    return Path(db_path).parent / "clips" / f"session-{int(session_id)}.mp4"


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["runners"].create({"id": int, "name": str, "created_at": str}, pk="id", not_null={"name", "created_at"})
    db["runners"].create_index(["name"], unique=True)
    db["sessions"].create(
        {
            "id": int,
            "runner_id": int,
            "started_at": str,
            "ended_at": str,
            "status": str,  # running | completed | interrupted
            "trigger": str,  # button | web | auto | file | cli | demo
            "source": str,
            "model": str,
            "fps": float,
            "view": str,
            "camera_roll_deg": float,
            "settings": str,  # JSON: the settings the session ran with
            "summary": str,  # JSON: the analysis summary at the end
            "notes": str,
            "steps": int,
            "duration_s": float,
        },
        pk="id",
        foreign_keys=[("runner_id", "runners", "id")],
        not_null={"started_at", "status"},
        defaults={"status": SESSION_RUNNING, "steps": 0, "notes": ""},
    )
    db["sessions"].create_index(["runner_id"])
    db["sessions"].create_index(["status"])
    db["steps"].create(
        {
            "id": int,
            "session_id": int,
            "idx": int,
            "side": str,
            "t_contact_s": float,
            "t_end_s": float,
            "drop_excursion_deg": float,
            "drop_peak_deg": float,
            "cadence_spm": float,
            "trunk_lean_deg": float,
            "knee_fppa_deg": float,
            "step_width_norm": float,
            "extra": str,  # JSON: quality flags and any further metrics
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"session_id", "idx", "side", "t_contact_s", "t_end_s"},
    )
    db["steps"].create_index(["session_id", "idx"], unique=True)
    db["cue_events"].create(
        {
            "id": int,
            "session_id": int,
            "t_s": float,  # stream time of the event
            "kind": str,  # led | buzzer | metronome | framing
            "state": str,  # green | amber | red | off | no_runner | beep | ...
            "side": str,
            "value": float,
            "reason": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"session_id", "kind", "state", "reason"},
    )
    db["cue_events"].create_index(["session_id"])
    db["pose_chunks"].create(
        {"id": int, "session_id": int, "t0_s": float, "frames": int, "data": bytes},
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["pose_chunks"].create_index(["session_id", "t0_s"])
    db["commands"].create(
        {
            "id": int,
            "kind": str,  # start | stop
            "payload": str,  # JSON
            "status": str,  # pending | done | failed
            "result": str,
            "created_at": str,
            "handled_at": str,
        },
        pk="id",
        not_null={"kind", "status", "created_at"},
        defaults={"status": "pending", "payload": "{}"},
    )
    db["meta"].create({"key": str, "value": str, "updated_at": str}, pk="key")


@migrations()
def m002_step_fields_as_columns(db: sqlite_utils.Database) -> None:
    """Every :class:`Step` field its own column: the ones that lived in ``extra`` move out of it."""
    moved = {"t_peak_s": float, "score_min": float, "frames": int, "flags": str}  # flags: a JSON list
    for name, tp in moved.items():
        db["steps"].add_column(name, tp)
    db.execute("update steps set " + ", ".join(f"{k} = json_extract(extra, '$.{k}')" for k in moved)
               + " where extra is not null and json_valid(extra)")
    db.execute("update steps set extra = json_remove(extra, " + ", ".join(f"'$.{k}'" for k in moved) + ")"
               " where extra is not null and json_valid(extra)")


@migrations()
def m003_web_logins(db: sqlite_utils.Database) -> None:
    """Login sessions of the web page, kept on the server so that logout and a new password end them."""
    db["web_logins"].create({"token_sha256": str, "created_at": str, "address": str}, pk="token_sha256",
                            not_null={"created_at"})


@migrations()
def m004_float32_poses_and_budget(db: sqlite_utils.Database) -> None:
    """Raw poses as float32 from now on (``pose_chunks.encoding``; a chunk without one is the float64 block
    it always was, still read), each session's raw-pose bytes counted (for the disk budget) and the reason
    they were removed, if they were."""
    db["pose_chunks"].add_column("encoding", str)
    db["sessions"].add_column("pose_bytes", int, not_null_default=0)
    db["sessions"].add_column("poses_removed", str)  # why the raw poses are gone (disk budget, low disk)
    db.execute("update sessions set pose_bytes = (select coalesce(sum(length(data)), 0) from pose_chunks c "
               "where c.session_id = sessions.id)")


@migrations()
def m005_session_clock(db: sqlite_utils.Database) -> None:
    """Whether a session's dates can be trusted (:mod:`station.clock`): the clock's state at its start, the
    boot it ran in and its start on the boot clock, so its dates can be corrected once the time is known."""
    db["sessions"].add_column("clock", str)
    db["sessions"].add_column("boot_id", str)
    db["sessions"].add_column("boot_s", float)


@migrations()
def m006_arm_swing(db: sqlite_utils.Database) -> None:
    """The arm swing of each step (:mod:`station.gait.arms`): two new :class:`Step` fields, two new columns."""
    for name in ("arm_cross_norm", "arm_swing_norm"):
        db["steps"].add_column(name, float)


@migrations()
def m007_step_drop_intervals(db: sqlite_utils.Database) -> None:
    """The 95 % interval of each side's mean drop as known when a step was emitted (:mod:`station.gait.uncertainty`):
    two new :class:`Step` fields, two new columns."""
    for name in ("drop_excursion_mean_ci95_deg", "drop_peak_mean_ci95_deg"):
        db["steps"].add_column(name, float)


# -- the hub's migrations (station/hub)
OUTBOX_KEY = "hub_outbox"  # meta: session changes and steps also go to the outbox (a hub is configured)


@migrations()
def m008_hub_outbox(db: sqlite_utils.Database) -> None:
    """What the station has not yet seen confirmed by its hub (station/hub): one row per session change or
    step, written in the same transaction as the change itself. AUTOINCREMENT: a sequence number is never
    reused, even after the rows are deleted, so the hub can tell what it has."""
    db.execute("create table if not exists outbox (id integer primary key autoincrement, kind text not null, "
               "session_id integer not null, idx integer, created_at text not null)")


@migrations()
def m009_hub_stations(db: sqlite_utils.Database) -> None:
    """A hub's database: the same schema, each session naming the station (and the station database) it came
    from, each step when the hub committed it, each command the station it is for, and the stations."""
    # idempotent: a database made by a pre-release build of the hub already has these columns and tables
    for table, columns in {"sessions": {"station_id": str, "station_db": str, "station_session_id": int,
                                        "station_seq": int},
                           "steps": {"received_at": str}, "commands": {"station_id": str}}.items():
        for name, tp in columns.items():
            if name not in db[table].columns_dict:
                db[table].add_column(name, tp)
    db["sessions"].create_index(["station_id", "station_db", "station_session_id"], unique=True, if_not_exists=True)
    db["stations"].create(
        {
            "id": str,
            "db_id": str,  # the station database its sequence numbers belong to
            "acked_seq": int,  # every record up to this one is committed here
            "head_seq": int,  # the station's last record, as its status says
            "online": int,
            "status": str,  # JSON: the station's StationStatus
            "last_seen_at": str,
            "first_seen_at": str,
        },
        pk="id",
        defaults={"acked_seq": 0, "head_seq": 0, "online": 0},
        if_not_exists=True,
    )


class Store:
    """One connection to the station database. Open one per thread (or per web request).

    >>> with Store(":memory:") as s:
    ...     sid = s.start_session(runner="Ana", source="demo", model="sim", fps=60.0, view="posterior")
    ...     s.add_step(sid, {"side": "left", "t_contact_s": 0.4, "t_end_s": 0.65, "drop_excursion_deg": 2.1})
    ...     [r["side"] for r in s.steps(sid)]
    0
    ['left']
    """

    def __init__(self, path: str | Path, *, migrate: bool = True, timeout_s: float = 10.0) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._depth = 0  # transactions of ours open on this connection (nested ones join the outer)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=timeout_s, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys = ON")
            self.db = sqlite_utils.Database(conn)
            if self.path != ":memory:":
                self.db.enable_wal()
                conn.execute("PRAGMA synchronous = FULL")
            if migrate:
                migrations.apply(self.db)
            #: every session change and step also goes to the outbox for the hub (see station.hub)
            self.outbox = "outbox" in self.db.table_names() and bool(self.get_meta(OUTBOX_KEY))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"database {self.path}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"database {self.path}: {exc.strerror or exc}") from None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection. Idempotent."""
        if not getattr(self, "_closed", True):
            self._closed = True
            self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one write as its own transaction; disk and lock errors become :class:`StoreError`."""
        with self.transaction():
            return fn(*args, **kwargs)

    @contextlib.contextmanager
    def transaction(self) -> collections.abc.Iterator[sqlite3.Connection]:
        """Several writes as one transaction (the hub's batches, a step and its outbox row); lock errors
        become StoreError. The transaction is opened explicitly (``BEGIN IMMEDIATE``): sqlite3 would only
        open one at the first write, and sqlite-utils commits a write made outside a transaction on its
        own, so a step and its outbox row would be two commits, and a SIGKILL between them would lose
        the row. Nested, it joins the open transaction. Not sqlite-utils' ``atomic()``: its plain ``BEGIN``
        takes the write lock only at the first write, and a read-then-write (a step's index) in WAL then
        fails at once when another process wrote meanwhile; ``BEGIN IMMEDIATE`` waits for the lock."""
        with self._lock:
            conn = self.db.conn
            if self._depth:
                yield conn
                return
            self._depth += 1
            try:
                if conn.in_transaction:  # a write made outside any transaction of ours: commit it as before
                    conn.commit()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            except sqlite3.OperationalError as exc:
                raise StoreError(f"database {self.path}: {exc}") from None
            finally:
                self._depth -= 1

    def _enqueue(self, kind: str, session_id: int, idx: int | None = None) -> None:
        """Inside a write: note a session change or a step for the hub, in the same transaction."""
        if self.outbox:
            self.db.execute("insert into outbox (kind, session_id, idx, created_at) values (?, ?, ?, ?)",
                            [kind, session_id, idx, utcnow()])

    def set_outbox(self, on: bool) -> None:
        """Turn the hub outbox on (a hub is configured) or off, for every process using this database."""
        self.set_meta(OUTBOX_KEY, bool(on))
        self.outbox = bool(on)

    def integrity_ok(self) -> bool:
        return not self.integrity_problems()

    def integrity_problems(self, limit: int = 10) -> list[str]:
        """SQLite's integrity check: its complaints (empty when the file is sound); a file too damaged to
        check gives the error that stopped the check."""
        try:
            rows = [r[0] for r in self.db.execute(f"PRAGMA integrity_check({int(limit)})")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if rows == ["ok"] else rows

    # -- backup --------------------------------------------------------------------------------
    def backup_to(self, target: str | Path) -> None:
        """Copy the database to ``target`` (a new file) with SQLite's online backup API, in one step: one
        read transaction, so the copy is a consistent snapshot while the station goes on writing (WAL).
        The copy is written under a temporary name, checked, synced and then renamed."""
        target = Path(target)
        part = target.with_name(target.name + ".part")
        try:
            dst = sqlite3.connect(part)
            try:
                with self._lock:
                    self.db.conn.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")
                problems = [r[0] for r in dst.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise StoreError(f"backup {target}: the copy failed its check: {problems[0]}")
            finally:
                dst.close()
            with part.open("rb+") as f:
                os.fsync(f.fileno())
            part.replace(target)
        except OSError as exc:
            raise StoreError(f"backup {target}: {exc.strerror or exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"backup {target}: {exc}") from None
        finally:
            part.unlink(missing_ok=True)

    def restore_from(self, backup: str | Path) -> None:
        """Replace this database's content with ``backup``'s (checked first), through the backup API."""
        backup = Path(backup)
        try:
            src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
            try:
                problems = [r[0] for r in src.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise StoreError(f"{backup}: not a sound database ({problems[0]})")
                with self._lock:
                    src.backup(self.db.conn)
            finally:
                src.close()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{backup}: not a sound database ({exc})") from None
        migrations.apply(self.db)  # a backup from an older version gets today's schema
        self.end_logins()  # logins saved in the backup do not come back with it

    # -- runners -------------------------------------------------------------------------------
    def runner_id(self, name: str | None, *, create: bool = True) -> int | None:
        """The id of the runner called ``name`` (created if new); None for no name."""
        name = check_runner_name(name or "")
        if not name:
            return None
        row = self.db.execute("select id from runners where name = ?", [name]).fetchone()
        if row:
            return int(row[0])
        if not create:
            return None
        return int(self._write(lambda: self.db["runners"].insert({"name": name, "created_at": utcnow()}).last_pk))

    def runners(self) -> list[dict[str, Any]]:
        sql = """
            select r.id, r.name, r.created_at, count(s.id) as sessions, max(s.started_at) as last_session_at,
                   group_concat(distinct s.station_id) as stations
            from runners r left join sessions s on s.runner_id = r.id
            group by r.id order by r.name collate nocase
        """
        return list(self.db.query(sql))

    def runner(self, runner_id: int) -> dict[str, Any] | None:
        return next(self.db.query("select * from runners where id = ?", [runner_id]), None)

    def rename_runner(self, runner_id: int, name: str) -> None:
        name = check_runner_name(name)
        if not name:
            raise InputError("a runner's name cannot be empty")
        if self.runner(runner_id) is None:
            raise InputError(f"no runner {runner_id}")
        other = self.runner_id(name, create=False)
        if other is not None and other != runner_id:
            raise InputError(f"a runner called {name!r} exists already: merge instead")
        self._write(lambda: self.db["runners"].update(runner_id, {"name": name}))

    def merge_runners(self, source_id: int, target_id: int) -> None:
        """Move every session of ``source_id`` to ``target_id`` and delete ``source_id``."""
        if source_id == target_id:
            raise InputError("cannot merge a runner into itself")
        if self.runner(source_id) is None or self.runner(target_id) is None:
            raise InputError("no such runner")

        def merge() -> None:
            self.db.execute("update sessions set runner_id = ? where runner_id = ?", [target_id, source_id])
            self.db.execute("delete from runners where id = ?", [source_id])

        self._write(merge)

    def delete_runner(self, runner_id: int) -> None:
        """Remove a runner who has no sessions (their sessions were all deleted or merged elsewhere)."""
        if self.runner(runner_id) is None:
            raise InputError(f"no runner {runner_id}")

        def delete() -> None:
            n = self.db.execute("select count(*) from sessions where runner_id = ?", [runner_id]).fetchone()[0]
            if n:
                raise InputError(f"this runner has {n} session(s): delete or merge them first")
            self.db.execute("delete from runners where id = ?", [runner_id])

        self._write(delete)

    # -- sessions ------------------------------------------------------------------------------
    def start_session(
        self,
        *,
        runner: str | None = None,
        source: str = "",
        model: str = "",
        fps: float | None = None,
        view: str = "posterior",
        camera_roll_deg: float | None = None,
        settings: dict[str, Any] | None = None,
        trigger: str = "cli",
        clock: ClockReading | None = None,
    ) -> int:
        """A new running session. With a ``clock`` reading, its date is the reading's and the session is marked
        with the clock's state (``station.clock``), to be corrected by :meth:`correct_dates` if need be."""
        runner_id = self.runner_id(runner)
        clock_facts = {} if clock is None else {
            "clock": clock.state(self.latest_wall_time()), "boot_id": clock.boot_id, "boot_s": clock.boot_s}
        row = {
            **clock_facts,
            "runner_id": runner_id,
            "started_at": utcnow() if clock is None else clock.wall.isoformat(timespec="milliseconds"),
            "status": SESSION_RUNNING,
            "trigger": trigger,
            "source": source,
            "model": model,
            "fps": fps,
            "view": view,
            "camera_roll_deg": camera_roll_deg,
            "settings": json.dumps(settings or {}),
            "steps": 0,
        }
        def insert() -> int:
            sid = int(self.db["sessions"].insert(row).last_pk)
            self._enqueue("session", sid)
            return sid

        sid = int(self._write(insert))
        log.info("session %d started (runner=%r, trigger=%s)", sid, runner, trigger)
        return sid

    def end_session(
        self,
        session_id: int,
        *,
        summary: Summary | dict[str, Any] | None = None,
        status: str = SESSION_COMPLETED,
        duration_s: float | None = None,
        **facts: Any,
    ) -> None:
        """Close a session with its :class:`Summary` (stored as its JSON) and facts about the run
        (``frames``, ``end_reason``, ``camera_gaps``: kept beside the summary)."""
        doc = summary.to_dict(rounded=False) if isinstance(summary, Summary) else dict(summary or {})
        doc.update(facts)
        update = {"ended_at": utcnow(), "status": status, "summary": json.dumps(doc, default=_json_default)}
        if duration_s is not None:
            update["duration_s"] = duration_s
        def write() -> None:
            self.db["sessions"].update(session_id, update)
            self._enqueue("session", session_id)

        self._write(write)
        log.info("session %d %s", session_id, status)

    def latest_wall_time(self) -> str | None:
        """The latest date the database holds (a session's start or end): a clock earlier than this went back."""
        row = self.db.execute("select max(max(started_at), coalesce(max(ended_at), '')) from sessions").fetchone()
        return row[0] or None

    def correct_dates(self, now: ClockReading) -> list[int]:
        """Once the clock is synchronised: sessions of this boot marked unsynchronised or backwards get their
        dates from the boot clock (start = now - boot time since its start; end shifted the same). Returns ids."""
        if not now.synchronised:
            return []
        rows = self.db.execute("select id, started_at, ended_at, boot_s, clock from sessions where boot_id = ? and "
                               "clock in (?, ?)", [now.boot_id, UNSYNCHRONISED, BACKWARDS]).fetchall()
        fixed = []
        for sid, started, ended, boot_s, was in rows:
            start = now.wall - dt.timedelta(seconds=now.boot_s - boot_s)
            shift = start - dt.datetime.fromisoformat(started)
            update = {"started_at": start.isoformat(timespec="milliseconds"), "clock": f"{CORRECTED} (was {was})"}
            if ended:
                update["ended_at"] = (dt.datetime.fromisoformat(ended) + shift).isoformat(timespec="milliseconds")
            self._write(lambda sid=sid, update=update: self.db["sessions"].update(sid, update))
            log.warning("session %d: dates corrected by %.0f s now that the clock is synchronised (was %s)", sid,
                        shift.total_seconds(), was)
            fixed.append(int(sid))
        return fixed

    def mark_interrupted(self) -> list[int]:
        """Close sessions left running by a crash or power cut; returns their ids."""
        ids = [r[0] for r in self.db.execute("select id from sessions where status = ?", [SESSION_RUNNING])]
        for sid in ids:
            n, last = self.db.execute("select count(*), max(t_end_s) from steps where session_id = ?", [sid]).fetchone()
            doc = {**summarize(self.step_objects(sid)).to_dict(rounded=False), "end_reason": "interrupted"}
            def write(sid: int = sid, n: int = n, last: float | None = last, doc: dict[str, Any] = doc) -> None:
                self.db["sessions"].update(sid, {"status": SESSION_INTERRUPTED, "ended_at": utcnow(), "steps": n,
                                                 "duration_s": last, "summary": json.dumps(doc)})
                self._enqueue("session", sid)

            self._write(write)
            log.warning("session %d was interrupted (%d steps kept)", sid, n)
        return ids

    def session(self, session_id: int) -> dict[str, Any] | None:
        sql = """select s.*, r.name as runner from sessions s left join runners r on r.id = s.runner_id
                 where s.id = ?"""
        row = next(self.db.query(sql, [session_id]), None)
        return _decode_session(row) if row else None

    def sessions(self, *, runner_id: int | None = None, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        where, params = "", []
        if runner_id is not None:
            where, params = "where s.runner_id = ?", [runner_id]
        sql = f"""select s.*, r.name as runner from sessions s left join runners r on r.id = s.runner_id
                  {where} order by s.started_at desc, s.id desc limit ? offset ?"""
        return [_decode_session(r) for r in self.db.query(sql, [*params, limit, offset])]

    def running_session(self) -> dict[str, Any] | None:
        row = next(self.db.query("select id from sessions where status = ? order by id desc limit 1",
                                 [SESSION_RUNNING]), None)
        return self.session(row["id"]) if row else None

    def set_notes(self, session_id: int, notes: str) -> None:
        if len(notes) > 10_000:
            raise InputError("notes are longer than 10000 characters")
        def write() -> None:
            self.db["sessions"].update(session_id, {"notes": notes})
            self._enqueue("session", session_id)

        self._write(write)

    def delete_session(self, session_id: int) -> None:
        def delete() -> None:
            for table in ("steps", "cue_events", "pose_chunks"):
                self.db.execute(f"delete from {table} where session_id = ?", [session_id])
            self.db.execute("delete from sessions where id = ?", [session_id])

        self._write(delete)
        clip = self.clip_path(session_id)
        if clip is not None:
            clip.unlink(missing_ok=True)

    def clip_path(self, session_id: int) -> Path | None:
        """The session's clip file (it may not exist); None for a database in memory."""
        return None if self.path == ":memory:" else clip_path(self.path, session_id)

    # -- steps ---------------------------------------------------------------------------------
    def add_step(self, session_id: int, step: Step | Mapping[str, Any]) -> int:
        """Insert one completed step and commit it; returns its index within the session.

        ``step`` is a :class:`Step` (what the station stores, times in session time) or a mapping
        of its fields; keys that are not Step fields are kept in ``extra`` and read back with it.
        """
        if isinstance(step, Step):
            values, extra = step.to_dict(), {}
        else:  # as given (a truth file keeps its precision), once it makes a valid Step
            values = {**Step.from_dict(dict(step)).to_dict(), **{k: v for k, v in step.items() if k in STEP_COLUMNS}}
            extra = {k: v for k, v in step.items() if k not in STEP_COLUMNS}
        row: dict[str, Any] = {k: values[k] for k in STEP_COLUMNS}
        row["flags"] = json.dumps(row["flags"])
        row["extra"] = json.dumps(extra, default=_json_default)
        row["session_id"] = session_id
        row["created_at"] = utcnow()

        def insert() -> int:
            idx = self.db.execute("select coalesce(max(idx), -1) + 1 from steps where session_id = ?",
                                  [session_id]).fetchone()[0]
            row["idx"] = idx
            self.db["steps"].insert(row, alter=False)
            self.db.execute("update sessions set steps = steps + 1, duration_s = max(coalesce(duration_s, 0), ?) "
                            "where id = ?", [row["t_end_s"], session_id])
            self._enqueue("step", session_id, idx)
            return int(idx)

        return int(self._write(insert))

    def steps(self, session_id: int, *, after_idx: int | None = None) -> list[dict[str, Any]]:
        """A session's step rows, oldest first (``idx`` and the :class:`Step` fields, plus any ``extra``)."""
        where, params = "session_id = ?", [session_id]
        if after_idx is not None:
            where += " and idx > ?"
            params.append(after_idx)
        rows = self.db.query(f"select * from steps where {where} order by idx", params)
        return [decode_step(r) for r in rows]

    def step_objects(self, session_id: int) -> list[Step]:
        """A session's steps as :class:`Step` objects (times in session time)."""
        return [Step.from_dict(r) for r in self.steps(session_id)]

    def summary(self, session: int | Mapping[str, Any]) -> Summary:
        """A session's summary: the one the station stored at its end, else (running) from its steps."""
        row = self.session(session) if isinstance(session, int) else session
        stored = (row or {}).get("summary") or {}
        if isinstance(stored.get("left"), dict) and isinstance(stored.get("right"), dict):
            return Summary.from_dict(stored)
        sid = session if isinstance(session, int) else int(session["id"])
        return summarize(self.step_objects(sid))

    # -- cue events ----------------------------------------------------------------------------
    def add_cue(self, session_id: int, event: dict[str, Any]) -> int:
        row = {
            "session_id": session_id,
            "t_s": event.get("t_s"),
            "kind": event["kind"],
            "state": event["state"],
            "side": event.get("side"),
            "value": event.get("value"),
            "reason": event["reason"],
            "created_at": utcnow(),
        }
        return int(self._write(lambda: self.db["cue_events"].insert(row).last_pk))

    def cues(self, session_id: int) -> list[dict[str, Any]]:
        return list(self.db.query("select * from cue_events where session_id = ? order by id", [session_id]))

    # -- raw poses -----------------------------------------------------------------------------
    def add_poses(self, session_id: int, t_s: Sequence[float], xy: np.ndarray, score: np.ndarray) -> None:
        """Append a chunk of raw poses (N frames) to the session's pose track: times as float64 (exact to the
        microsecond over days), keypoints as float32 (0.001 px at 4K): 212 bytes a frame."""
        n = len(t_s)
        if n == 0:
            return
        block = np.empty(n, dtype=POSE_DTYPE)
        block["t"] = t_s
        block["kp"] = np.concatenate([np.asarray(xy, "<f8").reshape(n, NUM_KEYPOINTS, 2),
                                      np.asarray(score, "<f8").reshape(n, NUM_KEYPOINTS, 1)], axis=2).reshape(n, -1)
        data = block.tobytes()
        row = {"session_id": session_id, "t0_s": float(t_s[0]), "frames": n, "data": data, "encoding": POSE_ENCODING}

        def insert() -> None:
            self.db["pose_chunks"].insert(row)
            self.db.execute("update sessions set pose_bytes = pose_bytes + ? where id = ?", [len(data), session_id])

        self._write(insert)

    def pose_track(self, session_id: int) -> PoseTrack:
        """A session's raw pose track, whichever encoding each chunk was written in."""
        t, kp = [], []
        for data, encoding in self.db.execute("select data, encoding from pose_chunks where session_id = ? "
                                              "order by t0_s, id", [session_id]):
            if encoding == POSE_ENCODING:
                block = np.frombuffer(data, dtype=POSE_DTYPE)
                t.append(block["t"])
                kp.append(block["kp"].astype(np.float64))
            else:  # written before m004: one float64 block, t_s then x, y, score of each keypoint
                block = np.frombuffer(data, dtype="<f8").reshape(-1, 1 + NUM_KEYPOINTS * 3)
                t.append(block[:, 0])
                kp.append(block[:, 1:])
        if not t:
            return PoseTrack.from_poses([])
        points = np.concatenate(kp).reshape(-1, NUM_KEYPOINTS, 3)
        return PoseTrack(np.concatenate(t).astype(np.float64), points[:, :, :2].copy(), points[:, :, 2].copy())

    # -- retention: the disk budget of raw poses -------------------------------------------------------
    def pose_bytes(self) -> int:
        """Bytes of raw poses kept, all sessions together."""
        return int(self.db.execute("select coalesce(sum(pose_bytes), 0) from sessions").fetchone()[0])

    def free_page_bytes(self) -> int:
        """Bytes of free pages inside the database file (deleted rows): new rows reuse them before it grows."""
        pages = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages) * int(self.db.execute("PRAGMA page_size").fetchone()[0])

    def remove_poses(self, session_id: int, reason: str) -> int:
        """Delete a session's raw poses (its steps, cues and summary stay); returns the bytes freed."""

        def remove() -> int:
            freed = self.db.execute("select pose_bytes from sessions where id = ?", [session_id]).fetchone()
            self.db.execute("delete from pose_chunks where session_id = ?", [session_id])
            self.db.execute("update sessions set pose_bytes = 0, poses_removed = ? where id = ?", [reason, session_id])
            return int(freed[0] or 0) if freed else 0

        freed = int(self._write(remove))
        log.warning("session %d: raw poses removed (%s), %.1f MB", session_id, reason, freed / 1e6)
        return freed

    def sessions_with_poses(self, *, exclude: int | None = None) -> list[dict[str, Any]]:
        """Sessions that still keep raw poses, oldest first (id, started_at, pose_bytes)."""
        return list(self.db.query("select id, started_at, pose_bytes from sessions where pose_bytes > 0 and id != ? "
                                  "order by started_at, id", [exclude if exclude is not None else -1]))

    # -- commands (web -> station) -------------------------------------------------------------
    def request(self, kind: str, payload: dict[str, Any] | None = None, *, station_id: str | None = None) -> int:
        """Ask the station for something (``station_id``: on a hub, which station; the hub forwards it)."""
        if kind not in ("start", "stop"):
            raise InputError(f"unknown command {kind!r}")
        row = {"kind": kind, "payload": json.dumps(payload or {}), "status": "pending", "created_at": utcnow()}
        if station_id is not None:
            row["station_id"] = station_id
        return int(self._write(lambda: self.db["commands"].insert(row).last_pk))

    def pending_commands(self) -> list[dict[str, Any]]:
        rows = self.db.query("select * from commands where status = 'pending' and station_id is null order by id")
        return [{**r, "payload": json.loads(r["payload"] or "{}")} for r in rows]

    def finish_command(self, command_id: int, *, ok: bool = True, result: str = "") -> None:
        update = {"status": "done" if ok else "failed", "result": result, "handled_at": utcnow()}
        self._write(lambda: self.db["commands"].update(command_id, update))

    def command(self, command_id: int) -> dict[str, Any] | None:
        return next(self.db.query("select * from commands where id = ?", [command_id]), None)

    # -- meta: settings overrides, station status, admin ---------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        row = {"key": key, "value": json.dumps(value, default=_json_default), "updated_at": utcnow()}
        self._write(lambda: self.db["meta"].upsert(row, pk="key"))

    def meta_updated_at(self, key: str) -> str | None:
        row = self.db.execute("select updated_at from meta where key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta_once(self, key: str, value: Any) -> bool:
        """Set ``key`` only if it has no value yet, atomically (one of any number of racing writers wins)."""
        row = [key, json.dumps(value, default=_json_default), utcnow()]
        cur = self._write(lambda: self.db.execute(
            "insert into meta (key, value, updated_at) values (?, ?, ?) on conflict (key) do update set "
            "value = excluded.value, updated_at = excluded.updated_at where meta.value is null or meta.value in "
            "('null', '\"\"')", row))
        return bool(cur.rowcount)

    # -- web logins ----------------------------------------------------------------------------
    def add_login(self, token_sha256: str, address: str | None = None) -> None:
        row = {"token_sha256": token_sha256, "created_at": utcnow(), "address": address}
        self._write(lambda: self.db["web_logins"].insert(row))

    def login_valid(self, token_sha256: str, max_age_s: float) -> bool:
        """A login that exists and is younger than ``max_age_s``."""
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=max_age_s)).isoformat(timespec="milliseconds")
        row = self.db.execute("select 1 from web_logins where token_sha256 = ? and created_at > ?",
                              [token_sha256, since]).fetchone()
        return row is not None

    def end_login(self, token_sha256: str) -> None:
        self._write(lambda: self.db.execute("delete from web_logins where token_sha256 = ?", [token_sha256]))

    def end_logins(self) -> int:
        """End every login session (a new password); returns how many there were."""
        return int(self._write(lambda: self.db.execute("delete from web_logins").rowcount))

    def settings_overrides(self) -> dict[str, Any]:
        return self.get_meta("settings", {}) or {}

    def set_settings_overrides(self, overrides: dict[str, Any]) -> None:
        self.set_meta("settings", overrides)

    def set_status(self, status: StationStatus | Mapping[str, Any]) -> None:
        """The station's live status (heartbeat): session, cue state, framing, fps."""
        if not isinstance(status, StationStatus):
            status = StationStatus.from_dict(dict(status))
        doc = status.to_dict()
        doc.pop("updated_at", None)
        self.set_meta("station_status", doc)

    def station_status(self) -> StationStatus | None:
        """The station's last heartbeat, with the time it was written; None before any."""
        raw = self.get_meta("station_status")
        if not isinstance(raw, dict):
            return None
        return replace(StationStatus.from_dict(raw), updated_at=self.meta_updated_at("station_status"))

    def status(self) -> dict[str, Any] | None:
        """:meth:`station_status` as a dict."""
        status = self.station_status()
        return None if status is None else status.to_dict()


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple | set):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _decode_session(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    for key in ("settings", "summary"):
        try:
            row[key] = json.loads(row[key]) if row.get(key) else {}
        except json.JSONDecodeError:
            row[key] = {}
    return row


def decode_step(row: dict[str, Any]) -> dict[str, Any]:
    """A ``steps`` row with its flags as a list and its ``extra`` JSON (further keys) merged in."""
    row = dict(row)
    try:
        row["flags"] = json.loads(row["flags"]) if row.get("flags") else []
    except json.JSONDecodeError:
        row["flags"] = []
    extra = row.pop("extra", None)
    if extra:
        try:
            for k, v in json.loads(extra).items():
                row.setdefault(k, v)
        except (json.JSONDecodeError, AttributeError):
            pass
    return row


@dataclass(frozen=True)
class PoseBudget:
    """The disk budget's state after a check: what the station logs, ``db info`` prints and the web shows."""

    pose_bytes: int  # raw poses kept, all sessions
    budget_bytes: int  # poses_max_disk_pct of the filesystem
    disk_total_bytes: int
    available_bytes: int  # free on the filesystem + free pages inside the database file
    min_free_bytes: int
    low_disk: bool  # still below min_free after removing every older session's raw poses
    removed: list[int] = field(default_factory=list)  # sessions whose raw poses this check removed
    checked_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DiskUsage = Callable[[str], Any]  # shutil.disk_usage's shape: .total, .used, .free in bytes


def enforce_pose_budget(store: Store, settings: StorageSettings, *, running: int | None = None,
                        disk_usage: DiskUsage | None = None, now: dt.datetime | None = None) -> PoseBudget:
    """Keep raw poses within ``settings``: older than ``poses_max_days``, beyond ``poses_max_disk_pct`` of the
    disk, or while less than ``min_free_mb`` is available, the oldest sessions' raw poses are removed first
    (never the ``running`` session's, never a step). The state is saved as meta ``storage`` and returned."""
    usage = (disk_usage or shutil.disk_usage)(str(Path(store.path).resolve().parent))
    now = now or dt.datetime.now(dt.UTC)
    budget = int(usage.total * settings.poses_max_disk_pct / 100.0)
    min_free = int(settings.min_free_mb * 1e6)
    removed: list[int] = []
    candidates = store.sessions_with_poses(exclude=running)
    if settings.poses_max_days is not None:
        cutoff = (now - dt.timedelta(days=settings.poses_max_days)).isoformat(timespec="milliseconds")
        for s in [s for s in candidates if s["started_at"] < cutoff]:
            store.remove_poses(s["id"], f"disk budget: older than {settings.poses_max_days:g} days")
            removed.append(s["id"])
    candidates = [s for s in candidates if s["id"] not in removed]
    while candidates and store.pose_bytes() > budget:
        s = candidates.pop(0)
        store.remove_poses(s["id"], f"disk budget: raw poses over {settings.poses_max_disk_pct:g} % of the disk")
        removed.append(s["id"])

    def available() -> int:
        return int(usage.free) + store.free_page_bytes()

    while candidates and available() < min_free:
        s = candidates.pop(0)
        store.remove_poses(s["id"], f"low disk: less than {settings.min_free_mb:g} MB free")
        removed.append(s["id"])
    state = PoseBudget(pose_bytes=store.pose_bytes(), budget_bytes=budget, disk_total_bytes=int(usage.total),
                       available_bytes=available(), min_free_bytes=min_free, low_disk=available() < min_free,
                       removed=removed, checked_at=utcnow())
    store.set_meta("storage", state.to_dict())
    return state
