#!/usr/bin/env python3
"""Leave one runner out: what is chosen or fitted on two Fukuchi runners, checked on the third.

Two things in the analysis were chosen on runners (docs/validation.md):

* ``pelvis_contact_ratio`` (kappa), fitted: contact = t_v - kappa (t_mid - t_v), with t_v the hip's
  fastest descent and t_mid its low point. Each runner's own kappa is the median over its steps of
  (t_v - truth contact) / (t_mid - t_v) on its clean 60 fps track; for each held-out runner kappa is
  the mean of the other two, and the held-out runner's contact and drop errors are measured with it
  (60 fps clean and 30 fps / 0.3 % noise).
* ``drop_shrinkage``, chosen among {0, 0.5, 1}: the pass rate (per-side mean excursion and peak within
  0.75 deg) over noise seeds at 30 and 60 fps, 0.3 % noise; for each held-out runner the value best on
  the other two, and its pass rate on the held-out one.

    .venv/bin/python scripts/leave_one_out.py [--seeds 10] [--jobs 2] [--skip-shrinkage]
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import seed_stats  # noqa: E402  (a sibling script)

SUBJECTS = ("s01", "s02", "s32")
SHRINKAGE = (0.0, 0.5, 1.0)
JUDGED = [(30.0, 0.003), (60.0, 0.003)]  # the noise of the shared noisy tracks, at two frame rates
LIMIT_DEG = 0.75


def own_kappa(job: tuple[str, str]) -> float:
    """A runner's own ratio: median over its steps of (t_v - truth contact) / (t_mid - t_v)."""
    from station.gait import AnalyzerSettings, GaitAnalyzer
    from station.keypoints import read_track_csv
    from station.validation import load_truth

    subject, cache = job
    track, truth = seed_stats.generate(subject, 60.0, 0.0, 1, Path(cache))
    events: list[tuple[float, float]] = []

    class Recording(GaitAnalyzer):  # reads the pelvis's two times (a script, not an API)
        def _pelvis_contact(self, t_mid: float, trend_px_s: float, t_ref: float) -> float | None:
            contact = super()._pelvis_contact(t_mid, trend_px_s, t_ref)
            if contact is not None:
                k = self.settings.pelvis_contact_ratio
                events.append(((contact + k * t_mid) / (1 + k), t_mid))
            return contact

    t = read_track_csv(track)
    analyzer = Recording(AnalyzerSettings())
    for i in range(len(t.t_s)):
        analyzer.update(float(t.t_s[i]), t.xy[i], t.score[i])
    analyzer.finish()
    contacts = np.array([s.t_contact_s for s in load_truth(truth).steps])
    ratios = []
    for t_v, t_mid in events:
        j = int(np.argmin(np.abs(contacts - t_v)))
        if 0.0 < t_v - contacts[j] < 0.12:
            ratios.append((t_v - contacts[j]) / (t_mid - t_v))
    return float(np.median(ratios))


def check_kappa(job: tuple[str, float, float, float, str]) -> dict:
    from station.gait import AnalyzerSettings, analyze_track
    from station.keypoints import read_track_csv
    from station.validation import load_truth, validate_steps

    subject, kappa, fps, noise, cache = job
    track, truth = seed_stats.generate(subject, fps, noise, 1, Path(cache))
    t = read_track_csv(track)
    steps = analyze_track(t.t_s, t.xy, t.score, AnalyzerSettings(pelvis_contact_ratio=kappa, camera_roll_deg=0.0))
    r = validate_steps(steps, load_truth(truth), (float(t.t_s[0]), float(t.t_s[-1])))
    return {"subject": subject, "kappa": kappa, "fps": fps, "noise": noise,
            "median_ms": 1000 * r.contact_error_median_s,
            "p90_ms": 1000 * r.contact_error_p90_s, "bias_ms": 1000 * r.contact_bias_s,
            "exc": r.drop_excursion_error_deg}


def pass_rate(results: list[dict]) -> float:
    ok = [abs(r[key][s]) <= LIMIT_DEG for r in results for key in ("exc", "peak") for s in ("left", "right")
          if r[key][s] is not None]
    return float(np.mean(ok))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/seed_stats_tracks"))
    ap.add_argument("--skip-shrinkage", action="store_true")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.jobs) as pool:
        kappas = dict(zip(SUBJECTS, pool.map(own_kappa, [(s, str(args.cache)) for s in SUBJECTS]), strict=True))
        print("Each runner's own kappa (60 fps clean): "
              + ", ".join(f"{s} {k:.3f}" for s, k in kappas.items()))
        jobs = []
        for held in SUBJECTS:
            kappa = float(np.mean([kappas[s] for s in SUBJECTS if s != held]))
            jobs += [(held, round(kappa, 3), fps, noise, str(args.cache))
                     for fps, noise in ((60.0, 0.0), (30.0, 0.003))]
        rows = list(pool.map(check_kappa, jobs))
    print("\n| held out | kappa from the other two | track | contact median / p90 / bias ms | excursion err L / R |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['subject']} | {r['kappa']:.3f} | {r['fps']:g} fps, {100 * r['noise']:g} % | "
              f"{r['median_ms']:.1f} / "
              f"{r['p90_ms']:.1f} / {r['bias_ms']:+.1f} | {r['exc']['left']:+.2f} / {r['exc']['right']:+.2f} |")
    if args.skip_shrinkage:
        return 0
    ss = seed_stats
    rates: dict[tuple[float, str], float] = {}
    for a in SHRINKAGE:
        results = ss.run(list(SUBJECTS), JUDGED, args.seeds, 1000, args.cache, {"drop_shrinkage": a}, args.jobs)
        for s in SUBJECTS:
            rates[(a, s)] = pass_rate([r for r in results if r["subject"] == s])
    print("\nPass rate (per-side mean excursion and peak within 0.75 deg; 30 and 60 fps, 0.3 % noise, "
          f"{args.seeds} seeds each):\n")
    print("| drop_shrinkage | " + " | ".join(SUBJECTS) + " |\n|---|" + "---|" * len(SUBJECTS))
    for a in SHRINKAGE:
        print(f"| {a:g} | " + " | ".join(f"{100 * rates[(a, s)]:.0f} %" for s in SUBJECTS) + " |")
    print("\n| held out | best on the other two | its pass rate on the held-out runner |\n|---|---|---|")
    for held in SUBJECTS:
        others = [s for s in SUBJECTS if s != held]
        best = max(SHRINKAGE, key=lambda a: (np.mean([rates[(a, s)] for s in others]), -a))
        print(f"| {held} | {best:g} | {100 * rates[(best, held)]:.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
