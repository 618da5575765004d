"""``gait-station hub``: the hub (every station's sessions into one database), ``hub push`` and ``hub acl``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from station.config import HubSettings, Settings, default_db_path, load_settings
from station.errors import InputError, StationError

if TYPE_CHECKING:
    from station.hub.publisher import Publisher

log = logging.getLogger(__name__)


def with_hub(settings: Settings, url: str | None, station_id: str | None) -> Settings:
    """The settings with ``--hub`` / ``--station-id`` over the file's ``[hub]`` section (validated alike)."""
    over = {k: v for k, v in (("url", url), ("station_id", station_id)) if v is not None}
    return settings.merged({"hub": over}) if over else settings


def hub_publisher(db: Path, hub: HubSettings) -> Publisher | None:
    """With a hub: the station database's outbox on and the publisher thread started (the store opened next
    reads the switch); without: the outbox off (nobody would send it) and None."""
    from station.hub.publisher import Publisher
    from station.store import Store

    if not hub.enabled:
        if db.exists():
            with Store(db) as store:
                if store.outbox:
                    store.set_outbox(False)
        return None
    publisher = Publisher(str(db), hub)  # a missing password file fails here, before the station starts
    with Store(db) as store:
        store.set_outbox(True)
    log.info("publishing to the hub at %s as %s", hub.url, hub.station_id)
    return publisher.start()


def default_hub_db() -> Path:
    return default_db_path().with_name("hub.db")


@click.group(invoke_without_command=True)
@click.option("--broker", default=None, metavar="URL", help="mqtt://host[:port] or mqtts://host[:port] (TLS).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
              help="The hub's database (default: hub.db beside the station's database).")
@click.option("--username", default="gait-hub", show_default=True, help="The hub's broker user.")
@click.option("--password-file", type=click.Path(dir_okay=False), default=None,
              help="A file holding the hub's broker password.")
@click.option("--tls-ca", type=click.Path(dir_okay=False), default=None,
              help="With mqtts://: the CA certificate of the broker's (default: the system's).")
@click.option("--client-id", default="gait-hub", show_default=True,
              help="The hub's MQTT client id: fixed, so the broker keeps its session while it is down.")
@click.option("--stale-s", type=click.FloatRange(1.0, 600.0), default=5.0, show_default=True,
              help="A station not heard from for this long is offline (start/stop refused).")
@click.option("--ha-discovery", is_flag=True, help="Announce each station to Home Assistant (MQTT discovery).")
@click.pass_context
def hub(ctx: click.Context, broker: str | None, db_path: str | None, username: str, password_file: str | None,
        tls_ca: str | None, client_id: str, stale_s: float, ha_discovery: bool) -> None:
    """The hub: every station's sessions and steps, from the MQTT broker into one database.

    Serve it with 'gait-station serve --db HUB.db': the live page lists every station.
    Runs until SIGTERM or Ctrl-C.
    """
    if ctx.invoked_subcommand is not None:
        return
    if broker is None:
        raise click.UsageError("--broker URL is needed (e.g. mqtt://localhost:1883)")
    from station.cli.build import stop_on_signals
    from station.hub.client import Broker
    from station.hub.hub import Hub

    db = Path(db_path) if db_path else default_hub_db()
    if db.is_dir():
        raise InputError(f"--db {db}: is a directory, not a database file")
    the_hub = Hub(str(db), Broker.from_options(broker, username, password_file, tls_ca, key="broker"),
                  client_id=client_id, stale_s=stale_s, discovery=ha_discovery)
    click.echo(f"gait-station hub: {broker} → {db}", err=True)
    try:
        with stop_on_signals() as stop:
            the_hub.run(stop)
    finally:
        click.echo(the_hub.report.line(), err=True)


@hub.command("push")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
              help="The station's database (default: $GAIT_STATION_DB or the station's state directory).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Settings TOML with the [hub] section (default: $GAIT_STATION_CONFIG or /etc/gait-station/...).")
@click.option("--hub", "hub_url", default=None, metavar="URL", help="The broker (default: settings hub.url).")
@click.option("--station-id", default=None, help="This station's id (default: settings hub.station_id).")
@click.option("--timeout-s", type=click.FloatRange(1.0, 86400.0), default=120.0, show_default=True,
              help="How long to wait for the hub to confirm everything.")
def push(db_path: str | None, config_path: str | None, hub_url: str | None, station_id: str | None,
         timeout_s: float) -> None:
    """Send every session this station holds, with its steps, to the hub (again: the hub stores each once).

    A station that worked alone joins the hub without losing its past. Whatever the hub has
    not confirmed within --timeout-s stays in the outbox and goes out with the running station.
    """
    from station.hub import outbox
    from station.hub.publisher import Publisher
    from station.store import Store

    settings = with_hub(load_settings(config_path), hub_url, station_id)
    db = Path(db_path) if db_path else default_db_path()
    if not db.is_file():
        raise InputError(f"{db}: no such database")
    publisher = Publisher(str(db), settings.hub, role="push")  # a bad password file fails here
    with Store(db) as store:
        sessions, steps = store.db.execute("select count(*), coalesce(sum(steps), 0) from sessions").fetchone()
        added = outbox.enqueue_history(store)
        head = outbox.head(store)
    click.echo(f"gait-station hub push: {sessions} sessions, {steps} steps ({added} records) → "
               f"{settings.hub.url} as {settings.hub.station_id}", err=True)
    publisher.start()
    try:
        connected = publisher.wait_connected(timeout_s)
        confirmed = connected and publisher.wait_confirmed(head, timeout_s)
    finally:
        publisher.close(flush_s=0.0)
    if publisher.error and not confirmed:
        raise StationError(f"the broker {settings.hub.url} refused station {settings.hub.station_id}: "
                           f"{publisher.error}")
    if not connected:
        hint = " (mqtts: does hub.tls_ca hold the CA that signed the broker's certificate?)" \
            if settings.hub.url.startswith("mqtts") else ""
        raise StationError(f"the broker {settings.hub.url} did not answer within {timeout_s:g} s{hint}; the "
                           "records stay in the outbox and go out with the station or the next push")
    if not confirmed:
        with Store(db) as store:
            left = outbox.backlog(store)
        raise StationError(f"the hub has not confirmed {left} record(s) within {timeout_s:g} s (is it running?); "
                           "they stay in the outbox and go out with the station or the next push")
    click.echo(f"pushed {sessions} sessions and {steps} steps; the hub has them all")


@hub.command("acl")
@click.option("--home-assistant", "home_assistant", default=None, metavar="USER",
              help="Also let this broker user (Home Assistant's) read the stations' status and discovery.")
def acl(home_assistant: str | None) -> None:
    """Print the Mosquitto ACL file: each station writes only its own topics and reads only its own commands."""
    from station.config import STATION_ID_RE
    from station.hub.protocol import acl_text

    if home_assistant is not None and not STATION_ID_RE.fullmatch(home_assistant):
        raise InputError(f"--home-assistant {home_assistant!r}: a user name of 1-32 letters, digits, '-' or '_'")
    click.echo(acl_text(home_assistant=home_assistant), nl=False)


@hub.command("broker-conf")
@click.option("--passwd", default="/etc/mosquitto/gait-station.passwd", show_default=True,
              help="Mosquitto's password file (made with mosquitto_passwd).")
@click.option("--acl", default="/etc/mosquitto/gait-station.acl", show_default=True, help="The ACL file.")
@click.option("--port", type=click.IntRange(1, 65535), default=1883, show_default=True)
@click.option("--bind", default=None, help="Listen on this address only (default: every address).")
@click.option("--tls-cert", default=None, help="The broker's certificate: stations connect with TLS.")
@click.option("--tls-key", default=None, help="Its private key.")
@click.option("--tls-port", type=click.IntRange(1, 65535), default=8883, show_default=True)
def broker_conf(passwd: str, acl: str, port: int, bind: str | None, tls_cert: str | None, tls_key: str | None,
                tls_port: int) -> None:
    """Print the Mosquitto settings for the stations and the hub (scripts/install.sh --role hub uses it)."""
    from station.hub.protocol import broker_conf as conf

    click.echo(conf(passwd=passwd, acl=acl, port=port, bind=bind, tls_port=tls_port, certfile=tls_cert,
                    keyfile=tls_key), nl=False)
