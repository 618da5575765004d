"""``gait-station serve`` as an outsider on the Wi-Fi meets it: a real waitress process on loopback.

Oversized bodies, many slow connections, concurrent password guesses and a race for the
first-run setup form (issue 14, findings 1, 2 and 5). Functional checks only: the figures
(bytes buffered, latency, guesses per minute) come from ``scripts/bench_kiosk.py``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.store import Store
from tests.conftest import ROOT, load_module
from tests.web.conftest import PASSWORD
from web.auth import PASSWORD_KEY

HOST = "127.0.0.1"
_TOKEN_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _bench() -> Any:
    """scripts/bench_kiosk.py, whose ``server()`` starts ``gait-station serve`` for the figures and for these tests."""
    return load_module(ROOT / "scripts" / "bench_kiosk.py")


@contextlib.contextmanager
def serving(db: Path, tmp_path: Path) -> Iterator[int]:
    """``gait-station serve`` on a free loopback port; yields the port."""
    with _bench().server(db) as port:
        yield port


class Browser:
    """One client with its own cookie jar (enough for Flask's one session cookie)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                timeout_s: float = 30.0) -> tuple[int, str]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout_s)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        text = r.read().decode(errors="replace")
        cookie = r.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        conn.close()
        return r.status, text

    def token(self, path: str) -> str:
        status, text = self.request("GET", path)
        match = _TOKEN_RE.search(text)
        assert match, (path, status)
        return match.group(1)


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "gait.db"
    Store(path).close()
    return path


def test_an_oversized_body_is_refused_before_it_is_read(db: Path, tmp_path: Path) -> None:
    """Finding 1: 200 MB announced on a public route; the answer (413) comes before any of the body."""
    with serving(db, tmp_path) as port, socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(b"POST /live/start HTTP/1.1\r\nHost: station\r\nContent-Type: application/x-www-form-urlencoded"
                  b"\r\nContent-Length: 200000000\r\n\r\n")
        head = s.recv(4096)  # no body sent: a server that waits for it times out here
        assert head.split(b"\r\n", 1)[0].split()[1] == b"413", head[:200]
    with Store(db) as store:
        assert store.pending_commands() == []


def test_api_live_answers_while_200_slow_connections_are_open(db: Path, tmp_path: Path) -> None:
    """Finding 2: connections that send their headers slowly do not lock the phones out."""
    with serving(db, tmp_path) as port:
        slow = []
        try:
            for _ in range(200):
                s = socket.create_connection((HOST, port), timeout=10)
                s.sendall(b"GET /api/live HTTP/1.1\r\nHost: station\r\nX-Slow: ")  # ... and never the rest
                slow.append(s)
            time.sleep(0.5)
            status, text = Browser(port).request("GET", "/api/live", timeout_s=10.0)
            assert status == 200 and '"station"' in text
        finally:
            for s in slow:
                s.close()


def _concurrently(n: int, fn, *args) -> list:
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda i: fn(i, *args), range(n)))


def test_the_login_limit_holds_under_64_concurrent_guesses(db: Path, tmp_path: Path, password_hash: str) -> None:
    """Finding 5: at most 5 wrong passwords are checked per minute per address, however they arrive."""
    with Store(db) as store:
        store.set_meta(PASSWORD_KEY, password_hash)
    with serving(db, tmp_path) as port:
        browsers = [Browser(port) for _ in range(64)]
        tokens = [b.token("/auth/login") for b in browsers]

        def guess(i: int) -> int:
            return browsers[i].request("POST", "/auth/login", {"password": f"guess {i}", "csrf_token": tokens[i]})[0]

        codes = _concurrently(64, guess)
        assert set(codes) <= {401, 429}
        assert codes.count(401) <= 5, codes
        # the right password is refused too until the minute is over (the limit is per address)
        b = browsers[0]
        assert b.request("POST", "/auth/login", {"password": PASSWORD, "csrf_token": tokens[0]})[0] == 429


def test_first_run_setup_is_won_by_exactly_one_request(db: Path, tmp_path: Path) -> None:
    """Finding 5: 20 setup forms sent at once; one password wins and only its sender is told so."""
    with serving(db, tmp_path) as port:
        browsers = [Browser(port) for _ in range(20)]
        tokens = [b.token("/auth/setup") for b in browsers]

        def claim(i: int) -> int:
            pw = f"password number {i}"
            return browsers[i].request("POST", "/auth/setup",
                                       {"password": pw, "confirm": pw, "csrf_token": tokens[i]})[0]

        codes = _concurrently(20, claim)
        winners = [i for i, c in enumerate(codes) if c == 302]
        assert len(winners) == 1, codes
        assert set(codes) - {302} <= {403, 429}
    from werkzeug.security import check_password_hash

    with Store(db) as store:
        assert check_password_hash(store.get_meta(PASSWORD_KEY), f"password number {winners[0]}")
