"""A real Mosquitto broker for the tests: :class:`station.hub.local.LocalBroker` on a free loopback port, with the
project's own settings (a password per user made with ``mosquitto_passwd``, the ACL, persistence in the test's
folder). Debian's ``mosquitto`` (``.ci/run`` installs it); without it the tests skip (fail under CI=true)."""

from __future__ import annotations

import shutil
from pathlib import Path

from station.hub.local import LocalBroker, mosquitto_binary
from tests.conftest import skip_or_fail


class Mosquitto(LocalBroker):
    def __init__(self, tmp: Path, stations: list[str], *, port: int | None = None, tls: bool = False,
                 home_assistant: str | None = None) -> None:
        if mosquitto_binary() is None:
            skip_or_fail("mosquitto not found (apt-get install mosquitto)")
        if tls and shutil.which("openssl") is None:
            skip_or_fail("openssl not found (apt-get install openssl)")
        super().__init__(tmp / "mosquitto", stations, port=port, tls=tls, home_assistant=home_assistant)
