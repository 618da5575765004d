"""Poses from frames: the one place a frame becomes a :class:`Pose`, for ``pose``, ``analyze`` and the live station.

Frames that already carry a pose (a pose track) pass through; image frames go
through the estimator. Time is the source's: each pose keeps its frame's ``t_s``
(and its image's size). :func:`iter_poses` is the offline loop;
:class:`FramePoser` is the live loop's step, which also survives a model that
fails now and then, and times inference.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from station.camera.base import Frame, FrameSource
from station.errors import InputError, ModelError
from station.keypoints import Pose

if TYPE_CHECKING:
    from station.pose.base import PoseEstimator

log = logging.getLogger(__name__)

MODEL_FAILURES_FATAL = 30  # consecutive failed inferences before the live station gives up


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def pose_of(frame: Frame, estimator: PoseEstimator | None, name: str = "source") -> Pose:
    """The frame's pose at the frame's own time and size: its own (a pose track), or the estimator's."""
    if frame.pose is not None:
        return frame.pose
    if frame.image is None:
        raise InputError(f"{name}: frame {frame.index} has neither an image nor a pose")
    if estimator is None:
        raise InputError(f"{name}: gives images, so a pose model is needed")
    pose = estimator.estimate(frame.image, frame.t_s)
    if pose.t_s != frame.t_s or pose.frame_size is None:  # the source's clock is the only clock
        pose = Pose(frame.t_s, pose.xy, pose.score, pose.frame_size or frame.size)
    return pose


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
            yield pose_of(frame, estimator, source.name)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


class FramePoser:
    """The live loop's pose step.

    The estimator is built by ``factory`` when the first image arrives (a pose track
    needs none). A frame the model fails on gives an empty pose and a logged error;
    :data:`MODEL_FAILURES_FATAL` failures in a row are a :class:`ModelError`. Inference
    time is summed for the run's figures. ``close()`` is idempotent.
    """

    def __init__(self, factory: Callable[[], PoseEstimator] | None, name: str = "source",
                 max_failures: int = MODEL_FAILURES_FATAL) -> None:
        self._factory = factory
        self.name = name
        self.max_failures = max_failures
        self.estimator: PoseEstimator | None = None
        self.failures = 0
        self.inference_s = 0.0
        self.inference_frames = 0

    def load(self) -> None:
        """Build the estimator now (a camera: before the first frame, so the first cue is not late)."""
        if self.estimator is None and self._factory is not None:
            self.estimator = self._factory()

    def __call__(self, frame: Frame) -> Pose:
        if frame.pose is not None:
            return frame.pose
        if frame.image is None:
            return Pose.empty(frame.t_s)
        if self.estimator is None:
            if self._factory is None:
                raise ModelError(f"{self.name}: gives images, but no pose model was loaded")
            self.load()
        tick = time.perf_counter()
        try:
            pose = pose_of(frame, self.estimator, self.name)
            self.failures = 0
        except Exception as exc:
            self.failures += 1
            log.error("pose model failed on frame %d (%s: %s)", frame.index, type(exc).__name__, exc)
            if self.failures >= self.max_failures:
                raise ModelError(f"pose model failed on {self.failures} frames in a row: {exc}") from None
            pose = Pose.empty(frame.t_s, frame.size)
        self.inference_s += time.perf_counter() - tick
        self.inference_frames += 1
        return pose

    def close(self) -> None:
        if self.estimator is not None:
            try:
                self.estimator.close()
            except Exception:  # closing must not fail the shutdown
                log.debug("closing the estimator failed", exc_info=True)
            self.estimator = None
