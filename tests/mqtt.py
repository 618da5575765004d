"""A real Mosquitto broker for the tests, on a free loopback port, with a password per user and the ACL.

Debian's ``mosquitto`` (``.ci/run`` installs it). The config is the project's own
(``gait-station hub broker-conf``: no anonymous access, a password file made with
``mosquitto_passwd``, the ACL of ``gait-station hub acl``), on a free port of 127.0.0.1,
with persistence in the test's directory. Without the broker the tests skip (fail under CI=true).
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

from station.hub.protocol import HUB_USER, acl_text, broker_conf
from tests.conftest import skip_or_fail


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)
    if found is None or shutil.which("mosquitto_passwd") is None:
        skip_or_fail("mosquitto not found (apt-get install mosquitto mosquitto-clients)")
    return str(found)


def make_certificates(folder: Path) -> tuple[Path, Path]:
    """A throw-away CA and a broker certificate for 127.0.0.1 signed by it (openssl, as the README does it)."""
    if shutil.which("openssl") is None:
        skip_or_fail("openssl not found (apt-get install openssl)")

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """One broker process; ``kill()`` (SIGKILL) and ``start()`` again on the same port and files."""

    def __init__(self, tmp: Path, stations: list[str], *, port: int | None = None, tls: bool = False) -> None:
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
        self.tls_port = free_port() if tls else None
        cert = make_certificates(self.dir) if tls else None
        # the project's own broker settings (what install.sh --role hub writes), on a free loopback port
        lines = [
            broker_conf(passwd=str(passwd), acl=str(self.dir / "acl"), port=self.port, bind="127.0.0.1",
                        tls_port=self.tls_port, certfile=cert and str(cert[0]), keyfile=cert and str(cert[1])),
            "persistence true",
            f"persistence_location {self.dir}/",
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

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}"

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

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
