"""Validation of the analyzer's steps against a truth file (force plate + markers).

The truth file is the JSON that ``../shared/tools/mocap_track.py`` writes: per step
``side``, ``t_contact_s``, ``t_toe_off_s``, ``drop_excursion_deg``, ``drop_peak_deg``.
Steps are matched one to one by contact time; the error table has the measures
and acceptance limits of issue 3.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from station.errors import InputError, MissingFileError
from station.files import read_text_capped
from station.gait.steps import Step
from station.gait.summary import summarize

MAX_TRUTH_BYTES = 64 * 1024 * 1024  # a truth file lists steps: ~13 KB for a 30 s run

# a detected contact matches a truth contact within this many seconds: under half the step time of the
# fastest running cadence (240 spm -> 0.25 s), so one detection can never sit between two truth steps
MATCH_TOLERANCE_S = 0.12

# acceptance limits of issue 3
LIMITS = {
    "recall_min": 0.98,
    "precision_min": 0.98,
    "side_accuracy_min": 0.99,
    "contact_error_median_max_s": 0.040,
    "drop_excursion_error_max_deg": 0.75,
    "drop_peak_error_max_deg": 0.75,
    "cadence_error_max_spm": 1.0,
}


@dataclass(frozen=True)
class TruthStep:
    side: str
    t_contact_s: float
    t_toe_off_s: float
    drop_excursion_deg: float
    drop_peak_deg: float


@dataclass(frozen=True)
class Truth:
    steps: tuple[TruthStep, ...]
    cadence_spm: float | None
    roll_deg: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class ValidationResult:
    truth_steps: int
    detected_steps: int
    matched: int
    recall: float
    precision: float
    side_accuracy: float | None
    contact_error_median_s: float | None  # of |detected - truth|
    contact_error_p90_s: float | None
    contact_bias_s: float | None  # median of detected - truth
    end_error_median_s: float | None  # of |t_end - toe-off|, for information
    drop_excursion_error_deg: dict[str, float | None] = field(default_factory=dict)  # per side, mean(det) - mean(truth)
    drop_excursion_truth_deg: dict[str, float | None] = field(default_factory=dict)
    drop_peak_error_deg: dict[str, float | None] = field(default_factory=dict)
    # the analyzer's 95 % half-widths of the per-side means (station.gait.summary.SideSummary)
    drop_excursion_ci95_deg: dict[str, float | None] = field(default_factory=dict)
    drop_peak_ci95_deg: dict[str, float | None] = field(default_factory=dict)
    cadence_spm: float | None = None
    cadence_truth_spm: float | None = None
    cadence_error_spm: float | None = None
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(self.checks.values())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d


def load_truth(path: str | Path) -> Truth:
    """Read a truth JSON; raises :class:`InputError` with one line on anything malformed."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    try:
        data = json.loads(read_text_capped(path, MAX_TRUTH_BYTES))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a truth JSON file ({exc.__class__.__name__})") from None
    try:
        steps = tuple(
            TruthStep(
                side=str(s["side"]),
                t_contact_s=float(s["t_contact_s"]),
                t_toe_off_s=float(s["t_toe_off_s"]),
                drop_excursion_deg=float(s["drop_excursion_deg"]),
                drop_peak_deg=float(s["drop_peak_deg"]),
            )
            for s in data["steps"]
        )
        cadence = data.get("summary", {}).get("cadence_spm")
        roll = float(data.get("camera", {}).get("roll_deg", 0.0) or 0.0)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: not a truth file of the mocap form (bad or missing {exc})") from None
    if any(s.side not in ("left", "right") for s in steps):
        raise InputError(f"{path}: a truth step has a side other than left/right")
    return Truth(steps=steps, cadence_spm=float(cadence) if cadence is not None else None, roll_deg=roll,
                 source=str(data.get("source", "")))


def _match(detected: list[Step], truth: list[TruthStep], tol_s: float) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by contact time, closest pairs first."""
    pairs = []
    for i, d in enumerate(detected):
        for j, t in enumerate(truth):
            dt = abs(d.t_contact_s - t.t_contact_s)
            if dt <= tol_s:
                pairs.append((dt, i, j))
    pairs.sort()
    used_d: set[int] = set()
    used_t: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
            out.append((i, j))
    return sorted(out)


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def validate_steps(
    detected: list[Step], truth: Truth, t_span_s: tuple[float, float] | None = None, tol_s: float = MATCH_TOLERANCE_S
) -> ValidationResult:
    """Compare detected steps with truth steps.

    ``t_span_s`` is the time span of the track: truth steps not wholly inside it
    cannot be seen and are left out of recall.
    """
    tsteps = list(truth.steps)
    if t_span_s is not None:
        t0, t1 = t_span_s
        tsteps = [s for s in tsteps if s.t_contact_s >= t0 and s.t_toe_off_s <= t1]
    pairs = _match(detected, tsteps, tol_s)
    n_match = len(pairs)
    recall = n_match / len(tsteps) if tsteps else 0.0
    precision = n_match / len(detected) if detected else 0.0
    side_ok = [detected[i].side == tsteps[j].side for i, j in pairs]
    dt = np.array([detected[i].t_contact_s - tsteps[j].t_contact_s for i, j in pairs])
    de = np.array([detected[i].t_end_s - tsteps[j].t_toe_off_s for i, j in pairs])
    exc_err: dict[str, float | None] = {}
    exc_truth: dict[str, float | None] = {}
    peak_err: dict[str, float | None] = {}
    for side in ("left", "right"):
        sp = [(i, j) for i, j in pairs if detected[i].side == side and tsteps[j].side == side]
        # compare on the same steps: those where the analyzer gave the metric
        se = [(i, j) for i, j in sp if detected[i].drop_excursion_deg is not None]
        det_exc = _mean([detected[i].drop_excursion_deg for i, _ in se])  # type: ignore[misc]
        tru_exc = _mean([tsteps[j].drop_excursion_deg for _, j in se])
        exc_truth[side] = tru_exc
        exc_err[side] = det_exc - tru_exc if det_exc is not None and tru_exc is not None else None
        spk = [(i, j) for i, j in sp if detected[i].drop_peak_deg is not None]
        det_peak = _mean([detected[i].drop_peak_deg for i, _ in spk])  # type: ignore[misc]
        tru_peak = _mean([tsteps[j].drop_peak_deg for _, j in spk])
        peak_err[side] = det_peak - tru_peak if det_peak is not None and tru_peak is not None else None
    summary = summarize(detected)
    cad = summary.cadence_spm
    cad_truth = truth.cadence_spm
    if tsteps and len(tsteps) >= 2:
        # over consecutive contacts only (a track-side session's passes have gaps between them), as summarize does
        gaps = np.diff([s.t_contact_s for s in tsteps])
        periods = gaps[gaps <= 2.0 * float(np.median(gaps))]
        cad_truth = 60.0 * len(periods) / float(np.sum(periods))
    cad_err = cad - cad_truth if cad is not None and cad_truth is not None else None
    checks = {
        "recall": recall >= LIMITS["recall_min"],
        "precision": precision >= LIMITS["precision_min"],
        "side_accuracy": bool(side_ok) and float(np.mean(side_ok)) >= LIMITS["side_accuracy_min"],
        "contact_error_median": bool(n_match) and float(np.median(np.abs(dt))) <= LIMITS["contact_error_median_max_s"],
        "drop_excursion": all(v is not None and abs(v) <= LIMITS["drop_excursion_error_max_deg"]
                              for v in exc_err.values()),
        "cadence": cad_err is not None and abs(cad_err) <= LIMITS["cadence_error_max_spm"],
    }
    if any(v is not None for v in peak_err.values()):
        checks["drop_peak"] = all(v is not None and abs(v) <= LIMITS["drop_peak_error_max_deg"]
                                  for v in peak_err.values())
    return ValidationResult(
        truth_steps=len(tsteps),
        detected_steps=len(detected),
        matched=n_match,
        recall=recall,
        precision=precision,
        side_accuracy=float(np.mean(side_ok)) if side_ok else None,
        contact_error_median_s=float(np.median(np.abs(dt))) if n_match else None,
        contact_error_p90_s=float(np.percentile(np.abs(dt), 90)) if n_match else None,
        contact_bias_s=float(np.median(dt)) if n_match else None,
        end_error_median_s=float(np.median(np.abs(de))) if n_match else None,
        drop_excursion_error_deg=exc_err,
        drop_excursion_truth_deg=exc_truth,
        drop_peak_error_deg=peak_err,
        drop_excursion_ci95_deg={side: getattr(summary, side).drop_excursion_ci95_deg for side in ("left", "right")},
        drop_peak_ci95_deg={side: getattr(summary, side).drop_peak_ci95_deg for side in ("left", "right")},
        cadence_spm=cad,
        cadence_truth_spm=cad_truth,
        cadence_error_spm=cad_err,
        checks=checks,
    )


def _fmt(v: float | None, unit: str = "", scale: float = 1.0, nd: int = 2, signed: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{v * scale:{'+' if signed else ''}.{nd}f}{unit}"


def format_table(r: ValidationResult) -> str:
    """The error table as text, one measure per line, with the acceptance verdicts."""
    ok = {k: ("ok" if v else "FAIL") for k, v in r.checks.items()}
    lines = [
        f"truth steps          {r.truth_steps}",
        f"detected steps       {r.detected_steps}",
        f"matched              {r.matched}",
        f"recall               {_fmt(r.recall, ' %', 100, 1)}   [{ok['recall']}, >= 98 %]",
        f"precision            {_fmt(r.precision, ' %', 100, 1)}   [{ok['precision']}, >= 98 %]",
        f"side accuracy        {_fmt(r.side_accuracy, ' %', 100, 1)}   [{ok['side_accuracy']}, >= 99 %]",
        f"contact error        median {_fmt(r.contact_error_median_s, ' ms', 1000, 1)}, "
        f"p90 {_fmt(r.contact_error_p90_s, ' ms', 1000, 1)}, bias {_fmt(r.contact_bias_s, ' ms', 1000, 1, True)}"
        f"   [{ok['contact_error_median']}, median <= 40 ms]",
        f"stance end error     median {_fmt(r.end_error_median_s, ' ms', 1000, 1)} (vs toe-off; information)",
    ]
    for side in ("left", "right"):
        lines.append(
            f"drop_excursion {side:<5} error {_fmt(r.drop_excursion_error_deg.get(side), ' deg', signed=True)} "
            f"(truth mean {_fmt(r.drop_excursion_truth_deg.get(side), ' deg')}, "
            f"95 % interval ± {_fmt(r.drop_excursion_ci95_deg.get(side), ' deg')})"
            f"   [{ok['drop_excursion']}, <= 0.75 deg]"
        )
    if "drop_peak" in r.checks:
        for side in ("left", "right"):
            lines.append(
                f"drop_peak {side:<5} error      {_fmt(r.drop_peak_error_deg.get(side), ' deg', signed=True)}"
                f"   [{ok['drop_peak']}, <= 0.75 deg]"
            )
    else:
        lines.append("drop_peak            not checked (no --camera-roll-deg declared)")
    lines.append(
        f"cadence              {_fmt(r.cadence_spm, ' spm', nd=1)} vs truth {_fmt(r.cadence_truth_spm, ' spm', nd=1)}"
        f" (error {_fmt(r.cadence_error_spm, ' spm', signed=True)})   [{ok['cadence']}, <= 1 step/min]"
    )
    lines.append(f"verdict              {'PASS' if r.passed else 'FAIL'}")
    return "\n".join(lines)
