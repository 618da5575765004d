"""Settings page: validated through station.config, only differences saved, invalid input saves nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from station.config import Settings
from station.store import Store
from tests.web.conftest import AuthActions
from web import create_app
from web.settings import form_fields


@pytest.fixture()
def logged_in(auth: AuthActions) -> AuthActions:
    assert auth.login().status_code == 302
    return auth


def current_form(client: FlaskClient) -> dict[str, Any]:
    """The settings form as a browser would submit it unchanged."""
    html = client.get("/settings/").get_data(as_text=True)
    data: dict[str, Any] = {}
    for _, _, fields in form_fields():
        for f in fields:
            if f.kind == "bool":
                if re.search(rf'name="{f.name}" value="1" checked', html):
                    data[f.name] = "1"
            elif f.kind == "choice":
                sel = re.search(rf'<select name="{f.name}">(.*?)</select>', html, re.S).group(1)
                data[f.name] = re.search(r'<option value="([^"]*)" selected', sel).group(1)
            else:
                data[f.name] = re.search(rf'name="{f.name}" value="([^"]*)"', html).group(1)
    return data


def test_form_shows_every_setting(client: FlaskClient, logged_in: AuthActions) -> None:
    html = client.get("/settings/").get_data(as_text=True)
    for name in ("cues__amber_deg", "cues__red_deg", "cues__mode", "cues__metronome", "camera__view",
                 "camera__camera_roll_deg", "camera__distance_m", "pins__green", "pins__buzzer",
                 "web__live_page_public"):
        assert f'name="{name}"' in html, name


def test_unchanged_form_saves_no_overrides(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    r = logged_in.post("/settings/", current_form(client))
    assert r.status_code == 302
    assert store.settings_overrides() == {}


def test_changes_are_saved_as_validated_overrides(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    form = current_form(client)
    form.update({"cues__amber_deg": "3,5", "cues__red_deg": "5.5", "camera__view": "anterior",
                 "camera__camera_roll_deg": "0", "camera__distance_m": "2", "pins__buzzer": "12"})
    form.pop("cues__beep_on_red")  # unticked checkbox
    r = logged_in.post("/settings/", form)
    assert r.status_code == 302
    saved = store.settings_overrides()
    assert saved == {"cues": {"amber_deg": 3.5, "red_deg": 5.5, "beep_on_red": False},
                     "camera": {"view": "anterior", "camera_roll_deg": 0.0, "distance_m": 2.0}, "pins": {"buzzer": 12}}
    s = Settings().merged(saved)
    assert s.cues.amber_deg == 3.5 and s.camera.view == "anterior" and s.pins.buzzer == 12
    html = client.get("/settings/").get_data(as_text=True)
    assert 'name="cues__amber_deg" value="3.5"' in html and "(changed here)" in html
    # the live page uses the new thresholds
    assert client.get("/api/live").get_json()["amber_deg"] == 3.5


# issue 11: the error names the setting as the page does (it used to be the config's "config: cues.red_deg ...")
@pytest.mark.parametrize(("field", "value", "message"), [
    ("cues__red_deg", "3", "“Red from (°)” must be greater than “Amber from (°)”."),
    ("cues__amber_deg", "abc", "“Amber from (°)” must be a number (you typed 'abc')."),
    ("pins__red", "17", "Each GPIO pin can do one thing: the pins must all be different."),
    ("pins__green", "40", "“Green LED (GPIO)” must be a BCM GPIO number between 2 and 27."),
    ("cues__mode", "loud", "“Judge the hip drop against” must be one of absolute, baseline (you typed 'loud')."),
    ("camera__camera_roll_deg", "90", "“Camera tilt (°)” must be within ±45."),
    ("camera__distance_m", "0", "“Distance from the lens to the runner's hips (m)” must be between 0.5 and 50 "
                                "(metres)."),
    ("cues__window_steps", "2.5", "“Steps per side the light judges (steps)” must be a whole number (you typed "
                                  "'2.5')."),
    # issue 14 finding 6: nothing saved here may stop the station
    ("cues__red_deg", "inf", "“Red from (°)” must be a finite number (you typed inf)."),
    ("session__absent_s", "nan", "“Runner away this long ends it (s)” must be a finite number (you typed nan)."),
    ("session__default_runner", "x" * 81, "“Name when none is given” must have at most 80 characters."),
])
def test_invalid_input_shows_one_line_and_saves_nothing(client: FlaskClient, logged_in: AuthActions, store: Store,
                                                        field: str, value: str, message: str) -> None:
    store.set_settings_overrides({"cues": {"amber_deg": 4.5}})
    form = current_form(client)
    form["cues__beep_s"] = "0.1"  # a valid change in the same form is not saved either
    form[field] = value
    r = logged_in.post("/settings/", form)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    line = re.search(r'<p class="error-line"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert line == message.replace("'", "&#39;")
    assert store.settings_overrides() == {"cues": {"amber_deg": 4.5}}
    assert f'name="{field}" value="{value}"' in html or field in ("cues__mode",)  # what was typed is kept


def test_settings_need_csrf_and_login(client: FlaskClient, auth: AuthActions, store: Store) -> None:
    assert client.post("/settings/", data={"cues__amber_deg": "1"}).status_code == 400  # CSRF first
    assert auth.post("/settings/", {"cues__amber_deg": "1"}).status_code == 302  # then login
    assert store.settings_overrides() == {}
    auth.login()
    assert client.post("/settings/", data={"cues__amber_deg": "1"}).status_code == 400
    assert store.settings_overrides() == {}


def test_reset_and_other_overrides_kept(client: FlaskClient, logged_in: AuthActions, store: Store) -> None:
    store.set_settings_overrides({"model": {"num_threads": 4}, "cues": {"amber_deg": 4.5}})
    form = current_form(client)
    assert form["cues__amber_deg"] == "4.5"
    form["cues__amber_deg"] = "4.0"  # back to the default: no longer an override
    logged_in.post("/settings/", form)
    assert store.settings_overrides() == {"model": {"num_threads": 4}}  # keys not on the form stay
    logged_in.post("/settings/reset")
    assert store.settings_overrides() == {}


def test_config_file_is_the_base(tmp_path: Path, password_hash: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[cues]\namber_deg = 3.0\nred_deg = 5.0\n")
    db = tmp_path / "c.db"
    app = create_app({"DATABASE": str(db), "CONFIG_PATH": str(cfg)})
    with Store(db) as s:
        s.set_meta("admin_password_hash", password_hash)
    client = app.test_client()
    auth = AuthActions(client)
    auth.login()
    form = current_form(client)
    assert form["cues__amber_deg"] == "3.0"
    auth.post("/settings/", form)
    with Store(db) as s:
        assert s.settings_overrides() == {}  # same as the file: nothing to override
