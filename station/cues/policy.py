"""The cue policy: what the runner sees and hears, decided step by step. Pure: no I/O, no clock.

:class:`CuePolicy` is fed the analyzer's steps (``.on_step``) and view status
(``.on_status``) and answers with :class:`CueEvent` objects: an LED state, a
beep, the metronome on or off, each with the reason the station records in the
``cue_events`` table. Time comes only from the stream timestamps inside the
steps and statuses. :mod:`station.cues.board` puts the events on GPIO.

How a step becomes a colour
---------------------------
Each side keeps its last ``window_steps`` values of ``drop_excursion_deg``
(steps whose value is ``None`` — keypoints not seen — do not count). Until a
side has ``min_steps`` of them there is no colour judgement for it (a 2D
measure needs about seven steps to be reliable) and the LED shows *wait*. Then
the **median** of the window (one mis-detected step cannot turn the light) is
compared with the amber and red thresholds:

* ``absolute`` mode: ``amber_deg`` / ``red_deg`` (defaults 4° / 6°);
* ``baseline`` mode: the side's median over the first ``baseline_s`` of the
  session plus ``baseline_amber_delta_deg`` (2.8°, the smallest change a 2D
  measure detects reliably) / ``baseline_red_delta_deg``.

Going up a level is immediate; coming down needs the median to fall
``hysteresis_deg`` below the threshold, so a value sitting on a threshold does
not flicker the light.

One light
---------
The runner sees **one** light, judged on the **worse side**: the higher level
of the two sides' judgements (a side without one yet does not count; a tie
goes to the side further above its amber threshold). The LED event is emitted
only when what the light shows changes (its colour, *wait*, dark while faded
feedback withholds it), so the light never follows the stance side step by
step. The beep sounds when the light turns red and names no side; the event's
``side`` and reason say which side the judgement rests on, for the page.
:meth:`CuePolicy.snapshot` gives each side's median, level and thresholds and
the light's own judgement, so the live page shows exactly what the light
shows.

Faded feedback (``fading``): every step is cued for the first
``fading_full_s`` of the session; after that, in each minute, feedback is shown
only for the first fraction of the minute, a fraction falling linearly to zero
at ``fading_end_s`` (the "faded feedback" of running retraining studies, where
the mirror or monitor is withdrawn progressively so the runner learns to feel
the new pattern). While feedback is withheld the LEDs are dark and measuring
goes on.

Metronome (``metronome``): once ``2 × window_steps`` steps have been seen, the
runner's cadence is measured (:func:`station.gait.summary.cadence_spm`, which a missed step does not lower)
and the buzzer ticks at that cadence × (1 + ``metronome_gain_pct``/100) — fixed
from then on, so the target does not chase the runner as they speed up.
"""

from __future__ import annotations

import logging
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol

from station.config import CueSettings
from station.errors import InputError
from station.gait.summary import cadence_spm
from station.gait.uncertainty import enough_steps

log = logging.getLogger(__name__)

Side = Literal["left", "right"]
SIDES: tuple[Side, Side] = ("left", "right")

# A runner missing from view for less than this is not reported (one bad frame must not blink the LEDs).
VIEW_LOST_AFTER_S = 0.3
# Faded feedback is scheduled in blocks of this length: feedback for the first part of each block.
FADING_BLOCK_S = 60.0
# Plausible running cadence; a measured cadence outside it does not start the metronome.
CADENCE_RANGE_SPM = (100.0, 240.0)


class Led(StrEnum):
    """What the three LEDs show. The values are what ``cue_events.state`` records."""

    OFF = "off"  # all dark: no session, or feedback withheld (faded feedback)
    READY = "ready"  # green flash every 2 s: station running, no session
    WAIT = "wait"  # green blinking: measuring, not enough steps for a judgement yet
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NO_RUNNER = "no_runner"  # amber blinking: runner not in view
    BAD_FRAMING = "bad_framing"  # amber blinking: runner in view but framing bad (too small, cut off, ...)
    FAULT = "fault"  # red blinking: camera lost, model failure, disk full


class Level(StrEnum):
    """A side's judgement."""

    WAIT = "wait"
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


_RANK = {Level.GREEN: 0, Level.AMBER: 1, Level.RED: 2}

CueKind = Literal["led", "framing", "buzzer", "metronome"]


@dataclass(frozen=True)
class CueEvent:
    """One cue decision: what to show or sound, when (stream time), and why.

    ``kind`` / ``state``:

    * ``led`` — the drop judgement (``state`` a :class:`Led` value; ``value`` the window median, deg);
    * ``framing`` — the view indicator (``no_runner`` / ``bad_framing``), or the LEDs back
      (``state`` then the colour being restored);
    * ``buzzer`` — ``beep`` (``value`` the duration, s);
    * ``metronome`` — ``on`` (``value`` the target cadence, steps/min) or ``off``.

    :meth:`as_row` is the shape :meth:`station.store.Store.add_cue` takes.
    """

    t_s: float
    kind: CueKind
    state: str
    reason: str
    side: Side | None = None
    value: float | None = None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


CueDecision = CueEvent  # the name issue 4 uses


@dataclass(frozen=True)
class Judgement:
    """What the one light says about the drop now (before faded feedback or the view indicator).

    ``led`` is WAIT, GREEN, AMBER or RED; ``side`` the side it rests on (None while waiting);
    ``value`` that side's window median (deg); ``reason`` in words.
    """

    led: Led
    side: Side | None
    value: float | None
    reason: str


class StepLike(Protocol):
    """What the policy reads from the analyzer's ``Step``."""

    @property
    def side(self) -> str: ...
    @property
    def t_contact_s(self) -> float: ...
    @property
    def t_end_s(self) -> float: ...
    @property
    def drop_excursion_deg(self) -> float | None: ...
    @property
    def cadence_spm(self) -> float | None: ...
    @property
    def drop_excursion_mean_ci95_deg(self) -> float | None: ...


class ViewStatusLike(Protocol):
    """What the policy reads from the analyzer's view / framing status."""

    @property
    def in_view(self) -> bool: ...
    @property
    def framing_ok(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...


# --------------------------------------------------------------------------------------------
# Pure pieces
# --------------------------------------------------------------------------------------------


def next_level(current: Level, value_deg: float, amber_deg: float, red_deg: float, hysteresis_deg: float) -> Level:
    """The level for ``value_deg`` given the ``current`` one: up at once, down only past the hysteresis."""
    raw = Level.RED if value_deg >= red_deg else Level.AMBER if value_deg >= amber_deg else Level.GREEN
    if current == Level.WAIT or _RANK[raw] >= _RANK[current]:
        return raw
    clearly = (
        Level.RED
        if value_deg > red_deg - hysteresis_deg
        else Level.AMBER
        if value_deg > amber_deg - hysteresis_deg
        else Level.GREEN
    )
    return clearly if _RANK[clearly] < _RANK[current] else current


def window_median_deg(values: Iterable[float]) -> float | None:
    """A side's judged value: the median of its window of drop values (one bad step cannot turn the light)."""
    v = list(values)
    return statistics.median(v) if v else None


def feedback_fraction(t_session_s: float, full_s: float, end_s: float) -> float:
    """Share of each fading block with feedback, at session time ``t_session_s`` (1 → 0 linearly)."""
    if t_session_s < full_s:
        return 1.0
    if t_session_s >= end_s:
        return 0.0
    return 1.0 - (t_session_s - full_s) / (end_s - full_s)


def feedback_on(t_session_s: float, full_s: float, end_s: float, block_s: float = FADING_BLOCK_S) -> bool:
    """Faded-feedback schedule: is feedback shown at session time ``t_session_s``?

    Every step until ``full_s``; then, in each ``block_s`` block after ``full_s``, only the
    first part of the block: its share is :func:`feedback_fraction` at the block's middle,
    so it falls block by block to 0 at ``end_s``.
    """
    if t_session_s < full_s:
        return True
    if t_session_s >= end_s:
        return False
    block_start = full_s + block_s * int((t_session_s - full_s) // block_s)
    share = feedback_fraction(min(block_start + block_s / 2, end_s), full_s, end_s)
    return (t_session_s - block_start) < share * block_s


@dataclass
class _SideState:
    window: deque[float]
    level: Level = Level.WAIT
    baseline_values: list[float] | None = None
    baseline_deg: float | None = None
    ci95_deg: float | None = None  # the 95 % half-width of the side's mean drop, as the analyzer last gave it
    too_uncertain: bool = False  # enough steps, but the interval is still wider than amber-red
    settled: bool = False  # the interval has once been narrow enough: from then on the side is judged


class CuePolicy:
    """Steps and view statuses in, :class:`CueEvent` objects out. No I/O, no clock.

    One policy per session. ``session_start_s`` is the stream time the session started
    (the first step or status seen, when not given); baseline and fading run in session time.
    """

    def __init__(self, settings: CueSettings | None = None, session_start_s: float | None = None) -> None:
        self.settings = settings if settings is not None else CueSettings()
        s = self.settings
        self._t0_s = session_start_s
        self._sides = {side: _SideState(window=deque(maxlen=s.window_steps)) for side in SIDES}
        self._last_led: Led | None = None  # the drop cue last shown (restored when the runner is back)
        self._withheld = False
        self._view_ok = True
        self._view_bad_since_s: float | None = None
        self._view_bad_state: Led | None = None
        self._shown_view_state: Led | None = None
        self._recent: list[Any] = []  # the steps the metronome measures the cadence on
        self._metronome_spm: float | None = None
        self._metronome_decided = False
        self._ended = False

    # -- read-only state, for the station's status row and the web page ------------------------
    @property
    def metronome_spm(self) -> float | None:
        return self._metronome_spm

    def snapshot(self) -> dict[str, Any]:
        """Per side: level, window median (deg), steps in window, baseline and thresholds (deg); the light's
        judgement (``light``, ``light_side``) and hysteresis; view, metronome, feedback."""
        out: dict[str, Any] = {}
        for side, st in self._sides.items():
            th = self._thresholds(st)
            out[side] = {
                "level": str(st.level),
                "median_deg": window_median_deg(st.window),
                "steps": len(st.window),
                "baseline_deg": st.baseline_deg,
                "amber_deg": None if th is None else th[0],
                "red_deg": None if th is None else th[1],
                "too_uncertain": st.too_uncertain,
            }
        light = self.judgement()
        out["light"] = light.led.value
        out["light_side"] = light.side
        out["hysteresis_deg"] = self.settings.hysteresis_deg
        out["view_ok"] = self._view_ok
        out["metronome_spm"] = self._metronome_spm
        out["feedback"] = not self._withheld
        return out

    # -- inputs ----------------------------------------------------------------------------------
    def on_step(self, step: StepLike, t_s: float | None = None) -> list[CueEvent]:
        """The cues for one emitted step; ``t_s`` is the stream time of emission (default ``step.t_end_s``)."""
        if self._ended:
            return []
        if step.side not in SIDES:
            raise InputError(f"cues: step side must be left or right (got {step.side!r})")
        s = self.settings
        t = float(step.t_end_s if t_s is None else t_s)
        if self._t0_s is None:
            self._t0_s = float(step.t_contact_s)
        side: Side = "left" if step.side == "left" else "right"
        t_session = t - self._t0_s
        if not self._metronome_decided:
            self._recent.append(step)

        events: list[CueEvent] = []
        value = step.drop_excursion_deg
        st = self._sides[side]
        if value is not None:
            st.ci95_deg = getattr(step, "drop_excursion_mean_ci95_deg", None)
            self._judge(side, st, float(value), float(step.t_contact_s) - self._t0_s)

        if not s.enabled:
            return events
        events.extend(self._metronome_events(t))
        if not self._view_ok:
            return events  # the view indicator owns the LEDs; measuring goes on
        if s.fading and not feedback_on(t_session, s.fading_full_s, s.fading_end_s):
            if not self._withheld:
                self._withheld = True
                self._last_led = Led.OFF
                share = feedback_fraction(t_session, s.fading_full_s, s.fading_end_s)
                events.append(CueEvent(t, "led", Led.OFF.value,
                                       f"faded feedback: withheld at {t_session:.0f} s of the session (feedback now "
                                       f"~{share:.0%} of each minute, none from {s.fading_end_s:.0f} s)"))
            return events
        self._withheld = False
        light = self.judgement()
        if light.led == self._last_led:
            return events  # the judgement did not change: the light stays as it is
        turned_red = light.led == Led.RED
        self._last_led = light.led
        events.append(CueEvent(t, "led", light.led.value, light.reason, side=light.side, value=light.value))
        if turned_red and s.beep_on_red and self._metronome_spm is None:
            events.append(CueEvent(t, "buzzer", "beep", "the light turned red", value=s.beep_s))
        return events

    def on_status(self, status: ViewStatusLike, t_s: float) -> list[CueEvent]:
        """The view indicator: amber blinking while the runner is not in view or badly framed."""
        if self._ended:
            return []
        if self._t0_s is None:
            self._t0_s = float(t_s)
        ok = bool(status.in_view) and bool(status.framing_ok)
        if ok:
            self._view_bad_since_s = None
            if self._view_ok:
                return []
            self._view_ok = True
            restore = self._last_led or Led.WAIT
            return [CueEvent(t_s, "framing", restore.value, "runner back in view")]
        state = Led.NO_RUNNER if not status.in_view else Led.BAD_FRAMING
        if self._view_bad_since_s is None or state != self._view_bad_state:
            self._view_bad_since_s = float(t_s)
            self._view_bad_state = state
        if t_s - self._view_bad_since_s < VIEW_LOST_AFTER_S:
            return []
        if not self._view_ok and self._shown_view_state == state:
            return []
        self._view_ok = False
        self._shown_view_state = state
        why = status.reason or ("runner not in view" if state == Led.NO_RUNNER else "framing bad")
        return [CueEvent(t_s, "framing", state.value, why)]

    def end(self, t_s: float, reason: str = "session ended") -> list[CueEvent]:
        """Everything off at the end of the session."""
        if self._ended:
            return []
        self._ended = True
        events = []
        if self._metronome_spm is not None:
            events.append(CueEvent(t_s, "metronome", "off", reason))
            self._metronome_spm = None
        events.append(CueEvent(t_s, "led", Led.OFF.value, reason))
        return events

    # -- internals -------------------------------------------------------------------------------
    def _thresholds(self, st: _SideState) -> tuple[float, float] | None:
        s = self.settings
        if s.mode == "absolute":
            return s.amber_deg, s.red_deg
        if st.baseline_deg is None:
            return None
        return st.baseline_deg + s.baseline_amber_delta_deg, st.baseline_deg + s.baseline_red_delta_deg

    def _judge(self, side: Side, st: _SideState, value: float, t_contact_session_s: float) -> None:
        s = self.settings
        st.window.append(value)
        if s.mode == "baseline" and st.baseline_deg is None:
            if st.baseline_values is None:
                st.baseline_values = []
            st.baseline_values.append(value)
            # the baseline is the first baseline_s of the session, extended until it has min_steps
            if t_contact_session_s >= s.baseline_s and len(st.baseline_values) >= s.min_steps:
                st.baseline_deg = statistics.median(st.baseline_values)
                st.window.clear()
                st.window.extend(st.baseline_values[-s.window_steps :])
        if len(st.window) < s.min_steps:
            st.level = Level.WAIT
            return
        th = self._thresholds(st)
        if th is None:
            st.level = Level.WAIT
            return
        # "not enough steps yet" until the side's interval is first narrower than the amber-red gap: before that
        # the light could not tell amber from red. Once settled it stays judged, so a noisy patch that widens the
        # interval again does not flicker the light back to waiting (a step without an interval, from another
        # source, is judged on its count alone)
        if not st.settled:
            st.too_uncertain = st.ci95_deg is not None and not enough_steps(st.ci95_deg, th[1] - th[0])
            st.settled = not st.too_uncertain
        if st.too_uncertain:
            st.level = Level.WAIT
            return
        st.level = next_level(st.level, window_median_deg(st.window), th[0], th[1], s.hysteresis_deg)  # type: ignore[arg-type]

    def judgement(self) -> Judgement:
        """The one light's judgement now: the worse of the sides that have one (:class:`Judgement`)."""
        s = self.settings
        judged = [(side, st) for side, st in self._sides.items() if st.level in _RANK]
        if not judged:
            return Judgement(Led.WAIT, None, None, self._waiting_reason())

        def badness(item: tuple[Side, _SideState]) -> tuple[int, float]:
            st = item[1]
            return _RANK[st.level], window_median_deg(st.window) - self._thresholds(st)[0]  # type: ignore[index,operator]

        side, st = max(judged, key=badness)
        th = self._thresholds(st)
        assert th is not None
        median = window_median_deg(st.window)
        basis = "" if st.baseline_deg is None else f" (baseline {st.baseline_deg:.1f}°)"
        other: Side = "right" if side == "left" else "left"
        other_median = window_median_deg(self._sides[other].window)
        beside = "" if other_median is None else f"; {other} {other_median:.1f}°"
        reason = (f"{side} drop {median:.1f}° median of {len(st.window)} steps; amber {th[0]:.1f}°, red {th[1]:.1f}°"
                  f"{basis}{beside}")
        if s.hysteresis_deg and st.level in (Level.AMBER, Level.RED):
            back_deg = (th[0] if st.level == Level.AMBER else th[1]) - s.hysteresis_deg
            reason += f"; {st.level.value} until it is back to {back_deg:.1f}°"
        return Judgement(Led(st.level.value), side, median, reason)

    def _waiting_reason(self) -> str:
        s = self.settings
        if s.mode == "baseline" and any(st.baseline_values is not None and st.baseline_deg is None
                                        for st in self._sides.values()):
            counts = ", ".join(f"{side} {len(st.baseline_values or [])} steps" for side, st in self._sides.items())
            return f"collecting baseline ({counts}, first {s.baseline_s:.0f} s)"
        uncertain = [(side, st) for side, st in self._sides.items() if st.too_uncertain and st.ci95_deg is not None]
        if uncertain:
            th = self._thresholds(uncertain[0][1])  # set: a side is only too uncertain against its thresholds
            assert th is not None
            widths = ", ".join(f"{side} ± {st.ci95_deg:.1f}°" for side, st in uncertain)
            return f"not enough steps yet: {widths} is wider than the {th[1] - th[0]:.1f}° between amber and red"
        counts = ", ".join(f"{side} {len(st.window)} of {s.min_steps}" for side, st in self._sides.items())
        return f"{counts} steps needed for a judgement"

    def _metronome_events(self, t_s: float) -> list[CueEvent]:
        s = self.settings
        if not s.metronome or self._metronome_decided or len(self._recent) < 2 * s.window_steps:
            return []
        self._metronome_decided = True
        measured = cadence_spm(self._recent[: 2 * s.window_steps])
        self._recent = []
        if measured is None or not (CADENCE_RANGE_SPM[0] <= measured <= CADENCE_RANGE_SPM[1]):
            log.warning("metronome not started: measured cadence %s spm is implausible", measured)
            return []
        target = measured * (1.0 + s.metronome_gain_pct / 100.0)
        self._metronome_spm = target
        return [CueEvent(t_s, "metronome", "on",
                         f"cadence {measured:.0f} spm over {2 * s.window_steps} steps; target +"
                         f"{s.metronome_gain_pct:g} %", value=target)]
