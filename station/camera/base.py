"""The frame source interface.

Every source yields :class:`Frame` objects whose ``t_s`` is the source's own
timestamp (sensor timestamp, container PTS, track ``t_s``), never the
processing clock. A pose track source yields frames that already carry a pose
and no image. Sources are context managers with an idempotent ``close()``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from station.keypoints import Pose


@dataclass(frozen=True)
class Frame:
    """One frame: an RGB image (H, W, 3) uint8 and/or a ready pose, at source time ``t_s``."""

    t_s: float
    image: np.ndarray | None = None
    pose: Pose | None = None
    index: int = 0

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) of the image, if there is one."""
        if self.image is None:
            return None
        return int(self.image.shape[1]), int(self.image.shape[0])


class FrameSource(abc.ABC):
    """A stream of frames. Iterate it; close it (twice is fine)."""

    #: nominal frames per second, if the source knows it
    fps: float | None = None
    #: True for sources that run forever (cameras), False for files
    live: bool = False
    #: a short description for logs and reports
    name: str = "source"
    #: True for sources whose frames carry ready poses (a pose track, the simulated runner): no model needed
    gives_poses: bool = False

    _closed: bool = False

    @abc.abstractmethod
    def frames(self) -> Iterator[Frame]:
        """Yield frames in time order until the source ends."""

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def close(self) -> None:
        """Release the device or file. Idempotent."""
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
