"""Frame sources: where images (or ready-made poses) come from, with the source's own timestamps."""

from station.camera.base import Frame, FrameSource

__all__ = ["Frame", "FrameSource"]
