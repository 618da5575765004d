"""Framing: is the runner in view and measurable, what to do about it, and left/right swap repair.

Pure numpy. Two views of one judgement, in one wording:

* :func:`check_frame` — per frame, for the analyzer: the first reason a frame cannot be
  measured (:class:`FramingStatus`, which drives the LEDs' "framing bad" state);
* :func:`framing_advice` — over the last second or so of poses, for the person setting the
  camera up: plain words, most important first. Over a window the advice is steady instead
  of flickering with every stride, and the level check (the hip line averaged over whole
  strides) becomes possible. Directions are the camera's own: "move the camera left" means
  towards the left of the picture, the left of someone standing behind the camera.

:func:`judge` joins the two into the :class:`FramingView` the station publishes.

>>> import numpy as np
>>> framing_advice(np.zeros((17, 2)), np.zeros(17), (640, 480))
['no runner in view']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from station.coco import NUM_KEYPOINTS, BodyPart
from station.errors import InputError

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

# The one wording of every framing judgement: the per-frame check (why a frame cannot be measured), the
# advice over the last second (what to do about it), the LEDs' reasons, the live page.
FRAMING_OK = "framing OK"
NO_RUNNER = "no runner in view"
HIPS_NOT_VISIBLE = "hips not visible — the runner's hips must be in the picture"
LEGS_NOT_VISIBLE = "knees/ankles not visible — move the camera back or lower"
TOO_SMALL = "runner too small — move the camera closer"
TOO_BIG = "runner too close — move the camera back"
SIDE_ON = "runner seen from the side — put the camera straight behind the runner"
AT_EDGE = "runner at the edge of the picture — centre the camera on the runner"
MOVE_LEFT = "move the camera left — the runner is off to the left of the picture"
MOVE_RIGHT = "move the camera right — the runner is off to the right of the picture"
NOT_LEVEL = "camera not level? the hip line leans {deg:.0f}° on average"
VIEW_MISMATCH = ("left and right look reversed — check the view setting (posterior: camera behind the runner; "
                 "anterior: in front)")

# the reasons the per-frame check gives, in the same words
REASON_NOT_IN_VIEW = NO_RUNNER
REASON_HIPS = HIPS_NOT_VISIBLE
REASON_FEET = LEGS_NOT_VISIBLE
REASON_SMALL = TOO_SMALL
REASON_EDGE = AT_EDGE
REASON_REVERSED = VIEW_MISMATCH
REASON_SIDE = SIDE_ON


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


_LEGS = (BodyPart.LEFT_KNEE, BodyPart.RIGHT_KNEE, BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE)


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
    lower = [int(p) for p in LOWER_BODY]
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
            advice.append(VIEW_MISMATCH)
        # level: the hip line (image left hip to image right hip) averaged over whole strides
        tilt_deg = None if side_on else _hip_tilt_deg(xy, both_hips, limits)  # a foreshortened line says nothing
        if tilt_deg is not None and abs(tilt_deg) > limits.level_tol_deg:
            advice.append(NOT_LEVEL.format(deg=abs(tilt_deg)))
    return advice or [FRAMING_OK]


def _hip_tilt_deg(xy: np.ndarray, both_hips: np.ndarray, limits: FramingLimits) -> float | None:
    """The hip line's median angle (image left hip to image right hip), + when its right end is higher in the
    picture; None with fewer than a stride of frames showing both hips."""
    if int(both_hips.sum()) < limits.level_min_frames:
        return None
    a, b = xy[both_hips, BodyPart.LEFT_HIP], xy[both_hips, BodyPart.RIGHT_HIP]
    swap = (b[:, 0] < a[:, 0])[:, None]
    left_pt, right_pt = np.where(swap, b, a), np.where(swap, a, b)
    d = right_pt - left_pt
    return float(np.degrees(np.median(np.arctan2(-d[:, 1], d[:, 0]))))


#: hip joint to the standing leg's ankle, straight down, of a 1.75 m runner (0.46 of body height): the
#: yardstick of the distance estimate
LEG_M = 0.80


@dataclass(frozen=True)
class FramingMeasures:
    """Where the runner is in the picture, for aiming the camera: their box (fractions of the frame: x0, y0, x1,
    y1), the hip line's tilt over whole strides (deg, + when its right end is higher) and the distance their leg
    length says (m, from the camera's horizontal field of view and :data:`LEG_M`)."""

    box: tuple[float, float, float, float] | None = None
    tilt_deg: float | None = None
    distance_m: float | None = None


def framing_measures(
    xy: np.ndarray,
    score: np.ndarray,
    frame_size: tuple[int, int],
    hfov_deg: float | None = None,
    limits: FramingLimits = DEFAULT_LIMITS,
) -> FramingMeasures:
    """The runner's box, the hip line's tilt and the distance estimate over a window of poses (see
    :func:`framing_advice` for the arguments); empty measures when nobody is there."""
    xy, score = _as_window(xy, score)
    w, h = frame_size
    seen = score >= limits.min_score
    present = seen[:, [int(p) for p in LOWER_BODY]].sum(axis=1) >= limits.min_keypoints
    if xy.shape[0] == 0 or w <= 0 or h <= 0 or present.mean() < limits.seen_frac:
        return FramingMeasures()
    xy, seen = xy[present], seen[present]
    pts = xy[seen]
    lo, hi = np.percentile(pts, 2, axis=0), np.percentile(pts, 98, axis=0)
    box = (float(lo[0] / w), float(lo[1] / h), float(hi[0] / w), float(hi[1] / h))
    lh, rh = BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP
    both_hips = seen[:, lh] & seen[:, rh]
    tilt = _hip_tilt_deg(xy, both_hips, limits)
    distance = None
    ankles = seen[:, BodyPart.LEFT_ANKLE] & seen[:, BodyPart.RIGHT_ANKLE] & both_hips
    if hfov_deg and ankles.any():
        lower_ankle = np.maximum(xy[ankles, BodyPart.LEFT_ANKLE, 1], xy[ankles, BodyPart.RIGHT_ANKLE, 1])
        leg_px = float(np.median(lower_ankle - (xy[ankles, lh, 1] + xy[ankles, rh, 1]) / 2))  # the standing leg
        if leg_px > 0:
            distance = (w / 2) / math.tan(math.radians(hfov_deg) / 2) * LEG_M / leg_px
    return FramingMeasures(box=box, tilt_deg=tilt, distance_m=distance)


def framing_ok(advice: list[str]) -> bool:
    """True when :func:`framing_advice` found nothing to fix."""
    return advice == [FRAMING_OK]


@dataclass(frozen=True)
class FramingView:
    """The station's framing judgement as the live page shows it: OK or not, and what to do, in plain words.

    ``ok`` is None when nothing has been judged yet (no frames).
    """

    ok: bool | None = None
    messages: tuple[str, ...] = ()
    measures: FramingMeasures = FramingMeasures()

    def to_dict(self) -> dict[str, object]:
        m = self.measures
        return {"ok": self.ok, "messages": list(self.messages), "box": None if m.box is None else list(m.box),
                "tilt_deg": m.tilt_deg, "distance_m": m.distance_m}

    @classmethod
    def from_dict(cls, d: dict[str, object] | None) -> FramingView:
        d = d or {}
        ok = d.get("ok")
        messages = d.get("messages") or ()
        box = d.get("box")
        box_ok = isinstance(box, list | tuple) and len(box) == 4 and all(_finite(v) for v in box)
        measures = FramingMeasures(box=tuple(float(v) for v in box) if box_ok else None,  # type: ignore[arg-type,union-attr]
                                   tilt_deg=float(d["tilt_deg"]) if _finite(d.get("tilt_deg")) else None,  # type: ignore[arg-type]
                                   distance_m=float(d["distance_m"]) if _finite(d.get("distance_m")) else None)  # type: ignore[arg-type]
        return cls(ok=ok if isinstance(ok, bool) else None,
                   messages=tuple(str(m) for m in messages) if isinstance(messages, list | tuple) else (),
                   measures=measures)


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def judge(status: FramingStatus, advice: list[str] | None, measures: FramingMeasures | None = None) -> FramingView:
    """One framing judgement from the analyzer's per-frame status and the advice over the last second.

    OK when the analyzer measures the runner and the advice finds nothing to fix; the messages
    are the advice, then the analyzer's reason when the advice does not already say it.
    """
    messages = [m for m in (advice or []) if m != FRAMING_OK]
    ok = bool(status.in_view and status.framing_ok) and not messages
    if not ok and status.reason and status.reason not in messages:
        messages.append(status.reason)
    return FramingView(ok=ok, messages=tuple(messages), measures=measures or FramingMeasures())
