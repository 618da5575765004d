"""Capture in its own thread: a frame source read without ever stalling the camera, and its loss noticed.

:class:`FrameGrabber` reads a :class:`~station.camera.base.FrameSource` on a thread
of its own. A live source (a camera) or a paced one (``--realtime``, the demo)
hands over only the newest frame, so a slow consumer never stalls the camera:
older frames are dropped and counted. A file or pose track without pacing is
read as fast as the consumer takes it, and nothing is dropped. When a live
source fails or ends the grabber reports the loss (a :class:`CaptureEvent`),
retries with exponential back-off and reports the return; time after a
reconnect stays monotonic. :class:`StallWatch` notices a camera that stops
delivering without raising (a hung driver).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from station.camera.base import Frame, FrameSource
from station.keypoints import Pose

log = logging.getLogger(__name__)

STALL_S = 5.0  # a live source silent this long counts as lost (a hung driver raises nothing)


@dataclass(frozen=True)
class CaptureEvent:
    """Something the capture thread tells the loop: ``lost`` / ``back`` (a live source), ``end``, ``error``."""

    kind: str
    message: str = ""
    wall_s: float = 0.0
    error: BaseException | None = None
    stalled: bool = False  # raised by the loop, not the capture thread: cleared by the next frame


class FrameGrabber(threading.Thread):
    """Reads a frame source in its own thread; see the module docstring for the two modes.

    ``open_source`` is called again after a live source fails (``retry``). ``speed``
    paces a non-live source by its timestamps (1.0 = real time; None = no pacing).
    """

    def __init__(
        self,
        first: FrameSource | None,
        open_source: Callable[[], FrameSource],
        *,
        latest_only: bool,
        speed: float | None = None,
        retry: bool = True,
        retry_first_s: float = 0.5,
        retry_max_s: float = 10.0,
        queue_frames: int = 4,
        lost_since: float | None = None,
    ) -> None:
        super().__init__(name="capture", daemon=True)
        self._initial_lost = lost_since  # the camera did not open at start: report its arrival as "back"
        self._source: FrameSource | None = first
        self._open = open_source
        self.latest_only = latest_only
        self.speed = speed
        self.retry = retry
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        self._max_frames = 1 if latest_only else queue_frames
        self._cond = threading.Condition()
        self._items: collections.deque[Frame | CaptureEvent] = collections.deque()
        self._queued = 0  # frames in _items
        self._stop_event = threading.Event()
        self.frames_read = 0
        self.frames_dropped = 0
        self.frames_repeated_t = 0  # frames whose timestamp is not after the one before: skipped, counted
        self.decode_s = 0.0
        self._offset_s = 0.0
        self._last_t: float | None = None
        self._pumped = 0
        #: monotonic time the capture thread entered the source (a read or an open) and has not come back; None
        #: outside it. A driver that hangs keeps this set (see :meth:`stuck_s`).
        self.in_source_since: float | None = None

    def stuck_s(self, now: float) -> float:
        """How long the capture thread has been inside the source without coming back (0 when it is not)."""
        since = self.in_source_since
        return 0.0 if since is None else max(now - since, 0.0)

    # -- consumer side -----------------------------------------------------------------------
    def get(self, timeout_s: float) -> Frame | CaptureEvent | None:
        """The next frame or event, in the order they happened; None after ``timeout_s``."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout_s)
            if not self._items:
                return None
            item = self._items.popleft()
            if isinstance(item, Frame):
                self._queued -= 1
                self._cond.notify_all()
            return item

    def stop(self) -> None:
        self._stop_event.set()
        with self._cond:
            self._cond.notify_all()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=3.0)
        if self._source is not None:
            with contextlib.suppress(Exception):
                self._source.close()

    # -- producer side -----------------------------------------------------------------------
    def _post(self, event: CaptureEvent) -> None:
        with self._cond:
            self._items.append(event)
            self._cond.notify_all()

    def _put(self, frame: Frame) -> None:
        with self._cond:
            if self.latest_only:
                if self._queued:  # the consumer is behind: drop the older frame(s), keep the events
                    self.frames_dropped += self._queued
                    self._items = collections.deque(i for i in self._items if not isinstance(i, Frame))
                    self._queued = 0
            else:
                while self._queued >= self._max_frames and not self._stop_event.is_set():
                    self._cond.wait(0.1)
            self._items.append(frame)
            self._queued += 1
            self._cond.notify_all()

    def run(self) -> None:
        delay_s = self.retry_first_s
        lost_since: float | None = self._initial_lost
        while not self._stop_event.is_set():
            source = self._source
            if source is None:
                try:
                    self.in_source_since = time.monotonic()
                    source = self._open()
                except Exception as exc:  # a camera still unplugged: keep trying
                    log.info("camera: reopening failed (%s); next try in %.1f s", exc, delay_s)
                    if self._stop_event.wait(delay_s):
                        return
                    delay_s = min(delay_s * 2, self.retry_max_s)
                    continue
                finally:
                    self.in_source_since = None
                self._source = source
            ended: BaseException | None = None
            self._pumped = 0
            try:
                self._pump(source, lost_since)
            except Exception as exc:
                ended = exc
            if self._pumped:  # it delivered frames (and "back" was posted): a new failure is a new loss
                lost_since = None
            with contextlib.suppress(Exception):
                source.close()
            self._source = None
            if self._stop_event.is_set():
                return
            if not (self.retry and source.live):
                if isinstance(ended, BaseException):
                    self._post(CaptureEvent("error", f"{source.name}: {ended}", time.monotonic(), ended))
                else:
                    self._post(CaptureEvent("end", f"{source.name}: end of stream", time.monotonic()))
                return
            # a live source failed or stopped: report it once, then retry with back-off
            if lost_since is None:
                lost_since = time.monotonic()
                why = str(ended) if isinstance(ended, BaseException) else "the stream stopped"
                self._post(CaptureEvent("lost", f"{source.name}: {why}", lost_since))
                delay_s = self.retry_first_s
            if self._stop_event.wait(delay_s):
                return
            delay_s = min(delay_s * 2, self.retry_max_s)

    def _pump(self, source: FrameSource, lost_since: float | None) -> None:
        """Read frames until the source ends (returns None) or fails (raises)."""
        first = True
        wall0: float | None = None
        t0: float | None = None
        it = iter(source)
        while not self._stop_event.is_set():
            tick = time.perf_counter()
            self.in_source_since = time.monotonic()
            try:
                frame = next(it)
            except StopIteration:
                return None
            finally:
                self.in_source_since = None
            self.decode_s += time.perf_counter() - tick
            if first:
                first = False
                if lost_since is not None:
                    self._post(CaptureEvent("back", f"{source.name}: frames again after "
                                                    f"{time.monotonic() - lost_since:.1f} s", time.monotonic()))
                # keep stream time monotonic across a reconnect (a webcam restarts its clock)
                if self._last_t is not None and frame.t_s + self._offset_s <= self._last_t:
                    gap = time.monotonic() - lost_since if lost_since is not None else 0.0
                    self._offset_s = self._last_t + max(gap, 1e-3) - frame.t_s
            t = frame.t_s + self._offset_s
            if self._last_t is not None and t <= self._last_t:
                if not self.frames_repeated_t:
                    log.warning("%s: a frame at %.6f s is not after the one before (%.6f s): skipped; frames "
                                "like it are counted in the run's figures", source.name, t, self._last_t)
                self.frames_repeated_t += 1
                continue
            if self.speed is not None:  # pace by the source's own timestamps
                if wall0 is None or t0 is None:
                    wall0, t0 = time.monotonic(), t
                wait = wall0 + (t - t0) / self.speed - time.monotonic()
                if wait > 0 and self._stop_event.wait(wait):
                    return None
            self._last_t = t
            self.frames_read += 1
            self._pumped += 1
            if self._offset_s:
                frame = dataclasses.replace(frame, t_s=t)
                if frame.pose is not None:
                    frame = dataclasses.replace(frame, pose=Pose(t, frame.pose.xy, frame.pose.score,
                                                                 frame.pose.frame_size))
            self._put(frame)
        return None


class StallWatch:
    """Notices a live source that stops delivering without raising (a hung driver): no frame for ``stall_s``."""

    def __init__(self, stall_s: float = STALL_S) -> None:
        self.stall_s = stall_s
        self._last_wall: float | None = None

    def frame(self, wall_s: float) -> None:
        """A frame arrived at monotonic time ``wall_s``."""
        self._last_wall = wall_s

    def check(self, wall_s: float) -> CaptureEvent | None:
        """A ``lost`` event (marked ``stalled``) when the last frame is older than ``stall_s``, else None."""
        if self._last_wall is None or wall_s - self._last_wall <= self.stall_s:
            return None
        return CaptureEvent("lost", f"no frames for {self.stall_s:g} s (camera stalled)", wall_s, stalled=True)
