"""Per-frame checks: is the runner in view and measurable, and left/right swap repair."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from station.coco import BodyPart

# left/right keypoint pairs (COCO), used to undo a whole-body left/right swap
LR_PAIRS: tuple[tuple[BodyPart, BodyPart], ...] = (
    (BodyPart.LEFT_EYE, BodyPart.RIGHT_EYE),
    (BodyPart.LEFT_EAR, BodyPart.RIGHT_EAR),
    (BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER),
    (BodyPart.LEFT_ELBOW, BodyPart.RIGHT_ELBOW),
    (BodyPart.LEFT_WRIST, BodyPart.RIGHT_WRIST),
    (BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP),
    (BodyPart.LEFT_KNEE, BodyPart.RIGHT_KNEE),
    (BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE),
)
_SWAP_INDEX = np.arange(len(BodyPart))
for _l, _r in LR_PAIRS:
    _SWAP_INDEX[_l], _SWAP_INDEX[_r] = int(_r), int(_l)

LOWER_BODY: tuple[BodyPart, ...] = (
    BodyPart.LEFT_HIP,
    BodyPart.RIGHT_HIP,
    BodyPart.LEFT_KNEE,
    BodyPart.RIGHT_KNEE,
    BodyPart.LEFT_ANKLE,
    BodyPart.RIGHT_ANKLE,
)

REASON_NOT_IN_VIEW = "runner not in view"
REASON_HIPS = "hips not visible"
REASON_FEET = "feet not visible"
REASON_SMALL = "runner too small"
REASON_EDGE = "runner at the edge of the frame"
REASON_REVERSED = "left and right look reversed: check the view setting (posterior/anterior)"
REASON_SIDE = "runner seen from the side: the camera must be behind (or in front of) the runner"


@dataclass(frozen=True)
class FramingStatus:
    """What the latest frames say about framing, for the station's "framing bad" LED state."""

    in_view: bool
    framing_ok: bool
    reason: str | None = None


def lateral_sign(view: str) -> int:
    """+1 when the runner's right appears on the image's right (posterior view), -1 when mirrored (anterior)."""
    return 1 if view == "posterior" else -1


def swap_left_right(xy: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same pose with every left/right keypoint pair exchanged."""
    return xy[_SWAP_INDEX], score[_SWAP_INDEX]


def hips_reversed(xy: np.ndarray, ok: np.ndarray, sign: int) -> bool:
    """True when both hips are seen and the runner's left hip is on the runner's right side of the image.

    The hips are never crossed in a frontal view, so this is a labelling glitch of the
    pose model (or the wrong view setting), not anatomy.
    """
    lh, rh = BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP
    return bool(ok[lh] and ok[rh] and sign * (xy[rh, 0] - xy[lh, 0]) < 0.0)


def check_frame(
    xy: np.ndarray,
    ok: np.ndarray,
    min_hip_width_px: float,
    frame_size: tuple[int, int] | None = None,
    edge_frac: float = 0.01,
) -> str | None:
    """The first reason this frame cannot be measured, or None when it can."""
    lower = [int(p) for p in LOWER_BODY]
    if not ok[lower].any():
        return REASON_NOT_IN_VIEW
    lh, rh = BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP
    if not (ok[lh] and ok[rh]):
        return REASON_HIPS
    if not (ok[BodyPart.LEFT_ANKLE] and ok[BodyPart.RIGHT_ANKLE]):
        return REASON_FEET
    if float(np.hypot(*(xy[rh] - xy[lh]))) < min_hip_width_px:
        return REASON_SMALL
    if frame_size is not None:
        w, h = frame_size
        pts = xy[lower][ok[lower]]
        mx, my = edge_frac * w, edge_frac * h
        if (pts[:, 0] < mx).any() or (pts[:, 0] > w - mx).any() or (pts[:, 1] < my).any() or (pts[:, 1] > h - my).any():
            return REASON_EDGE
    return None
