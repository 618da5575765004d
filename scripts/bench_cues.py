"""Cue latency benchmark: from a step handed to the policy to the LED edge on the pin.

Runs the cue policy and the CueBoard on gpiozero's mock pins (or, on a Pi with
``--real-pins``, on the real GPIO) over a simulated run whose drop wanders across
the amber and red thresholds, and prints the distribution of

* ``policy``: time in ``CuePolicy.on_step`` (pure Python);
* ``show``: time in ``CueBoard.show`` for the step's events (the pin writes);
* ``edge``: step emitted -> the LED's recorded state change (mock pins only: MockPin's
  ``states`` history), i.e. the latency issue 4 bounds at 50 ms.

    .venv/bin/python scripts/bench_cues.py --steps 5000
"""

from __future__ import annotations

import argparse
import statistics
import time

import click
import numpy as np

from station.config import CueSettings, PinSettings
from station.cues import CueBoard, CuePolicy, mock_factory
from station.gait.steps import Step


def percentiles_ms(values: list[float]) -> str:
    a = np.asarray(values) * 1000.0
    return (f"median {np.median(a):.3f} ms, p99 {np.percentile(a, 99):.3f} ms, max {a.max():.3f} ms "
            f"(n={len(a)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--real-pins", action="store_true", help="drive the Pi's GPIO instead of mock pins")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    # a drop wandering between 2 and 8 deg (slow sine + step noise): many colour changes
    i = np.arange(args.steps)
    drops = 5.0 + 3.0 * np.sin(i / 40.0) + rng.normal(0.0, 0.4, args.steps)
    step_s = 60.0 / 165.0
    steps = [Step(side="left" if k % 2 == 0 else "right", t_contact_s=k * step_s, t_end_s=k * step_s + 0.25,
                  drop_excursion_deg=float(d)) for k, d in enumerate(drops)]

    factory = None if args.real_pins else mock_factory()
    pins = PinSettings()
    policy = CuePolicy(CueSettings(beep_on_red=False))
    t_policy: list[float] = []
    t_show: list[float] = []
    changes: list[tuple[float, str]] = []  # (emitted at, colour shown)
    with CueBoard(pins, pin_factory=factory) as board:
        mock_pins = {}
        if factory is not None:
            mock_pins = {name: factory.pin(getattr(pins, name)) for name in ("green", "amber", "red")}
            for p in mock_pins.values():
                p.clear_states()
        t_origin = time.monotonic()
        shown = None
        for step in steps:
            t0 = time.monotonic()
            events = policy.on_step(step)
            t1 = time.monotonic()
            board.show_all(events)
            t2 = time.monotonic()
            t_policy.append(t1 - t0)
            t_show.append(t2 - t1)
            for e in events:
                # colour to colour (after "wait", green may already be lit by its blink: no edge to time)
                if e.kind == "led" and e.state in ("green", "amber", "red") and shown in ("green", "amber", "red") \
                        and e.state != shown:
                    changes.append((t0, e.state))
                if e.kind == "led":
                    shown = e.state

    click.echo(f"{args.steps} steps, {len(changes)} colour changes, {'real' if args.real_pins else 'mock'} pins")
    click.echo(f"policy.on_step : {percentiles_ms(t_policy)}")
    click.echo(f"board.show     : {percentiles_ms(t_show)}")
    if mock_pins:
        rises: dict[str, list[float]] = {}
        for name, p in mock_pins.items():
            t = t_origin
            rises[name] = []
            for st in p.states[1:]:
                t += st.timestamp
                if st.state:
                    rises[name].append(t)
        edge = []
        for t_emit, colour in changes:
            edge.append(min(t for t in rises[colour] if t >= t_emit) - t_emit)
        click.echo(f"emitted -> edge: {percentiles_ms(edge)}")
        click.echo(f"mean per step (policy + show): {statistics.fmean(np.add(t_policy, t_show)) * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
