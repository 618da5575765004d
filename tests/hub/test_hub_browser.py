"""The hub's live page in a real browser (headless Debian Chromium through Playwright, phone-sized), with two
real stations replaying treadmill tracks in real time through Mosquitto into a real hub and `gait-station serve`
on the hub's database: both stations appear with their runner, cue and drop; a session is stopped and started
on one from the page; the other goes offline and the page refuses it visibly."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from typing import Any

import pytest

from station.hub.local import lap_track
from station.store import Store
from tests.conftest import require_shared
from tests.hub.conftest import TRACKS, Procs, assert_hub_matches, wait_for_steps
from web.auth import set_password

try:  # main keeps the browser helpers in tests/browser.py and the fixtures in tests/conftest.py (issue 11)
    from tests.browser import PASSWORD, fits_phone, free_port, log_in, require_chromium, screenshot
except ImportError:  # this branch: they are in tests/test_web_browser.py
    from tests.test_web_browser import (  # noqa: F401
        PASSWORD,
        browser,
        fits_phone,
        free_port,
        log_in,
        page,
        require_chromium,
        screenshot,
    )

pytestmark = pytest.mark.browser


def test_hub_live_page_with_two_stations(procs: Procs, page: Any) -> None:  # noqa: F811
    require_chromium()
    expect = pytest.importorskip("playwright.sync_api").expect
    a, b = "track-1", "clubhouse"
    with Store(procs.hub_db) as hub:  # the hub's page has an admin: start and stop are theirs
        set_password(hub, PASSWORD)
    procs.hub()
    for sid, runner in ((a, "Zoë <b>O'Brien</b>"), (b, "Ana")):
        track = lap_track(require_shared(*TRACKS[sid]), procs.tmp / f"{sid}-laps.csv", 2)
        procs.station(sid, "--runner", runner, track=track)
    port = free_port()
    procs.start("serve", ["serve", "--db", str(procs.hub_db), "--host", "127.0.0.1", "--port", str(port)])
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            break
        assert time.monotonic() < deadline, procs.log("serve")
        time.sleep(0.1)
    for sid in (a, b):
        wait_for_steps(procs.db(sid), 3, 60, procs.procs[sid])

    log_in(page, f"http://127.0.0.1:{port}", "/sessions/")
    page.goto(f"http://127.0.0.1:{port}/live")
    card_a = page.locator(f'li.station-card[data-station="{a}"]')
    card_b = page.locator(f'li.station-card[data-station="{b}"]')
    expect(page.locator("#hub-status")).to_have_text("2 of 2 online", timeout=20_000)
    expect(card_a.locator(".js-runner")).to_have_text("Zoë <b>O'Brien</b>")  # text, never markup
    assert card_a.locator(".js-runner b").count() == 0
    expect(card_b.locator(".js-runner")).to_have_text("Ana")
    for card in (card_a, card_b):
        expect(card.locator(".js-online")).to_have_text("online")
        expect(card.locator(".js-left")).to_have_text(re.compile(r"^\d+\.\d°$"), timeout=30_000)  # 7 steps a side
        expect(card.locator(".js-right")).to_have_text(re.compile(r"^\d+\.\d°$"))
        expect(card.locator(".js-cue")).to_have_text(re.compile(r"^(green|amber|red|wait)$"))
    steps = int(card_a.locator(".js-steps").inner_text())
    expect(card_a.locator(".js-steps")).not_to_have_text(str(steps), timeout=10_000)  # it follows, no reload
    fits_phone(page)
    screenshot(page, "browser-hub-live.png", full_page=True)

    # stop on one station from the page: the hub sends it over MQTT, the station answers
    card_a.locator(".js-stop button").click()
    expect(card_a.locator(".js-message")).to_have_text(re.compile(r"Stopping the session on track-1….*Done: "
                                                                  r"session 1 ended\."), timeout=20_000)
    expect(card_a.locator(".js-start")).to_be_visible(timeout=10_000)
    expect(card_b.locator(".js-session")).to_be_visible()  # the other station runs on
    card_a.locator(".js-start input[name=runner]").fill("Bo")
    card_a.locator(".js-start button").click()
    expect(card_a.locator(".js-message")).to_have_text(re.compile(r"Done: session 2 started\."), timeout=20_000)
    expect(card_a.locator(".js-runner")).to_have_text("Bo", timeout=10_000)

    # the other station stops: the page says it is offline and will not send it anything
    procs.procs[b].terminate()
    assert procs.procs[b].wait(30) == 0
    expect(card_b.locator(".js-online")).to_have_text("offline", timeout=15_000)
    expect(page.locator("#hub-status")).to_have_text("1 of 2 online")
    expect(card_b.locator(".js-idle")).to_have_text("Offline: start and stop are refused.")
    expect(card_b.locator(".js-start button")).to_be_disabled()
    screenshot(page, "browser-hub-offline.png", full_page=True)
    assert page.js_errors == []

    procs.procs[a].terminate()
    assert procs.procs[a].wait(30) == 0
    assert_hub_matches(procs, [a, b])
