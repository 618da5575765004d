"""The station's publisher: its outbox, its status and the hub's commands, in a thread of its own.

The live loop never waits for it: the loop's only part is the write it does anyway (the
store adds an outbox row in the step's own transaction) and, through ``on_event``, setting
an event that wakes this thread. Here:

* **Outbox.** Rows after the cursor are handed to paho as QoS 1 messages (at most ``window``
  unacknowledged by the broker at a time; paho re-sends them after a reconnection). Rows are
  deleted only when the hub's retained ``ack`` says it has committed them, so a broker that
  crashes with messages in memory, or a hub killed mid-batch, loses nothing: when the hub sees
  a gap, or a head it has not reached, it asks (``resend``) and the cursor goes back.
* **Status.** About once a second the station's heartbeat (``Store.station_status``) goes out
  retained, with ``online``, the database id and the outbox's head; the last will says
  ``online: false``; a clean stop publishes the final status, offline.
* **Commands.** A start/stop from the hub becomes a row of the station's own ``commands``
  table, which the loop already polls; its result goes back as a ``reply``.

The client session is clean: a command sent while the station was away is not delivered later.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from station.config import HubSettings
from station.errors import InputError, StationError
from station.hub import outbox, protocol
from station.hub.client import Broker, connect, make_client, refused
from station.hub.db import age_s
from station.store import Store, utcnow

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 15.0
DELETE_PERIOD_S = 1.0
PUSH_RESEND_FIRST_S = 5.0
PUSH_RESEND_MAX_S = 300.0


@dataclass
class _Command:
    hub_id: int
    local_id: int
    deadline: float


class Publisher:
    """Publish a station database to the hub. ``role``: "station" (status, commands, outbox) for
    ``gait-station run``, "push" (the outbox only) for ``gait-station hub push``."""

    def __init__(self, db_path: str, hub: HubSettings, *, role: str = "station", status_period_s: float = 1.0,
                 window: int = 200, poll_s: float = 0.2, stale_s: float = 5.0) -> None:
        if not hub.enabled:
            raise InputError("no hub configured: set hub.url and hub.station_id (or --hub and --station-id)")
        if hub.user == protocol.HUB_USER:
            raise InputError(f"hub.username {protocol.HUB_USER!r} is the hub's own broker user")
        self.broker = Broker.from_settings(hub)
        self.station_id = hub.station_id
        self.db_path = str(db_path)
        self.role = role
        self.status_period_s = status_period_s
        self.window = window
        self.poll_s = poll_s
        self.stale_s = stale_s
        self.client_id = f"gait-station-{hub.station_id}" + (f"-push-{id(self):x}" if role == "push" else "")
        self.db_id: str | None = None
        self.acked = 0  # the hub has committed every record up to this one
        self.head = 0
        self.sent = 0  # messages the broker acknowledged
        self.error: str | None = None  # why the broker refused us, if it did
        self.connected = threading.Event()
        self.ready = threading.Event()  # the thread has opened the database
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flush_s = 0.0
        self._pubacks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._inbox: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._inflight: dict[int, tuple[int, ...]] = {}  # paho mid -> the records in that message
        self._inflight_seqs: set[int] = set()
        self._cursor = 0  # the last record handed to paho
        self._deleted = 0
        self._commands: list[_Command] = []
        self._answers: dict[int, tuple[bool, str]] = {}  # hub command id -> answer given without the loop
        self._heard_acked = 0
        self._heard_at = time.monotonic()
        self._resend_wait_s = PUSH_RESEND_FIRST_S
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Publisher:
        self._thread = threading.Thread(target=self._run, name="hub-publisher", daemon=True)
        self._thread.start()
        if not self.ready.wait(10.0):
            log.warning("hub publisher: slow to open the database")
        return self

    def close(self, flush_s: float = 5.0) -> None:
        """Stop: first, for up to ``flush_s``, send what is left and wait for the hub to confirm it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._flush_s = flush_s
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(flush_s + 10.0)

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """The station's observer: a step or a session change is in the outbox now; send it."""
        if kind in ("step", "session_start", "session_end"):
            self._wake.set()

    def observer(self, then: Callable[[str, dict[str, Any]], None] | None = None
                 ) -> Callable[[str, dict[str, Any]], None]:
        """The station's ``on_event``: wake this thread (never waiting), then tell ``then``."""
        if then is None:
            return self.on_event

        def on_event(kind: str, data: dict[str, Any]) -> None:
            self.on_event(kind, data)
            then(kind, data)

        return on_event

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait until the broker has accepted us (False when it refused us, or in time)."""
        deadline = time.monotonic() + timeout_s
        while not self.connected.wait(0.05) and not self.error and time.monotonic() < deadline:
            pass
        return self.connected.is_set()

    def wait_confirmed(self, seq: int, timeout_s: float) -> bool:
        """Wait until the hub has committed every record up to ``seq``."""
        deadline = time.monotonic() + timeout_s
        while self.acked < seq and time.monotonic() < deadline and not self.error:
            time.sleep(0.05)
        return self.acked >= seq

    # -- paho's thread: hand over only -------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        why = refused(reason_code)
        if why is not None:
            if why != self.error:
                log.error("hub broker %s refused station %s: %s", self.broker.url, self.station_id, why)
            self.error = why
            return
        self.error = None
        kinds = ("cmd", "ack") if self.role == "station" else ("ack",)
        client.subscribe(protocol.subscriptions(kinds, self.station_id))
        self.connected.set()
        log.info("hub broker %s: connected as %s", self.broker.url, self.client_id)
        self._wake.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        if self.connected.is_set() and not self._stop.is_set():
            log.warning("hub broker %s: connection lost (%s); the outbox keeps everything", self.broker.url,
                        reason_code)
        self.connected.clear()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        self._pubacks.put(mid)
        self._wake.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        t = protocol.parse_topic(message.topic)
        if t is not None and t.station_id == self.station_id:
            self._inbox.put((t.kind, message.payload))
            self._wake.set()

    # -- the publisher's thread --------------------------------------------------------------------
    def _run(self) -> None:
        try:
            store = Store(self.db_path)
        except StationError as exc:
            self.error = str(exc)
            self.ready.set()
            log.error("hub publisher: %s", exc)
            return
        client: mqtt.Client | None = None
        try:
            store.db.execute("PRAGMA synchronous = NORMAL")  # a lost delete only means a record sent twice
            self.db_id = outbox.db_id(store)
            self.ready.set()
            will = (protocol.topic(self.station_id, "status"), protocol.encode({"online": False, "state": "offline"}))
            client = make_client(self.broker, self.client_id, clean_session=True,
                                 will=will if self.role == "station" else None)
            client.on_connect = self._on_connect
            client.on_disconnect = self._on_disconnect
            client.on_publish = self._on_publish
            client.on_message = self._on_message
            connect(client, self.broker)
            self._loop(store, client)
        except Exception:  # the publisher must never take the station down
            log.exception("hub publisher failed; the outbox keeps everything for the next start")
        finally:
            self.ready.set()
            if client is not None:
                client.disconnect()
                client.loop_stop()
            store.close()

    def _loop(self, store: Store, client: mqtt.Client) -> None:
        next_status = 0.0
        next_delete = 0.0
        flush_until: float | None = None
        while True:
            self._wake.wait(self.poll_s)
            self._wake.clear()
            stopping = self._stop.is_set()  # before reading the outbox: what was written before close() is seen
            now = time.monotonic()
            self._take_pubacks()
            self._take_inbox(store)
            if self.role == "push":
                self._resend_if_unheard(now)
            if self.connected.is_set():
                self._fill(store, client)
            self.head = outbox.head(store)
            if self.role == "station":
                self._replies(store, client, now)
                if now >= next_status and self.connected.is_set():
                    self._publish_status(store, client, online=True)
                    next_status = now + self.status_period_s
            if now >= next_delete and self.acked > self._deleted:
                outbox.delete_upto(store, self.acked)
                self._deleted = self.acked
                next_delete = now + DELETE_PERIOD_S
            if stopping:
                if flush_until is None:
                    flush_until = now + self._flush_s
                if self.acked >= self.head or now >= flush_until or not self.connected.is_set():
                    break
        if self.acked > self._deleted:
            outbox.delete_upto(store, self.acked)
        left = outbox.backlog(store)
        if left:
            log.warning("hub: %d record(s) not yet confirmed by the hub stay in the outbox (sent on the next start)",
                        left)
        if self.role == "station" and self.connected.is_set():
            info = self._publish_status(store, client, online=False)
            if info is not None:
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(2.0)

    def _resend_if_unheard(self, now: float) -> None:
        """``hub push``: no status tells the hub what to expect, so if the hub confirms nothing for a while
        (say it subscribed after our first messages), send the unconfirmed records again, less and less often."""
        if self.acked > self._heard_acked:
            self._heard_acked, self._heard_at, self._resend_wait_s = self.acked, now, PUSH_RESEND_FIRST_S
        elif self._cursor > self.acked and now - self._heard_at >= self._resend_wait_s:
            log.info("the hub has confirmed nothing new for %.0f s: sending from %d again", now - self._heard_at,
                     self.acked + 1)
            self._cursor = self.acked
            self._heard_at = now
            self._resend_wait_s = min(2 * self._resend_wait_s, PUSH_RESEND_MAX_S)

    def _take_pubacks(self) -> None:
        while True:
            try:
                mid = self._pubacks.get_nowait()
            except queue.Empty:
                return
            seqs = self._inflight.pop(mid, ())
            self._inflight_seqs.difference_update(seqs)
            self.sent += 1

    def _fill(self, store: Store, client: mqtt.Client) -> None:
        """Hand the next records to paho, oldest first, keeping at most ``window`` messages unacknowledged."""
        while len(self._inflight) < self.window:
            records = [r for r in outbox.records_after(store, self._cursor, self.window - len(self._inflight))]
            if not records:
                return
            self._cursor = records[-1].seq
            fresh = [r for r in records if r.seq not in self._inflight_seqs]
            assert self.db_id is not None
            for msg in outbox.messages(store, fresh, self.db_id):
                info = client.publish(protocol.topic(self.station_id, msg.kind), protocol.encode(msg.doc), qos=1)
                self._inflight[info.mid] = msg.seqs
                self._inflight_seqs.update(msg.seqs)

    def _take_inbox(self, store: Store) -> None:
        while True:
            try:
                kind, payload = self._inbox.get_nowait()
            except queue.Empty:
                return
            try:
                doc = protocol.decode(payload)
                if kind == "ack":
                    self._ack(doc)
                elif kind == "cmd" and self.role == "station":
                    self._command(store, doc)
            except InputError as exc:
                log.warning("hub: ignored a %s message: %s", kind, exc)

    def _ack(self, doc: dict[str, Any]) -> None:
        if doc.get("db") != self.db_id or not isinstance(doc.get("seq"), int):
            return  # about another database of this station (a replaced card): not ours
        seq = int(doc["seq"])
        self.acked = max(self.acked, seq)
        if doc.get("resend"):
            if seq < self._cursor:
                log.info("hub asks for the records after %d again", seq)
            self._cursor = min(self._cursor, seq)
        self._cursor = max(self._cursor, self.acked)

    def _command(self, store: Store, doc: dict[str, Any]) -> None:
        hub_id = doc.get("id")
        if not isinstance(hub_id, int):
            raise InputError("a command needs its id")
        kind = doc.get("kind")
        payload = doc.get("payload") if isinstance(doc.get("payload"), dict) else {}
        runner = payload.get("runner")
        clean = {"runner": runner} if isinstance(runner, str) and runner.strip() else {}
        try:
            local_id = store.request(str(kind), clean)
        except InputError as exc:
            self._pending_reply(hub_id, False, str(exc))
            return
        log.info("hub command %d: %s %s", hub_id, kind, clean or "")
        self._commands.append(_Command(hub_id, local_id, time.monotonic() + COMMAND_TIMEOUT_S))

    def _pending_reply(self, hub_id: int, ok: bool, result: str) -> None:
        self._commands.append(_Command(hub_id, -1, 0.0))
        self._answers[hub_id] = (ok, result)

    def _replies(self, store: Store, client: mqtt.Client, now: float) -> None:
        keep = []
        for c in self._commands:
            answer = self._answers.pop(c.hub_id, None)
            if answer is None and c.local_id >= 0:
                row = store.command(c.local_id)
                if row is not None and row["status"] != "pending":
                    answer = (row["status"] == "done", row.get("result") or "")
                elif now >= c.deadline:
                    with store.transaction() as conn:
                        conn.execute("update commands set status = 'failed', result = 'expired', handled_at = ? "
                                         "where id = ? and status = 'pending'", [utcnow(), c.local_id])
                    answer = (False, "the station did not take the command in time")
            if answer is None:
                keep.append(c)
                continue
            client.publish(protocol.topic(self.station_id, "reply"),
                           protocol.encode({"id": c.hub_id, "ok": answer[0], "result": answer[1]}), qos=1)
        self._commands = keep

    def _publish_status(self, store: Store, client: mqtt.Client, *, online: bool) -> mqtt.MQTTMessageInfo | None:
        status = store.station_status()
        doc: dict[str, Any] = status.to_dict() if status is not None else {"state": "starting"}
        doc.pop("preview_path", None)
        age = age_s(doc.get("updated_at"))
        fresh = age is not None and age <= self.stale_s and doc.get("state") != "stopped"
        backlog = outbox.backlog(store)
        first = store.db.execute("select min(id) from outbox").fetchone()[0]
        doc.update(online=online and fresh, station_id=self.station_id, db=self.db_id, seq=self.head,
                   floor=(first - 1) if first is not None else self.head, outbox=backlog)
        if not online:
            doc["state"] = "stopped"
        try:
            return client.publish(protocol.topic(self.station_id, "status"), protocol.encode(doc), qos=1, retain=True)
        except ValueError as exc:  # not JSON-safe: never expected from a StationStatus
            log.warning("hub: status not sent: %s", exc)
            return None

