"""The 17 COCO keypoints in MoveNet's output order: the vocabulary of every pose.

Lives in the pure core so the analyzer needs nothing outside numpy;
:mod:`station.keypoints` re-exports it for the rest of the station.
"""

from __future__ import annotations

import enum


class BodyPart(enum.IntEnum):
    """COCO keypoint order, as MoveNet outputs it."""

    NOSE = 0
    LEFT_EYE = 1
    RIGHT_EYE = 2
    LEFT_EAR = 3
    RIGHT_EAR = 4
    LEFT_SHOULDER = 5
    RIGHT_SHOULDER = 6
    LEFT_ELBOW = 7
    RIGHT_ELBOW = 8
    LEFT_WRIST = 9
    RIGHT_WRIST = 10
    LEFT_HIP = 11
    RIGHT_HIP = 12
    LEFT_KNEE = 13
    RIGHT_KNEE = 14
    LEFT_ANKLE = 15
    RIGHT_ANKLE = 16

    @property
    def key(self) -> str:
        """Lower-case name used in CSV headers and JSON, e.g. ``left_hip``."""
        return self.name.lower()


NUM_KEYPOINTS = len(BodyPart)
KEYPOINT_NAMES: tuple[str, ...] = tuple(p.key for p in BodyPart)
