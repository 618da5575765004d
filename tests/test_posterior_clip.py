"""Real models on real footage: the posterior running clip and the two-person Sports2D clip.

The posterior clip is the only real rear-view running clip available: a runner
passes the low camera and runs away from it. Looked at frame by frame, frames
0-4 show nobody and frames 5-~20 only the runner's feet and shins (the hips are
above the picture); from frame 22 on the hips are in view (the clip's rendered
OpenPose overlay starts drawing them there too). So "both hips scored above
0.3" over the whole clip cannot honestly reach 90 %: a fifth of the frames have
no hips to see. The requirement is checked on the frames that show the hips;
the whole-clip share is printed (run with -s).

The Sports2D clip has two people: a man on a box who back-flips off it, and a
woman walking across in front. The trackers have no notion of identity: each
follows the back-flipper until he is lost mid-flip, then jumps to the walker,
follows her out of the picture, and jumps back to the back-flipper where he
landed. The test pins that down: the track stays on the first person while he
is visible, and switches only a couple of times, never flickering.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from station.camera.video import VideoFileSource
from station.coco import BodyPart
from station.keypoints import PoseTrack
from station.pose.stream import iter_poses
from tests.conftest import require_shared

pytestmark = pytest.mark.slow

POSTERIOR = ("videos", "radluy_posterior_outdoor_run_openpose_rendered_30fps.mp4")
TWO_PEOPLE = ("videos", "sports2d_demo_walk_backflip_2people.mp4")
MOVENET = ("models", "movenet_singlepose_lightning_int8_v4.tflite")
HIP_SCORE_MIN = 0.3
HIPS_IN_VIEW_FROM = 22  # first frame of the posterior clip whose picture contains the runner's hips
SWITCH_PX = 150.0  # a hip-midpoint step larger than this between seen frames is a change of person


def run_model(video: Path, name: str, model_path: Path | None = None) -> PoseTrack:
    from station.pose import load_estimator

    estimator = load_estimator(name, model_path=model_path, num_threads=2, pelvis_line=False)  # the model itself
    with estimator, VideoFileSource(video) as source:
        return PoseTrack.from_poses(iter_poses(source, estimator))


def both_hips_seen(track: PoseTrack) -> np.ndarray:
    return np.minimum(track.score[:, BodyPart.LEFT_HIP], track.score[:, BodyPart.RIGHT_HIP]) > HIP_SCORE_MIN


def hip_midpoint(track: PoseTrack) -> np.ndarray:
    return track.xy[:, [BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP]].mean(axis=1)


def person_switches(track: PoseTrack, jump_px: float = SWITCH_PX, max_gap: int = 5) -> list[int]:
    """Frames where the hip midpoint jumps more than ``jump_px`` from the last frame with both hips seen."""
    mid = hip_midpoint(track)
    seen = np.flatnonzero(both_hips_seen(track))
    out = []
    for prev, cur in zip(seen[:-1], seen[1:], strict=True):
        if cur - prev <= max_gap and np.linalg.norm(mid[cur] - mid[prev]) > jump_px:
            out.append(int(cur))
    return out


@pytest.fixture(scope="module")
def blazepose_installed(blazepose_spec) -> str:
    return blazepose_spec.name


@pytest.fixture(scope="module")
def posterior_movenet() -> PoseTrack:
    return run_model(require_shared(*POSTERIOR), "movenet-lightning-int8", require_shared(*MOVENET))


@pytest.fixture(scope="module")
def posterior_blazepose(blazepose_installed: str) -> PoseTrack:
    return run_model(require_shared(*POSTERIOR), blazepose_installed)


@pytest.mark.parametrize("model", ["movenet", "blazepose"])
def test_both_hips_seen_in_90_percent_of_frames_that_show_them(model, request):
    track = request.getfixturevalue(f"posterior_{model}")
    seen = both_hips_seen(track)
    assert len(track) == 103
    in_view = seen[HIPS_IN_VIEW_FROM:].mean()
    print(f"\n{model}: both hips > {HIP_SCORE_MIN} in {seen.mean():.1%} of all {len(track)} frames, "
          f"{in_view:.1%} of the {len(track) - HIPS_IN_VIEW_FROM} frames with the hips in view")
    assert in_view >= 0.90, f"both hips seen in {in_view:.0%} of the frames that show them"


@pytest.mark.parametrize("model", ["movenet", "blazepose"])
def test_hips_follow_the_runner_away(model, request):
    """The runner recedes: the hip width shrinks and, the camera being low, the hips sink towards the horizon."""
    track = request.getfixturevalue(f"posterior_{model}")
    seen = both_hips_seen(track)
    width = np.abs(track.xy[:, BodyPart.LEFT_HIP, 0] - track.xy[:, BodyPart.RIGHT_HIP, 0])
    early = slice(30, 40)  # the whole runner is in view from frame ~30
    late = slice(93, 103)
    w_early, w_late = np.median(width[early][seen[early]]), np.median(width[late][seen[late]])
    assert 50 < w_early < 150 and 15 < w_late < 45 and w_late < w_early / 2, (w_early, w_late)
    mid = hip_midpoint(track)
    assert np.median(mid[early, 1]) < 400 < np.median(mid[late, 1]) < 650
    late_seen = seen.copy()
    late_seen[:30] = False
    assert np.all(np.abs(mid[late_seen, 0] - 900) < 250)  # on the runner's path, not on the parked car


@pytest.fixture(scope="module")
def two_people_movenet() -> PoseTrack:
    return run_model(require_shared(*TWO_PEOPLE), "movenet-lightning-int8", require_shared(*MOVENET))


@pytest.fixture(scope="module")
def two_people_blazepose(blazepose_installed: str) -> PoseTrack:
    return run_model(require_shared(*TWO_PEOPLE), blazepose_installed)


@pytest.mark.parametrize("model", ["movenet", "blazepose"])
def test_second_person_takes_over_the_track_only_when_the_first_is_lost(model, request):
    track = request.getfixturevalue(f"two_people_{model}")
    assert len(track) == 230
    mid = hip_midpoint(track)
    seen = both_hips_seen(track)
    switches = person_switches(track)
    print(f"\n{model}: both hips seen in {seen.mean():.1%} of frames; the track changes person at frames {switches}")
    # while the back-flipper stands and bounces on the box (frames 5-100) the track stays on him,
    # although the walker is in the picture from frame ~50
    on_box = (np.abs(mid[5:100, 0] - 640) < 60) & (mid[5:100, 1] < 360) & seen[5:100]
    assert on_box.mean() > 0.95
    # no flicker between the two people: a few switches in 230 frames, all after the first one is lost mid-flip
    assert 1 <= len(switches) <= 3, switches
    assert all(f > 120 for f in switches), switches
