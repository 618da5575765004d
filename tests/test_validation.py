"""Matching steps to truth, the error table, and the ``validate`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station.cli import main
from station.errors import InputError, MissingFileError
from station.gait.steps import Step
from station.validation import Truth, TruthStep, format_table, load_truth, validate_steps


def _truth(n: int = 20, period: float = 0.38) -> Truth:
    steps = tuple(
        TruthStep("left" if i % 2 == 0 else "right", 1.0 + i * period, 1.0 + i * period + 0.28, 2.0, 1.0)
        for i in range(n)
    )
    return Truth(steps=steps, cadence_spm=60.0 / period)


def _step(side: str, t: float, exc: float | None = 2.0, cadence: float | None = 60 / 0.38) -> Step:
    return Step(side=side, t_contact_s=t, t_end_s=t + 0.27, drop_excursion_deg=exc, cadence_spm=cadence)  # type: ignore[arg-type]


def test_perfect_detection_scores_perfectly() -> None:
    truth = _truth()
    det = [_step(s.side, s.t_contact_s + 0.01) for s in truth.steps]
    r = validate_steps(det, truth)
    assert (r.matched, r.recall, r.precision, r.side_accuracy) == (20, 1.0, 1.0, 1.0)
    assert r.contact_error_median_s == pytest.approx(0.01)
    assert r.drop_excursion_error_deg == {"left": pytest.approx(0.0), "right": pytest.approx(0.0)}
    assert r.cadence_error_spm == pytest.approx(0.0, abs=1e-9)
    assert r.passed and "PASS" in format_table(r)


def test_misses_extras_wrong_sides_and_biases_are_counted() -> None:
    truth = _truth()
    det = [_step(s.side, s.t_contact_s) for s in truth.steps[:-2]]  # two missed
    det.append(_step("left", 50.0))  # one invented, far from any truth step
    det[3] = _step("left" if det[3].side == "right" else "right", det[3].t_contact_s)  # one wrong side
    det[4] = _step(det[4].side, det[4].t_contact_s, exc=3.5)
    r = validate_steps(det, truth)
    assert r.matched == 18
    assert r.recall == pytest.approx(18 / 20)
    assert r.precision == pytest.approx(18 / 19)
    assert r.side_accuracy == pytest.approx(17 / 18)
    assert not r.checks["recall"] and not r.checks["side_accuracy"]
    assert not r.passed and "FAIL" in format_table(r)


def test_truth_outside_the_track_span_is_not_counted_and_tolerance_holds() -> None:
    truth = _truth()
    det = [_step(s.side, s.t_contact_s + 0.2) for s in truth.steps]  # beyond the 0.12 s match tolerance
    assert validate_steps(det, truth).matched == 0
    span = (truth.steps[5].t_contact_s - 0.01, truth.steps[9].t_toe_off_s + 0.01)
    r = validate_steps([_step(s.side, s.t_contact_s) for s in truth.steps[5:10]], truth, span)
    assert (r.truth_steps, r.recall) == (5, 1.0)


def test_load_truth_rejects_bad_files(tmp_path: Path, mocap_dir: Path) -> None:
    good = load_truth(mocap_dir / "s01.truth.json")
    assert len(good.steps) == 77 and good.cadence_spm == pytest.approx(156.83)
    with pytest.raises(MissingFileError):
        load_truth(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError):
        load_truth(bad)
    bad.write_text(json.dumps({"steps": [{"side": "left"}]}))
    with pytest.raises(InputError):
        load_truth(bad)


def test_validate_command_prints_the_error_table(mocap_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    track, truth = mocap_dir / "s01_60fps_roll2_noisy.track.csv", mocap_dir / "s01.truth.json"
    assert main(["validate", str(track), str(truth), "--camera-roll-deg", "2"]) == 0
    out = capsys.readouterr().out
    for word in ("recall", "precision", "side accuracy", "contact error", "drop_excursion left", "drop_peak right",
                 "cadence", "verdict"):
        assert word in out
    assert main(["validate", str(track), str(truth), "--format", "json", "--strict"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["matched"] == 77 and d["passed"] is True and d["drop_peak_error_deg"] == {"left": None, "right": None}


def test_validate_strict_fails_when_limits_are_missed(tmp_path: Path, mocap_dir: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    truth = json.loads((mocap_dir / "s01.truth.json").read_text())
    for s in truth["steps"]:
        s["t_contact_s"] += 0.1  # contacts 100 ms off: the median error limit is missed
        s["t_toe_off_s"] += 0.1
    shifted = tmp_path / "shifted.truth.json"
    shifted.write_text(json.dumps(truth))
    rc = main(["validate", str(mocap_dir / "s01_30fps_clean.track.csv"), str(shifted), "--strict"])
    assert rc == 1
    assert "FAIL" in capsys.readouterr().out


def test_validate_bad_input_is_one_line(tmp_path: Path, mocap_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["validate", str(tmp_path / "missing.csv"), str(mocap_dir / "s01.truth.json")])
    err = capsys.readouterr().err
    assert rc != 0 and err.count("\n") == 1 and "Traceback" not in err
