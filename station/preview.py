"""The live page's camera preview: framing advice in plain words, the skeleton drawn, the JPEG written.

What someone setting the station up beside a treadmill needs to read from a
phone: is the runner in view, are the hips, knees and ankles visible, is the
runner big enough to measure, which way to move the camera.

:func:`framing_advice` is pure (numpy only). It takes one pose, or the last
second or so of poses (``(N, 17, 2)``): over a window the advice is steady
instead of flickering with every stride, and the level check (the hip line
averaged over whole strides) becomes possible. Directions are the camera's
own: "move the camera left" means towards the left of the picture, which is
the left of someone standing behind the camera.

:func:`draw_skeleton` draws the 17 COCO keypoints on a copy of an RGB image
and :func:`encode_jpeg_atomic` writes it where the web app reads it (a
temporary file, then ``os.replace``, so a reader never sees half a JPEG).

>>> import numpy as np
>>> xy = np.zeros((17, 2))
>>> framing_advice(xy, np.zeros(17), (640, 480))
['no runner in view']
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from station.coco import NUM_KEYPOINTS, BodyPart
from station.errors import InputError, StoreError

FRAMING_OK = "framing OK"
NO_RUNNER = "no runner in view"
HIPS_NOT_VISIBLE = "hips not visible — the runner's hips must be in the picture"
LEGS_NOT_VISIBLE = "knees/ankles not visible — move the camera back or lower"
TOO_SMALL = "runner too small — move the camera closer"
TOO_BIG = "runner too close — move the camera back"
SIDE_ON = "runner seen from the side — put the camera straight behind the runner"
MOVE_LEFT = "move the camera left — the runner is off to the left of the picture"
MOVE_RIGHT = "move the camera right — the runner is off to the right of the picture"
NOT_LEVEL = "camera not level? the hip line leans {deg:.0f}° on average"
VIEW_MISMATCH = "left and right look reversed — is the view set to {other}?"

#: COCO skeleton edges (as MoveNet's reference drawing code has them)
SKELETON_EDGES: tuple[tuple[BodyPart, BodyPart], ...] = (
    (BodyPart.NOSE, BodyPart.LEFT_EYE),
    (BodyPart.NOSE, BodyPart.RIGHT_EYE),
    (BodyPart.LEFT_EYE, BodyPart.LEFT_EAR),
    (BodyPart.RIGHT_EYE, BodyPart.RIGHT_EAR),
    (BodyPart.NOSE, BodyPart.LEFT_SHOULDER),
    (BodyPart.NOSE, BodyPart.RIGHT_SHOULDER),
    (BodyPart.LEFT_SHOULDER, BodyPart.LEFT_ELBOW),
    (BodyPart.LEFT_ELBOW, BodyPart.LEFT_WRIST),
    (BodyPart.RIGHT_SHOULDER, BodyPart.RIGHT_ELBOW),
    (BodyPart.RIGHT_ELBOW, BodyPart.RIGHT_WRIST),
    (BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER),
    (BodyPart.LEFT_SHOULDER, BodyPart.LEFT_HIP),
    (BodyPart.RIGHT_SHOULDER, BodyPart.RIGHT_HIP),
    (BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP),
    (BodyPart.LEFT_HIP, BodyPart.LEFT_KNEE),
    (BodyPart.LEFT_KNEE, BodyPart.LEFT_ANKLE),
    (BodyPart.RIGHT_HIP, BodyPart.RIGHT_KNEE),
    (BodyPart.RIGHT_KNEE, BodyPart.RIGHT_ANKLE),
)

# RGB colours: the runner's left magenta, right cyan, the midline and the hip line yellow
COLOR_LEFT = (255, 0, 255)
COLOR_RIGHT = (0, 255, 255)
COLOR_MID = (255, 220, 0)

_LEGS = (BodyPart.LEFT_KNEE, BodyPart.RIGHT_KNEE, BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE)
_LOWER = (BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP, *_LEGS)


@dataclass(frozen=True)
class FramingLimits:
    """Thresholds of the framing advice. Fractions are of the frame's width or height."""

    min_score: float = 0.3  # a keypoint below this score is not seen
    seen_frac: float = 0.5  # over a window, a keypoint seen in fewer frames than this is "not visible"
    min_keypoints: int = 3  # fewer lower-body keypoints than this: nobody there
    min_height_frac: float = 0.20  # hip-to-ankle height below this: too small
    max_height_frac: float = 0.75  # ... above this: too close
    min_hip_width_px: float = 20.0  # below this the hip line's angle is too coarse (1 px ≈ 3°)
    # hip width / hip-to-ankle height: about 0.19 straight from behind (Fukuchi subject 1), cos(angle) times that
    # off the axis; below this the camera is more than ~55° round to the side and the hip line foreshortened
    min_hip_ratio: float = 0.10
    centre_tol_frac: float = 0.15  # hip midpoint this far from the centre: move the camera
    edge_frac: float = 0.02  # a leg keypoint this close to the bottom edge is cut off
    # the window's median hip-line angle beyond this: not level. A runner's own pelvis can sit 2-3° off
    # level (subject 1 of Fukuchi 2017 averages -2.6° before any camera roll), so only a clear roll is flagged.
    level_tol_deg: float = 5.0
    level_min_frames: int = 30  # the level check needs a stride or more of frames (a second at 30 fps)
    view_frac: float = 0.8  # this share of frames with left/right reversed: wrong view setting

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score < 1.0:
            raise InputError("framing: min_score must be in [0, 1)")
        if not 0.0 < self.min_height_frac < self.max_height_frac <= 1.0:
            raise InputError("framing: need 0 < min_height_frac < max_height_frac <= 1")


DEFAULT_LIMITS = FramingLimits()


def _as_window(xy: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(xy, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    if xy.shape == (NUM_KEYPOINTS, 2):
        xy, score = xy[None], score.reshape(1, NUM_KEYPOINTS)
    if xy.ndim != 3 or xy.shape[1:] != (NUM_KEYPOINTS, 2) or score.shape != xy.shape[:2]:
        raise InputError(f"framing: expected xy (17, 2) or (N, 17, 2) and matching scores, got {xy.shape}")
    return xy, score


def _median_where(values: np.ndarray, mask: np.ndarray) -> float:
    picked = values[mask]
    return float(np.median(picked)) if picked.size else math.nan


def framing_advice(
    xy: np.ndarray,
    score: np.ndarray,
    frame_size: tuple[int, int],
    view: str = "posterior",
    limits: FramingLimits = DEFAULT_LIMITS,
) -> list[str]:
    """Plain-words advice for setting the camera up, most important first; ``[FRAMING_OK]`` when all is well.

    ``xy`` is one pose (17, 2) or a window of poses (N, 17, 2) in frame pixels, ``score``
    (17,) or (N, 17); ``frame_size`` is (width, height); ``view`` is "posterior" (the
    runner's back to the camera) or "anterior".
    """
    xy, score = _as_window(xy, score)
    w, h = frame_size
    if w <= 0 or h <= 0:
        raise InputError(f"framing: frame size must be positive, got {frame_size}")
    n = xy.shape[0]
    if n == 0:
        return [NO_RUNNER]
    seen = score >= limits.min_score  # (N, 17)
    lower = [int(p) for p in _LOWER]
    # a frame has a runner when enough lower-body keypoints are seen
    present = seen[:, lower].sum(axis=1) >= limits.min_keypoints
    if present.mean() < limits.seen_frac:
        return [NO_RUNNER]
    xy, seen = xy[present], seen[present]
    seen_frac = seen.mean(axis=0)  # per keypoint, over the frames with a runner
    visible = seen_frac >= limits.seen_frac

    def med(part: BodyPart, axis: int) -> float:
        return _median_where(xy[:, part, axis], seen[:, part])

    advice: list[str] = []
    lh, rh = BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP
    hips = bool(visible[lh] and visible[rh])
    if not hips:
        advice.append(HIPS_NOT_VISIBLE)
    legs_cut = not all(visible[p] for p in _LEGS)
    bottom = h * (1.0 - limits.edge_frac)
    for p in _LEGS:
        if visible[p] and med(p, 1) > bottom:
            legs_cut = True
    if legs_cut:
        advice.append(LEGS_NOT_VISIBLE)

    both_hips = seen[:, lh] & seen[:, rh]
    if hips:
        hip_y = np.nanmean([med(lh, 1), med(rh, 1)])
        mid_x = _median_where((xy[:, lh, 0] + xy[:, rh, 0]) / 2.0, both_hips)
        hip_width_px = _median_where(np.hypot(*(xy[:, rh] - xy[:, lh]).T), both_hips)
        ankles = [med(p, 1) for p in (BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE) if visible[p]]
        height_px = max(ankles) - hip_y if ankles else math.nan
        short = not math.isnan(height_px) and height_px < limits.min_height_frac * h
        side_on = not short and not math.isnan(height_px) and hip_width_px < limits.min_hip_ratio * height_px
        if side_on:  # narrow hips on a tall enough runner: foreshortened, not far away
            advice.append(SIDE_ON)
        elif short or hip_width_px < limits.min_hip_width_px:
            advice.append(TOO_SMALL)
        elif not legs_cut and not math.isnan(height_px) and height_px > limits.max_height_frac * h:
            advice.append(TOO_BIG)
        offset = (mid_x - w / 2.0) / w
        if offset < -limits.centre_tol_frac:
            advice.append(MOVE_LEFT)
        elif offset > limits.centre_tol_frac:
            advice.append(MOVE_RIGHT)
        # left/right: in the posterior view the runner's left hip is on the image's left
        sign = 1.0 if view == "posterior" else -1.0
        dx = xy[both_hips, rh, 0] - xy[both_hips, lh, 0]
        if dx.size and float(np.mean(sign * dx < 0)) >= limits.view_frac:
            advice.append(VIEW_MISMATCH.format(other="anterior" if view == "posterior" else "posterior"))
        # level: the hip line (image left hip to image right hip) averaged over whole strides
        if int(both_hips.sum()) >= limits.level_min_frames and not side_on:  # a foreshortened hip line says nothing
            a, b = xy[both_hips, lh], xy[both_hips, rh]
            swap = (b[:, 0] < a[:, 0])[:, None]
            left_pt, right_pt = np.where(swap, b, a), np.where(swap, a, b)
            d = right_pt - left_pt
            tilt_deg = float(np.degrees(np.median(np.arctan2(-d[:, 1], d[:, 0]))))
            if abs(tilt_deg) > limits.level_tol_deg:
                advice.append(NOT_LEVEL.format(deg=abs(tilt_deg)))
    return advice or [FRAMING_OK]


def framing_ok(advice: list[str]) -> bool:
    """True when :func:`framing_advice` found nothing to fix."""
    return advice == [FRAMING_OK]


def _edge_color(a: BodyPart, b: BodyPart) -> tuple[int, int, int]:
    names = a.name + b.name
    if "LEFT" in names and "RIGHT" not in names:
        return COLOR_LEFT
    if "RIGHT" in names and "LEFT" not in names:
        return COLOR_RIGHT
    return COLOR_MID


def draw_skeleton(image_rgb: np.ndarray, xy: np.ndarray | None, score: np.ndarray | None,
                  min_score: float = 0.3) -> np.ndarray:
    """A copy of the RGB image with the COCO skeleton drawn: the runner's left magenta, right cyan, hips yellow.

    Keypoints scoring below ``min_score`` and the edges that touch them are not drawn.
    """
    image = np.asarray(image_rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"preview: expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    out = np.ascontiguousarray(image.copy())
    if xy is None or score is None:
        return out
    xy = np.asarray(xy, dtype=np.float64).reshape(NUM_KEYPOINTS, 2)
    score = np.asarray(score, dtype=np.float64).reshape(NUM_KEYPOINTS)
    ok = (score >= min_score) & np.isfinite(xy).all(axis=1)
    thick = max(2, round(min(out.shape[:2]) / 200))
    pts = np.round(np.where(ok[:, None], xy, 0.0)).astype(int)
    for a, b in SKELETON_EDGES:
        if ok[a] and ok[b]:
            width = thick * 2 if {a, b} == {BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP} else thick
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), _edge_color(a, b), width, cv2.LINE_AA)
    for part in BodyPart:
        if ok[part]:
            color = COLOR_LEFT if "LEFT" in part.name else COLOR_RIGHT if "RIGHT" in part.name else COLOR_MID
            cv2.circle(out, tuple(pts[part]), thick + 2, color, -1, cv2.LINE_AA)
            cv2.circle(out, tuple(pts[part]), thick + 2, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def encode_jpeg_atomic(image_rgb: np.ndarray, path: str | Path, quality: int = 80) -> int:
    """Write the RGB image as a JPEG at ``path`` atomically (temporary file + ``os.replace``); returns its bytes."""
    image = np.asarray(image_rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"preview: expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InputError("preview: JPEG encoding failed")
    path = Path(path)
    data = buf.tobytes()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".preview-", suffix=".jpg.tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # the web service may run as another user in the same group
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise StoreError(f"preview: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return len(data)
