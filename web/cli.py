"""``gait-station serve``: the web dashboard under waitress (a production WSGI server, pure Python).

Waitress faces the Wi-Fi directly, with settings measured to hold (``scripts/bench_kiosk.py web``):

* a body larger than the app's own limit (``MAX_CONTENT_LENGTH``, 64 KB) is refused with 413 as
  soon as its headers announce it, before a byte of it is read (waitress's own default is 1 GB,
  buffered to a temporary file first);
* headers are capped at 32 KB;
* up to ``CONNECTION_LIMIT`` connections at once (waitress's default is 100: a hundred
  connections sending their headers slowly locked every phone out), polled with ``poll()``
  (``select()`` stops at 1024 descriptors), with the process's open-file limit raised to match;
* an idle connection is closed after 30 s (default 120 s).

Slow connections cost no worker thread: waitress reads every socket in one loop and hands a
request to a thread only once it is complete.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any

import click

from station.config import load_settings
from station.errors import InputError
from web import MAX_BODY_BYTES

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8
CONNECTION_LIMIT = 1000
#: waitress settings for a page on a shared Wi-Fi (see the module's docstring)
WAITRESS_SETTINGS: dict[str, Any] = {
    "max_request_body_size": MAX_BODY_BYTES,
    "max_request_header_size": 32 * 1024,
    "connection_limit": CONNECTION_LIMIT,
    "asyncore_use_poll": True,
    "channel_timeout": 30,
    "cleanup_interval": 10,
}


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards ``wanted`` (never above the hard limit)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # pragma: no cover - a container that forbids it
            log.warning("cannot raise the open-file limit to %d (it stays %d)", target, soft)
    return soft if soft != resource.RLIM_INFINITY else wanted


def server_settings(threads: int) -> dict[str, Any]:
    """The waitress settings, the connection limit fitted under this process's open-file limit."""
    files = raise_open_files_limit(CONNECTION_LIMIT + 100)
    return {**WAITRESS_SETTINGS, "threads": threads, "connection_limit": max(50, min(CONNECTION_LIMIT, files - 100))}


def _check_db_path(db: str) -> None:
    p = Path(db)
    if p.is_dir():
        raise InputError(f"--db {db}: is a directory, not a database file")


@click.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
              help="SQLite database (default: $GAIT_STATION_DB or the station's state directory).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="The station's settings TOML (default: $GAIT_STATION_CONFIG or /etc/gait-station/config.toml).")
@click.option("--host", default=None, help="Address to listen on (default: settings web.host, 0.0.0.0).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: settings web.port, 8080).")
@click.option("--threads", type=click.IntRange(1, 64), default=DEFAULT_THREADS, show_default=True,
              help="Worker threads.")
@click.option("--set-password", is_flag=True, help="Set the admin password (prompted), then exit.")
def serve(db_path: str | None, config_path: str | None, host: str | None, port: int | None, threads: int,
          set_password: bool) -> None:
    """Serve the web dashboard (live page, sessions, runners, export, settings) to phones on the network."""
    from station.config import default_db_path

    settings = load_settings(config_path)
    db = db_path or str(default_db_path())
    _check_db_path(db)

    if set_password:
        from station.store import Store
        from web.auth import set_password as store_password
        from web.auth import validate_password

        password = click.prompt("New admin password", hide_input=True, confirmation_prompt=True)
        validate_password(password)
        with Store(db) as store:
            store_password(store, password)
        click.echo(f"admin password set in {db} (every logged-in phone is logged out)")
        return

    from waitress import create_server

    from web import create_app

    app = create_app({"DATABASE": db, "CONFIG_PATH": config_path})
    host = host or settings.web.host
    port = port or settings.web.port
    try:
        server = create_server(app, host=host, port=port, ident="gait-station", **server_settings(threads))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(f"port {port} on {host} is in use: stop the other server or pick --port") \
                from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise click.ClickException(f"not allowed to listen on port {port} (ports below 1024 need root)") from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    click.echo(f"gait-station web: http://{shown}:{port}/ (database {db}); Ctrl+C to stop", err=True)
    from station.store import Store
    from web.auth import has_password

    with Store(db, migrate=False) as store:
        if not has_password(store):
            click.echo("no admin password yet: open the page to set one, or run 'gait-station serve "
                       "--set-password'", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("gait-station web: stopped", err=True)
    finally:
        server.close()
