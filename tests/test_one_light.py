"""One light that means one thing (issue 11): a simulated runner whose left side is red and right side green,
through the live loop on gpiozero's mock pins, with the web app reading the same database. At every heartbeat
the LED on the pins, the live page's badge, its two side boxes and the thresholds it states agree; the light
changes only when a judgement changes; the beep sounds as the light turns red and names no side."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from station.config import Settings
from station.cues import CueBoard, Led, mock_factory
from station.cues.policy import next_level
from station.live.station import RunOptions, Station
from station.simulate import RunnerParams, SimulatedRunner, SimulatedSource
from station.store import Store
from web import create_app

RANK = {"green": 0, "amber": 1, "red": 2}


def lit(board: CueBoard) -> set[str]:
    return {name for name, led in board.leds.items() if led.is_lit}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Left drop 7.5°, right 2°, 30 s at 30 fps; every heartbeat checked against the pins and /api/live."""
    tmp_path = tmp_path_factory.mktemp("one-light")
    settings = Settings()
    db = tmp_path / "gait.db"
    store = Store(db)
    store.db.execute("PRAGMA synchronous = OFF")  # durability is the store's tests' business; here it is only slow
    board = CueBoard.from_settings(settings, pin_factory=mock_factory())
    client = create_app({"TESTING": True, "DATABASE": str(db), "CONFIG_PATH": str(tmp_path / "none.toml"),
                         "STATUS_STALE_S": 600.0}).test_client()
    (tmp_path / "none.toml").write_text("")
    seen: list[dict[str, Any]] = []
    write_status = store.set_status

    def check(status: Any) -> None:  # the heartbeat as the station writes it, then what the page makes of it
        write_status(status)
        if status.session_id is None:
            return
        page = client.get("/api/live").get_json()
        seen.append({"status": status, "led": board.led_state, "lit": lit(board), "page": page["session"]})

    store.set_status = check  # type: ignore[method-assign]
    runner = SimulatedRunner(RunnerParams(drop_left_deg=7.5, drop_right_deg=2.0, seed=12))
    station = Station(settings, store, board, lambda: SimulatedSource(runner, fps=30.0, duration_s=30.0),
                      options=RunOptions(source_name="sim", latest_only=False, session_at_once="file",
                                         status_period_s=0.0))
    station.run(threading.Event())
    [session] = store.sessions()
    out = {"seen": seen, "cues": store.cues(session["id"]), "steps": store.steps(session["id"]), "board": board}
    yield out
    board.close()
    store.close()


def test_led_badge_boxes_and_thresholds_agree_at_every_heartbeat(run: dict[str, Any]) -> None:
    seen = [s for s in run["seen"] if s["status"].state == "session"]
    assert len(seen) > 400  # a heartbeat per frame
    colours = 0
    for s in seen:
        st, page = s["status"], s["page"]
        # the LED on the pins, the heartbeat's cue and the page's badge are one thing
        assert st.cue == str(s["led"]) == page["cue"]["state"]
        if s["led"] in (Led.GREEN, Led.AMBER, Led.RED):
            colours += 1
            assert s["lit"] == {str(s["led"])}  # one LED steady
            judged = {side: st.side(side).level for side in ("left", "right") if st.side(side).level in RANK}
            # the light is the worse side's judgement; the page marks that side and its box shows that colour
            assert RANK[str(s["led"])] == max(RANK[v] for v in judged.values())
            assert page["cue"]["side"] == st.cue_side and judged[st.cue_side] == str(s["led"])
            for side in ("left", "right"):
                box, mine = page["rolling"][side], st.side(side)
                assert (box["level"], box["drop_excursion_deg"]) == (mine.level, mine.drop_deg)
                assert (box["amber_deg"], box["red_deg"]) == (4.0, 6.0) == (page["amber_deg"], page["red_deg"])
                if mine.level in RANK:  # each box's colour is its median against the thresholds it states
                    hold = next_level("red", mine.drop_deg, 4.0, 6.0, page["hysteresis_deg"])
                    lo = next_level("wait", mine.drop_deg, 4.0, 6.0, 0.5)
                    assert RANK[lo] <= RANK[mine.level] <= RANK[hold]
            # the words say the same light and the same number as the box
            words = page["cue"]["words"]
            assert words.lower().startswith(str(s["led"])) and f"{st.side(st.cue_side).drop_deg:.1f}°" in words
    assert colours > 300


def test_the_runner_sees_a_steady_red_and_hears_one_beep(run: dict[str, Any]) -> None:
    leds = [c for c in run["cues"] if c["kind"] == "led"]
    states = [c["state"] for c in leds]
    # it used to alternate with each landing foot (215 changes in the demo's two minutes); now: wait, the first
    # judgement, red, and off at the end
    assert states[0] == "wait" and states[-1] == "off" and "red" in states
    assert len(states) <= 5
    assert all(c["side"] == "left" for c in leds if c["state"] in ("amber", "red"))
    red_at = next(c["t_s"] for c in leds if c["state"] == "red")
    later = [c["state"] for c in leds if c["t_s"] > red_at]
    assert later == ["off"]  # steady red to the end, whatever foot lands
    beeps = [c for c in run["cues"] if c["kind"] == "buzzer"]
    assert len(beeps) == 1 and beeps[0]["t_s"] == red_at
    assert beeps[0]["side"] is None and "left" not in beeps[0]["reason"] and "right" not in beeps[0]["reason"]
    # the right side was judged green throughout, the left red: the light never followed the right side
    last = [s for s in run["seen"] if s["status"].state == "session"][-1]["status"]
    assert (last.left.level, last.right.level, last.cue, last.cue_side) == ("red", "green", "red", "left")
    steps = [s for s in run["steps"] if s["drop_excursion_deg"] is not None]
    assert sum(1 for s in steps if s["side"] == "right") > 30 and sum(1 for s in steps if s["side"] == "left") > 30
