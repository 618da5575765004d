#!/usr/bin/env python3
"""How close can any estimator of the per-side mean drop get, at a track's noise and length?

A Monte Carlo over the drop model alone (station.gait.drop_model), with the event
detection taken as perfect. The true obliquity waveform over the stride is the
12-harmonic least-squares fit to a clean reference track (noise-free to ~0.02 deg
per coefficient); for each noisy track its sample count, stance fraction and
per-frame obliquity noise (the model's residual SD on that track, which includes
the step-to-step variation) are measured by the analyzer. Each repetition draws that
many samples at random stride phases (the stride is not a whole number of frames),
adds Gaussian noise of that SD and estimates each side's mean ``drop_excursion_deg``:

* ``model``: the analyzer's StrideDropModel, fed step by step; the per-side mean of its
  per-step values (exactly the pipeline's estimator, minus event detection);
* ``oracle``: the same least squares, each harmonic shrunk with the Wiener factor
  computed from the *true* harmonic power, which no real estimator knows: the best
  a per-harmonic shrinkage of this model can do;
* ``ls-3``: plain least squares with 3 harmonics (the smallest order that holds
  this waveform's two big harmonics, 1 and 3): what less smoothing costs.

It prints, per track, the RMS error and the share of side values beyond 0.75 deg.
A benchmark of the estimator, not a test.

    .venv/bin/python scripts/drop_noise_floor.py [NOISY_TRACK ...] [--clean TRACK] [--reps 400]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station.gait import AnalyzerSettings, GaitAnalyzer  # noqa: E402
from station.gait.drop_model import BASE, StrideDropModel, _read, fourier_basis  # noqa: E402
from station.keypoints import read_track_csv  # noqa: E402

MOCAP = ROOT.parent / "shared" / "data" / "mocap" / "fukuchi2017"
LIMIT_DEG = 0.75


def measure(path: Path) -> dict:
    """Analyze a track; return the drop model's raw least-squares state and the stance fraction."""
    t = read_track_csv(path)
    analyzer = GaitAnalyzer(AnalyzerSettings(camera_roll_deg=0.0))
    steps = []
    for i in range(len(t.t_s)):
        steps.extend(analyzer.update(float(t.t_s[i]), t.xy[i], t.score[i]))
    steps.extend(analyzer.finish())
    m = analyzer._drop  # the analyzer's own model, read for its sums (a script, not an API)
    coef = np.linalg.solve(m._a, m._b)
    rss = m._yy - 2.0 * float(coef @ m._b) + float(coef @ m._a @ coef)
    contacts = np.array([s.t_contact_s for s in steps])
    period = float(np.median(np.diff(contacts)))
    stance = float(np.median([s.t_end_s - s.t_contact_s for s in steps]))
    return {"coef": coef, "sigma_deg": math.sqrt(rss / (m._n - len(coef))), "n": float(m._n),
            "steps": len(steps), "stance_frac": stance / period, "harmonics": m.harmonics}


class OracleModel(StrideDropModel):
    """StrideDropModel whose Wiener factors come from the true harmonic powers."""

    def __init__(self, true_coef: np.ndarray, **kw) -> None:
        super().__init__(**kw)
        self._true = true_coef

    def _observed_power(self, k: int, coef_k: np.ndarray, noise: float) -> float:
        true = self._true[2 * k - 1:2 * k + 1]
        return float(true @ true) + noise  # Wiener factor 1 - noise / (P + noise) = P / (P + noise)


def simulate(ref: dict, target: dict, reps: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Errors (reps x 2: left, right) of each estimator at the target's noise and sample count."""
    k_max, coef, frac = ref["harmonics"], ref["coef"], target["stance_frac"]
    truth = np.array([_read(coef, side, frac, k_max)[0] for side in ("left", "right")])
    steps = target["steps"]
    per_step = target["n"] / steps
    out: dict[str, list] = {"model": [], "oracle": [], "ls-3": []}
    for _ in range(reps):
        models = {"model": StrideDropModel(k_max, shrinkage=AnalyzerSettings.drop_shrinkage),
                  "oracle": OracleModel(coef, harmonics=k_max, shrinkage=1.0)}
        vals: dict[str, dict[str, list[float]]] = {n: {"left": [], "right": []} for n in models}
        all_ph, all_y = [], []
        for j in range(steps):
            side = "left" if j % 2 == 0 else "right"
            n = int(rng.poisson(per_step))
            ph = (BASE[side] - 0.5 + 0.5 * rng.uniform(size=n)) % 1.0  # the samples this step owns
            y = fourier_basis(ph, k_max) @ coef + rng.normal(0.0, target["sigma_deg"], n)
            all_ph.append(ph)
            all_y.append(y)
            for name, m in models.items():
                m.add(side, ph, y)
                v = m.step_values(side, frac)
                if v is not None:
                    vals[name][side].append(v[0])
        for name in models:
            out[name].append([np.mean(vals[name][s]) for s in ("left", "right")])
        x = fourier_basis(np.concatenate(all_ph), 3)
        c3 = np.zeros_like(coef)
        c3[:7] = np.linalg.lstsq(x, np.concatenate(all_y), rcond=None)[0]
        out["ls-3"].append([_read(c3, s, frac, k_max)[0] for s in ("left", "right")])
    return {name: np.asarray(v) - truth for name, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tracks", nargs="*", type=Path,
                    default=[MOCAP / "s01_30fps_noisy.track.csv", MOCAP / "s01_60fps_roll2_noisy.track.csv"])
    ap.add_argument("--clean", type=Path, default=MOCAP / "s01_30fps_clean.track.csv")
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    ref = measure(args.clean)
    print(f"reference {args.clean.name}: {ref['steps']} steps, residual {ref['sigma_deg']:.2f} deg")
    print("| track | samples | noise SD deg | estimator | bias L / R | SD L / R | RMS | sides > 0.75° |")
    print("|---|---|---|---|---|---|---|---|")
    for path in args.tracks:
        target = measure(path)
        errors = simulate(ref, target, args.reps, rng)
        for name, e in errors.items():
            print(f"| {path.name} | {target['n']:.0f} | {target['sigma_deg']:.2f} | {name} | "
                  f"{e[:, 0].mean():+.2f} / {e[:, 1].mean():+.2f} | {e[:, 0].std():.2f} / {e[:, 1].std():.2f} | "
                  f"{np.sqrt((e ** 2).mean()):.2f} | {100 * (np.abs(e) > LIMIT_DEG).mean():.0f} % |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
