"""Admin password, login, logout, rate limit, login required, CSRF, security headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from station.store import Store
from tests.web.conftest import PASSWORD, AuthActions, csrf_token
from web import create_app
from web.auth import PASSWORD_KEY

PROTECTED_PAGES = ["/sessions/", "/sessions/1", "/runners/", "/runners/1", "/settings/", "/auth/password",
                   "/sessions/1/steps.csv", "/sessions/1/steps.json", "/sessions/1/poses.csv"]
PROTECTED_API = ["/api/sessions", "/api/sessions/1", "/api/sessions/1/steps", "/api/runners", "/api/runners/1"]


def test_password_is_stored_hashed(store: Store) -> None:
    stored = store.get_meta(PASSWORD_KEY)
    assert PASSWORD not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:"))


@pytest.mark.parametrize("path", PROTECTED_PAGES)
def test_pages_need_login(client: FlaskClient, session_id: int, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 302
    assert r.location.startswith("/auth/login")


@pytest.mark.parametrize("path", PROTECTED_API)
def test_api_needs_login_as_json(client: FlaskClient, session_id: int, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 401
    assert r.is_json and r.get_json()["error"] == "login required"


def test_login_then_pages_open(client: FlaskClient, auth: AuthActions, session_id: int) -> None:
    r = auth.login()
    assert r.status_code == 302 and r.location == "/sessions/"
    for path in PROTECTED_PAGES:
        assert client.get(path).status_code == 200, path
    for path in PROTECTED_API:
        assert client.get(path).status_code == 200, path


def test_wrong_password(client: FlaskClient, auth: AuthActions) -> None:
    r = auth.login("not the password")
    assert r.status_code == 401
    assert "Wrong password" in r.get_data(as_text=True)
    assert client.get("/sessions/").status_code == 302


def test_login_follows_only_local_next(client: FlaskClient) -> None:
    token = csrf_token(client)
    r = client.post("/auth/login", data={"password": PASSWORD, "csrf_token": token, "next": "/runners/"})
    assert r.location == "/runners/"
    for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil.example",
                 "/\tevil"):
        client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
        r = client.post("/auth/login", data={"password": PASSWORD, "csrf_token": csrf_token(client), "next": evil})
        assert r.status_code == 302 and r.location == "/sessions/", evil


def test_login_is_rate_limited(client: FlaskClient, auth: AuthActions) -> None:
    for _ in range(5):
        assert auth.login("wrong password").status_code == 401
    r = auth.login(PASSWORD)  # even the right password is refused until the minute is over
    assert r.status_code == 429
    assert "Too many" in r.get_data(as_text=True)
    assert client.get("/sessions/").status_code == 302


def test_successful_logins_are_not_counted(auth: AuthActions) -> None:
    for _ in range(7):
        assert auth.login().status_code == 302
        assert auth.logout().status_code == 302


def test_logout_needs_post_and_csrf(client: FlaskClient, auth: AuthActions) -> None:
    auth.login()
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 400  # no token
    assert client.get("/sessions/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/sessions/").status_code == 302


def test_login_without_csrf_token_is_rejected(client: FlaskClient) -> None:
    r = client.post("/auth/login", data={"password": PASSWORD})
    assert r.status_code == 400
    assert "CSRF" in r.get_data(as_text=True)
    assert client.get("/sessions/").status_code == 302


def test_first_run_setup(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "fresh.db")})
    client = app.test_client()
    r = client.get("/sessions/")
    assert r.status_code == 302 and r.location == "/auth/setup"
    assert client.get("/auth/login").location == "/auth/setup"
    token = csrf_token(client, "/auth/setup")
    r = client.post("/auth/setup", data={"password": "short", "confirm": "short", "csrf_token": token})
    assert r.status_code == 400 and "at least 8" in r.get_data(as_text=True)
    r = client.post("/auth/setup", data={"password": "long enough 1", "confirm": "different 1", "csrf_token": token})
    assert r.status_code == 400 and "differ" in r.get_data(as_text=True)
    r = client.post("/auth/setup", data={"password": "long enough 1", "confirm": "long enough 1", "csrf_token": token})
    assert r.status_code == 302
    assert client.get("/sessions/").status_code == 200  # logged in by the setup
    # once a password exists the setup page is closed, to everyone
    other = app.test_client()
    assert other.get("/auth/setup").status_code == 403
    r = other.post("/auth/setup", data={"password": "attacker pw 1", "confirm": "attacker pw 1",
                                        "csrf_token": csrf_token(other)})
    assert r.status_code == 403
    with Store(tmp_path / "fresh.db") as s:
        from werkzeug.security import check_password_hash

        assert check_password_hash(s.get_meta(PASSWORD_KEY), "long enough 1")


def test_new_password_logs_everyone_out(app: Flask, auth: AuthActions, client: FlaskClient) -> None:
    other = app.test_client()
    AuthActions(other).login()
    auth.login()
    r = auth.post("/auth/password", {"current": PASSWORD, "password": "a new password", "confirm": "a new password"})
    assert r.status_code == 302
    assert client.get("/sessions/").status_code == 200  # the phone that changed it stays in
    assert other.get("/sessions/").status_code == 302  # every other phone is out
    assert AuthActions(other).login("a new password").status_code == 302


def test_change_password_checks_current(auth: AuthActions) -> None:
    auth.login()
    r = auth.post("/auth/password", {"current": "wrong", "password": "a new password", "confirm": "a new password"})
    assert r.status_code == 400
    assert auth.logout().status_code == 302
    assert auth.login().status_code == 302  # unchanged


def test_session_cookie_is_httponly(client: FlaskClient, auth: AuthActions) -> None:
    r = auth.login()
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers(client: FlaskClient) -> None:
    r = client.get("/auth/login")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in r.get_data(as_text=True)  # no inline script anywhere: only <script src=...>


def test_secret_key_is_generated_once_with_0600(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    a = create_app({"DATABASE": str(db)})
    b = create_app({"DATABASE": str(db)})
    key_file = tmp_path / "web-secret-key"
    assert a.secret_key == b.secret_key == key_file.read_text().strip()
    assert len(a.secret_key) >= 32
    assert key_file.stat().st_mode & 0o777 == 0o600


def _routes(app: Flask, method: str) -> list[str]:
    out = []
    for rule in app.url_map.iter_rules():
        if method in (rule.methods or set()) and rule.endpoint != "static":
            out.append(re.sub(r"<(?:int:)?\w+>", "1", rule.rule))
    return sorted(set(out))


PUBLIC_GET = {"/", "/live", "/api/live", "/live/preview.jpg", "/api/live/commands/1", "/auth/login", "/auth/setup",
              "/api/stations"}  # the hub's live page (web/stations.py) follows the live page's openness


def test_every_post_route_rejects_a_missing_csrf_token(app: Flask, client: FlaskClient, auth: AuthActions,
                                                       session_id: int) -> None:
    auth.login()
    posts = _routes(app, "POST")
    assert len(posts) >= 12  # login setup logout password notes delete rename merge settings reset start stop
    for path in posts:
        r = client.post(path, data={"notes": "x", "name": "x", "into": "1", "runner": "x"})
        assert r.status_code == 400, path
        r = client.post(path, json={"runner": "x"}, headers={"X-CSRFToken": "forged"})
        assert r.status_code == 400 and r.is_json, path
    assert client.get("/sessions/").status_code == 200  # still logged in: nothing happened


def test_everything_but_the_live_page_needs_login(app: Flask, client: FlaskClient, session_id: int) -> None:
    for path in _routes(app, "GET"):
        if path in PUBLIC_GET:
            continue
        r = client.get(path)
        assert r.status_code in (302, 401), path
        if r.status_code == 302:
            assert r.location.startswith("/auth/login"), path


def _copy_cookies(src: FlaskClient, dst: FlaskClient) -> None:
    """What a sniffer on plain-HTTP Wi-Fi gets: the session cookie, replayed from another device."""
    for cookie in src._cookies.values():
        dst.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_logout_ends_the_session_on_the_server(app: Flask, client: FlaskClient, auth: AuthActions,
                                               session_id: int) -> None:
    """Issue 14 finding 4: a cookie copied before logout no longer opens anything after it."""
    auth.login()
    thief = app.test_client()
    _copy_cookies(client, thief)
    assert thief.get("/sessions/").status_code == 200  # the copy works while the login lasts
    assert auth.logout().status_code == 302
    assert thief.get("/sessions/").status_code == 302
    assert thief.get("/api/sessions").status_code == 401


def test_a_password_change_ends_every_other_login_on_the_server(app: Flask, client: FlaskClient,
                                                                auth: AuthActions) -> None:
    auth.login()
    other = app.test_client()
    AuthActions(other).login()
    thief = app.test_client()
    _copy_cookies(client, thief)  # a copy of the changing phone's own cookie, taken before the change
    r = auth.post("/auth/password", {"current": PASSWORD, "password": "a new password", "confirm": "a new password"})
    assert r.status_code == 302
    assert client.get("/sessions/").status_code == 200
    assert other.get("/sessions/").status_code == 302 and thief.get("/sessions/").status_code == 302


def test_ids_beyond_sqlite_integers_are_404(client: FlaskClient, auth: AuthActions) -> None:
    """Issue 14 finding 8: a 25-digit id is 'not found', not a 500 with a traceback in the log."""
    huge = "9" * 25
    r = client.get(f"/api/live/commands/{huge}")  # public
    assert r.status_code == 404 and r.is_json
    auth.login()
    for path in (f"/sessions/{huge}", f"/runners/{huge}", f"/api/sessions/{huge}", f"/sessions/{huge}/steps.csv"):
        assert client.get(path).status_code == 404, path
