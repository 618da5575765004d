"""The live page: the current session updating every second, start/stop, camera preview and framing check.

The page polls ``/api/live`` (fetch, ~1 s); everything in it comes from the
database the station writes: the station's heartbeat status (meta
``station_status``), the running session, its last steps and cue events.
When the heartbeat is older than ``STATUS_STALE_S`` the page says "station
offline" and keeps working; start/stop are refused then (the request would
wait in the commands table and fire later, surprising whoever is on the
treadmill by then).

Who may use it: anyone when ``web.live_page_public`` is on (a gym kiosk: the
runner starts their own session), only a logged-in admin otherwise. Start and
stop follow the page's openness, always with a CSRF token.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from station.config import Settings
from station.cues.policy import window_median_deg
from station.errors import InputError
from station.gait.steps import Step
from station.gait.summary import cadence_spm
from station.live.status import StationStatus
from station.store import Store
from web import metrics, queries
from web.auth import live_access_required
from web.db import effective_settings, get_store
from web.filters import parse_utc

bp = Blueprint("live", __name__)

LAST_STEPS_SHOWN = 8
PREVIEW_SUFFIXES = (".jpg", ".jpeg")


def _age_s(updated_at: str | None, now: dt.datetime) -> float | None:
    when = parse_utc(updated_at)
    return None if when is None else max((now - when).total_seconds(), 0.0)


def preview_file(status: StationStatus | None) -> Path | None:
    """The station's preview JPEG, if the heartbeat names one that exists (never a path from a request)."""
    raw = status.preview_path if status is not None else None
    if not isinstance(raw, str) or not raw:
        return None
    path = Path(raw)
    if path.suffix.lower() not in PREVIEW_SUFFIXES or not path.is_absolute():
        return None
    return path if path.is_file() else None


def session_view(store: Store, session: dict[str, Any], settings: Settings, now: dt.datetime,
                 status: StationStatus | None) -> dict[str, Any]:
    """The running session for the live page.

    When the station's fresh heartbeat is about this session, the page shows the heartbeat as
    it is: the cue policy's window medians and levels (which follow the baseline mode), the LED
    state, the stream time elapsed, the cadence. Otherwise (the station is offline, or has not
    yet said) the same window median and the same cadence are taken from the stored steps.
    """
    sid = session["id"]
    window = int(((session.get("settings") or {}).get("cues") or {}).get("window_steps") or settings.cues.window_steps)
    recent = queries.last_steps(store, sid, max(2 * window, LAST_STEPS_SHOWN))
    amber, red = metrics.thresholds(session.get("settings"), settings.cues.amber_deg, settings.cues.red_deg)
    cue_row = queries.last_cue(store, sid)
    cue = None if cue_row is None else {k: cue_row.get(k) for k in ("kind", "state", "side", "value", "reason", "t_s")}
    live = status if status is not None and status.session_id == sid else None
    if live is not None:
        started = parse_utc(session.get("started_at"))
        elapsed_s = live.elapsed_s
        if elapsed_s is None and started is not None:
            elapsed_s = max((now - started).total_seconds(), 0.0)
        cadence = live.cadence_spm
        rolling = {side: {"drop_excursion_deg": live.side(side).drop_deg, "steps": live.side(side).steps_in_window,
                          "level": live.side(side).level} for side in metrics.SIDES}
        if live.cue and not (cue and cue.get("state") == live.cue):
            # the heartbeat is newer than the last stored cue: its state wins, without the stored cue's details
            cue = {"kind": "led", "state": live.cue, "side": None, "value": None, "reason": "", "t_s": None}
    else:
        elapsed_s = session.get("duration_s")
        cadence = cadence_spm(Step.from_dict(r) for r in recent)
        rolling = {}
        for side in metrics.SIDES:
            drops = queries.last_measured_drops(store, sid, side, window)
            rolling[side] = {"drop_excursion_deg": window_median_deg(drops), "steps": len(drops)}
    return {
        "id": sid,
        "runner": session.get("runner"),
        "status": session.get("status"),
        "started_at": session.get("started_at"),
        "elapsed_s": elapsed_s,
        "steps": session.get("steps") or 0,
        "window_steps": window,
        "rolling": rolling,
        "cadence_spm": cadence,
        "amber_deg": amber,
        "red_deg": red,
        "cue": cue,
        "last_steps": [{k: s.get(k) for k in ("idx", "side", "t_contact_s", "drop_excursion_deg", "cadence_spm")}
                       for s in recent[-LAST_STEPS_SHOWN:]],
    }


def station_online(status: StationStatus | None, now: dt.datetime | None = None) -> tuple[bool, float | None]:
    """(online, heartbeat age in s): a fresh heartbeat from a station that has not said it stopped."""
    now = now or dt.datetime.now(dt.UTC)
    age = _age_s(status.updated_at if status is not None else None, now)
    online = (status is not None and age is not None and age <= float(current_app.config["STATUS_STALE_S"])
              and status.state != "stopped")
    return online, age


def live_state(store: Store) -> dict[str, Any]:
    """What /api/live returns and the live page first renders."""
    now = dt.datetime.now(dt.UTC)
    settings = effective_settings()
    status = store.station_status()
    online, age = station_online(status, now)
    session = store.running_session()
    last = None
    if session is None:
        recent = store.sessions(limit=1)
        last = recent[0] if recent else None
    station: dict[str, Any] = {"online": online, "age_s": age}
    if status is not None:
        station.update(state=status.state, fps=status.fps, message=status.message, source=status.source,
                       model=status.model, view=status.view)
    return {
        "now": now.isoformat(timespec="milliseconds"),
        "station": station,
        "framing": status.framing.to_dict() if online and status is not None else {"ok": None, "messages": []},
        "preview": online and preview_file(status) is not None,
        "session": session_view(store, session, settings, now, status if online else None) if session else None,
        "last_session": None if last is None else {"id": last["id"], "runner": last.get("runner"),
                                                   "started_at": last.get("started_at"), "steps": last.get("steps")},
        "amber_deg": settings.cues.amber_deg,
        "red_deg": settings.cues.red_deg,
    }


def index() -> Any:
    """``/``: the live page."""
    return page()


@bp.route("/live")
@live_access_required
def page() -> Any:
    from web import stations

    if stations.is_hub(get_store()):  # a hub's database: every station (web/stations.py)
        return stations.page(get_store())
    return render_template("live/index.html", state=live_state(get_store()),
                           default_runner=effective_settings().session.default_runner)


@bp.route("/api/live")
@live_access_required
def api_live() -> Any:
    return jsonify(live_state(get_store()))


@bp.route("/live/preview.jpg")
@live_access_required
def preview() -> Any:
    status = get_store().station_status()
    if not station_online(status)[0]:
        abort(404, description="The station is offline: no camera preview.")
    path = preview_file(status)
    if path is None:
        abort(404, description="The station has no camera preview right now.")
    try:
        data = path.read_bytes()  # one read: the station replaces the file atomically
    except OSError:
        abort(404, description="The camera preview is not readable.")
    response = send_file(io.BytesIO(data), mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


def _json_request() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _reply(ok: bool, message: str, code: int = 200, **extra: Any) -> Any:
    if _json_request():
        return jsonify({"ok": ok, "message": message, **extra} if ok else
                       {"error": message, "status": code, **extra}), code
    flash(message, "ok" if ok else "error")
    return redirect(url_for("live.page"))


def _station_online(store: Store) -> bool:
    return station_online(store.station_status())[0]


@bp.route("/live/start", methods=["POST"])
@live_access_required
def start() -> Any:
    store = get_store()
    data = request.get_json(silent=True) if request.is_json else request.form
    runner = str((data or {}).get("runner", "")).strip()
    if len(runner) > 80:
        return _reply(False, "A runner name has at most 80 characters.", 400)
    if not _station_online(store):
        return _reply(False, "The station is offline: it cannot start a session now.", 503)
    if store.running_session() is not None:
        return _reply(False, "A session is running: stop it first.", 409)
    try:
        command_id = store.request("start", {"runner": runner} if runner else {})
    except InputError as exc:  # pragma: no cover - kind is fixed here
        return _reply(False, str(exc), 400)
    who = f" for {runner}" if runner else ""
    return _reply(True, f"Starting a session{who}…", 202, command_id=command_id)


@bp.route("/live/stop", methods=["POST"])
@live_access_required
def stop() -> Any:
    store = get_store()
    if not _station_online(store):
        return _reply(False, "The station is offline: it cannot stop the session now.", 503)
    if store.running_session() is None:
        return _reply(False, "No session is running.", 409)
    command_id = store.request("stop")
    return _reply(True, "Stopping the session…", 202, command_id=command_id)


@bp.route("/api/live/commands/<int:command_id>")
@live_access_required
def command(command_id: int) -> Any:
    row = get_store().command(command_id)
    if row is None:
        abort(404, description=f"There is no command {command_id}.")
    return jsonify({k: row.get(k) for k in ("id", "kind", "status", "result", "created_at", "handled_at")})
