"""One way to build and run the live station, for ``gait-station run`` and ``gait-station demo``.

:func:`built_station` opens the database, merges the web page's saved settings into
the station's (:func:`station.config.effective_settings`, the one place), opens the
cue board (:func:`station.cues.board.open_board`: real pins, or gpiozero's mock pins)
and hands back a :class:`~station.live.station.Station`; :func:`run_until_stopped`
runs it until SIGTERM, Ctrl-C or the end of a file, and prints the run's figures.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from station.camera.base import FrameSource
from station.config import Settings, effective_settings, runtime_dir
from station.live.report import RunReport
from station.live.station import RunOptions, Station

log = logging.getLogger(__name__)


def preview_path_for(db: Path) -> Path:
    """Where the live preview JPEG goes: the runtime directory if one is set, else ``run/`` beside the DB."""
    if any(k in os.environ for k in ("RUNTIME_DIRECTORY", "GAIT_STATION_RUNTIME_DIR")):
        return (runtime_dir() / "preview.jpg").resolve()
    return (db.parent / "run" / "preview.jpg").resolve()


@contextlib.contextmanager
def built_station(
    settings: Settings,
    db: Path,
    open_source: Callable[[], FrameSource],
    *,
    options: RunOptions,
    mock_pins: bool = False,
    estimator_factory: Callable[[], Any] | None = None,
    config_path: str | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> Iterator[Station]:
    """The station on database ``db``, with its store and board open for the ``with`` block."""
    from station.cues.board import open_board
    from station.store import Store

    with Store(db) as store:
        settings, problem = effective_settings(settings, store.settings_overrides())
        if problem:
            log.error("%s", problem)
        board = open_board(settings, mock=mock_pins)
        try:
            yield Station(settings, store, board, open_source, estimator_factory=estimator_factory, options=options,
                          config_path=config_path, on_event=on_event)
        finally:
            board.close()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or Ctrl-C (SIGINT), so the loop closes the session cleanly."""
    stop = threading.Event()
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: give up waiting
        log.warning("%s: closing the session and stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_until_stopped(station: Station) -> RunReport:
    """Run the station until SIGTERM, Ctrl-C or the end of its file; the figures line goes to stderr."""
    try:
        with stop_on_signals() as stop:
            return station.run(stop)
    finally:
        if station.report.frames:
            click.echo(station.report.line(), err=True)
