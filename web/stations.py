"""The hub's live page: every station, its runner, cue and drop, and start/stop over MQTT.

Served when the database is a hub's (``gait-station hub`` writes it; :func:`station.hub.db.is_hub`):
``/live`` then lists the stations instead of the one station's session. Each station's
status is the :class:`~station.live.status.StationStatus` it last published, as the hub
stored it. Start and stop write a ``commands`` row naming the station; the hub process
forwards it on the station's ``cmd`` topic and stores the station's answer, which the page
follows (``/api/live/commands/<id>``). A station that is offline refuses at once (503),
and the hub fails a request that reached no station.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from station.hub import db as hubdb
from station.store import Store
from web import auth, live
from web.auth import live_access_required
from web.db import effective_settings, get_store

bp = Blueprint("stations", __name__)

#: who may start and stop: the station page's own rule (main's ``control_required``: the admin, or anyone on a
#: kiosk; on this branch the live page's openness)
control_required = getattr(auth, "control_required", live_access_required)


def is_hub(store: Store) -> bool:
    return hubdb.is_hub(store)


def station_json(st: hubdb.HubStation) -> dict[str, Any]:
    """One station for the page: who runs, the cue, each side's drop (the cue window's median) and level."""
    s = st.status
    running = st.online and s.session_id is not None  # set while a session runs, also with the camera lost
    return {
        "id": st.id,
        "online": st.online,
        "age_s": None if st.age_s is None else round(st.age_s, 1),
        "state": s.state if st.online else "offline",
        "message": s.message,
        "fps": s.fps,
        "camera_ok": s.camera_ok,
        "framing": s.framing.to_dict(),
        "session": None if not running else {
            "hub_id": st.session_hub_id,
            "runner": s.runner,
            "elapsed_s": s.elapsed_s,
            "steps": s.steps,
            "cue": s.cue,
            "cadence_spm": s.cadence_spm,
            "left": {"drop_deg": s.left.drop_deg, "level": s.left.level, "steps": s.left.steps_in_window},
            "right": {"drop_deg": s.right.drop_deg, "level": s.right.level, "steps": s.right.steps_in_window},
        },
        "sessions": st.sessions,
        "steps": st.steps,
        "backlog": st.backlog,
    }


def stations_state(store: Store) -> dict[str, Any]:
    settings = effective_settings()
    stale_s = float(current_app.config["STATUS_STALE_S"])
    return {
        "now": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "stations": [station_json(st) for st in hubdb.stations(store, stale_s)],
        "amber_deg": settings.cues.amber_deg,
        "red_deg": settings.cues.red_deg,
    }


def page(store: Store) -> Any:
    """``/live`` on a hub's database."""
    return render_template("live/hub.html", state=stations_state(store),
                           default_runner=effective_settings().session.default_runner)


@bp.route("/api/stations")
@live_access_required
def api_stations() -> Any:
    return jsonify(stations_state(get_store()))


def _station_or_404(store: Store, station_id: str) -> hubdb.HubStation:
    st = hubdb.station(store, station_id, float(current_app.config["STATUS_STALE_S"]))
    if st is None:
        abort(404, description=f"There is no station {station_id}.")
    return st


@bp.route("/live/stations/<station_id>/start", methods=["POST"])
@control_required
def start(station_id: str) -> Any:
    store = get_store()
    st = _station_or_404(store, station_id)
    data = request.get_json(silent=True) if request.is_json else request.form
    runner = str((data or {}).get("runner", "")).strip()
    if len(runner) > 80:
        return live._reply(False, "A runner name has at most 80 characters.", 400)
    if not st.online:
        return live._reply(False, f"Station {st.id} is offline: it cannot start a session now.", 503)
    if st.status.session_id is not None:
        return live._reply(False, f"A session is running on {st.id}: stop it first.", 409)
    command_id = store.request("start", {"runner": runner} if runner else {}, station_id=st.id)
    who = f" for {runner}" if runner else ""
    return live._reply(True, f"Starting a session on {st.id}{who}…", 202, command_id=command_id)


@bp.route("/live/stations/<station_id>/stop", methods=["POST"])
@control_required
def stop(station_id: str) -> Any:
    store = get_store()
    st = _station_or_404(store, station_id)
    if not st.online:
        return live._reply(False, f"Station {st.id} is offline: it cannot stop the session now.", 503)
    if st.status.session_id is None:
        return live._reply(False, f"No session is running on {st.id}.", 409)
    command_id = store.request("stop", station_id=st.id)
    return live._reply(True, f"Stopping the session on {st.id}…", 202, command_id=command_id)
