"""Pose estimators behind one interface (see :mod:`station.pose.base`).

:func:`load_estimator` is how the rest of the station gets one: by manifest
name (``--model NAME``), optionally with a file to use instead of the installed
weights (``--model-path FILE``).
"""

from __future__ import annotations

from pathlib import Path

from station.errors import InputError, MissingFileError
from station.pose.base import PoseEstimator
from station.pose.runtime import available_runtimes

__all__ = ["DEFAULT_MODEL", "DEFAULT_PELVIS_LINE", "PoseEstimator", "available_runtimes", "load_estimator"]

DEFAULT_MODEL = "movenet-lightning-int8"
#: the pelvis-line pass (station.pose.pelvis) is on unless turned off: through a camera the models' own hip line
#: does not follow the pelvis (MoveNet's is uncorrelated with it on rendered runners; docs/validation.md)
DEFAULT_PELVIS_LINE = True


def _paths_for(spec: object, model_path: Path) -> dict[str, Path]:
    """Role -> file when the user names a path: a file replaces the main model, a directory holds all files."""
    from station.pose.models import ModelSpec, model_files

    assert isinstance(spec, ModelSpec)
    if not model_path.exists():
        raise MissingFileError(f"{model_path}: no such model file or directory")
    if model_path.is_dir():
        paths = {}
        for f in spec.files:
            p = model_path / f.filename
            if not p.is_file():
                raise MissingFileError(f"{model_path}: has no {f.filename} (needed by {spec.name})")
            paths[f.role] = p
        return paths
    if len(spec.files) == 1:
        return {spec.files[0].role: model_path}
    # BlazePose: the file given replaces the landmark model; the detector comes from the installed weights
    installed = model_files(spec)
    installed["landmarks"] = model_path
    return installed


def load_estimator(
    name: str | None = None,
    model_path: Path | str | None = None,
    num_threads: int | None = None,
    runtime: str | None = None,
    pelvis_line: bool = DEFAULT_PELVIS_LINE,
    **options: object,
) -> PoseEstimator:
    """A ready pose estimator for manifest model ``name`` (default MoveNet Lightning int8).

    ``model_path`` uses that file (or a directory holding the model's files)
    instead of the installed, sha256-checked weights. ``runtime`` forces
    ``"ai-edge-litert"`` or ``"tflite-runtime"``; by default the first that
    imports. ``options`` go to the estimator (e.g. ``crop_tracking=False``).
    ``pelvis_line`` (on by default) adds the refinement pass that turns the hip
    line to the pelvis line read from the picture (:mod:`station.pose.pelvis`);
    ``pelvis_line=False`` gives the model's own keypoints.

    Raises :class:`InputError` for an unknown name, :class:`MissingFileError`
    for a missing path, :class:`ModelError` for a missing, corrupt or
    mismatching model file.
    """
    from station.pose.models import load_manifest, model_files
    from station.pose.runtime import TFLiteModel

    spec = load_manifest().get(name or DEFAULT_MODEL)
    paths = _paths_for(spec, Path(model_path)) if model_path is not None else model_files(spec)
    estimator: PoseEstimator
    if spec.family == "movenet":
        from station.pose.movenet import MoveNet

        estimator = MoveNet(TFLiteModel(paths["model"], num_threads, runtime), name=spec.name, **options)  # type: ignore[arg-type]
    elif spec.family == "blazepose":
        from station.pose.blazepose import BlazePose

        detector = TFLiteModel(paths["detector"], num_threads, runtime)
        landmarks = TFLiteModel(paths["landmarks"], num_threads, runtime)
        estimator = BlazePose(detector, landmarks, name=spec.name, **options)  # type: ignore[arg-type]
    else:
        raise InputError(f"model {spec.name}: unknown family {spec.family!r} in the manifest")
    if pelvis_line:
        from station.pose.pelvis import PelvisRefined

        estimator = PelvisRefined(estimator)
    return estimator
