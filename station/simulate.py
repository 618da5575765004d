"""A simulated runner: realistic 17-keypoint poses as a camera behind (or in front of) a treadmill sees them.

What the demo runs on, and what the live-station tests feed through the whole
loop. The runner is modelled in 3D (metres; X forward, away from a posterior
camera; Y up; Z to the runner's right) and projected through a pinhole camera,
as ``../shared/tools/mocap_track.py`` does for the real motion-capture tracks:

* **steps**: contacts alternate left/right at the given cadence (with a little
  step-to-step jitter); each foot is on the belt for ``duty_factor`` of its
  stride, moving backwards at belt speed, then swings forward with a heel kick.
  As in the real treadmill tracks of ``../shared/data/mocap``, the two ankles
  appear at the same image height at initial contact (the landing foot coming
  down, the other one rising a flight phase after its toe-off);
* **pelvis**: the hip joint centres ride up and down (lowest at mid-stance,
  ``vertical_oscillation_m`` peak to peak), sway toward the stance side, and
  the pelvis tilts in the frontal plane: during each stance the swing-side hip
  drops by that step's excursion (peak at 40 % of stance, back to level by the
  next contact), so each step's true ``drop_excursion_deg`` is exactly the value
  drawn for it;
* **fatigue**: each side's drop grows linearly with time (deg per minute);
* **knees** by two-link inverse kinematics from hip and ankle; **upper body**
  (shoulders with a counter-swing, elbows and wrists swinging opposite the legs,
  ears, and a face mostly hidden from behind) so the trunk-lean, arm-swing and
  framing code have something real to see; ``arm_inward_m`` brings the hands toward
  (and past) the body's midline at the front of their swing;
* **noise**: Gaussian pixel noise on every keypoint, per-keypoint scores, optional
  low-score dropouts; **absence**: time intervals in which nobody is in view
  (all scores 0), as when a runner steps off the treadmill or passes out of frame.

The generator keeps the truth (per step: side, contact, toe-off, excursion) so
a test can check that the analyzer finds the drop that was put in.

>>> r = SimulatedRunner(RunnerParams(seed=1))
>>> poses = list(r.poses(fps=30.0, duration_s=2.0))
>>> len(poses), poses[0].xy.shape, [s["side"] for s in r.truth_steps(2.0)][:3]
(60, (17, 2), ['left', 'right', 'left'])
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from station.camera.base import Frame, FrameSource
from station.errors import InputError
from station.keypoints import NUM_KEYPOINTS, BodyPart, Pose

View = Literal["posterior", "anterior"]


@dataclass(frozen=True)
class RunnerParams:
    """One simulated runner, camera and scene. Angles in degrees, lengths in metres, times in seconds."""

    cadence_spm: float = 166.0
    drop_left_deg: float = 2.5  # excursion during LEFT stance (the right, swing-side hip drops)
    drop_right_deg: float = 2.5  # excursion during RIGHT stance
    fatigue_left_deg_per_min: float = 0.0  # how fast each side's drop grows
    fatigue_right_deg_per_min: float = 0.0
    max_drop_deg: float = 12.0
    drop_jitter_deg: float = 0.3  # step-to-step standard deviation of the excursion
    cadence_jitter_pct: float = 1.0  # step-to-step standard deviation of the step time
    duty_factor: float = 0.36  # stance time / stride time (running: about 0.3 to 0.4)
    vertical_oscillation_m: float = 0.08
    lateral_sway_m: float = 0.015
    pelvis_obliquity_offset_deg: float = 0.0  # a static tilt (leg length difference): not an excursion
    trunk_lean_deg: float = 3.0  # lateral lean toward the stance side, at mid-stance
    arm_inward_m: float = 0.0  # how far each hand moves toward the body's midline at the front of its swing
    height_m: float = 1.75
    hip_width_m: float = 0.18
    step_width_m: float = 0.10
    belt_stride_m: float = 0.60  # how far the stance foot travels back on the belt
    # camera
    view: View = "posterior"
    distance_m: float = 3.0  # camera to pelvis
    camera_height_m: float = 1.0
    focal_px: float = 600.0
    frame_size: tuple[int, int] = (640, 480)  # (width, height)
    camera_roll_deg: float = 0.0  # the image is rotated by this (changes drop_peak, never the excursion)
    # measurement
    noise_px: float = 0.5  # keypoint noise, standard deviation in pixels
    dropout: float = 0.0  # share of lower-body keypoints given a low score
    absent: tuple[tuple[float, float], ...] = ()  # (start_s, end_s) intervals with nobody in view
    first_contact_s: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        if not 60.0 <= self.cadence_spm <= 260.0:
            raise InputError(f"simulated cadence must be between 60 and 260 steps/min (got {self.cadence_spm:g})")
        if not 0.15 <= self.duty_factor <= 0.6:
            raise InputError(f"simulated duty factor must be between 0.15 and 0.6 (got {self.duty_factor:g})")
        for name in ("drop_left_deg", "drop_right_deg"):
            if not 0.0 <= getattr(self, name) <= self.max_drop_deg:
                raise InputError(f"simulated {name} must be between 0 and {self.max_drop_deg:g}")
        if self.distance_m <= 0.5 or self.focal_px <= 0 or min(self.frame_size) < 16:
            raise InputError("simulated camera: distance must exceed 0.5 m, focal and frame size be positive")
        if self.noise_px < 0 or not 0.0 <= self.dropout < 1.0:
            raise InputError("simulated noise must be ≥ 0 and dropout in [0, 1)")
        if self.view not in ("posterior", "anterior"):
            raise InputError(f"simulated view must be posterior or anterior (got {self.view!r})")


@dataclass
class SimulatedRunner:
    """Generates poses (and keeps the truth) for one :class:`RunnerParams`."""

    params: RunnerParams = field(default_factory=RunnerParams)

    def __post_init__(self) -> None:
        p = self.params
        self._rng = np.random.default_rng(p.seed)
        self._noise_rng = np.random.default_rng(p.seed + 1_000_003)
        self._contacts: list[float] = []
        self._sides: list[str] = []
        self._drops: list[float] = []
        self._thigh_m = 0.245 * p.height_m
        self._shank_m = 0.246 * p.height_m
        self._ankle_h_m = 0.039 * p.height_m
        self._extend(p.first_contact_s + 5.0)

    # -- the step schedule ---------------------------------------------------------------------
    def _extend(self, until_s: float) -> None:
        p = self.params
        step_s = 60.0 / p.cadence_spm
        while not self._contacts or self._contacts[-1] < until_s + 3 * step_s:
            if not self._contacts:
                t = p.first_contact_s
                side = "left"
            else:
                jitter = 1.0 + self._rng.normal(0.0, p.cadence_jitter_pct / 100.0)
                t = self._contacts[-1] + step_s * float(np.clip(jitter, 0.9, 1.1))
                side = "right" if self._sides[-1] == "left" else "left"
            base = p.drop_left_deg if side == "left" else p.drop_right_deg
            rate = p.fatigue_left_deg_per_min if side == "left" else p.fatigue_right_deg_per_min
            drop = base + rate * max(0.0, t - p.first_contact_s) / 60.0 + self._rng.normal(0.0, p.drop_jitter_deg)
            self._contacts.append(t)
            self._sides.append(side)
            self._drops.append(float(np.clip(drop, 0.0, p.max_drop_deg)))

    def _stance_s(self, k: int) -> float:
        stride = self._contacts[k + 2] - self._contacts[k]
        return self.params.duty_factor * stride

    def truth_steps(self, until_s: float) -> list[dict[str, Any]]:
        """The steps put in, up to those whose stance ended by ``until_s`` (runner in view throughout)."""
        self._extend(until_s)
        out = []
        for k in range(len(self._contacts) - 2):
            tc = self._contacts[k]
            te = tc + self._stance_s(k)
            if te > until_s:
                break
            if any(a - 0.5 < te and tc < b + 0.5 for a, b in self.params.absent):
                continue
            out.append({"side": self._sides[k], "t_contact_s": round(tc, 4), "t_toe_off_s": round(te, 4),
                        "drop_excursion_deg": round(self._drops[k], 3)})
        return out

    def truth_summary(self, until_s: float, since_s: float = 0.0) -> dict[str, Any]:
        """Per side: steps and mean excursion of the truth steps contacting in [since_s, until_s]."""
        steps = [s for s in self.truth_steps(until_s) if s["t_contact_s"] >= since_s]
        out: dict[str, Any] = {"steps": len(steps)}
        for side in ("left", "right"):
            vals = [s["drop_excursion_deg"] for s in steps if s["side"] == side]
            out[side] = {"steps": len(vals), "drop_excursion_deg": float(np.mean(vals)) if vals else None}
        contacts = [t for t in self._contacts if since_s <= t <= until_s]
        out["cadence_spm"] = (60.0 * (len(contacts) - 1) / (contacts[-1] - contacts[0])
                              if len(contacts) > 2 else None)
        return out

    def _step_index(self, t: float) -> int:
        """Index of the last contact at or before ``t`` (−1 before the first)."""
        return int(np.searchsorted(self._contacts, t, side="right")) - 1

    # -- kinematics ------------------------------------------------------------------------------
    def _obliquity_deg(self, t: float) -> float:
        """Frontal-plane pelvis angle, + when the right hip is higher."""
        p = self.params
        theta = p.pelvis_obliquity_offset_deg
        k = self._step_index(t)
        if k < 0:
            return theta
        tc, tn = self._contacts[k], self._contacts[k + 1]
        t_peak = tc + 0.4 * self._stance_s(k)
        if t <= t_peak:
            bump = 0.5 * (1.0 - math.cos(math.pi * (t - tc) / (t_peak - tc)))
        else:
            bump = 0.5 * (1.0 + math.cos(math.pi * min(1.0, (t - t_peak) / (tn - t_peak))))
        sign = 1.0 if self._sides[k] == "right" else -1.0  # right stance: left hip drops, right is higher
        return theta + sign * self._drops[k] * bump

    def _pelvis(self, t: float) -> tuple[float, float, float]:
        """Pelvis centre (x, y, z) in metres."""
        p = self.params
        k = self._step_index(t)
        mean_h = 0.50 * p.height_m
        if k < 0:
            return 0.0, mean_h, 0.0
        tc, tn = self._contacts[k], self._contacts[k + 1]
        frac = (t - tc) / (tn - tc)
        stance_frac = self._stance_s(k) / (tn - tc)
        low = 0.45 * stance_frac
        y = mean_h - 0.5 * p.vertical_oscillation_m * math.cos(2.0 * math.pi * (frac - low))
        side_sign = 1.0 if self._sides[k] == "right" else -1.0
        z = side_sign * p.lateral_sway_m * math.sin(math.pi * min(1.0, frac / max(stance_frac, 1e-6)))
        return 0.0, y, z

    def _foot(self, t: float, side: str) -> tuple[float, float, float]:
        """Ankle (x, y, z) for one leg."""
        p = self.params
        idx = [i for i in range(max(0, self._step_index(t) - 2), self._step_index(t) + 1) if self._sides[i] == side]
        x_land, x_off = 0.35 * p.belt_stride_m, -0.65 * p.belt_stride_m
        heel_rise_m, lift_m = 0.05, 0.17 * p.height_m
        z_sign = 1.0 if side == "right" else -1.0
        z0 = z_sign * p.step_width_m / 2
        if idx:
            k = idx[-1]
            tc = self._contacts[k]
            stride = self._contacts[k + 2] - tc
        else:  # before this foot's first contact: swinging toward it
            k = next(i for i in range(len(self._sides)) if self._sides[i] == side)
            stride = 2 * 60.0 / p.cadence_spm
            tc = self._contacts[k] - stride
        stance = p.duty_factor * stride
        u = (t - tc) / stance
        if u <= 1.0:
            x = x_land + (x_off - x_land) * u
            y = self._ankle_h_m + heel_rise_m * max(0.0, (u - 0.6) / 0.4) ** 2
            return x, y, z0
        w = min(1.0, (t - tc - stance) / (stride - stance))
        x = x_off + (x_land - x_off) * 0.5 * (1.0 - math.cos(math.pi * w))
        y = self._ankle_h_m + heel_rise_m * (1.0 - w) ** 2 + lift_m * math.sin(math.pi * w) ** 2
        z = z0 + z_sign * 0.02 * math.sin(math.pi * w)
        return x, y, z

    def _knee(self, hip: np.ndarray, ankle: np.ndarray) -> np.ndarray:
        """Two-link inverse kinematics in the sagittal plane, the knee bending forward."""
        l1, l2 = self._thigh_m, self._shank_m
        d = ankle - hip
        dist_sag = math.hypot(d[0], d[1])
        dist = min(dist_sag, 0.999 * (l1 + l2))
        ux, uy = d[0] / dist_sag, d[1] / dist_sag
        a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
        h = math.sqrt(max(0.0, l1 * l1 - a * a))
        # perpendicular pointing forward (+x)
        px, py = -uy, ux
        if px < 0:
            px, py = -px, -py
        frac = l1 / (l1 + l2)
        return np.array([hip[0] + a * ux + h * px, hip[1] + a * uy + h * py, hip[2] + frac * (ankle[2] - hip[2])])

    def world(self, t: float) -> np.ndarray:
        """The 17 keypoints in metres (17, 3) at stream time ``t``."""
        p = self.params
        self._extend(t)
        px, py, pz = self._pelvis(t)
        th = math.radians(self._obliquity_deg(t))
        half = p.hip_width_m / 2
        dy, dz = half * math.sin(th), half * math.cos(th)
        pts = np.zeros((NUM_KEYPOINTS, 3))
        pts[BodyPart.RIGHT_HIP] = (px, py + dy, pz + dz)
        pts[BodyPart.LEFT_HIP] = (px, py - dy, pz - dz)
        for side, hip_i, knee_i, ankle_i in (("left", BodyPart.LEFT_HIP, BodyPart.LEFT_KNEE, BodyPart.LEFT_ANKLE),
                                             ("right", BodyPart.RIGHT_HIP, BodyPart.RIGHT_KNEE,
                                              BodyPart.RIGHT_ANKLE)):
            ankle = np.array(self._foot(t, side))
            pts[ankle_i] = ankle
            pts[knee_i] = self._knee(pts[hip_i], ankle)
        # upper body: trunk leans toward the stance side, shoulders counter the pelvis
        k = self._step_index(t)
        lean = 0.0
        if k >= 0:
            tc, tn = self._contacts[k], self._contacts[k + 1]
            s_sign = 1.0 if self._sides[k] == "right" else -1.0
            lean = s_sign * p.trunk_lean_deg * math.sin(math.pi * min(1.0, (t - tc) / (tn - tc)))
        trunk_m = 0.29 * p.height_m
        lean_r = math.radians(lean)
        sx, sy, sz = px + 0.05, py + trunk_m * math.cos(lean_r), pz + trunk_m * math.sin(lean_r)
        sh_half = 0.115 * p.height_m
        sth = -0.4 * th
        sdy, sdz = sh_half * math.sin(sth), sh_half * math.cos(sth)
        pts[BodyPart.RIGHT_SHOULDER] = (sx, sy + sdy, sz + sdz)
        pts[BodyPart.LEFT_SHOULDER] = (sx, sy - sdy, sz - sdz)
        upper, fore = 0.186 * p.height_m, 0.146 * p.height_m
        for sh_i, el_i, wr_i, opp_ankle, z_sign in (
            (BodyPart.LEFT_SHOULDER, BodyPart.LEFT_ELBOW, BodyPart.LEFT_WRIST, BodyPart.RIGHT_ANKLE, -1.0),
            (BodyPart.RIGHT_SHOULDER, BodyPart.RIGHT_ELBOW, BodyPart.RIGHT_WRIST, BodyPart.LEFT_ANKLE, 1.0),
        ):
            swing = float(np.clip(pts[opp_ankle][0] / p.belt_stride_m, -1.0, 1.0))  # arm follows the other leg
            ang = math.radians(35.0 * swing)
            sh = pts[sh_i]
            elbow = sh + np.array([upper * math.sin(ang), -upper * math.cos(ang), z_sign * 0.03])
            fang = ang + math.radians(80.0)
            inward = p.arm_inward_m * max(0.0, swing)  # toward the midline as the arm comes forward
            wrist = elbow + np.array([fore * math.sin(fang), -fore * math.cos(fang), -z_sign * (0.04 + inward)])
            pts[el_i], pts[wr_i] = elbow, wrist
        hx, hy, hz = sx + 0.02, sy + 0.13 * p.height_m, sz + 0.3 * (sz - pz)
        pts[BodyPart.NOSE] = (hx + 0.10, hy - 0.02, hz)
        pts[BodyPart.LEFT_EYE] = (hx + 0.08, hy + 0.01, hz - 0.033)
        pts[BodyPart.RIGHT_EYE] = (hx + 0.08, hy + 0.01, hz + 0.033)
        pts[BodyPart.LEFT_EAR] = (hx, hy, hz - 0.075)
        pts[BodyPart.RIGHT_EAR] = (hx, hy, hz + 0.075)
        return pts

    def project(self, pts: np.ndarray) -> np.ndarray:
        """Pixel coordinates (17, 2) of world points, through the camera (y down, roll applied)."""
        p = self.params
        w, h = p.frame_size
        if p.view == "posterior":
            depth = pts[:, 0] + p.distance_m
            u = p.focal_px * pts[:, 2] / depth
        else:  # the camera in front, looking back: the runner's right appears on the image's left
            depth = p.distance_m - pts[:, 0]
            u = -p.focal_px * pts[:, 2] / depth
        v = -p.focal_px * (pts[:, 1] - p.camera_height_m) / depth
        if p.camera_roll_deg:
            c, s = math.cos(math.radians(p.camera_roll_deg)), math.sin(math.radians(p.camera_roll_deg))
            u, v = c * u - s * v, s * u + c * v
        return np.stack([u + w / 2, v + h / 2], axis=1)

    def _scores(self) -> np.ndarray:
        p = self.params
        rng = self._noise_rng
        score = np.clip(rng.normal(0.8, 0.06, NUM_KEYPOINTS), 0.4, 0.98)
        if p.view == "posterior":  # the face is turned away
            for part in (BodyPart.NOSE, BodyPart.LEFT_EYE, BodyPart.RIGHT_EYE):
                score[part] = float(np.clip(rng.normal(0.2, 0.05), 0.02, 0.35))
        if p.dropout:
            lower = [int(b) for b in (BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP, BodyPart.LEFT_KNEE,
                                      BodyPart.RIGHT_KNEE, BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE)]
            drop = rng.random(len(lower)) < p.dropout
            score[np.asarray(lower)[drop]] = 0.05
        return score

    def in_view(self, t: float) -> bool:
        return not any(a <= t < b for a, b in self.params.absent)

    def pose(self, t: float) -> Pose:
        """The pose a perfect-but-noisy pose model would report at stream time ``t``."""
        p = self.params
        size = p.frame_size
        if not self.in_view(t):
            return Pose.empty(t, size)
        xy = self.project(self.world(t))
        if p.noise_px:
            xy = xy + self._noise_rng.normal(0.0, p.noise_px, xy.shape)
        return Pose(t, xy, self._scores(), size)

    def poses(self, fps: float = 60.0, duration_s: float = 60.0, start_s: float = 0.0) -> Iterator[Pose]:
        """Poses at ``fps`` from ``start_s`` for ``duration_s`` (stream time)."""
        if fps <= 0 or duration_s < 0:
            raise InputError("simulation needs a positive fps and a duration ≥ 0")
        n = int(round(duration_s * fps))
        for i in range(n):
            yield self.pose(start_s + i / fps)


class SimulatedSource(FrameSource):
    """A :class:`FrameSource` whose frames carry the simulated runner's pose (no image).

    Not live: the station paces it by its timestamps (``--speed``), like a file with ``--realtime``.
    ``duration_s=None`` runs until closed.
    """

    live = False

    def __init__(self, runner: SimulatedRunner | None = None, *, fps: float = 60.0,
                 duration_s: float | None = 60.0) -> None:
        self.runner = runner if runner is not None else SimulatedRunner()
        if not 1.0 <= fps <= 240.0:
            raise InputError(f"simulated fps must be between 1 and 240 (got {fps:g})")
        self.fps = fps
        self.duration_s = duration_s
        self.name = "simulated runner"
        self.gives_poses = True

    def frames(self) -> Iterator[Frame]:
        i = 0
        while not self.closed:
            t = i / self.fps
            if self.duration_s is not None and t >= self.duration_s:
                return
            yield Frame(t_s=t, pose=self.runner.pose(t), index=i)
            i += 1


def demo_runner(duration_s: float, seed: int = 7) -> RunnerParams:
    """The demo's scripted runner: in view after 1 s, the left side tiring (green → amber → red),
    a short step out of the frame at about 70 % of the run."""
    leave = max(8.0, 0.7 * duration_s)
    absent: tuple[tuple[float, float], ...] = ((0.0, 1.0),)
    if duration_s >= 25.0:
        absent += ((leave, leave + 2.5),)
    # left: 2.5° at the start, crossing amber (4°) at ~35 % and red (6°) at ~85 % of the run
    rate = 60.0 * 4.0 / max(duration_s, 10.0)
    return RunnerParams(
        drop_left_deg=2.5, drop_right_deg=2.2, fatigue_left_deg_per_min=rate, fatigue_right_deg_per_min=rate / 4,
        absent=absent, first_contact_s=1.2, seed=seed,
    )
