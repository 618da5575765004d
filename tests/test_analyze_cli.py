"""``gait-station analyze``: the report formats, and bad input as one line and a non-zero exit.

Runs through :func:`station.cli.main`, the console script's entry point (it is what
turns a StationError into one line), and once through the installed console script.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from station.cli import main
from station.keypoints import TRACK_COLUMNS
from tests.conftest import ROOT, require_shared

MOVENET = ("models", "movenet_singlepose_lightning_int8_v4.tflite")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_report_has_the_design_keys(mocap_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(["analyze", str(mocap_dir / "s01_30fps_clean.track.csv"), "--format", "json"], capsys)
    assert rc == 0
    report = json.loads(out)
    for key in ("source", "frames", "fps", "model", "steps", "summary"):
        assert key in report
    assert report["frames"] == 900 and report["fps"] == pytest.approx(30.0, abs=0.01)
    summary = report["summary"]
    assert summary["steps"] == len(report["steps"]) == 77
    assert summary["cadence_spm"] == pytest.approx(156.8, abs=1.0)
    for side in ("left", "right"):
        assert {"steps", "drop_excursion_deg", "drop_peak_deg"} <= set(summary[side])
        assert summary[side]["drop_peak_deg"] is None  # no roll declared
        # the 95 % interval of the side's mean (half-width, deg); none for the peak without a declared roll
        assert 0.0 < summary[side]["drop_excursion_ci95_deg"] < 0.75
        assert summary[side]["drop_peak_ci95_deg"] is None
    assert summary["asymmetry_real"]["drop_excursion_deg"] in (True, False)
    assert summary["asymmetry_ci95"]["drop_excursion_deg"] > 0
    step = report["steps"][10]
    assert {"side", "t_contact_s", "t_end_s", "drop_excursion_deg", "drop_peak_deg", "cadence_spm", "trunk_lean_deg",
            "knee_fppa_deg", "step_width_norm"} <= set(step)
    assert step["trunk_lean_deg"] is None  # the mocap tracks have no shoulders: null, not 0


def test_declared_roll_fills_drop_peak(mocap_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(["analyze", str(mocap_dir / "s01_60fps_roll2_noisy.track.csv"), "--format", "json",
                      "--camera-roll-deg", "2"], capsys)
    assert rc == 0
    summary = json.loads(out)["summary"]
    assert summary["left"]["drop_peak_deg"] == pytest.approx(5.285, abs=0.75)
    assert summary["right"]["drop_peak_deg"] == pytest.approx(0.164, abs=0.75)


def test_text_and_csv_formats(mocap_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    track = str(mocap_dir / "s01_30fps_noisy.track.csv")
    rc, out, _ = run(["analyze", track, "--format", "text"], capsys)
    assert rc == 0 and "cadence" in out and "pelvic drop excursion" in out and "not measured" in out
    excursion_line = next(line for line in out.splitlines() if line.startswith("pelvic drop excursion"))
    assert excursion_line.count("±") == 3  # left, right and their difference, each with its 95 % interval
    assert "Left/right difference in drop excursion:" in out
    rc, out, _ = run(["analyze", track, "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and len(rows) == 77 and rows[0]["side"] in ("left", "right")
    assert rows[0]["trunk_lean_deg"] == ""  # null is an empty cell, never 0
    assert float(rows[-1]["drop_excursion_mean_ci95_deg"]) > 0 and rows[-1]["drop_peak_mean_ci95_deg"] == ""
    dest = tmp_path / "steps.csv"
    rc, out, _ = run(["analyze", track, "--format", "csv", "-o", str(dest)], capsys)
    assert rc == 0 and out == "" and dest.read_text().count("\n") == 78


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_TRACKS = {
    "empty": "",
    "header_only": ",".join(TRACK_COLUMNS) + "\n",
    "wrong_columns": "time,x,y\n0,1,2\n",
    "non_numeric": ",".join(TRACK_COLUMNS) + "\n" + ",".join(["0.0"] + ["abc"] * (len(TRACK_COLUMNS) - 1)) + "\n",
    "short_row": ",".join(TRACK_COLUMNS) + "\n0.0,1,2\n",
    "binary": "\x00\x01\x02\xff",
}


@pytest.mark.parametrize("kind", sorted(BAD_TRACKS))
def test_bad_tracks_are_one_line_errors(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / f"{kind}.csv", BAD_TRACKS[kind])
    rc, out, err = run(["analyze", str(path), "--format", "json"], capsys)
    assert rc != 0
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("gait-station: ") and "Traceback" not in err


def test_missing_file_and_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str], mocap_dir: Path) -> None:
    rc, _, err = run(["analyze", str(tmp_path / "nope.csv")], capsys)
    assert rc != 0 and err.count("\n") == 1
    rc, _, err = run(["analyze", str(mocap_dir / "s01_30fps_clean.track.csv"), "--camera-roll-deg", "90"], capsys)
    assert rc != 0 and err.count("\n") == 1 and "roll" in err
    rc, _, err = run(["analyze", str(mocap_dir / "s01_30fps_clean.track.csv"), "--view", "sideways"], capsys)
    assert rc != 0 and "Traceback" not in err
    rc, _, err = run(["validate", str(mocap_dir / "s01_30fps_clean.track.csv"), str(mocap_dir / "s01.truth.json"),
                      "--camera-distance-m", "-2"], capsys)
    assert rc != 0 and err.count("\n") == 1 and "camera_distance_m" in err


def test_declared_distance_is_in_the_report(mocap_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(["analyze", str(mocap_dir / "s01_30fps_clean.track.csv"), "--format", "json",
                      "--camera-distance-m", "3"], capsys)
    assert rc == 0 and json.loads(out)["camera_distance_m"] == 3.0


def test_track_with_nobody_in_it_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [",".join(TRACK_COLUMNS)] + [",".join([f"{i / 30:.4f}"] + ["0"] * 51) for i in range(60)]
    path = _write(tmp_path / "nobody.csv", "\n".join(rows) + "\n")
    rc, _, err = run(["analyze", str(path)], capsys)
    assert rc != 0 and "no person" in err and err.count("\n") == 1


def test_video_with_no_person_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    model = require_shared(*MOVENET)
    video = tmp_path / "empty_room.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(45):
        writer.write(np.full((240, 320, 3), 90, np.uint8) + rng.integers(0, 8, (240, 320, 3), dtype=np.uint8))
    writer.release()
    rc, out, err = run(["analyze", str(video), "--model-path", str(model), "--format", "json"], capsys)
    assert rc != 0 and out == ""
    assert "no person" in err and err.count("\n") == 1 and "Traceback" not in err


def test_console_script_end_to_end(mocap_dir: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "gait-station"
    if not exe.exists():
        exe = ROOT / ".venv" / "bin" / "gait-station"
    ok = subprocess.run([str(exe), "analyze", str(mocap_dir / "s01_30fps_clean.track.csv"), "--format", "json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)["summary"]["steps"] == 77
    bad = _write(tmp_path / "bad.csv", "t_s,foo\n1,2\n")
    fail = subprocess.run([str(exe), "analyze", str(bad)], capture_output=True, text=True, timeout=120)
    assert fail.returncode != 0 and fail.stdout == "" and fail.stderr.count("\n") == 1


@pytest.mark.slow
def test_real_posterior_clip_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    """The only real rear-view running clip: a runner receding from a low camera (hips from frame 22 on).

    What is checked is what the clip supports: the whole pipeline runs on real frames, the runner
    is seen, and at least four steps are reported, strictly alternating, at a running cadence. The
    ankle keypoints are faint (scores 0.2-0.5) and the feet cross 0.2-0.25 s before the pelvis low
    point, so these steps are timed from the pelvis with their side from the feet and flagged
    ``contact_estimated`` (see docs/validation.md).
    """
    video = require_shared("videos", "radluy_posterior_outdoor_run_openpose_rendered_30fps.mp4")
    model = require_shared(*MOVENET)
    rc, out, _ = run(["analyze", str(video), "--model-path", str(model), "--format", "json"], capsys)
    assert rc == 0
    report = json.loads(out)
    assert report["frames"] == 103 and report["fps"] == pytest.approx(30.0, abs=0.1)
    assert report["frames_in_view"] >= 60
    steps = report["steps"]
    assert len(steps) >= 4, "the ~2.4 s in view hold about six steps"
    sides = [s["side"] for s in steps]
    assert all(a != b for a, b in zip(sides, sides[1:], strict=False)), sides
    contacts = [s["t_contact_s"] for s in steps]
    assert contacts == sorted(contacts)
    for s in steps:
        assert 0.08 <= s["t_end_s"] - s["t_contact_s"] <= 0.45
        assert s["cadence_spm"] is None or 100 <= s["cadence_spm"] <= 240
    assert 140.0 <= report["summary"]["cadence_spm"] <= 220.0
    # a single short pass: every step carries a drop with the interval of its side's mean so far, from the first
    # (its own samples, before a stride model exists) on
    with_drop = [s for s in steps if s["drop_excursion_deg"] is not None and s["drop_excursion_mean_ci95_deg"]]
    assert len(with_drop) >= 4
    for side in ("left", "right"):
        assert report["summary"][side]["drop_excursion_ci95_deg"] > 0


@pytest.mark.slow
@pytest.mark.parametrize(("clip", "why"), [
    ("sports2d_demo_walk_backflip_2people.mp4",
     "a man standing on a box facing the camera, swinging his arms before a backflip; a woman walking past"),
    ("zzzhushi_treadmill_rear_oblique_male_side.mp4", "treadmill running seen from the side and behind: "
     "the hips are 0.02-0.13 of the leg length apart, where obliquity and the feet's sides mean nothing"),
])
def test_real_clips_without_a_measurable_runner_give_no_steps(clip: str, why: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """No invented steps on real video: nothing is counted from a standing person, a walker seen side-on, or a
    runner seen from the side; the report says the runner was seen."""
    video = require_shared("videos", clip)
    model = require_shared(*MOVENET)
    rc, out, _ = run(["analyze", str(video), "--model-path", str(model), "--format", "json"], capsys)
    assert rc == 0, why
    report = json.loads(out)
    assert report["frames_in_view"] > 100, why
    assert report["steps"] == [], why
