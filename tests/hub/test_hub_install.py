"""The hub's deployment: its systemd unit, and install.sh's hub and station-joins-a-hub options."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.test_install import EXEC, INSTALL, UNITS, unit


def test_hub_unit_runs_the_hub_on_its_own_database_after_mosquitto() -> None:
    cp = unit("gait-hub.service")
    svc = cp["Service"]
    assert svc["User"] == "gaitstation" and svc["StateDirectory"] == "gait-station"
    assert svc["Restart"] == "on-failure" and svc["KillSignal"] == "SIGTERM"
    args = svc["ExecStart"].split()
    assert args[0] == EXEC and "hub" in args
    assert args[args.index("--db") + 1] == "/var/lib/gait-station/hub.db"
    assert args[args.index("--broker") + 1] == "mqtt://localhost:1883"
    assert args[args.index("--client-id") + 1] == "gait-hub"  # fixed: the broker keeps its session
    assert args[args.index("--password-file") + 1] == "/etc/gait-station/hub-password"
    assert "mosquitto.service" in cp["Unit"]["After"] and "mosquitto.service" in cp["Unit"]["Wants"]
    assert cp["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_hub_unit_passes_systemd_analyze_verify(tmp_path) -> None:
    text = (UNITS / "gait-hub.service").read_text()
    (tmp_path / "gait-hub.service").write_text(text.replace(EXEC, shutil.which("true") or "/bin/true"))
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "gait-hub.service")], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    complaints = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "gait-hub" in ln]
    assert proc.returncode == 0 and not complaints, proc.stdout + proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "broker"], "install: --role must be station or hub (got 'broker')"),
    (["--hub", "mqtt://hub.local"], "install: --hub needs --station-id NAME (the name the hub knows this station by)"),
    (["--role", "hub", "--hub", "mqtt://x", "--station-id", "a"], "install: --hub and --station-id are for a station"),
    (["--add-station", "a"], "install: --add-station is for the hub (--role hub)"),
    (["--role", "hub", "--add-station", "gym/1"], "install: station id 'gym/1': 1-32 letters"),
    (["--role", "hub", "--tls-cert", "c.pem"], "install: --tls-cert and --tls-key go together"),
    (["--role"], "install: --role needs a value"),
])
def test_install_refuses_bad_hub_options_before_touching_anything(args: list[str], message: str) -> None:
    proc = subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and proc.stderr.startswith(message), proc.stderr


def test_install_documents_the_hub_role() -> None:
    helptext = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=30,
                              check=True).stdout
    for word in ("--role ROLE", "--add-station NAME", "mosquitto_passwd", "--hub URL --station-id NAME", "--tls-cert",
                 "gait-station hub acl"):
        assert word in helptext
    script = INSTALL.read_text()
    assert "hub broker-conf" in script and "hub acl" in script  # the broker's settings come from the project
