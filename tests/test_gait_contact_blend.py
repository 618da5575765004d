"""Each step's contact from two readings, the feet's (calibrated) and the pelvis's, weighted by their jitter.

The weight comes from the steps themselves (GaitAnalyzer._pelvis_weight): the spread of the difference of
the two readings, and of each one's second differences over a side's consecutive strides. Checked on
made-up readings with a known jitter, then on the shared s01 track with the ankles made jittery, as a
pose model's faint ankles are, where the pelvis must take over.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from station.coco import BodyPart
from station.gait import AnalyzerSettings, analyze_track
from station.gait.analyzer import GaitAnalyzer
from station.keypoints import read_track_csv
from station.validation import load_truth, validate_steps
from tests.conftest import require_shared

PERIOD_S = 0.38


def _readings(feet_sd_s: float, pelvis_sd_s: float, steps: int = 16, seed: int = 0) -> GaitAnalyzer:
    """An analyzer holding ``steps`` per side of (feet, pelvis) contacts round a runner's own variable rhythm."""
    rng = np.random.default_rng(seed)
    analyzer = GaitAnalyzer()
    t = np.cumsum(PERIOD_S + rng.normal(0.0, 0.006, 2 * steps))  # the runner's own step-to-step variation
    for k, tc in enumerate(t):
        side = "left" if k % 2 == 0 else "right"
        pair = (tc + rng.normal(0.0, feet_sd_s), tc + 0.01 + rng.normal(0.0, pelvis_sd_s))
        analyzer._contact_pairs[side].append(pair)
    return analyzer


@pytest.mark.parametrize("feet_sd, pelvis_sd", [(0.015, 0.003), (0.003, 0.015), (0.008, 0.008)])
def test_the_weight_goes_to_the_steadier_reading(feet_sd: float, pelvis_sd: float) -> None:
    ideal = feet_sd**2 / (feet_sd**2 + pelvis_sd**2)
    weights = [_readings(feet_sd, pelvis_sd, seed=s)._pelvis_weight(PERIOD_S) for s in range(20)]
    assert min(weights) >= 0.0 and max(weights) <= 1.0
    assert np.median(weights) == pytest.approx(ideal, abs=0.2)


def test_equal_weights_until_a_few_strides_are_seen() -> None:
    assert _readings(0.015, 0.003, steps=2)._pelvis_weight(PERIOD_S) == 0.5
    assert GaitAnalyzer()._pelvis_weight(PERIOD_S) == 0.5


def test_jittery_ankles_are_outweighed_by_the_pelvis() -> None:
    """s01 at 30 fps, its ankles jittered by 1 % of body height: the blend keeps contacts near the truth."""
    track = read_track_csv(require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv"))
    truth = load_truth(require_shared("mocap", "fukuchi2017", "s01.truth.json"))
    rng = np.random.default_rng(7)
    xy = track.xy.copy()
    height_px = float(np.nanmedian(np.ptp(xy[:, :, 1], axis=1)))  # nose (or eyes) to ankles
    for part in (BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE):
        xy[:, part] += rng.normal(0.0, 0.01 * height_px, (len(xy), 2))
    span = (float(track.t_s[0]), float(track.t_s[-1]))
    p90: dict[bool, float | None] = {}
    for blend in (False, True):
        settings = replace(AnalyzerSettings(), contact_blend=blend)
        result = validate_steps(analyze_track(track.t_s, xy, track.score, settings), truth, span)
        assert result.recall >= 0.95 and result.side_accuracy == 1.0
        p90[blend] = result.contact_error_p90_s
    assert p90[True] < 0.8 * p90[False], p90
