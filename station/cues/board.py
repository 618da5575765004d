"""The cue board: what the policy decides, on GPIO through gpiozero's own composite devices.

* the three LEDs are one :class:`gpiozero.TrafficLights` (red, amber, green);
* an active buzzer is a :class:`gpiozero.Buzzer`: a beep is ``Buzzer.beep(on, 0, n=1)``, the
  metronome ``Buzzer.beep(tick, period - tick)``, both on gpiozero's own background thread;
* a passive piezo is a :class:`gpiozero.TonalBuzzer` (it has no ``beep``: a timer ends a tone, a
  ticker thread plays the metronome);
* the start/stop button is a :class:`gpiozero.Button` to ground with the internal pull-up.

The pin factory is injectable (gpiozero's design): off the Pi :func:`mock_factory` gives
gpiozero's mock pins, whose ``states`` history the tests read. :func:`open_board` is how the
station gets its board: on a Raspberry Pi a board whose pins cannot be opened is an error
(:class:`BoardError`), never a silent fall-back to mock pins; elsewhere the mock pins stand
in with a warning.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from station.config import PinSettings, Settings
from station.cues.policy import CueEvent, Led
from station.errors import BoardError, InputError

log = logging.getLogger(__name__)

METRONOME_TICK_S = 0.03
# Passive (PWM) buzzer: piezo discs are loudest around 2–4 kHz.
TICK_TONE_HZ = 2093.0  # C7
BEEP_TONE_HZ = 2637.0  # E7
PASSIVE_MID_TONE = "C7"
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def mock_factory() -> Any:
    """gpiozero's mock pin factory with PWM-capable pins (so a passive buzzer works too)."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    return MockFactory(pin_class=MockPWMPin)


def on_raspberry_pi(model_file: Path = DEVICE_TREE_MODEL) -> bool:
    """True on a Raspberry Pi (the device tree names the board)."""
    try:
        return "raspberry pi" in model_file.read_text(errors="replace").lower()
    except OSError:
        return False


# Led -> (LED name, pattern): None = steady on; (on_s, off_s) = blinking
_PATTERNS: dict[Led, tuple[str | None, tuple[float, float] | None]] = {
    Led.OFF: (None, None),
    Led.READY: ("green", (0.1, 1.9)),
    Led.WAIT: ("green", (0.5, 0.5)),
    Led.GREEN: ("green", None),
    Led.AMBER: ("amber", None),
    Led.RED: ("red", None),
    Led.NO_RUNNER: ("amber", (0.25, 0.25)),
    Led.BAD_FRAMING: ("amber", (0.25, 0.25)),
    Led.FAULT: ("red", (0.5, 0.5)),
}


class _Ticker(threading.Thread):
    """A passive buzzer's metronome: ``on`` then, ``tick_s`` later, ``off``, every ``period_s`` (monotonic clock)."""

    def __init__(self, period_s: float, tick_s: float, on: Callable[[], None], off: Callable[[], None]) -> None:
        super().__init__(name="metronome", daemon=True)
        self.period_s = period_s
        self.tick_s = min(tick_s, period_s / 2)
        self._on, self._off = on, off
        self._stop_event = threading.Event()

    def run(self) -> None:
        next_t = time.monotonic()
        try:
            while not self._stop_event.is_set():
                self._on()
                self._stop_event.wait(self.tick_s)
                self._off()
                next_t += self.period_s
                delay = next_t - time.monotonic()
                if delay < 0:  # fell behind (a stalled machine): resynchronise, do not burst
                    next_t = time.monotonic()
                    delay = 0.0
                if self._stop_event.wait(delay):
                    break
        except Exception:  # a closed device during shutdown
            log.debug("metronome stopped", exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
        if self is not threading.current_thread():
            self.join(timeout=1.0)


class CueBoard:
    """Three LEDs, a buzzer and a button on GPIO, driven by :class:`CueEvent` objects.

    Every call acts at once in the caller's thread (an LED edge is a register write;
    blinking patterns, beeps and the metronome run on background threads), so a cue
    is on the pins within microseconds of :meth:`show`. Thread-safe; :meth:`close`
    is idempotent; usable as a context manager.
    """

    def __init__(
        self,
        pins: PinSettings | None = None,
        *,
        buzzer_kind: Literal["active", "passive"] = "active",
        pin_factory: Any = None,
        when_pressed: Callable[[], None] | None = None,
        bounce_s: float = 0.05,
    ) -> None:
        from gpiozero import Button, Buzzer, TonalBuzzer, TrafficLights
        from gpiozero.exc import GPIOZeroError
        from gpiozero.tones import Tone

        self.pins = pins if pins is not None else PinSettings()
        self.buzzer_kind = buzzer_kind
        self._lock = threading.RLock()
        self._closed = False
        self._led_state = Led.OFF
        self._metronome_spm: float | None = None
        self._ticker: _Ticker | None = None  # passive buzzer's metronome
        self._beep_timer: threading.Timer | None = None  # passive buzzer's beep
        self._devices: list[Any] = []
        p = self.pins
        try:
            self.lights = TrafficLights(red=p.red, amber=p.amber, green=p.green, pin_factory=pin_factory)
            self._devices.append(self.lights)
            if buzzer_kind == "passive":
                self.buzzer: Any = TonalBuzzer(p.buzzer, mid_tone=Tone(PASSIVE_MID_TONE), octaves=1,
                                               pin_factory=pin_factory)
            else:
                self.buzzer = Buzzer(p.buzzer, pin_factory=pin_factory)
            self._devices.append(self.buzzer)
            self.button = Button(p.button, pull_up=True, bounce_time=bounce_s, pin_factory=pin_factory)
            self._devices.append(self.button)
        except (GPIOZeroError, OSError, RuntimeError) as exc:
            self.close()
            raise BoardError(f"cannot open the GPIO cue board ({type(exc).__name__}: {exc})") from None
        if when_pressed is not None:
            self.when_pressed = when_pressed

    @classmethod
    def from_settings(cls, settings: Settings, *, pin_factory: Any = None,
                      when_pressed: Callable[[], None] | None = None) -> CueBoard:
        return cls(settings.pins, buzzer_kind=settings.cues.buzzer_kind, pin_factory=pin_factory,
                   when_pressed=when_pressed)

    @property
    def leds(self) -> dict[str, Any]:
        """The three LEDs of the traffic light by colour name."""
        return {"green": self.lights.green, "amber": self.lights.amber, "red": self.lights.red}

    # -- context manager / lifetime ------------------------------------------------------------
    def __enter__(self) -> CueBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """All outputs off, pins released. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop_metronome()
            if self._beep_timer is not None:
                self._beep_timer.cancel()
            for dev in reversed(self._devices):
                try:
                    dev.close()
                except Exception:  # closing must not fail the shutdown
                    log.debug("closing %r failed", dev, exc_info=True)
            self._devices.clear()

    # -- the button ----------------------------------------------------------------------------
    @property
    def when_pressed(self) -> Callable[[], None] | None:
        return self.button.when_pressed

    @when_pressed.setter
    def when_pressed(self, callback: Callable[[], None] | None) -> None:
        """Called (on gpiozero's thread) when the start/stop button is pressed."""
        self.button.when_pressed = callback

    # -- LEDs ------------------------------------------------------------------------------------
    @property
    def led_state(self) -> Led:
        return self._led_state

    def set_led(self, state: Led | str) -> None:
        state = Led(state)
        with self._lock:
            if self._closed:
                log.debug("board closed: LED %s ignored", state)
                return
            if state == self._led_state:
                return  # idempotent: a steady LED stays, a blinking pattern keeps its phase
            name, pattern = _PATTERNS[state]
            for other, led in self.leds.items():
                if other != name:
                    led.off()
            if name is not None:
                led = self.leds[name]
                if pattern is None:
                    led.on()
                else:
                    led.blink(on_time=pattern[0], off_time=pattern[1], background=True)
            self._led_state = state

    # -- buzzer ----------------------------------------------------------------------------------
    def beep(self, duration_s: float = 0.08, tone_hz: float = BEEP_TONE_HZ) -> bool:
        """Sound the buzzer for ``duration_s`` (returns at once). Not while the metronome ticks."""
        with self._lock:
            if self._closed or self._metronome_spm is not None:
                return False
            if self.buzzer_kind == "active":
                self.buzzer.beep(on_time=duration_s, off_time=0, n=1, background=True)
                return True
            if self._beep_timer is not None:
                self._beep_timer.cancel()
            self.buzzer.play(tone_hz)
            timer = threading.Timer(duration_s, self._end_tone)
            timer.daemon = True
            self._beep_timer = timer
            timer.start()
            return True

    def _end_tone(self) -> None:
        with self._lock:
            if self._closed or self._beep_timer is not threading.current_thread():
                return  # a newer beep or the metronome owns the buzzer now
            self._beep_timer = None
            self.buzzer.stop()

    @property
    def metronome_spm(self) -> float | None:
        return self._metronome_spm

    def start_metronome(self, rate_spm: float, tick_s: float = METRONOME_TICK_S) -> None:
        """Tick the buzzer ``rate_spm`` times a minute until :meth:`stop_metronome`."""
        if not (30.0 <= rate_spm <= 300.0):
            raise InputError(f"metronome rate must be between 30 and 300 steps/min (got {rate_spm:g})")
        with self._lock:
            if self._closed:
                return
            self._stop_metronome()
            period_s = 60.0 / rate_spm
            tick_s = min(tick_s, period_s / 2)
            if self.buzzer_kind == "active":
                self.buzzer.beep(on_time=tick_s, off_time=period_s - tick_s, n=None, background=True)
            else:
                if self._beep_timer is not None:
                    self._beep_timer.cancel()
                    self._beep_timer = None
                    self.buzzer.stop()
                self._ticker = _Ticker(period_s, tick_s, lambda: self.buzzer.play(TICK_TONE_HZ), self.buzzer.stop)
                self._ticker.start()
            self._metronome_spm = rate_spm

    def stop_metronome(self) -> None:
        with self._lock:
            self._stop_metronome()

    def _stop_metronome(self) -> None:
        if self._metronome_spm is None:
            return
        self._metronome_spm = None
        try:
            if self._ticker is not None:
                self._ticker.stop()
                self._ticker = None
                self.buzzer.stop()
            else:
                self.buzzer.off()  # ends gpiozero's blink thread and leaves the pin low
        except Exception:
            log.debug("buzzer off failed", exc_info=True)

    # -- events ----------------------------------------------------------------------------------
    def show(self, event: CueEvent) -> None:
        """Put one :class:`CueEvent` on the pins, immediately."""
        if event.kind in ("led", "framing"):
            self.set_led(event.state)
        elif event.kind == "buzzer":
            if event.state == "beep":
                self.beep(event.value if event.value is not None else 0.08)
        elif event.kind == "metronome":
            if event.state == "on" and event.value is not None:
                self.start_metronome(event.value)
            else:
                self.stop_metronome()
        else:
            raise InputError(f"unknown cue kind {event.kind!r}")

    def show_all(self, events: Iterable[CueEvent]) -> None:
        for event in events:
            self.show(event)


def open_board(settings: Settings, *, mock: bool = False, on_pi: bool | None = None) -> CueBoard:
    """The station's cue board.

    ``mock`` asks for gpiozero's mock pins. Otherwise the real pins: on a Raspberry Pi a failure
    is a :class:`BoardError` (the runner would see no cue at all: the station must not start
    pretending); off the Pi the mock pins stand in, with a warning, so the station runs anywhere.
    """
    if mock:
        return CueBoard.from_settings(settings, pin_factory=mock_factory())
    pi = on_raspberry_pi() if on_pi is None else on_pi
    # gpiozero warns once per pin library it cannot load before it settles on one (or none): keep those
    # for the debug log instead of a screenful of Python warnings on every start off the Pi
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return CueBoard.from_settings(settings)
        except BoardError as exc:
            if pi:
                raise BoardError(f"{exc}: check the wiring and that no other program holds the pins "
                                 "(--mock-pins runs without the board)") from None
            failure = exc
        finally:
            for w in caught:
                log.debug("gpiozero: %s", w.message)
    log.warning("%s: not a Raspberry Pi, using mock pins; cues show in the log and on the web page only", failure)
    return CueBoard.from_settings(settings, pin_factory=mock_factory())
