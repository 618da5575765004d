#!/usr/bin/env python3
"""Load benchmark: phones following the live page while the station writes steps.

Starts the real web app (``gait-station serve`` under waitress) on 127.0.0.1 with
a fresh database, then runs the real station (``gait-station run --source TRACK
--realtime``) on a pose track twice over the same stretch of stream time:

1. **baseline**: the station alone;
2. **loaded**: the station while N clients (default 20) follow the live page as
   a phone does: its JSON endpoint about once a second, the page itself
   (with its script and stylesheet) every ``--page-every-s``, and the preview
   image when the page shows one.

It prints the response times (p50 / p95 / max), the error count, and for each
station run: steps committed, steps per second of stream time, the commit lag of
each step (wall time of the commit minus stream time of the step's end, both
from the session's start) and the wall time the run took against its stream
time. If the web load slowed the station, the loaded run's lag grows and its
wall time stretches. ``--json`` prints the same figures as one JSON object.

The station's own closing line (frames, fps, dropped frames, loop and inference
time per frame, step-commit time) is parsed and shown for both runs. With
``--source VIDEO`` the station runs the real pose model on the whole video
instead (the CPU-heavy case; pass the model with ``--station-arg``).

This is a benchmark (figures, not a pass/fail timer); tests/test_web_load.py runs
it briefly and checks only that nothing failed and the station kept its pace.

    .venv/bin/python scripts/load_test.py --clients 20 --duration-s 30
    .venv/bin/python scripts/load_test.py --source ../shared/data/videos/zzzhushi_treadmill_rear_oblique_male_side.mp4 \
        --station-arg=--model-path=../shared/data/models/movenet_singlepose_lightning_int8_v4.tflite
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import http.client
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRACK = ROOT.parent / "shared" / "data" / "mocap" / "fukuchi2017" / "s01_30fps_clean.track.csv"
HOST = "127.0.0.1"  # loopback only

log = logging.getLogger("load_test")


# -- processes ----------------------------------------------------------------------------------------


def gait_station_exe() -> list[str]:
    """The ``gait-station`` console script of this interpreter's environment."""
    exe = Path(sys.executable).parent / "gait-station"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("gait-station")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from station.cli import main; sys.exit(main())"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str = "/", timeout_s: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the web server exited with code {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2.0)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    raise RuntimeError(f"the web server did not answer on {HOST}:{port} within {timeout_s:.0f} s ({last})")


def stop_process(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def web_server(db: Path, port: int, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    cmd = [*gait_station_exe(), "serve", "--db", str(db), "--host", HOST, "--port", str(port)]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            wait_http(port, "/", proc=proc)
            yield proc
        finally:
            stop_process(proc)


def trim_track(src: Path, dst: Path, seconds: float) -> float:
    """Copy the first ``seconds`` of a pose track CSV to ``dst``; returns the stream time covered."""
    t_last = 0.0
    with src.open(newline="", encoding="utf-8") as f, dst.open("w", newline="", encoding="utf-8") as g:
        reader, writer = csv.reader(f), csv.writer(g)
        writer.writerow(next(reader))
        for row in reader:
            t = float(row[0])
            if t > seconds:
                break
            writer.writerow(row)
            t_last = t
    return t_last


# -- the clients ----------------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    latency_s: float
    status: int  # 0 = no response
    error: str = ""


@dataclass
class ClientStats:
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, s: Sample) -> None:
        with self.lock:
            self.samples.append(s)


ASSET_RE = re.compile(r"""(?:src|href)=["'](/static/[^"'?#]+)""")


def _wants_preview(body: bytes) -> bool:
    try:
        return bool(json.loads(body).get("preview"))
    except (ValueError, AttributeError):
        return False


class LiveClient(threading.Thread):
    """One phone on the live page: the page (and its assets) now and then, its JSON about once a second."""

    def __init__(self, port: int, stats: ClientStats, stop: threading.Event, *, live_path: str, api_path: str,
                 preview_path: str | None, poll_s: float, page_every_s: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.port, self.stats, self.stop_event = port, stats, stop
        self.live_path, self.api_path, self.preview_path = live_path, api_path, preview_path
        self.poll_s, self.page_every_s = poll_s, page_every_s
        self.rng = random.Random(seed)
        self.conn: http.client.HTTPConnection | None = None
        self.assets: list[str] = []

    def _get(self, kind: str, path: str) -> bytes | None:
        t0 = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=10.0)
            self.conn.request("GET", path, headers={"Accept": "application/json" if kind == "api" else "*/*"})
            resp = self.conn.getresponse()
            body = resp.read()
            status = resp.status
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException) as exc:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            self.stats.add(Sample(kind, time.perf_counter() - t0, 0, f"{type(exc).__name__}: {exc}"))
            return None
        ok = 200 <= status < 400 or (kind == "preview" and status == 404)  # no preview without a camera
        self.stats.add(Sample(kind, time.perf_counter() - t0, status, "" if ok else f"HTTP {status} {path}"))
        return body if ok else None

    def load_page(self) -> None:
        body = self._get("page", self.live_path)
        if body is not None and not self.assets:
            self.assets = sorted(set(ASSET_RE.findall(body.decode("utf-8", "replace"))))
        for asset in self.assets:
            self._get("asset", asset)

    def run(self) -> None:
        # phones arrive spread over the first poll period, not all in the same millisecond
        if self.stop_event.wait(self.rng.uniform(0.0, self.poll_s)):
            return
        self.load_page()
        next_page = time.monotonic() + self.page_every_s
        while not self.stop_event.is_set():
            body = self._get("api", self.api_path)
            if body is not None and self.preview_path and _wants_preview(body):
                self._get("preview", self.preview_path)  # the page refreshes the camera image with each poll
            if time.monotonic() >= next_page:
                self.load_page()
                next_page = time.monotonic() + self.page_every_s
            self.stop_event.wait(self.poll_s * self.rng.uniform(0.9, 1.1))
        if self.conn is not None:
            self.conn.close()


# -- the station ------------------------------------------------------------------------------------------


@dataclass
class StationRun:
    label: str
    exit_code: int
    wall_s: float
    stream_s: float
    steps: int
    steps_per_stream_s: float
    lag_p50_s: float | None
    lag_p95_s: float | None
    lag_max_s: float | None
    lag_slope: float | None  # seconds of lag gained per second of stream: ~0 when the station keeps up
    status_fps: float | None  # the station's own fps figure from its heartbeat, if it writes one
    session_id: int | None
    # from the station's closing line (None when it did not print one)
    frames: int | None = None
    fps: float | None = None
    dropped: int | None = None
    loop_ms: float | None = None  # loop time per frame
    inference_ms: float | None = None
    commit_p50_ms: float | None = None  # step emitted -> committed, measured by the station
    commit_max_ms: float | None = None
    log_tail: str = ""


REPORT_PATTERNS: dict[str, tuple[str, type]] = {
    "frames": (r"(\d+) frames in [\d.]+ s", int),
    "fps": (r"frames in [\d.]+ s = ([\d.]+) fps", float),
    "dropped": (r"(\d+) dropped", int),
    "loop_ms": (r"loop ([\d.]+) ms/frame", float),
    "inference_ms": (r"inference ([\d.]+)", float),
    "commit_p50_ms": (r"step committed p50 ([\d.]+)", float),
    "commit_max_ms": (r"step committed p50 [\d.]+ / max ([\d.]+) ms", float),
}


def parse_station_report(text: str) -> dict[str, Any]:
    """The figures of the station's closing line ("station: N frames in T s = F fps; D dropped; loop ...")."""
    lines = [ln for ln in text.splitlines() if " frames in " in ln and " fps" in ln]
    out: dict[str, Any] = {}
    if lines:
        for key, (pattern, cast) in REPORT_PATTERNS.items():
            m = re.search(pattern, lines[-1])
            if m:
                out[key] = cast(m.group(1))
    return out


def _parse_iso(s: str) -> float:
    return dt.datetime.fromisoformat(s).timestamp()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def measure_session(db: Path, session_ids_before: set[int]) -> tuple[int | None, list[float], list[float], int]:
    """The new session's (id, stream end times, commit lags, steps) from the database."""
    from station.store import Store

    with Store(db) as store:
        sessions = [s for s in store.sessions(limit=1000) if s["id"] not in session_ids_before]
        if not sessions:
            return None, [], [], 0
        session = max(sessions, key=lambda s: s["id"])
        t0 = _parse_iso(session["started_at"])
        steps = store.steps(session["id"])
    t_end = [float(s["t_end_s"]) for s in steps]
    lags = [(_parse_iso(s["created_at"]) - t0) - float(s["t_end_s"]) for s in steps]
    return int(session["id"]), t_end, lags, len(steps)


def session_stream_s(db: Path, session_id: int | None) -> float | None:
    """The stream time a session covered (its pose track), for sources whose length is not known up front."""
    if session_id is None:
        return None
    from station.store import Store

    with Store(db, migrate=False) as store:
        track = store.pose_track(session_id)
        if len(track) >= 2:
            return float(track.t_s[-1] - track.t_s[0])
        session = store.session(session_id) or {}
    return session.get("duration_s")


def session_ids(db: Path) -> set[int]:
    from station.store import Store

    with Store(db) as store:
        return {int(s["id"]) for s in store.sessions(limit=100000)}


def run_station(label: str, db: Path, source: Path, stream_s: float | None, env: dict[str, str], log_path: Path,
                station_args: tuple[str, ...]) -> StationRun:
    before = session_ids(db)
    cmd = [*gait_station_exe(), "run", "--source", str(source), "--realtime", "--db", str(db),
           "--runner", f"load test {label}", *station_args]
    fps_seen: list[float] = []
    t0 = time.monotonic()
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        timeout = (stream_s or 600.0) * 3 + 60
        from station.store import Store

        while proc.poll() is None and time.monotonic() - t0 < timeout:
            time.sleep(0.5)
            with contextlib.suppress(Exception), Store(db, migrate=False) as store:
                status = store.status() or {}
                fps = status.get("fps") or status.get("loop_fps")
                if isinstance(fps, int | float) and fps > 0:
                    fps_seen.append(float(fps))
        if proc.poll() is None:
            stop_process(proc)
    wall_s = time.monotonic() - t0
    sid, t_end, lags, steps = measure_session(db, before)
    if stream_s is None:  # a video: its length is what the station saw
        stream_s = session_stream_s(db, sid) or (max(t_end) if t_end else 0.0)
    slope = None
    if len(lags) >= 3 and len(set(t_end)) > 1:
        mt, ml = statistics.fmean(t_end), statistics.fmean(lags)
        slope = sum((t - mt) * (lag - ml) for t, lag in zip(t_end, lags, strict=True)) / sum(
            (t - mt) ** 2 for t in t_end)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    tail = text.strip().splitlines()[-5:]
    return StationRun(
        label=label, exit_code=int(proc.returncode), wall_s=wall_s, stream_s=stream_s, steps=steps,
        steps_per_stream_s=steps / stream_s if stream_s > 0 else 0.0,
        lag_p50_s=_pct(lags, 0.5) if lags else None, lag_p95_s=_pct(lags, 0.95) if lags else None,
        lag_max_s=max(lags) if lags else None, lag_slope=slope,
        status_fps=statistics.median(fps_seen) if fps_seen else None, session_id=sid, log_tail="\n".join(tail),
        **parse_station_report(text),
    )


# -- the benchmark --------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    clients: int
    duration_s: float
    requests: int
    errors: int
    error_examples: list[str]
    by_kind: dict[str, dict[str, float]]
    p50_ms: float
    p95_ms: float
    max_ms: float
    requests_per_s: float
    baseline: StationRun | None
    loaded: StationRun
    api_path: str
    track: str


def _latency_summary(samples: list[Sample]) -> dict[str, float]:
    lat = [s.latency_s * 1000 for s in samples]
    return {"n": len(lat), "p50_ms": _pct(lat, 0.5), "p95_ms": _pct(lat, 0.95), "max_ms": max(lat) if lat else 0.0,
            "errors": sum(1 for s in samples if s.error)}


def run_benchmark(*, clients: int, duration_s: float, track: Path, api_path: str, live_path: str,
                  preview_path: str | None, poll_s: float,
                  page_every_s: float, baseline: bool, workdir: Path, station_args: tuple[str, ...] = ()) -> LoadResult:
    db = workdir / "load.db"
    env = {**os.environ, "GAIT_STATION_DB": str(db), "GAIT_STATION_RUNTIME_DIR": str(workdir / "run"),
           "GAIT_STATION_CONFIG": str(workdir / "config.toml")}
    (workdir / "config.toml").write_text("", encoding="utf-8")
    if track.suffix.lower() == ".csv":  # a pose track: replay its first duration_s seconds
        short: Path = workdir / "track.csv"
        stream_s: float | None = trim_track(track, short, duration_s)
    else:  # a video: the whole file, through the pose model
        short, stream_s = track, None
    port = free_port()
    from station.store import Store

    Store(db).close()  # create and migrate before either process starts
    base_run = None
    with web_server(db, port, env, workdir / "serve.log"):
        if baseline:
            log.info("baseline: the station alone on %s", short.name)
            base_run = run_station("baseline", db, short, stream_s, env, workdir / "station-baseline.log",
                                   station_args)
        log.info("loaded: %d clients while the station runs on %s", clients, short.name)
        stats = ClientStats()
        stop = threading.Event()
        threads = [LiveClient(port, stats, stop, live_path=live_path, api_path=api_path,
                              preview_path=preview_path, poll_s=poll_s,
                              page_every_s=page_every_s, seed=i) for i in range(clients)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        loaded_run = run_station("loaded", db, short, stream_s, env, workdir / "station-loaded.log", station_args)
        load_s = time.monotonic() - t0  # the phones follow the page for as long as the station runs
        stop.set()
        for t in threads:
            t.join(timeout=15)
    samples = list(stats.samples)
    lat = [s.latency_s * 1000 for s in samples]
    errors = [s for s in samples if s.error]
    kinds = sorted({s.kind for s in samples})
    return LoadResult(
        clients=clients, duration_s=load_s, requests=len(samples), errors=len(errors),
        error_examples=sorted({s.error for s in errors})[:5],
        by_kind={k: _latency_summary([s for s in samples if s.kind == k]) for k in kinds},
        p50_ms=_pct(lat, 0.5), p95_ms=_pct(lat, 0.95), max_ms=max(lat) if lat else 0.0,
        requests_per_s=len(samples) / load_s if load_s > 0 else 0.0,
        baseline=base_run, loaded=loaded_run, api_path=api_path, track=str(track),
    )


def _fmt(v: float | None, unit: str = "", digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}{unit}"


def report_lines(r: LoadResult) -> list[str]:
    lines = [
        f"load: {r.clients} clients for {r.duration_s:.1f} s on {HOST} (live JSON {r.api_path} ~1 Hz each, "
        f"page + assets periodically)",
        f"  requests {r.requests} ({r.requests_per_s:.1f}/s), errors {r.errors}",
        f"  response time p50 {r.p50_ms:.1f} ms, p95 {r.p95_ms:.1f} ms, max {r.max_ms:.1f} ms",
    ]
    for kind, s in r.by_kind.items():
        lines.append(f"    {kind:<8} n={int(s['n']):<5} p50 {s['p50_ms']:.1f} ms  p95 {s['p95_ms']:.1f} ms  "
                     f"max {s['max_ms']:.1f} ms  errors {int(s['errors'])}")
    for e in r.error_examples:
        lines.append(f"  error: {e}")
    lines.append(f"station on {Path(r.track).name} (--realtime, {r.loaded.stream_s:.1f} s of stream):")
    for run in (r.baseline, r.loaded):
        if run is None:
            continue
        lines.append(
            f"  {run.label:<8} exit {run.exit_code}, wall {run.wall_s:.1f} s, {run.frames} frames at "
            f"{_fmt(run.fps, ' fps', 1)} ({run.dropped} dropped), loop {_fmt(run.loop_ms, ' ms/frame')}"
            + (f" (inference {run.inference_ms:.2f} ms)" if run.inference_ms else ""))
        lines.append(
            f"           steps {run.steps} ({run.steps_per_stream_s:.2f}/s of stream), step committed "
            f"p50 {_fmt(run.commit_p50_ms, ' ms', 1)} max {_fmt(run.commit_max_ms, ' ms', 1)} after its "
            f"emission; wall-clock lag behind the stream p50 {_fmt(run.lag_p50_s, ' s')} max "
            f"{_fmt(run.lag_max_s, ' s')}, drift {_fmt(run.lag_slope, ' s/s', 3)}")
    return lines


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--clients", default=20, show_default=True, type=click.IntRange(1, 500), help="Concurrent phones.")
@click.option("--duration-s", default=30.0, show_default=True, type=click.FloatRange(2.0, 3600.0),
              help="Seconds of stream (and of load).")
@click.option("--track", "--source", "track", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Pose track CSV the station replays (its first --duration-s seconds), or a video "
              f"it runs through the pose model (whole) [default: {DEFAULT_TRACK.name} from ../shared].")
@click.option("--station-arg", "station_args", multiple=True,
              help="Extra option for 'gait-station run', e.g. --station-arg=--model-path=FILE (repeatable).")
@click.option("--api-path", default="/api/live", show_default=True, help="The live page's JSON endpoint.")
@click.option("--live-path", default="/", show_default=True, help="The live page.")
@click.option("--preview-path", default="/live/preview.jpg", show_default=True,
              help="The camera preview the page shows when the station has one ('' for none).")
@click.option("--poll-s", default=1.0, show_default=True, type=click.FloatRange(0.05, 60.0),
              help="Each client's polling period.")
@click.option("--page-every-s", default=10.0, show_default=True, type=click.FloatRange(1.0, 3600.0),
              help="Each client reloads the page this often.")
@click.option("--no-baseline", is_flag=True, help="Skip the station-alone run.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the database and logs in this directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option("-v", "--verbose", is_flag=True, help="Progress on stderr.")
def main(clients: int, duration_s: float, track: Path | None, station_args: tuple[str, ...], api_path: str,
         live_path: str, preview_path: str, poll_s: float,
         page_every_s: float, no_baseline: bool, keep: Path | None, as_json: bool, verbose: bool) -> None:
    """Phones following the live page against the served app while the station writes steps."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    track = track or DEFAULT_TRACK
    if not track.exists():
        raise click.ClickException(f"no pose track at {track}: pass --track PATH")
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        workdir_cm: Any = contextlib.nullcontext(str(keep))
    else:
        workdir_cm = tempfile.TemporaryDirectory(prefix="gait-load-")
    with workdir_cm as wd:
        try:
            result = run_benchmark(clients=clients, duration_s=duration_s, track=track, api_path=api_path,
                                   live_path=live_path, preview_path=preview_path or None, poll_s=poll_s,
                                   page_every_s=page_every_s, baseline=not no_baseline, workdir=Path(wd),
                                   station_args=station_args)
        except RuntimeError as exc:
            logs = sorted(Path(wd).glob("*.log"))
            tail = "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-1500:] for p in logs)
            raise click.ClickException(f"{exc}\n{tail}") from None
    if as_json:
        click.echo(json.dumps(asdict(result), indent=2))
    else:
        for line in report_lines(result):
            click.echo(line)


if __name__ == "__main__":
    main()
