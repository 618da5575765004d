"""The live page's camera preview: the skeleton drawn on the frame and the JPEG written atomically.

:func:`draw_skeleton` draws the 17 COCO keypoints on a copy of an RGB image and
:func:`encode_jpeg_atomic` writes it where the web app reads it (a temporary
file, then ``os.replace``, so a reader never sees half a JPEG). The framing
judgement the page shows beside it is :mod:`station.gait.framing`'s.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from station.coco import NUM_KEYPOINTS, BodyPart
from station.errors import InputError, StoreError
from station.keypoints import Pose

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


PREVIEW_MAX_WIDTH = 640


def _canvas_size(xy: np.ndarray, score: np.ndarray) -> tuple[int, int]:
    """A canvas that holds the keypoints, for poses without a frame size (pose tracks)."""
    ok = score > 0
    if not ok.any():
        return 640, 480
    mx = np.nanmax(xy[ok], axis=0)
    w = int(min(max(640, math.ceil(mx[0] / 32) * 32 + 32), 1920))
    h = int(min(max(480, math.ceil(mx[1] / 32) * 32 + 32), 1920))
    return w, h


def blank_canvas(pose: Pose) -> np.ndarray:
    """A dark RGB canvas of the pose's frame size (or one that holds its keypoints), for frames without a picture."""
    w, h = pose.frame_size or _canvas_size(pose.xy, pose.score)
    return np.full((h, w, 3), 32, np.uint8)


def write_preview(image_rgb: np.ndarray | None, pose: Pose, path: str | Path,
                  max_width: int = PREVIEW_MAX_WIDTH) -> int:
    """The live preview: the frame (or a dark canvas for a pose track) at most ``max_width`` wide with the
    pose's skeleton drawn, written atomically as a JPEG; returns its bytes."""
    if image_rgb is None:
        image_rgb = blank_canvas(pose)
    xy = pose.xy
    if image_rgb.shape[1] > max_width:
        k = max_width / image_rgb.shape[1]
        image_rgb = cv2.resize(image_rgb, (max_width, round(image_rgb.shape[0] * k)), interpolation=cv2.INTER_AREA)
        xy = xy * k
    return encode_jpeg_atomic(draw_skeleton(image_rgb, xy, pose.score), path)
