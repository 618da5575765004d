#!/usr/bin/env python3
"""Bias, SD and 95 %-interval coverage of the per-side mean drop over noise seeds (docs/validation.md).

For each runner and condition (frame rate x keypoint noise, 2 % dropouts, a random sampling phase,
roll 0 declared, camera at 3 m) ``--seeds`` tracks of the Fukuchi 2017 run are generated with
../shared/tools/mocap_track.py (cached in ``--cache``) and analyzed. Per side: the mean (bias) +- SD
of the excursion and peak errors over the seeds, how many side values miss the 0.75 deg limit, and
the coverage of the analyzer's 95 % intervals (``summary.<side>.drop_excursion_ci95_deg`` and
``drop_peak_ci95_deg``): the share of side values whose interval holds the truth, which should be
about 95 %.

    .venv/bin/python scripts/seed_stats.py [--subjects s01,s02,s32] [--seeds 10] [--conditions 30:0.003,...]
        [--jobs 2] [--set NAME=VALUE] [--json out.json]
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SRC = ROOT.parent / "shared" / "data" / "mocap" / "fukuchi2017"
TOOL = ROOT.parent / "shared" / "tools" / "mocap_track.py"
RUNNERS = {  # subject: (markers, static, forces or None)
    "s01": ("RBDS001runT25markers.txt", "RBDS001static.txt", "RBDS001runT25forces.txt"),
    "s02": ("RBDS002runT25markers.txt", "RBDS002static.txt", "RBDS002runT25forces.txt"),
    "s32": ("RBDS032runT35markers.txt", "RBDS032static.txt", None),
}
CONDITIONS = "30:0.003,60:0.003,30:0.005"
LIMIT_DEG = 0.75


def generate(subject: str, fps: float, noise: float, seed: int, cache: Path) -> tuple[Path, Path]:
    phase = float(np.random.default_rng(seed).uniform())  # the sampling phase is drawn from the seed too
    name = f"{subject}_fps{fps:g}_n{noise:g}_s{seed}"
    track, truth = cache / f"{name}.track.csv", cache / f"{name}.truth.json"
    if not (track.exists() and truth.exists()):
        markers, static, forces = RUNNERS[subject]
        cmd = [sys.executable, str(TOOL), "--run", str(SRC / markers), "--static", str(SRC / static), "--fps",
               str(fps), "--phase", f"{phase:.4f}", "--noise-frac", str(noise), "--dropout", "0.02" if noise else "0",
               "--roll-deg", "0", "--distance", "3", "--seed", str(seed), "--track-out", str(track),
               "--truth-out", str(truth)]
        if forces:
            cmd += ["--forces", str(SRC / forces)]
        subprocess.run(cmd, check=True, capture_output=True)
    return track, truth


def run_one(job: tuple[str, float, float, int, str, dict]) -> dict:
    from station.gait import AnalyzerSettings, analyze_track
    from station.keypoints import read_track_csv
    from station.validation import load_truth, validate_steps

    subject, fps, noise, seed, cache, overrides = job
    track, truth = generate(subject, fps, noise, seed, Path(cache))
    t = read_track_csv(track)
    steps = analyze_track(t.t_s, t.xy, t.score, AnalyzerSettings(camera_roll_deg=0.0, **overrides))
    r = validate_steps(steps, load_truth(truth), (float(t.t_s[0]), float(t.t_s[-1])))
    return {"subject": subject, "fps": fps, "noise": noise, "seed": seed, "exc": r.drop_excursion_error_deg,
            "peak": r.drop_peak_error_deg, "exc_ci": r.drop_excursion_ci95_deg, "peak_ci": r.drop_peak_ci95_deg,
            "recall": r.recall, "contact_median_s": r.contact_error_median_s, "contact_p90_s": r.contact_error_p90_s}


def run(subjects: list[str], conditions: list[tuple[float, float]], seeds: int, first_seed: int, cache: Path,
        overrides: dict, jobs: int) -> list[dict]:
    """Every (subject, condition, seed) analyzed; one dict each (errors and intervals per side)."""
    cache.mkdir(parents=True, exist_ok=True)
    work = [(s, fps, noise, seed, str(cache), overrides) for s in subjects for fps, noise in conditions
            for seed in range(first_seed, first_seed + seeds)]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(run_one, work))


def side_values(results: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(errors, 95 % half-widths) of every side value of ``key`` ("exc" or "peak"); NaN where missing."""
    err = np.array([r[key][s] if r[key][s] is not None else np.nan for r in results for s in ("left", "right")])
    ci = np.array([r[f"{key}_ci"][s] if r[f"{key}_ci"][s] is not None else np.nan
                   for r in results for s in ("left", "right")])
    return err, ci


def coverage(results: list[dict], key: str) -> float:
    err, ci = side_values(results, key)
    return float(np.mean(np.abs(err) <= ci))


def table(results: list[dict], subjects: list[str], conditions: list[tuple[float, float]]) -> str:
    lines = ["| runner | condition | exc L bias ± SD | exc R bias ± SD | peak L bias ± SD | peak R bias ± SD | "
             "> 0.75° (exc / peak) | 95 % coverage exc / peak (mean half-width) |",
             "|---|---|---|---|---|---|---|---|"]
    for subject in subjects:
        for fps, noise in conditions:
            rs = [r for r in results if r["subject"] == subject and r["fps"] == fps and r["noise"] == noise]
            cells, beyond = [], []
            for key in ("exc", "peak"):
                for side in ("left", "right"):
                    v = np.array([r[key][side] if r[key][side] is not None else np.nan for r in rs])
                    cells.append(f"{np.nanmean(v):+.2f} ± {np.nanstd(v, ddof=1):.2f}")
                err, _ = side_values(rs, key)
                beyond.append(int(np.sum(~(np.abs(err) <= LIMIT_DEG))))
            hw = [float(np.nanmean(side_values(rs, key)[1])) for key in ("exc", "peak")]
            lines.append(f"| {subject} | {fps:g} fps, {100 * noise:g} % ({len(rs)} seeds) | " + " | ".join(cells)
                         + f" | {beyond[0]} / {beyond[1]} of {2 * len(rs)} | {100 * coverage(rs, 'exc'):.0f} % / "
                           f"{100 * coverage(rs, 'peak'):.0f} % (±{hw[0]:.2f} / ±{hw[1]:.2f}) |")
    return "\n".join(lines)


def parse_conditions(text: str) -> list[tuple[float, float]]:
    return [(float(c.split(":")[0]), float(c.split(":")[1])) for c in text.split(",")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", default="s01,s02,s32")
    ap.add_argument("--conditions", default=CONDITIONS, help="fps:noise_frac, comma-separated")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/seed_stats_tracks"))
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name.strip()] = ast.literal_eval(value.strip())
    subjects, conditions = args.subjects.split(","), parse_conditions(args.conditions)
    results = run(subjects, conditions, args.seeds, args.first_seed, args.cache, overrides, args.jobs)
    print(table(results, subjects, conditions))
    for subject in subjects:
        rs = [r for r in results if r["subject"] == subject]
        print(f"{subject}: coverage of the 95 % intervals: excursion {100 * coverage(rs, 'exc'):.1f} %, "
              f"peak {100 * coverage(rs, 'peak'):.1f} % of {2 * len(rs)} side values")
    print(f"all: coverage excursion {100 * coverage(results, 'exc'):.1f} %, "
          f"peak {100 * coverage(results, 'peak'):.1f} %"
          f" of {2 * len(results)}; min recall {min(r['recall'] for r in results):.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
