"""The one summary: per-side means, the one cadence formula, asymmetry right − left, thirds, round trip."""

from __future__ import annotations

import numpy as np
import pytest

from station.gait.steps import Step
from station.gait.summary import METRIC_KEYS, Summary, cadence_spm, running_times_s, summarize, thirds


def contacts(times: list[float]) -> list[Step]:
    """Steps that carry only their contact times (as a truth file or a hand-made step does)."""
    return [Step(side="left" if i % 2 == 0 else "right", t_contact_s=float(t), t_end_s=float(t) + 0.2)
            for i, t in enumerate(times)]


def test_cadence_from_contacts_ignores_a_missed_step() -> None:
    t = list(np.arange(20) * 0.375)  # 160 spm
    assert cadence_spm(contacts(t)) == pytest.approx(160.0)
    del t[7]  # the analyzer missed one contact: one interval doubles
    assert cadence_spm(contacts(t)) == pytest.approx(160.0)
    assert cadence_spm(contacts([0.0, 0.4])) is None


def test_cadence_uses_each_steps_own_step_time_and_pauses_do_not_lower_it() -> None:
    steps = [Step(side="left", t_contact_s=0.0, t_end_s=0.2)]
    t = 0.0
    for i, spm in enumerate([160.0, 170.0, None, 180.0]):  # None: across a pause, the analyzer gives none
        t += 60.0 / spm if spm else 5.0
        steps.append(Step(side="right" if i % 2 == 0 else "left", t_contact_s=t, t_end_s=t + 0.2, cadence_spm=spm))
    assert cadence_spm(steps) == pytest.approx(3 * 60.0 / (60 / 160 + 60 / 170 + 60 / 180))


def test_asymmetry_is_right_minus_left_and_the_summary_round_trips() -> None:
    steps = [Step(side="left" if i % 2 == 0 else "right", t_contact_s=0.35 * i, t_end_s=0.35 * i + 0.2,
                  drop_excursion_deg=2.0 if i % 2 == 0 else 2.5, cadence_spm=171.4) for i in range(20)]
    s = summarize(steps)
    assert s.asymmetry["drop_excursion_deg"] == pytest.approx(0.5)
    assert s.left["drop_excursion_deg"] == pytest.approx(2.0) and s.right.steps == 10
    again = Summary.from_dict(s.to_dict())
    assert again.to_dict() == s.to_dict()
    assert set(again.asymmetry) == set(METRIC_KEYS)


def test_thirds_split_by_stream_time() -> None:
    steps = contacts(list(np.arange(30) * 0.35))
    first, last = thirds(steps)
    assert first[0] is steps[0] and last[-1] is steps[-1]
    assert max(s.t_contact_s for s in first) < min(s.t_contact_s for s in last)
    assert thirds(steps[:1]) == ([], [])


def test_thirds_leave_out_time_out_of_view() -> None:
    """30 s of running with a 12 s pause out of view in the last third: each third still holds a third of the
    running (the pause used to shrink the last third to a few steps)."""
    times = [i * 0.36 for i in range(84)] + [30.0 + 12.0 + i * 0.36 for i in range(1, 42)]
    steps = contacts(times)
    first, last = thirds(steps)
    assert abs(len(first) - len(last)) <= 1 and len(first) == pytest.approx(len(steps) / 3, abs=1)
    running = running_times_s(steps)
    assert running[-1] == pytest.approx((len(steps) - 1) * 0.36, abs=0.01)  # the pause counts as one step time
