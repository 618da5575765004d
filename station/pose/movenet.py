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

import numpy as np

from station.errors import ModelError
from station.gait.coco import NUM_KEYPOINTS, BodyPart
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
        max_passes: int = 3,
        min_crop_score: float = MIN_CROP_KEYPOINT_SCORE,
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
        self._dtype = model.input_dtype
        self._region: Square | None = None
        self._frame_size: tuple[int, int] | None = None
        #: model runs in the last call (1 on a tracked frame, 2-3 after a reset or a loss)
        self.last_passes = 0

    # -- the interface ---------------------------------------------------------

    def estimate(self, image: np.ndarray, t_s: float = 0.0) -> Pose:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ModelError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
        h, w = image.shape[:2]
        if self._frame_size != (w, h):
            self._region = None
            self._frame_size = (w, h)
        whole = Square.whole_frame(w, h)
        region = self._region if (self.crop_tracking and self._region is not None) else whole
        tracked = region is not whole
        passes = 0
        while True:
            xy, score = self._run(image, region)
            passes += 1
            nxt = self._next_region(xy, score, w, h) if self.crop_tracking else None
            if passes >= self.max_passes or not self.crop_tracking:
                break
            if tracked and nxt is None:  # lost the runner inside the crop: look at the whole frame now
                region, tracked = whole, False
                continue
            if region is whole and nxt is not None:
                region = nxt  # found the runner on the whole frame: look again, closer
                continue
            break
        self.last_passes = passes
        self._region = nxt
        return Pose(t_s, xy, score, (w, h))

    def reset(self) -> None:
        self._region = None
        self._frame_size = None

    def close(self) -> None:
        self.model.close()

    # -- one model run -----------------------------------------------------------

    def _run(self, image: np.ndarray, region: Square) -> tuple[np.ndarray, np.ndarray]:
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

    def _next_region(self, xy: np.ndarray, score: np.ndarray, width: int, height: int) -> Square | None:
        """The crop for the next run, from these keypoints; ``None`` (= whole frame) when the torso is not seen."""
        thr = self.min_crop_score
        hips_seen = score[BodyPart.LEFT_HIP] > thr or score[BodyPart.RIGHT_HIP] > thr
        shoulders_seen = score[BodyPart.LEFT_SHOULDER] > thr or score[BodyPart.RIGHT_SHOULDER] > thr
        if not (hips_seen and shoulders_seen):
            return None
        cx, cy = (xy[BodyPart.LEFT_HIP] + xy[BodyPart.RIGHT_HIP]) / 2.0
        torso = np.abs(xy[list(_TORSO)] - (cx, cy))
        seen = score > thr
        body = np.abs(xy[seen] - (cx, cy)) if seen.any() else np.zeros((1, 2))
        half = max(float(torso.max()) * TORSO_EXPANSION, float(body.max()) * BODY_EXPANSION)
        # never reach further than the farthest frame edge from the centre
        half = min(half, max(cx, width - cx, cy, height - cy))
        if half > max(width, height) / 2.0 or half < 4.0:
            return None
        return Square(float(cx), float(cy), half)
