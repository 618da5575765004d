"""Export (a session's steps as CSV/JSON, its raw pose track CSV) and the JSON API the pages use.

Every route takes integer ids only; nothing from a request names a file.
Floats are written with full precision (``repr``), so an export reads back
to exactly what the database holds; a null metric is an empty CSV cell /
JSON ``null``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request

from station.keypoints import TRACK_COLUMNS
from station.report import STEP_CSV_COLUMNS, csv_lines
from station.store import Store
from web import queries
from web.auth import login_required
from web.db import get_store
from web.filters import local_time
from web.metrics import finite
from web.sessions import get_runner_or_404, get_session_or_404, list_rows, session_detail

bp = Blueprint("export", __name__, url_prefix="/sessions")
api = Blueprint("api", __name__, url_prefix="/api")

SESSION_KEYS = ("id", "runner_id", "runner", "started_at", "ended_at", "status", "trigger", "source", "model", "fps",
                "view", "camera_roll_deg", "steps", "duration_s", "notes", "station_id")


def _attachment(body: Any, mimetype: str, filename: str) -> Response:
    """A download named ``filename``: an ASCII name for every browser, the name as it is (UTF-8) for the rest."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode() or "export"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


def export_name(session: dict[str, Any], what: str, ext: str) -> str:
    """``Ana-2024-05-01-1030-session-3-steps.csv``: who, when (local time) and which session, readable in a folder."""
    runner = re.sub(r"[\s/\\:*?\"<>|]+", "-", (session.get("runner") or "no-name").strip()).strip("-.") or "no-name"
    when = local_time(session.get("started_at"), "%Y-%m-%d-%H%M")
    return f"{runner[:40]}-{when}-session-{session['id']}-{what}.{ext}"


def session_json(session: dict[str, Any]) -> dict[str, Any]:
    return {k: session.get(k) for k in SESSION_KEYS}


def steps_document(store: Store, session: dict[str, Any]) -> dict[str, Any]:
    """The steps export: like the analysis report JSON of DESIGN.md, plus the session's facts."""
    return {"session": session_json(session), "source": session.get("source"), "fps": session.get("fps"),
            "model": session.get("model"), "steps": store.steps(session["id"]),
            "summary": store.summary(session).to_dict(rounded=False)}


#: the session columns each row of the steps CSV starts with: a file that travels alone still says whose steps
SESSION_CSV_COLUMNS = ("session_id", "runner", "session_started_at")


@bp.route("/<int:session_id>/steps.csv")
@login_required
def steps_csv(session_id: int) -> Response:
    """One row per step: the session (id, runner, start in UTC), then ``idx`` and the step's fields."""
    store = get_store()
    session = get_session_or_404(store, session_id)
    facts = [session["id"], session.get("runner") or "", session.get("started_at") or ""]
    rows = ([*facts, *(row.get(k) for k in STEP_CSV_COLUMNS)] for row in store.steps(session_id))
    body = "".join(csv_lines((*SESSION_CSV_COLUMNS, *STEP_CSV_COLUMNS), rows))
    return _attachment(body, "text/csv", export_name(session, "steps", "csv"))


@bp.route("/<int:session_id>/steps.json")
@login_required
def steps_json(session_id: int) -> Response:
    store = get_store()
    session = get_session_or_404(store, session_id)
    body = json.dumps(finite(steps_document(store, session)), indent=1, allow_nan=False, default=str)
    return _attachment(body, "application/json", export_name(session, "steps", "json"))


@bp.route("/<int:session_id>/poses.csv")
@login_required
def poses_csv(session_id: int) -> Response:
    """The session's raw keypoints as the pose track CSV of DESIGN.md (readable by ``gait-station analyze``)."""
    store = get_store()
    session = get_session_or_404(store, session_id)
    track = store.pose_track(session_id)
    rows = (pose.to_row() for pose in track)
    return _attachment(csv_lines(TRACK_COLUMNS, rows), "text/csv", export_name(session, "poses", "csv"))


# -- JSON API ----------------------------------------------------------------------------------------
@api.route("/sessions")
@login_required
def api_sessions() -> Response:
    store = get_store()
    runner_id = request.args.get("runner", type=int)
    limit = min(max(request.args.get("limit", 50, type=int), 1), 500)
    offset = max(request.args.get("offset", 0, type=int), 0)
    if runner_id is not None:
        get_runner_or_404(store, runner_id)
    return jsonify({"sessions": list_rows(store, runner_id, limit, offset), "limit": limit, "offset": offset})


@api.route("/sessions/<int:session_id>")
@login_required
def api_session(session_id: int) -> Response:
    store = get_store()
    session = get_session_or_404(store, session_id)
    d = session_detail(store, session)
    return jsonify({"session": session_json(session), "summary": d["summary"].to_dict(rounded=False),
                    "fatigue": d["fatigue"], "verdict": d["verdict"],
                    "drop": {side: e.to_dict() for side, e in d["drop"].items()},
                    "amber_deg": d["amber_deg"], "red_deg": d["red_deg"], "cues": d["cues"]})


@api.route("/sessions/<int:session_id>/steps")
@login_required
def api_steps(session_id: int) -> Response:
    store = get_store()
    get_session_or_404(store, session_id)
    after = request.args.get("after", type=int)
    steps = store.steps(session_id, after_idx=after)
    return jsonify({"session_id": session_id, "steps": steps})


@api.route("/storage")
@login_required
def api_storage() -> Response:
    """The disk budget of raw poses as the station last checked it (``station.store.PoseBudget``), or null."""
    return jsonify({"storage": get_store().get_meta("storage")})


@api.route("/runners")
@login_required
def api_runners() -> Response:
    return jsonify({"runners": get_store().runners()})


@api.route("/runners/<int:runner_id>")
@login_required
def api_runner(runner_id: int) -> Response:
    store = get_store()
    runner = get_runner_or_404(store, runner_id)
    return jsonify({"runner": runner, "sessions": queries.runner_sessions(store, runner_id)})
