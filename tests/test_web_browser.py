"""The web app in a real browser: headless Chromium (Debian's package) driven by Playwright, phone-sized.

The app runs as it does on the station: ``gait-station serve`` (waitress) in its own
process on 127.0.0.1, against a temporary database seeded through :class:`Store`.
A real station process (``gait-station run`` on a pose track) writes its heartbeat
and obeys the page's start/stop requests through the ``commands`` table.

Screenshots go to ``test-artifacts/`` (git-ignored) for a person to look at.
Without /usr/bin/chromium the test skips, except under CI=true where it fails.
Never run ``playwright install``: the browser is the distribution's.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.store import Store
from tests.browser import (
    ARTIFACTS,
    PASSWORD,
    PHONE,
    fits_phone,
    gait_station,
    log_in,
    require_chromium,
    screenshot,
    serving,
    station_env,
    stop_process,
)
from tests.conftest import ROOT, require_shared

pytestmark = pytest.mark.browser

RUNNER = "Zoë <b>O'Brien</b> & co"  # escaping: this must show as text, never as markup
LEFT_STEPS, RIGHT_STEPS = 21, 20


def seed(db: Path) -> int:
    """A finished session of the runner with alternating steps, a cue, notes; returns its id."""
    from web.auth import set_password

    with Store(db) as store:
        set_password(store, PASSWORD)
        sid = store.start_session(runner=RUNNER, source="track.csv", model="movenet-lightning-int8", fps=30.0,
                                  view="posterior", camera_roll_deg=0.0, trigger="web")
        t = 0.3
        for i in range(LEFT_STEPS + RIGHT_STEPS):
            side = "left" if i % 2 == 0 else "right"
            drop = (3.0 if side == "left" else 4.2) + 0.05 * i + (0.4 if i % 3 == 0 else -0.2)
            store.add_step(sid, {"side": side, "t_contact_s": t, "t_end_s": t + 0.25, "drop_excursion_deg": drop,
                                 "cadence_spm": 170.0, "trunk_lean_deg": 1.5, "knee_fppa_deg": 4.0,
                                 "step_width_norm": 0.2})
            t += 60.0 / 170.0
        store.add_cue(sid, {"t_s": 9.0, "kind": "led", "state": "amber", "side": "right", "value": 4.9,
                            "reason": "right drop 4.9° over the last 8 steps ≥ amber 4.0°"})
        store.set_notes(sid, "New shoes. <script>alert(1)</script>")
        store.end_session(sid, duration_s=t)
    return sid


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_chromium()
    tmp = tmp_path_factory.mktemp("web")
    db = tmp / "gait.db"
    sid = seed(db)
    env = station_env(tmp, db)
    with serving(db, env, tmp / "serve.log") as base:
        yield {"base": base, "db": db, "session_id": sid, "env": env, "tmp": tmp}


def test_login_open_a_session_and_see_the_chart(served: dict[str, Any], page: Any) -> None:
    base, sid = served["base"], served["session_id"]
    log_in(page, base, "/sessions/")
    # the list: the runner's name appears as text, its markup escaped
    card = page.locator(f"a[href$='/sessions/{sid}']").first
    card.wait_for()
    assert page.locator("#session-list b").count() == 0
    assert "<b>O'Brien</b>" in page.locator("#session-list").inner_text()
    fits_phone(page)
    screenshot(page, "browser-sessions.png")

    card.click()
    page.wait_for_url(re.compile(rf"/sessions/{sid}$"))
    chart = page.locator("svg#drop-chart")
    chart.wait_for()
    box = chart.bounding_box()
    assert box is not None and 300 <= box["width"] <= PHONE["viewport"]["width"] and box["height"] > 100
    # one mark per step and side, drawn (non-empty geometry), plus the threshold bands
    for side, n in (("left", LEFT_STEPS), ("right", RIGHT_STEPS)):
        dots = chart.locator(f"path.dots-{side}")
        assert dots.count() == 1
        assert len(re.findall(r"M[\d.]+ [\d.]+h0", dots.get_attribute("d") or "")) == n
        bbox = dots.evaluate("el => { const b = el.getBBox(); return [b.width, b.height]; }")
        assert bbox[0] > 200, f"{side} steps are not spread over the chart: {bbox}"
        assert chart.locator(f"polyline.line-{side}").count() == 1  # the rolling median
    assert chart.locator("rect.band").count() == 2
    # escaping on the session page too: the notes' script is text
    assert page.locator("h1").inner_text() == RUNNER
    assert "<script>alert(1)</script>" in page.locator("textarea[name=notes]").input_value()
    # the light's changes are folded (issue 11): open them to read them
    assert not page.locator("#cues").is_visible()
    page.click("#changes summary")
    assert page.locator("#cues").inner_text().count("amber") >= 1
    fits_phone(page)
    assert page.js_errors == []
    screenshot(page, "browser-session.png")
    screenshot(page, "browser-session-full.png", full_page=True)
    chart.screenshot(path=str(ARTIFACTS / "browser-session-chart.png"))


@pytest.fixture
def station(served: dict[str, Any]) -> Iterator[subprocess.Popen]:
    """The real live station replaying a real treadmill pose track in real time into the served database."""
    from station.keypoints import Pose, read_track_csv, write_track_csv

    real = read_track_csv(require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv"))
    # three laps of the 30 s track, so a slow machine still finds the station running at the end of the test
    period_s = float(real.t_s[-1] + (real.t_s[1] - real.t_s[0]))
    track = served["tmp"] / "three-laps.track.csv"
    write_track_csv(track, (Pose(p.t_s + lap * period_s, p.xy, p.score) for lap in range(3) for p in real))
    log = (served["tmp"] / "station.log").open("wb")
    proc = subprocess.Popen([*gait_station(), "run", "--source", str(track), "--realtime", "--db", str(served["db"]),
                             "--runner", "Track runner"],
                            stdout=log, stderr=subprocess.STDOUT, env=served["env"], cwd=ROOT)
    try:
        yield proc
    finally:
        stop_process(proc)
        log.close()


def command_rows(db: Path) -> list[dict[str, Any]]:
    with Store(db, migrate=False) as store:
        rows = list(store.db.query("select * from commands order by id"))
    return [{**r, "payload": json.loads(r["payload"] or "{}")} for r in rows]


def test_live_page_follows_the_station_and_starts_and_stops_sessions(served: dict[str, Any], station: Any,
                                                                     page: Any) -> None:
    base, db = served["base"], served["db"]
    page.goto(base + "/live")  # open without login: web.live_page_public is on by default (the gym kiosk)
    assert "/auth/login" not in page.url
    expect = pytest.importorskip("playwright.sync_api").expect
    expect(page.locator("#station")).to_have_text(re.compile("Station online"), timeout=20_000)
    # the file source's session is running and its steps come in without a reload
    expect(page.locator("#session")).to_be_visible()
    expect(page.locator("#runner")).to_have_text("Track runner")
    expect(page.locator("#steps")).not_to_have_text(re.compile(r"^\s*[0-5]\s*$"), timeout=20_000)
    first = int(page.locator("#steps").inner_text())
    expect(page.locator("#steps")).not_to_have_text(str(first), timeout=10_000)
    # the station's preview (skeleton on a canvas for a pose track) and the framing check in words
    expect(page.locator("#preview")).to_have_attribute("src", re.compile(r"/live/preview\.jpg"), timeout=10_000)
    page.wait_for_function("() => { const i = document.getElementById('preview');"
                           " return i.complete && i.naturalWidth >= 320; }")
    expect(page.locator("#framing")).to_have_text("Framing OK")
    fits_phone(page)
    screenshot(page, "browser-live-running.png")
    screenshot(page, "browser-live-running-full.png", full_page=True)

    # read-only without login (issue 14): no start/stop for whoever is on the Wi-Fi
    assert page.locator("#stop-form").count() == 0 and page.locator("#start-form").count() == 0
    log_in(page, base, "/sessions/")
    page.goto(base + "/live")
    expect(page.locator("#station")).to_have_text(re.compile("Station online"), timeout=20_000)
    # stop from the page: a request row, which the station carries out
    page.click("#stop-form button[type=submit]")
    expect(page.locator("#command-message")).to_have_text(re.compile("Stopping"))
    expect(page.locator("#idle")).to_be_visible(timeout=10_000)
    expect(page.locator("#start-form")).to_be_visible()
    # start with a name: escaped on the page, stored as typed
    name = "Ana <i>test</i>"
    page.fill("#start-form input[name=runner]", name)
    page.click("#start-form button[type=submit]")
    expect(page.locator("#command-message")).to_have_text(re.compile("Starting"))
    expect(page.locator("#session")).to_be_visible(timeout=10_000)
    expect(page.locator("#runner")).to_have_text(name)
    assert page.locator("#runner i").count() == 0
    expect(page.locator("#steps")).not_to_have_text("0", timeout=15_000)
    screenshot(page, "browser-live-started.png")

    rows = command_rows(db)
    assert [(r["kind"], r["status"]) for r in rows] == [("stop", "done"), ("start", "done")], rows
    assert rows[1]["payload"] == {"runner": name}
    with Store(db, migrate=False) as store:
        sessions = {s["id"]: s for s in store.sessions(limit=10)}
        running = store.running_session()
    assert running is not None and running["runner"] == name and running["trigger"] == "web"
    stopped = [s for s in sessions.values() if s["runner"] == "Track runner"]
    assert len(stopped) == 1 and stopped[0]["status"] == "completed" and stopped[0]["steps"] > 5
    assert page.js_errors == []
