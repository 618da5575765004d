"""Many stations, one history: stations publish to an MQTT broker (Mosquitto), one hub stores them all.

* :mod:`~station.hub.protocol`: the topics and messages (pure);
* :mod:`~station.hub.outbox`: the station's outbox in its own database (what the hub has not confirmed);
* :mod:`~station.hub.publisher`: the station's publisher thread (outbox, status, the hub's commands);
* :mod:`~station.hub.db`: the hub's side of the database (stations, idempotent ingestion, what the web reads);
* :mod:`~station.hub.hub`: the hub process (a persistent MQTT session into the hub database);
* :mod:`~station.hub.client`: the paho-mqtt client both use.

Only ``client``, ``publisher`` and ``hub`` import paho-mqtt; the web reads :mod:`station.hub.db`.
"""
