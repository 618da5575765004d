"""A USB webcam through OpenCV.

Timestamps: OpenCV's V4L2 backend (the one used on a Pi and on Linux) reports
the driver's buffer timestamp as ``CAP_PROP_POS_MSEC`` — the moment the frame
was captured, on the kernel's monotonic clock — so that is what ``t_s`` uses
when the backend provides it (a positive, increasing value). Backends that do
not (they return 0 or -1) fall back to ``time.monotonic()`` read right after
``grab()`` returns, i.e. when the frame was handed over, which lags capture by
the driver's buffering but is still monotonic and independent of how long pose
estimation takes. The choice is made on the second frame (the first may read 0
on either kind of backend); :attr:`WebcamSource.clock` says which one is in
use. If capture timestamps stop increasing later, the source switches to the
monotonic clock without a jump. Either way ``t_s`` counts from the first frame (0.0).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from station.camera.base import Frame, FrameSource
from station.errors import InputError, SourceError

log = logging.getLogger(__name__)

#: consecutive failed grabs after which a webcam counts as unplugged
MAX_FAILED_GRABS = 30


def _open_capture(index: int) -> Any:
    import cv2

    # OpenCV logs "can't open camera by index" from C++ to stderr; our error says it in one line.
    logging_mod = cv2.utils.logging
    previous = logging_mod.getLogLevel()
    logging_mod.setLogLevel(logging_mod.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(index)
    finally:
        logging_mod.setLogLevel(previous)


class WebcamSource(FrameSource):
    """Frames from an OpenCV capture device (``/dev/videoN`` on Linux) as RGB uint8.

    ``capture`` lets a test (or a caller with a special backend) pass an object
    with OpenCV's ``VideoCapture`` interface instead of opening device ``index``.
    """

    live = True

    def __init__(
        self,
        index: int = 0,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        capture: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import cv2

        if index < 0:
            raise InputError(f"webcam index must be 0 or more, not {index}")
        self.index = index
        self.name = f"webcam:{index}"
        self._clock_fn = clock
        self._cap = capture if capture is not None else _open_capture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"webcam {index} did not open (is a camera plugged in at /dev/video{index}?)")
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self._cap.set(cv2.CAP_PROP_FPS, fps)
        reported = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = reported if reported > 0 else fps
        #: "capture" (the backend's CAP_PROP_POS_MSEC) or "monotonic" (clock at grab time); None until a frame
        self.clock: str | None = None

    def frames(self) -> Iterator[Frame]:
        import cv2

        index = 0
        failed = 0
        first: tuple[float, float] | None = None  # (capture time, grab time) of the first frame, seconds
        last: tuple[float, float] = (0.0, 0.0)  # (t_s, grab time) of the last frame yielded
        offset = 0.0  # added to grab-clock times after a switch from the capture clock, so t_s never jumps
        while not self.closed:
            if not self._cap.grab():
                failed += 1
                if failed >= MAX_FAILED_GRABS:
                    raise SourceError(f"{self.name}: no frames from the camera (unplugged?)")
                continue
            t_grab = self._clock_fn()
            failed = 0
            pos_s = float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
            ok, bgr = self._cap.retrieve()
            if not ok or bgr is None:
                continue
            if first is None:
                first = (pos_s, t_grab)
                t_s = 0.0
            else:
                if self.clock is None:  # decided on the second frame: the first may legitimately read 0
                    self.clock = "capture" if pos_s > first[0] >= 0.0 else "monotonic"
                    log.info("%s: timestamps from the %s clock", self.name, self.clock)
                if self.clock == "capture":
                    t_s = pos_s - first[0]
                    if t_s <= last[0]:
                        log.warning("%s: capture timestamps stopped increasing; using the monotonic clock", self.name)
                        self.clock = "monotonic"
                        offset = last[0] - (last[1] - first[1])
                if self.clock == "monotonic":
                    t_s = t_grab - first[1] + offset
                if t_s <= last[0]:
                    continue
            last = (t_s, t_grab)
            yield Frame(t_s=t_s, image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index=index)
            index += 1

    def close(self) -> None:
        if not self._closed:
            self._cap.release()
        super().close()
