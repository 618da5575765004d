"""Home Assistant MQTT discovery: each station a device with its state, runner, drop per side and cadence.

The hub announces (retained, ``homeassistant/sensor/gait_<station>/<what>/config``) sensors that
read the station's own retained status topic, available while the station says it is online.
Home Assistant's broker user needs to read ``gait/+/status`` and ``homeassistant/#``
(``gait-station hub acl --home-assistant USER`` adds that user to the ACL).
"""

from __future__ import annotations

import json
from typing import Any

from station.hub import protocol

PREFIX = "homeassistant"

#: (object id, name, value template, unit, device class or None)
SENSORS: tuple[tuple[str, str, str, str | None], ...] = (
    ("state", "State", "{{ value_json.state }}", None),
    ("runner", "Runner", "{{ value_json.runner if value_json.state == 'session' else '' }}", None),
    ("drop_left", "Pelvic drop left", "{{ value_json.left.drop_deg }}", "°"),
    ("drop_right", "Pelvic drop right", "{{ value_json.right.drop_deg }}", "°"),
    ("cadence", "Cadence", "{{ value_json.cadence_spm }}", "steps/min"),
    ("cue", "Cue", "{{ value_json.cue }}", None),
)


def configs(station_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The discovery messages of one station: (topic, config)."""
    status = protocol.topic(station_id, "status")
    node = f"gait_{station_id.replace('-', '_')}"
    device = {"identifiers": [node], "name": f"Gait station {station_id}", "manufacturer": "gait-station",
              "model": "pelvic drop station"}
    out = []
    for obj, name, template, unit in SENSORS:
        cfg: dict[str, Any] = {
            "name": name, "unique_id": f"{node}_{obj}", "object_id": f"{node}_{obj}", "state_topic": status,
            "value_template": template, "availability_topic": status,
            "availability_template": "{{ 'online' if value_json.online else 'offline' }}", "device": device,
        }
        if unit:
            cfg.update(unit_of_measurement=unit, state_class="measurement")
        out.append((f"{PREFIX}/sensor/{node}/{obj}/config", cfg))
    return out


def announce(client: Any, station_id: str) -> None:
    """Publish (retained) one station's discovery messages with ``client`` (paho)."""
    for topic, cfg in configs(station_id):
        client.publish(topic, json.dumps(cfg), qos=1, retain=True)
