#!/usr/bin/env python3
"""Bias and SD of the per-side mean drop errors over noise seeds, per condition (docs/validation.md).

For each condition (frame rate x keypoint noise, 2 % dropouts, random sampling phase, roll 0
declared, camera at 3 m) ``--seeds`` tracks of the Fukuchi 2017 run are generated with
../shared/tools/mocap_track.py (cached in ``--cache``) and analyzed; the table gives, per
side, mean (bias) +- SD of the excursion and peak errors over the seeds, and how many
side values exceed the 0.75 deg limit.

    .venv/bin/python scripts/seed_stats.py [--seeds 12] [--jobs 2] [--set NAME=VALUE] [--json out.json]
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
CONDITIONS = [(fps, noise) for noise in (0.003, 0.005) for fps in (30.0, 45.0, 90.0)]


def generate(fps: float, noise: float, seed: int, cache: Path) -> tuple[Path, Path]:
    phase = float(np.random.default_rng(seed).uniform())  # the sampling phase is drawn from the seed too
    name = f"fps{fps:g}_n{noise:g}_s{seed}"
    track, truth = cache / f"{name}.track.csv", cache / f"{name}.truth.json"
    if not (track.exists() and truth.exists()):
        subprocess.run(
            [sys.executable, str(TOOL), "--run", str(SRC / "RBDS001runT25markers.txt"), "--static",
             str(SRC / "RBDS001static.txt"), "--forces", str(SRC / "RBDS001runT25forces.txt"), "--fps", str(fps),
             "--phase", f"{phase:.4f}", "--noise-frac", str(noise), "--dropout", "0.02" if noise else "0",
             "--roll-deg", "0", "--distance", "3", "--seed", str(seed), "--track-out", str(track),
             "--truth-out", str(truth)],
            check=True, capture_output=True,
        )
    return track, truth


def run_one(job: tuple[float, float, int, str, dict]) -> dict:
    from station.gait import AnalyzerSettings, analyze_track
    from station.keypoints import read_track_csv
    from station.validation import load_truth, validate_steps

    fps, noise, seed, cache, overrides = job
    track, truth = generate(fps, noise, seed, Path(cache))
    t = read_track_csv(track)
    steps = analyze_track(t.t_s, t.xy, t.score, AnalyzerSettings(camera_roll_deg=0.0, **overrides))
    r = validate_steps(steps, load_truth(truth), (float(t.t_s[0]), float(t.t_s[-1])))
    return {"fps": fps, "noise": noise, "seed": seed, "exc": r.drop_excursion_error_deg,
            "peak": r.drop_peak_error_deg, "recall": r.recall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=12)
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
    args.cache.mkdir(parents=True, exist_ok=True)
    jobs = [(fps, noise, seed, str(args.cache), overrides) for fps, noise in CONDITIONS
            for seed in range(args.first_seed, args.first_seed + args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_one, jobs))
    print("| condition | exc L bias ± SD | exc R bias ± SD | peak L bias ± SD | peak R bias ± SD | "
          "side values > 0.75° (exc / peak) |")
    print("|---|---|---|---|---|---|")
    all_exc: list[float] = []
    all_peak: list[float] = []
    for fps, noise in CONDITIONS:
        rs = [r for r in results if r["fps"] == fps and r["noise"] == noise]
        cells, n_exc, n_peak = [], 0, 0
        for key in ("exc", "peak"):
            for side in ("left", "right"):
                v = np.array([r[key][side] if r[key][side] is not None else np.nan for r in rs])
                (all_exc if key == "exc" else all_peak).extend(v.tolist())
                cells.append(f"{np.nanmean(v):+.2f} ± {np.nanstd(v, ddof=1):.2f}")
                bad = int(np.sum(~(np.abs(v) <= 0.75)))
                if key == "exc":
                    n_exc += bad
                else:
                    n_peak += bad
        print(f"| {fps:g} fps, {100 * noise:g} % ({len(rs)} seeds) | " + " | ".join(cells)
              + f" | {n_exc} / {n_peak} of {2 * len(rs)} |")
    ae, ap_ = np.array(all_exc), np.array(all_peak)
    print(f"all: exc {np.nanmean(ae):+.3f} ± {np.nanstd(ae, ddof=1):.3f} (rms {np.sqrt(np.nanmean(ae ** 2)):.3f}), "
          f"peak {np.nanmean(ap_):+.3f} ± {np.nanstd(ap_, ddof=1):.3f} (rms {np.sqrt(np.nanmean(ap_ ** 2)):.3f}); "
          f"over 0.75: exc {int(np.sum(~(np.abs(ae) <= 0.75)))}, peak {int(np.sum(~(np.abs(ap_) <= 0.75)))} "
          f"of {len(ae)}; min recall {min(r['recall'] for r in results):.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
