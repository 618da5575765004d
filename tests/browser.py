"""Helpers of the browser tests: Debian's Chromium driven by Playwright on a phone-sized page, a served app,
screenshots in ``test-artifacts/``. The ``browser`` and ``page`` fixtures are in ``tests/conftest.py``."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ARTIFACTS, PHONE, require_chromium

__all__ = ["ARTIFACTS", "PASSWORD", "PHONE", "fits_phone", "free_port", "gait_station", "log_in", "require_chromium",
           "screenshot", "stop_process"]

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


