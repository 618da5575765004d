"""The cue policy: pure, fed steps and statuses, answering with CueEvents."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pytest

from station.config import CueSettings
from station.cues.policy import (
    CueEvent,
    CuePolicy,
    Led,
    Level,
    feedback_fraction,
    feedback_on,
    next_level,
)
from station.errors import InputError
from station.gait.steps import Step
from tests.conftest import require_shared

STEP_S = 60.0 / 160.0  # 160 steps/min


@dataclass(frozen=True)
class Status:
    in_view: bool
    framing_ok: bool
    reason: str = ""


def make_steps(drops_deg: list[float | None], step_s: float = STEP_S, t0_s: float = 0.0) -> list[Step]:
    """Alternating left/right steps, one every ``step_s``, each with the given drop excursion."""
    steps = []
    for i, d in enumerate(drops_deg):
        t = t0_s + i * step_s
        steps.append(Step(side="left" if i % 2 == 0 else "right", t_contact_s=t, t_end_s=t + 0.7 * step_s,
                          drop_excursion_deg=d))
    return steps


def led_events(events: list[CueEvent]) -> list[CueEvent]:
    return [e for e in events if e.kind == "led"]


def run(policy: CuePolicy, steps: list[Step]) -> list[list[CueEvent]]:
    return [policy.on_step(s) for s in steps]


def shown(per_step: list[list[CueEvent]]) -> list[str | None]:
    """What the one light shows after each step: LED events come only when it changes, so carry it forward."""
    out: list[str | None] = []
    state = None
    for events in per_step:
        for e in led_events(events):
            state = e.state
        out.append(state)
    return out


# ---------------------------------------------------------------------------------- pure helpers


def test_next_level_goes_up_at_once_and_down_only_past_the_hysteresis() -> None:
    a, r, h = 4.0, 6.0, 0.5
    assert next_level(Level.WAIT, 3.9, a, r, h) == Level.GREEN
    assert next_level(Level.WAIT, 4.0, a, r, h) == Level.AMBER
    assert next_level(Level.GREEN, 6.2, a, r, h) == Level.RED
    # from red: 5.7 is within the band below red -> stays red; 5.4 is clearly amber
    assert next_level(Level.RED, 5.7, a, r, h) == Level.RED
    assert next_level(Level.RED, 5.4, a, r, h) == Level.AMBER
    assert next_level(Level.RED, 3.4, a, r, h) == Level.GREEN
    # from amber: 3.6 stays amber, 3.5 (= threshold - hysteresis) is green
    assert next_level(Level.AMBER, 3.6, a, r, h) == Level.AMBER
    assert next_level(Level.AMBER, 3.5, a, r, h) == Level.GREEN
    # zero hysteresis: a plain threshold
    assert next_level(Level.AMBER, 3.99, a, r, 0.0) == Level.GREEN


def test_feedback_schedule_fades_linearly_in_one_minute_blocks() -> None:
    full, end = 300.0, 1200.0
    assert feedback_fraction(0.0, full, end) == 1.0
    assert feedback_fraction(750.0, full, end) == pytest.approx(0.5)
    assert feedback_fraction(1200.0, full, end) == 0.0
    assert all(feedback_on(t, full, end) for t in np.arange(0.0, 300.0, 0.5))
    assert not any(feedback_on(t, full, end) for t in np.arange(1200.0, 1500.0, 0.5))
    # the block starting at 720 s takes its share at its middle (750 s): 0.5, feedback for its first 30 s
    share = 0.5
    assert feedback_on(720.0 + share * 60 - 0.1, full, end)
    assert not feedback_on(720.0 + share * 60 + 0.1, full, end)
    # the time with feedback per minute falls monotonically
    per_minute = [np.mean([feedback_on(t, full, end) for t in np.arange(m * 60, m * 60 + 60, 0.25)]) for m in range(22)]
    assert per_minute[:5] == [1.0] * 5
    assert all(b <= a for a, b in zip(per_minute, per_minute[1:], strict=False))
    assert per_minute[-1] == 0.0


# ---------------------------------------------------------------------------------- policy on real steps


@pytest.fixture(scope="module")
def truth_steps() -> list[Step]:
    truth = json.loads(require_shared("mocap", "fukuchi2017", "s01.truth.json").read_text())
    return [
        Step(side=s["side"], t_contact_s=s["t_contact_s"], t_end_s=s["t_toe_off_s"],
             drop_excursion_deg=s["drop_excursion_deg"])
        for s in truth["steps"]
    ]


def test_a_healthy_runner_is_green_after_seven_steps_per_side(truth_steps: list[Step]) -> None:
    """Fukuchi s01 (force-plate steps, excursion ~2.1 deg): wait until 7 steps a side, then green."""
    policy = CuePolicy(CueSettings())
    per_step = run(policy, truth_steps)
    seen = {"left": 0, "right": 0}
    # one light: an LED event only when what it shows changes (issue 11; it used to follow every step's side)
    states = shown(per_step)
    for step, events, state in zip(truth_steps, per_step, states, strict=True):
        seen[step.side] += 1
        assert state == (Led.WAIT if max(seen.values()) < 7 else Led.GREEN)
        for ev in led_events(events):
            assert ev.t_s == step.t_end_s
            assert ev.reason
            assert ev.side == (None if ev.state == Led.WAIT else step.side)
    assert [e.state for ev in per_step for e in led_events(ev)] == [Led.WAIT, Led.GREEN]
    assert not any(e.kind == "buzzer" for events in per_step for e in events)
    snap = policy.snapshot()
    assert snap["left"]["level"] == "green" and snap["left"]["steps"] == 8
    assert snap["left"]["median_deg"] == pytest.approx(np.median([s.drop_excursion_deg for s in truth_steps
                                                                   if s.side == "left"][-8:]))


def test_metronome_target_is_above_the_measured_cadence(truth_steps: list[Step]) -> None:
    policy = CuePolicy(CueSettings(metronome=True, metronome_gain_pct=7.5))
    events = [e for s in truth_steps for e in policy.on_step(s)]
    on = [e for e in events if e.kind == "metronome"]
    assert len(on) == 1 and on[0].state == "on"
    # the force plate says 156.8 steps/min over the whole trial
    assert on[0].value == pytest.approx(156.8 * 1.075, rel=0.02)
    assert policy.metronome_spm == on[0].value
    # the metronome owns the buzzer: no red beeps, and it goes off at the end
    end = policy.end(truth_steps[-1].t_end_s)
    assert [e.state for e in end if e.kind == "metronome"] == ["off"]
    assert [e.state for e in end if e.kind == "led"] == ["off"]
    assert policy.on_step(truth_steps[0]) == [] and policy.end(99.0) == []


# ---------------------------------------------------------------------------------- thresholds


def test_a_worsening_drop_goes_green_amber_red_when_the_median_crosses() -> None:
    drops = list(np.linspace(2.0, 8.0, 60))
    steps = make_steps(drops)
    s = CueSettings(hysteresis_deg=0.5)
    per_step = run(CuePolicy(s), steps)
    states = shown(per_step)
    for i, events in enumerate(per_step):
        side_vals = {side: [d for j, d in enumerate(drops[: i + 1]) if steps[j].side == side][-8:]
                     for side in ("left", "right")}
        medians = {side: float(np.median(v)) for side, v in side_vals.items() if len(v) >= 7}
        if not medians:
            expected = Led.WAIT
        else:  # rising: no hysteresis on the way up; the light is the worse side's
            worst = max(medians.values())
            expected = Led.RED if worst >= 6.0 else Led.AMBER if worst >= 4.0 else Led.GREEN
        assert states[i] == expected, (i, medians, events)
        for ev in led_events(events):  # an event names the worse side and carries its median
            if ev.state != Led.WAIT:
                assert ev.value == pytest.approx(medians[ev.side]) and ev.value == max(medians.values())
        beeps = [e for e in events if e.kind == "buzzer"]
        turned_red = expected == Led.RED and (i == 0 or states[i - 1] != Led.RED)
        assert [b.state for b in beeps] == (["beep"] if turned_red else [])
        if beeps:
            assert beeps[0].value == s.beep_s and beeps[0].side is None  # the beep names no side
    assert states.index(Led.AMBER) < states.index(Led.RED)
    # the light changes only when the judgement changes: wait, green, amber, red
    assert [e.state for ev in per_step for e in led_events(ev)] == [Led.WAIT, Led.GREEN, Led.AMBER, Led.RED]


def test_hysteresis_holds_amber_until_the_median_is_clearly_below() -> None:
    policy = CuePolicy(CueSettings(amber_deg=4.0, red_deg=6.0, hysteresis_deg=0.5))
    steps = make_steps([4.2] * 16 + [3.7] * 16 + [3.3] * 16)
    states = shown(run(policy, steps))
    assert states[14:16] == [Led.AMBER, Led.AMBER]
    assert set(states[16:32]) == {Led.AMBER}  # 3.7 is inside the band: no flicker back to green
    assert states[-1] == Led.GREEN


def test_steps_without_a_drop_value_do_not_count() -> None:
    policy = CuePolicy(CueSettings())
    steps = make_steps([2.0, 2.0, None, None] * 6)  # left gets 2.0, right gets None... alternating by index
    per_step = run(policy, steps)
    # indices 0,2 are left (2.0, None), 1,3 right (2.0, None): each side has one valid step in two
    assert policy.snapshot()["left"]["steps"] == 6 and policy.snapshot()["right"]["steps"] == 6
    # 6 < 7 valid steps: still no judgement (one light: a single "wait" event, as nothing changes after it)
    assert set(shown(per_step)) == {Led.WAIT}
    assert [e.state for ev in per_step for e in led_events(ev)] == [Led.WAIT]


def test_baseline_mode_judges_change_from_the_runners_own_start() -> None:
    s = CueSettings(mode="baseline", baseline_s=60.0, baseline_amber_delta_deg=2.8, baseline_red_delta_deg=4.2)
    n_base = int(60.0 / STEP_S) + 2
    drops = [3.0] * n_base + [5.5] * 20 + [6.2] * 20 + [7.6] * 20
    steps = make_steps(drops)
    policy = CuePolicy(s)
    per_step = []
    for i, step in enumerate(steps):
        per_step.append(policy.on_step(step))
        if i == 40:
            assert "collecting baseline" in policy.judgement().reason
    states = shown(per_step)
    assert set(states[: n_base - 2]) == {Led.WAIT}  # collecting the baseline: no colour
    assert states[n_base + 19] == Led.GREEN  # 5.5 < 3.0 + 2.8
    assert states[n_base + 39] == Led.AMBER  # 6.2 >= 5.8
    assert states[-1] == Led.RED  # 7.6 >= 7.2
    assert "baseline 3.0°" in [e for ev in per_step for e in led_events(ev)][-1].reason
    # the same drops judged against absolute thresholds would be red long before
    abs_states = shown(run(CuePolicy(replace(s, mode="absolute")), steps))
    assert abs_states[n_base + 39] == Led.RED


def test_baseline_waits_for_enough_steps_when_the_runner_started_late() -> None:
    s = CueSettings(mode="baseline", baseline_s=10.0)
    # session starts at 0 (a status), the runner's first step comes at 9 s: baseline needs 7 steps a side
    policy = CuePolicy(s, session_start_s=0.0)
    steps = make_steps([2.0] * 30, t0_s=9.0)
    states = shown(run(policy, steps))
    assert states[:12] == [Led.WAIT] * 12  # only 2 steps a side fell in the first 10 s
    assert states[12:14] == [Led.GREEN] * 2  # each side's 7th step: baseline from 7 steps, then judged
    assert policy.snapshot()["right"]["baseline_deg"] == pytest.approx(2.0)


# ---------------------------------------------------------------------------------- fading


def test_faded_feedback_cues_fewer_steps_as_the_session_goes_on() -> None:
    s = CueSettings(fading=True, fading_full_s=60.0, fading_end_s=300.0)
    n = int(360.0 / STEP_S)
    steps = make_steps([2.0] * n)
    per_step = run(CuePolicy(s), steps)
    cued = np.array([state != Led.OFF for state in shown(per_step)])  # the light is lit (not withheld)
    t = np.array([st.t_end_s for st in steps])
    minute = (t // 60).astype(int)
    share = [cued[minute == m].mean() for m in range(6)]
    # minute 0 full; then shares 0.875, 0.625, 0.375, 0.125 (at each minute's middle); none after 300 s
    assert share[0] == 1.0
    assert share[1:5] == pytest.approx([0.875, 0.625, 0.375, 0.125], abs=0.04)
    assert share[5] == 0.0
    # each stretch without feedback is announced once, with its reason, and the LEDs go dark
    off = [e for ev in per_step for e in ev if e.kind == "led" and e.state == Led.OFF]
    assert len(off) == 4
    assert all("faded feedback" in e.reason for e in off)


# ---------------------------------------------------------------------------------- view


def test_runner_leaving_the_view_blinks_amber_and_coming_back_restores_the_colour() -> None:
    policy = CuePolicy(CueSettings())
    steps = make_steps([2.0] * 16)
    run(policy, steps)
    t = steps[-1].t_end_s
    gone = Status(in_view=False, framing_ok=False, reason="no runner in view")
    assert policy.on_status(gone, t + 0.1) == []  # a single bad frame is not reported
    assert policy.on_status(Status(True, True), t + 0.15) == []
    assert policy.on_status(gone, t + 0.2) == []
    (ev,) = policy.on_status(gone, t + 0.6)
    assert (ev.kind, ev.state, ev.reason) == ("framing", Led.NO_RUNNER, "no runner in view")
    assert policy.on_status(gone, t + 0.7) == []  # reported once
    # steps still analysed while out of view do not fight the indicator for the LEDs
    assert led_events(policy.on_step(make_steps([2.0], t0_s=t + 0.8)[0])) == []
    bad = Status(in_view=True, framing_ok=False, reason="runner too small")
    assert policy.on_status(bad, t + 0.9) == []
    (ev,) = policy.on_status(bad, t + 1.3)
    assert ev.state == Led.BAD_FRAMING and ev.reason == "runner too small"
    (ev,) = policy.on_status(Status(True, True), t + 1.4)
    assert (ev.kind, ev.state) == ("framing", Led.GREEN)
    assert policy.snapshot()["view_ok"] is True


def test_disabled_cues_only_show_the_view_indicator() -> None:
    policy = CuePolicy(CueSettings(enabled=False, metronome=True))
    events = [e for s in make_steps([9.0] * 30) for e in policy.on_step(s)]
    assert events == []
    assert policy.snapshot()["left"]["level"] == "red"  # still measured
    assert policy.on_status(Status(False, False), 20.0) == []
    assert policy.on_status(Status(False, False), 21.0)[0].state == Led.NO_RUNNER


def test_a_step_with_an_unknown_side_is_refused() -> None:
    bad = Step(side="middle", t_contact_s=0.0, t_end_s=0.2, drop_excursion_deg=1.0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="side"):
        CuePolicy().on_step(bad)


def test_cue_events_are_stored_with_their_reason(tmp_path) -> None:
    from station.store import Store

    policy = CuePolicy(CueSettings())
    events = [e for s in make_steps(list(np.linspace(2, 9, 40))) for e in policy.on_step(s)]
    events += policy.on_status(Status(False, False, "no runner"), 20.0) + policy.on_status(Status(False, False), 21.0)
    events += policy.end(22.0)
    with Store(tmp_path / "gait.db") as store:
        sid = store.start_session(runner="test")
        for e in events:
            store.add_cue(sid, e.as_row())
        rows = store.cues(sid)
    assert len(rows) == len(events)
    assert {r["kind"] for r in rows} == {"led", "buzzer", "framing"}
    assert rows[-1]["state"] == events[-1].state and rows[-1]["reason"] == events[-1].reason
    assert all(r["reason"] for r in rows)


def test_one_light_follows_the_worse_side_and_changes_only_when_the_judgement_does() -> None:
    """Left red, right green (issue 11): the light is red from the left's judgement on, never alternating with the
    stance side; one beep, naming no side; the snapshot says which side and with which thresholds."""
    policy = CuePolicy(CueSettings())
    drops = [7.0 if i % 2 == 0 else 2.0 for i in range(80)]  # left stance 7°, right stance 2°
    per_step = run(policy, make_steps(drops))
    events = [e for ev in per_step for e in ev]
    assert [e.state for e in led_events(events)] == [Led.WAIT, Led.RED]
    red = led_events(events)[1]
    assert red.side == "left" and red.value == pytest.approx(7.0) and "right 2.0°" in red.reason
    beeps = [e for e in events if e.kind == "buzzer"]
    assert len(beeps) == 1 and beeps[0].side is None and "left" not in beeps[0].reason
    snap = policy.snapshot()
    assert (snap["light"], snap["light_side"]) == ("red", "left")
    assert snap["left"]["level"] == "red" and snap["right"]["level"] == "green"
    assert (snap["left"]["amber_deg"], snap["left"]["red_deg"], snap["hysteresis_deg"]) == (4.0, 6.0, 0.5)


def test_a_tie_goes_to_the_side_further_above_its_threshold() -> None:
    policy = CuePolicy(CueSettings())
    run(policy, make_steps([4.2 if i % 2 == 0 else 5.1 for i in range(20)]))
    j = policy.judgement()
    assert (j.led, j.side) == (Led.AMBER, "right") and j.value == pytest.approx(5.1)
    assert "amber until it is back to 3.5°" in j.reason


def test_no_colour_while_the_interval_is_wider_than_the_amber_red_gap() -> None:
    """Issue 10: "not enough steps yet" while a side's 95 % interval is wider than amber-red (2 deg here); once it
    has been narrow enough the side is judged, and a noisy patch that widens it again does not flicker the light."""
    policy = CuePolicy(CueSettings())
    ci = [2.0] * 16 + [0.9] * 4 + [1.5] * 6  # half-widths: too wide, then narrow enough, then wider again
    steps = [Step(side="left" if i % 2 == 0 else "right", t_contact_s=i * STEP_S, t_end_s=i * STEP_S + 0.25,
                  drop_excursion_deg=5.0, drop_excursion_mean_ci95_deg=c) for i, c in enumerate(ci)]
    light = shown(run(policy, steps))
    assert light[15] == Led.WAIT  # 8 steps a side, but +-2.0 deg cannot tell amber from red
    assert light[19] == Led.AMBER and light[-1] == Led.AMBER  # 5 deg: amber once settled, and it stays
    snap = policy.snapshot()
    assert snap["left"]["too_uncertain"] is False and snap["right"]["too_uncertain"] is False


def test_not_enough_steps_yet_is_said_in_words() -> None:
    policy = CuePolicy(CueSettings())
    for i in range(16):
        policy.on_step(Step(side="left" if i % 2 == 0 else "right", t_contact_s=i * STEP_S,
                            t_end_s=i * STEP_S + 0.25, drop_excursion_deg=5.0, drop_excursion_mean_ci95_deg=1.6))
    j = policy.judgement()
    assert j.led == Led.WAIT and "not enough steps yet" in j.reason and "± 1.6°" in j.reason
