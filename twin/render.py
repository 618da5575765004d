"""Render a runner: recording → posed body → camera → video, truth JSON and the true keypoints.

Reads top to bottom: load and fit the recording, shape and pose the body, set the scene and the camera,
then for every frame skin the body at the exposure's sub-frame times, render, average, add sensor
noise and encode. The truth is computed from the same posed skeleton.

Time: frame k is the recording at ``t0 + k / fps`` with ``t0 = phase / fps`` and has the video time
``k / fps``. With the default phase 0, video time 0 is the recording's first sample; with a phase the
truth's times are moved by ``-t0`` too, so truth and video share one clock (``camera.t0_recording_s``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from twin.body import SEGMENTS, Body, load_body
from twin.camera import PI_CAMERA_HFOV_DEG, Camera
from twin.clothing import CLOTHING, clothing_colors
from twin.errors import InputError
from twin.mocap import Recording, clip_steps, load_recording, obliquity_deg, summarize_truth, truth_steps
from twin.posing import Motion, pose_motion, skin
from twin.scene import LIGHTING, Prop, Renderer, running_track, treadmill_room
from twin.video import H264Writer, add_sensor_noise, pi_camera_bitrate

log = logging.getLogger(__name__)

FPS_CHOICES = (30.0, 60.0, 90.0, 120.0)
TRACK_NEAR_M = 2.0
TRACK_FAR_M = 25.0


@dataclass(frozen=True)
class RenderSettings:
    """Camera and scene. Units in the names; validated on creation (one-line errors)."""

    fps: float = 30.0
    seconds: float | None = None  # None: the whole recording (treadmill) or 25 m -> 2 m (track)
    phase: float = 0.0  # sampling phase in frames, 0..1
    scene: str = "treadmill"  # or "track"
    view: str = "posterior"
    distance_m: float = 3.0  # lens to the runner's mean pelvis (treadmill)
    camera_height_m: float | None = None  # None: the runner's mean hip height
    roll_deg: float = 0.0
    yaw_deg: float = 0.0  # camera turned off the running line (+ to the right)
    pitch_deg: float = 0.0
    width: int = 720
    height: int = 1280
    hfov_deg: float = PI_CAMERA_HFOV_DEG
    height_m: float | None = None  # the runner's stature; None: scaled from the static trial's legs
    sex: str = "male"
    clothing: str = "tights"
    lighting: str = "gym"
    exposure_frac: float = 0.5  # exposure time as a fraction of the frame interval
    subframes: int = 4  # sub-frames averaged over the exposure (motion blur)
    noise: float = 1.0
    bitrate_bps: int | None = None  # None: picamera2's MEDIUM quality for the size and rate
    samples: int = 0  # multisampling (0: none; sub-frames are shifted by sub-pixel amounts instead)
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = [
            (self.fps in FPS_CHOICES, f"--fps {self.fps:g}: one of 30, 60, 90, 120"),
            (0.0 <= self.phase < 1.0, f"--phase {self.phase:g}: a fraction of a frame, 0 <= phase < 1"),
            (self.scene in ("treadmill", "track"), f"--scene {self.scene}: treadmill or track"),
            (self.view in ("posterior", "anterior"), f"--view {self.view}: posterior or anterior"),
            (1.5 <= self.distance_m <= 6.0, f"--distance-m {self.distance_m:g}: 1.5 to 6 m"),
            (self.camera_height_m is None or 0.2 <= self.camera_height_m <= 3.0,
             f"--camera-height-m {self.camera_height_m}: 0.2 to 3 m"),
            (abs(self.roll_deg) <= 30, f"--roll-deg {self.roll_deg:g}: within +-30"),
            (abs(self.yaw_deg) <= 30, f"--yaw-deg {self.yaw_deg:g}: within +-30"),
            (abs(self.pitch_deg) <= 30, f"--pitch-deg {self.pitch_deg:g}: within +-30"),
            (64 <= self.width <= 3840 and 64 <= self.height <= 3840,
             f"--size {self.width}x{self.height}: 64 to 3840 px"),
            (20 <= self.hfov_deg <= 140, f"--hfov-deg {self.hfov_deg:g}: 20 to 140"),
            (self.height_m is None or 1.2 <= self.height_m <= 2.2, f"--height-m {self.height_m}: 1.2 to 2.2 m"),
            (self.sex in ("male", "female"), f"--body {self.sex}: male or female"),
            (self.clothing in CLOTHING, f"--clothing {self.clothing}: {' or '.join(CLOTHING)}"),
            (self.lighting in LIGHTING, f"--lighting {self.lighting}: one of {', '.join(LIGHTING)}"),
            (0.0 <= self.exposure_frac <= 1.0, f"--exposure {self.exposure_frac:g}: 0 to 1 of the frame interval"),
            (1 <= self.subframes <= 32, f"--subframes {self.subframes}: 1 to 32"),
            (0.0 <= self.noise <= 10.0, f"--noise {self.noise:g}: 0 to 10"),
            (self.seconds is None or self.seconds > 0, f"--seconds {self.seconds}: more than 0"),
            (self.samples in (0, 2, 4, 8), f"--samples {self.samples}: 0, 2, 4 or 8"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(msg)


@dataclass
class Stage:
    """Everything fixed for a render: the body, its motion, the scene, the camera and the clock."""

    rec: Recording
    body: Body
    motion: Motion
    colors: np.ndarray
    palette: dict
    rest_normals: np.ndarray
    camera: Camera
    origin: np.ndarray  # world offset added to the lab coordinates (centres the runner)
    speed_mps: float  # overground speed added in track mode (0 on the treadmill)
    props: Prop
    floor_y: float  # where the feet land (belt or track) and the shadow falls
    background: tuple[float, float, float]
    frame_times_s: np.ndarray  # recording times of the frames (t0 + k / fps)


def _rest_normals(body: Body) -> np.ndarray:
    import trimesh

    return np.asarray(trimesh.Trimesh(body.vertices, body.faces, process=False).vertex_normals)


def prepare(markers: Path, static: Path, forces: Path | None, s: RenderSettings) -> Stage:
    rng = np.random.default_rng(s.seed)
    rec = load_recording(markers, static, forces)
    body = load_body(s.sex)
    motion = pose_motion(rec, body, s.height_m)
    colors, palette = clothing_colors(body, s.clothing, rng)
    normals = _rest_normals(body)
    mid = motion.joint[:, SEGMENTS.index("pelvis")]
    centre = np.nanmean(mid, axis=0)
    hip_y = float(centre[1])
    duration = float(rec.t_s[-1])
    t0 = s.phase / s.fps
    cam_h = s.camera_height_m if s.camera_height_m is not None else hip_y
    if s.scene == "treadmill":
        origin = np.array([-centre[0], 0.0, -centre[2]])
        speed = 0.0
        seconds = s.seconds if s.seconds is not None else duration
        x_cam = -s.distance_m if s.view == "posterior" else s.distance_m
    else:
        speed = rec.speed_mps
        # away from the camera (posterior) from 2 m to 25 m, or towards it (anterior) from 25 m to 2 m
        seconds = s.seconds if s.seconds is not None else (TRACK_FAR_M - TRACK_NEAR_M) / speed
        x_cam = -TRACK_NEAR_M if s.view == "posterior" else TRACK_FAR_M - TRACK_NEAR_M
        origin = np.array([-centre[0], 0.0, -centre[2]])
    n_frames = int(math.floor((min(seconds, duration) - t0) * s.fps + 1e-9))
    exposure = s.exposure_frac / s.fps
    times = t0 + np.arange(n_frames) / s.fps
    times = times[times + exposure / 2 <= duration]
    if len(times) < 2:
        raise InputError(f"--seconds {seconds:g}: too short for two frames at {s.fps:g} fps")
    yaw = (0.0 if s.view == "posterior" else 180.0) + s.yaw_deg
    camera = Camera(position=np.array([x_cam, cam_h, 0.0]), yaw_deg=yaw, pitch_deg=s.pitch_deg, roll_deg=s.roll_deg,
                    width=s.width, height=s.height, hfov_deg=s.hfov_deg)
    belt_y = _sole_height(body, motion, normals, rec.t_s[-1])
    if s.scene == "treadmill":
        props, _ = treadmill_room(belt_y, rng, console=s.view == "posterior")
        background = (0.6, 0.6, 0.6)
    else:
        props, _ = running_track(belt_y, rng)
        background = (0.62, 0.74, 0.9)
    return Stage(rec, body, motion, colors, palette, normals, camera, origin, speed, props, belt_y, background,
                 times)


def _sole_height(body: Body, motion: Motion, normals: np.ndarray, duration_s: float) -> float:
    """Where the belt is: the feet's lowest points over the recording (5th percentile over 80 instants)."""
    feet = np.isin(np.argmax(body.weights, axis=1), [SEGMENTS.index("foot.L"), SEGMENTS.index("foot.R")])
    lows = []
    for t in np.linspace(0, duration_s, 80):
        v, _ = skin(body, motion.affine(t)[0], normals)
        lows.append(v[feet, 1].min())
    return float(np.percentile(lows, 5))


def posed(stage: Stage, t_s: float) -> tuple[np.ndarray, np.ndarray]:
    """World vertices and normals of the body at recording time t (with the scene's offset)."""
    v, n = skin(stage.body, stage.motion.affine(t_s)[0], stage.rest_normals)
    return v + stage.origin + np.array([stage.speed_mps * t_s, 0.0, 0.0]), n


def true_keypoints(stage: Stage, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The posed skeleton's 17 COCO points projected (T x 17 x 2) and whether each is seen (T x 17)."""
    m = stage.motion
    r, p = m.sample(t_s)
    idx = {s: i for i, s in enumerate(SEGMENTS)}
    offset = stage.origin[None, :] + np.outer(t_s, [stage.speed_mps, 0.0, 0.0])
    lm = stage.body.landmarks
    head = m.transform_points(t_s, "head", np.stack([lm[k] for k in ("nose", "left_eye", "right_eye", "left_ear",
                                                                      "right_ear")]))
    wrists = {s: m.transform_points(t_s, f"forearm.{s}", stage.body.joints[f"wrist.{s}"])[:, 0] for s in "LR"}
    pts = np.concatenate([
        head,
        np.stack([p[:, idx["upperarm.L"]], p[:, idx["upperarm.R"]], p[:, idx["forearm.L"]], p[:, idx["forearm.R"]],
                  wrists["L"], wrists["R"], p[:, idx["thigh.L"]], p[:, idx["thigh.R"]], p[:, idx["shank.L"]],
                  p[:, idx["shank.R"]], p[:, idx["foot.L"]], p[:, idx["foot.R"]]], axis=1),
    ], axis=1) + offset[:, None, :]
    xy = stage.camera.project(pts)
    cam = stage.camera
    inside = (xy[..., 0] >= 0) & (xy[..., 0] < cam.width) & (xy[..., 1] >= 0) & (xy[..., 1] < cam.height)
    depth = (pts - cam.position) @ cam.rotation()[2]
    seen = inside & (depth > 0)
    if cam.yaw_deg % 360 < 90 or cam.yaw_deg % 360 > 270:  # from behind the face is not seen
        seen[:, :5] = False
    return xy, seen


def truth_document(stage: Stage, s: RenderSettings, sources: dict, keypoints_csv: str | None) -> dict:
    """The truth JSON: the form of s01.truth.json, on the video's clock, plus what made the render."""
    theta = skeleton_obliquity_deg(stage, stage.rec.t_s)
    steps, how = truth_steps(stage.rec, theta)
    t0 = float(stage.frame_times_s[0]) if s.phase else 0.0
    t_end = float(stage.frame_times_s[-1])
    steps = [st for st in clip_steps(steps, t_end) if st["t_contact_s"] >= t0]
    if t0:
        for st in steps:
            for k in ("t_contact_s", "t_toe_off_s", "t_peak_s"):
                st[k] = round(st[k] - t0, 4)
    cam = stage.camera
    return {
        "source": f"Fukuchi et al. 2017 (PeerJ), CC BY 4.0; events: {how}; rendered by gait-twin",
        "camera": {**sources, **{k: v for k, v in asdict(s).items() if k != "extra"},
                   "focal_px": round(cam.focal_px, 2), "position_m": [round(float(x), 4) for x in cam.position],
                   "t0_recording_s": round(t0, 6), "frames": len(stage.frame_times_s),
                   "bitrate_bps": s.bitrate_bps or pi_camera_bitrate(s.width, s.height, s.fps),
                   "keypoints_csv": keypoints_csv},
        "body": {"stature_m": round(stage.motion.stature_m, 3), "scale": round(stage.motion.scale, 4),
                 "pelvis_width_scale": round(stage.motion.pelvis_width_scale, 4),
                 "hip_centre_distance_m": round(float(np.linalg.norm(stage.rec.hjc_static["R"] -
                                                                     stage.rec.hjc_static["L"])), 4),
                 "speed_mps": stage.rec.speed_mps, "colors": stage.palette},
        "summary": summarize_truth(steps),
        "steps": steps,
    }


def skeleton_obliquity_deg(stage: Stage, t_s: np.ndarray) -> np.ndarray:
    """Obliquity of the posed skeleton's hip-joint-centre line (the thighs' joints), degrees."""
    _, p = stage.motion.sample(t_s)
    return obliquity_deg(p[:, SEGMENTS.index("thigh.R")], p[:, SEGMENTS.index("thigh.L")])


def write_keypoints(path: Path, stage: Stage, fps: float) -> None:
    """The projected true joints as a pose track CSV (DESIGN.md), one row per video frame, video clock."""
    from station.keypoints import Pose, TrackWriter

    times = stage.frame_times_s
    xy, seen = true_keypoints(stage, times)
    t_video = np.arange(len(times)) / fps
    with TrackWriter(path) as w:
        for k in range(len(times)):
            w.write(Pose(round(float(t_video[k]), 6), np.round(xy[k], 2), seen[k].astype(float),
                         (stage.camera.width, stage.camera.height)))


def render_frames(stage: Stage, s: RenderSettings, writer, progress: bool = True) -> float:  # type: ignore[no-untyped-def]
    """Render every frame into ``writer`` (anything with ``write(uint8 image)``); returns seconds per frame."""
    from tqdm import tqdm

    rng = np.random.default_rng(s.seed + 1)
    n = max(1, s.subframes)
    exposure = s.exposure_frac / s.fps
    offsets = ((np.arange(n) + 0.5) / n - 0.5) * exposure
    # a zero-mean pattern of sub-pixel shifts (rotated grid), one per sub-frame
    k = np.arange(n) + 0.5
    jitter = np.stack([(k / n) - 0.5, ((k * 0.618034) % 1.0) - 0.5], axis=1) if n > 1 else np.zeros((1, 2))
    jitter -= jitter.mean(0)
    duration = float(stage.rec.t_s[-1])
    started = time.perf_counter()
    with Renderer(s.width, s.height, stage.body.faces, stage.colors, stage.props, LIGHTING[s.lighting],
                  stage.background, samples=s.samples) as r:
        for t in tqdm(stage.frame_times_s, desc="render", unit="frame", disable=None if progress else True):
            acc = None
            for dt, jit in zip(offsets, jitter, strict=True):
                v, nrm = posed(stage, float(np.clip(t + dt, 0.0, duration)))
                img = r.render(stage.camera, v, nrm, stage.floor_y, (float(jit[0]), float(jit[1])))
                acc = img if acc is None else acc + img
            writer.write(add_sensor_noise(acc / len(offsets), rng, s.noise))
    return (time.perf_counter() - started) / len(stage.frame_times_s)


def render(markers: Path, static: Path, forces: Path | None, out: Path, truth: Path, s: RenderSettings,
           keypoints: Path | None = None, progress: bool = True) -> dict:
    """The whole render: video, truth JSON (and the true keypoints). Returns the truth document."""
    stage = prepare(markers, static, forces, s)
    bitrate = s.bitrate_bps or pi_camera_bitrate(s.width, s.height, s.fps)
    sources = {"run": str(markers), "static": str(static), "forces": str(forces) if forces else None}
    doc = truth_document(stage, s, sources, str(keypoints) if keypoints else None)
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    try:
        with H264Writer(tmp, s.width, s.height, s.fps, bitrate) as w:
            spf = render_frames(stage, s, w, progress)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    truth.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    if keypoints is not None:
        write_keypoints(keypoints, stage, s.fps)
    log.info("%s: %d frames, %.3f s per frame", out, len(stage.frame_times_s), spf)
    doc["seconds_per_frame"] = spf
    return doc
