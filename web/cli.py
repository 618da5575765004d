"""``gait-station serve``: the web dashboard under waitress (a production WSGI server, pure Python)."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import click

from station.config import load_settings
from station.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8


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
        server = create_server(app, host=host, port=port, threads=threads, ident="gait-station")
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
