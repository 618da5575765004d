"""What the camera does to the picture: sensor noise, then H.264 at a Raspberry Pi camera's bitrate.

Noise: a photon (shot) term that grows with the signal and a read-noise floor, in 8-bit units,
scaled by ``noise`` (0 = none, 1 = a small sensor indoors). Bitrate: picamera2's H264Encoder rule for
its default (MEDIUM) quality, 6 Mbit/s at 1080p30 scaled by the square root of the pixel rate.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from twin.errors import InputError

PICAMERA2_MEDIUM_1080P30_BPS = 6_000_000


def pi_camera_bitrate(width: int, height: int, fps: float) -> int:
    """picamera2's bitrate for Quality.MEDIUM: 6 Mbit/s x sqrt(pixel rate / 1080p30)."""
    return int(PICAMERA2_MEDIUM_1080P30_BPS * math.sqrt(width * height * fps / (1920 * 1080 * 30)))


def add_sensor_noise(image: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Float image (0..1) -> uint8 with shot and read noise (8-bit units: sigma^2 = 4 + 0.35 x signal)."""
    dn = image * 255.0
    if noise > 0:
        sigma = noise * np.sqrt(4.0 + 0.35 * dn)
        dn = dn + rng.standard_normal(dn.shape, dtype=np.float32) * sigma
    return np.clip(dn + 0.5, 0, 255).astype(np.uint8)


class H264Writer:
    """Frames to an MP4 (H.264, yuv420p) with exact timestamps: frame k at k / fps seconds."""

    def __init__(self, path: Path, width: int, height: int, fps: float, bitrate: int) -> None:
        import av

        if width % 2 or height % 2:
            raise InputError(f"--size {width}x{height}: H.264 needs an even width and height")
        self.path = path
        self.fps = fps
        self.tick = Fraction(1, 90000)
        try:
            self.container = av.open(str(path), "w")
        except (OSError, av.error.FFmpegError) as exc:
            raise InputError(f"{path}: cannot write ({exc})") from None
        s = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.bit_rate = bitrate
        s.time_base = self.tick
        s.codec_context.time_base = self.tick
        s.options = {"preset": "veryfast", "g": str(int(round(fps)))}  # a keyframe a second, as the Pi does
        self.stream = s
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = int(round(self.frames / self.fps / self.tick))
        frame.time_base = self.tick
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self.container is None:
            return
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        self.container = None

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
