"""systemd's watchdog (issue 14, finding 9): the live loop says it is alive; a frozen source or loop stops that.

The test plays systemd: it binds the notification socket, sets ``NOTIFY_SOCKET`` and
``WATCHDOG_USEC`` as systemd does for a unit with ``WatchdogSec=``, and reads what the
station sends (``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from station.camera.base import Frame, FrameSource
from station.config import Settings
from station.cues import CueBoard, mock_factory
from station.keypoints import Pose
from station.live.station import RunOptions, Station
from station.simulate import RunnerParams, SimulatedRunner, SimulatedSource
from station.store import Store


class Systemd:
    """The receiving end of sd_notify: a datagram socket, and every message with the time it came."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def pings(self, since: float = 0.0) -> list[float]:
        return [t for t, m in self.messages if m == "WATCHDOG=1" and t >= since]

    def has(self, message: str) -> bool:
        return any(m == message for _, m in self.messages)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Systemd]:
    path = tmp_path / "notify"
    sd = Systemd(path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # WatchdogSec=0.4: a ping every 0.2 s
    yield sd
    sd.close()


class FreezingSource(FrameSource):
    """A simulated runner whose frames stop after ``freeze_after_s`` of stream: the read never returns
    (a hung camera driver), until the test lets it go."""

    live = True
    gives_poses = True
    name = "freezing camera"

    def __init__(self, freeze_after_s: float, release: threading.Event) -> None:
        self.inner = SimulatedSource(SimulatedRunner(RunnerParams(seed=2)), fps=30.0, duration_s=600.0)
        self.freeze_after_s = freeze_after_s
        self.release = release
        self.frozen_at: float | None = None

    def frames(self) -> Iterator[Frame]:
        start = time.monotonic()
        for frame in self.inner.frames():
            if frame.t_s >= self.freeze_after_s:
                self.frozen_at = time.monotonic()
                self.release.wait()  # hung
                return
            time.sleep(max(0.0, start + frame.t_s - time.monotonic()))
            yield frame


class FreezingModel:
    """A pose model whose inference hangs from the ``freeze_at``-th frame on (the loop's own thread)."""

    name = "freezing model"

    def __init__(self, freeze_at: int, release: threading.Event) -> None:
        self.n, self.freeze_at, self.release = 0, freeze_at, release
        self.frozen_at: float | None = None

    def estimate(self, image: np.ndarray, t_s: float = 0.0) -> Pose:
        self.n += 1
        if self.n >= self.freeze_at:
            self.frozen_at = self.frozen_at or time.monotonic()
            self.release.wait()
        return Pose.empty(t_s, (64, 48))

    def close(self) -> None:
        pass


class Camera(FrameSource):
    live = True
    name = "camera"

    def frames(self) -> Iterator[Frame]:
        for i in range(100_000):
            time.sleep(1 / 30)
            yield Frame(t_s=i / 30, image=np.zeros((48, 64, 3), np.uint8), index=i)


def _station(tmp_path: Path, source: FrameSource, estimator=None, **options) -> tuple[Station, Store, CueBoard]:
    store = Store(tmp_path / "gait.db")
    board = CueBoard.from_settings(Settings(), pin_factory=mock_factory())
    opts = RunOptions(source_name="test", live=True, preview_path=None, source_hang_s=1.0, **options)
    station = Station(Settings(), store, board, lambda: source,
                      estimator_factory=(lambda: estimator) if estimator else None, options=opts)
    return station, store, board


@pytest.mark.parametrize("what", ["source", "model"])
def test_the_watchdog_is_fed_while_the_loop_turns_and_starves_when_it_freezes(tmp_path: Path, systemd: Systemd,
                                                                              what: str) -> None:
    release, stop = threading.Event(), threading.Event()
    if what == "source":
        frozen: FreezingSource | FreezingModel = FreezingSource(2.0, release)
        station, store, board = _station(tmp_path, frozen)
    else:
        frozen = FreezingModel(60, release)
        station, store, board = _station(tmp_path, Camera(), frozen)
    runner = threading.Thread(target=station.run, args=(stop,), daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while frozen.frozen_at is None:
            assert time.monotonic() < deadline and runner.is_alive()
            time.sleep(0.05)
        frozen_at = frozen.frozen_at
        assert systemd.has("READY=1")
        before = systemd.pings()
        assert len(before) >= 5 and np.max(np.diff(before)) < 0.4  # fed faster than WatchdogSec while it ran
        time.sleep(3.0)  # hang limit (1 s) + margin: systemd would now kill and restart the service
        last = systemd.pings()[-1]
        assert last < frozen_at + 1.0 + 0.5, (last - frozen_at)  # no ping past the hang limit
        assert not systemd.pings(since=frozen_at + 1.5)
    finally:
        release.set()
        stop.set()
        runner.join(timeout=20)
        board.close()
        store.close()
    assert not runner.is_alive()


def test_no_watchdog_without_systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    from station.live.watchdog import Watchdog

    dog = Watchdog()
    assert not dog.enabled and dog.period_s is None
    dog.ready("ok")
    dog.alive(time.monotonic(), healthy=True)  # nothing to send to, nothing raised
