#!/usr/bin/env python3
"""What a perfect hip line reads through a camera: the excursion error left with no pose model at all.

For each Fukuchi runner and side, the per-side mean ``drop_excursion_deg`` of the truth (the 3D
hip-joint-centre line in the frontal plane at 150 Hz, ``../shared/tools/mocap_track.py``) against the
same hip joint centres seen by a camera behind the runner, noise-free:

* ``image``: the projected joints' obliquity read per step at the truth's own contacts (the peak over
  the stance's frames): what the picture of a perfect hip line holds. At ``--distance`` (3 m, the
  station's) and at 60 m (with the focal length scaled, so the same size in the image: nearly
  orthographic), which separates the camera's perspective from the frame sampling.
* ``analysis``: the whole analyzer (events, stride model) on the noise-free 3 m track at 30 and
  120 fps: the image share plus what the analysis adds.

The last column is the least share of the pelvis's tilt a hip line must carry for that side to be
within the acceptance limit (0.75 deg) through the 30 fps analysis, if the line reads that share of the
tilt and nothing else: the analysis error e (signed) plus the line's loss -(1 - share) x truth must not be
below -0.75 deg, so share >= 1 - (0.75 + e) / truth.

    .venv/bin/python scripts/drop_floor.py [--runners s01,s02,s32] [--distance 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from validate_mocap import RUNNERS, SRC, TOOL, runner_names  # noqa: E402  (a sibling script)

from station.gait import AnalyzerSettings, analyze_track  # noqa: E402
from station.keypoint_validation import image_obliquity_deg  # noqa: E402
from station.keypoints import read_track_csv  # noqa: E402
from station.validation import load_truth, validate_steps  # noqa: E402

LIMIT_DEG = 0.75
FOCAL_PX = 600.0  # mocap_track.py's default at its default distance


def track(subject: str, fps: float, distance_m: float, tmp: Path) -> tuple[Path, Path]:
    """A noise-free track and its truth from the shared tool; the focal length keeps the runner's image size."""
    markers, static, forces = RUNNERS[subject]
    out, truth = tmp / f"{subject}_{fps:g}_{distance_m:g}.track.csv", tmp / f"{subject}_{fps:g}_{distance_m:g}.json"
    cmd = [sys.executable, str(TOOL), "--run", str(SRC / markers), "--static", str(SRC / static), "--fps", f"{fps:g}",
           "--distance", f"{distance_m:g}", "--focal", f"{FOCAL_PX * distance_m / 3.0:g}", "--noise-frac", "0",
           "--dropout", "0", "--track-out", str(out), "--truth-out", str(truth)]
    if forces:
        cmd += ["--forces", str(SRC / forces)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out, truth


def image_excursions(track_csv: Path, truth_json: Path) -> dict[str, float]:
    """Per side, the mean over the truth's steps of the projected hip line's excursion at the truth's contacts."""
    t = read_track_csv(track_csv)
    theta = image_obliquity_deg(t.xy[:, 11], t.xy[:, 12])
    out = {}
    steps = json.loads(truth_json.read_text())["steps"]
    for side in ("left", "right"):
        sign = 1.0 if side == "right" else -1.0
        values = []
        for s in steps:
            if s["side"] != side:
                continue
            inside = (t.t_s >= s["t_contact_s"]) & (t.t_s <= s["t_toe_off_s"])
            if inside.any():  # d = +theta in right stance, -theta in left (DESIGN.md)
                values.append(float((sign * theta[inside]).max() - sign * np.interp(s["t_contact_s"], t.t_s, theta)))
        out[side] = float(np.mean(values))
    return out


def analysis_errors(track_csv: Path, truth_json: Path, distance_m: float) -> dict[str, float | None]:
    t = read_track_csv(track_csv)
    steps = analyze_track(t.t_s, t.xy, t.score, AnalyzerSettings(camera_roll_deg=0.0, camera_distance_m=distance_m))
    r = validate_steps(steps, load_truth(truth_json), (float(t.t_s[0]), float(t.t_s[-1])))
    return dict(r.drop_excursion_error_deg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runners", default="s01,s02,s32")
    ap.add_argument("--distance", type=float, default=3.0, help="camera behind the pelvis, m")
    args = ap.parse_args()
    runners = runner_names(args.runners)
    if not TOOL.exists():
        print(f"{TOOL} not found: this needs ../shared beside the checkout", file=sys.stderr)
        return 1
    print("| runner | side | truth excursion ° | image at "
          f"{args.distance:g} m − truth ° | image at 60 m − truth ° | analysis 120 fps − truth ° | "
          "analysis 30 fps − truth ° | a hip line must carry |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for subject in runners:
            near, truth = track(subject, 120.0, args.distance, tmp)
            far, _ = track(subject, 120.0, 60.0, tmp)
            slow, slow_truth = track(subject, 30.0, args.distance, tmp)
            summary = json.loads(truth.read_text())["summary"]
            img_near, img_far = image_excursions(near, truth), image_excursions(far, truth)
            a120 = analysis_errors(near, truth, args.distance)
            a30 = analysis_errors(slow, slow_truth, args.distance)
            for side in ("left", "right"):
                true_exc = summary[side]["drop_excursion_deg"]
                err30 = a30[side]
                need = None if err30 is None else 1.0 - (LIMIT_DEG + err30) / true_exc
                print(f"| {subject} | {side} | {true_exc:.2f} | {img_near[side] - true_exc:+.2f} | "
                      f"{img_far[side] - true_exc:+.2f} | {a120[side]:+.2f} | {err30:+.2f} | "
                      f"{'n/a' if need is None else f'{100 * need:.0f} %'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
