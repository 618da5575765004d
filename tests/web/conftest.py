"""Fixtures for the web app's tests, flaskr style: ``app``, ``client``, ``runner``, ``auth``, and data.

CSRF protection stays ON in every test (as in production): the helpers read the
token from the page like a browser does and send it with each POST.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from station.gait.summary import summarize
from station.keypoints import read_track_csv
from station.store import Store
from tests.conftest import require_shared
from web import create_app
from web.auth import PASSWORD_KEY

PASSWORD = "correct horse battery"
XSS_NAME = '<script>alert("x")</script>'

_TOKEN_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Hashed once per run: scrypt is slow on purpose."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(PASSWORD)


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gait.db"


@pytest.fixture()
def app(db_path: Path, password_hash: str) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE": str(db_path)})
    with Store(db_path) as store:
        store.set_meta(PASSWORD_KEY, password_hash)
    yield app


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture()
def store(db_path: Path, app: Flask) -> Iterator[Store]:
    """A second connection to the app's database: what the station would write.

    Without fsync (``synchronous=OFF``): durability is the store's tests' business; here it only slows setup.
    """
    with Store(db_path) as s:
        s.db.execute("PRAGMA synchronous = OFF")
        yield s


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = _TOKEN_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def token(self) -> str:
        return csrf_token(self._client)

    def login(self, password: str = PASSWORD) -> Any:
        return self._client.post("/auth/login", data={"password": password, "csrf_token": self.token()})

    def logout(self) -> Any:
        return self._client.post("/auth/logout", data={"csrf_token": self.token()})

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """A form POST with the page's CSRF token."""
        return self._client.post(path, data={**(data or {}), "csrf_token": self.token()}, **kwargs)

    def post_json(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """A fetch()-style JSON POST with the token in the X-CSRFToken header."""
        return self._client.post(path, json=payload or {}, headers={"X-CSRFToken": self.token(),
                                                                   "Accept": "application/json"})


@pytest.fixture()
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


def add_synthetic_session(store: Store, runner: str = "Ana", n_steps: int = 60, *, end: bool = True,
                          drop_rise_deg: float = 0.0) -> int:
    """A session of alternating steps at 170 steps/min; every 10th step has no drop (keypoints not seen)."""
    sid = store.start_session(runner=runner, source="test", model="sim", fps=60.0,
                              settings={"cues": {"amber_deg": 4.0, "red_deg": 6.0}}, trigger="web")
    period_s = 60.0 / 170.0
    for i in range(n_steps):
        t = 0.5 + i * period_s
        frac = i / max(n_steps - 1, 1)
        store.add_step(sid, {
            "side": "left" if i % 2 == 0 else "right",
            "t_contact_s": t,
            "t_end_s": t + 0.22,
            "drop_excursion_deg": None if i % 10 == 9 else 2.0 + (0.5 if i % 2 else 0.0) + drop_rise_deg * frac,
            "drop_peak_deg": None,
            "cadence_spm": 170.0,
            "trunk_lean_deg": 1.25 + 0.01 * i,
            "knee_fppa_deg": None,
            "step_width_norm": 0.125,
            "quality": 0.9,
        })
    store.add_cue(sid, {"t_s": 3.0, "kind": "led", "state": "wait", "reason": "measuring: 3 of 7 steps"})
    store.add_cue(sid, {"t_s": 9.5, "kind": "led", "state": "amber", "side": "left", "value": 4.1,
                        "reason": "left drop median 4.1° ≥ amber 4.0°"})
    if end:
        store.end_session(sid, summary={}, duration_s=0.5 + n_steps * period_s)
    return sid


def add_session(store: Store, runner: str, duration_s: float, left_deg: float, right_deg: float, *,
                rise_deg: float = 0.0, pause: tuple[float, float] | None = None, seed: int = 0) -> int:
    """A finished session of alternating steps at 166 steps/min with noisy drops (SD 1°), as the station stores
    it (summary at the end); ``pause``: (from, to) s with the runner out of view."""
    rng = np.random.default_rng(seed)
    sid = store.start_session(runner=runner, source="test", model="sim", fps=30.0, trigger="web",
                              settings={"cues": {"amber_deg": 4.0, "red_deg": 6.0, "hysteresis_deg": 0.5}})
    period, t, i = 60.0 / 166.0, 0.4, 0
    rows = []
    while t < duration_s:
        if pause and pause[0] <= t < pause[1]:
            t = pause[1]
            continue
        side = "left" if i % 2 == 0 else "right"
        rise = rise_deg * t / duration_s if side == "left" else 0.0  # the left side tires
        drop = (left_deg if side == "left" else right_deg) + rise + rng.normal(0, 1.0)
        rows.append({"side": side, "t_contact_s": t, "t_end_s": t + 0.22, "drop_excursion_deg": drop,
                     "cadence_spm": 166.0, "trunk_lean_deg": 1.0, "step_width_norm": 0.2, "arm_cross_norm": -0.5,
                     "arm_swing_norm": 0.3})
        t += period
        i += 1
    cols = ("side", "t_contact_s", "t_end_s", "drop_excursion_deg", "cadence_spm", "trunk_lean_deg",
            "step_width_norm", "arm_cross_norm", "arm_swing_norm")
    with store.db.conn:  # one transaction: 5,000 steps in a moment
        for idx, r in enumerate(rows):
            store.db.execute(f"insert into steps (session_id, idx, {', '.join(cols)}, score_min, frames, flags, extra) "
                             f"values (?, ?, {', '.join('?' * len(cols))}, 0.8, 8, '[]', '{{}}')",
                             [sid, idx, *(r[k] for k in cols)])
        store.db.execute("update sessions set steps = ? where id = ?", [len(rows), sid])
    store.end_session(sid, summary=summarize(store.step_objects(sid)), duration_s=t)
    return sid


@pytest.fixture()
def session_id(store: Store) -> int:
    return add_synthetic_session(store)


@pytest.fixture()
def real_session(store: Store) -> dict[str, Any]:
    """A session made of real data: the force-plate steps of Fukuchi 2017 subject 1 and the pose track
    a camera behind the treadmill would see (with noise), stored as the station stores them."""
    truth = json.loads(require_shared("mocap", "fukuchi2017", "s01.truth.json").read_text())
    track = read_track_csv(require_shared("mocap", "fukuchi2017", "s01_30fps_noisy.track.csv"))
    sid = store.start_session(runner="S01 (Fukuchi 2017)", source="s01_30fps_noisy.track.csv", model="mocap",
                              fps=30.0, settings={"cues": {"amber_deg": 4.0, "red_deg": 6.0}}, trigger="file")
    for st in truth["steps"]:
        store.add_step(sid, {"side": st["side"], "t_contact_s": st["t_contact_s"], "t_end_s": st["t_toe_off_s"],
                             "drop_excursion_deg": st["drop_excursion_deg"], "drop_peak_deg": st["drop_peak_deg"],
                             "t_peak_s": st["t_peak_s"]})
    for i in range(0, len(track), 64):  # the station writes the pose track in chunks
        store.add_poses(sid, track.t_s[i:i + 64], track.xy[i:i + 64], track.score[i:i + 64])
    store.end_session(sid, summary={}, duration_s=float(track.t_s[-1]))
    return {"id": sid, "truth": truth, "track": track}
