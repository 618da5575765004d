"""A short clip of each session: a few seconds around its most typical steps, skeleton and pelvis line drawn.

For a before/after comparison a coach wants to *see* the runner, not only numbers. The live
station has the frames, so it keeps a clip: every :data:`EVERY_S` seconds of a session it
records the next :data:`LENGTH_S` seconds (downscaled frames and their poses), encodes them
on a worker thread as a small H.264 MP4 (PyAV, in memory) and keeps the few candidates
whose steps' drop is nearest the session's so far. When the session ends, the candidate
whose per-side median drop is nearest the session's per-side means is written beside the
database (``clips/session-<id>.mp4``, atomically); the oldest clips are removed to keep the
folder within its disk budget. A pose track or the simulated runner has no pictures: the
skeleton is drawn on a dark canvas, as the live preview does.

:class:`ClipRecorder` is an observer of the live loop: :meth:`on_event` takes the station's
events (``session_start``, ``step``, ``session_end``; times in session time) and
:meth:`on_frame` each frame of a running session. It never stops the station: a failure is
a logged line and no clip.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import math
import os
import statistics
import tempfile
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from station.camera.base import Frame
from station.coco import BodyPart
from station.keypoints import Pose
from station.preview import COLOR_MID, blank_canvas, draw_skeleton

log = logging.getLogger(__name__)

LENGTH_S = 4.0  # a clip: about five strides
FIRST_S = 8.0  # the first candidate starts here (each side's first steps carry no drop yet)
EVERY_S = 20.0  # a new candidate this often
KEEP = 4  # candidates kept while the session runs
HEIGHT_PX = 480  # the clip is portrait, 3:4, cropped round the runner: two fit side by side on a phone
ASPECT = 3 / 4
MAX_FPS = 30.0
CRF = 28  # x264 quality: 23 is its default, higher is smaller; 28 keeps a skeleton on a 480 px frame sharp
MIN_STEPS_PER_SIDE = 2
MAX_PENDING = 45  # frames waiting for the encoder: beyond this a slow machine skips frames, never piles them up
LEVEL_COLOUR = (255, 255, 255)


def draw_clip_frame(image_rgb: np.ndarray, xy: np.ndarray, score: np.ndarray, min_score: float = 0.3) -> np.ndarray:
    """The skeleton, the pelvis line (hip to hip, extended) and a level line through the hips' middle."""
    out = draw_skeleton(image_rgb, xy, score, min_score)
    lh, rh = int(BodyPart.LEFT_HIP), int(BodyPart.RIGHT_HIP)
    if score[lh] < min_score or score[rh] < min_score or not np.isfinite(xy[[lh, rh]]).all():
        return out
    a, b = xy[lh], xy[rh]
    d = b - a
    width = float(np.hypot(*d))
    if width < 2.0:
        return out
    mid = (a + b) / 2.0
    reach = 1.6 * width  # the line reaches past each hip, so its tilt reads at a glance
    thick = max(2, round(out.shape[0] / 180))
    u = d / width
    p0, p1 = np.round(mid - reach * u).astype(int), np.round(mid + reach * u).astype(int)
    level0, level1 = np.round(mid - [reach, 0.0]).astype(int), np.round(mid + [reach, 0.0]).astype(int)
    cv2.line(out, tuple(level0), tuple(level1), LEVEL_COLOUR, 1, cv2.LINE_AA)
    cv2.line(out, tuple(p0), tuple(p1), COLOR_MID, thick + 1, cv2.LINE_AA)
    return out


def crop_box(width: int, height: int, xy: np.ndarray, score: np.ndarray, min_score: float = 0.3,
             margin: float = 0.15) -> tuple[int, int, int, int]:
    """A fixed 3:4 (portrait) box round the runner, ``margin`` of its height to spare; the whole frame without one."""
    seen = (score >= min_score) & np.isfinite(xy).all(axis=1)
    if seen.sum() < 4:
        return 0, 0, width, height
    lo, hi = xy[seen].min(axis=0), xy[seen].max(axis=0)
    h = min(float(height), (hi[1] - lo[1]) * (1 + 2 * margin))
    w = min(float(width), h * ASPECT)
    h = min(h, w / ASPECT)
    cx, cy = (lo + hi) / 2.0
    x = int(round(min(max(cx - w / 2, 0.0), width - w)))
    y = int(round(min(max(cy - h / 2, 0.0), height - h)))
    return x, y, max(2, int(w)), max(2, int(h))


class Mp4Encoder:
    """RGB frames at their times (s) into an H.264 MP4 (yuv420p, fast start, variable frame rate), one at a time.

    Frames are encoded as they come (nothing piles up in memory); :meth:`close` gives the file's bytes.
    """

    def __init__(self, crf: int = CRF) -> None:
        self.crf = crf
        self._tmp = tempfile.TemporaryDirectory(prefix="gait-clip-")  # fast start rewrites the file: a real one
        self.path = Path(self._tmp.name) / "clip.mp4"
        self._container: Any = None
        self._stream: Any = None
        self._t0 = 0.0
        self._last_pts = -1

    def add(self, t_s: float, image_rgb: np.ndarray) -> None:
        import av

        if self._container is None:
            h, w = image_rgb.shape[:2]
            self._container = av.open(str(self.path), mode="w", format="mp4", options={"movflags": "+faststart"})
            self._stream = self._container.add_stream("libx264", rate=int(MAX_FPS))
            self._stream.width, self._stream.height, self._stream.pix_fmt = w, h, "yuv420p"
            self._stream.time_base = Fraction(1, 1000)
            self._stream.options = {"crf": str(self.crf), "preset": "veryfast", "profile": "main", "threads": "1"}
            self._t0 = t_s
        pts = max(round((t_s - self._t0) * 1000), self._last_pts + 1)
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image_rgb), format="rgb24")
        frame.pts, frame.time_base = pts, Fraction(1, 1000)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> bytes:
        """Finish the file and return its bytes (empty without frames); the temporary file is gone after."""
        try:
            if self._container is None:
                return b""
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None
            return self.path.read_bytes()
        finally:
            if self._container is not None:
                with contextlib.suppress(Exception):
                    self._container.close()
            self._tmp.cleanup()


def write_atomic(data: bytes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".clip-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # the web service may run as another user in the same group
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def prune(directory: Path, budget_bytes: float, keep: Path | None = None) -> list[Path]:
    """Remove the oldest clips until the folder holds at most ``budget_bytes``; returns what was removed."""
    clips = sorted(directory.glob("session-*.mp4"), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in clips)
    removed = []
    for p in clips:
        if total <= budget_bytes:
            break
        if p == keep:
            continue
        total -= p.stat().st_size
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


@dataclass
class _Candidate:
    t0_s: float
    encoder: Mp4Encoder = field(default_factory=Mp4Encoder)
    frames: int = 0
    last_t_s: float = -math.inf
    drops: dict[str, list[float]] = field(default_factory=lambda: {"left": [], "right": []})
    encoded: concurrent.futures.Future[bytes] | None = None
    crop: tuple[int, int, int, int] | None = None  # x, y, w, h in the frame, fixed for the clip

    @property
    def t1_s(self) -> float:
        return self.t0_s + LENGTH_S

    def medians(self) -> dict[str, float] | None:
        if any(len(v) < MIN_STEPS_PER_SIDE for v in self.drops.values()):
            return None
        return {side: statistics.median(v) for side, v in self.drops.items()}

    def distance(self, target: dict[str, float | None]) -> float:
        """How far this clip's per-side median drop is from ``target``'s (inf when it cannot say)."""
        mine = self.medians()
        if mine is None or any(target.get(side) is None for side in mine):
            return math.inf
        return sum(abs(mine[side] - target[side]) for side in mine)  # type: ignore[operator]


class ClipRecorder:
    """Keeps each session's most typical few seconds as a small H.264 clip in ``directory``."""

    def __init__(self, directory: Path, *, budget_mb: float = 200.0, height_px: int = HEIGHT_PX,
                 max_pending: int = MAX_PENDING) -> None:
        self.directory = Path(directory)
        self.budget_bytes = budget_mb * 1e6
        self.height_px = height_px
        self.max_pending = max_pending  # frames waiting for the encoder beyond which frames are skipped
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip")
        self._pending = 0  # frames handed to the encoder and not yet encoded
        self._pending_lock = threading.Lock()
        self.skipped = 0
        self._canvas: np.ndarray | None = None
        self._session: int | None = None
        self._next_s = FIRST_S
        self._recording: _Candidate | None = None
        self._candidates: list[_Candidate] = []
        self._drops: dict[str, list[float]] = {"left": [], "right": []}
        self.written: list[tuple[Path, float, float]] = []  # (file, its start and end in session time)

    # -- the station's events ------------------------------------------------------------------
    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        try:
            if kind == "session_start":
                self._start(int(data["session_id"]))
            elif kind == "step" and data.get("session_id") == self._session:
                self._step(data["step"])
            elif kind == "session_end" and data.get("session_id") == self._session:
                self._finish(data.get("summary") or {})
        except Exception:  # a clip must never stop the station
            log.warning("clip of session %s failed", self._session, exc_info=True)
            self._reset()

    def on_frame(self, session_id: int, t_s: float, frame: Frame, pose: Pose) -> None:
        """One frame of the running session at session time ``t_s``."""
        if session_id != self._session:
            return
        try:
            self._frame(t_s, frame, pose)
        except Exception:
            log.warning("clip of session %s: frame dropped", session_id, exc_info=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- internals -----------------------------------------------------------------------------
    def _reset(self) -> None:
        if self._recording is not None:
            self._pool.submit(self._recording.encoder.close)  # an unfinished candidate: its temporary file goes
        self._session, self._recording, self._candidates = None, None, []
        self._drops = {"left": [], "right": []}
        self._next_s = FIRST_S

    def _start(self, session_id: int) -> None:
        self._reset()
        self._session = session_id

    def _frame(self, t_s: float, frame: Frame, pose: Pose) -> None:
        rec = self._recording
        if rec is None:
            if t_s < self._next_s:
                return
            rec = self._recording = _Candidate(t0_s=t_s)
            self._next_s = t_s + EVERY_S
        if t_s >= rec.t1_s:
            self._close_recording()
            return
        if t_s - rec.last_t_s < 1.0 / MAX_FPS - 1e-3:
            return
        with self._pending_lock:
            if self._pending >= self.max_pending:
                self.skipped += 1
                return
            self._pending += 1
        rec.last_t_s = t_s
        rec.frames += 1
        image = frame.image if frame.image is not None else self._blank(pose)
        if rec.crop is None:
            rec.crop = crop_box(image.shape[1], image.shape[0], pose.xy, pose.score)
        x, y, w, h = rec.crop
        k = min(1.0, self.height_px / h)
        size = (2 * round(w * k / 2), 2 * round(h * k / 2))  # even sides for yuv420p
        part = image[y:y + h, x:x + w]
        small = cv2.resize(part, size, interpolation=cv2.INTER_AREA) if size != (w, h) else part.copy()
        xy = (pose.xy - [x, y]) * [size[0] / w, size[1] / h]
        self._pool.submit(self._encode_frame, rec.encoder, t_s, small, xy, pose.score.copy())  # drawn off the loop

    def _blank(self, pose: Pose) -> np.ndarray:
        """The dark canvas of a frame without a picture, made once per size (only read: the crop is copied)."""
        if self._canvas is None or (pose.frame_size and self._canvas.shape[1::-1] != tuple(pose.frame_size)):
            self._canvas = blank_canvas(pose)
        return self._canvas

    def _encode_frame(self, encoder: Mp4Encoder, t_s: float, image: np.ndarray, xy: np.ndarray,
                      score: np.ndarray) -> None:
        try:
            encoder.add(t_s, draw_clip_frame(image, xy, score))
        finally:
            with self._pending_lock:
                self._pending -= 1

    def _close_recording(self) -> None:
        rec, self._recording = self._recording, None
        if rec is None:
            return
        rec.encoded = self._pool.submit(rec.encoder.close)
        if rec.frames < 2:
            return
        self._candidates.append(rec)
        if len(self._candidates) > KEEP:  # forget the least typical so far (the newest may still get steps)
            target = {side: statistics.median(v) if v else None for side, v in self._drops.items()}
            worst = max(self._candidates[:-1], key=lambda c: c.distance(target))
            self._candidates.remove(worst)

    def _step(self, step: dict[str, Any]) -> None:
        drop, side, t = step.get("drop_excursion_deg"), step.get("side"), step.get("t_contact_s")
        if drop is None or side not in self._drops or t is None:
            return
        self._drops[side].append(float(drop))
        for c in [*self._candidates, *([self._recording] if self._recording else [])]:
            if c.t0_s <= t <= c.t1_s:
                c.drops[side].append(float(drop))

    def _finish(self, summary: dict[str, Any]) -> None:
        sid = self._session
        if self._recording is not None and self._recording.last_t_s - self._recording.t0_s >= LENGTH_S / 2:
            self._close_recording()
        target = {side: (summary.get(side) or {}).get("drop_excursion_deg") for side in ("left", "right")}
        ranked = sorted((c for c in self._candidates if c.distance(target) < math.inf),
                        key=lambda c: c.distance(target))
        self._reset()
        if sid is None or not ranked or ranked[0].encoded is None:
            log.info("session %s: no clip (no stretch of steps on both sides was recorded)", sid)
            return
        data = ranked[0].encoded.result(timeout=60)
        if not data:
            return
        path = self.directory / f"session-{sid}.mp4"
        write_atomic(data, path)
        self.written.append((path, ranked[0].t0_s, ranked[0].t1_s))
        removed = prune(self.directory, self.budget_bytes, keep=path)
        log.info("session %s: clip of %.0f-%.0f s written (%d kB)%s", sid, ranked[0].t0_s, ranked[0].t1_s,
                 len(data) // 1000, f"; {len(removed)} old clip(s) removed for the disk budget" if removed else "")
