"""Frame sources: where images (or ready-made poses) come from, with the source's own timestamps.

:func:`open_source` turns what a user types (``auto``, ``camera``, ``webcam:1``,
a video file, a pose track CSV) into a :class:`FrameSource`. The concrete
sources import their heavy libraries (PyAV, OpenCV, picamera2) only when built.
"""

from __future__ import annotations

import logging
from pathlib import Path

from station.camera.base import Frame, FrameSource
from station.errors import InputError, MissingFileError, SourceError

__all__ = ["Frame", "FrameSource", "open_source"]

log = logging.getLogger(__name__)

#: suffixes read as pose track CSV rather than video
TRACK_SUFFIXES = (".csv",)


def _webcam_index(spec: str) -> int:
    if spec == "webcam":
        return 0
    text = spec.split(":", 1)[1]
    try:
        return int(text)
    except ValueError:
        raise InputError(f"bad source {spec!r}: the webcam number must be an integer, as in webcam:1") from None


def open_source(spec: str, *, model_input_size: int | None = None, fps: float | None = None) -> FrameSource:
    """Open a frame source by name.

    ``spec``: ``"auto"`` (the Pi camera if picamera2 finds one, else webcam 0 if
    it opens), ``"camera"`` (the Pi camera), ``"webcam"`` / ``"webcam:N"`` (an
    OpenCV capture device), or a path: ``.csv`` is a pose track, anything else a
    video file. ``model_input_size`` sizes the Pi camera's lores stream; ``fps``
    is the frame rate asked of a camera (a file keeps its own).
    """
    spec = spec.strip()
    if not spec:
        raise InputError("no source given (a video file, a pose track CSV, camera, webcam[:N] or auto)")
    lowered = spec.lower()
    if lowered == "auto":
        return _open_auto(model_input_size, fps)
    if lowered == "camera":
        return _open_picamera(model_input_size, fps)
    if lowered == "webcam" or lowered.startswith("webcam:"):
        from station.camera.opencv import WebcamSource

        return WebcamSource(_webcam_index(lowered), fps=fps)
    path = Path(spec).expanduser()
    if not path.exists():
        raise MissingFileError(f"{path}: no such file (sources are a video file, a pose track CSV, camera, webcam[:N] "
                               "or auto)")
    if path.suffix.lower() in TRACK_SUFFIXES:
        from station.camera.track import TrackSource

        return TrackSource(path)
    from station.camera.video import VideoFileSource

    return VideoFileSource(path)


def _open_picamera(model_input_size: int | None, fps: float | None) -> FrameSource:
    from station.camera.picam import Picamera2Source

    kwargs: dict[str, float] = {}
    if model_input_size:
        kwargs["model_input_size"] = model_input_size
    if fps:
        kwargs["fps"] = fps
    return Picamera2Source(**kwargs)  # type: ignore[arg-type]


def _open_auto(model_input_size: int | None, fps: float | None) -> FrameSource:
    from station.camera.opencv import WebcamSource
    from station.camera.picam import camera_present

    if camera_present():
        log.info("auto source: the Pi camera")
        return _open_picamera(model_input_size, fps)
    try:
        source = WebcamSource(0, fps=fps)
    except SourceError:
        raise SourceError("no camera found: picamera2 sees no Pi camera and webcam 0 did not open") from None
    log.info("auto source: webcam 0")
    return source
