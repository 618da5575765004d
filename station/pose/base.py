"""The pose estimator interface.

An estimator takes one RGB frame (H, W, 3, uint8) and its source timestamp and
returns a :class:`station.keypoints.Pose`: the 17 COCO keypoints in
source-frame pixels with scores. Estimators that track (MoveNet's crop,
BlazePose's region) keep that state between calls; ``reset()`` forgets it.
"""

from __future__ import annotations

import abc

import numpy as np

from station.errors import ModelError
from station.keypoints import Pose


class PoseEstimator(abc.ABC):
    #: manifest name of the model, e.g. "movenet-lightning-int8"
    name: str = "estimator"

    @abc.abstractmethod
    def estimate(self, image: np.ndarray, t_s: float = 0.0) -> Pose:
        """Keypoints for one frame, in that frame's pixels."""

    def reset(self) -> None:
        """Forget any tracking state (a new runner, a new video)."""
        return None

    _frame_size: tuple[int, int] | None = None

    def _start_frame(self, image: np.ndarray) -> tuple[int, int]:
        """(width, height) of an RGB frame; a frame of another size than the last one resets tracking."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ModelError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
        h, w = image.shape[:2]
        if self._frame_size != (w, h):
            self.reset()
            self._frame_size = (w, h)
        return w, h

    def close(self) -> None:
        """Release the interpreter. Idempotent."""
        return None

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
