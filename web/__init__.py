"""The gait station's web dashboard: a Flask app for a phone beside the treadmill.

``create_app()`` is the factory (flaskr style): one blueprint per feature
(auth, live, sessions, runners, export + JSON API, settings), a
:class:`station.store.Store` per request (:mod:`web.db`), Flask-WTF CSRF on
every state-changing request, Flask-Limiter on the login form, and security
headers (a CSP without inline scripts or styles) on every response.

The web reads the database the station writes and asks the station for
things only through ``Store.request`` (the ``commands`` table). It imports
``station.store``, ``station.config`` and ``station.keypoints`` (the pose track
columns), never the live station.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, redirect, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from station.config import default_db_path
from station.errors import StationError, StoreError
from station.store import Store
from web.extensions import csrf, limiter
from web.metrics import finite

log = logging.getLogger(__name__)

#: the largest request body accepted (forms and JSON are small); waitress refuses larger ones unread
MAX_BODY_BYTES = 64 * 1024

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class IdConverter(IntegerConverter):
    """``<int:...>`` within SQLite's INTEGER range: a larger id is no row (404), not an OverflowError (500)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


class JSONProvider(DefaultJSONProvider):
    """Strict JSON: a NaN or infinity (a metric that could not be measured) is written as null."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return super().dumps(finite(obj), **kwargs)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app. ``test_config`` overrides the configuration (``DATABASE``, ``SECRET_KEY``, ...).

    Raises :class:`station.errors.StoreError` when the database cannot be opened.
    """
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.from_mapping(
        DATABASE=str(default_db_path()),
        CONFIG_PATH=None,  # the station's TOML settings file (None: $GAIT_STATION_CONFIG or /etc/gait-station/...)
        SECRET_KEY=None,
        LOGIN_RATE_LIMIT="5 per minute",
        STATUS_STALE_S=5.0,  # a station heartbeat older than this: "station offline"
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(days=14),
        WTF_CSRF_TIME_LIMIT=None,  # a live page left open for hours must still be able to stop the session
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_HEADERS_ENABLED=False,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    if test_config:
        app.config.from_mapping(test_config)

    # migrate once here (a bad path fails now, with one line), then a plain connection per request
    Store(app.config["DATABASE"]).close()
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(app.config["DATABASE"])

    csrf.init_app(app)
    limiter.init_app(app)

    from web import auth, db, export, live, runners, sessions, settings

    db.init_app(app)
    app.url_map.converters["int"] = IdConverter
    for bp in (auth.bp, live.bp, sessions.bp, runners.bp, export.bp, export.api, settings.bp):
        app.register_blueprint(bp)
    app.add_url_rule("/", endpoint="index", view_func=live.index)
    app.add_url_rule("/login", endpoint="login", view_func=_to_login)  # where people type it

    from web import stations  # a hub's live page: every station (the hub, station/hub)

    app.register_blueprint(stations.bp)

    from web import filters

    filters.init_app(app)
    _register_errors(app)

    @app.after_request
    def security_headers(response: Any) -> Any:
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Content-Security-Policy", CSP)
        if request.path.startswith("/api/") or request.endpoint == "live.preview":
            h.setdefault("Cache-Control", "no-store")
        return response

    return app


def _to_login() -> Any:
    """``/login`` is the login page (``/auth/login``), its ``next`` kept."""
    return redirect(url_for("auth.login", **request.args))


def _secret_key(db_path: str) -> str:
    """The session signing key: generated once, kept beside the database in a 0600 file."""
    if db_path == ":memory:":
        return secrets.token_hex(32)
    path = Path(db_path).with_name("web-secret-key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret_key(path)
    except OSError as exc:
        raise StoreError(f"cannot create the web secret key {path}: {exc.strerror}") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    log.info("generated the web secret key in %s", path)
    return key


def _read_secret_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read the web secret key {path}: {exc}") from None
    if len(key) < 32:
        raise StoreError(f"the web secret key {path} is damaged: delete it and restart (logs everyone out)")
    return key


def wants_json() -> bool:
    """API paths and fetch() calls get JSON errors, pages get an HTML page."""
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _register_errors(app: Flask) -> None:
    def respond(code: int, name: str, message: str) -> Any:
        if wants_json():
            return jsonify({"error": message, "status": code}), code
        return render_template("error.html", code=code, name=name, message=message), code

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return respond(400, "Form expired", "The form was stale or not from this site (CSRF check failed). "
                                            "Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        if code == 429:
            return respond(429, "Too many attempts", "Too many failed logins from this device: wait a minute.")
        return respond(code, exc.name, exc.description or exc.name)

    @app.errorhandler(StationError)
    def station_error(exc: StationError) -> Any:
        log.warning("request failed: %s", exc)
        return respond(400 if not isinstance(exc, StoreError) else 503, "Cannot do that", str(exc))

    @app.errorhandler(sqlite3.DatabaseError)
    def database_error(exc: sqlite3.DatabaseError) -> Any:
        log.error("database error on %s: %s", request.path, exc)
        if isinstance(exc, sqlite3.OperationalError):
            return respond(503, "Database busy", f"The database could not answer ({exc}); try again.")
        return respond(503, "Database damaged", "The station's database is damaged: check it with "
                                                "'gait-station db info' and restore a backup.")

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):  # pragma: no cover - handled above
            return exc
        log.exception("internal error on %s", request.path)
        return respond(500, "Internal error", "Something went wrong on the station; the log has the details.")
