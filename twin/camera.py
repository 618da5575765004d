"""The station's camera: a pinhole at a position, looking along a heading, with roll; pixels y down.

World: metres, X forward (the runner's direction), Y up, Z to the runner's right. Behind the runner
(posterior view) the camera looks along +X, so the runner's right is on the image's right and the
left on the left; in front (anterior) it looks along -X and the sides swap, as DESIGN.md says.
Roll turns the picture: + when a level line appears turned clockwise (the station's convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Raspberry Pi Camera Module 3 (standard lens): 66 degrees across the sensor's long side
PI_CAMERA_HFOV_DEG = 66.0


@dataclass(frozen=True)
class Camera:
    position: np.ndarray  # world, metres
    yaw_deg: float  # heading of the optical axis: 0 = +X (behind the runner), 180 = -X (in front)
    pitch_deg: float  # + looks up
    roll_deg: float
    width: int
    height: int
    hfov_deg: float = PI_CAMERA_HFOV_DEG  # across the long side of the picture

    @property
    def focal_px(self) -> float:
        return (max(self.width, self.height) / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    def rotation(self) -> np.ndarray:
        """World -> camera (rows: image right, image down, optical axis)."""
        yaw, pitch, roll = (math.radians(a) for a in (self.yaw_deg, self.pitch_deg, self.roll_deg))
        axis = np.array([math.cos(pitch) * math.cos(yaw), math.sin(pitch), math.cos(pitch) * math.sin(yaw)])
        right = np.cross(axis, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(axis, right)
        # roll: the picture turns clockwise by roll, i.e. the camera turns the other way about its axis
        c, s = math.cos(roll), math.sin(roll)
        r2 = np.array([[c, -s], [s, c]])
        r = np.stack([right, down, axis])
        r[:2] = r2 @ r[:2]
        return r

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (... x 3) to pixels (... x 2), origin top-left, y down."""
        pc = (points - self.position) @ self.rotation().T
        f = self.focal_px
        return np.stack([f * pc[..., 0] / pc[..., 2] + self.width / 2, f * pc[..., 1] / pc[..., 2] + self.height / 2],
                        axis=-1)

    def gl_matrices(self, near: float = 0.05, far: float = 200.0) -> tuple[np.ndarray, np.ndarray]:
        """OpenGL view and projection matrices matching :meth:`project` (row-major 4 x 4)."""
        r = self.rotation()
        gl = np.diag([1.0, -1.0, -1.0]) @ r  # camera: x right, y up, looking down -z
        view = np.eye(4)
        view[:3, :3] = gl
        view[:3, 3] = -gl @ self.position
        f = self.focal_px
        proj = np.zeros((4, 4))
        proj[0, 0] = 2 * f / self.width
        proj[1, 1] = 2 * f / self.height
        proj[2, 2] = (far + near) / (near - far)
        proj[2, 3] = 2 * far * near / (near - far)
        proj[3, 2] = -1.0
        return view, proj
