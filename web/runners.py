"""Runners: everyone's sessions and trend across sessions; rename, merge."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from station.errors import InputError
from web import charts, queries
from web.auth import login_required
from web.db import effective_settings, get_store
from web.sessions import get_runner_or_404, list_rows

bp = Blueprint("runners", __name__, url_prefix="/runners")


@bp.route("/")
@login_required
def index() -> Any:
    return render_template("runners/index.html", runners=get_store().runners())


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
