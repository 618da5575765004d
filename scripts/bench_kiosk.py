#!/usr/bin/env python3
"""Kiosk figures (issue 14): what an outsider on the Wi-Fi, a huge file and months of use cost the station.

Each section prints its figures; all run on loopback against the real ``gait-station`` command:

* ``web``: body bytes a 200 MB ``Content-Length`` POST gets the server to take before it answers,
  and ``/api/live`` latency while 200 connections send their headers slowly; for this project's
  waitress settings and, with ``--compare``, for waitress's defaults (the old server);
* ``login``: wrong passwords checked in one minute by 64 concurrent requests from one address;
* ``memory``: peak memory of ``gait-station analyze`` on a 2 GB file with no line breaks;
* ``storage``: bytes an hour of raw poses, steps and cues at 60 fps (written through the real store),
  and the days a 32 GB card holds at ten hours a day, with the disk budget and without.

    .venv/bin/python scripts/bench_kiosk.py                 # every section
    .venv/bin/python scripts/bench_kiosk.py web --compare   # one section, against waitress's defaults too
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np

HOST = "127.0.0.1"  # loopback only
ROOT = Path(__file__).resolve().parent.parent
TOKEN_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
#: the app under waitress's own defaults: the server as it was before issue 14
DEFAULTS_SERVER = ("import sys; from waitress import serve; from web import create_app; "
                   "serve(create_app({'DATABASE': sys.argv[1]}), host='127.0.0.1', port=int(sys.argv[2]), threads=8)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(db: Path, *, defaults: bool = False) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "GAIT_STATION_CONFIG": str(db.with_name("none.toml"))}
    db.with_name("none.toml").write_text("")
    cmd = ([sys.executable, "-c", DEFAULTS_SERVER, str(db), str(port)] if defaults else
           [sys.executable, "-m", "station.cli", "serve", "--db", str(db), "--host", HOST, "--port", str(port)])
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection((HOST, port), timeout=1).close()
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise click.ClickException("the web server did not start")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def oversized_body_bytes(port: int, announced: int = 200_000_000, limit_s: float = 20.0) -> tuple[int, str]:
    """Announce ``announced`` bytes, wait a second for an answer, then stream them; the body bytes sent before the
    server answered (what it buffered, plus at most the kernel's socket buffers)."""
    s = socket.create_connection((HOST, port), timeout=limit_s)
    s.sendall(f"POST /live/start HTTP/1.1\r\nHost: station\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              f"Content-Length: {announced}\r\n\r\n".encode())
    s.settimeout(1.0)  # a server that judges the headers answers now, before any of the body is sent
    answer = b""
    with contextlib.suppress(TimeoutError):
        answer = s.recv(4096)
    s.setblocking(False)
    chunk, sent = b"x" * 65536, 0
    deadline = time.monotonic() + limit_s
    try:
        while not answer and time.monotonic() < deadline:
            with contextlib.suppress(BlockingIOError):
                answer += s.recv(4096)
                if answer:
                    break
            if sent < announced:
                try:
                    sent += s.send(chunk[: announced - sent])
                except BlockingIOError:
                    time.sleep(0.001)
                except OSError:
                    break
            else:
                time.sleep(0.01)
    finally:
        s.close()
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "no answer"
    return sent, status


def api_latencies_with_slow_connections(port: int, slow: int = 200, samples: int = 20,
                                        timeout_s: float = 10.0) -> tuple[list[float | None], int]:
    """``/api/live`` response times (None: no answer within ``timeout_s``) while ``slow`` connections trickle
    their headers (a byte every 2 s, as slowloris does); returns them and how many slow connections were open."""
    socks, stop = [], threading.Event()
    for _ in range(slow):
        try:
            s = socket.create_connection((HOST, port), timeout=5)
            s.sendall(b"GET /api/live HTTP/1.1\r\nHost: station\r\n")
            socks.append(s)
        except OSError:
            break

    def trickle() -> None:
        while not stop.wait(2.0):
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(b"X")

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    out: list[float | None] = []
    try:
        time.sleep(1.0)
        for _ in range(samples):
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
                conn.request("GET", "/api/live")
                ok = conn.getresponse().status == 200
                conn.close()
                out.append(time.perf_counter() - t0 if ok else None)
            except OSError:
                out.append(None)
                if len([x for x in out if x is None]) >= 2:
                    break
            time.sleep(0.2)
    finally:
        stop.set()
        for s in socks:
            s.close()
    return out, len(socks)


def summary_ms(values: list[float | None]) -> str:
    got = [v * 1000 for v in values if v is not None]
    missed = len(values) - len(got)
    if not got:
        return f"no answer within 10 s ({missed} of {len(values)} tries)"
    return (f"p50 {statistics.median(got):.0f} ms, max {max(got):.0f} ms over {len(got)} requests"
            + (f", {missed} unanswered within 10 s" if missed else ""))


@click.group(invoke_without_command=True)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Kiosk figures: web hardening, login limit, memory on a huge file, storage days."""
    if ctx.invoked_subcommand is None:
        for name in ("web", "login", "memory", "storage"):
            ctx.invoke(cli.commands[name])


@cli.command()
@click.option("--compare", is_flag=True, help="Also measure waitress's defaults (the server before issue 14).")
@click.option("--slow", default=200, show_default=True, help="Connections sending their headers slowly.")
def web(compare: bool, slow: int) -> None:
    """Oversized body and slow connections."""
    from station.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "gait.db"
        Store(db).close()
        for label, defaults in [("this project's waitress settings", False)] + (
                [("waitress defaults (before)", True)] if compare else []):
            with server(db, defaults=defaults) as port:
                sent, status = oversized_body_bytes(port)
                click.echo(f"web [{label}]: 200 MB announced on /live/start: {status!r} after the server took "
                           f"{sent:,} body bytes")
            with server(db, defaults=defaults) as port:
                lat, opened = api_latencies_with_slow_connections(port, slow)
                click.echo(f"web [{label}]: /api/live with {opened} slow connections open: {summary_ms(lat)}")


@cli.command()
@click.option("--seconds", default=60.0, show_default=True, help="How long 64 concurrent guessers keep at it.")
def login(seconds: float) -> None:
    """Wrong passwords checked in a minute under 64 concurrent requests from one address."""
    from werkzeug.security import generate_password_hash

    from station.store import Store
    from web.auth import PASSWORD_KEY

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "gait.db"
        with Store(db) as store:
            store.set_meta(PASSWORD_KEY, generate_password_hash("the right password"))
        with server(db) as port:
            def session() -> tuple[str, str]:
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                conn.request("GET", "/auth/login")
                r = conn.getresponse()
                token = TOKEN_RE.search(r.read().decode()).group(1)  # type: ignore[union-attr]
                return (r.getheader("Set-Cookie") or "").split(";", 1)[0], token

            cookie, token = session()

            def guess(i: int) -> int:
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                conn.request("POST", "/auth/login", body=urllib.parse.urlencode(
                    {"password": f"guess {i}", "csrf_token": token}),
                    headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
                status = conn.getresponse().status
                conn.close()
                return status

            checked = refused = i = 0
            deadline = time.monotonic() + seconds
            with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
                while time.monotonic() < deadline:
                    codes = list(pool.map(guess, range(i, i + 64)))
                    i += 64
                    checked += codes.count(401)
                    refused += codes.count(429)
    per_min = checked * 60.0 / seconds if seconds >= 60 else float(checked)
    click.echo(f"login: {i} guesses sent by 64 concurrent requests in {seconds:.0f} s: {checked} checked, "
               f"{refused} refused (429) = {per_min:.0f} guesses per minute allowed")


@cli.command()
@click.option("--size-gb", default=2.0, show_default=True)
def memory(size_gb: float) -> None:
    """Peak memory of analyze and run on a file with no line breaks (sparse: costs no disk)."""
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "print(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else '')")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "runner.csv"
        with big.open("wb") as f:
            f.write(b"t_s,nose_x")
            f.truncate(int(size_gb * 1024**3))
        env = {**os.environ, "GAIT_STATION_CONFIG": str(Path(tmp) / "none.toml")}
        (Path(tmp) / "none.toml").write_text("")
        for args in (["analyze", str(big)],
                     ["run", "--source", str(big), "--db", str(Path(tmp) / "g.db"), "--mock-pins", "--no-preview"]):
            out = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "station.cli", *args],
                                 capture_output=True, text=True, env=env, cwd=ROOT)
            head, message = (out.stdout.splitlines() + ["", ""])[:2]
            rc, kb = head.split()
            click.echo(f"memory: {args[0]} on a {size_gb:g} GB file with no line breaks: exit {rc}, peak "
                       f"{int(kb) / 1024:.0f} MB; {message}")


@cli.command()
@click.option("--minutes", default=10.0, show_default=True, help="Stream minutes written through the store.")
@click.option("--card-gb", default=32.0, show_default=True)
@click.option("--system-gb", default=4.0, show_default=True, help="Raspberry Pi OS, the venv and the model.")
@click.option("--hours-a-day", default=10.0, show_default=True)
def storage(minutes: float, card_gb: float, system_gb: float, hours_a_day: float) -> None:
    """Bytes an hour at 60 fps and the days a card holds, with the disk budget and without."""
    from station.config import StorageSettings
    from station.simulate import RunnerParams, SimulatedRunner
    from station.store import Store

    fps, frames = 60.0, int(minutes * 60 * 60)
    runner = SimulatedRunner(RunnerParams(seed=1))
    rows = {}
    for label in ("float64 (before)", "float32 (now)"):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "gait.db"
            with Store(db) as store:
                store.db.execute("PRAGMA synchronous = OFF")
                sid = store.start_session(runner="bench", fps=fps)
                size0 = db.stat().st_size + (db.with_name("gait.db-wal").stat().st_size
                                             if db.with_name("gait.db-wal").exists() else 0)
                for start in range(0, frames, int(fps)):  # one chunk a second, as the station flushes
                    t = np.arange(start, min(start + int(fps), frames)) / fps
                    poses = [runner.pose(float(x)) for x in t]
                    xy, score = np.stack([p.xy for p in poses]), np.stack([p.score for p in poses])
                    if label.startswith("float64"):
                        block = np.concatenate([t[:, None], np.concatenate([xy, score[:, :, None]], 2).reshape(
                            len(t), -1)], 1).astype("<f8")
                        store.db["pose_chunks"].insert({"session_id": sid, "t0_s": float(t[0]), "frames": len(t),
                                                        "data": block.tobytes()})
                    else:
                        store.add_poses(sid, t, xy, score)
                pose_db = store.db.execute("PRAGMA page_count").fetchone()[0] * 4096
                steps = int(minutes * 60 * 170 / 60)  # 170 steps a minute, a cue event every step
                for k in range(steps):
                    store.add_step(sid, {"side": "left" if k % 2 else "right", "t_contact_s": k * 0.353,
                                         "t_end_s": k * 0.353 + 0.22, "drop_excursion_deg": 3.0,
                                         "cadence_spm": 170.0, "trunk_lean_deg": 1.0, "knee_fppa_deg": 5.0,
                                         "step_width_norm": 0.1, "t_peak_s": k * 0.353 + 0.1, "frames": 13})
                    store.add_cue(sid, {"t_s": k * 0.353, "kind": "led", "state": "green", "side": "left",
                                        "value": 3.0, "reason": "left drop median 3.0° < amber 4.0°"})
                store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                total = store.db.execute("PRAGMA page_count").fetchone()[0] * 4096
            hour = 60.0 / minutes
            rows[label] = ((pose_db - size0) * hour, (total - pose_db) * hour)
            click.echo(f"storage [{label}]: raw poses {rows[label][0] / 1e6:.1f} MB/h, steps + cues "
                       f"{rows[label][1] / 1e6:.2f} MB/h at {fps:.0f} fps")
    card, free = card_gb * 1e9, (card_gb - system_gb) * 1e9
    poses_day_old, steps_day = (rows["float64 (before)"][0] + rows["float64 (before)"][1]) * hours_a_day, \
        rows["float32 (now)"][1] * hours_a_day
    poses_day = rows["float32 (now)"][0] * hours_a_day
    s = StorageSettings()
    budget = card * s.poses_max_disk_pct / 100.0
    click.echo(f"storage: a {card_gb:g} GB card ({free / 1e9:.0f} GB after the system), {hours_a_day:g} h a day:")
    click.echo(f"  before (float64, no budget): full after {free / poses_day_old:.0f} days, then the station stops")
    kept = budget / poses_day
    full = (free - budget - s.min_free_mb * 1e6) / steps_day
    click.echo(f"  now (float32, budget {s.poses_max_disk_pct:g} % = {budget / 1e9:.0f} GB of raw poses): raw poses "
               f"of the last {kept:.0f} days kept; steps and summaries fill the rest after {full:.0f} days "
               f"({full / 365:.1f} years), and even then raw poses go first (min free {s.min_free_mb:g} MB)")


if __name__ == "__main__":
    cli()
