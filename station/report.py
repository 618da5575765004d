"""The analysis report of DESIGN.md (JSON), its text summary for a person, and the per-step CSV.

Formatting only: the numbers come from :mod:`station.gait`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from typing import Any

from station.gait.steps import Step
from station.gait.summary import Summary, summarize

# one CSV column per Step field, in the dataclass order
STEP_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Step))


def build_report(
    steps: Sequence[Step],
    *,
    source: str,
    frames: int,
    fps: float | None,
    model: str | None,
    view: str,
    camera_roll_deg: float | None,
    frames_in_view: int | None = None,
    summary: Summary | None = None,
    camera_distance_m: float | None = None,
) -> dict[str, Any]:
    """The report dict: DESIGN.md's keys (source, frames, fps, model, steps, summary) and a few more."""
    summary = summary or summarize(steps)
    return {
        "source": source,
        "frames": frames,
        "fps": None if not fps else round(fps, 3),
        "model": model,
        "view": view,
        "camera_roll_deg": camera_roll_deg,
        "camera_distance_m": camera_distance_m,
        "frames_in_view": frames_in_view,
        "steps": [s.to_dict() for s in steps],
        "summary": summary.to_dict(),
    }


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, allow_nan=False)


def steps_csv(steps: Sequence[Step]) -> str:
    """One row per step; empty cells for metrics that were not measured; flags joined by ';'."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(STEP_COLUMNS)
    for s in steps:
        d = s.to_dict()
        row = []
        for col in STEP_COLUMNS:
            v = d[col]
            row.append(";".join(v) if col == "flags" else "" if v is None else v)
        w.writerow(row)
    return buf.getvalue()


def _num(v: float | None, unit: str, nd: int = 1, signed: bool = False, ci: float | None = None) -> str:
    if v is None:
        return "not measured"
    pm = "" if ci is None else f" ± {ci:.{nd}f}"
    return f"{v:{'+' if signed else ''}.{nd}f}{pm}{unit}"


def report_text(report: dict[str, Any]) -> str:
    """A readable summary for a runner or a coach."""
    s = report["summary"]
    lines = [
        f"{report['source']}: {report['frames']} frames"
        + (f" at {report['fps']:.1f} fps" if report.get("fps") else "")
        + (f", model {report['model']}" if report.get("model") else "")
        + f", {report['view']} view",
    ]
    if s["steps"] == 0:
        lines.append("No running steps found (is the runner in view, whole, and running?).")
        return "\n".join(lines) + "\n"
    lines.append(f"{s['steps']} steps over {s['duration_s']:.1f} s, cadence {_num(s['cadence_spm'], ' steps/min')}")
    lines.append("")
    lines.append(f"{'':26}{'left stance':>18}{'right stance':>18}{'right - left':>18}")
    rows = (
        ("steps", "steps", "", 0),
        ("pelvic drop excursion", "drop_excursion_deg", " deg", 1),
        ("pelvic drop peak", "drop_peak_deg", " deg", 1),
        ("trunk lean to stance", "trunk_lean_deg", " deg", 1),
        ("knee FPPA (valgus +)", "knee_fppa_deg", " deg", 1),
        ("step width (hip widths)", "step_width_norm", "", 2),
    )
    asym = s.get("asymmetry", {})
    asym_ci = s.get("asymmetry_ci95", {})
    for label, key, unit, nd in rows:
        left, right = s["left"].get(key), s["right"].get(key)
        if key == "steps":
            lines.append(f"{label:26}{left:>18}{right:>18}")
            continue
        ci_key = key[: -len("_deg")] + "_ci95_deg" if key.endswith("_deg") else ""
        cl, cr = s["left"].get(ci_key), s["right"].get(ci_key)
        a = asym.get(key)
        lines.append(
            f"{label:26}{_num(left, unit, nd, ci=cl):>18}{_num(right, unit, nd, ci=cr):>18}"
            f"{_num(a, unit, nd, signed=True, ci=asym_ci.get(key)):>18}"
        )
    lines.append("")
    lines.append("± is the 95 % confidence interval of the mean (keypoint noise, step-to-step variation, model fit).")
    real = s.get("asymmetry_real", {}).get("drop_excursion_deg")
    if real is not None:
        lines.append("Left/right difference in drop excursion: " + (
            "real (larger than its uncertainty)." if real else "within its uncertainty (not a real difference)."))
    if report.get("camera_roll_deg") is None:
        lines.append("")
        lines.append("Drop peak needs a level camera: declare its roll with --camera-roll-deg to get it.")
    return "\n".join(lines) + "\n"
