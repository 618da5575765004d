#!/usr/bin/env python3
"""Validate the analyzer on many variants of the Fukuchi 2017 mocap track: one error-table row each.

Generates the variants with ../shared/tools/mocap_track.py into a temporary folder
(frame rate, sampling phase, keypoint noise, dropouts up to 20 %, camera roll up to 10 deg,
distance, seed), analyzes each with the roll and the distance declared as generated (``--set
camera_distance_m=None`` for an undeclared distance), and prints every row, failing ones included.

    .venv/bin/python scripts/validate_mocap.py [--quick] [--jobs 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
SRC = SHARED / "data" / "mocap" / "fukuchi2017"
TOOL = SHARED / "tools" / "mocap_track.py"


def variants(quick: bool) -> list[dict]:
    out = []
    fps_list = (30.0, 60.0, 120.0) if quick else (30.0, 45.0, 60.0, 90.0, 120.0)
    noise_list = (0.0, 0.003, 0.005)
    for k, (fps, noise) in enumerate(itertools.product(fps_list, noise_list)):
        out.append(dict(fps=fps, phase=round((0.37 * k) % 1, 2), noise=noise, dropout=0.02 if noise else 0.0,
                        roll=(0.0, 2.0, -3.0)[k % 3], distance=3.0, seed=100 + k))
    if not quick:
        for k, (distance, fps) in enumerate(itertools.product((2.0, 5.0), (30.0, 60.0))):
            out.append(dict(fps=fps, phase=0.5, noise=0.003, dropout=0.02, roll=1.0, distance=distance, seed=200 + k))
        for seed in range(300, 306):  # the same hard case with different noise draws
            out.append(dict(fps=30.0, phase=0.0, noise=0.005, dropout=0.02, roll=0.0, distance=3.0, seed=seed))
        for k, (dropout, fps) in enumerate(itertools.product((0.1, 0.2), (30.0, 60.0))):  # many keypoints unseen
            out.append(dict(fps=fps, phase=0.3, noise=0.003, dropout=dropout, roll=0.0, distance=3.0, seed=400 + k))
        for k, roll in enumerate((-10.0, 10.0)):  # a badly levelled camera, declared
            out.append(dict(fps=60.0, phase=0.6, noise=0.003, dropout=0.02, roll=roll, distance=3.0, seed=410 + k))
    return out


def run_one(v: dict, tmp: str, overrides: dict | None = None) -> dict:
    from station.gait import AnalyzerSettings, analyze_track
    from station.keypoints import read_track_csv
    from station.validation import load_truth, validate_steps

    name = "fps{fps:g}_ph{phase:g}_n{noise:g}_d{dropout:g}_r{roll:g}_D{distance:g}_s{seed}".format(**v)
    track, truth = Path(tmp) / f"{name}.track.csv", Path(tmp) / f"{name}.truth.json"
    subprocess.run(
        [sys.executable, str(TOOL), "--run", str(SRC / "RBDS001runT25markers.txt"), "--static",
         str(SRC / "RBDS001static.txt"), "--forces", str(SRC / "RBDS001runT25forces.txt"), "--fps", str(v["fps"]),
         "--phase", str(v["phase"]), "--noise-frac", str(v["noise"]), "--dropout", str(v["dropout"]), "--roll-deg",
         str(v["roll"]), "--distance", str(v["distance"]), "--seed", str(v["seed"]), "--track-out", str(track),
         "--truth-out", str(truth)],
        check=True, capture_output=True,
    )
    t = read_track_csv(track)
    settings = {"camera_roll_deg": v["roll"], "camera_distance_m": v["distance"], **(overrides or {})}
    steps = analyze_track(t.t_s, t.xy, t.score, AnalyzerSettings(**settings))
    r = validate_steps(steps, load_truth(truth), (float(t.t_s[0]), float(t.t_s[-1])))
    return {"name": name, **v, **r.to_dict()}


def _f(v: float | None) -> str:
    return "  n/a" if v is None else f"{v:+.2f}"


def row(d: dict) -> str:
    e, p = d["drop_excursion_error_deg"], d["drop_peak_error_deg"]
    fails = ",".join(k for k, ok in d["checks"].items() if not ok)
    return (f"{d['name']:<44} {d['matched']:>3}/{d['truth_steps']:<3} rec {100 * d['recall']:5.1f} "
            f"prec {100 * d['precision']:5.1f} side {100 * (d['side_accuracy'] or 0):5.1f} "
            f"ct {1000 * (d['contact_error_median_s'] or 0):4.1f}/{1000 * (d['contact_error_p90_s'] or 0):4.1f}ms "
            f"exc L{_f(e['left'])} R{_f(e['right'])} peak L{_f(p['left'])} R{_f(p['right'])} "
            f"cad {_f(d['cadence_error_spm'])}  {'PASS' if d['passed'] else 'FAIL ' + fails}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="analyzer setting to override (Python literal), e.g. --set refine_contact=True")
    args = ap.parse_args()
    if not TOOL.exists():
        print(f"{TOOL} not found", file=sys.stderr)
        return 1
    import ast

    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name.strip()] = ast.literal_eval(value.strip())
    vs = variants(args.quick)
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_one, vs, [tmp] * len(vs), [overrides] * len(vs)))
    for d in results:
        print(row(d))
    passed = sum(d["passed"] for d in results)
    print(f"{passed}/{len(results)} variants pass every acceptance limit")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
