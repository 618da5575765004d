"""Runners: everyone with their latest figures; one runner's sessions and trend; two sessions before and after;
rename, merge, remove a runner without sessions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from station.errors import InputError
from web import charts, metrics, queries
from web.auth import login_required
from web.db import effective_settings, get_store
from web.sessions import get_runner_or_404, has_clip, list_rows

bp = Blueprint("runners", __name__, url_prefix="/runners")


@bp.route("/")
@login_required
def index() -> Any:
    store = get_store()
    rows = []
    for r in store.runners():
        latest = list_rows(store, r["id"], 1, 0)
        rows.append({**r, "latest": latest[0] if latest else None})
    return render_template("runners/index.html", runners=rows)


@bp.route("/<int:runner_id>")
@login_required
def detail(runner_id: int) -> Any:
    store = get_store()
    runner = get_runner_or_404(store, runner_id)
    settings = effective_settings()
    trend_rows = queries.runner_sessions(store, runner_id)
    chart = charts.trend_chart(trend_rows, settings.cues.amber_deg, settings.cues.red_deg)
    others = [r for r in store.runners() if r["id"] != runner_id]
    return render_template("runners/detail.html", runner=runner, chart=chart,
                           rows=list_rows(store, runner_id, 500, 0), others=others)


def _pick(sessions: list[dict[str, Any]], key: str, default: int) -> int:
    """The session id in query argument ``key`` (one of ``sessions``), else ``default``."""
    sid = request.args.get(key, type=int)
    if sid is None:
        return default
    if not any(s["id"] == sid for s in sessions):
        abort(404, description=f"Session {sid} is not one of this runner's.")
    return sid


@bp.route("/<int:runner_id>/compare")
@login_required
def compare(runner_id: int) -> Any:
    """Two of the runner's sessions side by side (``a``: before, ``b``: after; default the first and the latest):
    per side the drop with its 95 % range, the difference and whether it is real, every other metric, the
    cadence, and the two clips playing side by side."""
    store = get_store()
    runner = get_runner_or_404(store, runner_id)
    sessions = store.sessions(runner_id=runner_id, limit=500)  # newest first
    if not sessions:
        flash(f"{runner['name']} has no sessions to compare.", "error")
        return redirect(url_for("runners.detail", runner_id=runner_id))
    b = _pick(sessions, "b", sessions[0]["id"])
    others = [s for s in sessions if s["id"] != b]
    a = _pick(sessions, "a", others[-1]["id"] if others else b)  # the runner's first, by default
    pair = {sid: next(s for s in sessions if s["id"] == sid) for sid in (a, b)}
    before, after = pair[a], pair[b]
    if (before["started_at"], before["id"]) > (after["started_at"], after["id"]):
        before, after = after, before  # "before" is the earlier one
    summaries = {k: store.summary(s) for k, s in (("before", before), ("after", after))}
    cmp = metrics.compare(summaries["before"], summaries["after"])
    settings = effective_settings()
    amber, red = metrics.thresholds(after.get("settings"), settings.cues.amber_deg, settings.cues.red_deg)
    rows = [(side.capitalize(), cmp[side]["before"], cmp[side]["after"]) for side in metrics.SIDES]
    chart = charts.change_chart(rows, amber, red, labels=("before", "after"), chart_id="compare-chart",
                                title="Hip drop per side: before and after")
    return render_template("runners/compare.html", runner=runner, sessions=sessions, before=before, after=after,
                           summaries=summaries, cmp=cmp, words=metrics.compare_words(cmp), chart=chart,
                           plain=metrics.PLAIN, clips={s["id"]: has_clip(store, s["id"]) for s in (before, after)})


@bp.route("/<int:runner_id>/rename", methods=["POST"])
@login_required
def rename(runner_id: int) -> Any:
    store = get_store()
    get_runner_or_404(store, runner_id)
    try:
        store.rename_runner(runner_id, request.form.get("name", ""))
    except InputError as exc:
        flash(str(exc).capitalize() + ".", "error")
    else:
        flash("Renamed.", "ok")
    return redirect(url_for("runners.detail", runner_id=runner_id))


@bp.route("/<int:runner_id>/merge", methods=["POST"])
@login_required
def merge(runner_id: int) -> Any:
    """Move this runner's sessions to ``into`` and delete this runner."""
    store = get_store()
    source = get_runner_or_404(store, runner_id)
    target_id = request.form.get("into", type=int)
    if target_id is None or store.runner(target_id) is None:
        flash("Choose the runner to merge into.", "error")
        return redirect(url_for("runners.detail", runner_id=runner_id))
    try:
        store.merge_runners(runner_id, target_id)
    except InputError as exc:
        flash(str(exc).capitalize() + ".", "error")
        return redirect(url_for("runners.detail", runner_id=runner_id))
    flash(f"Merged {source['name']} into this runner.", "ok")
    return redirect(url_for("runners.detail", runner_id=target_id))


@bp.route("/<int:runner_id>/delete", methods=["POST"])
@login_required
def delete(runner_id: int) -> Any:
    """Remove a runner who has no sessions (left behind when they were all deleted)."""
    store = get_store()
    runner = get_runner_or_404(store, runner_id)
    try:
        store.delete_runner(runner_id)
    except InputError as exc:
        flash(str(exc).capitalize() + ".", "error")
        return redirect(url_for("runners.detail", runner_id=runner_id))
    flash(f"{runner['name']} removed.", "ok")
    return redirect(url_for("runners.index"))
