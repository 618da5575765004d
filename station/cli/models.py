"""``gait-station models list | fetch NAME | add FILE`` and ``gait-station bench``.

Output goes to stdout through ``click.echo``; logs go to stderr. Every error is
a :class:`~station.errors.StationError` that the top-level CLI prints as one line.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from station.errors import InputError, MissingFileError, StationError
from station.pose import DEFAULT_PELVIS_LINE

log = logging.getLogger(__name__)

DEFAULT_BENCH_VIDEO = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "videos"
    / "radluy_posterior_outdoor_run_openpose_rendered_30fps.mp4"
)
WARMUP_FRAMES = 3


def _human_size(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.1f} MB"


# ---------------------------------------------------------------------------
# models


@click.group("models")
def models() -> None:
    """List, fetch and add pose models (weights live in models/weights/ or $GAIT_STATION_MODELS_DIR)."""


@models.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_models(fmt: str) -> None:
    """Show every model in the manifest and whether it is installed here."""
    from station.pose.models import file_status, load_manifest, models_dir
    from station.pose.runtime import runtime_status

    manifest = load_manifest()
    directory = models_dir()
    rows = []
    for spec in manifest.models:
        states = file_status(spec, directory)
        worst = "installed"
        for s in states:
            if s.state == "mismatch":
                worst = "corrupt"
            elif s.state == "missing" and worst == "installed":
                worst = "missing"
        rows.append(
            {
                "name": spec.name,
                "aliases": list(spec.aliases),
                "family": spec.family,
                "input_size": spec.input_size,
                "dtype": spec.dtype,
                "status": worst,
                "size_bytes": sum(f.size_bytes or 0 for f in spec.files),
                "files": [{"file": s.file.filename, "sha256": s.file.sha256, "state": s.state} for s in states],
                "description": spec.description,
            }
        )
    runtimes = [asdict(s) for s in runtime_status()]
    if fmt == "json":
        click.echo(json.dumps({"models_dir": str(directory), "models": rows, "runtimes": runtimes}, indent=2))
        return
    click.echo(f"models in {directory}:")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        aliases = f" (also: {', '.join(r['aliases'])})" if r["aliases"] else ""
        click.echo(
            f"  {r['name']:<{width}}  {r['status']:<9}  {r['input_size']:>3} px  {r['dtype']:<7}  "
            f"{_human_size(r['size_bytes']):>7}  {r['description']}{aliases}"
        )
    wanted = _default_model_name()
    for r in rows:
        if r["status"] != "installed" and wanted in (r["name"], *r["aliases"]):
            click.echo(f"the station's model {r['name']} is {r['status']}: fetch it with "
                       f"'gait-station models fetch {r['name']}' (or, without internet, "
                       "'gait-station models add FILE' from a USB stick)")
    click.echo("runtimes:")
    for s in runtimes:
        state = f"{s['version'] or '?'}" if s["available"] else f"not available ({s['error']})"
        click.echo(f"  {s['name']:<15} {state}")


def _default_model_name() -> str:
    """The model the station runs: the settings' (``model.name``), else the manifest's default."""
    from station.config import load_settings
    from station.pose.models import DEFAULT_MODEL

    try:
        return load_settings().model.name
    except StationError:
        return DEFAULT_MODEL


@models.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Download again even if installed and verified.")
def fetch_models(names: tuple[str, ...], force: bool) -> None:
    """Download models by NAME from the manifest's sources, checking every file's sha256."""
    from station.pose.models import fetch, load_manifest

    manifest = load_manifest()
    for name in names:
        spec = manifest.get(name)
        paths = fetch(spec.name, manifest=manifest, force=force)
        for p in paths:
            click.echo(f"{spec.name}: {p} (sha256 verified)")


@models.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def add_models(files: tuple[Path, ...]) -> None:
    """Install local model FILES (a .tflite, or a wheel / tar.gz holding one) after checking them against the manifest.

    For a station without internet: copy the file from a USB stick. The manifest
    entry is found by the file's sha256; a file that matches none is refused.
    """
    from station.pose.models import add, load_manifest

    manifest = load_manifest()
    for f in files:
        for added in add(f, manifest=manifest):
            click.echo(f"{added.spec.name}: installed {added.path} from {added.origin} (sha256 verified)")


# ---------------------------------------------------------------------------
# bench


@dataclass(frozen=True)
class BenchResult:
    model: str
    runtime: str
    num_threads: int
    frames: int
    frame_size: tuple[int, int]
    invokes_per_frame: float
    inference_ms_per_frame: float  # interpreter invoke() time alone, all passes of a frame
    ms_per_invoke: float
    whole_ms_per_frame: float  # decode + preprocess + inference + postprocess, wall clock
    whole_ms_per_frame_median: float
    overhead_ms_per_frame: float  # whole - inference
    decode_ms_per_frame: float  # decoding alone, measured separately on the same frames
    fps: float
    pelvis_line: bool = False  # the pelvis-line pass (station.pose.pelvis) is part of the whole path


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _decode_ms(video: Path, frames: int) -> float:
    from station.camera.video import VideoFileSource

    with VideoFileSource(video, strict=False) as source:
        it = iter(source)
        n = 0
        t0 = time.perf_counter()
        for _ in it:
            n += 1
            if n >= frames:
                break
        return (time.perf_counter() - t0) * 1000.0 / max(n, 1)


def _bench_one(name: str, runtime: str, video: Path, frames: int, num_threads: int | None,
               pelvis_line: bool = DEFAULT_PELVIS_LINE) -> BenchResult:
    from station.camera.video import VideoFileSource
    from station.pose import load_estimator

    estimator = load_estimator(name, num_threads=num_threads, runtime=runtime, pelvis_line=pelvis_line)
    tflite = estimator.tflite_models  # type: ignore[attr-defined]
    per_frame: list[float] = []
    size = (0, 0)
    with estimator, VideoFileSource(video, strict=False) as source:
        it = iter(source)
        first = next(it, None)
        if first is None or first.image is None:
            raise InputError(f"{video}: no frames to benchmark")
        size = first.size or (0, 0)
        for _ in range(WARMUP_FRAMES):  # let the interpreter allocate and the caches warm
            estimator.estimate(first.image, first.t_s)
        estimator.reset()
        for m in tflite:
            m.invoke_s, m.invokes = 0.0, 0
        t_start = time.perf_counter()
        t_prev = t_start
        while len(per_frame) < frames:
            frame = next(it, None)  # decoding counts: it is part of every frame's path
            if frame is None or frame.image is None:
                break
            estimator.estimate(frame.image, frame.t_s)
            now = time.perf_counter()
            per_frame.append(now - t_prev)
            t_prev = now
        total_s = time.perf_counter() - t_start
    n = len(per_frame)
    if n == 0:
        raise InputError(f"{video}: no frames after the first to benchmark")
    invoke_s = sum(m.invoke_s for m in tflite)
    invokes = sum(m.invokes for m in tflite)
    whole_ms = total_s * 1000.0 / n
    infer_ms = invoke_s * 1000.0 / n
    return BenchResult(
        model=estimator.name,
        runtime=runtime,
        num_threads=tflite[0].num_threads,
        frames=n,
        frame_size=size,
        invokes_per_frame=invokes / n,
        inference_ms_per_frame=infer_ms,
        ms_per_invoke=invoke_s * 1000.0 / max(invokes, 1),
        whole_ms_per_frame=whole_ms,
        whole_ms_per_frame_median=statistics.median(per_frame) * 1000.0,
        overhead_ms_per_frame=whole_ms - infer_ms,
        decode_ms_per_frame=0.0,
        fps=1000.0 / whole_ms if whole_ms > 0 else 0.0,
        pelvis_line=pelvis_line,
    )


@click.command("bench")
@click.argument("video", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--frames", type=click.IntRange(min=1), default=100, show_default=True, help="Frames to time per run.")
@click.option("--model", "model_names", multiple=True, help="Only this model (repeatable); default: all installed.")
@click.option("--runtime", "runtime_names", multiple=True, help="Only this runtime (repeatable); default: all here.")
@click.option("--threads", "num_threads", type=click.IntRange(min=1), default=None, help="Interpreter threads.")
@click.option("--pelvis-line/--no-pelvis-line", default=DEFAULT_PELVIS_LINE, show_default=True,
              help="Time the pelvis-line pass too, as the station runs it (model.pelvis_line; column 'pelvis').")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def bench(
    video: Path | None,
    frames: int,
    model_names: tuple[str, ...],
    runtime_names: tuple[str, ...],
    num_threads: int | None,
    pelvis_line: bool,
    fmt: str,
) -> None:
    """Milliseconds per frame for every installed model on every runtime here, on VIDEO.

    Two figures per run: inference alone (the interpreter's invoke(), all the
    passes a frame needs) and the whole per-frame path (decode, crop/resize,
    inference, decoding the output, crop tracking), so the overhead around the
    model shows. VIDEO defaults to the posterior running clip in ../shared/data.
    """
    from station.pose.models import is_installed, load_manifest, models_dir
    from station.pose.runtime import RUNTIME_PACKAGES, runtime_status

    if video is None:
        if not DEFAULT_BENCH_VIDEO.exists():
            raise InputError("no VIDEO given and the default clip (../shared/data/videos/...) is not here")
        video = DEFAULT_BENCH_VIDEO
    if not video.exists():
        raise MissingFileError(f"{video}: no such file")

    manifest = load_manifest()
    specs = [manifest.get(n) for n in model_names] if model_names else list(manifest.models)
    statuses = runtime_status()
    known = {s.name for s in statuses}
    for r in runtime_names:
        if r not in known:
            raise InputError(f"unknown runtime {r!r}; known: {', '.join(sorted(known))}")
    runtimes = [s for s in statuses if not runtime_names or s.name in runtime_names]
    usable = [s.name for s in runtimes if s.available]
    missing_runtimes = [
        {"runtime": s.name, "reason": s.error, "install": RUNTIME_PACKAGES[s.name]} for s in runtimes if not s.available
    ]
    skipped = []
    results: list[BenchResult] = []
    load_before = _load_average()
    decode_ms = _decode_ms(video, frames)
    for spec in specs:
        if not is_installed(spec):
            skipped.append({"model": spec.name, "reason": f"not installed in {models_dir()}"})
            continue
        for rt in usable:
            try:
                r = _bench_one(spec.name, rt, video, frames, num_threads, pelvis_line)
            except StationError as exc:
                skipped.append({"model": spec.name, "runtime": rt, "reason": str(exc)})
                continue
            results.append(BenchResult(**{**asdict(r), "decode_ms_per_frame": decode_ms}))
    load_after = _load_average()
    machine = {"cpus": os.cpu_count(), "load_average_1min": [load_before, load_after]}
    if fmt == "json":
        out: dict[str, Any] = {
            "video": str(video),
            "frames": frames,
            "machine": machine,
            "decode_ms_per_frame": round(decode_ms, 3),
            "results": [
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(r).items()} for r in results
            ],
            "missing_runtimes": missing_runtimes,
            "skipped": skipped,
        }
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(
        f"{video.name}: decoding alone {decode_ms:.2f} ms/frame; {machine['cpus']} CPUs, "
        f"1-min load {load_before} before, {load_after} after (other work on the machine skews every figure)"
    )
    if results:
        header = (
            f"{'model':<24} {'pelvis':<6} {'runtime':<15} {'thr':>3} {'frames':>6} {'runs/f':>6} "
            f"{'infer ms/f':>10} {'ms/run':>7} {'whole ms/f':>10} {'median':>7} {'overhead':>8} {'fps':>6}"
        )
        click.echo(header)
        for r in results:
            click.echo(
                f"{r.model:<24} {'yes' if r.pelvis_line else 'no':<6} {r.runtime:<15} {r.num_threads:>3} "
                f"{r.frames:>6} {r.invokes_per_frame:>6.2f} "
                f"{r.inference_ms_per_frame:>10.2f} {r.ms_per_invoke:>7.2f} {r.whole_ms_per_frame:>10.2f} "
                f"{r.whole_ms_per_frame_median:>7.2f} {r.overhead_ms_per_frame:>8.2f} {r.fps:>6.1f}"
            )
    else:
        click.echo("nothing to time: no installed model ran on an available runtime")
    for m in missing_runtimes:
        click.echo(f"runtime {m['runtime']}: not available here ({m['reason']}); install {m['install']}")
    for s in skipped:
        where = f" on {s['runtime']}" if "runtime" in s else ""
        click.echo(f"skipped {s['model']}{where}: {s['reason']}")
