"""The hub: one MQTT session (persistent, fixed client id) into one database for every station.

Messages arrive in paho's thread and are queued; this loop takes them in batches, applies a
batch in one SQLite transaction (:mod:`station.hub.db`, idempotent), commits, and only then
acknowledges them to the broker (paho's ``manual_ack``), so a hub killed mid-batch gets the
rest again from its persistent session. After each commit it tells each station, retained on
``gait/<station>/ack``, the sequence number up to which it holds everything; when a station's
records have a gap, or its status names a head the hub has not reached, for ``resend_after_s``,
it asks the station to send again from there (a broker that crashed lost them).

It also forwards the web page's start/stop requests (``commands`` rows with a station id) to
the station's ``cmd`` topic, refusing them at once for a station that is offline, and failing
them when no answer came within ``command_timeout_s``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt

from station.errors import InputError, StationError, StoreError
from station.hub import db as hubdb
from station.hub import protocol
from station.hub.client import Broker, connect, make_client, refused
from station.live.report import peak_rss_mb
from station.store import Store, utcnow

log = logging.getLogger(__name__)

HUB_CLIENT_ID = "gait-hub"
BATCH_MAX = 500
LATENCY_KEEP = 200_000


@dataclass
class Track:
    """What the hub holds of one station database's records: all up to ``acked``, and some above."""

    db_id: str | None
    acked: int = 0
    above: set[int] = field(default_factory=set)
    head: int = 0
    gap_since: float | None = None
    last_data: float = 0.0
    last_request: float = 0.0
    dirty: bool = False  # acked moved: tell the station

    def saw(self, seqs: list[int], now: float) -> None:
        before = self.acked
        self.above.update(s for s in seqs if s > self.acked)
        while self.acked + 1 in self.above:
            self.acked += 1
            self.above.discard(self.acked)
        self.last_data = now
        self.gap_since = (self.gap_since or now) if self.above else None
        self.dirty |= self.acked != before

    def floor(self, seq: int) -> None:
        """Everything up to ``seq`` was confirmed before (by this hub or another) and deleted on the station."""
        if seq > self.acked:
            self.acked = seq
            self.above = {s for s in self.above if s > seq}
            self.saw([], self.last_data)
            self.dirty = True

    def wants_resend(self, now: float, after_s: float) -> bool:
        stuck = (self.gap_since is not None and now - self.gap_since >= after_s) or (
            self.head > self.acked and now - self.last_data >= after_s)
        return stuck and now - self.last_request >= after_s


@dataclass
class HubReport:
    messages: int = 0
    steps_stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    latency_s: list[float] = field(default_factory=list)  # a step's emission (station) -> the hub's commit
    wall_s: float = 0.0

    def figures(self) -> dict[str, Any]:
        lat = np.asarray(self.latency_s) * 1000.0
        out: dict[str, Any] = {"messages": self.messages, "steps_stored": self.steps_stored,
                               "duplicates": self.duplicates, "rejected": self.rejected, "batches": self.batches,
                               "wall_s": round(self.wall_s, 2), "peak_rss_mb": round(peak_rss_mb(), 1)}
        if lat.size:
            out["latency_ms"] = {"p50": round(float(np.median(lat)), 1),
                                 "p95": round(float(np.percentile(lat, 95)), 1), "max": round(float(lat.max()), 1)}
        return out

    def line(self) -> str:
        f = self.figures()
        lat = f.get("latency_ms")
        return (f"hub: {f['messages']} messages in {f['batches']} batches, {f['steps_stored']} steps stored "
                f"({f['duplicates']} duplicates ignored, {f['rejected']} rejected)"
                + (f"; step emitted -> committed here p50 {lat['p50']} / p95 {lat['p95']} / max {lat['max']} ms"
                   if lat else "") + f"; peak RSS {f['peak_rss_mb']:.0f} MB")


class Hub:
    def __init__(self, db_path: str, broker: Broker, *, client_id: str = HUB_CLIENT_ID, stale_s: float = 5.0,
                 command_timeout_s: float = 15.0, resend_after_s: float = 3.0, discovery: bool = False) -> None:
        self.db_path = str(db_path)
        self.broker = broker
        self.client_id = client_id
        self.stale_s = stale_s
        self.command_timeout_s = command_timeout_s
        self.resend_after_s = resend_after_s
        self.discovery = discovery
        self.report = HubReport()
        self.connected = threading.Event()
        self.error: str | None = None
        self._ever_connected = False
        self._generation = 0
        self._messages: queue.SimpleQueue[tuple[int, mqtt.MQTTMessage]] = queue.SimpleQueue()
        self._tracks: dict[str, Track] = {}
        self._announced: set[str] = set()
        self._stopping = False

    # -- paho's thread -----------------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        why = refused(reason_code)
        if why is not None:
            if why != self.error:
                log.error("broker %s refused the hub: %s", self.broker.url, why)
            self.error = why
            return
        self.error = None
        self._generation += 1
        self._ever_connected = True
        # status at QoS 0: the broker keeps no backlog of stale statuses for a hub that was away (the retained
        # one, the station's latest, comes with every subscription); records and replies at QoS 1
        client.subscribe([(protocol.topic("+", k), 0 if k == "status" else 1) for k in protocol.STATION_KINDS])
        self.connected.set()
        log.info("broker %s: connected as %s (session kept: %s)", self.broker.url, self.client_id,
                 getattr(flags, "session_present", "?"))

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        if self.connected.is_set() and not self._stopping:
            log.warning("broker %s: connection lost (%s); reconnecting", self.broker.url, reason_code)
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._messages.put((self._generation, message))

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> HubReport:
        start = time.monotonic()
        with Store(self.db_path) as store:
            store.set_meta(hubdb.HUB_KEY, {"client_id": self.client_id, "broker": self.broker.url,
                                           "started_at": utcnow()})
            for r in store.db.query("select id, db_id, acked_seq, head_seq from stations"):
                self._tracks[r["id"]] = Track(r["db_id"], int(r["acked_seq"] or 0), head=int(r["head_seq"] or 0))
            client = make_client(self.broker, self.client_id, clean_session=False, manual_ack=True)
            client.on_connect = self._on_connect
            client.on_disconnect = self._on_disconnect
            client.on_message = self._on_message
            connect(client, self.broker)
            next_chores = 0.0
            try:
                while not stop.is_set():
                    if self.error and not self._ever_connected:
                        raise StationError(f"the broker {self.broker.url} refused the hub: {self.error}")
                    batch = self._take(0.1)
                    if batch:
                        self._apply(store, client, batch)
                    now = time.monotonic()
                    if now >= next_chores:
                        self._chores(store, client, now)
                        next_chores = now + 0.25
            finally:
                self._stopping = True
                client.disconnect()  # a clean disconnect keeps the persistent session
                client.loop_stop()
                self.report.wall_s = time.monotonic() - start
                with_store_report(store, self.report)
        return self.report

    def _take(self, wait_s: float) -> list[tuple[int, mqtt.MQTTMessage]]:
        try:
            batch = [self._messages.get(timeout=wait_s)]
        except queue.Empty:
            return []
        while len(batch) < BATCH_MAX:
            try:
                batch.append(self._messages.get_nowait())
            except queue.Empty:
                break
        return batch

    def _track(self, station_id: str, db_id: str) -> Track | None:
        t = self._tracks.get(station_id)
        if t is None or t.db_id is None:
            t = self._tracks[station_id] = Track(db_id)
        return t if t.db_id == db_id else None  # another database of that station: stored, not tracked

    def _apply(self, store: Store, client: mqtt.Client, batch: list[tuple[int, mqtt.MQTTMessage]]) -> None:
        now_iso = utcnow()
        now = time.monotonic()
        statuses: dict[str, dict[str, Any]] = {}
        created: list[str] = []
        seen: set[str] = set()
        try:
            with store.transaction() as conn:
                for _gen, msg in batch:
                    t = protocol.parse_topic(msg.topic)
                    if t is None or t.kind not in protocol.STATION_KINDS:
                        continue
                    try:
                        doc = protocol.decode(msg.payload)
                        if t.kind == "status":
                            statuses[t.station_id] = doc
                        elif t.kind == "session":
                            db_id, seq = hubdb.apply_session(conn, t.station_id, doc)
                            self._saw(t.station_id, db_id, [seq], now, seen)
                        elif t.kind == "step":
                            db_id, seqs, stored = hubdb.apply_steps(conn, t.station_id, doc, now_iso)
                            created.extend(stored)
                            self.report.duplicates += len(seqs) - len(stored)
                            self._saw(t.station_id, db_id, seqs, now, seen)
                        else:
                            hubdb.apply_reply(conn, t.station_id, doc, now_iso)
                    except InputError as exc:
                        self.report.rejected += 1
                        log.warning("%s from %s dropped: %s", t.kind, t.station_id, exc)
                for sid, doc in statuses.items():
                    hubdb.apply_status(conn, sid, doc, now_iso)
                    self._status(sid, doc)
                    seen.add(sid)
                for sid in seen:
                    tr = self._tracks.get(sid)
                    if tr is not None and tr.db_id:
                        hubdb.save_acked(conn, sid, tr.db_id, tr.acked)
        except Exception as exc:  # sqlite3 errors, a full disk: nothing was acknowledged, the broker keeps it all
            raise StoreError(f"hub database {self.db_path}: {exc}") from None
        committed = time.time()
        generation = self._generation
        for gen, msg in batch:
            if gen == generation and msg.qos > 0:
                client.ack(msg.mid, msg.qos)
        self.report.messages += len(batch)
        self.report.batches += 1
        self.report.steps_stored += len(created)
        if len(self.report.latency_s) < LATENCY_KEEP:
            self.report.latency_s.extend(committed - _epoch(c) for c in created if c)

    def _saw(self, station_id: str, db_id: str, seqs: list[int], now: float, seen: set[str]) -> None:
        tr = self._track(station_id, db_id)
        if tr is not None:
            tr.saw(seqs, now)
            seen.add(station_id)

    def _status(self, station_id: str, doc: dict[str, Any]) -> None:
        db_id = doc.get("db")
        if not isinstance(db_id, str) or not db_id:
            return
        tr = self._tracks.get(station_id)
        if tr is None or tr.db_id != db_id:  # a new station, or its database was replaced: count afresh
            tr = self._tracks[station_id] = Track(db_id, last_data=time.monotonic())
        if isinstance(doc.get("seq"), int):
            tr.head = doc["seq"]
        if isinstance(doc.get("floor"), int):
            tr.floor(doc["floor"])

    def _send_ack(self, client: mqtt.Client, station_id: str, resend: bool = False) -> None:
        tr = self._tracks.get(station_id)
        if tr is None or tr.db_id is None or not (tr.dirty or resend):
            return
        doc: dict[str, Any] = {"db": tr.db_id, "seq": tr.acked}
        if resend:
            doc["resend"] = True
        client.publish(protocol.topic(station_id, "ack"), protocol.encode(doc), qos=1, retain=True)
        tr.dirty = False

    # -- chores: commands, resend requests -----------------------------------------------------------
    def _chores(self, store: Store, client: mqtt.Client, now: float) -> None:
        if not self.connected.is_set():
            return
        online = hubdb.online(store, self.stale_s)
        for sid, tr in self._tracks.items():
            if sid in online and tr.wants_resend(now, self.resend_after_s):
                tr.last_request = now
                log.info("station %s: asking again for its records after %d (head %d)", sid, tr.acked, tr.head)
                self._send_ack(client, sid, resend=True)
            else:
                self._send_ack(client, sid)
        self._forward_commands(store, client, online)
        if self.discovery:
            from station.hub.discovery import announce

            for sid in online:
                if sid not in self._announced:
                    announce(client, sid)
                    self._announced.add(sid)

    def _forward_commands(self, store: Store, client: mqtt.Client, online: set[str]) -> None:
        rows = list(store.db.query("select * from commands where station_id is not null and status in "
                                   "('pending', 'sent') order by id"))
        for row in rows:
            sid = row["station_id"]
            if row["status"] == "pending":
                if sid not in online:
                    store.finish_command(row["id"], ok=False, result=f"station {sid} is offline")
                    continue
                payload = hubdb.json_object(row["payload"])
                client.publish(protocol.topic(sid, "cmd"),
                               protocol.encode({"id": row["id"], "kind": row["kind"], "payload": payload}), qos=1)
                hubdb.set_command_status(store, row["id"], "sent", was="pending")
            elif (age := hubdb.age_s(row["created_at"])) is not None and age > self.command_timeout_s:
                hubdb.set_command_status(store, row["id"], "failed", was="sent",
                                         result=f"no answer from station {sid}")


def with_store_report(store: Store, report: HubReport) -> None:
    """The run's figures beside the data (``meta.hub_report``), for the benchmark and a person."""
    try:
        store.set_meta("hub_report", report.figures())
    except StationError as exc:
        log.warning("could not save the hub's figures: %s", exc)


def _epoch(iso: str) -> float:
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return time.time()
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()
