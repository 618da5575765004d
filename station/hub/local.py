"""A Mosquitto of one's own on a free loopback port: for the benchmark, the tests, and trying the hub on a laptop.

Debian's ``mosquitto`` with the project's settings (:func:`~station.hub.protocol.broker_conf`):
no anonymous access, a password per station and the hub made with ``mosquitto_passwd``, the
ACL of :func:`~station.hub.protocol.acl_text`, persistence in its own folder. ``kill()`` is a
SIGKILL (what it held in memory and had not saved is gone); ``start()`` again restarts it on
the same port and files. Optionally TLS, with a throw-away CA made by ``openssl``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from station.errors import StationError
from station.hub.protocol import HUB_USER, acl_text, broker_conf


def mosquitto_binary() -> str | None:
    """The broker's path, or None when Mosquitto (and mosquitto_passwd) are not installed."""
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    return found if found and shutil.which("mosquitto_passwd") else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_certificates(folder: Path) -> tuple[Path, Path]:
    """A throw-away CA (``ca.crt``) and a broker certificate for 127.0.0.1 signed by it, as the README makes them."""
    if shutil.which("openssl") is None:
        raise StationError("openssl not found (apt-get install openssl)")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=folder)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=gait test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr", "-subj",
        "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "broker.crt", "-days", "2", "-extfile", "san.ext")
    return folder / "broker.crt", folder / "broker.key"


class LocalBroker:
    """One Mosquitto process for ``stations`` and the hub, its files in ``folder``."""

    def __init__(self, folder: Path, stations: list[str], *, port: int | None = None, tls: bool = False,
                 home_assistant: str | None = None) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise StationError("mosquitto not found (apt-get install mosquitto)")
        self.binary = binary
        self.dir = folder
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        users = (HUB_USER, *stations, *([home_assistant] if home_assistant else []))
        self.passwords = {user: secrets.token_urlsafe(12) for user in users}
        passwd = self.dir / "passwd"
        passwd.touch(mode=0o600)
        for user, password in self.passwords.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True, capture_output=True,
                           timeout=30)
            (self.dir / f"{user}.password").write_text(password + "\n")
        (self.dir / "acl").write_text(acl_text(home_assistant=home_assistant))
        (self.dir / "acl").chmod(0o600)
        self.tls_port = free_port() if tls else None
        cert = make_certificates(self.dir) if tls else None
        lines = [
            broker_conf(passwd=str(passwd), acl=str(self.dir / "acl"), port=self.port, bind="127.0.0.1",
                        tls_port=self.tls_port, certfile=cert and str(cert[0]), keyfile=cert and str(cert[1])),
            "persistence true",
            f"persistence_location {self.dir}/",
            f"log_dest file {self.dir / 'mosquitto.log'}",
            "log_type error", "log_type warning", "log_type notice", "log_type information",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # started as root it would drop to "mosquitto", which cannot read these files
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}"

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def password_file(self, user: str) -> Path:
        return self.dir / f"{user}.password"

    def start(self, timeout_s: float = 15.0) -> LocalBroker:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StationError(f"mosquitto exited ({self.proc.returncode}): {self.log()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            time.sleep(0.05)
        raise StationError(f"mosquitto did not listen on {self.port} within {timeout_s} s")

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

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def lap_track(track: Path, out: Path, laps: int) -> Path:
    """A shared pose track run ``laps`` times back to back (the benchmark's and the tests' longer runs)."""
    from station.keypoints import Pose, read_track_csv, write_track_csv

    real = read_track_csv(track)
    period_s = float(real.t_s[-1] + (real.t_s[1] - real.t_s[0]))
    write_track_csv(out, (Pose(p.t_s + lap * period_s, p.xy, p.score) for lap in range(laps) for p in real))
    return out
