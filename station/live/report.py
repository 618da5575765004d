"""The figures of one run of the live station, for the closing line on stderr and the README's benchmark."""

from __future__ import annotations

import resource
from dataclasses import dataclass, field

import numpy as np


@dataclass
class RunReport:
    """Figures of one run, for the closing line on stderr and the benchmark in the README."""

    frames: int = 0
    dropped: int = 0
    repeated_t: int = 0  # frames skipped because their timestamp was not after the previous one
    wall_s: float = 0.0  # the whole run, start-up (model, source) included
    loop_s: float = 0.0  # first frame in to last frame done
    first_frame_at: float | None = None  # perf_counter when the first frame came in
    busy_s: float = 0.0  # loop time spent on frames (not waiting for them)
    inference_s: float = 0.0
    inference_frames: int = 0
    decode_s: float = 0.0
    cue_latency_s: list[float] = field(default_factory=list)  # step emitted -> on the pins
    step_write_s: list[float] = field(default_factory=list)  # step emitted -> step and cues committed
    steps: int = 0
    sessions: list[int] = field(default_factory=list)
    session_t0_s: dict[int, float] = field(default_factory=dict)  # stream time each session started
    camera_gaps: int = 0
    exit_reason: str = ""
    peak_rss_mb: float = 0.0

    def line(self) -> str:
        fps = self.frames / self.loop_s if self.loop_s > 0 else 0.0
        per = 1000.0 * self.busy_s / self.frames if self.frames else 0.0
        inf = 1000.0 * self.inference_s / self.inference_frames if self.inference_frames else 0.0
        over = per - inf if self.inference_frames else per
        parts = [f"{self.frames} frames in {self.loop_s:.2f} s = {fps:.1f} fps (run {self.wall_s:.1f} s)",
                 f"{self.dropped} dropped"]
        if self.repeated_t:
            parts.append(f"{self.repeated_t} repeated timestamps skipped")
        if self.inference_frames:
            parts.append(f"loop {per:.2f} ms/frame = inference {inf:.2f} + overhead {over:.2f} ms "
                         f"({100.0 * over / per if per else 0.0:.0f} %)")
        else:
            parts.append(f"loop {per:.2f} ms/frame (no model: poses from the source)")
        if self.decode_s:
            parts.append(f"decode {1000.0 * self.decode_s / max(self.frames + self.dropped, 1):.2f} ms/frame")
        if self.cue_latency_s:
            lat = np.asarray(self.cue_latency_s) * 1000.0
            wr = np.asarray(self.step_write_s) * 1000.0
            parts.append(f"cue latency p50 {np.median(lat):.2f} / max {lat.max():.2f} ms, "
                         f"step committed p50 {np.median(wr):.1f} / max {wr.max():.1f} ms")
        parts.append(f"{self.steps} steps in {len(self.sessions)} session(s)")
        if self.camera_gaps:
            parts.append(f"{self.camera_gaps} camera gap(s)")
        parts.append(f"peak RSS {self.peak_rss_mb:.0f} MB")
        return "station: " + "; ".join(parts)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
