"""Can the wall clock be trusted? A Raspberry Pi has no real-time clock.

After a power cut without network, Raspberry Pi OS starts from the time ``fake-hwclock``
saved at the last shutdown (or hourly), so sessions would get dates from the past until
``systemd-timesyncd`` reaches an NTP server. The kernel knows: until a time source
synchronises the clock, ``adjtimex(2)`` answers ``TIME_ERROR`` (the same test as
timedatectl's "System clock synchronized"). So each session records the clock's state at
its start, ``synchronised``, ``unsynchronised`` or ``backwards`` (earlier than a date
already in the database), with the boot it ran in and its start on ``CLOCK_BOOTTIME``.
Once the clock is synchronised in that same boot, the station rewrites such a session's
dates from the boot clock (``corrected``); stream times inside a session never depend on
the wall clock. A session from an earlier boot that never saw a synchronised clock keeps
its mark, and the web shows its date as uncertain.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

SYNCHRONISED = "synchronised"
UNSYNCHRONISED = "unsynchronised"
BACKWARDS = "backwards"
UNKNOWN = "unknown"
CORRECTED = "corrected"
TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised (STA_UNSYNC)


@dataclass(frozen=True)
class ClockReading:
    """The wall clock (UTC), the boot it is read in, the boot clock, and whether the kernel calls it synchronised."""

    wall: dt.datetime
    boot_id: str
    boot_s: float
    synchronised: bool | None  # None: cannot tell (not Linux)

    def state(self, latest_wall: str | None) -> str:
        """The session mark: ``backwards`` when earlier than ``latest_wall`` (a date already stored)."""
        if latest_wall and self.wall < dt.datetime.fromisoformat(latest_wall):
            return BACKWARDS
        return {True: SYNCHRONISED, False: UNSYNCHRONISED, None: UNKNOWN}[self.synchronised]


def kernel_synchronised() -> bool | None:
    """adjtimex(2) with no change requested: False while the clock is unsynchronised, None if it cannot be asked."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
        state = libc.adjtimex(timex)
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != TIME_ERROR


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def read_clock() -> ClockReading:
    boot = time.clock_gettime(time.CLOCK_BOOTTIME) if hasattr(time, "CLOCK_BOOTTIME") else time.monotonic()
    return ClockReading(dt.datetime.now(dt.UTC), _boot_id(), boot, kernel_synchronised())
