"""Sessions list and page, runners, escaping of user text, notes, 404s."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from station.store import Store
from tests.web.conftest import XSS_NAME, AuthActions, add_synthetic_session
from web import metrics
from web.filters import num


@pytest.fixture()
def logged_in(auth: AuthActions) -> AuthActions:
    assert auth.login().status_code == 302
    return auth


def test_list_shows_sessions_newest_first_with_side_means(client: FlaskClient, logged_in: AuthActions,
                                                          store: Store) -> None:
    a = add_synthetic_session(store, "Ana", 40)
    b = add_synthetic_session(store, "Bea", 20)
    html = client.get("/sessions/").get_data(as_text=True)
    assert html.index(f"/sessions/{b}") < html.index(f"/sessions/{a}")
    assert "Ana" in html and "Bea" in html
    rows = client.get("/api/sessions").get_json()["sessions"]
    assert [r["id"] for r in rows] == [b, a]
    steps = store.steps(a)
    left = [s["drop_excursion_deg"] for s in steps if s["side"] == "left" and s["drop_excursion_deg"] is not None]
    row_a = rows[1]
    assert row_a["left"]["drop_excursion_deg"] == pytest.approx(sum(left) / len(left))
    assert row_a["left"]["steps"] == 20 and row_a["right"]["steps"] == 20
    assert row_a["cadence_spm"] == pytest.approx(170.0)
    assert f"{sum(left) / len(left):.1f}°" in html


def test_list_filters_by_runner(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    add_synthetic_session(store, "Ana", 10)
    b = add_synthetic_session(store, "Bea", 10)
    bea = store.runner_id("Bea", create=False)
    html = client.get(f"/sessions/?runner={bea}").get_data(as_text=True)
    assert f"/sessions/{b}" in html
    assert html.count('class="card"') == 1
    rows = client.get(f"/api/sessions?runner={bea}").get_json()["sessions"]
    assert [r["runner"] for r in rows] == ["Bea"]
    assert client.get("/sessions/?runner=999").status_code == 404
    assert client.get("/api/sessions?runner=999").status_code == 404


def test_session_page_has_chart_summary_fatigue_cues(client: FlaskClient, logged_in: AuthActions,
                                                     store: Store) -> None:
    sid = add_synthetic_session(store, "Ana", 90, drop_rise_deg=3.0)
    r = client.get(f"/sessions/{sid}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    svg = re.search(r'<svg[^>]*id="drop-chart".*?</svg>', html, re.S).group(0)
    steps = store.steps(sid)
    measured = {side: sum(1 for s in steps if s["side"] == side and s["drop_excursion_deg"] is not None)
                for side in ("left", "right")}
    for side in ("left", "right"):  # every measured step is a dot, per side
        n = int(re.search(rf'class="dots dots-{side}" data-points="(\d+)"', svg).group(1))
        assert n == measured[side]
        d = re.search(rf'class="dots dots-{side}"[^>]* d="([^"]+)"', svg).group(1)
        assert d.count("h0") == measured[side]
    assert 'class="band"' in svg and "amber: 4°" in svg
    # the fatigue table shows the rise built into the data (last third minus first third, per side)
    f = metrics.fatigue(store.step_objects(sid))
    assert f["left"]["drop_excursion_deg"]["change"] > 1.5
    assert num(f["left"]["drop_excursion_deg"]["change"], 1, "°", signed=True) in html
    # metrics the station could not measure are never 0: (issue 11) the table leaves their rows out and says so in
    # words (they used to be rows of dashes, "Knee FPPA" a row of "—")
    summary_table = re.search(r'<table class="metrics" id="summary">.*?</table>', html, re.S).group(0)
    assert "Knee" not in summary_table and "Hip drop" in summary_table
    assert re.search(r"Not measured in this session: [^.]*knee caving in", html)
    # the light's changes, with their reasons, in a folded list
    assert "left drop median 4.1° ≥ amber 4.0°" in html
    assert re.search(r'<details class="panel fold" id="changes">.*badge badge-amber">amber<', html, re.S)


def test_session_summary_matches_real_data(client: FlaskClient, logged_in: AuthActions,
                                           real_session: dict[str, Any]) -> None:
    """The page's per-side means, computed from the stored steps, equal the force-plate truth's summary."""
    truth = real_session["truth"]["summary"]
    data = client.get(f"/api/sessions/{real_session['id']}").get_json()
    for side in ("left", "right"):
        assert data["summary"][side]["steps"] == truth[side]["steps"]
        assert data["summary"][side]["drop_excursion_deg"] == pytest.approx(truth[side]["drop_excursion_deg"],
                                                                             abs=1e-3)
        assert data["summary"][side]["drop_peak_deg"] == pytest.approx(truth[side]["drop_peak_deg"], abs=1e-3)
    assert data["summary"]["cadence_spm"] == pytest.approx(truth["cadence_spm"], abs=0.5)
    html = client.get(f"/sessions/{real_session['id']}").get_data(as_text=True)
    assert f"{truth['left']['drop_excursion_deg']:.1f}°" in html


def test_user_text_is_escaped_everywhere(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    sid = add_synthetic_session(store, XSS_NAME, 10)
    rid = store.runner_id(XSS_NAME, create=False)
    r = logged_in.post(f"/sessions/{sid}/notes", {"notes": "<img src=x onerror=alert(1)>"})
    assert r.status_code == 302
    for path in ("/sessions/", f"/sessions/{sid}", "/runners/", f"/runners/{rid}", "/live"):
        html = client.get(path).get_data(as_text=True)
        assert XSS_NAME not in html, path
        assert "<img src=x" not in html, path
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert client.get(f"/api/sessions/{sid}").get_json()["session"]["runner"] == XSS_NAME  # JSON keeps the text


def test_notes_are_saved(client: FlaskClient, logged_in: AuthActions, store: Store, session_id: int) -> None:
    r = logged_in.post(f"/sessions/{session_id}/notes", {"notes": "new shoes\r\nleft knee sore"})
    assert r.status_code == 302
    assert store.session(session_id)["notes"] == "new shoes\nleft knee sore"
    assert "left knee sore" in client.get(f"/sessions/{session_id}").get_data(as_text=True)
    r = logged_in.post(f"/sessions/{session_id}/notes", {"notes": "x" * 10_001})
    assert r.status_code == 302
    assert store.session(session_id)["notes"] == "new shoes\nleft knee sore"


def test_notes_need_csrf(client: FlaskClient, logged_in: AuthActions, store: Store, session_id: int) -> None:
    r = client.post(f"/sessions/{session_id}/notes", data={"notes": "forged"})
    assert r.status_code == 400
    r = client.post(f"/sessions/{session_id}/notes", data={"notes": "forged", "csrf_token": "not-a-token"})
    assert r.status_code == 400
    assert store.session(session_id)["notes"] == ""


def test_delete_session(client: FlaskClient, logged_in: AuthActions, store: Store, session_id: int) -> None:
    assert client.post(f"/sessions/{session_id}/delete").status_code == 400  # CSRF
    assert store.session(session_id) is not None
    assert logged_in.post(f"/sessions/{session_id}/delete").status_code == 302
    assert store.session(session_id) is None and store.steps(session_id) == []
    running = add_synthetic_session(store, "Ana", 5, end=False)
    logged_in.post(f"/sessions/{running}/delete")
    assert store.session(running) is not None  # a running session is not deleted


@pytest.mark.parametrize("path", ["/sessions/999", "/runners/999", "/sessions/999/steps.csv",
                                  "/sessions/999/poses.csv", "/sessions/abc", "/sessions/-1", "/sessions/1.5"])
def test_bad_ids_are_404_pages(client: FlaskClient, logged_in: AuthActions, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    assert "Traceback" not in r.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/sessions/999", "/api/sessions/999/steps", "/api/runners/999",
                                  "/api/nothing", "/api/sessions/abc"])
def test_bad_ids_are_404_json(client: FlaskClient, logged_in: AuthActions, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.is_json and r.get_json()["status"] == 404


def test_runner_page_trend_rename_merge(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    for rise in (0.0, 1.0, 2.0):
        add_synthetic_session(store, "Ana", 30, drop_rise_deg=rise)
    add_synthetic_session(store, "ana (typo)", 30)
    ana = store.runner_id("Ana", create=False)
    typo = store.runner_id("ana (typo)", create=False)
    html = client.get(f"/runners/{ana}").get_data(as_text=True)
    svg = re.search(r'<svg[^>]*id="trend-chart".*?</svg>', html, re.S).group(0)
    assert 'data-points="3"' in svg  # one point per session and side
    assert "3 sessions" in svg
    data = client.get(f"/api/runners/{ana}").get_json()
    assert len(data["sessions"]) == 3
    # rename: a taken name is refused, a free one saved
    r = logged_in.post(f"/runners/{typo}/rename", {"name": "Ana"})
    assert r.status_code == 302 and store.runner(typo)["name"] == "ana (typo)"
    assert "merge instead" in client.get(r.location).get_data(as_text=True)
    logged_in.post(f"/runners/{typo}/rename", {"name": "Ana B"})
    assert store.runner(typo)["name"] == "Ana B"
    # merge: CSRF needed, then the sessions move and the name goes
    assert client.post(f"/runners/{typo}/merge", data={"into": ana}).status_code == 400
    assert store.runner(typo) is not None
    r = logged_in.post(f"/runners/{typo}/merge", {"into": ana})
    assert r.status_code == 302 and r.location == f"/runners/{ana}"
    assert store.runner(typo) is None
    assert len(store.sessions(runner_id=ana)) == 4
    r = logged_in.post(f"/runners/{ana}/merge", {"into": ana})
    assert "cannot merge a runner into itself" in client.get(r.location).get_data(as_text=True).lower()


def test_the_session_page_says_not_enough_steps_yet_while_the_interval_is_wide(
        client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    """Issue 10: each side's drop carries its 95 % interval; wider than amber-red (2 deg), the page says so."""
    sid = store.start_session(runner="Ana", settings={"cues": {"amber_deg": 4.0, "red_deg": 6.0}}, trigger="web")
    for i in range(20):
        ci = 1.6 if i % 2 == 0 else 0.4  # left: +-1.6 deg (3.2 wide > 2), right: +-0.4 deg
        store.add_step(sid, {"side": "left" if i % 2 == 0 else "right", "t_contact_s": 0.5 + 0.35 * i,
                             "t_end_s": 0.75 + 0.35 * i, "drop_excursion_deg": 3.0, "cadence_spm": 171.4,
                             "drop_excursion_mean_ci95_deg": ci})
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    figures = re.search(r'<dl class="key" id="key-figures">.*?</dl>', html, re.S).group(0)
    left, right = figures.split('class="side-right"', 1)
    assert "not enough steps yet" in left and "± 1.6°" in left
    assert "not enough steps yet" not in right.split("hand past")[0]
    assert client.get(f"/api/sessions/{sid}").get_json()["summary"]["left"]["drop_excursion_ci95_deg"] == 1.6
