"""systemd's service watchdog and readiness, sent from the live loop through sd_notify (the ``sdnotify`` package).

Under systemd with ``Type=notify`` and ``WatchdogSec=`` the station says ``READY=1`` once its
source and model are open, then ``WATCHDOG=1`` from the loop at half the watchdog period, but
only while the loop turns *and* is healthy: a capture thread stuck inside the source (a hung
camera driver never returns and raises nothing) makes the loop withhold the ping, so systemd
kills the service and starts a fresh process, which is the one cure for a hung driver. A camera
that is merely unplugged is not stuck (the capture thread retries with back-off), so the station
keeps running and blinking red. Outside systemd (no ``NOTIFY_SOCKET``) nothing is sent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Watchdog:
    """sd_notify for the live loop: :meth:`ready`, :meth:`alive` (each turn of the loop), :meth:`stopping`."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        self.period_s: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if self.enabled and usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.period_s = int(usec) / 1e6 / 2.0  # ping twice per watchdog period, as sd_watchdog_enabled(3) advises
        self._notifier = None
        if self.enabled:
            import sdnotify

            self._notifier = sdnotify.SystemdNotifier()
        self._last = float("-inf")
        self._withholding = False

    def _send(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)

    def ready(self, status: str = "") -> None:
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def alive(self, now: float, *, healthy: bool, why: str = "") -> None:
        """One turn of the loop at monotonic ``now``: ping when due, unless not ``healthy``."""
        if self.period_s is None:
            return
        if not healthy:
            if not self._withholding:
                log.error("watchdog: %s; no longer telling systemd the station is alive (it will restart it)", why)
                self._send(f"STATUS={why}")
                self._withholding = True
            return
        if self._withholding:
            log.warning("watchdog: healthy again")
            self._withholding = False
        if now - self._last >= self.period_s:
            self._last = now
            self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")
