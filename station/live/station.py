"""The live station: source → pose → analyzer → cues → store, with sessions, status and a preview.

Two threads:

* **capture** (:class:`FrameGrabber`) reads the frame source. A live source (a
  camera) or a paced one (``--realtime``, the demo) hands over only the newest
  frame, so a slow consumer never stalls the camera: older frames are dropped
  and counted. A file or pose track without pacing is read as fast as the
  consumer takes it, and nothing is dropped. When a live source fails or ends
  the grabber reports the loss, retries with exponential back-off and reports
  the return; time after a reconnect stays monotonic. A camera that is missing
  at start, or silent for ``stall_s`` without raising, counts as lost too: the
  station keeps running (heartbeat, web commands), blinks red, records the gap
  in the running session (a ``camera`` cue event and a session note) and logs it.
* **the loop** (:meth:`Station.run`, the caller's thread) runs the pose model,
  the analyzer, the cue policy and the board, and writes the database. Each
  emitted step goes to the board first (the cue is on the pins within
  microseconds) and then to SQLite (each write is its own committed
  transaction). About once a second it writes the heartbeat status the web
  page reads, flushes the raw pose track, and twice a second an atomic preview
  JPEG with the skeleton drawn. Every ~0.5 s it polls the ``commands`` table
  (the web's one way to start and stop sessions); the GPIO button does the same
  through gpiozero's callback thread.

Sessions start at once for a file source (and end at its end), or by the
button, by the web page, or automatically when a runner is in view and well
framed for ``session.appear_s`` and end when they are gone for
``session.absent_s``. Manual sessions (button, web) are ended manually, or
after :data:`MANUAL_ABSENT_S` without a runner so a forgotten session does not
run all night.

Each session gets a fresh analyzer and cue policy, so the stored pose track,
re-analysed offline from the session's first frame, gives the same steps.
Stream times stored (steps, cues, poses) are seconds since the session's first
frame.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from station.camera.base import Frame, FrameSource
from station.camera.capture import STALL_S, CaptureEvent, FrameGrabber
from station.config import Settings, load_settings
from station.cues import CueBoard, CueEvent, CuePolicy, Led
from station.errors import ModelError, SourceError, StationError, StoreError
from station.gait.analyzer import AnalyzerSettings, GaitAnalyzer
from station.gait.framing import FramingView, framing_advice, judge
from station.gait.steps import Step
from station.gait.summary import cadence_spm, summarize
from station.keypoints import Pose
from station.live.report import RunReport, peak_rss_mb
from station.live.status import SideStatus, StationStatus
from station.store import SESSION_COMPLETED, Store

log = logging.getLogger(__name__)

MANUAL_ABSENT_S = 300.0  # a button/web session ends after this long with nobody in view
MODEL_FAILURES_FATAL = 30  # consecutive failed inferences before the station gives up
PREVIEW_MAX_WIDTH = 640


# --------------------------------------------------------------------------------------------
# the station
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    source_name: str = "source"
    model_name: str = ""
    live: bool = False  # a camera: retried from the start if it does not open, watched for stalls
    latest_only: bool = True  # live and paced sources: only the newest frame
    speed: float | None = None  # pace a non-live source by its timestamps
    session_at_once: str | None = None  # trigger of a session that starts with the stream (and ends at its end)
    runner: str | None = None
    preview_path: Path | None = None
    preview_period_s: float = 0.5
    status_period_s: float = 1.0
    command_poll_s: float = 0.5
    pose_flush_s: float = 1.0
    retry_first_s: float = 0.5
    retry_max_s: float = 10.0
    stall_s: float = STALL_S


@dataclass
class _Session:
    id: int
    trigger: str
    runner: str | None
    t0_s: float
    started_wall: float
    analyzer: GaitAnalyzer
    policy: CuePolicy
    settings: Settings
    steps: list[Step] = field(default_factory=list)
    frames: int = 0
    pose_t: list[float] = field(default_factory=list)
    pose_xy: list[np.ndarray] = field(default_factory=list)
    pose_score: list[np.ndarray] = field(default_factory=list)
    last_flush: float = 0.0
    last_t_s: float = 0.0
    absent_since_s: float | None = None
    gaps: list[dict[str, Any]] = field(default_factory=list)


class Station:
    """The live loop. Build it with its parts (all injectable), then :meth:`run` until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        board: CueBoard,
        open_source: Callable[[], FrameSource],
        *,
        estimator_factory: Callable[[], Any] | None = None,
        options: RunOptions | None = None,
        config_path: str | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.base_settings = settings
        self.settings = settings
        self.store = store
        self.board = board
        self._open_source = open_source
        self._estimator_factory = estimator_factory
        self.estimator: Any = None
        self.options = options or RunOptions()
        self.config_path = config_path
        self._on_event = on_event
        self.report = RunReport()
        self.session: _Session | None = None
        self._idle_analyzer = self._new_analyzer(settings)
        self._button: collections.deque[float] = collections.deque()
        self._auto_armed = True
        self._appear_since_s: float | None = None
        self._camera_lost: CaptureEvent | None = None
        self._led_before_fault: Led | None = None
        self._last_status = 0.0
        self._last_poll = 0.0
        self._last_preview = 0.0
        self._last_frame: Frame | None = None
        self._last_pose: Pose | None = None
        self._recent_poses: collections.deque[Pose] = collections.deque(maxlen=45)
        self._preroll: collections.deque[Pose] = collections.deque()  # poses before an automatic start
        self._fps_window: collections.deque[float] = collections.deque(maxlen=120)
        self._model_failures = 0
        self._state = "starting"
        self._message = ""
        self._settings_stamp: str | None = None
        if store.meta_updated_at("settings") is not None:
            self._current_settings()  # the web page's saved overrides apply from the start
        self._source_fps: float | None = None
        self._first_frame_at: float | None = None
        self._last_frame_wall: float | None = None
        self._live = False
        board.when_pressed = self._pressed

    # -- small helpers -------------------------------------------------------------------------
    def _emit(self, what: str, **data: Any) -> None:
        if self._on_event is not None:
            try:
                self._on_event(what, data)
            except Exception:  # an observer must never break the loop
                log.debug("event observer failed", exc_info=True)

    def _pressed(self) -> None:  # gpiozero's thread
        self._button.append(time.monotonic())

    def _new_analyzer(self, settings: Settings) -> GaitAnalyzer:
        cam = settings.camera
        return GaitAnalyzer(AnalyzerSettings(view=cam.view, camera_roll_deg=cam.camera_roll_deg,
                                             camera_distance_m=cam.distance_m))

    def _current_settings(self) -> Settings:
        """The file settings with the web page's overrides (re-read when the web changed them)."""
        stamp = self.store.meta_updated_at("settings")
        if stamp != self._settings_stamp:
            self._settings_stamp = stamp
            try:
                self.settings = load_settings(self.config_path, self.store.settings_overrides()) \
                    if self.config_path else self.base_settings.merged(self.store.settings_overrides())
                log.info("settings from the web page loaded; a running session keeps its own")
            except StationError as exc:
                log.error("settings from the web page ignored: %s", exc)
        return self.settings

    def _show(self, events: list[CueEvent]) -> None:
        if self._camera_lost is not None:
            return  # the fault indicator owns the LEDs until the camera is back
        for ev in events:
            try:
                self.board.show(ev)
            except StationError as exc:
                log.error("cue board: %s", exc)
            self._emit("cue", t_s=ev.t_s - (self.session.t0_s if self.session else 0.0), state=ev.state,
                       kind=ev.kind, reason=ev.reason, side=ev.side, value=ev.value)

    def _record(self, events: list[CueEvent]) -> None:
        s = self.session
        if s is None:
            return
        for ev in events:
            row = ev.as_row()
            row["t_s"] = round(ev.t_s - s.t0_s, 4)
            self.store.add_cue(s.id, row)

    def _idle_led(self, status: Any = None) -> None:
        if self._camera_lost is not None:
            return
        led = Led.READY
        if status is not None and status.in_view and not status.framing_ok:
            led = Led.BAD_FRAMING
        self.board.set_led(led)

    # -- sessions ------------------------------------------------------------------------------
    def start_session(self, trigger: str, runner: str | None = None, t_s: float | None = None) -> int:
        if self.session is not None:
            raise StationError(f"session {self.session.id} is running")
        settings = self._current_settings()
        runner = (runner or self.options.runner or settings.session.default_runner or "").strip() or None
        t0 = t_s if t_s is not None else (self._last_frame.t_s if self._last_frame else 0.0)
        fps = getattr(self, "_source_fps", None)
        sid = self.store.start_session(
            runner=runner, source=self.options.source_name, model=self.options.model_name or "from source",
            fps=fps, view=settings.camera.view, camera_roll_deg=settings.camera.camera_roll_deg,
            settings=settings.to_dict(), trigger=trigger,
        )
        self.session = _Session(
            id=sid, trigger=trigger, runner=runner, t0_s=t0, started_wall=time.monotonic(),
            analyzer=self._new_analyzer(settings), policy=CuePolicy(settings.cues, session_start_s=t0),
            settings=settings, last_flush=time.monotonic(), last_t_s=t0,
        )
        self.report.sessions.append(sid)
        self.report.session_t0_s[sid] = t0
        if self._camera_lost is None:
            self.board.set_led(Led.WAIT)
        log.info("session %d started by %s (runner %s)", sid, trigger, runner or "unnamed")
        self._emit("session_start", session_id=sid, trigger=trigger, runner=runner)
        self._write_status(force=True)
        return sid

    def end_session(self, reason: str) -> dict[str, Any] | None:
        s = self.session
        if s is None:
            return None
        try:
            for step in s.analyzer.finish():
                self._handle_step(step, cue=False)
            self._flush_poses(force=True)
            end_events = s.policy.end(s.last_t_s, reason)
            self._show(end_events)
            self._record(end_events)
            facts: dict[str, Any] = {"frames": s.frames, "end_reason": reason}
            if s.gaps:
                facts["camera_gaps"] = s.gaps
            result = summarize(s.steps)
            self.store.end_session(s.id, summary=result, status=SESSION_COMPLETED,
                                   duration_s=round(max(s.last_t_s - s.t0_s, 0.0), 3), **facts)
            summary = {**result.to_dict(), **facts}
        finally:
            self.session = None
            self._idle_analyzer = self._new_analyzer(self.settings)
            self._appear_since_s = None
            self._preroll.clear()
            self._auto_armed = False  # not again until the runner has left
            self._idle_led()
        log.info("session %d ended (%s): %d steps", s.id, reason, len(s.steps))
        self._emit("session_end", session_id=s.id, reason=reason, summary=summary)
        self._write_status(force=True)
        return summary

    # -- per frame -----------------------------------------------------------------------------
    def _pose_for(self, frame: Frame) -> Pose:
        if frame.pose is not None:
            return frame.pose
        if frame.image is None:
            return Pose.empty(frame.t_s)
        if self.estimator is None:
            if self._estimator_factory is None:
                raise ModelError(f"{self.options.source_name}: gives images, but no pose model was loaded")
            self.estimator = self._estimator_factory()
        tick = time.perf_counter()
        try:
            pose = self.estimator.estimate(frame.image, frame.t_s)
            self._model_failures = 0
        except Exception as exc:
            self._model_failures += 1
            log.error("pose model failed on frame %d (%s: %s)", frame.index, type(exc).__name__, exc)
            if self._model_failures >= MODEL_FAILURES_FATAL:
                raise ModelError(f"pose model failed on {self._model_failures} frames in a row: {exc}") from None
            pose = Pose.empty(frame.t_s, frame.size)
        self.report.inference_s += time.perf_counter() - tick
        self.report.inference_frames += 1
        if pose.t_s != frame.t_s:
            pose = Pose(frame.t_s, pose.xy, pose.score, pose.frame_size)
        if pose.frame_size is None:
            pose = Pose(pose.t_s, pose.xy, pose.score, frame.size)
        return pose

    def _handle_step(self, step: Step, *, cue: bool = True) -> None:
        s = self.session
        if s is None:
            return
        emitted = time.perf_counter()
        events = s.policy.on_step(step) if cue else []
        self._show(events)  # the pins first
        shown = time.perf_counter()
        stored = step.shifted(-s.t0_s)  # the store keeps session time
        self.store.add_step(s.id, stored)
        self._record(events)
        done = time.perf_counter()
        s.steps.append(step)
        self.report.steps += 1
        if cue:
            self.report.cue_latency_s.append(shown - emitted)
            self.report.step_write_s.append(done - emitted)
        self._emit("step", session_id=s.id, step=stored.to_dict())

    def _feed_session(self, s: _Session, pose: Pose) -> int:
        """One pose into the session: analyzer, steps (cues, then the database), view indicator, pose track."""
        t = pose.t_s
        steps = s.analyzer.update(t, pose.xy, pose.score, pose.frame_size)
        s.frames += 1
        s.last_t_s = t
        s.pose_t.append(round(t - s.t0_s, 6))
        s.pose_xy.append(pose.xy)
        s.pose_score.append(pose.score)
        for step in steps:
            self._handle_step(step)
        view_events = s.policy.on_status(s.analyzer.status, t)
        self._show(view_events)
        self._record(view_events)
        return len(steps)

    def process_frame(self, frame: Frame) -> None:
        tick = time.perf_counter()
        self._last_frame_wall = time.monotonic()
        if self._camera_lost is not None and self._camera_lost.stalled:
            self._camera_event(CaptureEvent("back", "frames again", self._last_frame_wall))
        pose = self._pose_for(frame)
        t_pose = time.perf_counter()
        self._last_frame, self._last_pose = frame, pose
        self._recent_poses.append(pose)
        self._fps_window.append(time.monotonic())
        self.report.frames += 1
        t = pose.t_s
        s = self.session
        if s is not None:
            n_steps = self._feed_session(s, pose)
            status = s.analyzer.status
        else:
            n_steps = 0
            self._idle_analyzer.update(t, pose.xy, pose.score, pose.frame_size)
            status = self._idle_analyzer.status
            self._preroll.append(pose)
            while self._preroll and self._preroll[0].t_s < t - self.settings.session.appear_s - 0.5:
                self._preroll.popleft()
            self._idle_led(status)
        t_an = time.perf_counter()
        self._auto_session(status, t)
        self._flush_poses()
        t_done = time.perf_counter()
        self.report.busy_s += t_done - tick
        if self._first_frame_at is None:
            self._first_frame_at = tick
        self.report.loop_s = t_done - self._first_frame_at
        if log.isEnabledFor(logging.DEBUG):
            log.debug("frame %d t=%.3f s: pose %.2f ms, analysis+cues+store %.2f ms, session %.2f ms, %d step(s)",
                      frame.index, t, 1e3 * (t_pose - tick), 1e3 * (t_an - t_pose), 1e3 * (t_done - t_an),
                      n_steps)

    def _auto_session(self, status: Any, t: float) -> None:
        cfg = (self.session.settings if self.session else self.settings).session
        s = self.session
        if s is not None:
            if s.trigger in ("file",):
                return
            if status.in_view:
                s.absent_since_s = None
                return
            if s.absent_since_s is None:
                s.absent_since_s = t
            limit = cfg.absent_s if s.trigger == "auto" else max(cfg.absent_s, MANUAL_ABSENT_S)
            if t - s.absent_since_s >= limit:
                self.end_session(f"runner gone for {limit:.0f} s")
            return
        if not status.in_view:
            self._auto_armed = True
            self._appear_since_s = None
            return
        if not (cfg.auto and self._auto_armed and self.options.session_at_once is None):
            return
        if not status.framing_ok:
            self._appear_since_s = None
            return
        if self._appear_since_s is None:
            self._appear_since_s = t
        if t - self._appear_since_s >= cfg.appear_s:
            since = self._appear_since_s
            preroll = [p for p in self._preroll if p.t_s >= since]
            self.start_session("auto", t_s=preroll[0].t_s if preroll else t)
            s = self.session
            if s is not None:  # the seconds that started it belong to the session: analyse them now
                for pose in preroll:
                    self._feed_session(s, pose)

    def _flush_poses(self, force: bool = False) -> None:
        s = self.session
        if s is None or not s.pose_t:
            return
        now = time.monotonic()
        if not force and now - s.last_flush < self.options.pose_flush_s:
            return
        self.store.add_poses(s.id, s.pose_t, np.stack(s.pose_xy), np.stack(s.pose_score))
        s.pose_t, s.pose_xy, s.pose_score = [], [], []
        s.last_flush = now

    # -- camera loss -----------------------------------------------------------------------------
    def _camera_event(self, ev: CaptureEvent) -> None:
        s = self.session
        t = s.last_t_s if s is not None else 0.0
        if ev.kind == "lost":
            if self._camera_lost is not None:  # already shown (a stall, then the capture thread's own report)
                log.warning("camera still lost: %s", ev.message)
                return
            self._camera_lost = ev
            self.report.camera_gaps += 1
            self._led_before_fault = self.board.led_state
            self.board.set_led(Led.FAULT)
            self._state, self._message = "camera_lost", f"camera lost: {ev.message}; retrying"
            log.error("camera lost (%s); retrying with back-off", ev.message)
            if s is not None:
                self.store.add_cue(s.id, {"t_s": round(t - s.t0_s, 4), "kind": "camera", "state": "lost",
                                          "reason": ev.message})
            self._emit("camera", state="lost", message=ev.message)
        elif ev.kind == "back":
            if self._camera_lost is None:
                return
            lost = self._camera_lost
            self._camera_lost = None
            gap_s = ev.wall_s - lost.wall_s if lost is not None else 0.0
            self.board.set_led(self._led_before_fault or Led.READY)
            self._state, self._message = ("session" if s else "idle"), ""
            log.warning("camera back after %.1f s", gap_s)
            if s is not None:
                s.gaps.append({"t_s": round(t - s.t0_s, 3), "gap_s": round(gap_s, 3), "reason": lost.message
                               if lost else ""})
                self.store.add_cue(s.id, {"t_s": round(t - s.t0_s, 4), "kind": "camera", "state": "back",
                                          "value": round(gap_s, 3), "reason": f"camera back after {gap_s:.1f} s"})
                note = f"camera gap of {gap_s:.1f} s at {t - s.t0_s:.1f} s ({lost.message if lost else ''})"
                current = (self.store.session(s.id) or {}).get("notes") or ""
                self.store.set_notes(s.id, (current + "\n" + note).strip())
            self._emit("camera", state="back", gap_s=gap_s)

    # -- commands, button, status, preview -------------------------------------------------------
    def _poll(self, now: float) -> None:
        while self._button:
            self._button.popleft()
            if self.session is not None:
                self.end_session("button")
            else:
                self.start_session("button")
        if now - self._last_poll < self.options.command_poll_s:
            return
        self._last_poll = now
        for cmd in self.store.pending_commands():
            kind, payload = cmd["kind"], cmd.get("payload") or {}
            if kind == "start":
                if self.session is not None:
                    self.store.finish_command(cmd["id"], ok=False, result=f"session {self.session.id} is running")
                    continue
                sid = self.start_session("web", runner=payload.get("runner"))
                self.store.finish_command(cmd["id"], ok=True, result=f"session {sid} started")
            elif kind == "stop":
                if self.session is None:
                    self.store.finish_command(cmd["id"], ok=False, result="no session is running")
                    continue
                sid = self.session.id
                self.end_session("stopped from the web page")
                self.store.finish_command(cmd["id"], ok=True, result=f"session {sid} ended")
            else:
                self.store.finish_command(cmd["id"], ok=False, result=f"unknown command {kind!r}")

    def _fps(self) -> float:
        w = self._fps_window
        if len(w) < 2 or w[-1] - w[0] <= 0:
            return 0.0
        return (len(w) - 1) / (w[-1] - w[0])

    def _framing(self) -> FramingView:
        """The one framing judgement: the analyzer's per-frame status and the advice over the last poses."""
        s = self.session
        status = (s.analyzer if s else self._idle_analyzer).status
        pose = self._last_pose
        size = pose.frame_size if pose is not None else None
        advice = None
        if size and self._recent_poses:
            poses = list(self._recent_poses)
            advice = framing_advice(np.stack([p.xy for p in poses]), np.stack([p.score for p in poses]), size,
                                    view=self.settings.camera.view)
        return judge(status, advice)

    def status(self) -> StationStatus:
        """The heartbeat: what the live page shows of the station right now."""
        s = self.session
        snap = s.policy.snapshot() if s is not None else {}
        sides = {}
        for side in ("left", "right"):
            info = snap.get(side) or {}
            sides[side] = SideStatus(drop_deg=None if info.get("median_deg") is None else round(info["median_deg"], 2),
                                     level=info.get("level"), steps_in_window=int(info.get("steps") or 0))
        cadence = cadence_spm(s.steps[-16:]) if s is not None else None
        state = self._state
        if self._camera_lost is None and state not in ("fault", "stopped"):
            state = "session" if s is not None else "idle"
        preview = self.options.preview_path
        return StationStatus(
            state=state, message=self._message, pid=os.getpid(), source=self.options.source_name,
            model=self.options.model_name or "from source", view=self.settings.camera.view, fps=round(self._fps(), 1),
            session_id=s.id if s else None, runner=s.runner if s else None, trigger=s.trigger if s else None,
            elapsed_s=round(s.last_t_s - s.t0_s, 1) if s else None, steps=len(s.steps) if s else 0,
            left=sides["left"], right=sides["right"], cadence_spm=None if cadence is None else round(cadence, 1),
            cue=str(self.board.led_state), metronome_spm=snap.get("metronome_spm"), framing=self._framing(),
            camera_ok=self._camera_lost is None,
            preview_path=str(preview) if preview and preview.exists() else None,
        )

    def _write_status(self, now: float | None = None, force: bool = False) -> None:
        now = time.monotonic() if now is None else now
        if not force and now - self._last_status < self.options.status_period_s:
            return
        self._last_status = now
        self.store.set_status(self.status())

    def _write_preview(self, now: float) -> None:
        path = self.options.preview_path
        if path is None or self._last_pose is None or now - self._last_preview < self.options.preview_period_s:
            return
        self._last_preview = now
        from station.preview import draw_skeleton, encode_jpeg_atomic

        frame, pose = self._last_frame, self._last_pose
        if frame is not None and frame.image is not None:
            image = frame.image
        else:
            w, h = pose.frame_size or _canvas_size(pose)
            image = np.full((h, w, 3), 32, np.uint8)
        xy, score = pose.xy, pose.score
        if image.shape[1] > PREVIEW_MAX_WIDTH:
            import cv2

            k = PREVIEW_MAX_WIDTH / image.shape[1]
            image = cv2.resize(image, (PREVIEW_MAX_WIDTH, round(image.shape[0] * k)), interpolation=cv2.INTER_AREA)
            xy = xy * k
        try:
            encode_jpeg_atomic(draw_skeleton(image, xy, score), path)
        except StationError as exc:  # a preview must never stop the station
            log.warning("%s", exc)

    # -- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> RunReport:
        """Run until ``stop`` is set, the stream ends (files) or a fatal error; returns the run's figures."""
        start = time.monotonic()
        interrupted = self.store.mark_interrupted()
        if interrupted:
            log.warning("marked session(s) %s as interrupted (the station stopped without closing them)",
                        ", ".join(map(str, interrupted)))
        source: FrameSource | None = None
        open_error: StationError | None = None
        try:
            source = self._open_source()
        except StationError as exc:
            if not self.options.live:
                raise
            open_error = exc  # a camera missing at boot: keep running, show the fault, retry
        self._source_fps = source.fps if source is not None else None
        gives_poses = source is not None and (bool(getattr(source, "gives_poses", False))
                                              or type(source).__name__ == "TrackSource")
        if not gives_poses and self._estimator_factory is not None:
            self.estimator = self._estimator_factory()
        live = self.options.live or (source is not None and source.live)
        self._live = live
        grabber = FrameGrabber(source, self._open_source, latest_only=self.options.latest_only or live,
                               speed=self.options.speed, retry=True, retry_first_s=self.options.retry_first_s,
                               retry_max_s=self.options.retry_max_s,
                               lost_since=time.monotonic() if open_error is not None else None)
        self.board.set_led(Led.READY)
        self._state = "idle"
        if open_error is not None:
            self._camera_event(CaptureEvent("lost", f"cannot open the camera: {open_error}", time.monotonic()))
        fatal: BaseException | None = None
        try:
            grabber.start()
            at_once = self.options.session_at_once
            while not stop.is_set():
                item = grabber.get(0.1)
                now = time.monotonic()
                if isinstance(item, Frame):
                    if at_once:  # a file: the session starts with its first frame
                        self.start_session(at_once, t_s=item.t_s)
                        at_once = None
                    self.process_frame(item)
                elif isinstance(item, CaptureEvent):
                    if item.kind in ("lost", "back"):
                        self._camera_event(item)
                    elif item.kind == "end":
                        self.report.exit_reason = "end of stream"
                        break
                    else:
                        raise item.error if item.error is not None else SourceError(item.message)
                stall_s = self.options.stall_s
                if (self._live and self._camera_lost is None and self._last_frame_wall is not None
                        and now - self._last_frame_wall > stall_s):
                    self._camera_event(CaptureEvent("lost", f"no frames for {stall_s:g} s (camera stalled)", now,
                                                    stalled=True))
                self._poll(now)
                self._write_status(now)
                self._write_preview(now)
            else:
                self.report.exit_reason = self.report.exit_reason or "stopped"
        except BaseException as exc:
            fatal = exc
            self._state, self._message = "fault", f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):
                self.board.set_led(Led.FAULT)
            if isinstance(exc, StoreError):
                log.error("database write failed: %s; closing down", exc)
            elif isinstance(exc, StationError):
                log.error("%s; closing down", exc)
            raise
        finally:
            grabber.stop()
            self.report.dropped = grabber.frames_dropped
            self.report.decode_s = grabber.decode_s
            reason = self.report.exit_reason or (f"error: {fatal}" if fatal else "stopped")
            if self.session is not None:
                try:
                    self.end_session(reason)
                except StationError as exc:
                    log.error("could not close session cleanly: %s (it will be marked interrupted on the next "
                              "start)", exc)
                    self.session = None
            if self.estimator is not None:
                with contextlib.suppress(Exception):
                    self.estimator.close()
            if fatal is None:
                self._state = "stopped"
            with contextlib.suppress(StationError):
                self._write_status(force=True)
            with contextlib.suppress(Exception):
                self.board.set_led(Led.OFF)
            self.report.wall_s = time.monotonic() - start
            self.report.peak_rss_mb = peak_rss_mb()
            if not self.report.exit_reason:
                self.report.exit_reason = reason
        return self.report


def _canvas_size(pose: Pose) -> tuple[int, int]:
    """A canvas that holds the keypoints, for poses without a frame size (pose tracks)."""
    ok = pose.score > 0
    if not ok.any():
        return 640, 480
    mx = np.nanmax(pose.xy[ok], axis=0)
    w = int(min(max(640, math.ceil(mx[0] / 32) * 32 + 32), 1920))
    h = int(min(max(480, math.ceil(mx[1] / 32) * 32 + 32), 1920))
    return w, h

