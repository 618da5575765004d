from pathlib import Path

import pytest

from station.config import Settings, load_settings
from station.errors import InputError


def test_defaults_match_design():
    s = Settings()
    assert (s.pins.green, s.pins.amber, s.pins.red, s.pins.buzzer, s.pins.button) == (17, 27, 22, 18, 23)
    assert s.cues.window_steps == 8 and s.cues.min_steps == 7
    assert s.cues.baseline_amber_delta_deg == 2.8


def test_toml_and_overrides(tmp_path: Path):
    p = tmp_path / "c.toml"
    p.write_text('[cues]\namber_deg = 3.5\nred_deg = 5\n[camera]\nview = "anterior"\n')
    s = load_settings(p, overrides={"cues": {"red_deg": 7.0}, "pins": {"red": 5}})
    assert s.cues.amber_deg == 3.5 and s.cues.red_deg == 7.0 and isinstance(s.cues.red_deg, float)
    assert s.camera.view == "anterior" and s.pins.red == 5


@pytest.mark.parametrize(
    "text, message",
    [
        ("[cues]\nred_deg = 1.0\n", "greater than cues.amber_deg"),
        ("[cues]\nbogus = 1\n", "unknown setting cues.bogus"),
        ('[camera]\nview = "sideways"\n', "must be one of"),
        ('[pins]\ngreen = 27\n', "different"),
        ("[camera]\ndistance_m = 0.1\n", "camera.distance_m must be between"),
        ('[cues]\nwindow_steps = "8"\n', "whole number"),
        ("[cues\n", "config"),
    ],
)
def test_bad_config(tmp_path: Path, text: str, message: str):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        load_settings(p)


def test_missing_named_file(tmp_path: Path):
    with pytest.raises(InputError, match="no such file"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize("text", ["[cues]\nred_deg = inf\n", "[cues]\namber_deg = nan\n", "[session]\nabsent_s = inf\n",
                                  "[camera]\nfps = -inf\n"])
def test_infinity_and_nan_are_refused(tmp_path: Path, text: str):
    """Issue 14 finding 6: TOML has inf and nan; no setting takes them."""
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(InputError, match="finite number"):
        load_settings(p)


def test_a_default_runner_the_store_would_refuse_is_refused_here(tmp_path: Path):
    """Issue 14 finding 6: one rule for a runner's name, in the config as in the store and the web."""
    from station.config import MAX_RUNNER_NAME_CHARS

    assert Settings().merged({"session": {"default_runner": "x" * MAX_RUNNER_NAME_CHARS}})
    with pytest.raises(InputError, match="session.default_runner"):
        Settings().merged({"session": {"default_runner": "x" * (MAX_RUNNER_NAME_CHARS + 1)}})
