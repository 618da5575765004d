"""``gait-station demo``: a simulated runner through the whole station, as a newcomer runs it first."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from station.cli.live import start_web
from station.store import Store


def test_demo_runs_the_whole_station(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    env = {**os.environ, "GAIT_STATION_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    out = subprocess.run([sys.executable, "-m", "station.cli", "demo", "--duration-s", "40", "--speed", "20",
                          "--no-web", "--db", str(db)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "session 1 started (auto) for Demo runner" in text
    # the cue states as they change, with their reasons: wait, then green, amber, red on the tiring left side
    # one light (issue 11): each line is a change of the light, naming the side it rests on (the first green may
    # rest on either side); the amber and red rest on the tiring left side
    states = re.findall(r"led\s+(\w+)\s", text)
    left = re.findall(r"led\s+(\w+)\s+left", text)
    assert states[0] == "wait" and "green" in states and left[-1] in ("amber", "red")  # tiring: it ends amber or red
    assert not re.search(r"led\s+(amber|red)\s+right", text)
    assert "no_runner" in text and "runner back in view" in text  # the short step out of the frame
    assert re.search(r"session 1: \d+ steps, cadence 16\d\.\d spm", text)
    assert "station:" in out.stderr and "peak RSS" in out.stderr
    with Store(db) as store:
        [s] = store.sessions()
        assert s["status"] == "completed" and s["runner"] == "Demo runner" and s["steps"] > 60
        assert store.cues(s["id"]) and len(store.pose_track(s["id"])) > 600
        assert (tmp_path / "run" / "preview.jpg").exists()
    # the measured drop matches what the simulated runner put in, step for step
    m = re.search(r"left put in ([\d.]+)°, measured ([\d.]+)° \((\d+) steps\); right put in ([\d.]+)°, "
                  r"measured ([\d.]+)°", text)
    assert m, text
    assert float(m.group(2)) == pytest.approx(float(m.group(1)), abs=0.75)
    assert float(m.group(5)) == pytest.approx(float(m.group(4)), abs=0.75)
    assert int(m.group(3)) >= 25


def test_demo_web_page_serves_the_live_state(tmp_path: Path) -> None:
    pytest.importorskip("web")
    db = tmp_path / "demo.db"
    with Store(db) as store:
        store.set_status({"state": "idle", "fps": 30.0, "source": "simulated runner"})
    proc, url = start_web(db, 18080)
    if proc is None:
        pytest.fail("the web page did not start")
    try:
        assert url is not None and url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url.replace("/live", "/api/live"), timeout=10) as resp:
            state = json.load(resp)
        assert state["station"]["online"] is True and state["station"]["source"] == "simulated runner"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
