#!/usr/bin/env python3
"""What the rendered body's waist shows of the pelvis: the most any reading of the waist can measure.

No camera noise, no pose model: the posed mesh of ``gait-twin`` itself. The skin where shirt and tights
meet (the clothing's seam, 13 cm above the hip joints in the rest pose, on the back, between 2 cm and
``--half-width-m`` either side of the spine) is averaged per side, every frame; the line through the two
sides' points, projected by the render's camera, is a perfect reading of the waist edge. Against the
projected true hip-joint-centre line, frame by frame: correlation and regression slope (1 = all of the
pelvis's tilt). Then the same line in place of the true hip line (the hips turned about their midpoint,
every other keypoint the true joint's) through the whole analysis: the per-side excursion error against
the render's truth, as the pelvis line would read it if it read the waist edge exactly. ``--seam-above-m``
moves the skin read (0.09: the lowest spine bone's end, where the skin also takes the thighs).

    .venv/bin/python scripts/waist_ceiling.py [--runners s01,s02,s32] [--seam-above-m 0.13]

Needs the twin extra and ``../shared``. About a minute per runner.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from validate_mocap import RUNNERS, runner_names  # noqa: E402  (a sibling script)
from validate_mocap import SRC as MOCAP  # noqa: E402

from station.gait import AnalyzerSettings, analyze_track  # noqa: E402
from station.keypoint_validation import image_obliquity_deg  # noqa: E402
from station.validation import load_truth, validate_steps  # noqa: E402

LH, RH = 11, 12  # COCO hips


def seam_vertices(body, above_m: float, half_width_m: float) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The back's skin at ``above_m`` over the hip joints, per side (indices into the body's vertices)."""
    from twin.body import SEGMENTS

    v, j = body.vertices, body.joints
    hip_y = (j["upperleg01.L"][1] + j["upperleg01.R"][1]) / 2
    mid_z = (j["upperleg01.L"][2] + j["upperleg01.R"][2]) / 2
    seg = np.array(SEGMENTS)[np.argmax(body.weights, axis=1)]
    trunk = np.isin(seg, ["pelvis", "spine05", "spine04", "spine03", "spine02", "spine01", "thigh.L", "thigh.R"])
    arms = sum(body.weights[:, SEGMENTS.index(f"{p}.{s}")] for p in ("upperarm", "forearm") for s in "LR")
    centre_x = float(np.median(v[trunk & (np.abs(v[:, 1] - hip_y - above_m) < 0.015), 0]))
    ring = trunk & (arms < 0.01) & (np.abs(v[:, 1] - (hip_y + above_m)) < 0.012) & (v[:, 0] < centre_x)
    dz = v[:, 2] - mid_z  # Z is the body's right
    out = {"L": np.where(ring & (dz < -0.02) & (dz > -half_width_m))[0],
           "R": np.where(ring & (dz > 0.02) & (dz < half_width_m))[0]}
    if min(len(i) for i in out.values()) < 3:
        raise SystemExit(f"too few seam vertices at {above_m:g} m above the hip joints")
    return out


def run(subject: str, above_m: float, half_width_m: float, tmp: Path) -> dict:
    from twin.render import RenderSettings, prepare, true_keypoints, truth_document

    markers, static, forces = RUNNERS[subject]
    settings = RenderSettings(width=540, height=960)
    stage = prepare(MOCAP / markers, MOCAP / static, MOCAP / forces if forces else None, settings)
    times = stage.frame_times_s
    xy, seen = true_keypoints(stage, times)
    groups = seam_vertices(stage.body, above_m, half_width_m)
    idx = np.concatenate([groups["L"], groups["R"]])
    n_left = len(groups["L"])
    weights, rest = stage.body.weights[idx], stage.body.vertices[idx]
    seam = np.zeros((len(times), 2, 2))
    for k, t in enumerate(times):
        m = np.einsum("vs,sij->vij", weights, stage.motion.affine(float(t))[0])
        v = np.einsum("vij,vj->vi", m[..., :3], rest) + m[..., 3] + stage.origin
        px = stage.camera.project(v)
        seam[k, 0], seam[k, 1] = px[:n_left].mean(0), px[n_left:].mean(0)
    true_deg = image_obliquity_deg(xy[:, LH], xy[:, RH])
    waist_deg = image_obliquity_deg(seam[:, 0], seam[:, 1])
    r = float(np.corrcoef(true_deg, waist_deg)[0, 1])
    slope = float(np.polyfit(true_deg, waist_deg, 1)[0])

    truth_path = tmp / f"{subject}.truth.json"
    truth_path.write_text(json.dumps(truth_document(stage, settings, {}, None)))
    t_video = np.arange(len(times)) / settings.fps
    result = {"subject": subject, "r": r, "slope": slope}
    for name, angle in (("true joints", true_deg), ("waist edge", waist_deg)):
        hips = xy.copy()
        mid = (xy[:, LH] + xy[:, RH]) / 2
        half = np.linalg.norm(xy[:, RH] - xy[:, LH], axis=1) / 2
        a = np.radians(angle)  # + when the right hip is higher (y down), posterior view: right hip at +x
        hips[:, RH] = mid + half[:, None] * np.stack([np.cos(a), -np.sin(a)], axis=1)
        hips[:, LH] = mid - half[:, None] * np.stack([np.cos(a), -np.sin(a)], axis=1)
        steps = analyze_track(t_video, hips, seen.astype(float),
                              AnalyzerSettings(camera_roll_deg=0.0, camera_distance_m=settings.distance_m))
        v = validate_steps(steps, load_truth(truth_path), (0.0, float(t_video[-1])))
        result[name] = dict(v.drop_excursion_error_deg)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runners", default="s01,s02,s32")
    ap.add_argument("--seam-above-m", type=float, default=0.13, help="the skin read, this far above the hip joints")
    ap.add_argument("--half-width-m", type=float, default=0.14, help="the skin read, up to this far from the spine")
    args = ap.parse_args()
    runners = runner_names(args.runners)
    if not MOCAP.exists():
        print(f"{MOCAP} not found: this needs ../shared beside the checkout", file=sys.stderr)
        return 1
    try:
        import twin.render  # noqa: F401
    except ImportError as exc:
        print(f"the twin extra is not installed ({exc}): make setup-twin", file=sys.stderr)
        return 1
    print(f"| runner | waist edge ({args.seam_above_m:g} m up) vs true hip line: r / slope | "
          "excursion error L / R, true joints ° | excursion error L / R, waist edge as the hip line ° |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for subject in runners:
            d = run(subject, args.seam_above_m, args.half_width_m, Path(tmp))
            tj, we = d["true joints"], d["waist edge"]
            print(f"| {subject} | {d['r']:.3f} / {d['slope']:.2f} | {tj['left']:+.2f} / {tj['right']:+.2f} | "
                  f"{we['left']:+.2f} / {we['right']:+.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
