"""``gait-station pose VIDEO -o TRACK.csv``: run a pose model over a video, write the pose track CSV."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from station.errors import InputError, MissingFileError, SourceError
from station.pose import DEFAULT_MODEL, DEFAULT_PELVIS_LINE

log = logging.getLogger(__name__)

HIP_SCORE_MIN = 0.3  # the score above which a hip counts as seen in the summary line


def pelvis_line_option(f):  # type: ignore[no-untyped-def]
    """``--pelvis-line/--no-pelvis-line`` for the commands that run a model over a video (pose, analyze, validate)."""
    return click.option(
        "--pelvis-line/--no-pelvis-line",
        default=DEFAULT_PELVIS_LINE,
        show_default=True,
        help="Videos: turn the model's hip line to the pelvis line read from the picture, as the station does "
             "(station.pose.pelvis); --no-pelvis-line keeps the model's own hips.",
    )(f)


@click.command("pose")
@click.argument("video", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Pose track CSV to write (DESIGN.md format).")
@click.option("--model", "model", default=DEFAULT_MODEL, show_default=True,
              help="Model name from `gait-station models list`.")
@click.option("--model-path", "model_path", type=click.Path(path_type=Path), default=None,
              help="Use this .tflite file (or a folder with all of the model's files) instead of the installed ones.")
@click.option("--threads", "num_threads", type=click.IntRange(min=1), default=None,
              help="Interpreter threads (default: the runtime's choice for this machine).")
@pelvis_line_option
@click.option("--allow-truncated", is_flag=True,
              help="Keep a track from a truncated video with a warning instead of failing.")
def pose(video: Path, output: Path, model: str, model_path: Path | None, num_threads: int | None,
         pelvis_line: bool, allow_truncated: bool) -> None:
    """Run a pose model over VIDEO and write its pose track CSV to TRACK.csv.

    One row per decoded frame, with the video's own timestamps. A progress bar
    shows on a terminal. A truncated video fails after writing the rows it had
    (exit 1), unless --allow-truncated.
    """
    from station.camera.video import VideoFileSource
    from station.keypoints import BodyPart, TrackWriter
    from station.pose import load_estimator
    from station.pose.stream import iter_poses

    if not video.exists():
        raise MissingFileError(f"{video}: no such file")
    if video.suffix.lower() == ".csv":
        raise InputError(f"{video}: is already a pose track CSV; `pose` reads a video")
    if model_path is not None and not model_path.exists():
        raise MissingFileError(f"{model_path}: no such model file")
    if output.resolve() == video.resolve():
        raise InputError(f"{output}: would overwrite the input video")

    rows = 0
    t_last = 0.0
    both_hips = 0
    try:
        with VideoFileSource(video, strict=not allow_truncated) as source:
            estimator = load_estimator(model, model_path=model_path, num_threads=num_threads, pelvis_line=pelvis_line)
            with estimator, TrackWriter(output) as writer:
                for p in iter_poses(source, estimator, progress=True):
                    writer.write(p)
                    rows += 1
                    t_last = p.t_s
                    both_hips += int(min(p.score[BodyPart.LEFT_HIP], p.score[BodyPart.RIGHT_HIP]) > HIP_SCORE_MIN)
    except SourceError as exc:
        if rows:
            raise SourceError(f"{exc}; wrote the {rows} rows before it to {output}") from None
        output.unlink(missing_ok=True)
        raise
    except BaseException:
        if rows == 0 and output.exists() and not output.is_dir():
            output.unlink(missing_ok=True)  # no header-only file left behind by a failed start
        raise
    pct = 100.0 * both_hips / rows if rows else 0.0
    click.echo(
        f"{output}: {rows} frames, {t_last:.2f} s, {estimator.name}; both hips seen (> {HIP_SCORE_MIN}) in {pct:.0f} %"
    )
