"""Small video files made on the fly with PyAV (FFmpeg), for source and CLI tests.

Nothing here is a fake decoder: the files are real H.264 MP4s with the exact
presentation timestamps a test asks for, decoded by the same code as any clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

MS = Fraction(1, 1000)


def write_mp4(
    path: Path,
    pts_ms: Sequence[int],
    *,
    size: tuple[int, int] = (64, 48),
    faststart: bool = True,
    images: Sequence[np.ndarray] | None = None,
    rotation_deg: int = 0,
    seed: int = 0,
    container_format: str = "mp4",
) -> Path:
    """Write an H.264 video whose frames carry exactly ``pts_ms`` (milliseconds) as timestamps.

    MP4 by default; ``container_format`` picks another FFmpeg muxer (e.g. "matroska").

    ``images`` (RGB uint8, size[1] x size[0]) default to random noise, which
    compresses badly and so makes a file large enough to cut in the middle of its data.
    ``rotation_deg`` stores a display matrix (counter-clockwise degrees), as phones do.
    """
    rng = np.random.default_rng(seed)
    options = {"movflags": "+faststart"} if faststart and container_format == "mp4" else {}
    with av.open(str(path), "w", format=container_format, options=options) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = MS
        stream.codec_context.time_base = MS
        stream.options = {"crf": "18", "preset": "ultrafast"}
        if rotation_deg:
            stream.set_display_rotation(rotation_deg)
        for i, t in enumerate(pts_ms):
            img = images[i] if images is not None else rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = int(t)
            frame.time_base = MS
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def cut_file(src: Path, dst: Path, fraction: float) -> Path:
    """Copy the first ``fraction`` of a file's bytes: a truncated download or a pulled card."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst
