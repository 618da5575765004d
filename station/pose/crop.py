"""Square crops of a frame, resized to a model's input, and the way back to frame pixels.

Both estimators need the same two things: cut a square (possibly partly outside
the frame, possibly rotated) out of an RGB frame at the model's input size, and
map points found in that crop back to source-frame pixels. :class:`Crop`
carries the exact affine transform used, so the mapping back is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Square:
    """A square region of the frame in pixels: centre, half side, rotation.

    ``rotation`` is in radians, clockwise on screen (image y points down), as
    MediaPipe's ``NormalizedRect.rotation``: the region's "up" points along
    (sin r, -cos r) in frame pixels.
    """

    cx: float
    cy: float
    half: float
    rotation: float = 0.0

    @classmethod
    def whole_frame(cls, width: int, height: int) -> Square:
        """The smallest square centred on the frame that holds all of it (the frame is letterboxed)."""
        return cls(width / 2.0, height / 2.0, max(width, height) / 2.0)


@dataclass(frozen=True)
class Crop:
    """A crop ready for a model: ``image`` (size × size × 3) and ``to_frame`` (2×3 affine, crop px → frame px)."""

    image: np.ndarray
    to_frame: np.ndarray

    def points_to_frame(self, xy: np.ndarray) -> np.ndarray:
        """Map (N, 2) points in crop pixels to frame pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        return xy @ self.to_frame[:, :2].T + self.to_frame[:, 2]


def cut(image: np.ndarray, region: Square, size: int) -> Crop:
    """Cut ``region`` out of ``image`` as a ``size``×``size`` crop (outside the frame is black).

    Unrotated downscales go through an area filter (``cv2.INTER_AREA``) so a
    1080p frame shrunk to 192 px does not alias; rotated crops use one bilinear
    warp, as MediaPipe does.
    """
    h, w = image.shape[:2]
    side = 2.0 * region.half
    if region.rotation == 0.0:
        x0, y0 = region.cx - region.half, region.cy - region.half
        ix0, iy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
        ix1, iy1 = min(w, math.ceil(x0 + side)), min(h, math.ceil(y0 + side))
        canvas = np.zeros((size, size, 3), dtype=image.dtype)
        scale = size / side
        if ix1 > ix0 and iy1 > iy0:
            sub = image[iy0:iy1, ix0:ix1]
            # place the in-frame part; its top-left lands at (ix0 - x0) * scale in the crop
            ox, oy = (ix0 - x0) * scale, (iy0 - y0) * scale
            px0, py0 = min(size - 1, max(0, round(ox))), min(size - 1, max(0, round(oy)))
            nw = max(1, min(size - px0, round((ix1 - ix0) * scale)))
            nh = max(1, min(size - py0, round((iy1 - iy0) * scale)))
            interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            canvas[py0 : py0 + nh, px0 : px0 + nw] = cv2.resize(sub, (nw, nh), interpolation=interp)
            sx, sy = nw / (ix1 - ix0), nh / (iy1 - iy0)
            # frame x = ix0 + (crop x - px0) / sx
            to_frame = np.array([[1.0 / sx, 0.0, ix0 - px0 / sx], [0.0, 1.0 / sy, iy0 - py0 / sy]])
        else:
            to_frame = np.array([[1.0 / scale, 0.0, x0], [0.0, 1.0 / scale, y0]])
        return Crop(canvas, to_frame)
    # rotated: crop pixel (u, v) -> frame = centre + R @ ((u, v) - size/2) / scale, R = [[c, -s], [s, c]]
    scale = size / side
    c, s = math.cos(region.rotation), math.sin(region.rotation)
    rot = np.array([[c, -s], [s, c]]) / scale
    to_frame = np.hstack([rot, (np.array([region.cx, region.cy]) - rot @ np.array([size / 2.0, size / 2.0]))[:, None]])
    to_crop = cv2.invertAffineTransform(to_frame)
    out = cv2.warpAffine(
        image, to_crop, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)
    )
    return Crop(out, to_frame)
