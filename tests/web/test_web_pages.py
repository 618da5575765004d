"""The pages issue 11 added or reshaped: the session page (verdict, trend, start against end, the light's changes),
the one-page report, the clip, before/after, the runner list and removal, /login, the live page's one light and
the last session's summary."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient

from station.live.clip import Mp4Encoder
from station.store import Store
from tests.web.conftest import AuthActions, add_session, add_synthetic_session
from web import metrics


@pytest.fixture()
def logged_in(auth: AuthActions) -> AuthActions:
    assert auth.login().status_code == 302
    return auth


def test_login_is_the_login_page(client: FlaskClient) -> None:
    r = client.get("/login?next=/sessions/")
    assert r.status_code == 302 and r.location == "/auth/login?next=/sessions/"
    assert "Admin password" in client.get("/login", follow_redirects=True).get_data(as_text=True)


def test_session_page_reads_top_down(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    sid = add_session(store, "Ana", 300.0, 4.5, 2.7, rise_deg=2.6)
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    # actions and exports first, then the verdict in words, then the pictures
    order = [html.index(k) for k in ('id="report-link"', 'id="downloads"', 'id="verdict"', 'id="drop-chart"',
                                     'id="thirds-chart"', 'id="changes"')]
    assert order == sorted(order)
    verdict = re.search(r'<section class="panel verdict" id="verdict">(.*?)</section>', html, re.S).group(1)
    # the left rises 2.6° over the run, so 1.7° from the first third to the last (their middles are 2/3 apart)
    assert re.search(r"Left drops 3\.\d° more than right \(5\.\d° against 2\.\d°\); it rose 1\.\d° from the first "
                     r"to the last third\.", verdict), verdict
    # no jargon, no "-0.0°", no "— → — (—)"
    for word in ("FPPA", "excursion", "× hip width", "-0.0", "−0.0°", "— → —"):
        assert word not in html, word
    # arm swing beside the drop
    key = re.search(r'<dl class="key" id="key-figures">(.*?)</dl>', html, re.S).group(1)
    assert "hip drop" in key and "hand past midline" in key and "−0.50" in key


def test_the_trend_reads_at_30_seconds_and_at_30_minutes(client: FlaskClient, logged_in: AuthActions,
                                                         store: Store) -> None:
    short = add_session(store, "Ana", 30.0, 4.0, 2.0)
    long = add_session(store, "Ana", 1800.0, 4.0, 2.0, seed=1)
    for sid, bins, dots in ((short, range(5, 8), True), (long, range(29, 32), False)):
        html = client.get(f"/sessions/{sid}").get_data(as_text=True)
        svg = re.search(r'<svg[^>]*id="drop-chart".*?</svg>', html, re.S).group(0)
        for side in ("left", "right"):
            line = re.search(rf'class="line line-{side}" points="([^"]+)"', svg).group(1)
            assert len(line.split()) in bins  # a mean per 5 s / per minute
            assert re.search(rf'<polygon class="ci ci-{side}"', svg)  # and its 95 % band
            assert bool(re.search(rf'class="dots dots-{side}"', svg)) is dots  # 5,000 dots are a smear: none
        assert ("mean per 5 s" if sid == short else "mean per 1 min") in svg


def test_a_30_minute_session_page_stays_small(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    sid = add_session(store, "Ana", 1800.0, 4.0, 2.0, seed=2)
    for i in range(4970):  # a light cue per step, as stations before the one-light policy stored them
        store.db.execute("insert into cue_events (session_id, t_s, kind, state, side, reason, created_at) values "
                         "(?, ?, 'led', ?, ?, 'x', '')", [sid, i * 0.36, "amber" if i % 2 else "green",
                                                          "left" if i % 2 else "right"])
    for i in range(50):
        store.db.execute("insert into cue_events (session_id, t_s, kind, state, reason, created_at) values "
                         "(?, ?, 'led', 'red', 'y', '')", [sid, 1790 + i * 0.1])
    store.db.conn.commit()
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert len(html) < 120_000
    changes = re.search(r'<details class="panel fold" id="changes">(.*?)</details>', html, re.S).group(1)
    assert "What the light did (4971)" in changes  # 4,970 changes and one red: the 49 repeats are gone
    assert changes.count("<li>") == 200  # the first 200 shown


def test_thirds_leave_out_time_out_of_view(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    sid = add_session(store, "Ana", 120.0, 3.0, 3.0, pause=(70.0, 100.0))
    data = client.get(f"/api/sessions/{sid}").get_json()
    f = data["fatigue"]
    assert f["running_s"] == pytest.approx(90.0, abs=1.0)  # 120 s less the 30 s out of view
    assert abs(f["first_steps"] - f["last_steps"]) <= 2
    assert f["cadence_spm"]["first"] == pytest.approx(166.0) and f["cadence_spm"]["last"] == pytest.approx(166.0)
    assert data["verdict"][0].startswith("Both sides drop about the same")


def test_report_is_one_page_of_the_session(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    sid = add_session(store, "Ana", 120.0, 5.0, 3.0)
    store.set_notes(sid, "Left knee sore.\nNew shoes.")
    r = client.get(f"/sessions/{sid}/report")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'href="/static/report.css"' in html and "data-print" in html
    for piece in ('id="verdict"', 'id="drop-chart"', 'id="thirds-chart"', 'id="summary"', "Left knee sore."):
        assert piece in html, piece
    assert re.search(r"amber from\s+4\.0°, red from 6\.0°", html)
    assert client.get("/sessions/999/report").status_code == 404


def test_clip_is_served_with_ranges_and_its_path_comes_from_the_id(client: FlaskClient, logged_in: AuthActions,
                                                                   store: Store) -> None:
    sid = add_session(store, "Ana", 30.0, 3.0, 3.0)
    assert client.get(f"/sessions/{sid}/clip.mp4").status_code == 404
    assert "<video" not in client.get(f"/sessions/{sid}").get_data(as_text=True)
    encoder = Mp4Encoder()
    for i in range(30):
        encoder.add(i / 30, np.full((96, 72, 3), 8 * i, np.uint8))
    path = store.clip_path(sid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encoder.close())
    r = client.get(f"/sessions/{sid}/clip.mp4")
    assert r.status_code == 200 and r.mimetype == "video/mp4" and r.data == path.read_bytes()
    part = client.get(f"/sessions/{sid}/clip.mp4", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.data) == 100
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert f'<video class="clip" id="clip" src="/sessions/{sid}/clip.mp4"' in html
    client.get("/auth/logout")
    logged_in.logout()
    assert client.get(f"/sessions/{sid}/clip.mp4").status_code == 302


def test_before_and_after(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    first = add_session(store, "Ana", 300.0, 6.0, 3.0, seed=3)
    add_session(store, "Ana", 300.0, 5.0, 3.0, seed=4)
    last = add_session(store, "Ana", 300.0, 4.0, 3.0, seed=5)
    other = add_session(store, "Bea", 60.0, 3.0, 3.0)
    ana = store.runner_id("Ana", create=False)
    # reachable from the runner page; by default the runner's first session against the latest
    assert f'href="/runners/{ana}/compare"' in client.get(f"/runners/{ana}").get_data(as_text=True)
    html = client.get(f"/runners/{ana}/compare").get_data(as_text=True)
    assert re.search(rf'name="a".*?<option value="{first}" selected', html, re.S)
    assert re.search(rf'name="b".*?<option value="{last}" selected', html, re.S)
    drop = re.search(r'<table class="metrics" id="compare-drop">(.*?)</table>', html, re.S).group(1)
    left, right = re.findall(r"<tr>.*?</tr>", drop.split("<tbody>")[1], re.S)
    assert "real" in left and "−2.0°" in left  # 6° → 4°: a real change
    assert "within noise" in right
    assert "Left hip drops 2.0° less" in html
    assert "Cadence" in html and "Hand past midline" in html
    # labels with date and time; the choice is by id, among this runner's sessions only
    assert re.search(r"<option value=\"\d+\"[^>]*>\d\d \w\w\w \d\d:\d\d · ", html)
    assert client.get(f"/runners/{ana}/compare?a={other}").status_code == 404
    assert client.get(f"/runners/{ana}/compare?a={last}&b={first}").status_code == 200  # order does not matter
    cmp = metrics.compare(store.summary(first), store.summary(last))
    assert cmp["left"]["change"]["real"] and not cmp["right"]["change"]["real"]
    assert cmp["left"]["change"]["value"] == pytest.approx(store.summary(last).left["drop_excursion_deg"]
                                                           - store.summary(first).left["drop_excursion_deg"])


def test_compare_without_sessions_and_with_one(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    rid = store.runner_id("Nobody")
    r = client.get(f"/runners/{rid}/compare")
    assert r.status_code == 302 and "has no sessions to compare" in client.get(r.location).get_data(as_text=True)
    sid = add_session(store, "Solo", 60.0, 3.0, 3.0)
    solo = store.runner_id("Solo", create=False)
    html = client.get(f"/runners/{solo}/compare").get_data(as_text=True)
    assert "no clear change" in html and f'value="{sid}" selected' in html
    assert client.get("/runners/999/compare").status_code == 404


def test_runner_list_shows_the_latest_figures(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    add_session(store, "Ana", 60.0, 6.0, 3.0, seed=6)
    latest = add_session(store, "Ana", 60.0, 4.0, 2.0, seed=7)
    store.runner_id("Nobody")
    html = client.get("/runners/").get_data(as_text=True)
    card = re.search(r'<li class="card">.*?Ana.*?</li>', html, re.S).group(0)
    summary = store.summary(latest)
    for side in ("left", "right"):
        assert f"{summary.side(side)['drop_excursion_deg']:.1f}°" in card
    assert "2 sessions" in card
    assert "No sessions: open to remove the name." in html


def test_a_runner_without_sessions_can_be_removed(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    sid = add_synthetic_session(store, "Ana", 10)
    ana = store.runner_id("Ana", create=False)
    assert logged_in.post(f"/runners/{ana}/delete").status_code == 302
    assert store.runner(ana) is not None  # refused: it has a session
    assert client.post(f"/runners/{ana}/delete").status_code == 400  # CSRF
    logged_in.post(f"/sessions/{sid}/delete")
    assert "Remove this runner" in client.get(f"/runners/{ana}").get_data(as_text=True)
    r = logged_in.post(f"/runners/{ana}/delete")
    assert r.status_code == 302 and r.location == "/runners/"
    assert store.runner(ana) is None
    assert logged_in.post("/runners/999/delete").status_code == 404


def test_live_shows_the_last_session_once_it_ends(client: FlaskClient, store: Store) -> None:
    sid = add_session(store, "Ana", 120.0, 5.0, 3.0)
    data = client.get("/api/live").get_json()
    last = data["last_session"]
    summary = store.summary(sid)
    assert last["id"] == sid and last["runner"] == "Ana"
    assert last["drop"]["left"]["mean"] == pytest.approx(summary.left["drop_excursion_deg"])
    assert last["verdict"][0].startswith("Left drops")
    html = client.get("/live").get_data(as_text=True)
    assert "Last session:" in html and last["verdict"][0] in html.replace("&#39;", "'")


def _heartbeat(store: Store, **status: Any) -> None:
    store.set_status({"state": "session", "fps": 30.0, **status})


def test_live_badge_boxes_and_thresholds_come_from_one_heartbeat(client: FlaskClient, store: Store) -> None:
    sid = add_synthetic_session(store, "Ana", 30, end=False)
    _heartbeat(store, session_id=sid, cue="red", cue_side="left", hysteresis_deg=0.5,
               left={"drop_deg": 6.4, "level": "red", "steps_in_window": 8, "amber_deg": 4.0, "red_deg": 6.0},
               right={"drop_deg": 2.1, "level": "green", "steps_in_window": 8, "amber_deg": 4.0, "red_deg": 6.0},
               framing={"ok": True, "messages": [], "box": [0.4, 0.1, 0.6, 0.95], "tilt_deg": -1.2,
                        "distance_m": 3.1})
    s = client.get("/api/live").get_json()["session"]
    assert s["cue"]["state"] == "red" and s["cue"]["side"] == "left"
    assert s["cue"]["words"] == "Red: the left side's drop is 6.4° (red from 6.0°); it stays red until it is back to " \
                                "5.5°."
    html = client.get("/live").get_data(as_text=True)
    assert 'class="side level-red judged" id="side-left"' in html and 'class="side level-green" id="side-right"' in html
    assert "amber 4.0° · red 6.0°" in html
    assert ">0.5°</span> back below its line" in html
    # the set-up assistant: the level and the distance in words and figures
    assert 'transform="rotate(1.2 60 22)"' in html and "Level: hip line −1.2°" in html
    assert ">3.1 m</span>" in html
