"""Sessions: the list (filterable by runner), one session's page (verdict, trend, first against last third,
metrics, clip, notes, the light's changes), its one-page report and its clip."""

from __future__ import annotations

import collections
import threading
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for

from station.errors import InputError
from station.gait.summary import Summary
from station.gait.uncertainty import enough_steps
from station.store import Store
from web import charts, metrics, queries
from web.auth import login_required
from web.db import effective_settings, get_store

bp = Blueprint("sessions", __name__, url_prefix="/sessions")

PAGE_SIZE = 50
MAX_CHANGES_SHOWN = 200
LIGHT_KINDS = ("led", "framing")
CACHED_SESSIONS = 6
_CACHE: collections.OrderedDict[tuple[Any, ...], dict[str, Any]] = collections.OrderedDict()
_CACHE_LOCK = threading.Lock()


def get_session_or_404(store: Store, session_id: int) -> dict[str, Any]:
    session = store.session(session_id)
    if session is None:
        abort(404, description=f"There is no session {session_id}.")
    return session


def get_runner_or_404(store: Store, runner_id: int) -> dict[str, Any]:
    runner = store.runner(runner_id)
    if runner is None:
        abort(404, description=f"There is no runner {runner_id}.")
    return runner


def list_rows(store: Store, runner_id: int | None, limit: int, offset: int) -> list[dict[str, Any]]:
    """Sessions newest first, each with per-side mean drop and cadence from its summary."""
    out = []
    for r in store.sessions(runner_id=runner_id, limit=limit, offset=offset):
        summary = store.summary(r)
        row = {k: r.get(k) for k in ("id", "runner_id", "runner", "started_at", "ended_at", "status", "trigger",
                                     "steps", "duration_s", "view", "station_id")}
        row["cadence_spm"] = summary.cadence_spm
        for side in metrics.SIDES:
            row[side] = {"steps": summary.side(side).steps,
                         "drop_excursion_deg": summary.side(side).means["drop_excursion_deg"]}
        out.append(row)
    return out


def light_changes(cues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cue rows at which something changed for the runner: the light's changes (a session stored before the
    one-light policy has a light cue per step; only its changes are kept), beeps, the metronome, the camera."""
    out, shown = [], None
    for c in cues:
        if c["kind"] in LIGHT_KINDS:
            if c["state"] == shown:
                continue
            shown = c["state"]
        out.append(c)
    return out


def _from_steps(store: Store, session: dict[str, Any], summary: Summary, amber: float, red: float,
                wide: bool) -> dict[str, Any]:
    """What a session's pages compute from its steps: the fatigue change, the verdict and the two pictures (the
    drop over the session, the first against the last third; ``wide``: the report's A4 proportions).

    A finished session's steps never change, so this is kept for the few sessions opened last (a 30-minute
    session has ~5,000 steps: reading and drawing them is most of its page's time).
    """
    key = (store.path, session["id"], session.get("steps"), session.get("ended_at"), amber, red, wide)
    if session.get("status") != "running":
        with _CACHE_LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
    steps = queries.session_steps(store, session["id"])
    fatigue = metrics.fatigue(steps)
    rows = [(side.capitalize(), fatigue[side]["drop"]["first"], fatigue[side]["drop"]["last"])
            for side in metrics.SIDES]
    size = {"width": 680, "height": 230} if wide else {}
    out = {
        "fatigue": fatigue,
        "verdict": metrics.verdict(summary, fatigue, amber, red),
        "chart": charts.drop_chart(steps, amber, red, **size),
        "thirds_chart": charts.change_chart(rows, amber, red, labels=("first third", "last third"),
                                            chart_id="thirds-chart",
                                            title="Hip drop in the first and in the last third of the running")
        if fatigue["first_steps"] and fatigue["last_steps"] else None,
    }
    if session.get("status") != "running":
        with _CACHE_LOCK:
            _CACHE[key] = out
            while len(_CACHE) > CACHED_SESSIONS:
                _CACHE.popitem(last=False)
    return out


def session_detail(store: Store, session: dict[str, Any], wide: bool = False) -> dict[str, Any]:
    """Everything the session page, its report and /api/sessions/<id> show: the stored summary, what the steps
    give (:func:`_from_steps`), the per-side drop with its 95 % range, the cues, the thresholds the session ran
    with."""
    settings = effective_settings()
    amber, red = metrics.thresholds(session.get("settings"), settings.cues.amber_deg, settings.cues.red_deg)
    summary = store.summary(session)
    drop = {side: metrics.drop_estimate(summary.side(side)) for side in metrics.SIDES}
    return {
        **_from_steps(store, session, summary, amber, red, wide),
        "summary": summary,
        "drop": drop,
        # a side whose interval is wider than amber-red cannot be told amber from red: "not enough steps yet"
        "too_few": {side: e.ci95 is not None and not enough_steps(e.ci95, red - amber) for side, e in drop.items()},
        "cues": store.cues(session["id"]),
        "amber_deg": amber,
        "red_deg": red,
    }


def has_clip(store: Store, session_id: int) -> bool:
    path = store.clip_path(session_id)
    return path is not None and path.is_file()


def page_context(store: Store, session: dict[str, Any], wide: bool = False) -> dict[str, Any]:
    d = session_detail(store, session, wide)
    changes = light_changes(d.pop("cues"))
    return {**d, "s": session, "plain": metrics.PLAIN, "changes": changes[:MAX_CHANGES_SHOWN],
            "changes_total": len(changes), "clip": has_clip(store, session["id"])}


@bp.route("/")
@login_required
def index() -> Any:
    store = get_store()
    runner_id = request.args.get("runner", type=int)
    page = max(request.args.get("page", 1, type=int), 1)
    runner = get_runner_or_404(store, runner_id) if runner_id is not None else None
    rows = list_rows(store, runner_id, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    return render_template("sessions/index.html", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE, page=page,
                           runner=runner, runners=store.runners(), storage=store.get_meta("storage"))


@bp.route("/<int:session_id>")
@login_required
def detail(session_id: int) -> Any:
    store = get_store()
    session = get_session_or_404(store, session_id)
    return render_template("sessions/detail.html", **page_context(store, session))


@bp.route("/<int:session_id>/report")
@login_required
def report(session_id: int) -> Any:
    """One A4 page for a physio: verdict, the two pictures, the figures, the notes (print it from the browser)."""
    store = get_store()
    session = get_session_or_404(store, session_id)
    return render_template("sessions/report.html", **page_context(store, session, wide=True))


@bp.route("/<int:session_id>/clip.mp4")
@login_required
def clip(session_id: int) -> Any:
    """The session's clip (H.264), with range requests so a phone can seek in it. The path comes from the id."""
    store = get_store()
    get_session_or_404(store, session_id)
    path = store.clip_path(session_id)
    if path is None or not path.is_file():
        abort(404, description=f"Session {session_id} has no clip.")
    return send_file(path, mimetype="video/mp4", conditional=True, max_age=3600)


@bp.route("/<int:session_id>/notes", methods=["POST"])
@login_required
def notes(session_id: int) -> Any:
    store = get_store()
    get_session_or_404(store, session_id)
    try:
        store.set_notes(session_id, request.form.get("notes", "").replace("\r\n", "\n"))
    except InputError as exc:
        flash(str(exc).capitalize() + ".", "error")
    else:
        flash("Notes saved.", "ok")
    return redirect(url_for("sessions.detail", session_id=session_id) + "#notes")


@bp.route("/<int:session_id>/delete", methods=["POST"])
@login_required
def delete(session_id: int) -> Any:
    store = get_store()
    session = get_session_or_404(store, session_id)
    if session["status"] == "running":
        flash("Stop the session before deleting it.", "error")
        return redirect(url_for("sessions.detail", session_id=session_id))
    store.delete_session(session_id)
    flash(f"Session {session_id} deleted.", "ok")
    return redirect(url_for("sessions.index"))
