"""A real Mosquitto broker for the tests, on a free loopback port, with a password per user and the ACL.

Debian's ``mosquitto`` (``.ci/run`` installs it). The config is generated per test: a
listener on 127.0.0.1, no anonymous access, a password file made with ``mosquitto_passwd``,
the project's ACL (``gait-station hub acl``: :func:`station.hub.protocol.acl_text`) and
persistence in the test's directory. Without the broker the tests skip (fail under CI=true).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from station.hub.protocol import HUB_USER, acl_text
from tests.conftest import skip_or_fail


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)
    if found is None or shutil.which("mosquitto_passwd") is None:
        skip_or_fail("mosquitto not found (apt-get install mosquitto mosquitto-clients)")
    return str(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """One broker process; ``kill()`` (SIGKILL) and ``start()`` again on the same port and files."""

    def __init__(self, tmp: Path, stations: list[str], *, port: int | None = None) -> None:
        self.binary = mosquitto_binary()
        self.dir = tmp / "mosquitto"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.passwords = {HUB_USER: "hub-secret-1"} | {s: f"{s}-secret" for s in stations}
        passwd = self.dir / "passwd"
        for i, (user, password) in enumerate(self.passwords.items()):
            subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(passwd), user, password],
                           check=True, capture_output=True, timeout=30)
            (self.dir / f"{user}.password").write_text(password + "\n")
        passwd.chmod(0o600)
        (self.dir / "acl").write_text(acl_text())
        (self.dir / "acl").chmod(0o600)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {self.dir / 'acl'}",
            "persistence true",
            f"persistence_location {self.dir}/",
            "max_queued_messages 10000",
            "max_inflight_messages 100",
            f"log_dest file {self.dir / 'mosquitto.log'}",
            "log_type error", "log_type warning", "log_type notice", "log_type information",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # mosquitto started as root drops to "mosquitto", which cannot read tmp
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def password_file(self, user: str) -> Path:
        return self.dir / f"{user}.password"

    def start(self, timeout_s: float = 15.0) -> Mosquitto:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited ({self.proc.returncode}): {self.log()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL: what the broker held in memory and had not saved is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        path = self.dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
