"""A live session's state, and the watcher that starts one when a runner appears.

:class:`LiveSession` is one session as the loop holds it: its analyzer and cue
policy (fresh for each session, so the stored pose track re-analyses to the same
steps), its steps, and its raw poses waiting to be written (:class:`PoseBuffer`).
:class:`AutoStart` watches between sessions: an idle analyzer tells whether a
well-framed runner is in view; after ``session.appear_s`` of that a session
starts, and the poses that started it are analysed as its first.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from station.config import SessionSettings, Settings, effective_settings, load_settings
from station.cues.policy import CuePolicy
from station.errors import StationError
from station.gait.analyzer import GaitAnalyzer
from station.gait.framing import FramingStatus
from station.gait.steps import Step
from station.keypoints import Pose
from station.store import Store

log = logging.getLogger(__name__)

MANUAL_ABSENT_S = 300.0  # a button/web session ends after this long with nobody in view
PREROLL_MARGIN_S = 0.5  # poses kept before an automatic start beyond appear_s


class SettingsFeed:
    """The station's settings as they change: the file's (re-read when it is named), with the overrides
    the web page saved merged in (:func:`station.config.effective_settings`), re-read when the page saves."""

    def __init__(self, store: Store, base: Settings, config_path: str | None = None) -> None:
        self.store = store
        self.base = base
        self.config_path = config_path
        self.settings = base
        self._stamp: str | None = None
        if store.meta_updated_at("settings") is not None:
            self.current()  # the web page's saved overrides apply from the start

    def current(self) -> Settings:
        stamp = self.store.meta_updated_at("settings")
        if stamp == self._stamp:
            return self.settings
        self._stamp = stamp
        try:
            base = load_settings(self.config_path) if self.config_path else self.base
        except StationError as exc:
            log.error("settings file ignored: %s", exc)
            base = self.base
        self.settings, problem = effective_settings(base, self.store.settings_overrides())
        if problem:
            log.error("%s", problem)
        else:
            log.info("settings from the web page loaded; a running session keeps its own")
        return self.settings


class PoseBuffer:
    """Raw poses of a session waiting to be written, in session time."""

    def __init__(self) -> None:
        self.t_s: list[float] = []
        self.xy: list[np.ndarray] = []
        self.score: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.t_s)

    def add(self, t_session_s: float, pose: Pose) -> None:
        self.t_s.append(round(t_session_s, 6))
        self.xy.append(pose.xy)
        self.score.append(pose.score)

    def take(self) -> tuple[list[float], np.ndarray, np.ndarray]:
        """Everything buffered (times, xy (N, 17, 2), score (N, 17)), and empty again."""
        out = (self.t_s, np.stack(self.xy), np.stack(self.score))
        self.t_s, self.xy, self.score = [], [], []
        return out


@dataclass
class LiveSession:
    id: int
    trigger: str  # button | web | auto | file
    runner: str | None
    t0_s: float  # stream time of the session's first frame
    analyzer: GaitAnalyzer
    policy: CuePolicy
    settings: Settings  # a session keeps the settings it started with
    steps: list[Step] = field(default_factory=list)
    frames: int = 0
    last_t_s: float = 0.0
    absent_since_s: float | None = None
    gaps: list[dict[str, Any]] = field(default_factory=list)  # camera gaps: t_s, gap_s, reason
    poses: PoseBuffer = field(default_factory=PoseBuffer)
    last_flush: float = 0.0  # monotonic time the pose buffer was last written
    keep_poses: bool = True  # False once the disk ran low: steps go on, raw poses are no longer kept

    def session_time(self, t_s: float, ndigits: int = 4) -> float:
        return round(t_s - self.t0_s, ndigits)

    def runner_gone(self, in_view: bool, t_s: float) -> float | None:
        """The absence (s) that ends this session when the runner has been out of view that long, else None.

        Automatic sessions end after ``session.absent_s``; sessions started by hand (button, web) after
        :data:`MANUAL_ABSENT_S` at least, so a forgotten session does not run all night; a file's at its end.
        """
        if self.trigger == "file" or in_view:
            self.absent_since_s = None
            return None
        if self.absent_since_s is None:
            self.absent_since_s = t_s
        cfg = self.settings.session
        limit = cfg.absent_s if self.trigger == "auto" else max(cfg.absent_s, MANUAL_ABSENT_S)
        return limit if t_s - self.absent_since_s >= limit else None


class AutoStart:
    """Between sessions: is a runner in view, well framed, for long enough to start a session?"""

    def __init__(self, analyzer: GaitAnalyzer) -> None:
        self.analyzer = analyzer
        self.preroll: collections.deque[Pose] = collections.deque()  # poses before an automatic start
        self.armed = True  # not again until the runner has left after a session
        self._appear_since_s: float | None = None

    def reset(self, analyzer: GaitAnalyzer) -> None:
        """After a session: a fresh idle analyzer; no new automatic session until the runner has left."""
        self.analyzer = analyzer
        self.preroll.clear()
        self.armed = False
        self._appear_since_s = None

    def observe(self, pose: Pose, appear_s: float) -> FramingStatus:
        """One pose while no session runs; returns what the idle analyzer sees."""
        self.analyzer.update(pose.t_s, pose.xy, pose.score, pose.frame_size)
        self.preroll.append(pose)
        while self.preroll and self.preroll[0].t_s < pose.t_s - appear_s - PREROLL_MARGIN_S:
            self.preroll.popleft()
        return self.analyzer.status

    def due(self, status: FramingStatus, t_s: float, cfg: SessionSettings, allowed: bool) -> list[Pose] | None:
        """The poses that start a session when one is due now (a runner in view and well framed for
        ``appear_s``), else None. ``allowed``: automatic sessions are on for this run."""
        if not status.in_view:
            self.armed = True
            self._appear_since_s = None
            return None
        if not (cfg.auto and self.armed and allowed):
            return None
        if not status.framing_ok:
            self._appear_since_s = None
            return None
        if self._appear_since_s is None:
            self._appear_since_s = t_s
        if t_s - self._appear_since_s < cfg.appear_s:
            return None
        since = self._appear_since_s
        return [p for p in self.preroll if p.t_s >= since]
