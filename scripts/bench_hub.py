"""Hub benchmark: many stations into one hub through one Mosquitto, and the live loop with the broker down.

**Stations** (default): ``--stations`` real ``gait-station run`` processes replay the shared treadmill
tracks (``--laps`` times each, as fast as they decode: no ``--realtime``) and publish to one real
Mosquitto (Debian's, the project's settings) and one ``gait-station hub``. It prints the steps per
second the hub commits, the latency from a step's emission on a station to the hub's commit
(p50, p95, max: the hub measures it), the hub's and the broker's CPU (average and peak over 1 s,
% of one core) and memory (peak RSS), and checks that the hub holds every step once.

With ``--hub-late`` the hub is away while the stations run (the broker keeps its persistent session)
and comes back when they have finished: the rate at which it stores that backlog is what one hub and
one broker can take, whatever the stations' own speed.

**Offline** (``--offline``): one station on a 30 s track, in real time and as fast as it decodes,
without a hub, with a hub, and with the broker down for the whole run; prints each run's own
figures line (fps, cue latency, step committed): the live loop does not wait on the network.

    .venv/bin/python scripts/bench_hub.py --stations 20 --laps 5
    .venv/bin/python scripts/bench_hub.py --stations 20 --laps 5 --hub-late
    .venv/bin/python scripts/bench_hub.py --offline
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station.hub.local import LocalBroker, free_port, lap_track  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "mocap" / "fukuchi2017"
TRACKS = ("s01_30fps_clean", "s02_30fps_noisy", "s32_30fps_noisy", "s01_30fps_noisy", "s02_60fps_clean")
TICK = os.sysconf("SC_CLK_TCK")


def cli() -> list[str]:
    exe = Path(sys.executable).parent / "gait-station"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "station.cli"]


def cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def peak_rss_mb(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024.0 if m else None


class CpuWatch:
    """CPU of one process sampled every ``period_s``: average and peak (% of one core)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self.rss_mb: float | None = None

    def sample(self) -> None:
        c = cpu_s(self.pid)
        if c is not None:
            self.samples.append((time.monotonic(), c))
            self.rss_mb = peak_rss_mb(self.pid) or self.rss_mb

    def figures(self, t0: float, t1: float) -> dict[str, float]:
        s = [x for x in self.samples if t0 - 1.0 <= x[0] <= t1 + 1.0]
        if len(s) < 2:
            return {}
        avg = 100.0 * (s[-1][1] - s[0][1]) / (s[-1][0] - s[0][0])
        peaks = [100.0 * (b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(s, s[1:], strict=False) if b[0] > a[0]]
        return {"cpu_avg_pct": round(avg, 1), "cpu_peak_pct": round(max(peaks), 1),
                "peak_rss_mb": round(self.rss_mb or 0.0, 1)}


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def _config(folder: Path, name: str, broker: LocalBroker | None) -> dict[str, str]:
    cfg = folder / f"{name}.toml"
    cfg.write_text(f'[hub]\npassword_file = "{broker.password_file(name)}"\n' if broker else "")
    return {**os.environ, "GAIT_STATION_CONFIG": str(cfg)}


def bench_stations(n: int, laps: int, folder: Path, hub_late: bool = False) -> dict[str, Any]:
    """``hub_late``: the hub is away while the stations run (the broker keeps its session) and comes back
    after they have finished: the steps per second it stores then are what one hub and broker can take."""
    names = [f"bench-{i + 1:02d}" for i in range(n)]
    broker = LocalBroker(folder / "mosquitto", names).start()
    hub_db = folder / "hub.db"
    procs: list[subprocess.Popen[bytes]] = []

    def start_hub() -> subprocess.Popen[bytes]:
        return subprocess.Popen([*cli(), "hub", "--broker", broker.url, "--db", str(hub_db), "--password-file",
                                 str(broker.password_file("gait-hub"))], stdout=subprocess.DEVNULL,
                                stderr=(folder / "hub.log").open("ab"), env=_config(folder, "hub", None))

    try:
        hub = start_hub()
        while not query(hub_db, "select 1 from meta where key = 'hub'"):
            time.sleep(0.1)
        if hub_late:  # subscribed once (the broker now keeps its session), then away
            time.sleep(1.0)
            hub.send_signal(signal.SIGTERM)
            hub.wait(30)
        tracks = [lap_track(SHARED / f"{t}.track.csv", folder / f"{t}-x{laps}.csv", laps) for t in TRACKS]
        watches = [CpuWatch(hub.pid), CpuWatch(broker.pid or 0)]
        t_start = time.monotonic()
        for i, name in enumerate(names):
            procs.append(subprocess.Popen(
                [*cli(), "run", "--mock-pins", "--no-preview", "--source", str(tracks[i % len(tracks)]), "--db",
                 str(folder / f"{name}.db"), "--hub", broker.url, "--station-id", name],
                stdout=subprocess.DEVNULL, stderr=(folder / f"{name}.log").open("wb"),
                env=_config(folder, name, broker)))
        while any(p.poll() is None for p in procs):
            for w in watches:
                w.sample()
            time.sleep(0.5)
        expected = sum(query(folder / f"{name}.db", "select count(*) from steps")[0][0] for name in names)
        if hub_late:
            hub = start_hub()
            watches[0] = CpuWatch(hub.pid)
            t_start = time.monotonic()
        deadline = time.monotonic() + 120
        while query(hub_db, "select count(*) from steps")[0][0] < expected and time.monotonic() < deadline:
            for w in watches:
                w.sample()
            time.sleep(0.5)
        for w in watches:
            w.sample()
        t_end = time.monotonic()
        hub.send_signal(signal.SIGTERM)
        hub.wait(30)
        report = json.loads(query(hub_db, "select value from meta where key = 'hub_report'")[0][0])
        stored, first, last = query(hub_db, "select count(*), min(received_at), max(received_at) from steps")[0]
        distinct = query(hub_db, "select count(*) from (select distinct session_id, idx from steps)")[0][0]
        span_s = (_epoch(last) - _epoch(first)) if stored else 0.0
        fails = [p.returncode for p in procs if p.returncode != 0]
        return {
            "stations": n, "laps": laps, "steps_expected": expected, "steps_stored": stored, "distinct": distinct,
            "station_failures": len(fails), "span_s": round(span_s, 2),
            "steps_per_s": round(stored / span_s, 1) if span_s > 0 else None,
            "latency_ms": report.get("latency_ms"), "hub_messages": report.get("messages"),
            "hub_batches": report.get("batches"), "duplicates_ignored": report.get("duplicates"),
            "hub": watches[0].figures(t_start, t_end), "broker": watches[1].figures(t_start, t_end),
            "wall_s": round(t_end - t_start, 1), "cores": os.cpu_count(), "hub_late": hub_late,
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        broker.stop()


def _epoch(iso: str) -> float:
    import datetime as dt

    t = dt.datetime.fromisoformat(iso)
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


FIGURES = re.compile(r"= ([\d.]+) fps.*cue latency p50 ([\d.]+) / max ([\d.]+) ms, step committed p50 ([\d.]+) / "
                     r"max ([\d.]+) ms")


def bench_offline(folder: Path) -> list[dict[str, Any]]:
    track = SHARED / "s01_30fps_clean.track.csv"
    broker = LocalBroker(folder / "mosquitto", ["solo"]).start()
    hub = subprocess.Popen([*cli(), "hub", "--broker", broker.url, "--db", str(folder / "hub.db"), "--password-file",
                            str(broker.password_file("gait-hub"))], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=_config(folder, "hub", None))
    dead = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there: the broker (or the Wi-Fi) is down
    out = []
    try:
        for pace in ("real time", "as fast as it decodes"):
            for case, url in (("no hub", None), ("hub up", broker.url), ("broker down", dead)):
                db = folder / f"solo-{len(out)}.db"
                cmd = [*cli(), "run", "--mock-pins", "--no-preview", "--source", str(track), "--db", str(db)]
                if pace == "real time":
                    cmd.append("--realtime")
                if url:
                    cmd += ["--hub", url, "--station-id", "solo"]
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                                      env=_config(folder, "solo", broker))
                line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("station:")), "")
                m = FIGURES.search(line)
                outbox = query(db, "select count(*) from outbox")[0][0] if url else 0
                out.append({"pace": pace, "case": case, "exit": proc.returncode, "line": line, "outbox_left": outbox,
                            **({k: float(v) for k, v in zip(("fps", "cue_p50_ms", "cue_max_ms", "commit_p50_ms",
                                                             "commit_max_ms"), m.groups(), strict=True)} if m else {})})
    finally:
        hub.terminate()
        hub.wait(30)
        broker.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=20)
    ap.add_argument("--laps", type=int, default=5, help="each station replays its track this many times")
    ap.add_argument("--offline", action="store_true", help="the live loop with the broker up, down, or no hub")
    ap.add_argument("--hub-late", action="store_true",
                    help="the hub comes back after the stations finished: how fast it catches up")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="keep the databases and logs in this folder")
    args = ap.parse_args()
    if not SHARED.exists():
        sys.exit(f"bench_hub: {SHARED} not found (the shared treadmill tracks)")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-hub-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        result: Any = bench_offline(folder) if args.offline else bench_stations(args.stations, args.laps, folder,
                                                                                  args.hub_late)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=1))
    elif args.offline:
        print("one station, s01 treadmill track (30 s, 900 frames):")
        for r in result:
            print(f"  {r['pace']:<22} {r['case']:<12} " + (
                f"{r['fps']:6.1f} fps, cue latency p50 {r['cue_p50_ms']:.2f} / max {r['cue_max_ms']:.2f} ms, "
                f"step committed p50 {r['commit_p50_ms']:.1f} / max {r['commit_max_ms']:.1f} ms"
                if "fps" in r else f"exit {r['exit']}: {r['line']}") + (
                f"; {r['outbox_left']} records wait in the outbox" if r["outbox_left"] else ""))
    else:
        r = result
        lat = r["latency_ms"] or {}
        print(f"{r['stations']} stations replaying treadmill tracks ({r['laps']} laps each) as fast as they decode, "
              f"one Mosquitto, one hub, {r['cores']} cores" + (" (the hub away until they finished)" if r["hub_late"]
                                                               else "") + ":")
        print(f"  stored {r['steps_stored']} of {r['steps_expected']} steps ({r['distinct']} distinct; "
              f"{r['station_failures']} station failures), {r['steps_per_s']} steps/s over {r['span_s']} s")
        print(f"  step emitted (station) -> committed (hub): p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms, "
              f"max {lat.get('max')} ms")
        for who in ("hub", "broker"):
            f = r[who]
            print(f"  {who}: CPU {f.get('cpu_avg_pct')} % of one core on average, peak {f.get('cpu_peak_pct')} % "
                  f"over 0.5 s; peak RSS {f.get('peak_rss_mb')} MB")
        print(f"  hub: {r['hub_messages']} messages in {r['hub_batches']} batches, {r['duplicates_ignored']} "
              f"duplicates ignored; wall {r['wall_s']} s")


if __name__ == "__main__":
    main()
