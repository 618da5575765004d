"""Video files as a frame source, with the container's own timestamps.

Decoding goes through PyAV (FFmpeg's libraries) rather than OpenCV's
``VideoCapture``. Both report real presentation timestamps (OpenCV's
``CAP_PROP_POS_MSEC`` is the PTS too, checked on a variable-frame-rate file),
but PyAV also

* raises FFmpeg's errors as Python exceptions instead of printing them to the
  process's stderr from C (OpenCV prints "moov atom not found", "partial
  file" … around our one-line message unless an environment variable is set
  before its first use),
* names the container format, so a still image renamed ``.mp4`` (which FFmpeg
  happily opens as a one-frame "video") is refused,
* gives the display rotation of phone footage, which we apply,

and it is on Raspberry Pi OS already (``python3-av`` is a picamera2 dependency).

Timestamps: ``t_s`` is the frame's presentation time minus the stream's start
time, so the first frame of an ordinary file is at 0.0 and a variable frame
rate file keeps its real spacing. Frames without a PTS (raw elementary
streams) fall back to index / nominal rate, with a warning.

Truncated files: a file cut short (a card pulled, a copy interrupted) that
still decodes yields every frame it can, then raises :class:`SourceError`
naming how many of the frames its index promised were decoded. Callers that
would rather keep going pass ``strict=False`` and get a logged warning instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from station.camera.base import Frame, FrameSource
from station.errors import InputError, MissingFileError, SourceError

log = logging.getLogger(__name__)

#: FFmpeg demuxers that read still images, not video
_IMAGE_FORMATS = {"image2", "image2pipe", "gif", "webp", "apng"}


def _is_image_format(format_name: str) -> bool:
    names = set(format_name.split(","))
    return bool(names & _IMAGE_FORMATS) or any(n.endswith("_pipe") for n in names)


class VideoFileSource(FrameSource):
    """Frames of a video file as RGB uint8 arrays with container timestamps.

    Opens (and validates) the file on construction, so a bad path fails before
    any work starts. ``strict`` decides what a truncated file does after its
    last decodable frame: raise :class:`SourceError` (default) or log a warning.
    """

    live = False

    def __init__(self, path: str | Path, *, strict: bool = True, threads: bool = True) -> None:
        import av  # deferred: `gait-station models list` should not pay for FFmpeg

        _quiet_ffmpeg_logging()
        self.path = Path(path)
        self.name = self.path.name
        self.strict = strict
        if not self.path.exists():
            raise MissingFileError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory, not a video file")
        try:
            self._container: Any = av.open(str(self.path), mode="r")
        except PermissionError:  # PyAV's own PermissionError is also an FFmpegError
            raise SourceError(f"{self.path}: cannot read (permission denied)") from None
        except av.error.FFmpegError as exc:
            raise SourceError(
                f"{self.path}: not a readable video ({_ffmpeg_reason(exc)}; not a video, or cut off before its index)"
            ) from None
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        try:
            fmt = self._container.format.name
            if _is_image_format(fmt):
                raise InputError(f"{self.path}: is a still image ({fmt}), not a video")
            if not self._container.streams.video:
                raise InputError(f"{self.path}: has no video stream")
            self._stream: Any = self._container.streams.video[0]
            if threads:
                self._stream.thread_type = "AUTO"
            rate = self._stream.average_rate or self._stream.guessed_rate
            self.fps = float(rate) if rate else None
            #: frames the container's index promises (None when it does not say)
            self.expected_frames: int | None = int(self._stream.frames) or None
            self.width = int(self._stream.codec_context.width)
            self.height = int(self._stream.codec_context.height)
        except BaseException:
            self._container.close()
            raise
        self._started = False

    @property
    def duration_s(self) -> float | None:
        """Length of the video stream from the container, if it says."""
        s = self._stream
        if s.duration is not None and s.time_base:
            return float(s.duration * s.time_base)
        if self._container.duration is not None:  # Matroska and others: only the container says, in µs
            return float(self._container.duration) / 1e6
        return None

    def frames(self) -> Iterator[Frame]:
        import av

        if self.closed:
            raise SourceError(f"{self.path}: source is closed")
        if self._started:
            raise SourceError(f"{self.path}: a video file source can be iterated once")
        self._started = True
        stream = self._stream
        time_base: Fraction | None = stream.time_base
        start_pts = stream.start_time
        index = 0
        last_t = -1.0
        warned_no_pts = False
        error: str | None = None
        try:
            for frame in self._container.decode(stream):
                if frame.pts is not None and time_base is not None:
                    pts = frame.pts - (start_pts or 0)
                    t_s = float(pts * time_base)
                else:
                    if not warned_no_pts:
                        log.warning("%s: frames carry no timestamps; using index / %.3g fps", self.name, self.fps)
                        warned_no_pts = True
                    t_s = index / (self.fps or 30.0)
                if t_s <= last_t:
                    log.debug("%s: frame %d at %.6f s is not after %.6f s; dropped", self.name, index, t_s, last_t)
                    continue
                last_t = t_s
                image = frame.to_ndarray(format="rgb24")
                rotation = int(getattr(frame, "rotation", 0) or 0)
                if rotation % 360:
                    # counter-clockwise degrees to bring the picture upright (FFmpeg's display matrix)
                    image = np.ascontiguousarray(np.rot90(image, k=round(rotation / 90) % 4))
                yield Frame(t_s=t_s, image=image, index=index)
                index += 1
        except av.error.FFmpegError as exc:
            error = _ffmpeg_reason(exc)
        if self.closed:
            return
        if error is not None:
            self._truncated(index, f"decoding stopped after {index} frames ({error})")
        elif index == 0:
            raise SourceError(f"{self.path}: no frame could be decoded (damaged or truncated video)")
        else:
            detail = self._shortfall(index, last_t)
            if detail:
                self._truncated(index, detail)

    def _shortfall(self, decoded: int, last_t: float) -> str | None:
        """Why the decoded frames fall short of what the container promises, or None when they do not.

        Short by the index's frame count (one frame of slack) *and*, when the
        container states a duration, ending more than two frames before it: an
        edit list that hides a frame or two is not a truncated file.
        """
        short_by_count = self.expected_frames is not None and decoded < self.expected_frames - 1
        duration = self.duration_s
        frame_s = 1.0 / self.fps if self.fps else 1.0 / 30.0
        ends_early = duration is not None and last_t + frame_s < duration - 2 * frame_s
        if self.expected_frames is not None:
            if short_by_count and (duration is None or ends_early):
                return f"decoded {decoded} of the {self.expected_frames} frames its index lists"
            return None
        if ends_early and duration is not None:
            return f"the frames end at {last_t + frame_s:.2f} s of its {duration:.2f} s"
        return None

    def _truncated(self, decoded: int, detail: str) -> None:
        msg = f"{self.path}: truncated or damaged video: {detail}"
        if self.strict or decoded == 0:
            raise SourceError(msg)
        log.warning("%s", msg)

    def close(self) -> None:
        if not self._closed:
            self._container.close()
        super().close()


def _quiet_ffmpeg_logging() -> None:
    """Keep FFmpeg's own chatter ("partial file", "moov atom not found") off stderr.

    PyAV 13 and later do not forward FFmpeg's log at all by default; PyAV 12
    and earlier (Raspberry Pi OS ships 10) forward it to Python's ``libav.*``
    loggers, which would print it next to our one-line error. It stays visible
    when the station logs at DEBUG (-vv).
    """
    if not logging.getLogger("station").isEnabledFor(logging.DEBUG):
        logging.getLogger("libav").setLevel(logging.CRITICAL)


def _ffmpeg_reason(exc: Exception) -> str:
    """FFmpeg's own words without the errno and the repeated file name."""
    reason = getattr(exc, "strerror", None) or str(exc)
    return str(reason).strip().rstrip(".")
