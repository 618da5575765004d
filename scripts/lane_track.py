#!/usr/bin/env python3
"""Track-side passes from treadmill motion capture: the Fukuchi runner moved along a lane.

``../shared/tools/mocap_track.py`` films the treadmill runner from a fixed distance. On a
track the runner passes the camera: running away from it (seen from behind) or towards it
(seen from the front), so the image scale changes several times within a pass. Treadmill
running is overground running seen from a frame that moves with the runner, so the same
markers filmed by a camera whose distance changes at the belt speed, ``distance(t) = start
+ speed x t`` (receding) or ``start - speed x t`` (approaching), are exactly a runner passing
a camera that stands on the ground: the stance foot stands still in the image.

The markers, the hip and joint centres, the contact events and the per-step truth come from
the shared tool itself (imported, not copied); only the camera is new here: a moving
distance, an optional camera height (a low camera at a track), the anterior mirror, and
keypoint noise proportional to the runner's current image height (a pose model's error
scales with the person's size in its crop). Between passes the runner is out of view (rows
with score 0), as a live station sees it.

    .venv/bin/python scripts/lane_track.py --subject s01 --pass 4:3:12 --pass 14:12:3 \\
        --fps 30 --noise-frac 0.003 --track-out lane.track.csv --truth-out lane.truth.json

``--pass T0:FROM:TO`` films from T0 s into the run while the distance goes FROM -> TO metres
(FROM < TO: receding, seen from behind; FROM > TO: approaching, seen from the front).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TOOL = SHARED / "tools" / "mocap_track.py"
MOCAP = SHARED / "data" / "mocap" / "fukuchi2017"
RUNNERS = {  # subject: (marker file, static file, force file or None, treadmill speed m/s)
    "s01": ("RBDS001runT25markers.txt", "RBDS001static.txt", "RBDS001runT25forces.txt", 2.5),
    "s02": ("RBDS002runT25markers.txt", "RBDS002static.txt", "RBDS002runT25forces.txt", 2.5),
    "s32": ("RBDS032runT35markers.txt", "RBDS032static.txt", None, 3.5),
}
BODY_HEIGHT_M = 1.75  # as the shared tool scales its noise
PELVIS = ["R.ASIS", "L.ASIS", "R.PSIS", "L.PSIS", "R.Iliac.Crest", "L.Iliac.Crest"]


def shared_tool() -> ModuleType:
    """The shared mocap tool, imported from ../shared/tools (never copied into the project)."""
    if not TOOL.exists():
        raise FileNotFoundError(f"{TOOL} not found")
    spec = importlib.util.spec_from_file_location("mocap_track", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Mocap:
    """One runner's treadmill trial at 150 Hz: keypoint centres (m; X forward, Y up, Z right) and truth."""

    subject: str
    speed_m_s: float
    t_s: np.ndarray
    points: dict[str, np.ndarray]  # COCO name -> (N, 3)
    theta_deg: np.ndarray  # 3-D obliquity of the hip-joint-centre line, + right hip higher
    events: list[tuple[float, float, str]]  # (contact, toe-off, stance side)
    events_source: str


@cache
def load_mocap(subject: str) -> Mocap:
    """Markers and events of a Fukuchi runner, through the shared tool's own functions."""
    mt = shared_tool()
    run_name, static_name, forces_name, speed = RUNNERS[subject]
    rh, run = mt.load(str(MOCAP / run_name))
    sh, st = mt.load(str(MOCAP / static_name))
    t = np.arange(run.shape[0]) / 150.0  # as the tool: the Time column is rounded, the rate is 150 Hz
    hjc_r, hjc_l = mt.hip_centres_static(sh, st)
    hips = mt.track_points(rh, run, sh, st, PELVIS, [hjc_r, hjc_l])
    pts = {"right_hip": hips[:, 0], "left_hip": hips[:, 1]}
    for s, side in (("R", "right"), ("L", "left")):
        thigh = [f"{s}.Thigh.{a}.{b}" for a in ("Top", "Bottom") for b in ("Lateral", "Medial")]
        shank = [f"{s}.Shank.{a}.{b}" for a in ("Top", "Bottom") for b in ("Lateral", "Medial")]
        knee, ankle = (np.mean([np.nanmean(mt.markers(sh, st, f"{s}.{joint}{m}"), 0) for m in ("", ".Medial")], 0)
                       for joint in ("Knee", "Ankle"))
        pts[f"{side}_knee"] = mt.track_points(rh, run, sh, st, thigh, [knee])[:, 0]
        pts[f"{side}_ankle"] = mt.track_points(rh, run, sh, st, shank, [ankle])[:, 0]
    theta = np.degrees(np.arctan2(pts["right_hip"][:, 1] - pts["left_hip"][:, 1],
                                  pts["right_hip"][:, 2] - pts["left_hip"][:, 2]))
    foot = {s: np.nanmin(np.stack([mt.markers(rh, run, f"{s}.Heel.Bottom")[:, 1], mt.markers(rh, run, f"{s}.MT1")[:, 1],
                                   mt.markers(rh, run, f"{s}.MT5")[:, 1]]), 0) for s in "RL"}
    if forces_name:
        fh, fd = mt.load(str(MOCAP / forces_name))
        events = []
        for s, e in mt.force_events(fd[:, fh.index("Fy")]):
            k = min(int((s + e) / 2 * 150), len(t) - 1)
            events.append((s, e, "right" if foot["R"][k] < foot["L"][k] else "left"))
        source = "force plate (Fy > 50 N)"
    else:
        events = mt.kinematic_events(t, foot["R"], foot["L"])
        source = "kinematic (foot markers)"
    return Mocap(subject, speed, t, pts, theta, events, source)


def truth_steps(mocap: Mocap, t0_s: float, t1_s: float) -> list[dict]:
    """Per-step truth exactly as the shared tool defines it, for the stances wholly inside [t0, t1]."""
    t, theta = mocap.t_s, mocap.theta_deg
    steps = []
    for s, e, side in mocap.events:
        if s < t0_s or e > t1_s:
            continue
        i, j = int(round(s * 150)), min(int(round(e * 150)), len(t) - 1)
        if j <= i + 3 or np.isnan(theta[i:j + 1]).any():
            continue
        drop = theta[i:j + 1] if side == "right" else -theta[i:j + 1]
        k = int(np.argmax(drop))
        steps.append(dict(side=side, t_contact_s=round(s, 4), t_toe_off_s=round(e, 4), t_peak_s=round(t[i + k], 4),
                          drop_excursion_deg=round(float(drop[k] - drop[0]), 3),
                          drop_peak_deg=round(float(drop[k]), 3)))
    return steps


@dataclass(frozen=True)
class LanePass:
    """One pass: from ``t0_s`` into the run, the camera distance goes ``from_m`` -> ``to_m`` at the belt speed."""

    t0_s: float
    from_m: float
    to_m: float

    @classmethod
    def parse(cls, text: str) -> LanePass:
        t0, a, b = (float(v) for v in text.split(":"))
        if a <= 0 or b <= 0 or a == b:
            raise ValueError(f"--pass {text}: distances must be positive and differ")
        return cls(t0, a, b)

    @property
    def view(self) -> str:
        return "posterior" if self.to_m > self.from_m else "anterior"

    def duration_s(self, speed_m_s: float) -> float:
        return abs(self.to_m - self.from_m) / speed_m_s


def lane_track(
    subject: str,
    passes: list[LanePass],
    *,
    fps: float = 30.0,
    focal_px: float = 1000.0,
    size: tuple[int, int] = (1280, 720),
    camera_height_m: float | None = None,
    noise_frac: float = 0.0,
    dropout: float = 0.0,
    seed: int = 0,
    gap_s: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(t_s, xy, score, truth) of the passes, filmed at ``fps``; out-of-view rows for ``gap_s`` between them.

    All passes must share one view (a session's camera does not turn round). ``camera_height_m``
    is the lens height above the treadmill belt (default: the pelvis's mean height, as the shared
    tool). Noise: ``noise_frac`` x the runner's current image height, per coordinate.
    """
    mocap = load_mocap(subject)
    views = {p.view for p in passes}
    if len(views) != 1:
        raise ValueError("all passes of one session must be seen from the same side (posterior or anterior)")
    view = views.pop()
    rng = np.random.default_rng(seed)
    from station.coco import KEYPOINT_NAMES

    mid = (mocap.points["right_hip"] + mocap.points["left_hip"]) / 2
    x_mean, y_mean, z_mean = (float(np.nanmean(mid[:, c])) for c in range(3))
    ankles_y = np.minimum(mocap.points["left_ankle"][:, 1], mocap.points["right_ankle"][:, 1])
    floor_y = float(np.nanpercentile(ankles_y, 2))
    cam_y = y_mean if camera_height_m is None else floor_y + camera_height_m
    w, h = size
    rows_t, rows_xy, rows_score = [], [], []
    steps: list[dict] = []
    t_next = 0.0
    for lp in sorted(passes, key=lambda p: p.t0_s):
        dur = lp.duration_s(mocap.speed_m_s)
        if lp.t0_s + dur > mocap.t_s[-1]:
            raise ValueError(f"pass at {lp.t0_s} s runs past the end of the trial ({mocap.t_s[-1]:.1f} s)")
        # out of view until the pass starts (at least gap_s, on the same frame clock)
        while t_next < lp.t0_s:
            rows_t.append(t_next)
            rows_xy.append(np.zeros((17, 2)))
            rows_score.append(np.zeros(17))
            t_next += 1.0 / fps
        sign = 1.0 if lp.to_m > lp.from_m else -1.0
        while t_next <= lp.t0_s + dur:
            tk = t_next
            dist = lp.from_m + sign * mocap.speed_m_s * (tk - lp.t0_s)
            # posterior: camera behind (-X) looking forward; anterior: in front (+X) looking back, mirrored
            cam_x = x_mean - dist if view == "posterior" else x_mean + dist
            xy = np.zeros((17, 2))
            score = np.zeros(17)
            height_px = focal_px * BODY_HEIGHT_M / dist
            sigma = noise_frac * height_px
            for k, name in enumerate(KEYPOINT_NAMES):
                if name not in mocap.points:
                    continue
                p = np.array([np.interp(tk, mocap.t_s, mocap.points[name][:, c]) for c in range(3)])
                depth = (p[0] - cam_x) if view == "posterior" else (cam_x - p[0])
                lateral = (p[2] - z_mean) if view == "posterior" else -(p[2] - z_mean)
                u = focal_px * lateral / depth + w / 2 + rng.normal(0.0, sigma)
                v = -focal_px * (p[1] - cam_y) / depth + h / 2 + rng.normal(0.0, sigma)
                xy[k] = (u, v)
                score[k] = 0.05 if rng.random() < dropout else float(np.clip(rng.normal(0.8, 0.08), 0.4, 0.99))
            rows_t.append(tk)
            rows_xy.append(xy)
            rows_score.append(score)
            t_next += 1.0 / fps
        steps += truth_steps(mocap, lp.t0_s, lp.t0_s + dur)
        end = t_next + gap_s
        while t_next < end:
            rows_t.append(t_next)
            rows_xy.append(np.zeros((17, 2)))
            rows_score.append(np.zeros(17))
            t_next += 1.0 / fps
    summary: dict = {"steps": len(steps)}
    for side in ("left", "right"):
        ss = [s for s in steps if s["side"] == side]
        summary[side] = {"steps": len(ss)}
        for key in ("drop_excursion_deg", "drop_peak_deg"):
            summary[side][key] = round(float(np.mean([s[key] for s in ss])), 3) if ss else None
    truth = {
        "source": f"Fukuchi et al. 2017 (PeerJ), CC BY 4.0, {subject} moved along a lane; "
                  f"events: {mocap.events_source}",
        "camera": {"view": view, "fps": fps, "focal": focal_px, "size": f"{w}x{h}", "roll_deg": 0.0,
                   "camera_height_m": camera_height_m, "noise_frac": noise_frac, "dropout": dropout, "seed": seed,
                   "passes": [[p.t0_s, p.from_m, p.to_m] for p in passes], "speed_m_s": mocap.speed_m_s},
        "summary": summary,
        "steps": steps,
    }
    return np.asarray(rows_t), np.asarray(rows_xy), np.asarray(rows_score), truth


def write(track_path: Path | str, truth_path: Path | str, t_s: np.ndarray, xy: np.ndarray, score: np.ndarray,
          truth: dict) -> None:
    from station.keypoints import Pose, write_track_csv

    write_track_csv(track_path, (Pose(float(t_s[i]), xy[i], score[i]) for i in range(len(t_s))))
    Path(truth_path).write_text(json.dumps(truth, indent=1))


def main() -> int:
    sys.path.insert(0, str(ROOT))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subject", choices=sorted(RUNNERS), default="s01")
    ap.add_argument("--pass", dest="passes", action="append", required=True, metavar="T0:FROM:TO",
                    help="a pass from T0 s into the run, camera distance FROM -> TO m")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--focal", type=float, default=1000.0, help="focal length, px")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--camera-height-m", type=float, default=None,
                    help="lens above the ground (default: pelvis height)")
    ap.add_argument("--noise-frac", type=float, default=0.0, help="keypoint noise SD / the runner's image height")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--track-out", type=Path, required=True)
    ap.add_argument("--truth-out", type=Path, required=True)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    t_s, xy, score, truth = lane_track(a.subject, [LanePass.parse(p) for p in a.passes], fps=a.fps, focal_px=a.focal,
                                       size=(w, h), camera_height_m=a.camera_height_m, noise_frac=a.noise_frac,
                                       dropout=a.dropout, seed=a.seed)
    write(a.track_out, a.truth_out, t_s, xy, score, truth)
    print(json.dumps(truth["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
