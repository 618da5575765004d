"""The Raspberry Pi camera through picamera2 (libcamera).

Written against picamera2's real API; ``picamera2`` is imported only when a
:class:`Picamera2Source` is built without a camera object, so this module
imports anywhere. Untested on a Pi by the project's automated tests: they check
the configuration it asks for and the frame conversion with a stand-in camera.

* **Streams.** The ISP scales for free, so the frames handed to the pose model
  come from the *lores* stream, sized so that its short side is the model's
  input size (the long side keeps the main stream's aspect ratio, so pixel
  geometry is undistorted and angles stay true). The *main* stream, at full
  resolution, is only copied out for the preview, at most once per
  ``preview_interval_s``. On a Pi 4 and earlier (the VC4 ISP) picamera2 only
  accepts a YUV420 lores stream; we ask for it there and convert to RGB with
  OpenCV, cutting off the stride padding. On a Pi 5 (PiSP) the lores stream is
  asked for as "BGR888", which libcamera lays out R, G, B in memory: RGB as is.
* **Timestamps.** ``t_s`` is the request metadata's ``SensorTimestamp``
  (nanoseconds, the start of the frame's exposure on the kernel's monotonic
  clock), counted from the first frame.
* **Frame rate.** Fixed through the ``FrameDurationLimits`` control (min = max
  = 1e6 / fps microseconds), so exposure cannot stretch the frame interval.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from station.camera.base import Frame, FrameSource
from station.errors import InputError, SourceError

log = logging.getLogger(__name__)

DEFAULT_MAIN_SIZE = (1536, 864)  # Camera Module 3's fast full-field mode (up to 120 fps)


def _even(n: float) -> int:
    return max(2, int(round(n / 2.0)) * 2)


def lores_size_for(main_size: tuple[int, int], model_input_size: int) -> tuple[int, int]:
    """Lores (width, height): short side = model input size, main's aspect ratio, even numbers."""
    w, h = main_size
    if model_input_size <= 0:
        raise InputError(f"model input size must be positive, not {model_input_size}")
    scale = model_input_size / min(w, h)
    if scale >= 1.0:
        return (w, h)  # the ISP cannot make the lores stream larger than main
    return (_even(w * scale), _even(h * scale))


def lores_must_be_yuv(camera: Any) -> bool:
    """True on the VC4 ISP (Pi 4 and earlier), where picamera2 refuses a non-YUV lores stream."""
    platform = getattr(camera, "platform", None) or getattr(type(camera), "platform", None)
    return getattr(platform, "name", "VC4") != "PISP"


def yuv420_to_rgb(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB (h, w, 3) from picamera2's YUV420 array of shape (h * 3 / 2, stride)."""
    import cv2

    w, h = size
    rgb = cv2.cvtColor(array, cv2.COLOR_YUV2RGB_I420)
    if rgb.shape[1] != w:
        rgb = np.ascontiguousarray(rgb[:, :w])
    return rgb


def camera_present() -> bool:
    """True when picamera2 is importable and libcamera lists at least one camera."""
    os.environ.setdefault("LIBCAMERA_LOG_LEVELS", "*:WARN")
    try:
        from picamera2 import Picamera2  # type: ignore[import-not-found]
    except Exception:  # ImportError, or libcamera failing to load off a Pi
        return False
    try:
        return bool(Picamera2.global_camera_info())
    except Exception:
        return False


class Picamera2Source(FrameSource):
    """Frames from a libcamera camera: lores RGB for the model, main stream for the preview.

    ``camera`` is a ``picamera2.Picamera2`` (or an object with its interface);
    when None, camera ``camera_num`` is opened here.
    """

    live = True

    def __init__(
        self,
        *,
        model_input_size: int = 192,
        main_size: tuple[int, int] = DEFAULT_MAIN_SIZE,
        fps: float = 30.0,
        camera_num: int = 0,
        preview_interval_s: float = 1.0,
        camera: Any = None,
    ) -> None:
        if fps <= 0:
            raise InputError(f"camera frame rate must be positive, not {fps}")
        self.name = f"picamera2:{camera_num}"
        self.fps = float(fps)
        self.main_size = (int(main_size[0]), int(main_size[1]))
        self.preview_interval_s = preview_interval_s
        #: how long to wait for one frame before the camera counts as gone
        self.capture_timeout_s = max(2.0, 10.0 / self.fps)
        self._preview: np.ndarray | None = None
        self._preview_lock = threading.Lock()
        self._last_preview_t = -float("inf")
        if camera is None:
            os.environ.setdefault("LIBCAMERA_LOG_LEVELS", "*:WARN")  # libcamera's INFO lines flood stderr
            try:
                from picamera2 import Picamera2  # type: ignore[import-not-found]
            except Exception as exc:  # ImportError, or libcamera's bindings failing to load
                raise SourceError(
                    f"picamera2 is not available ({exc}; on a Pi: sudo apt install python3-picamera2)"
                ) from None
            try:
                camera = Picamera2(camera_num)
            except Exception as exc:  # picamera2 raises RuntimeError / IndexError when there is no camera
                raise SourceError(f"camera {camera_num} did not open: {exc}") from None
        self._cam = camera
        self.yuv_lores = lores_must_be_yuv(camera)
        self.lores_size = lores_size_for(self.main_size, model_input_size)
        frame_us = int(round(1e6 / self.fps))
        self.config_request: dict[str, Any] = {
            "main": {"size": self.main_size, "format": "BGR888"},
            "lores": {"size": self.lores_size, "format": "YUV420" if self.yuv_lores else "BGR888"},
            "controls": {"FrameDurationLimits": (frame_us, frame_us)},
            "buffer_count": 4,
        }
        try:
            config = camera.create_video_configuration(**self.config_request)
            # No align_configuration(): it rounds widths to 32/64 px for speed, which would squash the
            # picture (342 -> 320 px wide is 6 % narrower) and bend every angle. Stride padding is cropped.
            camera.configure(config)
            lores = camera.stream_configuration("lores")
            self.lores_size = (int(lores["size"][0]), int(lores["size"][1]))
            asked, got = self.main_size[0] / self.main_size[1], self.lores_size[0] / self.lores_size[1]
            if abs(got / asked - 1.0) > 0.01:
                log.warning("%s: lores stream is %s, not the main stream's shape: angles will be off by up to %.0f %%",
                            self.name, self.lores_size, 100 * abs(got / asked - 1.0))
            camera.start()
        except Exception as exc:
            self._close_camera()
            raise SourceError(f"{self.name}: camera configuration failed: {exc}") from None
        log.info("%s: main %s, lores %s %s at %.1f fps", self.name, self.main_size, self.lores_size,
                 "YUV420" if self.yuv_lores else "RGB", self.fps)

    def frames(self) -> Iterator[Frame]:
        index = 0
        t0_ns: int | None = None
        last_ns = -1
        while not self.closed:
            try:
                # a timeout, so that a stopped or unplugged camera ends the loop instead of hanging it
                request = self._cam.capture_request(wait=self.capture_timeout_s)
            except Exception as exc:
                if self.closed:
                    return
                timed_out = isinstance(exc, TimeoutError)
                reason = f"no frame within {self.capture_timeout_s:.1f} s" if timed_out else str(exc)
                raise SourceError(f"{self.name}: capture failed: {reason}") from None
            try:
                metadata = request.get_metadata()
                ts_ns = int(metadata["SensorTimestamp"])
                lores = request.make_array("lores")
                image = yuv420_to_rgb(lores, self.lores_size) if self.yuv_lores else np.array(lores, copy=True)
                if time.monotonic() - self._last_preview_t >= self.preview_interval_s:
                    main = np.array(request.make_array("main"), copy=True)
                    with self._preview_lock:
                        self._preview = main
                    self._last_preview_t = time.monotonic()
            finally:
                request.release()
            if ts_ns <= last_ns:
                continue
            last_ns = ts_ns
            if t0_ns is None:
                t0_ns = ts_ns
            yield Frame(t_s=(ts_ns - t0_ns) / 1e9, image=image, index=index)
            index += 1

    def preview(self) -> np.ndarray | None:
        """The latest full-resolution RGB frame from the main stream (refreshed every ``preview_interval_s``)."""
        with self._preview_lock:
            return self._preview

    def _close_camera(self) -> None:
        cam = self._cam if hasattr(self, "_cam") else None
        if cam is None:
            return
        for method in ("stop", "close"):
            try:
                getattr(cam, method)()
            except Exception as exc:  # closing must not raise; the camera may already be gone
                log.debug("%s: %s() failed: %s", self.name, method, exc)

    def close(self) -> None:
        if not self._closed:
            self._close_camera()
        super().close()
