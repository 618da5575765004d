"""The ``gait-twin`` command line: ``render`` a runner from motion capture, ``bench`` the renderer.

Every error the renderer raises on purpose becomes one line on stderr and exit status 1; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from twin.camera import PI_CAMERA_HFOV_DEG
from twin.errors import TwinError

log = logging.getLogger("twin")

ROOT = Path(__file__).resolve().parent.parent
SHARED_MOCAP = ROOT.parent / "shared" / "data" / "mocap" / "fukuchi2017"


def _size(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: WIDTHxHEIGHT in pixels, e.g. 720x1280") from None
    return w, h


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks.")
def cli(verbose: int, debug: bool) -> None:
    """Rendered runners: treadmill motion capture seen by the station's camera, with the truth."""
    level = logging.DEBUG if debug else (logging.WARNING if verbose == 0 else logging.INFO)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def _camera_options(f):  # type: ignore[no-untyped-def]
    options = [
        click.option("--fps", type=click.Choice(["30", "60", "90", "120"]), default="30", show_default=True),
        click.option("--phase", type=float, default=0.0, show_default=True,
                     help="Sampling phase in frames (0..1): frame k shows the recording at (k + phase) / fps."),
        click.option("--distance-m", type=float, default=3.0, show_default=True,
                     help="Lens to the runner's mean pelvis (treadmill), 1.5-6 m."),
        click.option("--camera-height-m", type=float, default=None, help="Lens height (default: the runner's hips)."),
        click.option("--view", type=click.Choice(["posterior", "anterior"]), default="posterior", show_default=True),
        click.option("--roll-deg", type=float, default=0.0, show_default=True,
                     help="Camera roll; + when a level line appears turned clockwise."),
        click.option("--yaw-deg", type=float, default=0.0, show_default=True, help="Camera turned off the line."),
        click.option("--pitch-deg", type=float, default=0.0, show_default=True, help="Camera tilted up (+)."),
        click.option("--size", default="720x1280", show_default=True, callback=_size, help="WIDTHxHEIGHT."),
        click.option("--hfov-deg", type=float, default=PI_CAMERA_HFOV_DEG, show_default=True,
                     help="Field of view across the long side (Pi Camera Module 3: 66)."),
        click.option("--height-m", type=float, default=None,
                     help="The runner's stature (default: scaled from the static trial's leg length)."),
        click.option("--body", "sex", type=click.Choice(["male", "female"]), default="male", show_default=True),
        click.option("--clothing", type=click.Choice(["tights", "shorts"]), default="tights", show_default=True),
        click.option("--lighting", type=click.Choice(["gym", "window", "dim", "outdoor"]), default="gym",
                     show_default=True),
        click.option("--exposure", "exposure_frac", type=float, default=0.5, show_default=True,
                     help="Exposure time as a fraction of the frame interval (motion blur)."),
        click.option("--subframes", type=click.IntRange(1, 32), default=4, show_default=True,
                     help="Sub-frames averaged over the exposure."),
        click.option("--noise", type=float, default=1.0, show_default=True, help="Sensor noise (0 = none)."),
        click.option("--samples", type=click.Choice(["0", "2", "4", "8"]), default="0", show_default=True,
                     help="OpenGL multisampling (slow on llvmpipe; sub-frames already smooth edges)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Colours and noise."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _settings(**kw):  # type: ignore[no-untyped-def]
    from twin.render import RenderSettings

    w, h = kw.pop("size")
    kw["fps"] = float(kw["fps"])
    kw["samples"] = int(kw["samples"])
    return RenderSettings(width=w, height=h, **kw)


@cli.command()
@click.argument("markers", type=click.Path(path_type=Path))
@click.argument("static", type=click.Path(path_type=Path))
@click.option("--forces", type=click.Path(path_type=Path), default=None,
              help="Treadmill force plate (300 Hz) for the contacts; without it they come from the feet.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Video (.mp4).")
@click.option("--truth", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Truth JSON to write.")
@click.option("--keypoints", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the projected true joints per frame as a pose track CSV.")
@click.option("--seconds", type=float, default=None, help="Length (default: the recording; track: 25 m to 2 m).")
@click.option("--scene", type=click.Choice(["treadmill", "track"]), default="treadmill", show_default=True,
              help="track: the runner moves along a lane, away from (posterior) or towards (anterior) the camera.")
@click.option("--bitrate-mbps", type=float, default=None,
              help="H.264 bitrate (default: picamera2's MEDIUM quality for the size and frame rate).")
@_camera_options
def render(markers: Path, static: Path, forces: Path | None, output: Path, truth: Path, keypoints: Path | None,
           bitrate_mbps: float | None, **kw) -> None:  # type: ignore[no-untyped-def]
    """Render MARKERS (running trial) with STATIC (standing trial) to a video, a truth JSON and true keypoints."""
    from twin.errors import InputError
    from twin.render import render as do_render

    if output.suffix.lower() != ".mp4":
        raise InputError(f"{output}: the video is written as .mp4")
    if output.resolve() in (markers.resolve(), static.resolve()) or truth.resolve() == output.resolve():
        raise InputError(f"{output}: would overwrite an input or the truth file")
    if bitrate_mbps is not None and not 0.1 <= bitrate_mbps <= 100:
        raise InputError(f"--bitrate-mbps {bitrate_mbps:g}: 0.1 to 100")
    s = _settings(bitrate_bps=int(bitrate_mbps * 1e6) if bitrate_mbps else None, **kw)
    doc = do_render(markers, static, forces, output, truth, s, keypoints=keypoints)
    summ = doc["summary"]
    click.echo(f"{output}: {doc['camera']['frames']} frames at {s.fps:g} fps, {s.width}x{s.height}, "
               f"{doc['seconds_per_frame']:.3f} s/frame; truth {truth}: {summ['steps']} steps, "
               f"{summ['cadence_spm']} spm, excursion L {summ['left']['drop_excursion_deg']} / "
               f"R {summ['right']['drop_excursion_deg']} deg")


@cli.command()
@click.argument("markers", type=click.Path(path_type=Path), required=False)
@click.argument("static", type=click.Path(path_type=Path), required=False)
@click.option("--frames", type=click.IntRange(1, 1000), default=30, show_default=True)
@click.option("--size", default="720x1280", show_default=True, callback=_size)
@click.option("--subframes", type=click.IntRange(1, 32), default=4, show_default=True)
def bench(markers: Path | None, static: Path | None, frames: int, size: tuple[int, int], subframes: int) -> None:
    """Seconds per rendered frame (default: subject 1 of ../shared, 720x1280, 4 sub-frames, encoded)."""
    import tempfile

    from twin.errors import MissingFileError
    from twin.render import RenderSettings, posed, prepare, render_frames
    from twin.scene import LIGHTING, Renderer
    from twin.video import H264Writer, pi_camera_bitrate

    markers = markers or SHARED_MOCAP / "RBDS001runT25markers.txt"
    static = static or SHARED_MOCAP / "RBDS001static.txt"
    for p in (markers, static):
        if not p.exists():
            raise MissingFileError(f"{p}: no such file (give MARKERS STATIC)")
    s = RenderSettings(width=size[0], height=size[1], subframes=subframes, seconds=frames / 30.0 + 0.01)
    t = time.perf_counter()
    stage = prepare(markers, static, None, s)
    stage.frame_times_s = stage.frame_times_s[:frames]
    prep = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp, H264Writer(Path(tmp) / "bench.mp4", s.width, s.height, s.fps,
                    pi_camera_bitrate(s.width, s.height, s.fps)) as w:
        spf = render_frames(stage, s, w, progress=False)
    n = len(stage.frame_times_s)
    ts = stage.frame_times_s
    t = time.perf_counter()
    for tk in ts:
        posed(stage, float(tk))
    skin_s = (time.perf_counter() - t) / n
    with Renderer(s.width, s.height, stage.body.faces, stage.colors, stage.props, LIGHTING[s.lighting],
                  stage.background) as r:
        v, nrm = posed(stage, float(ts[0]))
        r.render(stage.camera, v, nrm, stage.floor_y)
        t = time.perf_counter()
        for _ in range(n):
            r.render(stage.camera, v, nrm, stage.floor_y)
        gl_s = (time.perf_counter() - t) / n
        renderer = r.ctx.info.get("GL_RENDERER", "?")
    click.echo(f"gait-twin bench: {s.width}x{s.height}, {subframes} sub-frames, {n} frames, {renderer}")
    click.echo(f"  seconds per frame (skin, render, noise, H.264): {spf:.3f}")
    click.echo(f"  per sub-frame: skinning {1000 * skin_s:.1f} ms, OpenGL draw + read {1000 * gl_s:.1f} ms")
    click.echo(f"  set-up (read, fit, pose, scene): {prep:.2f} s")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    import signal

    from station.cli import run_command

    # SIGTERM ends a render like Ctrl-C: the partial video is removed, nothing half-written is left
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    return run_command(cli, "gait-twin", argv, expected=(TwinError,))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
