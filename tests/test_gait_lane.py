"""Track-side passes: the Fukuchi runner passing the camera, its image scale changing 3-4x in a pass.

The tracks come from scripts/lane_track.py, which imports ../shared/tools/mocap_track.py for the markers,
events and truth, and films them with a camera whose distance changes at the belt speed (a runner passing a
camera that stands on the ground). A pass of six or more steps must give every step a drop with its
interval; the passes of one session pool into its per-side means.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from station.gait import AnalyzerSettings, GaitAnalyzer, analyze_track, summarize
from station.validation import Truth, TruthStep, validate_steps
from tests.conftest import ROOT, SHARED_DATA, load_module, require_shared


@pytest.fixture(scope="module")
def lane() -> ModuleType:
    require_shared("mocap", "fukuchi2017", "RBDS001runT25markers.txt")
    if not (SHARED_DATA.parent / "tools" / "mocap_track.py").exists():
        require_shared("..", "tools", "mocap_track.py")
    return load_module(ROOT / "scripts" / "lane_track.py")


def _truth(d: dict) -> Truth:
    return Truth(steps=tuple(TruthStep(s["side"], s["t_contact_s"], s["t_toe_off_s"], s["drop_excursion_deg"],
                                       s["drop_peak_deg"]) for s in d["steps"]), cadence_spm=None)


@pytest.mark.parametrize(("passes", "view", "seed"), [
    ([(4.0, 3.0, 12.0)], "posterior", 7),  # running away, 4x smaller at the end
    ([(4.0, 12.0, 3.0)], "anterior", 8),  # running towards the camera, seen from the front
])
def test_a_single_pass_gives_every_step_a_drop_with_its_interval(lane: ModuleType, passes: list, view: str,
                                                                 seed: int) -> None:
    t, xy, score, truth = lane.lane_track("s01", [lane.LanePass(*p) for p in passes], fps=30.0, noise_frac=0.003,
                                          dropout=0.02, seed=seed)
    width = np.hypot(*(xy[:, 12] - xy[:, 11]).T)[score[:, 11] > 0]
    assert width.max() / width.min() > 3.0, "the image scale changes 3x or more within the pass"
    steps = analyze_track(t, xy, score, AnalyzerSettings(view=view, camera_roll_deg=0.0))
    r = validate_steps(steps, _truth(truth), (float(t[0]), float(t[-1])))
    assert len(steps) >= 6 and r.precision == 1.0 and r.side_accuracy == 1.0, r.to_dict()
    assert r.contact_error_median_s is not None and r.contact_error_median_s <= 0.040
    sides = [s.side for s in steps]
    assert all(a != b for a, b in zip(sides, sides[1:], strict=False))
    assert all(s.drop_excursion_deg is not None and s.drop_excursion_mean_ci95_deg is not None for s in steps)
    assert all(s.drop_peak_deg is not None and s.drop_peak_mean_ci95_deg is not None for s in steps)
    summary = summarize(steps)
    for side in ("left", "right"):
        ss = getattr(summary, side)
        err = ss.means["drop_excursion_deg"] - truth["summary"][side]["drop_excursion_deg"]
        assert abs(err) <= ss.drop_excursion_ci95_deg, (side, err, ss.drop_excursion_ci95_deg)


def test_passes_of_one_session_pool_into_its_means(lane: ModuleType) -> None:
    passes = [lane.LanePass(4.0, 3.0, 12.0), lane.LanePass(14.0, 3.0, 12.0), lane.LanePass(23.0, 3.0, 9.0)]
    t, xy, score, truth = lane.lane_track("s02", passes, fps=60.0, noise_frac=0.003, dropout=0.02, seed=3)
    settings = AnalyzerSettings(camera_roll_deg=0.0)
    live = GaitAnalyzer(settings)
    steps = []
    for i in range(len(t)):
        for s in live.update(float(t[i]), xy[i], score[i]):
            assert t[i] - s.t_end_s <= 0.25, "a pass's step is out within 0.25 s of its end"
            steps.append(s)
    steps += live.finish()
    assert [s.to_dict() for s in steps] == [s.to_dict() for s in analyze_track(t, xy, score, settings)]
    first_pass = [s for s in steps if s.t_contact_s < 14.0]
    later = [s for s in steps if s.t_contact_s >= 23.0]
    assert len(first_pass) >= 6 and len(later) >= 5, "each pass gives its steps"
    r = validate_steps(steps, _truth(truth), (float(t[0]), float(t[-1])))
    assert r.recall >= 0.8 and r.precision == 1.0 and r.side_accuracy == 1.0, r.to_dict()
    assert r.contact_error_median_s is not None and r.contact_error_median_s <= 0.020
    session, one = summarize(steps), summarize(first_pass)
    assert session.steps == len(steps) > one.steps
    for side in ("left", "right"):
        pooled, alone = getattr(session, side), getattr(one, side)
        assert pooled.drop_excursion_ci95_deg < alone.drop_excursion_ci95_deg, "more passes, a narrower interval"
        err = pooled.means["drop_excursion_deg"] - truth["summary"][side]["drop_excursion_deg"]
        assert abs(err) <= pooled.drop_excursion_ci95_deg, (side, err, pooled.drop_excursion_ci95_deg)
