#!/usr/bin/env python3
"""Validate the analyzer on the three Fukuchi 2017 runners: every shared track, generated variants, passes.

Runners: s01 and s02 at 2.5 m/s (force-plate contacts), s32 at 3.5 m/s (contacts from the foot markers:
judge its contact and excursion loosely). For each: the shared tracks; variants generated with
../shared/tools/mocap_track.py (frame rate 30-120 fps, sampling phase, keypoint noise 0 / 0.3 / 0.5 % of
body height, dropouts up to 20 %, camera roll up to 10 deg and distance 2-5 m, both declared to the
analyzer); and track-side passes from scripts/lane_track.py (a receding pass, an approaching one, a
session of three). One row each, failures included, with the checks of issue 10 on top of issue 3's:

* issue 3 (the acceptance limits, also for unseen runners): recall, precision >= 98 %, side >= 99 %,
  contact median <= 40 ms, per-side mean drop_excursion_deg and drop_peak_deg within 0.75 deg, cadence
  within 1 step/min;
* issue 10: contact median <= 20 ms and p90 <= 40 ms; on a noise-free track the excursion within 0.5 deg
  (s01 and s02; s32 reported).

    .venv/bin/python scripts/validate_mocap.py [--quick] [--runners s01,s02,s32] [--jobs 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SHARED = ROOT.parent / "shared"
SRC = SHARED / "data" / "mocap" / "fukuchi2017"
TOOL = SHARED / "tools" / "mocap_track.py"
RUNNERS = {  # subject: (markers, static, forces or None)
    "s01": ("RBDS001runT25markers.txt", "RBDS001static.txt", "RBDS001runT25forces.txt"),
    "s02": ("RBDS002runT25markers.txt", "RBDS002static.txt", "RBDS002runT25forces.txt"),
    "s32": ("RBDS032runT35markers.txt", "RBDS032static.txt", None),
}
SHARED_TRACKS = {  # subject: [(track, roll declared, distance declared)]
    "s01": [("s01_30fps_clean.track.csv", 0.0, 3.0), ("s01_30fps_noisy.track.csv", 0.0, 3.0),
            ("s01_60fps_roll2_noisy.track.csv", 2.0, 3.0)],
    "s02": [("s02_30fps_noisy.track.csv", 0.0, 3.0), ("s02_60fps_clean.track.csv", 0.0, 3.0)],
    "s32": [("s32_30fps_noisy.track.csv", 0.0, 3.0)],
}
CONTACT_MEDIAN_MAX_S = 0.020  # issue 10
CONTACT_P90_MAX_S = 0.040
CLEAN_EXCURSION_MAX_DEG = 0.5


def runner_names(text: str) -> list[str]:
    """The runners of a comma-separated ``--runners``; an unknown one ends the script with a one-line error."""
    names = text.split(",")
    unknown = sorted(set(names) - set(RUNNERS))
    if unknown:
        raise SystemExit(f"unknown runner {', '.join(unknown)}: choose from {', '.join(RUNNERS)}")
    return names


def variants(quick: bool) -> list[dict]:
    """The generated treadmill variants (the same for every runner), chosen before their results were seen."""
    out = []
    fps_list = (30.0, 60.0, 120.0) if quick else (30.0, 45.0, 60.0, 90.0, 120.0)
    for k, (fps, noise) in enumerate(itertools.product(fps_list, (0.0, 0.003, 0.005))):
        out.append(dict(fps=fps, phase=round((0.37 * k) % 1, 2), noise=noise, dropout=0.02 if noise else 0.0,
                        roll=(0.0, 2.0, -3.0)[k % 3], distance=3.0, seed=100 + k))
    if not quick:
        for k, (distance, fps) in enumerate(itertools.product((2.0, 5.0), (30.0, 60.0))):
            out.append(dict(fps=fps, phase=0.5, noise=0.003, dropout=0.02, roll=1.0, distance=distance, seed=200 + k))
        for k, (dropout, fps) in enumerate(itertools.product((0.1, 0.2), (30.0, 60.0))):  # many keypoints unseen
            out.append(dict(fps=fps, phase=0.3, noise=0.003, dropout=dropout, roll=0.0, distance=3.0, seed=400 + k))
        for k, roll in enumerate((-10.0, 10.0)):  # a badly levelled camera, declared
            out.append(dict(fps=60.0, phase=0.6, noise=0.003, dropout=0.02, roll=roll, distance=3.0, seed=410 + k))
    return out


LANES = [  # (name, passes (t0, from m, to m), fps) at 0.3 % noise and 2 % dropouts
    ("lane_away_3-12m", [(4.0, 3.0, 12.0)], 30.0),
    ("lane_towards_12-3m", [(4.0, 12.0, 3.0)], 30.0),
    ("lane_3passes", [(4.0, 3.0, 12.0), (14.0, 3.0, 12.0), (22.0, 3.0, 9.0)], 60.0),
]


def generate(subject: str, v: dict, tmp: Path) -> tuple[Path, Path]:
    markers, static, forces = RUNNERS[subject]
    name = "{subject}_fps{fps:g}_ph{phase:g}_n{noise:g}_d{dropout:g}_r{roll:g}_D{distance:g}_s{seed}".format(
        subject=subject, **v)
    track, truth = tmp / f"{name}.track.csv", tmp / f"{name}.truth.json"
    cmd = [sys.executable, str(TOOL), "--run", str(SRC / markers), "--static", str(SRC / static), "--fps",
           str(v["fps"]), "--phase", str(v["phase"]), "--noise-frac", str(v["noise"]), "--dropout", str(v["dropout"]),
           "--roll-deg", str(v["roll"]), "--distance", str(v["distance"]), "--seed", str(v["seed"]), "--track-out",
           str(track), "--truth-out", str(truth)]
    if forces:
        cmd += ["--forces", str(SRC / forces)]
    subprocess.run(cmd, check=True, capture_output=True)
    return track, truth


def evaluate(job: tuple) -> dict:
    """One row: analyze a track with the settings declared as generated and compare it with its truth."""
    from station.gait import AnalyzerSettings, analyze_track
    from station.keypoints import read_track_csv
    from station.validation import load_truth, validate_steps

    kind, subject, spec, tmp, overrides = job
    tmp = Path(tmp)
    clean = False
    view = "posterior"
    if kind == "shared":
        name, roll, distance = spec
        track, truth = SRC / name, SRC / f"{subject}.truth.json"
        clean = "clean" in name
        label = name.removesuffix(".track.csv")
    elif kind == "variant":
        track, truth = generate(subject, spec, tmp)
        roll, distance, clean = spec["roll"], spec["distance"], spec["noise"] == 0.0
        label = track.name.removesuffix(".track.csv")
    else:
        import lane_track as lane  # a sibling script (scripts/ is on the path)

        name, passes, fps = spec
        t_s, xy, score, truth_d = lane.lane_track(subject, [lane.LanePass(*p) for p in passes], fps=fps,
                                                  noise_frac=0.003, dropout=0.02, seed=500)
        track, truth = tmp / f"{subject}_{name}.track.csv", tmp / f"{subject}_{name}.truth.json"
        lane.write(track, truth, t_s, xy, score, truth_d)
        roll, distance, view = 0.0, None, truth_d["camera"]["view"]
        label = f"{subject}_{name}"
    t = read_track_csv(track)
    settings = {"view": view, "camera_roll_deg": roll, "camera_distance_m": distance, **(overrides or {})}
    steps = analyze_track(t.t_s, t.xy, t.score, AnalyzerSettings(**settings))
    r = validate_steps(steps, load_truth(truth), (float(t.t_s[0]), float(t.t_s[-1])))
    d = {"name": label, "subject": subject, "kind": kind, "clean": clean, **r.to_dict()}
    checks = dict(d["checks"])
    checks["contact_20ms"] = r.contact_error_median_s is not None and r.contact_error_median_s <= CONTACT_MEDIAN_MAX_S
    checks["contact_p90_40ms"] = r.contact_error_p90_s is not None and r.contact_error_p90_s <= CONTACT_P90_MAX_S
    if clean:
        checks["clean_excursion_0.5"] = all(v is not None and abs(v) <= CLEAN_EXCURSION_MAX_DEG
                                            for v in r.drop_excursion_error_deg.values())
    d["checks_issue10"] = checks
    d["passed_issue10"] = all(checks.values())
    return d


def _f(v: float | None, ci: float | None = None) -> str:
    if v is None:
        return "  n/a"
    return f"{v:+.2f}" + ("" if ci is None else f"±{ci:.2f}")


def row(d: dict) -> str:
    e, p = d["drop_excursion_error_deg"], d["drop_peak_error_deg"]
    ce, cp = d["drop_excursion_ci95_deg"], d["drop_peak_ci95_deg"]
    fails = ",".join(k for k, ok in d["checks_issue10"].items() if not ok)
    return (f"| {d['name']} | {d['matched']}/{d['truth_steps']} ({d['detected_steps']}) | "
            f"{100 * (d['side_accuracy'] or 0):.0f} | "
            f"{1000 * (d['contact_error_median_s'] or 0):.1f} / {1000 * (d['contact_error_p90_s'] or 0):.1f} | "
            f"{_f(e['left'], ce['left'])} / {_f(e['right'], ce['right'])} | "
            f"{_f(p['left'], cp['left'])} / {_f(p['right'], cp['right'])} | {_f(d['cadence_error_spm'])} | "
            f"{'PASS' if d['passed_issue10'] else 'FAIL ' + fails} |")


HEADER = ("| track | matched (detected) | side % | contact median / p90 ms | excursion err L / R ± 95 % | "
          "peak err L / R ± 95 % | cadence err | verdict (issue 3 + 10) |\n|---|---|---|---|---|---|---|---|")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runners", default="s01,s02,s32")
    ap.add_argument("--no-lanes", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="analyzer setting to override (Python literal), e.g. --set contact_from_pelvis=False")
    args = ap.parse_args()
    runners = runner_names(args.runners)
    if not TOOL.exists():
        print(f"{TOOL} not found", file=sys.stderr)
        return 1
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name.strip()] = ast.literal_eval(value.strip())
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for subject in runners:
            jobs += [("shared", subject, spec, tmp, overrides) for spec in SHARED_TRACKS[subject]]
            jobs += [("variant", subject, v, tmp, overrides) for v in variants(args.quick)]
            if not args.no_lanes:
                jobs += [("lane", subject, lane, tmp, overrides) for lane in LANES]
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(evaluate, jobs))
    print(HEADER)
    for d in results:
        print(row(d))
    for subject in runners:
        rs = [d for d in results if d["subject"] == subject]
        print(f"{subject}: {sum(d['passed_issue10'] for d in rs)}/{len(rs)} pass issue 10's checks, "
              f"{sum(d['passed'] for d in rs)}/{len(rs)} issue 3's acceptance limits")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
