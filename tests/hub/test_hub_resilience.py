"""Three stations replay three runners' treadmill tracks in real time into one hub, through a real Mosquitto,
while the broker is killed and restarted, the hub is killed and restarted, and a station is killed mid-session
and restarted. After each, the hub catches up with everything the stations hold; at the end it holds exactly
each station's steps, each once, and each session with the station's status (the killed one: interrupted)."""

from __future__ import annotations

import signal
import time

from tests.hub.conftest import (
    STATIONS,
    Procs,
    _read,
    assert_hub_matches,
    broker_down,
    wait_for_steps,
    wait_until_hub_has,
)


def test_three_stations_survive_broker_hub_and_station_kills(procs: Procs) -> None:
    procs.hub()
    for sid in STATIONS:
        procs.station(sid)
    for sid in STATIONS:
        wait_for_steps(procs.db(sid), 5, 60, procs.procs[sid])

    # 1. the broker is killed (SIGKILL: what it held in memory is gone) for 5 s, then restarted
    with broker_down(procs.broker, 5.0):
        held = {sid: len(_read(procs.db(sid), "select 1 from steps")) for sid in STATIONS}
    assert all(p.poll() is None for p in procs.procs.values()), "a station or the hub died with the broker"
    wait_until_hub_has(procs, STATIONS, 25, "after the broker came back")
    grew = {sid: len(_read(procs.db(sid), "select 1 from steps")) - held[sid] for sid in STATIONS}
    assert all(n > 0 for n in grew.values()), f"the stations did not keep measuring without the broker: {grew}"

    # 2. the hub is killed (SIGKILL) for 4 s: its persistent session keeps what the stations publish meanwhile
    procs.kill("hub")
    time.sleep(4.0)
    procs.hub()
    wait_until_hub_has(procs, STATIONS, 25, "after the hub was killed and restarted")

    # 3. a station is killed mid-session (SIGKILL), then restarted on its database: the killed session is
    #    marked interrupted there and on the hub, a new one runs (3x speed: real time is not the point here)
    victim = STATIONS[1]
    assert procs.procs[victim].poll() is None, "the station's track ended too early for this test"
    procs.kill(victim)
    killed_at = len(_read(procs.db(victim), "select 1 from steps"))
    procs.station(victim, speed=3.0)

    for sid in STATIONS:
        assert procs.wait(sid, 90) == 0, procs.log(sid)
    assert_hub_matches(procs, STATIONS)
    sessions = _read(procs.hub_db, "select station_session_id, status, steps from sessions where station_id = ? "
                                   "order by station_session_id", (victim,))
    assert [s[1] for s in sessions] == ["interrupted", "completed"], sessions
    assert sessions[0][2] >= killed_at
    for sid in STATIONS:
        if sid != victim:
            assert [s[0] for s in _read(procs.hub_db, "select status from sessions where station_id = ?",
                                        (sid,))] == ["completed"]
    hub = procs.procs["hub"]
    hub.send_signal(signal.SIGTERM)
    assert hub.wait(20) == 0
    assert "steps stored" in procs.log("hub")
