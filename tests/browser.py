"""Helpers of the browser tests: Debian's Chromium driven by Playwright on a phone-sized page, a served app,
screenshots in ``test-artifacts/``. The ``browser`` and ``page`` fixtures are in ``tests/conftest.py``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, PHONE, ROOT, require_chromium

__all__ = ["ARTIFACTS", "PASSWORD", "PHONE", "fits_phone", "free_port", "gait_station", "log_in", "require_chromium",
           "screenshot", "serving", "station_env", "stop_process"]

PASSWORD = "correct horse battery"


def gait_station() -> list[str]:
    exe = Path(sys.executable).parent / "gait-station"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from station.cli import main; sys.exit(main())"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def station_env(tmp: Path, db: Path) -> dict[str, str]:
    """The environment of a station and its web app on ``db``: no settings file, the preview under ``tmp``."""
    (tmp / "config.toml").write_text("", encoding="utf-8")
    return {**os.environ, "GAIT_STATION_DB": str(db), "GAIT_STATION_RUNTIME_DIR": str(tmp / "run"),
            "GAIT_STATION_CONFIG": str(tmp / "config.toml")}


@contextlib.contextmanager
def serving(db: Path, env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``gait-station serve`` on 127.0.0.1 (waitress, its own process) for the ``with`` block; its base URL."""
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*gait_station(), "serve", "--db", str(db), "--host", "127.0.0.1", "--port",
                                 str(port)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"gait-station serve exited ({proc.returncode}): {log_path.read_text()[-2000:]}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                if time.monotonic() > deadline:
                    pytest.fail("gait-station serve did not listen within 30 s")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_process(proc)


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    """The phone's screen as the user sees it (or the whole page) to test-artifacts/NAME."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def fits_phone(page: Any) -> None:
    """Nothing wider than the phone: no sideways scrolling."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page is {overflow}px wider than the {PHONE['viewport']['width']}px phone"


def log_in(page: Any, base: str, then: str) -> None:
    page.goto(base + then)
    assert "/auth/login" in page.url  # behind the login
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    assert "/auth/login" not in page.url, "login failed"


