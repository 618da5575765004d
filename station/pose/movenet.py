"""MoveNet SinglePose (Lightning / Thunder, int8 / float16) with crop tracking.

MoveNet sees a small square input (192 or 256 px). Fed a whole 1080p frame, a
runner 30 m away is a dozen input pixels tall. Crop tracking, as MoveNet's
reference code does it, keeps them large: the next frame's crop is a square
around this frame's keypoints (centred on the hips, wide enough for the torso
× 1.9 and the whole body × 1.2). When the torso is no longer seen the crop
resets to the whole frame.

A second pass runs within the same frame when it pays off:

* after a reset (first frame, new runner, lost runner) the whole-frame pass only
  finds the runner; the same frame is run again on the crop around them;
* when the tracked crop loses the runner, the whole frame is tried at once
  instead of returning an empty pose.

Raw model output becomes a :class:`~station.keypoints.Pose` in one place,
:meth:`MoveNet._decode`.
"""

from __future__ import annotations

import math

import numpy as np

from station.coco import NUM_KEYPOINTS, BodyPart
from station.errors import ModelError
from station.keypoints import Pose
from station.pose.base import PoseEstimator
from station.pose.crop import Crop, Square, cut
from station.pose.runtime import TFLiteModel

#: a keypoint must score above this to steer the crop (the reference value)
MIN_CROP_KEYPOINT_SCORE = 0.2
TORSO_EXPANSION = 1.9
BODY_EXPANSION = 1.2
_TORSO = (BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER, BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP)


class MoveNet(PoseEstimator):
    """A MoveNet SinglePose model behind :class:`PoseEstimator`.

    ``crop_tracking=False`` runs every frame on the whole (letterboxed) frame;
    ``max_passes`` bounds the model runs per frame (1 disables the second pass).
    """

    def __init__(
        self,
        model: TFLiteModel,
        name: str = "movenet",
        crop_tracking: bool = True,
        max_passes: int = 6,
        min_crop_score: float = MIN_CROP_KEYPOINT_SCORE,
        min_crop_fraction: float = 0.2,
        search_tiles: bool = True,
        recheck_frames: int = 15,
        recheck_quality: float = 0.5,
    ) -> None:
        shape = model.input_shape
        out_shape = tuple(int(v) for v in model.outputs[0]["shape"]) if model.outputs else ()
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or shape[1] != shape[2] or out_shape != (1, 1, 17, 3):
            raise ModelError(
                f"{model.path.name}: does not look like MoveNet SinglePose "
                f"(input {list(shape)}, output {list(out_shape)}; expected [1, N, N, 3] and [1, 1, 17, 3])"
            )
        self.model = model
        self.name = name
        self.input_size = shape[1]
        self.crop_tracking = crop_tracking
        self.max_passes = max(1, int(max_passes))
        self.min_crop_score = min_crop_score
        self.min_crop_fraction = min_crop_fraction
        self.search_tiles = search_tiles
        self.recheck_frames = recheck_frames
        self.recheck_quality = recheck_quality
        self._since_search = 0
        self._dtype = model.input_dtype
        self._region: Square | None = None
        self._frame_size: tuple[int, int] | None = None
        #: model runs in the last call (1 on a tracked frame, 2-3 after a reset or a loss)
        self.last_passes = 0

    # -- the interface ---------------------------------------------------------

    def estimate(self, image: np.ndarray, t_s: float = 0.0) -> Pose:
        w, h = self._start_frame(image)
        self.last_passes = 0
        whole = Square.whole_frame(w, h)
        if not self.crop_tracking:
            xy, score = self._run(image, whole)
            return Pose(t_s, xy, score, (w, h))
        searched = False
        if self._region is not None:
            region = self._region
            xy, score = self._run(image, region)
            self._since_search += 1
            quality = self._quality(score)
            lost = not self._found(score)
            # lost the runner, or doubtful about them for a while (a crop can settle on a parked car): search again
            if lost or (quality < self.recheck_quality and self._since_search >= self.recheck_frames):
                s_region, s_xy, s_score = self._search(image, whole)
                searched = True
                if lost or self._quality(s_score) > quality:
                    region, xy, score = s_region, s_xy, s_score
        else:
            region, xy, score = self._search(image, whole)
            searched = True
        if not self._found(score):
            self._region = None
            return Pose(t_s, xy, score, (w, h))
        nxt = self._next_region(xy, score, w, h)
        if searched and nxt != region and self.last_passes < self.max_passes:
            # found on the whole frame or a tile: look again, closer, on this same frame
            r_xy, r_score = self._run(image, nxt)
            if self._found(r_score):
                xy, score = r_xy, r_score
                nxt = self._next_region(xy, score, w, h)
        self._region = nxt
        return Pose(t_s, xy, score, (w, h))

    def _search(self, image: np.ndarray, whole: Square) -> tuple[Square, np.ndarray, np.ndarray]:
        """Find the runner without a track: the whole frame; if nobody is there, square tiles along its long side.

        A wide frame letterboxed into MoveNet's square input wastes almost half of it
        and shrinks the runner; a tile as tall as the frame gives them 1.8 times the
        pixels of a 16:9 whole-frame pass. The tile whose torso scores best wins.
        """
        h, w = image.shape[:2]
        self._since_search = 0
        xy, score = self._run(image, whole)
        if self._found(score) or not self.search_tiles or max(w, h) <= 1.25 * min(w, h):
            return whole, xy, score  # the whole frame sees a runner: tiles would only cut them up
        best = (whole, xy, score)
        best_q = 0.0
        side = min(w, h)
        n = math.ceil(max(w, h) / side) + 1
        for k in range(n):
            if self.last_passes >= self.max_passes:
                break
            c = side / 2 + k * (max(w, h) - side) / (n - 1)
            tile = Square(c, h / 2, side / 2) if w >= h else Square(w / 2, c, side / 2)
            xy, score = self._run(image, tile)
            if self._found(score) and self._quality(score) > best_q:
                best, best_q = (tile, xy, score), self._quality(score)
        return best

    def _found(self, score: np.ndarray) -> bool:
        """A runner is there when a hip and a shoulder score above the crop threshold (the reference rule)."""
        thr = self.min_crop_score
        hips = score[BodyPart.LEFT_HIP] > thr or score[BodyPart.RIGHT_HIP] > thr
        shoulders = score[BodyPart.LEFT_SHOULDER] > thr or score[BodyPart.RIGHT_SHOULDER] > thr
        return bool(hips and shoulders)

    @staticmethod
    def _quality(score: np.ndarray) -> float:
        """How surely a runner is there: the mean score of shoulders and hips."""
        return float(np.mean(score[list(_TORSO)]))

    @property
    def tflite_models(self) -> tuple[TFLiteModel, ...]:
        """The interpreters this estimator runs (``gait-station bench`` reads their invoke timers)."""
        return (self.model,)

    def reset(self) -> None:
        self._region = None
        self._frame_size = None

    def close(self) -> None:
        self.model.close()

    # -- one model run -----------------------------------------------------------

    def _run(self, image: np.ndarray, region: Square) -> tuple[np.ndarray, np.ndarray]:
        self.last_passes += 1
        crop = cut(image, region, self.input_size)
        tensor = crop.image[np.newaxis]
        if tensor.dtype != self._dtype:
            tensor = tensor.astype(self._dtype)
        (raw,) = self.model.run(tensor)[:1]
        return self._decode(raw, crop)

    def _decode(self, raw: np.ndarray, crop: Crop) -> tuple[np.ndarray, np.ndarray]:
        """MoveNet's [1, 1, 17, 3] (y, x, score), normalised to the crop -> frame pixels and scores."""
        kp = np.asarray(raw, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
        xy_crop = kp[:, [1, 0]] * self.input_size
        return crop.points_to_frame(xy_crop), np.clip(kp[:, 2], 0.0, 1.0)

    # -- crop tracking -----------------------------------------------------------

    def _next_region(self, xy: np.ndarray, score: np.ndarray, width: int, height: int) -> Square:
        """The crop for the next frame, from this frame's keypoints (call when :meth:`_found`).

        Centred on the hips, wide enough for the torso × 1.9 and every confident
        keypoint × 1.2, never reaching past the farthest frame edge, never smaller
        than ``min_crop_fraction`` of the frame, and the whole frame when it would
        be larger than that.
        """
        thr = self.min_crop_score
        cx, cy = (xy[BodyPart.LEFT_HIP] + xy[BodyPart.RIGHT_HIP]) / 2.0
        torso = np.abs(xy[list(_TORSO)] - (cx, cy))
        seen = score > thr
        body = np.abs(xy[seen] - (cx, cy)) if seen.any() else np.zeros((1, 2))
        half = max(float(torso.max()) * TORSO_EXPANSION, float(body.max()) * BODY_EXPANSION)
        half = min(half, max(cx, width - cx, cy, height - cy))
        if half > max(width, height) / 2.0:
            return Square.whole_frame(width, height)
        # no closer than a fraction of the frame: in a crop a few dozen pixels wide MoveNet
        # "finds" a runner in a parked car and then never lets go
        half = max(half, self.min_crop_fraction * max(width, height) / 2.0)
        return Square(float(cx), float(cy), half)
