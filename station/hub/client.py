"""The paho-mqtt client the publisher and the hub share: broker URL, credentials, TLS, reconnection.

paho runs its network loop in its own thread (``loop_start``) and reconnects by itself with
back-off; a QoS 1 message handed to it is re-sent after a reconnection until the broker
acknowledges it. Callbacks run in paho's thread: they only hand things over (a queue, an event).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from station.config import HubSettings, parse_broker_url
from station.errors import InputError

log = logging.getLogger(__name__)

KEEPALIVE_S = 15
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 8


@dataclass(frozen=True)
class Broker:
    """Where and as whom to connect."""

    url: str
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None

    @property
    def address(self) -> tuple[str, str, int]:
        return parse_broker_url(self.url, "broker URL")

    @classmethod
    def from_options(cls, url: str, username: str | None, password_file: str | None,
                     tls_ca: str | None = None, key: str = "hub") -> Broker:
        parse_broker_url(url, f"{key} URL")  # a bad URL fails here, in one line
        password = read_password(password_file, f"{key} password file") if password_file else None
        if tls_ca is not None and not Path(tls_ca).is_file():
            raise InputError(f"{key} TLS CA {tls_ca}: no such file")
        return cls(url=url, username=username or None, password=password, tls_ca=tls_ca)

    @classmethod
    def from_settings(cls, hub: HubSettings) -> Broker:
        return cls.from_options(hub.url, hub.user, hub.password_file, hub.tls_ca, key="hub")


def read_password(path: str, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path}: cannot read it ({exc})") from None
    password = text.strip()
    if not password or "\n" in password:
        raise InputError(f"{what} {path}: must hold the password on one line")
    return password


def make_client(broker: Broker, client_id: str, *, clean_session: bool, manual_ack: bool = False,
                will: tuple[str, bytes] | None = None) -> mqtt.Client:
    """A client (not yet connected) for ``broker``; ``will``: (topic, payload), retained, QoS 1."""
    scheme, _, _ = broker.address
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if scheme == "mqtts":
        client.tls_set(ca_certs=broker.tls_ca, cert_reqs=ssl.CERT_REQUIRED)
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    client.enable_logger(logging.getLogger("station.hub.paho"))  # paho's own lines, with -vv
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    client.max_inflight_messages_set(50)
    return client


def connect(client: mqtt.Client, broker: Broker) -> None:
    """Start paho's thread and connect in the background (it keeps trying while the broker is away)."""
    _, host, port = broker.address
    client.connect_async(host, port, keepalive=KEEPALIVE_S)
    client.loop_start()


def refused(reason_code: object) -> str | None:
    """Why a CONNACK refused us, in words; None if it did not."""
    if getattr(reason_code, "is_failure", False):
        return str(reason_code)
    return None
