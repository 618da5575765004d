"""The live station: source → pose → analyzer → cues → store, with sessions, status and a preview.

Two threads. **Capture** (:class:`~station.camera.capture.FrameGrabber`) reads the frame
source and never lets a slow loop stall a camera; it reports a lost camera, retries and
reports its return. **The loop** (:meth:`Station.run`, the caller's thread) turns each
frame into a pose (:class:`~station.pose.stream.FramePoser`), feeds the session's
analyzer, puts each emitted step's cue on the pins first (microseconds) and then commits
the step to SQLite (its own transaction). About once a second it writes the heartbeat
(:class:`~station.live.status.StationStatus`) the web page reads and the raw poses; twice
a second an atomic preview JPEG. Every ~0.5 s it polls the ``commands`` table (the web's
one way to start and stop sessions); the GPIO button does the same through gpiozero's
callback thread.

Sessions start at once for a file source (and end at its end), or by the button, by the
web page, or automatically when a runner is in view and well framed for
``session.appear_s`` (:class:`~station.live.session.AutoStart`), and end when they are
gone for ``session.absent_s``. Each session gets a fresh analyzer and cue policy, so the
stored pose track, re-analysed offline from the session's first frame, gives the same
steps. Stream times stored (steps, cues, poses) are seconds since the session's first frame.
A camera that is missing at start, fails or stalls keeps the station running: the LEDs
blink red, the gap is noted in the session, the capture thread retries.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from station.camera.base import Frame, FrameSource
from station.camera.capture import STALL_S, CaptureEvent, FrameGrabber, StallWatch
from station.clock import ClockReading, read_clock
from station.config import Settings, analyzer_settings
from station.cues import CueBoard, CueEvent, CuePolicy, Led
from station.errors import SourceError, StationError, StoreError
from station.gait.analyzer import GaitAnalyzer
from station.gait.framing import FramingStatus, FramingView, framing_advice, framing_measures, judge
from station.gait.steps import Step
from station.gait.summary import cadence_spm, summarize
from station.keypoints import Pose
from station.live.report import RunReport, peak_rss_mb
from station.live.session import AutoStart, LiveSession, SettingsFeed
from station.live.status import SideStatus, StationStatus
from station.live.watchdog import Watchdog
from station.pose.stream import FramePoser
from station.store import SESSION_COMPLETED, Store, enforce_pose_budget

log = logging.getLogger(__name__)

RECENT_POSES = 45  # the framing advice looks at the last 1.5 s at 30 fps
CADENCE_STEPS = 16  # the live cadence is over the last this many steps


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
    preview_period_s: float = 0.25  # four a second: fast enough to aim the camera by (the set-up assistant)
    status_period_s: float = 1.0
    command_poll_s: float = 0.5
    pose_flush_s: float = 1.0
    retry_first_s: float = 0.5
    retry_max_s: float = 10.0
    stall_s: float = STALL_S
    source_hang_s: float = 30.0  # the capture thread inside the source this long: withhold the watchdog's ping
    storage_check_s: float = 60.0  # how often the disk budget of raw poses is checked
    disk_usage: Callable[[str], Any] | None = None  # shutil.disk_usage unless given (tests)
    clock: Callable[[], ClockReading] | None = None  # station.clock.read_clock unless given (tests)
    clock_check_s: float = 30.0  # how often unsynchronised sessions look for a synchronised clock


class Every:
    """A periodic chore on the monotonic clock: ``due(now)`` is true at most once per ``period_s``."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._last = float("-inf")

    def due(self, now: float, force: bool = False) -> bool:
        if not force and now - self._last < self.period_s:
            return False
        self._last = now
        return True


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
        on_frame: Callable[[int, float, Frame, Pose], None] | None = None,
    ) -> None:
        self.options = options or RunOptions()
        self.store = store
        self.board = board
        self.report = RunReport()
        self.session: LiveSession | None = None
        self._settings = SettingsFeed(store, settings, config_path)
        self._open_source = open_source
        self._poser = FramePoser(estimator_factory, self.options.source_name)
        self._on_event = on_event
        self._on_frame = on_frame  # (session id, session time, frame, pose) for each frame of a session: the clip
        self._auto = AutoStart(self._new_analyzer(self.settings))
        self._stall = StallWatch(self.options.stall_s)
        self._camera_lost: CaptureEvent | None = None
        self._led_before_fault: Led | None = None
        self._status_due = Every(self.options.status_period_s)
        self._poll_due = Every(self.options.command_poll_s)
        self._preview_due = Every(self.options.preview_period_s)
        self._storage_due = Every(self.options.storage_check_s)
        self._clock_due = Every(self.options.clock_check_s)
        self._clock = self.options.clock or read_clock
        self._button: collections.deque[float] = collections.deque()
        self._last_frame: Frame | None = None
        self._recent_poses: collections.deque[Pose] = collections.deque(maxlen=RECENT_POSES)
        self._frame_times: collections.deque[float] = collections.deque(maxlen=120)
        self._state, self._message = "starting", ""
        self._source_fps: float | None = None
        self._live = False
        self._watchdog = Watchdog()
        self._light_changed = False  # an LED cue shown since the last heartbeat
        board.when_pressed = self._pressed

    # -- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> RunReport:
        """Run until ``stop`` is set, the stream ends (files) or a fatal error; returns the run's figures."""
        start = time.monotonic()
        interrupted = self.store.mark_interrupted()
        if interrupted:
            log.warning("marked session(s) %s as interrupted (the station stopped without closing them)",
                        ", ".join(map(str, interrupted)))
        source, open_error = self._first_source()
        grabber = FrameGrabber(source, self._open_source, latest_only=self.options.latest_only or self._live,
                               speed=self.options.speed, retry=True, retry_first_s=self.options.retry_first_s,
                               retry_max_s=self.options.retry_max_s,
                               lost_since=time.monotonic() if open_error is not None else None)
        self.board.set_led(Led.READY)
        self._state = "idle"
        self._watchdog.ready(f"watching {self.options.source_name}")
        if open_error is not None:
            self._camera_event(CaptureEvent("lost", f"cannot open the camera: {open_error}", time.monotonic()))
        fatal: BaseException | None = None
        try:
            grabber.start()
            self._loop(grabber, stop)
        except BaseException as exc:
            fatal = exc
            self._fault(exc)
            raise
        finally:
            self._shut_down(grabber, start, fatal)
        return self.report

    def _first_source(self) -> tuple[FrameSource | None, StationError | None]:
        """Open the source; a camera missing at boot is not fatal (the station shows the fault and retries)."""
        source: FrameSource | None = None
        open_error: StationError | None = None
        try:
            source = self._open_source()
        except StationError as exc:
            if not self.options.live:
                raise
            open_error = exc
        self._source_fps = source.fps if source is not None else None
        if source is None or not source.gives_poses:
            self._poser.load()  # a model that cannot load fails now, not at the first frame
        self._live = self.options.live or (source is not None and source.live)
        return source, open_error

    def _loop(self, grabber: FrameGrabber, stop: threading.Event) -> None:
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
                    return
                else:
                    raise item.error if item.error is not None else SourceError(item.message)
            if self._live and self._camera_lost is None and (stalled := self._stall.check(now)) is not None:
                self._camera_event(stalled)
            self._poll(now)
            self._write_status(now, force=self._light_changed)  # the page learns of a new light at once
            self._write_preview(now)
            self._check_storage(now)
            if self._clock_due.due(now):
                self.store.correct_dates(self._clock())
            stuck_s = grabber.stuck_s(now)
            self._watchdog.alive(now, healthy=stuck_s < self.options.source_hang_s,
                                 why=f"the source has not returned for {stuck_s:.0f} s (a hung driver?)")
        self.report.exit_reason = self.report.exit_reason or "stopped"

    def _fault(self, exc: BaseException) -> None:
        self._state, self._message = "fault", f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            self.board.set_led(Led.FAULT)
        if isinstance(exc, StoreError):
            log.error("database write failed: %s; closing down", exc)
        elif isinstance(exc, StationError):
            log.error("%s; closing down", exc)

    def _shut_down(self, grabber: FrameGrabber, start: float, fatal: BaseException | None) -> None:
        self._watchdog.stopping()
        grabber.stop()
        self.report.dropped = grabber.frames_dropped
        self.report.repeated_t = grabber.frames_repeated_t
        self.report.decode_s = grabber.decode_s
        reason = self.report.exit_reason or (f"error: {fatal}" if fatal else "stopped")
        if self.session is not None:
            try:
                self.end_session(reason)
            except StationError as exc:
                log.error("could not close session cleanly: %s (it will be marked interrupted on the next start)",
                          exc)
                self.session = None
        self._poser.close()
        self.report.inference_s = self._poser.inference_s
        self.report.inference_frames = self._poser.inference_frames
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

    # -- per frame -----------------------------------------------------------------------------
    def process_frame(self, frame: Frame) -> None:
        tick = time.perf_counter()
        wall = time.monotonic()
        self._stall.frame(wall)
        if self._camera_lost is not None and self._camera_lost.stalled:
            self._camera_event(CaptureEvent("back", "frames again", wall))
        pose = self._poser(frame)
        t_pose = time.perf_counter()
        self._last_frame = frame
        self._recent_poses.append(pose)
        self._frame_times.append(wall)
        self.report.frames += 1
        s = self.session
        if s is not None:
            if self._on_frame is not None:
                self._on_frame(s.id, s.session_time(frame.t_s), frame, pose)
            n_steps = self._feed_session(s, pose)
            if (limit := s.runner_gone(s.analyzer.status.in_view, pose.t_s)) is not None:
                self.end_session(f"runner gone for {limit:.0f} s")
        else:
            n_steps = 0
            status = self._auto.observe(pose, self.settings.session.appear_s)
            self._idle_led(status)
            self._maybe_start(status, pose.t_s)
        self._flush_poses()
        t_done = time.perf_counter()
        self.report.busy_s += t_done - tick
        if self.report.first_frame_at is None:
            self.report.first_frame_at = tick
        self.report.loop_s = t_done - self.report.first_frame_at
        if log.isEnabledFor(logging.DEBUG):
            log.debug("frame %d t=%.3f s: pose %.2f ms, analysis+cues+store %.2f ms, %d step(s)",
                      frame.index, pose.t_s, 1e3 * (t_pose - tick), 1e3 * (t_done - t_pose), n_steps)

    def _feed_session(self, s: LiveSession, pose: Pose) -> int:
        """One pose into the session: analyzer, steps (cues, then the database), view indicator, pose track."""
        steps = s.analyzer.update(pose.t_s, pose.xy, pose.score, pose.frame_size)
        s.frames += 1
        s.last_t_s = pose.t_s
        if s.keep_poses:
            s.poses.add(pose.t_s - s.t0_s, pose)
        for step in steps:
            self._handle_step(step)
        self._cue(s.policy.on_status(s.analyzer.status, pose.t_s))
        return len(steps)

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

    # -- sessions ------------------------------------------------------------------------------
    def start_session(self, trigger: str, runner: str | None = None, t_s: float | None = None) -> int:
        if self.session is not None:
            raise StationError(f"session {self.session.id} is running")
        settings = self._current_settings()
        runner = (runner or self.options.runner or settings.session.default_runner or "").strip() or None
        t0 = t_s if t_s is not None else (self._last_frame.t_s if self._last_frame else 0.0)
        sid = self.store.start_session(
            runner=runner, source=self.options.source_name, model=self.options.model_name or "from source",
            fps=self._source_fps, view=settings.camera.view, camera_roll_deg=settings.camera.camera_roll_deg,
            settings=settings.to_dict(), trigger=trigger, clock=self._clock(),
        )
        self.session = LiveSession(id=sid, trigger=trigger, runner=runner, t0_s=t0,
                                   analyzer=self._new_analyzer(settings),
                                   policy=CuePolicy(settings.cues, session_start_s=t0), settings=settings,
                                   last_t_s=t0, last_flush=time.monotonic())
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
            self._cue(s.policy.end(s.last_t_s, reason))
            facts: dict[str, Any] = {"frames": s.frames, "end_reason": reason}
            if s.gaps:
                facts["camera_gaps"] = s.gaps
            result = summarize(s.steps)
            self.store.end_session(s.id, summary=result, status=SESSION_COMPLETED,
                                   duration_s=round(max(s.last_t_s - s.t0_s, 0.0), 3), **facts)
            summary = {**result.to_dict(), **facts}
        finally:
            self.session = None
            self._auto.reset(self._new_analyzer(self.settings))
            self._idle_led()
        log.info("session %d ended (%s): %d steps", s.id, reason, len(s.steps))
        self._emit("session_end", session_id=s.id, reason=reason, summary=summary)
        self._write_status(force=True)
        return summary

    def _maybe_start(self, status: FramingStatus, t_s: float) -> None:
        preroll = self._auto.due(status, t_s, self.settings.session, self.options.session_at_once is None)
        if preroll is None:
            return
        self.start_session("auto", t_s=preroll[0].t_s if preroll else t_s)
        s = self.session
        if s is not None:  # the seconds that started it belong to the session: analyse them now
            for pose in preroll:
                self._feed_session(s, pose)

    def _flush_poses(self, force: bool = False) -> None:
        s = self.session
        if s is None or not s.poses:
            return
        now = time.monotonic()
        if not force and now - s.last_flush < self.options.pose_flush_s:
            return
        s.last_flush = now
        try:
            self.store.add_poses(s.id, *s.poses.take())
        except StoreError as exc:  # a full disk: raw poses go first, the steps must still get in
            log.error("raw poses not written (%s): dropping raw poses to keep measuring", exc)
            self._stop_keeping_poses(f"low disk: {exc}")
            self._check_storage(now, force=True)

    # -- disk budget -----------------------------------------------------------------------------
    def _check_storage(self, now: float, force: bool = False) -> None:
        """The disk budget of raw poses (:func:`station.store.enforce_pose_budget`); when the disk stays low
        even so, the running session stops keeping raw poses and goes on measuring."""
        if self.store.path == ":memory:" or not self._storage_due.due(now, force):
            return
        s = self.session
        try:
            state = enforce_pose_budget(self.store, self.settings.storage, running=s.id if s else None,
                                        disk_usage=self.options.disk_usage)
        except StoreError as exc:
            log.error("disk budget check failed: %s", exc)
            return
        if state.low_disk and s is not None and s.keep_poses:
            self._stop_keeping_poses(f"low disk: {state.available_bytes / 1e6:.0f} MB available, "
                                     f"{state.min_free_bytes / 1e6:.0f} MB wanted")

    def _stop_keeping_poses(self, reason: str) -> None:
        s = self.session
        if s is None or not s.keep_poses:
            return
        s.keep_poses = False
        s.poses.take() if s.poses else None
        log.error("session %d: %s; its raw poses are removed, steps and summary are kept", s.id, reason)
        with contextlib.suppress(StoreError):
            self.store.remove_poses(s.id, reason)

    # -- settings ------------------------------------------------------------------------------
    def _new_analyzer(self, settings: Settings) -> GaitAnalyzer:
        return GaitAnalyzer(analyzer_settings(settings))

    @property
    def settings(self) -> Settings:
        """The settings now (a running session keeps its own, ``session.settings``)."""
        return self._settings.settings

    def _current_settings(self) -> Settings:
        return self._settings.current()

    # -- cues ----------------------------------------------------------------------------------
    def _emit(self, what: str, **data: Any) -> None:
        if self._on_event is not None:
            try:
                self._on_event(what, data)
            except Exception:  # an observer must never break the loop
                log.debug("event observer failed", exc_info=True)

    def _cue(self, events: list[CueEvent]) -> None:
        self._show(events)
        self._record(events)

    def _show(self, events: list[CueEvent]) -> None:
        if self._camera_lost is not None:
            return  # the fault indicator owns the LEDs until the camera is back
        self._light_changed = self._light_changed or any(ev.kind in ("led", "framing") for ev in events)
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
            self.store.add_cue(s.id, {**ev.as_row(), "t_s": s.session_time(ev.t_s)})

    def _idle_led(self, status: FramingStatus | None = None) -> None:
        if self._camera_lost is not None:
            return
        bad = status is not None and status.in_view and not status.framing_ok
        self.board.set_led(Led.BAD_FRAMING if bad else Led.READY)

    # -- camera loss -----------------------------------------------------------------------------
    def _camera_event(self, ev: CaptureEvent) -> None:
        if ev.kind == "lost":
            self._camera_gone(ev)
        elif ev.kind == "back" and self._camera_lost is not None:
            self._camera_back(ev)

    def _camera_gone(self, ev: CaptureEvent) -> None:
        if self._camera_lost is not None:  # already shown (a stall, then the capture thread's own report)
            log.warning("camera still lost: %s", ev.message)
            return
        s = self.session
        self._camera_lost = ev
        self.report.camera_gaps += 1
        self._led_before_fault = self.board.led_state
        self.board.set_led(Led.FAULT)
        self._state, self._message = "camera_lost", f"camera lost: {ev.message}; retrying"
        log.error("camera lost (%s); retrying with back-off", ev.message)
        if s is not None:
            self.store.add_cue(s.id, {"t_s": s.session_time(s.last_t_s), "kind": "camera", "state": "lost",
                                      "reason": ev.message})
        self._emit("camera", state="lost", message=ev.message)

    def _camera_back(self, ev: CaptureEvent) -> None:
        s = self.session
        lost, self._camera_lost = self._camera_lost, None
        assert lost is not None
        gap_s = ev.wall_s - lost.wall_s
        self.board.set_led(self._led_before_fault or Led.READY)
        self._state, self._message = ("session" if s else "idle"), ""
        log.warning("camera back after %.1f s", gap_s)
        if s is not None:
            t = s.session_time(s.last_t_s)
            s.gaps.append({"t_s": round(t, 3), "gap_s": round(gap_s, 3), "reason": lost.message})
            self.store.add_cue(s.id, {"t_s": t, "kind": "camera", "state": "back", "value": round(gap_s, 3),
                                      "reason": f"camera back after {gap_s:.1f} s"})
            note = f"camera gap of {gap_s:.1f} s at {t:.1f} s ({lost.message})"
            current = (self.store.session(s.id) or {}).get("notes") or ""
            self.store.set_notes(s.id, (current + "\n" + note).strip())
        self._emit("camera", state="back", gap_s=gap_s)

    # -- commands, button, status, preview -------------------------------------------------------
    def _pressed(self) -> None:  # gpiozero's thread
        self._button.append(time.monotonic())

    def _poll(self, now: float) -> None:
        while self._button:
            self._button.popleft()
            if self.session is not None:
                self.end_session("button")
            else:
                self.start_session("button")
        if not self._poll_due.due(now):
            return
        self._current_settings()  # saved from the web page: the session settings apply at once
        for cmd in self.store.pending_commands():
            ok, result = self._command(cmd["kind"], cmd.get("payload") or {})
            self.store.finish_command(cmd["id"], ok=ok, result=result)

    def _command(self, kind: str, payload: dict[str, Any]) -> tuple[bool, str]:
        """One request from the web page: (done, what happened)."""
        if kind == "start":
            if self.session is not None:
                return False, f"session {self.session.id} is running"
            return True, f"session {self.start_session('web', runner=payload.get('runner'))} started"
        if kind == "stop":
            if self.session is None:
                return False, "no session is running"
            sid = self.session.id
            self.end_session("stopped from the web page")
            return True, f"session {sid} ended"
        return False, f"unknown command {kind!r}"

    def _fps(self) -> float:
        w = self._frame_times
        if len(w) < 2 or w[-1] - w[0] <= 0:
            return 0.0
        return (len(w) - 1) / (w[-1] - w[0])

    def status(self) -> StationStatus:
        """The heartbeat: what the live page shows of the station right now."""
        s = self.session
        snap = s.policy.snapshot() if s is not None else {}
        summary = summarize(s.steps) if s is not None else None
        sides = {}
        for side in ("left", "right"):
            info = snap.get(side) or {}
            median = info.get("median_deg")
            mean = summary.side(side).means["drop_excursion_deg"] if summary is not None else None
            ci = summary.side(side).drop_excursion_ci95_deg if summary is not None else None
            sides[side] = SideStatus(drop_deg=None if median is None else round(median, 2), level=info.get("level"),
                                     steps_in_window=int(info.get("steps") or 0), amber_deg=info.get("amber_deg"),
                                     red_deg=info.get("red_deg"), mean_deg=None if mean is None else round(mean, 2),
                                     ci95_deg=None if ci is None else round(ci, 2),
                                     uncertain=bool(info.get("too_uncertain")))
        cadence = cadence_spm(s.steps[-CADENCE_STEPS:]) if s is not None else None
        state = self._state
        if self._camera_lost is None and state not in ("fault", "stopped"):
            state = "session" if s is not None else "idle"
        preview = self.options.preview_path
        return StationStatus(
            state=state, message=self._message, pid=os.getpid(), source=self.options.source_name,  # type: ignore[arg-type]
            model=self.options.model_name or "from source", view=self.settings.camera.view, fps=round(self._fps(), 1),
            session_id=s.id if s else None, runner=s.runner if s else None, trigger=s.trigger if s else None,
            elapsed_s=round(s.last_t_s - s.t0_s, 1) if s else None, steps=len(s.steps) if s else 0,
            left=sides["left"], right=sides["right"], cadence_spm=None if cadence is None else round(cadence, 1),
            cue=str(self.board.led_state), cue_side=snap.get("light_side"), hysteresis_deg=snap.get("hysteresis_deg"),
            metronome_spm=snap.get("metronome_spm"), framing=self._framing(),
            camera_ok=self._camera_lost is None, preview_path=str(preview) if preview and preview.exists() else None,
        )

    def _framing(self) -> FramingView:
        """The one framing judgement: the analyzer's per-frame status and the advice over the last poses."""
        status = (self.session.analyzer if self.session else self._auto.analyzer).status
        poses = list(self._recent_poses)
        size = poses[-1].frame_size if poses else None
        advice = measures = None
        if size:
            xy, score = np.stack([p.xy for p in poses]), np.stack([p.score for p in poses])
            advice = framing_advice(xy, score, size, view=self.settings.camera.view)
            measures = framing_measures(xy, score, size, hfov_deg=self.settings.camera.hfov_deg)
        return judge(status, advice, measures)

    def _write_status(self, now: float | None = None, force: bool = False) -> None:
        if self._status_due.due(time.monotonic() if now is None else now, force):
            self._light_changed = False
            self.store.set_status(self.status())

    def _write_preview(self, now: float) -> None:
        path = self.options.preview_path
        if path is None or not self._recent_poses or not self._preview_due.due(now):
            return
        from station.preview import write_preview

        frame = self._last_frame
        try:
            write_preview(frame.image if frame is not None else None, self._recent_poses[-1], path)
        except StationError as exc:  # a preview must never stop the station
            log.warning("%s", exc)
