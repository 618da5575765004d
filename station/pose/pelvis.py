"""The pelvis line from the picture: a refinement pass that sets the angle and the height of the model's hips.

On by default (``model.pelvis_line``; ``--no-pelvis-line`` on ``pose``, ``analyze``, ``validate`` and
``bench`` gives the model's own hips). Why it is on: on rendered runners (docs/validation.md) MoveNet's own
hip line has no correlation with the pelvis's obliquity (r = -0.06 to 0.02 frame by frame at 3 m) and
BlazePose's 0.13-0.81; this line's is 0.95-0.99, with 78-83 % of the pelvis's movement. It reads the
drop low, not at random. It has not been validated on real people with a reference.

Why. Pose models put the hips where their training put them: MoveNet half a hip width above the hip
joint centres and noisy (obliquity SD ~5°), BlazePose on the hip centres but with a hip line that stays
nearer level than the pelvis (77-84 % of its error locked to the stride). Rendered runners with
force-plate truth (docs/validation.md) show that every model reads under half of a 2° hip drop:
their hips follow the buttocks and thighs, which move with the legs, not with the pelvis. What follows
the pelvis in a picture from behind is the waist: the band just above the hip joints, where the
garments meet and the back is mirror-symmetric about the spine. Its axis of symmetry is perpendicular
to the pelvis line.

How. Around the model's hip midpoint, the strongest horizontal edge between 0.7 shoulder widths above
the hips and 0.3 below (where the garments meet) is found, and a thin band ±0.1 shoulder widths about it
and ±0.36 across (inside the body's outline at any hip width, so the swinging arms and the background stay
out) is resampled level for each candidate tilt; the tilt whose band is most nearly mirror-symmetric
(normalised cross-correlation of the left half with the mirrored right half, the axis free to move
sideways) is the pelvis line. What is compared is the band's change from row to row, not its brightness
(``vertical_derivative``): a light from one side shades one half of the back more than the other, the same
all the way down the band, and the brightness made the right side's drop read 0.5-0.9° lower than the
left's under the renders' gym light and not under a symmetric one. Coarse search ±12° about the normal of
the trunk (so a rolled camera is followed), then a least-squares parabola through the seven tilts within
3° of the best, 1° apart (:func:`_peak`). The symmetry is a little jagged from tilt to tilt (the band is
resampled at every one), and a parabola through only the best three followed that jitter: a tenth of a
pixel's change in where the band sits moved the reading by 0.4-0.6° (SD) on rendered runners; over seven
tilts it moves it by 0.1°. The scale is the model's shoulder width (the most stable width any of the models
gives, median over the last second); nothing is fitted to a runner or a model.

What it changes. The angle of the hip line: both hips turn about their midpoint, keeping their distance
and which hip is on which side. And the midpoint follows the waist point of this frame (``follow_waist``,
see :meth:`PelvisLine.refine`), so the hips' height, which times the steps, no longer lags with a tracking
crop. When the band is not symmetric enough (another person, an overlay, a loose shirt flapping) or the
best tilt is at the edge of the search, the model's hips stay as they were.

Fragile where the picture has no symmetric waist: a shirt hanging loose over the waistband, a logo or a
bag on one side, light from one side only. Those read as a constant offset (which the drop excursion
ignores) unless they move with the stride.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from station.coco import BodyPart
from station.keypoints import Pose
from station.pose.base import PoseEstimator

LH, RH, LS, RS = BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP, BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER

#: the short side, in px, of the frames a camera gives the station when the pelvis line is on: the model's
#: crop is cut from them as before, and the waist keeps the scale it was validated at (a 540x960 render at
#: 3 m: shoulders ~80 px apart); the model's own input size (192 or 256 px) would leave ~30 px.
FRAME_SHORT_SIDE_PX = 540


@dataclass(frozen=True)
class PelvisLineSettings:
    """The band and the search, in shoulder widths (the scale) and degrees."""

    band_up: float = 0.5  # band top above the hip midpoint
    band_down: float = 0.25  # band bottom below the hip midpoint (MoveNet puts its hips at the waist)
    half_width: float = 0.36  # band half width (each side of the axis)
    axis_shift: float = 0.1  # the axis of symmetry may sit this far either side of the hip midpoint
    samples: int = 48  # resampled samples per shoulder width (the thin band is 47 across x 11 down)
    span_deg: float = 12.0  # tilts searched either side of the trunk's normal
    track_span_deg: float = 5.0  # after a reading, first search this far either side of it
    step_deg: float = 2.0  # coarse step ...
    fine_half_deg: float = 3.0  # ... then a least-squares parabola through the tilts within this of the best ...
    fine_step_deg: float = 1.0  # ... this far apart
    min_symmetry: float = 0.5  # best correlation below this: keep the model's hips
    min_score: float = 0.3  # hips and shoulders below this score are not used
    scale_frames: int = 30  # the shoulder width is the median over this many frames
    waist_edge: bool = True  # centre a thin band on the strongest horizontal edge (where the garments meet)
    edge_up: float = 0.7  # the edge is looked for from this far above the hip midpoint ...
    edge_down: float = 0.3  # ... to this far below it
    edge_above: float = 0.1  # the thin band reaches this far above the edge ...
    edge_below: float = 0.1  # ... and this far below it
    min_scale_px: float = 24.0  # a shoulder width below this is too small to read a waist from
    vertical_derivative: bool = True  # compare the band's change down its rows, not its brightness (see _Band)
    follow_waist: bool = True  # the hip midpoint moves with the waist point found in this frame (see refine)
    offset_window_s: float = 2.0  # the model's hips' usual place against the waist point: median over this long


@dataclass(frozen=True)
class PelvisReading:
    """One frame's pelvis line: image angle (deg, + when the image-right end is higher), symmetry, axis."""

    angle_deg: float
    symmetry: float  # normalised cross-correlation of the band's halves at the best tilt
    axis_px: tuple[float, float]  # a point on the axis of symmetry (frame px)


class PelvisLine:
    """Measures the pelvis line of one frame from the picture (see the module docstring).

    Keeps the recent shoulder widths (the scale); ``reset()`` forgets them.
    """

    def __init__(self, settings: PelvisLineSettings | None = None) -> None:
        self.settings = settings or PelvisLineSettings()
        self._widths: deque[float] = deque(maxlen=self.settings.scale_frames)
        self._offsets: deque[tuple[float, float, float]] = deque()  # (t_s, waist point - model's hip midpoint)
        #: the last frame's reading, or None when the model's hips were kept
        self.last: PelvisReading | None = None

    def reset(self) -> None:
        self._widths.clear()
        self._offsets.clear()
        self.last = None

    def scale_px(self, xy: np.ndarray, score: np.ndarray) -> float | None:
        """The shoulder width (median over the recent frames that showed both shoulders), or None."""
        if score[LS] >= self.settings.min_score and score[RS] >= self.settings.min_score:
            self._widths.append(float(np.hypot(*(xy[RS] - xy[LS]))))
        if not self._widths:
            return None
        width = float(np.median(self._widths))
        return width if width >= self.settings.min_scale_px else None

    def measure(self, image: np.ndarray, xy: np.ndarray, score: np.ndarray) -> PelvisReading | None:
        """The pelvis line of ``image`` around the pose's hips, or None when it cannot be read."""
        s = self.settings
        scale = self.scale_px(xy, score)
        if scale is None or score[LH] < s.min_score or score[RH] < s.min_score:
            return None
        centre = (xy[LH] + xy[RH]) / 2.0
        shoulders = (xy[LS] + xy[RS]) / 2.0
        up = centre - shoulders  # trunk axis, hips minus shoulders: "down" in the image when upright
        if np.hypot(*up) < 1e-6:
            return None
        # the line perpendicular to the trunk, pointing to the image's right: its angle is the search centre
        direction = np.array([up[1], -up[0]])
        if direction[0] < 0:
            direction = -direction
        centre_deg = math.degrees(math.atan2(-direction[1], direction[0]))
        up_sw, down_sw = s.band_up, s.band_down
        if s.waist_edge:
            tall = _Band(image, centre, scale, s, s.edge_up, s.edge_down)
            if tall.patch_source is None:
                return None
            offset = tall.strongest_edge(self.last.angle_deg if self.last is not None else centre_deg)
            if offset is None:
                return None
            r = math.radians(self.last.angle_deg if self.last is not None else centre_deg)
            centre = centre + offset * scale * np.array([math.sin(r), math.cos(r)])
            up_sw, down_sw = s.edge_above, s.edge_below
        band = _Band(image, centre, scale, s, up_sw, down_sw)
        if band.patch_source is None:
            return None
        found = None
        last = self.last
        if last is not None and abs(last.angle_deg - centre_deg) < s.span_deg - s.track_span_deg:
            # the pelvis line moves a few degrees per frame at most: look near the last one first
            found = _coarse(band, last.angle_deg, s.track_span_deg, s.step_deg)
        if found is None:
            found = _coarse(band, centre_deg, s.span_deg, s.step_deg)
        if found is None:
            return None  # the best tilt is at the edge of the search: no symmetric waist here
        angle, best, (symmetry, shift) = _peak(band, *found, s.fine_half_deg, s.fine_step_deg)
        if symmetry < s.min_symmetry:
            return None
        r = math.radians(best)
        axis = centre + shift * np.array([math.cos(r), -math.sin(r)])
        return PelvisReading(angle_deg=float(angle), symmetry=float(symmetry), axis_px=(float(axis[0]), float(axis[1])))

    def refine(self, image: np.ndarray, pose: Pose) -> Pose:
        """The pose with its hip line turned to the measured pelvis line (or unchanged if it cannot be read).

        With ``follow_waist`` the hip midpoint also moves with the waist point this frame's reading found
        (on the axis of symmetry, at the waist edge), kept at the model's usual place against it (the median
        offset over ``offset_window_s``): the hips' height then comes from this frame's picture. A tracking
        model's own hips lag it (MoveNet leans towards its crop's centre, which the previous frame placed),
        and the contact, timed from the pelvis's fall, came late with them.
        """
        reading = self.measure(image, pose.xy, pose.score)
        self.last = reading
        if reading is None:
            return pose
        xy = pose.xy.copy()
        left, right = xy[LH], xy[RH]
        centre, half = (left + right) / 2.0, float(np.hypot(*(right - left))) / 2.0
        if self.settings.follow_waist:
            centre = self._follow(pose.t_s, np.asarray(reading.axis_px, dtype=np.float64), centre)
        r = math.radians(reading.angle_deg)
        along = np.array([math.cos(r), -math.sin(r)]) * half  # towards the image's right
        # the hip that is on the image's left stays on the left (posterior view: the left hip)
        if left[0] <= right[0]:
            xy[LH], xy[RH] = centre - along, centre + along
        else:
            xy[LH], xy[RH] = centre + along, centre - along
        return Pose(pose.t_s, xy, pose.score, pose.frame_size)

    def _follow(self, t_s: float, waist: np.ndarray, centre: np.ndarray) -> np.ndarray:
        """The hip midpoint at the waist point minus the recent median offset between the two."""
        offsets = self._offsets
        if offsets and t_s < offsets[-1][0]:
            offsets.clear()  # time went backwards: a new stream
        offsets.append((t_s, float(waist[0] - centre[0]), float(waist[1] - centre[1])))
        while offsets[0][0] < t_s - self.settings.offset_window_s:
            offsets.popleft()
        d = np.median(np.array([(dx, dy) for _, dx, dy in offsets]), axis=0)
        return waist - d


def _coarse(band: _Band, centre_deg: float, span_deg: float,
            step_deg: float) -> tuple[float, dict[float, tuple[float, float]]] | None:
    """The best tilt on a grid of ``step_deg`` within ``span_deg`` of ``centre_deg`` and every tilt's symmetry
    (by tilt); None if the best is at the edge of the grid."""
    grid = [float(a) for a in np.arange(-span_deg, span_deg + 1e-9, step_deg) + centre_deg]
    results = {a: band.symmetry(a) for a in grid}
    k = int(np.argmax([results[a][0] for a in grid]))
    if k == 0 or k == len(grid) - 1:
        return None
    return grid[k], results


def _peak(band: _Band, best_deg: float, known: dict[float, tuple[float, float]], half_deg: float,
          step_deg: float) -> tuple[float, float, tuple[float, float]]:
    """The sub-degree tilt of the symmetry's peak near ``best_deg``: (tilt, the best tilt looked at, its result).

    A least-squares parabola through the tilts within ``half_deg`` of the best, ``step_deg`` apart (the coarse
    search's own results reused where they fall on them); its vertex when it is a maximum inside them, else
    the best of them.
    """
    offsets = np.arange(-half_deg, half_deg + 1e-9, step_deg)
    results = []
    for d in offsets:
        a = best_deg + float(d)
        hit = next((r for k, r in known.items() if abs(k - a) < 1e-6), None)
        results.append(hit if hit is not None else band.symmetry(a))
    y = np.array([r[0] for r in results])
    k = int(np.argmax(y))
    c2, c1, _ = np.polyfit(offsets, y, 2)
    vertex = -c1 / (2.0 * c2) if c2 < 0 else None
    top = best_deg + float(offsets[k])
    if vertex is None or not offsets[0] <= vertex <= offsets[-1]:
        return top, top, results[k]
    return best_deg + float(vertex), top, results[k]


class _Band:
    """The waist band of one frame, resampled level for any tilt."""

    def __init__(self, image: np.ndarray, centre: np.ndarray, scale: float, s: PelvisLineSettings,
                 up: float, down: float) -> None:
        self.s = s
        self.step = scale / s.samples  # frame px per sample
        self.k = int(round(s.half_width * s.samples))  # samples per half
        self.o = max(1, int(round(s.axis_shift * s.samples)))  # axis positions either side
        self.m = self.k + self.o + 1  # samples either side of the centre column
        self.r0 = int(round(up * s.samples))
        self.r1 = int(round(down * s.samples))
        # the region any tilt can reach, cut once, smoothed against aliasing when the band is shrunk
        reach = math.hypot(self.m, max(self.r0, self.r1)) * self.step + 2.0
        h, w = image.shape[:2]
        x0, y0 = max(0, int(centre[0] - reach)), max(0, int(centre[1] - reach))
        x1, y1 = min(w, int(centre[0] + reach) + 1), min(h, int(centre[1] + reach) + 1)
        if x1 - x0 < 8 or y1 - y0 < 8:
            self.patch_source = None
            return
        region = image[y0:y1, x0:x1].astype(np.float32)
        if self.step > 1.2:
            region = cv2.GaussianBlur(region, (0, 0), 0.5 * self.step)
        self.patch_source = region
        self.origin = np.array([x0, y0], dtype=np.float64)
        self.centre = np.asarray(centre, dtype=np.float64)

    def patch(self, angle_deg: float) -> np.ndarray:
        """The band levelled for a pelvis line at ``angle_deg``: rows from top, columns left to right."""
        r = math.radians(angle_deg)
        along = np.array([math.cos(r), -math.sin(r)]) * self.step  # one sample to the right along the line
        down = np.array([math.sin(r), math.cos(r)]) * self.step  # one sample down, perpendicular to it
        a = np.stack([along, down], axis=1)
        b = self.centre - self.origin - a @ np.array([self.m, self.r0], dtype=np.float64)
        m = np.hstack([a, b[:, None]]).astype(np.float32)
        size = (2 * self.m + 1, self.r0 + self.r1 + 1)
        return cv2.warpAffine(self.patch_source, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    def strongest_edge(self, angle_deg: float) -> float | None:
        """Where the strongest horizontal edge across the band's middle lies, in shoulder widths below the centre."""
        p = self.patch(angle_deg)
        if p.ndim == 2:
            p = p[:, :, None]
        mid = p[:, self.m - self.k : self.m + self.k + 1]
        grad = np.sqrt(((mid[2:] - mid[:-2]) ** 2).sum(axis=2)).mean(axis=1)  # rows 1 .. n-2
        i = int(np.argmax(grad))
        if i == 0 or i == len(grad) - 1:
            return None
        y0, y1, y2 = grad[i - 1], grad[i], grad[i + 1]
        den = y0 - 2.0 * y1 + y2
        row = i + 1 + (0.5 * (y0 - y2) / den if den < 0 else 0.0)
        return float((row - self.r0) / self.s.samples)

    def symmetry(self, angle_deg: float) -> tuple[float, float]:
        """(best correlation of the left half with the mirrored right half, axis shift in px) at this tilt."""
        p = self.patch(angle_deg)
        if p.ndim == 2:
            p = p[:, :, None]
        if self.s.vertical_derivative:
            # a light from one side makes one half of the back brighter than the other, the same all the way
            # down the thin band; row-to-row differences drop that shading and keep the edges that turn with
            # the pelvis (the garments' seam, the waist's outline)
            p = p[1:] - p[:-1]
        k, o, m = self.k, self.o, self.m
        windows = sliding_window_view(p, k, axis=1)  # (rows, positions, channels, k)
        shifts = np.arange(-o, o + 1)
        right = windows[:, m + shifts + 1]  # columns c+1 .. c+k of each candidate axis c = m + shift
        left = windows[:, m + shifts - k][..., ::-1]  # columns c-1 .. c-k
        right = np.moveaxis(right, 1, 0).reshape(len(shifts), -1)
        left = np.moveaxis(left, 1, 0).reshape(len(shifts), -1)
        right = right - right.mean(axis=1, keepdims=True)
        left = left - left.mean(axis=1, keepdims=True)
        den = np.sqrt((right * right).sum(axis=1) * (left * left).sum(axis=1)) + 1e-9
        ncc = (right * left).sum(axis=1) / den
        i = int(np.argmax(ncc))
        return float(ncc[i]), float(shifts[i] * self.step)


class PelvisRefined(PoseEstimator):
    """A pose estimator whose hip line is turned to the pelvis line read from the picture (:class:`PelvisLine`).

    Everything else (keypoints, scores, tracking, name, input size, interpreters) is the wrapped estimator's.
    """

    def __init__(self, base: PoseEstimator, line: PelvisLine | None = None) -> None:
        self.base = base
        self.line = line or PelvisLine()
        self.name = base.name

    def estimate(self, image: np.ndarray, t_s: float = 0.0) -> Pose:
        pose = self.base.estimate(image, t_s)
        return self.line.refine(image, pose)

    def reset(self) -> None:
        self.base.reset()
        self.line.reset()

    def close(self) -> None:
        self.base.close()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        # input_size, tflite_models, last_passes, ...: the wrapped estimator's
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)
