"""The MQTT topics and messages between stations and the hub (pure: no I/O).

Every topic is ``gait/<station_id>/<kind>``; the broker's ACL (:func:`acl_text`) lets a
station write only its own ``status``, ``session``, ``step`` and ``reply`` topics and read
only its own ``cmd`` and ``ack``; only the hub user writes ``cmd`` and ``ack``.

=========  ==========  =====  ======  =====================================================
kind       from        QoS    retain  payload (JSON)
=========  ==========  =====  ======  =====================================================
status     station     1      yes     the station's StationStatus + online, db, seq, outbox;
                                      the last will is ``{"online": false}``; the hub
                                      subscribes at QoS 0 (no backlog of stale statuses)
session    station     1      no      {db, seq, session: the station's session row} or
                                      {db, seq, gone: id} for a record whose row was deleted
step       station     1      no      {db, session, session_started_at, steps: [{seq, idx, ...}]}
reply      station     1      no      {id, ok, result}: the answer to a hub command
cmd        hub         1      no      {id, kind: start|stop, payload}
ack        hub         1      yes     {db, seq, resend}: every record up to ``seq`` is committed
=========  ==========  =====  ======  =====================================================

``seq`` is the station's outbox sequence number (never reused, per station database ``db``),
so the hub acknowledges end to end: a station deletes its outbox rows only when the hub
says it has committed them, and re-sends from ``seq + 1`` when the hub asks (``resend``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from station.config import STATION_ID_RE
from station.errors import InputError

PREFIX = "gait"
STATION_KINDS = ("status", "session", "step", "reply")  # a station writes these
HUB_KINDS = ("cmd", "ack")  # the hub writes these
HUB_USER = "gait-hub"  # the hub's broker user (install.sh, the ACL)
VERSION = 1


def topic(station_id: str, kind: str) -> str:
    return f"{PREFIX}/{station_id}/{kind}"


def subscriptions(kinds: tuple[str, ...], station_id: str = "+") -> list[tuple[str, int]]:
    return [(topic(station_id, k), 1) for k in kinds]


@dataclass(frozen=True)
class Topic:
    station_id: str
    kind: str


def parse_topic(name: str) -> Topic | None:
    """``gait/<station>/<kind>`` as a :class:`Topic`; None for anything else."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != PREFIX or not STATION_ID_RE.fullmatch(parts[1]):
        return None
    if parts[2] not in STATION_KINDS + HUB_KINDS:
        return None
    return Topic(parts[1], parts[2])


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps({"v": VERSION, **doc}, separators=(",", ":"), allow_nan=False).encode()


def decode(payload: bytes) -> dict[str, Any]:
    """A message's JSON object; :class:`InputError` for anything else."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError("not a JSON object")
    return doc


def check_station_id(station_id: str) -> str:
    if not STATION_ID_RE.fullmatch(station_id or ""):
        raise InputError(f"station id {station_id!r}: 1-32 letters, digits, '-' or '_', starting with a letter "
                         "or digit")
    return station_id


def acl_text(hub_user: str = HUB_USER, home_assistant: str | None = None) -> str:
    """The Mosquitto ACL file: the hub reads every station's topics and writes their cmd and ack; a station
    (its broker user name is its station id) writes only its own topics and reads only its own cmd and ack.
    ``home_assistant``: a user that reads the stations' status and the hub's discovery messages."""
    ha = [] if not home_assistant else [f"user {home_assistant}", f"topic read {topic('+', 'status')}",
                                        "topic read homeassistant/#", ""]
    lines = [
        "# Mosquitto ACL for gait stations and their hub (written by `gait-station hub acl`).",
        "# A station's broker user name is its station id: the patterns give it its own topics only.",
        f"user {hub_user}",
        *(f"topic read {topic('+', k)}" for k in STATION_KINDS),
        *(f"topic write {topic('+', k)}" for k in HUB_KINDS),
        "topic write homeassistant/#",
        "",
        *ha,
        *(f"pattern write {topic('%u', k)}" for k in STATION_KINDS),
        *(f"pattern read {topic('%u', k)}" for k in HUB_KINDS),
        "",
    ]
    return "\n".join(lines)


def broker_conf(*, passwd: str, acl: str, port: int = 1883, bind: str | None = None,
                tls_port: int | None = None, certfile: str | None = None, keyfile: str | None = None) -> str:
    """The Mosquitto settings for stations and their hub (``/etc/mosquitto/conf.d/gait-station.conf``):
    no anonymous access, a password per station and the hub, the ACL, queues long enough for a hub that was
    away. With a certificate, stations connect with TLS on ``tls_port`` and the plain port stays on the
    loopback for the hub on this machine."""
    if (certfile is None) != (keyfile is None):
        raise InputError("TLS needs both a certificate and its key")
    tls = certfile is not None
    lines = [
        "# Mosquitto for gait stations and their hub (written by `gait-station hub broker-conf`).",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {passwd}",
        f"acl_file {acl}",
        "# a hub that was away gets what it missed from its persistent session (the stations keep an outbox too):",
        "# 100000 records is about 2 h of 5 stations' steps (a status is not queued: the hub takes it at QoS 0)",
        "max_queued_messages 100000",
        "max_inflight_messages 100",
        "autosave_interval 60",
        f"listener {port}" + (f" {bind}" if bind else " 127.0.0.1" if tls else ""),
    ]
    if tls:
        lines += [f"listener {tls_port or 8883}", f"certfile {certfile}", f"keyfile {keyfile}",
                  "tls_version tlsv1.2"]
    return "\n".join(lines) + "\n"
