"""``gait-station analyze`` and ``gait-station validate``: the offline shell around :mod:`station.gait`.

Offline analysis is the live analyzer fed as fast as poses arrive: a pose track
CSV is read row by row, a video goes frame by frame through the pose model.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from station.cli.pose import pelvis_line_option
from station.errors import InputError
from station.gait.analyzer import AnalyzerSettings, GaitAnalyzer
from station.gait.steps import Step
from station.keypoints import Pose
from station.pose import DEFAULT_PELVIS_LINE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisRun:
    steps: list[Step]
    frames: int
    frames_in_view: int
    fps: float | None
    t_span_s: tuple[float, float] | None
    repeated_t: int = 0  # frames whose timestamp is not after the one before (the analyzer skips them)


def run_analyzer(poses: Iterable[Pose], settings: AnalyzerSettings) -> AnalysisRun:
    """Feed poses one at a time through a :class:`GaitAnalyzer`; collect its steps and what it saw."""
    analyzer = GaitAnalyzer(settings)
    steps: list[Step] = []
    frames = in_view = repeated = 0
    t_first = t_last = None
    dts: list[float] = []
    for pose in poses:
        if t_last is not None and pose.t_s > t_last:
            dts.append(pose.t_s - t_last)
        elif t_last is not None:
            repeated += 1
        t_first = pose.t_s if t_first is None else t_first
        t_last = pose.t_s
        frames += 1
        steps.extend(analyzer.update(pose.t_s, pose.xy, pose.score, frame_size=pose.frame_size))
        in_view += analyzer.status.in_view
    steps.extend(analyzer.finish())
    fps = 1.0 / float(np.median(dts)) if dts else None
    span = (t_first, t_last) if t_first is not None and t_last is not None else None
    if repeated:
        log.warning("%d frames repeat the timestamp before them: each was skipped (no new information)", repeated)
    return AnalysisRun(steps=steps, frames=frames, frames_in_view=in_view, fps=fps, t_span_s=span,
                       repeated_t=repeated)


def _is_track(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def _poses(path: Path, model: str | None, model_path: str | None, progress: bool,
           pelvis_line: bool = DEFAULT_PELVIS_LINE) -> tuple[Iterator[Pose], str | None]:
    """Poses from a pose track CSV (read directly, validated row by row) or a video (through the pose model)."""
    if _is_track(path):
        from station.keypoints import iter_track_csv

        return iter_track_csv(path), None
    from station.camera import open_source
    from station.pose import DEFAULT_MODEL, load_estimator
    from station.pose.stream import iter_poses

    if not path.exists():
        from station.errors import MissingFileError

        raise MissingFileError(f"{path}: no such file")
    estimator = load_estimator(model or DEFAULT_MODEL, model_path=model_path, pelvis_line=pelvis_line)
    source = open_source(str(path), model_input_size=getattr(estimator, "input_size", None))

    def gen() -> Iterator[Pose]:
        with source, estimator:
            yield from iter_poses(source, estimator, progress=progress)

    return gen(), estimator.name


def _roll_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--camera-roll-deg",
        type=float,
        default=None,
        help="Declared camera roll (deg; + when a level line appears turned clockwise). Enables drop_peak_deg.",
    )(f)


def _distance_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--camera-distance-m",
        type=float,
        default=None,
        help="Measured distance from the lens to the runner's pelvis (m). Under 2.5 m contact is timed from the "
             "landing ankle.",
    )(f)


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["json", "text", "csv"]), default="text", show_default=True,
              help="json: the report of DESIGN.md; text: a summary for a person; csv: one row per step.")
@click.option("--model", default=None, help="Pose model name from the manifest (videos only; default the station's).")
@click.option("--model-path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Use this model file instead of the installed weights (videos only).")
@click.option("--view", type=click.Choice(["posterior", "anterior"]), default="posterior", show_default=True,
              help="Camera behind the runner (posterior) or in front (anterior).")
@_roll_option
@_distance_option
@pelvis_line_option
@click.option("--min-score", type=float, default=AnalyzerSettings.min_score, show_default=True,
              help="Keypoint confidence below which a keypoint counts as not seen.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write the result to this file instead of stdout.")
def analyze(
    path: Path,
    fmt: str,
    model: str | None,
    model_path: Path | None,
    view: str,
    camera_roll_deg: float | None,
    camera_distance_m: float | None,
    pelvis_line: bool,
    min_score: float,
    output: Path | None,
) -> None:
    """Analyze a video or a pose track CSV: per-step pelvic drop and running metrics."""
    from station.report import build_report, report_json, report_text, steps_csv

    settings = AnalyzerSettings(view=view, camera_roll_deg=camera_roll_deg, min_score=min_score,
                                camera_distance_m=camera_distance_m)
    poses, model_name = _poses(path, model, str(model_path) if model_path else None, progress=True,
                               pelvis_line=pelvis_line)
    run = run_analyzer(poses, settings)
    if run.frames == 0:
        raise InputError(f"{path}: no frames")
    if run.frames_in_view == 0:
        raise InputError(f"{path}: no person found in {run.frames} frames")
    log.info("%s: %d frames, %d with the runner in view, %d steps", path, run.frames, run.frames_in_view,
             len(run.steps))
    report = build_report(run.steps, source=str(path), frames=run.frames, fps=run.fps, model=model_name, view=view,
                          camera_roll_deg=camera_roll_deg, frames_in_view=run.frames_in_view,
                          camera_distance_m=camera_distance_m)
    report["frames_repeated_time"] = run.repeated_t
    if fmt == "json":
        text = report_json(report) + "\n"
    else:
        text = report_text(report) if fmt == "text" else steps_csv(run.steps)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{output}: cannot write ({exc.strerror})") from None
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("track", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("truth", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--view", type=click.Choice(["posterior", "anterior"]), default="posterior", show_default=True)
@_roll_option
@_distance_option
@click.option("--model", default=None, help="Pose model for a video (default the station's).")
@click.option("--model-path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Use this model file instead of the installed weights (videos only).")
@pelvis_line_option
@click.option("--true-keypoints", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="True joints per frame (gait-twin render --keypoints) for the per-frame pose-model report; "
                   "default: the one the truth file names, if it is there.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Exit with status 1 when an acceptance limit is missed.")
def validate(
    track: Path, truth: Path, view: str, camera_roll_deg: float | None, camera_distance_m: float | None,
    model: str | None, model_path: Path | None, pelvis_line: bool, true_keypoints: Path | None, fmt: str,
    strict: bool,
) -> None:
    """Compare the analysis of TRACK (a pose track CSV, or a video run through --model) with a truth file.

    Prints the error table; with the true joints of a rendered runner also the per-frame pose-model
    report (hips, knees, ankles against the true joints; the obliquity error and its stride-locked share).
    """
    from station.validation import format_table, load_truth, validate_steps

    settings = AnalyzerSettings(view=view, camera_roll_deg=camera_roll_deg, camera_distance_m=camera_distance_m)
    truth_data = load_truth(truth)
    if not track.exists():
        from station.errors import MissingFileError

        raise MissingFileError(f"{track}: no such file")
    true_kp = true_keypoints or _named_true_keypoints(truth)
    if true_keypoints is not None and not true_keypoints.exists():
        from station.errors import MissingFileError

        raise MissingFileError(f"{true_keypoints}: no such file")
    poses, _ = _poses(track, model, str(model_path) if model_path else None, progress=True, pelvis_line=pelvis_line)
    seen: list[Pose] = []

    def kept() -> Iterator[Pose]:
        for p in poses:
            seen.append(p)
            yield p

    run = run_analyzer(kept(), settings)
    if run.frames == 0:
        raise InputError(f"{track}: pose track has a header but no rows")
    result = validate_steps(run.steps, truth_data, run.t_span_s)
    report = _keypoint_report(seen, true_kp, truth_data, view) if true_kp is not None else None
    if fmt == "json":
        d = result.to_dict()
        d.update(track=str(track), truth=str(truth), camera_roll_deg=camera_roll_deg,
                 camera_distance_m=camera_distance_m)
        if report is not None:
            d["keypoints"] = report.to_dict()
        click.echo(json.dumps(d, indent=1, default=lambda v: None if isinstance(v, float) and math.isnan(v) else v))
    else:
        click.echo(f"{track} vs {truth}" + (f" (camera roll {camera_roll_deg:+g} deg declared)"
                                            if camera_roll_deg is not None else ""))
        click.echo(format_table(result))
        if report is not None:
            from station.keypoint_validation import format_report

            click.echo(format_report(report))
    if strict and not result.passed:
        raise click.exceptions.Exit(1)


def _named_true_keypoints(truth: Path) -> Path | None:
    """The true-keypoint track a rendered truth file names (as written, or beside the truth file)."""
    try:
        name = json.loads(truth.read_text(encoding="utf-8")).get("camera", {}).get("keypoints_csv")
    except (OSError, ValueError, AttributeError):
        return None
    if not name:
        return None
    for candidate in (Path(name), truth.parent / Path(name).name):
        if candidate.is_file():
            return candidate
    return None


def _keypoint_report(poses: list[Pose], true_kp: Path, truth, view: str):  # type: ignore[no-untyped-def]
    from station.keypoint_validation import keypoint_report
    from station.keypoints import read_track_csv

    true = read_track_csv(true_kp)
    if not poses or not len(true.t_s):
        return None
    contacts = np.array([s.t_contact_s for s in truth.steps if s.side == "right"])
    return keypoint_report(np.array([p.t_s for p in poses]), np.stack([p.xy for p in poses]),
                           np.stack([p.score for p in poses]), true.t_s, true.xy, true.score, contacts, view)
