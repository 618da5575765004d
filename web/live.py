"""The live page: the current session updating every second, start/stop, camera preview and framing check.

The page polls ``/api/live`` (fetch, ~1 s); everything in it comes from the
database the station writes: the station's heartbeat status (meta
``station_status``), the running session, its last steps and cue events.
When the heartbeat is older than ``STATUS_STALE_S`` the page says "station
offline" and keeps working; start/stop are refused then (the request would
wait in the commands table and fire later, surprising whoever is on the
treadmill by then).

Who may use it: anyone when ``web.live_page_public`` is on (the default), only a
logged-in admin otherwise; it is read-only to everyone but the admin. Start and
stop need the admin's login, or ``web.kiosk_start_stop`` (a gym kiosk: the
runner starts their own session), and always a CSRF token.
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

from station.config import Settings, check_runner_name
from station.cues.policy import window_median_deg
from station.errors import InputError
from station.gait.framing import DEFAULT_LIMITS
from station.gait.steps import Step
from station.gait.summary import cadence_spm
from station.live.status import StationStatus
from station.store import Store
from web import metrics, queries
from web.auth import control_required, live_access_required, may_control
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


LIGHT_WORDS = {
    "off": "Dark: feedback is withheld for now (faded feedback); measuring goes on.",
    "ready": "No session.",
    "no_runner": "Blinking amber: the runner is not in view.",
    "bad_framing": "Blinking amber: the runner is badly framed (see the camera below).",
    "fault": "Blinking red: a fault (camera lost?).",
}


def light_words(state: str | None, side: str | None, rolling: dict[str, dict[str, Any]], hysteresis_deg: float | None,
                min_steps: int) -> str:
    """What the light shows, and why, in words: one sentence from the same heartbeat as the badge and the boxes."""
    if state in LIGHT_WORDS:
        return LIGHT_WORDS[state]  # type: ignore[index]
    if state == "wait" or side not in rolling:
        counts = ", ".join(f"{s} {rolling[s].get('steps') or 0}" for s in metrics.SIDES)
        return f"Measuring: the light needs {min_steps} steps on a side ({counts})."
    r = rolling[side]  # type: ignore[index]
    drop, amber, red = r.get("drop_excursion_deg"), r.get("amber_deg"), r.get("red_deg")
    if drop is None or amber is None or red is None:
        return f"{str(state).capitalize()}."
    if state == "green":
        judged = [s for s in metrics.SIDES if rolling[s].get("level") in ("green", "amber", "red")]
        who = "both sides are" if len(judged) == 2 else f"the {side} side is"
        return f"Green: {who} below amber ({amber:.1f}°); the worse, {side}, at {drop:.1f}°."
    line = amber if state == "amber" else red
    text = f"{str(state).capitalize()}: the {side} side's drop is {drop:.1f}° ({state} from {line:.1f}°)"
    if hysteresis_deg:
        text += f"; it stays {state} until it is back to {line - hysteresis_deg:.1f}°"
    return text + "."


def session_view(store: Store, session: dict[str, Any], settings: Settings, now: dt.datetime,
                 status: StationStatus | None) -> dict[str, Any]:
    """The running session for the live page.

    When the station's fresh heartbeat is about this session, the page shows the heartbeat as it is: the light
    (the LED state and the side it rests on), each side's window median, level and thresholds, the stream time,
    the cadence: the badge, the boxes and the stated thresholds come from one snapshot of the cue policy, so
    they agree with each other and with the LED. Otherwise (the station is offline, or has not yet said) the
    last stored light and the same window medians and cadence from the stored steps.
    """
    sid = session["id"]
    cues_cfg = (session.get("settings") or {}).get("cues") or {}
    window = int(cues_cfg.get("window_steps") or settings.cues.window_steps)
    min_steps = int(cues_cfg.get("min_steps") or settings.cues.min_steps)
    recent = queries.last_steps(store, sid, max(2 * window, LAST_STEPS_SHOWN))
    amber, red = metrics.thresholds(session.get("settings"), settings.cues.amber_deg, settings.cues.red_deg)
    live = status if status is not None and status.session_id == sid else None
    if live is not None:
        started = parse_utc(session.get("started_at"))
        elapsed_s = live.elapsed_s
        if elapsed_s is None and started is not None:
            elapsed_s = max((now - started).total_seconds(), 0.0)
        cadence = live.cadence_spm
        rolling = {side: {"drop_excursion_deg": live.side(side).drop_deg, "steps": live.side(side).steps_in_window,
                          "level": live.side(side).level, "amber_deg": live.side(side).amber_deg,
                          "red_deg": live.side(side).red_deg, "mean_deg": live.side(side).mean_deg,
                          "ci95_deg": live.side(side).ci95_deg, "uncertain": live.side(side).uncertain}
                   for side in metrics.SIDES}
        state, side, hysteresis = live.cue, live.cue_side, live.hysteresis_deg
    else:
        elapsed_s = session.get("duration_s")
        cadence = cadence_spm(Step.from_dict(r) for r in recent)
        rolling = {}
        for s in metrics.SIDES:
            drops = queries.last_measured_drops(store, sid, s, window)
            rolling[s] = {"drop_excursion_deg": window_median_deg(drops), "steps": len(drops), "level": None,
                          "amber_deg": amber, "red_deg": red}
        cue_row = queries.last_cue(store, sid)
        state, side = (cue_row or {}).get("state"), (cue_row or {}).get("side")
        hysteresis = cues_cfg.get("hysteresis_deg")
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
        "hysteresis_deg": hysteresis,
        "cue": {"state": state, "side": side, "words": light_words(state, side, rolling, hysteresis, min_steps),
                "live": live is not None},
        "last_steps": [{k: s.get(k) for k in ("idx", "side", "t_contact_s", "drop_excursion_deg", "cadence_spm")}
                       for s in recent[-LAST_STEPS_SHOWN:]],
    }


def last_session_view(store: Store, last: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The session that ended last, as the live page shows it once it is over: its figures and verdict from the
    summary the station stored (cheap enough to poll)."""
    summary = store.summary(last)
    amber, red = metrics.thresholds(last.get("settings"), settings.cues.amber_deg, settings.cues.red_deg)
    drop = {side: metrics.drop_estimate(summary.side(side)).to_dict() for side in metrics.SIDES}
    return {"id": last["id"], "runner": last.get("runner"), "started_at": last.get("started_at"),
            "steps": last.get("steps"), "duration_s": last.get("duration_s"), "status": last.get("status"),
            "cadence_spm": summary.cadence_spm, "drop": drop,
            "verdict": metrics.verdict(summary, None, amber, red)}


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
        "framing": (status.framing.to_dict() if online and status is not None
                    else {"ok": None, "messages": [], "box": None, "tilt_deg": None, "distance_m": None}),
        "distance_m": settings.camera.distance_m,
        "level_tol_deg": DEFAULT_LIMITS.level_tol_deg,
        "preview": online and preview_file(status) is not None,
        "session": session_view(store, session, settings, now, status if online else None) if session else None,
        "last_session": None if last is None else last_session_view(store, last, settings),
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
                           default_runner=effective_settings().session.default_runner, can_control=may_control())


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
@control_required
def start() -> Any:
    store = get_store()
    data = request.get_json(silent=True) if request.is_json else request.form
    try:
        runner = check_runner_name(str((data or {}).get("runner", "")))
    except InputError as exc:
        return _reply(False, str(exc).capitalize() + ".", 400)
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
@control_required
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
