"""The 95 % intervals of the per-side mean drop, and the rules built on them.

Coverage on real motion capture over noise seeds is measured by scripts/seed_stats.py (docs/validation.md);
here the interval's construction is checked where the truth is known exactly: a synthetic obliquity
waveform with white keypoint noise and step-to-step variation, fed to the stride model as the analyzer
does; and the analyzer's steps, summary and report carry it.
"""

from __future__ import annotations

import numpy as np
import pytest

from station.gait import AnalyzerSettings, analyze_track, compare, difference_is_real, enough_steps, summarize
from station.gait.drop_model import StrideDropModel, t_quantile_975
from station.gait.steps import FLAG_WARMUP
from station.gait.uncertainty import combined_ci95_deg
from tests.test_gait_drop_model import _truth, _waveform
from tests.test_gait_synthetic import synth_run


def test_difference_is_real_only_beyond_the_combined_interval() -> None:
    assert combined_ci95_deg(0.3, 0.4) == pytest.approx(0.5)
    assert combined_ci95_deg(0.3, None) is None
    d = compare(2.4, 0.3, 3.1, 0.4)  # left 2.4 +- 0.3, right 3.1 +- 0.4: 0.7 > 0.5
    assert d.difference_deg == pytest.approx(0.7) and d.ci95_deg == pytest.approx(0.5) and d.real is True
    assert difference_is_real(2.4, 0.3, 3.1, 0.4)
    assert not difference_is_real(2.4, 0.6, 3.1, 0.8)  # 0.7 < 1.0: within the uncertainty
    assert compare(2.4, None, 3.1, 0.4).real is None
    assert not difference_is_real(2.4, None, 9.0, 0.4)  # unknown is never called real


def test_not_enough_steps_while_the_interval_is_wider_than_the_gap() -> None:
    assert not enough_steps(None, 2.0)
    assert not enough_steps(1.2, 2.0)  # 2.4 deg wide against an amber-red gap of 2 deg
    assert enough_steps(0.9, 2.0)
    assert not enough_steps(0.9, 1.4)  # baseline mode: amber +2.8, red +4.2
    with pytest.raises(ValueError):
        enough_steps(0.5, 0.0)


def test_t_quantiles() -> None:
    assert t_quantile_975(1) == pytest.approx(12.706, abs=1e-3)
    assert t_quantile_975(30) == pytest.approx(2.042, abs=1e-3)
    assert t_quantile_975(0) == np.inf


def _session(seed: int, noise_deg: float, strides: int = 38, step_sd_deg: float = 0.4) -> tuple[dict, StrideDropModel]:
    """Feed a model as the analyzer does: ~11 frames a step, a random sampling phase, each step's waveform scaled
    by its own factor (step-to-step variation), white noise. Returns the last read per side and the model."""
    rng = np.random.default_rng(seed)
    model = StrideDropModel(harmonics=12, shrinkage=0.0)
    frames_per_stride = 22.7
    t = (np.arange(int(frames_per_stride * strides)) + rng.uniform()) / frames_per_stride
    last: dict = {}
    values: dict[str, list[float]] = {"left": [], "right": []}
    for k in range(2 * strides):
        side = "left" if k % 2 == 0 else "right"
        sel = (t >= k / 2) & (t < (k + 1) / 2)
        phase = t[sel] % 1.0
        scale = 1.0 + rng.normal(0.0, step_sd_deg / 2.0)
        model.add(side, phase, scale * _waveform(phase) + rng.normal(0.0, noise_deg, sel.sum()))
        v = model.step_values(side, 0.7)
        if v is not None:
            values[side].append(v.excursion_deg)
            last[side] = v
    return {side: (float(np.mean(values[side])), last[side]) for side in values}, model


def test_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    """40 seeds x 2 sides at 3 deg of frame noise (0.3 % of body height at 3 m): the interval of the side's
    mean holds the truth in 88-100 % of the 80 cases. Where the drop's maximum is inside the stance (the left
    side of this waveform) the interval is the delta method's: its half-width is 1.5-3.5 x the errors' SD
    (1.96 for a Gaussian error; measured 2.8: the delta method's SE of a maximum is ~1.2 x its actual
    spread, and the maximum of a noisy curve reads ~0.4 deg high here). The right side's maximum is at
    contact (a true excursion of 0, which noise can only raise): there the interval reaches over the curve
    after contact instead."""
    hits, widths, errors = [], [], []
    for seed in range(40):
        result, _ = _session(seed, 3.0)
        for side, (mean, last) in result.items():
            err = mean - _truth(side, 0.7)
            hits.append(abs(err) <= last.excursion_ci95_deg)
            if side == "left":
                errors.append(err)
                widths.append(last.excursion_ci95_deg)
    coverage = float(np.mean(hits))
    ratio = float(np.mean(widths) / np.std(errors))
    print(f"\ncoverage {coverage:.3f}; left: mean half-width {np.mean(widths):.2f}, error SD {np.std(errors):.2f}")
    assert 0.88 <= coverage <= 1.0
    assert 1.5 <= ratio <= 3.5


def test_interval_shrinks_with_steps_and_is_never_a_false_zero() -> None:
    short, _ = _session(3, 3.0, strides=6)
    long, _ = _session(3, 3.0, strides=40)
    for side in ("left", "right"):
        assert short[side][1].excursion_ci95_deg > 1.8 * long[side][1].excursion_ci95_deg  # ~ sqrt(40 / 6)
        assert long[side][1].excursion_ci95_deg > 0.0 and long[side][1].peak_ci95_deg > 0.0


def test_steps_summary_and_first_steps_carry_the_interval() -> None:
    t, xy, score, _ = synth_run(duration_s=20.0, noise_px=1.0, seed=4)
    steps = analyze_track(t, xy, score, AnalyzerSettings(camera_roll_deg=0.0))
    first = {side: next(s for s in steps if s.side == side) for side in ("left", "right")}
    for s in first.values():  # before the stride model: the step's own samples, flagged, with their interval
        assert FLAG_WARMUP in s.flags and s.drop_excursion_deg is not None
        assert s.drop_excursion_mean_ci95_deg is not None and s.drop_excursion_mean_ci95_deg > 0
    assert all(s.drop_excursion_mean_ci95_deg is not None and s.drop_peak_mean_ci95_deg is not None for s in steps)
    summary = summarize(steps)
    for side in (summary.left, summary.right):
        assert side.drop_excursion_ci95_deg == pytest.approx(
            [s for s in steps if s.side == ("left" if side is summary.left else "right")][-1]
            .drop_excursion_mean_ci95_deg)
        assert 0.0 < side.drop_excursion_ci95_deg < 2.0  # 20 s at 2 deg of frame noise
        # the synthetic runner drops 3 deg on both sides (truth by construction)
        assert abs(side.means["drop_excursion_deg"] - 3.0) <= side.drop_excursion_ci95_deg
    d = summary.to_dict()
    assert {"drop_excursion_ci95_deg", "drop_peak_ci95_deg"} <= set(d["left"])
    assert d["asymmetry_real"]["drop_excursion_deg"] is False  # the same drop on both sides
    assert d["asymmetry_ci95"]["drop_excursion_deg"] == pytest.approx(
        combined_ci95_deg(summary.left.drop_excursion_ci95_deg, summary.right.drop_excursion_ci95_deg), abs=0.01)
