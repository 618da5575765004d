"""A pose track CSV as a frame source: frames that carry a ready pose and no image.

This is how a recorded session (or a mocap-derived fixture) replays through the
same pipeline as a camera, without a model. Timestamps are the track's ``t_s``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from station.camera.base import Frame, FrameSource
from station.errors import InputError, MissingFileError
from station.keypoints import iter_track_csv


class TrackSource(FrameSource):
    """Replays a pose track CSV (DESIGN.md format) as frames with ``.pose`` set.

    The header is checked on construction, so a file that is not a pose track
    fails before any work starts; bad rows fail (with their line number) when reached.
    """

    live = False
    #: frames carry ``.pose`` and no image: no model is needed
    gives_poses = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.exists():
            raise MissingFileError(f"{self.path}: no such file")
        self._poses = iter_track_csv(self.path)
        # pull the header check forward: the generator validates the header on its first step
        try:
            self._first = next(self._poses, None)
        except BaseException:
            self._poses.close()
            raise
        if self._first is None:
            raise InputError(f"{self.path}: pose track has a header but no rows")
        self._started = False
        self.fps = None

    def frames(self) -> Iterator[Frame]:
        if self.closed:
            raise InputError(f"{self.path}: source is closed")
        if self._started:
            raise InputError(f"{self.path}: a track source can be iterated once")
        self._started = True
        first = self._first
        self._first = None
        if first is None:
            return
        yield Frame(t_s=first.t_s, pose=first, index=0)
        for index, pose in enumerate(self._poses, start=1):
            if self.closed:
                return
            yield Frame(t_s=pose.t_s, pose=pose, index=index)

    def close(self) -> None:
        if not self._closed:
            self._poses.close()
        super().close()

