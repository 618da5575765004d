#!/usr/bin/env python3
"""Analyzer throughput on a pose track: frames per second through GaitAnalyzer.update().

A benchmark, not a test: it prints figures. The track is read once into memory, so
only the analysis is timed (pure Python + numpy, one core).

    .venv/bin/python scripts/bench_analyzer.py [TRACK.csv ...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station.gait import AnalyzerSettings, GaitAnalyzer  # noqa: E402
from station.keypoints import read_track_csv  # noqa: E402

DEFAULT_TRACKS = [
    ROOT.parent / "shared" / "data" / "mocap" / "fukuchi2017" / "s01_30fps_noisy.track.csv",
    ROOT.parent / "shared" / "data" / "mocap" / "fukuchi2017" / "s01_60fps_roll2_noisy.track.csv",
]


def bench(path: Path, repeat: int) -> None:
    track = read_track_csv(path)
    frames = [(float(track.t_s[i]), track.xy[i], track.score[i]) for i in range(len(track))]
    times, worst, steps = [], 0.0, 0
    for _ in range(repeat):
        analyzer = GaitAnalyzer(AnalyzerSettings())
        per_frame = []
        t0 = time.perf_counter()
        for t_s, xy, score in frames:
            f0 = time.perf_counter()
            steps_now = analyzer.update(t_s, xy, score)
            per_frame.append(time.perf_counter() - f0)
            steps += len(steps_now)
        steps += len(analyzer.finish())
        times.append(time.perf_counter() - t0)
        worst = max(worst, max(per_frame))
    best = min(times)
    print(f"{path.name}: {len(frames)} frames at {track.fps:.0f} fps, {steps // repeat} steps")
    print(f"  throughput   {len(frames) / best:8.0f} frames/s (best of {repeat}; median "
          f"{len(frames) / statistics.median(times):.0f})")
    print(f"  per frame    {1e6 * best / len(frames):8.1f} us mean, {1e3 * worst:.2f} ms worst")
    print(f"  real time    {len(frames) / best / track.fps:8.1f} x the track's frame rate")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tracks", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tracks = args.tracks or [p for p in DEFAULT_TRACKS if p.exists()]
    if not tracks:
        print("no pose track given and ../shared/data not found", file=sys.stderr)
        return 1
    for path in tracks:
        bench(path, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
