"""``gait-station run`` and ``demo``: the live station on a camera or a file, and the simulated demo."""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from station.cli.build import built_station, preview_path_for, run_until_stopped
from station.config import CameraSettings, Settings, default_db_path, load_settings
from station.errors import InputError, StationError
from station.live.station import RunOptions

log = logging.getLogger(__name__)

LIVE_SPECS = ("auto", "camera", "webcam")


def _is_live_spec(spec: str) -> bool:
    s = spec.strip().lower()
    return s in LIVE_SPECS or s.startswith("webcam:")


def _fmt(v: Any, unit: str = "°") -> str:
    return "–" if v is None else f"{v:.1f}{unit}"


def echo_summary(sid: int, summary: dict[str, Any]) -> None:
    left, right = summary.get("left") or {}, summary.get("right") or {}
    click.echo(f"session {sid}: {summary.get('steps', 0)} steps, cadence {_fmt(summary.get('cadence_spm'), ' spm')}, "
               f"drop left {_fmt(left.get('drop_excursion_deg'))} ({left.get('steps', 0)} steps), "
               f"right {_fmt(right.get('drop_excursion_deg'))} ({right.get('steps', 0)} steps)")


def session_echo(cues: bool) -> Callable[[str, dict[str, Any]], None]:
    """An observer that prints sessions (and, for the demo, each change of the light and each beep) to the terminal."""

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "session_start":
            who = f" for {data['runner']}" if data.get("runner") else ""
            click.echo(f"session {data['session_id']} started ({data['trigger']}){who}")
        elif kind == "session_end":
            echo_summary(data["session_id"], data.get("summary") or {})
        elif kind == "camera":
            click.echo(f"camera {data['state']}" + (f": {data.get('message')}" if data.get("message") else ""))
        elif kind == "cue" and cues:  # the policy emits a light only when it changes
            click.echo(f"  {data['t_s']:7.1f} s  {data['kind']:<9} {data['state']:<11} {data.get('reason') or ''}")

    return on_event


def echo_truth(truth: list[dict[str, Any]], measured: list[dict[str, Any]], t0_s: float, tol_s: float = 0.06) -> None:
    """What the simulated runner put in against what the station measured, on the same steps."""
    pairs: dict[str, list[tuple[float, float]]] = {"left": [], "right": []}
    for m in measured:
        if m.get("drop_excursion_deg") is None:
            continue
        t = m["t_contact_s"] + t0_s
        near = min(truth, key=lambda s: abs(s["t_contact_s"] - t), default=None)
        if near is not None and abs(near["t_contact_s"] - t) <= tol_s and near["side"] == m["side"]:
            pairs[m["side"]].append((near["drop_excursion_deg"], m["drop_excursion_deg"]))
    parts = []
    for side, p in pairs.items():
        if p:
            put, got = (sum(v[i] for v in p) / len(p) for i in (0, 1))
            parts.append(f"{side} put in {put:.1f}°, measured {got:.1f}° ({len(p)} steps)")
    if parts:
        click.echo("simulated truth vs station, same steps: " + "; ".join(parts))


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------


@click.command()
@click.option("--source", default=None, help="auto | camera | webcam[:N] | a video file | a pose track CSV "
              "(default: settings camera.source, auto).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
              help="SQLite database (default: $GAIT_STATION_DB or the station's state directory).")
@click.option("--realtime", is_flag=True, help="Pace a file or track by its own timestamps, as a camera would.")
@click.option("--speed", type=click.FloatRange(0.05, 100.0), default=1.0, show_default=True,
              help="With --realtime: play faster (2 = twice real time).")
@click.option("--runner", default=None, help="Runner name for the sessions of this run.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Settings TOML (default: $GAIT_STATION_CONFIG or /etc/gait-station/config.toml).")
@click.option("--model", default=None, help="Pose model name (default: settings model.name).")
@click.option("--model-path", type=click.Path(), default=None, help="Use this .tflite file for the model.")
@click.option("--mock-pins", is_flag=True, help="Use gpiozero's mock pins instead of GPIO (off the Pi).")
@click.option("--no-preview", is_flag=True, help="Do not write the live preview JPEG.")
@click.option("--hub", "hub_url", default=None, metavar="URL",
              help="Publish to a hub's MQTT broker, mqtt[s]://host[:port] (default: settings hub.url).")
@click.option("--station-id", default=None, help="This station's name on the hub (default: settings hub.station_id).")
def run(source: str | None, db_path: str | None, realtime: bool, speed: float, runner: str | None,
        config_path: str | None, model: str | None, model_path: str | None, mock_pins: bool,
        no_preview: bool, hub_url: str | None, station_id: str | None) -> None:
    """The live station: camera → pose → pelvic drop → cues on GPIO → database.

    A file source (video or pose track) runs one session from its first frame to its end.
    A camera runs until stopped (SIGTERM or Ctrl-C close the running session cleanly);
    sessions start from the button, the web page, or when a runner appears.
    """
    from station.camera import open_source
    from station.cli.hub import hub_publisher, with_hub
    from station.errors import MissingFileError

    settings = with_hub(load_settings(config_path), hub_url, station_id)
    db = Path(db_path) if db_path else default_db_path()
    if db.is_dir():
        raise InputError(f"--db {db}: is a directory, not a database file")
    spec = (source or settings.camera.source).strip()
    live = _is_live_spec(spec)
    if not live and not Path(spec).expanduser().exists():
        raise MissingFileError(f"{spec}: no such file (sources are auto, camera, webcam[:N], a video or a track CSV)")
    if not live:
        # a file that is not a video or a pose track fails here, in one line, before a session or the pins start
        open_source(spec).close()
    if realtime and live:
        log.info("--realtime has no effect on a camera: it runs in real time anyway")
    model_name = model or settings.model.name
    model_file = model_path or settings.model.path
    is_track = not live and Path(spec).suffix.lower() == ".csv"
    input_size = None if is_track else _model_input_size(model_name)
    if input_size is not None and settings.model.pelvis_line:
        from station.pose.pelvis import FRAME_SHORT_SIDE_PX

        input_size = max(input_size, FRAME_SHORT_SIDE_PX)  # the pelvis line reads the waist in the camera's frame

    def estimator() -> Any:
        from station.pose import load_estimator

        return load_estimator(model_name, model_path=model_file, num_threads=settings.model.num_threads,
                              pelvis_line=settings.model.pelvis_line)

    options = RunOptions(
        source_name=spec if live else Path(spec).name,
        model_name="" if is_track else model_name,  # the manifest name, also when --model-path gives the file
        live=live,
        latest_only=live or realtime,
        speed=speed if (realtime and not live) else None,
        session_at_once=None if live else "file",
        runner=runner,
        preview_path=None if no_preview else preview_path_for(db),
    )
    publisher = hub_publisher(db, settings.hub)  # a hub: the outbox, sent by a thread of its own
    on_event = session_echo(cues=False)
    try:
        with built_station(settings, db,
                           lambda: open_source(spec, model_input_size=input_size, fps=settings.camera.fps),
                           options=options, mock_pins=mock_pins, estimator_factory=estimator,
                           config_path=config_path,
                           on_event=publisher.observer(on_event) if publisher else on_event) as station:
            click.echo(f"gait-station: {options.source_name} → {db}" + ("" if live else " (one session)"), err=True)
            run_until_stopped(station)
    finally:
        if publisher is not None:
            publisher.close()  # what is left goes out (up to 5 s), or waits in the outbox for the next start


def _model_input_size(name: str) -> int | None:
    """The model's input size from the manifest, so a camera's model stream matches it (Thunder: 256 px)."""
    from station.pose.models import load_manifest

    try:
        return load_manifest().get(name).input_size
    except InputError:
        return None  # an unknown name fails with its own message when the model loads


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------


def _free_port(host: str, preferred: int) -> int:
    for port in (preferred, *range(preferred + 1, preferred + 20), 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise StationError("no free port for the web page")


def start_web(db: Path, port: int) -> tuple[subprocess.Popen[bytes] | None, str | None]:
    """``gait-station serve`` on 127.0.0.1 in a subprocess, if the web app is installed; (process, url)."""
    import importlib.util

    if importlib.util.find_spec("web") is None:  # the web part is optional for the demo
        log.info("no web page for the demo: the web package is not installed")
        return None, None
    host = "127.0.0.1"
    port = _free_port(host, port)
    cmd = [sys.executable, "-m", "station.cli", "serve", "--db", str(db), "--host", host, "--port", str(port)]
    log_path = db.parent / "web.log"  # a file, not a pipe nobody reads (a full pipe would block the server)
    db.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = log_path.read_text(errors="replace").strip().splitlines()
            log.warning("the web page did not start: %s", err[-1] if err else f"exit {proc.returncode}")
            return None, None
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return proc, f"http://{host}:{port}/live"
        time.sleep(0.1)
    proc.terminate()
    log.warning("the web page did not answer within 15 s")
    return None, None


@click.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
              help="Database for the demo (default: demo.db beside the station's database).")
@click.option("--duration-s", type=click.FloatRange(5.0, 3600.0), default=90.0, show_default=True,
              help="Length of the simulated run, in stream seconds.")
@click.option("--speed", type=click.FloatRange(0.1, 50.0), default=1.0, show_default=True,
              help="Play faster than real time (2 = twice as fast).")
@click.option("--no-web", is_flag=True, help="Do not start the web page.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="Port for the web page (the next free one if taken).")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed of the simulated runner.")
def demo(db_path: str | None, duration_s: float, speed: float, no_web: bool, port: int, seed: int) -> None:
    """A simulated runner drives the whole station: analysis, cues (mock pins, printed here), database, web page.

    The runner appears after a second (a session starts automatically), tires on the
    left so the cue goes green → amber → red, steps out of view for a moment, and the
    session closes with its summary at the end. Ctrl-C ends it early, cleanly.
    """
    from station.simulate import SimulatedRunner, SimulatedSource, demo_runner

    db = Path(db_path) if db_path else default_db_path().parent / "demo.db"
    if db.is_dir():
        raise InputError(f"--db {db}: is a directory, not a database file")
    runner = SimulatedRunner(demo_runner(duration_s, seed=seed))
    sim = runner.params  # the simulated camera's field of view, so the set-up assistant's distance is right
    hfov_deg = math.degrees(2 * math.atan(sim.frame_size[0] / 2 / sim.focal_px))
    settings = Settings(camera=CameraSettings(hfov_deg=hfov_deg))
    fps = 30.0

    web_proc, url = (None, None) if no_web else start_web(db, port)
    click.echo(f"gait-station demo: a simulated runner for {duration_s:.0f} s"
               + (f" at {speed:g}× speed" if speed != 1 else "") + f"; database {db}")
    click.echo(f"live page: {url}" if url else "live page: not started" + (" (--no-web)" if no_web else ""))
    click.echo(f"cues (one light, judged on the worse side: amber at {settings.cues.amber_deg:g}°, red at "
               f"{settings.cues.red_deg:g}° of drop, median of the last {settings.cues.window_steps} steps per side):")
    options = RunOptions(source_name="simulated runner", model_name="simulated", latest_only=False, speed=speed,
                         runner="Demo runner", preview_path=preview_path_for(db))
    try:
        with built_station(settings, db, lambda: SimulatedSource(runner, fps=fps, duration_s=duration_s),
                           options=options, mock_pins=True, on_event=session_echo(cues=True)) as station:
            run_until_stopped(station)
            for sid, t0 in station.report.session_t0_s.items():
                echo_truth(runner.truth_steps(duration_s), station.store.steps(sid), t0)
        if url:
            click.echo(f"sessions stay in {db}; see them with: gait-station serve --db {db}")
    finally:
        if web_proc is not None:
            web_proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                web_proc.wait(timeout=5)
