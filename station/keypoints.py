"""The 17 COCO keypoints, the Pose type and the pose track CSV of DESIGN.md.

This is the one place where the keypoint vocabulary lives. Pose estimators
return :class:`Pose`; the analyzer reads its arrays; the track CSV is read and
written here and nowhere else.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from station.coco import KEYPOINT_NAMES, NUM_KEYPOINTS, BodyPart
from station.errors import InputError, MissingFileError
from station.files import capped_lines

__all__ = [
    "KEYPOINT_NAMES",
    "NUM_KEYPOINTS",
    "TRACK_COLUMNS",
    "BodyPart",
    "Pose",
    "PoseTrack",
    "TrackWriter",
    "iter_track_csv",
    "read_track_csv",
    "write_track_csv",
]


TRACK_COLUMNS: tuple[str, ...] = ("t_s",) + tuple(
    f"{name}_{c}" for name in KEYPOINT_NAMES for c in ("x", "y", "score")
)


@dataclass(frozen=True)
class Pose:
    """One frame's keypoints in source-frame pixels (origin top-left, y down).

    ``xy`` has shape (17, 2), ``score`` shape (17,) in 0..1 (0 = not seen).
    ``t_s`` is the source's timestamp, never the processing clock.
    """

    t_s: float
    xy: np.ndarray
    score: np.ndarray
    frame_size: tuple[int, int] | None = field(default=None, compare=False)  # (width, height)

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy, dtype=np.float64).reshape(NUM_KEYPOINTS, 2)
        score = np.asarray(self.score, dtype=np.float64).reshape(NUM_KEYPOINTS)
        object.__setattr__(self, "xy", xy)
        object.__setattr__(self, "score", score)

    def point(self, part: BodyPart) -> tuple[float, float, float]:
        """(x, y, score) of one keypoint."""
        return float(self.xy[part, 0]), float(self.xy[part, 1]), float(self.score[part])

    def to_row(self) -> list[float]:
        """The CSV row for this pose, in :data:`TRACK_COLUMNS` order."""
        row: list[float] = [float(self.t_s)]
        for i in range(NUM_KEYPOINTS):
            row.extend((float(self.xy[i, 0]), float(self.xy[i, 1]), float(self.score[i])))
        return row

    @classmethod
    def from_row(cls, row: Iterable[float]) -> Pose:
        values = np.asarray(list(row), dtype=np.float64)
        kp = values[1:].reshape(NUM_KEYPOINTS, 3)
        return cls(t_s=float(values[0]), xy=kp[:, :2], score=kp[:, 2])

    @classmethod
    def empty(cls, t_s: float, frame_size: tuple[int, int] | None = None) -> Pose:
        """A frame in which nobody was seen."""
        return cls(t_s, np.zeros((NUM_KEYPOINTS, 2)), np.zeros(NUM_KEYPOINTS), frame_size)


@dataclass(frozen=True)
class PoseTrack:
    """A whole pose track as arrays: ``t_s`` (N,), ``xy`` (N, 17, 2), ``score`` (N, 17)."""

    t_s: np.ndarray
    xy: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def __iter__(self) -> Iterator[Pose]:
        for i in range(len(self)):
            yield Pose(float(self.t_s[i]), self.xy[i], self.score[i])

    @classmethod
    def from_poses(cls, poses: Iterable[Pose]) -> PoseTrack:
        poses = list(poses)
        if not poses:
            return cls(np.zeros(0), np.zeros((0, NUM_KEYPOINTS, 2)), np.zeros((0, NUM_KEYPOINTS)))
        return cls(
            np.array([p.t_s for p in poses], dtype=np.float64),
            np.stack([p.xy for p in poses]),
            np.stack([p.score for p in poses]),
        )

    @property
    def fps(self) -> float:
        """Median frame rate from the timestamps (0 when it cannot be told)."""
        if len(self) < 2:
            return 0.0
        dt = np.diff(self.t_s)
        dt = dt[dt > 0]
        return float(1.0 / np.median(dt)) if dt.size else 0.0


def _parse_float(cell: str, line: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise InputError(f"line {line}, column {column}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"line {line}, column {column}: {cell!r} is not a finite number")
    return value


def iter_track_csv(path: str | Path) -> Iterator[Pose]:
    """Yield the poses of a pose track CSV one row at a time, validating as it goes.

    Raises :class:`InputError` with the line and column of the first problem:
    a missing or wrong header, a short row, a non-numeric cell, time going backwards.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a pose track CSV")
    try:
        f = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    with f:
        reader = csv.reader(capped_lines(f))
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError):
            raise InputError(f"{path}: not a text CSV file") from None
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        if header is None:
            raise InputError(f"{path}: empty file, expected a pose track CSV header")
        header = [h.strip() for h in header]
        missing = [c for c in TRACK_COLUMNS if c not in header]
        if missing:
            shown = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
            raise InputError(f"{path}: not a pose track CSV (missing columns: {shown})")
        index = [header.index(c) for c in TRACK_COLUMNS]
        last_t = -math.inf
        line = 1
        try:
            for line, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) < len(header):
                    raise InputError(f"{path}: line {line} has {len(row)} cells, expected {len(header)}")
                values = [_parse_float(row[i], line, TRACK_COLUMNS[k]) for k, i in enumerate(index)]
                if values[0] < last_t:
                    raise InputError(f"{path}: line {line}: t_s goes backwards ({values[0]} < {last_t})")
                last_t = values[0]
                yield Pose.from_row(values)
        except (csv.Error, UnicodeDecodeError):
            raise InputError(f"{path}: line {line} is not valid CSV text") from None
        except InputError as exc:
            if str(exc).startswith(str(path)):
                raise
            raise InputError(f"{path}: {exc}") from None


def read_track_csv(path: str | Path) -> PoseTrack:
    """Read a whole pose track CSV; raises :class:`InputError` if it has no rows."""
    track = PoseTrack.from_poses(iter_track_csv(path))
    if len(track) == 0:
        raise InputError(f"{path}: pose track has a header but no rows")
    return track


class TrackWriter:
    """Writes poses to a pose track CSV, a row at a time (flushes each row)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._f = self.path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot write ({exc.strerror})") from None
        self._w = csv.writer(self._f)
        self._w.writerow(TRACK_COLUMNS)

    def write(self, pose: Pose) -> None:
        row = pose.to_row()
        # t_s to the microsecond, pixels to 0.01 px, scores to 0.001
        self._w.writerow(
            [f"{row[0]:.6f}"] + [f"{v:.3f}" if i % 3 == 0 else f"{v:.2f}" for i, v in enumerate(row[1:], 1)]
        )
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> TrackWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_track_csv(path: str | Path, poses: Iterable[Pose]) -> int:
    """Write poses to a pose track CSV; returns the number of rows."""
    n = 0
    with TrackWriter(path) as w:
        for pose in poses:
            w.write(pose)
            n += 1
    return n
