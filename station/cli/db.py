"""``gait-station db``: a look into the station's database (info, a session's steps, its raw pose track)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from station.config import default_db_path
from station.errors import InputError


@click.group()
def db() -> None:
    """Look into the station's database: sessions, their steps, their raw pose track."""


def _db_option(f: Any) -> Any:
    return click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
                        help="SQLite database (default: $GAIT_STATION_DB or the station's state directory).")(f)


def _open_existing(db_path: str | None) -> Any:
    from station.errors import MissingFileError
    from station.store import Store

    p = Path(db_path) if db_path else default_db_path()
    if not p.exists():
        raise MissingFileError(f"{p}: no such database")
    return Store(p)


@db.command("info")
@_db_option
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Sessions listed.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: sessions and steps counted (and, on a hub's database, per station).")
def db_info(db_path: str | None, limit: int, fmt: str) -> None:
    """The database's path, integrity, station status and latest sessions (on a hub's: its stations)."""
    from station.hub import db as hubdb

    with _open_existing(db_path) as store:
        n = store.db.execute("select count(*) from sessions").fetchone()[0]
        steps = store.db.execute("select count(*) from steps").fetchone()[0]
        hub = hubdb.is_hub(store)
        if fmt == "json":
            doc: dict[str, Any] = {"database": store.path, "integrity": "ok" if store.integrity_ok() else "failed",
                                   "sessions": n, "steps": steps}
            outbox = store.db.execute("select count(*) from outbox").fetchone()[0]
            if outbox:
                doc["outbox"] = outbox  # records this station's hub has not confirmed yet
            if hub:
                doc["stations"] = hubdb.counts(store)
            click.echo(json.dumps(doc, indent=1))
            return
        click.echo(f"database {store.path}: {n} sessions, {steps} steps, integrity "
                   f"{'ok' if store.integrity_ok() else 'FAILED'}")
        status = store.status()
        if status:
            click.echo(f"station: {status.get('state')} (updated {status.get('updated_at')})")
        if hub:
            for sid, c in hubdb.counts(store).items():
                click.echo(f"station {sid}: {c['sessions']} sessions, {c['steps']} steps")
        for s in store.sessions(limit=limit):
            where = f"  [{s['station_id']}]" if s.get("station_id") else ""
            click.echo(f"  {s['id']:>5}  {s['started_at'][:19]}  {s['status']:<11} {s.get('trigger') or '':<7} "
                       f"{s.get('steps') or 0:>5} steps  {s.get('runner') or '-'}{where}")


@db.command("export")
@click.argument("session_id", type=int)
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
@click.argument("session_id", type=int)
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
