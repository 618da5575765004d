"""Sessions: the list (filterable by runner) and one session's page (chart, summary, fatigue, cues, notes)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from station.errors import InputError
from station.gait.steps import Step
from station.gait.summary import METRICS
from station.store import Store
from web import charts, metrics
from web.auth import login_required
from web.db import effective_settings, get_store

bp = Blueprint("sessions", __name__, url_prefix="/sessions")

PAGE_SIZE = 50
MAX_CUES_SHOWN = 500


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


def session_detail(store: Store, session: dict[str, Any]) -> dict[str, Any]:
    """Everything the session page and /api/sessions/<id> show: the stored steps and summary, the fatigue
    change, the cues, the thresholds the session ran with."""
    steps = store.steps(session["id"])
    settings = effective_settings()
    amber, red = metrics.thresholds(session.get("settings"), settings.cues.amber_deg, settings.cues.red_deg)
    return {
        "steps": steps,
        "summary": store.summary(session),
        "fatigue": metrics.fatigue([Step.from_dict(r) for r in steps]),
        "cues": store.cues(session["id"]),
        "amber_deg": amber,
        "red_deg": red,
    }


@bp.route("/")
@login_required
def index() -> Any:
    store = get_store()
    runner_id = request.args.get("runner", type=int)
    page = max(request.args.get("page", 1, type=int), 1)
    runner = get_runner_or_404(store, runner_id) if runner_id is not None else None
    rows = list_rows(store, runner_id, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    return render_template("sessions/index.html", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE, page=page,
                           runner=runner, runners=store.runners())


@bp.route("/<int:session_id>")
@login_required
def detail(session_id: int) -> Any:
    store = get_store()
    session = get_session_or_404(store, session_id)
    d = session_detail(store, session)
    window = effective_settings().cues.window_steps
    chart = charts.drop_chart(d["steps"], d["amber_deg"], d["red_deg"], window_steps=window)
    cues = d["cues"]
    return render_template("sessions/detail.html", s=session, chart=chart, metrics=METRICS,
                           cues=cues[-MAX_CUES_SHOWN:], cues_total=len(cues), **{k: v for k, v in d.items()
                                                                                  if k != "cues"})


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
