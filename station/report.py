"""The analysis report of DESIGN.md (JSON), its text summary for a person, and the per-step CSV.

Formatting only: the numbers come from :mod:`station.gait`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from station.gait.steps import STEP_FIELDS, Step
from station.gait.summary import CI_METRICS, METRICS, Summary, summarize

#: the one step CSV: the step's index in its session, then one column per Step field, in the dataclass order
STEP_CSV_COLUMNS: tuple[str, ...] = ("idx", *STEP_FIELDS)


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


def csv_cell(value: Any) -> str:
    """A CSV cell: empty for a metric not measured, floats in full (``repr``: they read back exactly), flags
    joined by ';'."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """A CSV a line at a time (so a long session streams): the header, then each row's cells (:func:`csv_cell`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    yield buf.getvalue()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        w.writerow([csv_cell(v) for v in row])
        yield buf.getvalue()


def steps_csv_lines(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The step CSV: one row per step row (``idx`` and the Step fields, as :meth:`station.store.Store.steps`
    gives them)."""
    return csv_lines(STEP_CSV_COLUMNS, ([row.get(k) for k in STEP_CSV_COLUMNS] for row in rows))


def steps_csv(steps: Sequence[Step]) -> str:
    """The step CSV of an analysis: one row per step, numbered from 0."""
    return "".join(steps_csv_lines({"idx": i, **s.to_dict()} for i, s in enumerate(steps)))


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
    w = max(len(m.label) for m in METRICS) + 2
    lines.append(f"{'':{w}}{'left stance':>18}{'right stance':>18}{'right - left':>18}")
    asym, asym_ci = s.get("asymmetry", {}), s.get("asymmetry_ci95", {})
    lines.append(f"{'steps':{w}}{s['left']['steps']:>18}{s['right']['steps']:>18}")
    for m in METRICS:
        label = m.label[:1].lower() + m.label[1:]
        unit = f" {'deg' if m.unit == '°' else m.unit}" if m.unit else ""
        ci_key = m.key.removesuffix("_deg") + "_ci95_deg" if m.key in CI_METRICS else ""
        left, right, a = s["left"].get(m.key), s["right"].get(m.key), asym.get(m.key)
        lines.append(f"{label:{w}}{_num(left, unit, m.decimals, ci=s['left'].get(ci_key)):>18}"
                     f"{_num(right, unit, m.decimals, ci=s['right'].get(ci_key)):>18}"
                     f"{_num(a, unit, m.decimals, signed=True, ci=asym_ci.get(m.key)):>18}")
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
