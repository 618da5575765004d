"""``gait-station db``: a look into the station's database (info, a session's steps, its raw pose track)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from station.config import default_db_path
from station.errors import InputError, StoreError


@click.group()
def db() -> None:
    """Look into the station's database: sessions, their steps, their raw pose track."""


def _db_option(f: Any) -> Any:
    return click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
                        help="SQLite database (default: $GAIT_STATION_DB or the station's state directory).")(f)


def _open_existing(db_path: str | None, *, migrate: bool = True) -> Any:
    from station.errors import MissingFileError
    from station.store import Store

    p = Path(db_path) if db_path else default_db_path()
    if not p.exists():
        demo = p.parent / "demo.db"  # where `gait-station demo` keeps its sessions
        hint = f" (the demo's is {demo}: add --db {demo})" if demo.exists() else ""
        raise MissingFileError(f"{p}: no such database{hint}")
    return Store(p, migrate=migrate)


#: a session id: a positive SQLite integer (a larger number is a one-line usage error, not an OverflowError)
SESSION_ID = click.IntRange(1, 2**63 - 1)


@db.command("info")
@_db_option
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Sessions listed.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: sessions and steps counted (and, on a hub's database, per station).")
def db_info(db_path: str | None, limit: int, fmt: str) -> None:
    """The database's path, integrity, station status and latest sessions (on a hub's: its stations; exit 1 when
    damaged)."""
    from station.hub import db as hubdb

    with _open_existing(db_path, migrate=False) as store:
        problems = store.integrity_problems()
        if problems:
            if fmt == "json":
                click.echo(json.dumps({"database": store.path, "integrity": "failed", "problems": problems[:3]},
                                      indent=1))
            else:
                click.echo(f"database {store.path}: integrity FAILED: {'; '.join(problems[:3])}")
            raise StoreError(f"the database {store.path} is damaged (integrity check failed): restore a backup "
                             "(README, Backups)")
        n = store.db.execute("select count(*) from sessions").fetchone()[0]
        steps = store.db.execute("select count(*) from steps").fetchone()[0]
        hub = hubdb.is_hub(store)
        if fmt == "json":
            doc: dict[str, Any] = {"database": store.path, "integrity": "ok", "sessions": n, "steps": steps}
            if "outbox" in store.db.table_names():
                outbox = store.db.execute("select count(*) from outbox").fetchone()[0]
                if outbox:
                    doc["outbox"] = outbox  # records this station's hub has not confirmed yet
            if hub:
                doc["stations"] = hubdb.counts(store)
            click.echo(json.dumps(doc, indent=1))
            return
        click.echo(f"database {store.path}: {n} sessions, {steps} steps, integrity ok")
        status = store.status()
        if status:
            click.echo(f"station: {status.get('state')} (updated {status.get('updated_at')})")
        if hub:
            for sid, c in hubdb.counts(store).items():
                click.echo(f"station {sid}: {c['sessions']} sessions, {c['steps']} steps")
        for s in store.sessions(limit=limit):
            where = f"  [{s['station_id']}]" if s.get("station_id") else ""
            click.echo(f"  {s['id']:>5}  {s['started_at'][:19]}  {s['status']:<11} {s.get('trigger') or '':<7} "
                       f"{s.get('steps') or 0:>5} steps  {s.get('runner') or '-'}{where}"
                       + (f"  (date uncertain: clock {s['clock']})" if s.get("clock") in ("unsynchronised", "backwards")
                          else ""))
        storage = store.get_meta("storage")
        if storage:
            click.echo(f"raw poses: {storage['pose_bytes'] / 1e6:.0f} MB of {storage['budget_bytes'] / 1e6:.0f} MB "
                       f"allowed, {storage['available_bytes'] / 1e9:.1f} GB available"
                       + (" (disk low: raw poses no longer kept)" if storage.get("low_disk") else ""))


@db.command("export")
@click.argument("session_id", type=SESSION_ID)
@_db_option
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def db_export(session_id: int, db_path: str | None, fmt: str) -> None:
    """A session's steps to stdout (CSV, one row per step; or JSON with the session and its cues)."""
    with _open_existing(db_path) as store:
        session = store.session(session_id)
        if session is None:
            raise InputError(f"no session {session_id}")
        if fmt == "json":
            out = {"session": session, "steps": store.steps(session_id), "cues": store.cues(session_id)}
            click.echo(json.dumps(out, indent=1, default=str))
            return
        from station.report import steps_csv_lines

        for line in steps_csv_lines(store.steps(session_id)):
            sys.stdout.write(line)


@db.command("track")
@click.argument("session_id", type=SESSION_ID)
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@_db_option
def db_track(session_id: int, out: str, db_path: str | None) -> None:
    """Write a session's raw pose track as a track CSV (re-analyse it with ``gait-station analyze``)."""
    from station.keypoints import write_track_csv

    with _open_existing(db_path) as store:
        if store.session(session_id) is None:
            raise InputError(f"no session {session_id}")
        n = write_track_csv(out, iter(store.pose_track(session_id)))
    click.echo(f"{out}: {n} frames", err=True)


@db.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@_db_option
def db_backup(path: Path, db_path: str | None) -> None:
    """Copy the database to PATH (a new file, or a folder such as a USB stick: gait-DATE.db in it).

    SQLite's online backup: safe while the station runs and writes.
    """
    import datetime as dt

    if path.is_dir():
        path = path / f"gait-{dt.datetime.now():%Y%m%d-%H%M%S}.db"
    if path.exists():
        raise InputError(f"{path} exists: choose a new name (a backup never overwrites a file)")
    with _open_existing(db_path, migrate=False) as store:
        store.backup_to(path)
        sessions = store.db.execute("select count(*) from sessions").fetchone()[0]
    click.echo(f"backup {path}: {sessions} sessions, {path.stat().st_size / 1e6:.1f} MB, checked", err=True)


@db.command("restore")
@click.argument("backup", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_db_option
def db_restore(backup: Path, db_path: str | None) -> None:
    """Replace the database with BACKUP (checked first). Stop the station and the web page first."""
    import datetime as dt

    from station.store import Store

    target = Path(db_path) if db_path else default_db_path()
    with Store(target) as store:
        status = store.station_status()
        if status is not None and status.state != "stopped" and status.updated_at:
            age_s = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(status.updated_at)).total_seconds()
            if age_s < 10.0:
                raise StoreError("the station is running on this database: stop the station first "
                                 "(sudo systemctl stop gait-station gait-web)")
        store.restore_from(backup)
        sessions = store.db.execute("select count(*) from sessions").fetchone()[0]
    click.echo(f"restored {target} from {backup}: {sessions} sessions", err=True)
