"""Page timings of the web dashboard for a long session: the figures the phone waits for.

Builds (once, then reuses) a database holding a 30-minute session recorded by the real live
station on the demo's simulated runner (``gait-station demo``, unpaced: a few minutes of CPU),
serves it with waitress on 127.0.0.1 as ``gait-station serve`` does, logs in, and times each
page over HTTP: the median and the worst of ``--repeat`` requests, the first (it compiles the
page's template), the median with the session's figures computed afresh each time (the first view
of a session: its ~5,000 steps read, summarised and drawn; later views use the kept ones), and the
page's size.

    .venv/bin/python scripts/bench_pages.py                  # 30-minute session, 9 requests a page
    .venv/bin/python scripts/bench_pages.py --duration-s 60  # a short one
    .venv/bin/python scripts/bench_pages.py --json

It prints figures; it does not fail on a slow machine.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import click

PASSWORD = "bench pages password"


def build(db: Path, duration_s: float) -> None:
    click.echo(f"recording a {duration_s:.0f} s session with the live station into {db} (once) ...", err=True)
    env = {**os.environ, "GAIT_STATION_CONFIG": os.devnull}
    out = subprocess.run([sys.executable, "-m", "station.cli", "demo", "--duration-s", str(duration_s), "--speed",
                          "50", "--no-web", "--db", str(db)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise click.ClickException(f"the demo failed: {out.stderr.strip().splitlines()[-1:]}")


def serve(db: Path) -> str:
    from waitress import create_server

    from station.store import Store
    from web import create_app
    from web.auth import set_password

    with Store(db) as store:
        set_password(store, PASSWORD)
    app = create_app({"DATABASE": str(db), "CONFIG_PATH": os.devnull})
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{server.effective_port}"  # type: ignore[attr-defined]  # a daemon: ends with us


@click.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Database to use (default: one built in the temporary directory and kept for next time).")
@click.option("--duration-s", type=float, default=1800.0, show_default=True, help="Length of the recorded session.")
@click.option("--repeat", type=click.IntRange(1, 100), default=9, show_default=True, help="Requests per page.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def main(db_path: Path | None, duration_s: float, repeat: int, as_json: bool) -> None:
    db = db_path or Path(tempfile.gettempdir()) / f"gait-bench-pages-{duration_s:.0f}s" / "gait.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        build(db, duration_s)
    base = serve(db)
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/auth/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    opener.open(base + "/auth/login", urllib.parse.urlencode({"password": PASSWORD, "csrf_token": token}).encode())
    from station.store import Store

    with Store(db, migrate=False) as store:
        [session] = store.sessions(limit=1)
        sid, rid, steps = session["id"], session["runner_id"], session["steps"]
    pages = [f"/sessions/{sid}", f"/sessions/{sid}/report", f"/runners/{rid}/compare", f"/runners/{rid}",
             "/runners/", "/sessions/", "/live", "/api/live", f"/api/sessions/{sid}", "/settings/"]
    from web import sessions

    def timed(path: str, fresh: bool) -> tuple[float, int]:
        if fresh:
            with sessions._CACHE_LOCK:
                sessions._CACHE.clear()
        t = time.perf_counter()
        with opener.open(base + path) as resp:
            size = len(resp.read())
        return time.perf_counter() - t, size

    rows = []
    for path in pages:
        runs = [timed(path, fresh=False) for _ in range(repeat)]
        times, size = [t for t, _ in runs], runs[-1][1]
        fresh = [timed(path, fresh=True)[0] for _ in range(repeat)]
        rows.append({"page": path, "median_ms": round(1e3 * statistics.median(times), 1),
                     "worst_ms": round(1e3 * max(times), 1), "first_ms": round(1e3 * times[0], 1),
                     "uncached_median_ms": round(1e3 * statistics.median(fresh), 1), "kB": size // 1024})
    if as_json:
        click.echo(json.dumps({"database": str(db), "session_steps": steps, "pages": rows}, indent=1))
        return
    click.echo(f"{steps} steps in the session ({db}); {repeat} requests a page over HTTP (waitress, loopback)")
    click.echo(f"{'page':<28} {'median':>8} {'worst':>8} {'first':>8} {'uncached':>9} {'size':>7}")
    for r in rows:
        click.echo(f"{r['page']:<28} {r['median_ms']:>6.0f}ms {r['worst_ms']:>6.0f}ms {r['first_ms']:>6.0f}ms "
                   f"{r['uncached_median_ms']:>7.0f}ms {r['kB']:>5}kB")


if __name__ == "__main__":
    main()
