"""The admin password, login sessions and the ``login_required`` guard.

One admin password for the station, hashed with werkzeug (scrypt) in the
store's ``meta`` table. It is set with ``gait-station serve --set-password`` or,
on first run, through ``/auth/setup``, which works only while no password
exists and is won by exactly one request (an atomic insert).

A login is a random token in the signed session cookie whose hash is kept on the
server (the store's ``web_logins``): logout deletes it, a new password deletes
them all, so a copied cookie stops working at once. Failed logins are limited
per client address (``LOGIN_RATE_LIMIT``, default 5 per minute) by
:class:`FailureLimit`, which counts a guess *before* its password is checked,
so concurrent requests cannot slip past the limit.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import secrets
import threading
import time
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


class FailureLimit:
    """At most ``limit`` failed attempts per key (client address) in any ``window_s``, under concurrency.

    An attempt takes a slot *before* the password is checked (:meth:`begin`) and gives it back only
    if it succeeded (:meth:`end`), so 64 guesses sent at once get at most ``limit`` checks.
    Flask-Limiter cannot do this: it counts after the response (``deduct_when``), and every request
    already in flight has passed its test by then.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._lock = threading.Lock()
        self._failures: dict[str, collections.deque[float]] = {}
        self._in_flight: collections.Counter[str] = collections.Counter()

    def begin(self, key: str) -> bool:
        """Take a slot for an attempt by ``key``; False when its failures and attempts in flight use them all."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.setdefault(key, collections.deque())
            while failures and failures[0] <= now - self.window_s:
                failures.popleft()
            if len(failures) + self._in_flight[key] >= self.limit:
                return False
            self._in_flight[key] += 1
            return True

    def end(self, key: str, *, failed: bool) -> None:
        """The attempt is over: a failure keeps its slot for ``window_s``, a success frees it."""
        with self._lock:
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]
            if failed:
                self._failures.setdefault(key, collections.deque()).append(time.monotonic())
            elif not self._failures.get(key):
                self._failures.pop(key, None)


def failure_limit() -> FailureLimit:
    """The app's login limit, built once from ``LOGIN_RATE_LIMIT`` ("5 per minute")."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "login_failures" not in app.extensions:
        from limits import parse

        item = parse(str(app.config["LOGIN_RATE_LIMIT"]))
        app.extensions["login_failures"] = FailureLimit(item.amount, float(item.get_expiry()))
    return app.extensions["login_failures"]


def set_password(store: Store, password: str) -> None:
    """Hash and store the admin password (replacing any old one: every login session ends)."""
    validate_password(password)
    store.set_meta(PASSWORD_KEY, generate_password_hash(password))
    store.end_logins()


def has_password(store: Store) -> bool:
    return bool(store.get_meta(PASSWORD_KEY))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _begin_login(store: Store) -> None:
    """A new login session: a fresh cookie (no fixation) holding a token the server knows."""
    token = secrets.token_urlsafe(32)
    store.add_login(_token_hash(token), request.remote_addr)
    session.clear()
    session.permanent = True
    session["login"] = token
    g.logged_in = True


def is_logged_in() -> bool:
    if "logged_in" not in g:
        token = session.get("login")
        max_age_s = current_app.permanent_session_lifetime.total_seconds()
        g.logged_in = bool(isinstance(token, str) and token
                           and get_store().login_valid(_token_hash(token), max_age_s))
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


def may_control() -> bool:
    """Start and stop: the admin, or anyone when ``web.kiosk_start_stop`` is on (a gym kiosk)."""
    return is_logged_in() or effective_settings().web.kiosk_start_stop


def control_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Start and stop a session: see :func:`may_control`."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not may_control():
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
def login() -> Any:
    store = get_store()
    if not has_password(store):
        return redirect(url_for("auth.setup"))
    if request.method == "POST":
        limit, address = failure_limit(), request.remote_addr or "?"
        if not limit.begin(address):
            abort(429)
        ok = False
        try:
            pw_hash = store.get_meta(PASSWORD_KEY)
            ok = bool(pw_hash and check_password_hash(pw_hash, request.form.get("password", "")))
        finally:
            limit.end(address, failed=not ok)
        if ok:
            _begin_login(store)
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
        if not store.set_meta_once(PASSWORD_KEY, generate_password_hash(password)):
            abort(403, description="The admin password has just been set from another device. Log in.")
        _begin_login(store)
        flash("Password set. You are logged in.", "ok")
        return redirect(url_for("sessions.index"))
    return render_template("auth/setup.html")


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    token = session.get("login")
    if isinstance(token, str) and token:
        get_store().end_login(_token_hash(token))
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
        _begin_login(store)
        flash("Password changed. Other phones are logged out.", "ok")
        return redirect(url_for("settings.index"))
    return render_template("auth/password.html")


@bp.app_context_processor
def inject_auth() -> dict[str, Any]:
    return {"logged_in": is_logged_in}
