"""The admin password, login sessions and the ``login_required`` guard.

One admin password for the station, hashed with werkzeug (scrypt) in the
store's ``meta`` table. It is set with ``gait-station serve --set-password`` or,
on first run, through ``/auth/setup``, which works only while no password
exists. A login session remembers a fingerprint of the current hash, so setting
a new password logs every phone out. Failed logins are rate-limited per
client address (``LOGIN_RATE_LIMIT``, default 5 per minute).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.security import check_password_hash, generate_password_hash

from station.errors import InputError
from station.store import Store
from web.db import effective_settings, get_store
from web.extensions import limiter

bp = Blueprint("auth", __name__, url_prefix="/auth")

PASSWORD_KEY = "admin_password_hash"
MIN_PASSWORD_CHARS = 8


def validate_password(password: str, confirm: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > 200:
        raise InputError("the password is longer than 200 characters")
    if confirm is not None and password != confirm:
        raise InputError("the two passwords differ")


def set_password(store: Store, password: str) -> None:
    """Hash and store the admin password (replacing any old one: every login session ends)."""
    validate_password(password)
    store.set_meta(PASSWORD_KEY, generate_password_hash(password))


def has_password(store: Store) -> bool:
    return bool(store.get_meta(PASSWORD_KEY))


def _fingerprint(pw_hash: str) -> str:
    return hashlib.sha256(pw_hash.encode()).hexdigest()[:16]


def is_logged_in() -> bool:
    if "logged_in" not in g:
        pw_hash = get_store().get_meta(PASSWORD_KEY)
        token = session.get("auth")
        g.logged_in = bool(pw_hash and token and hmac.compare_digest(token, _fingerprint(pw_hash)))
    return bool(g.logged_in)


def _deny() -> Any:
    from web import wants_json

    if wants_json():
        return jsonify({"error": "login required", "status": 401}), 401
    if not has_password(get_store()):
        return redirect(url_for("auth.setup"))
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_logged_in():
            return _deny()
        return view(*args, **kwargs)

    return wrapped


def live_access_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """The live page, its JSON, its preview and its start/stop: open when ``web.live_page_public``."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not effective_settings().web.live_page_public and not is_logged_in():
            return _deny()
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    """Only a local path (no scheme, no host, no //) is followed after login."""
    if target:
        parts = urlsplit(target)
        local = target.startswith("/") and not target.startswith("//") and "\\" not in target
        if local and not parts.scheme and not parts.netloc and not any(ord(c) < 32 for c in target):
            return target.rstrip("?") or "/"
    return url_for("sessions.index")


def _login_rate_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"], deduct_when=lambda response: response.status_code == 401)
def login() -> Any:
    store = get_store()
    if not has_password(store):
        return redirect(url_for("auth.setup"))
    if request.method == "POST":
        pw_hash = store.get_meta(PASSWORD_KEY)
        password = request.form.get("password", "")
        if pw_hash and check_password_hash(pw_hash, password):
            session.clear()
            session.permanent = True
            session["auth"] = _fingerprint(pw_hash)
            return redirect(_safe_next(request.form.get("next")))
        current_app.logger.warning("failed login from %s", request.remote_addr)
        flash("Wrong password.", "error")
        return render_template("auth/login.html", next=request.form.get("next", "")), 401
    if is_logged_in():
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", next=request.args.get("next", ""))


@bp.route("/setup", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def setup() -> Any:
    """First run: choose the admin password. Refused (403) as soon as one exists."""
    store = get_store()
    if has_password(store):
        abort(403, description="The admin password is already set. Log in, or reset it on the station with "
                               "'gait-station serve --set-password'.")
    if request.method == "POST":
        password = request.form.get("password", "")
        try:
            validate_password(password, request.form.get("confirm", ""))
        except InputError as exc:
            flash(str(exc).capitalize() + ".", "error")
            return render_template("auth/setup.html"), 400
        set_password(store, password)
        session.clear()
        session.permanent = True
        session["auth"] = _fingerprint(store.get_meta(PASSWORD_KEY))
        flash("Password set. You are logged in.", "ok")
        return redirect(url_for("sessions.index"))
    return render_template("auth/setup.html")


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    store = get_store()
    if request.method == "POST":
        pw_hash = store.get_meta(PASSWORD_KEY)
        if not check_password_hash(pw_hash, request.form.get("current", "")):
            flash("The current password is wrong.", "error")
            return render_template("auth/password.html"), 400
        try:
            validate_password(request.form.get("password", ""), request.form.get("confirm", ""))
        except InputError as exc:
            flash(str(exc).capitalize() + ".", "error")
            return render_template("auth/password.html"), 400
        set_password(store, request.form["password"])
        session["auth"] = _fingerprint(store.get_meta(PASSWORD_KEY))
        flash("Password changed. Other phones are logged out.", "ok")
        return redirect(url_for("settings.index"))
    return render_template("auth/password.html")


@bp.app_context_processor
def inject_auth() -> dict[str, Any]:
    return {"logged_in": is_logged_in}
