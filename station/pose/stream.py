"""Poses from any frame source: the one loop shared by ``pose``, ``analyze`` and the live station.

Frames that already carry a pose (a pose track) pass through; image frames go
through the estimator. Time is the source's: each pose keeps its frame's ``t_s``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from station.camera.base import FrameSource
from station.errors import InputError
from station.keypoints import Pose

if TYPE_CHECKING:
    from station.pose.base import PoseEstimator


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def iter_poses(source: FrameSource, estimator: PoseEstimator | None, progress: bool = False) -> Iterator[Pose]:
    """Yield one :class:`Pose` per source frame, in order, with the frame's timestamp.

    ``progress`` shows a tqdm bar on stderr, and only when stderr is a terminal
    (never in logs, pipes or CI). Raises :class:`InputError` when the source gives
    images and no estimator was given.
    """
    show = progress and _stderr_is_terminal()
    bar = None
    if show:
        from tqdm import tqdm

        total = getattr(source, "expected_frames", None)
        bar = tqdm(total=total, unit="frame", desc=source.name, file=sys.stderr, leave=False, dynamic_ncols=True)
    try:
        for frame in source:
            if frame.pose is not None:
                pose = frame.pose
            elif frame.image is not None:
                if estimator is None:
                    raise InputError(f"{source.name}: gives images, so a pose model is needed")
                pose = estimator.estimate(frame.image, frame.t_s)
                if pose.t_s != frame.t_s:  # the source's clock is the only clock
                    pose = Pose(frame.t_s, pose.xy, pose.score, pose.frame_size)
            else:
                raise InputError(f"{source.name}: frame {frame.index} has neither an image nor a pose")
            if bar is not None:
                bar.update(1)
            yield pose
    finally:
        if bar is not None:
            bar.close()
