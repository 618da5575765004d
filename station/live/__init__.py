"""The live station: the loop that wires source → pose → analyzer → cues → store (:mod:`station.live.station`),
and the typed status it publishes (:mod:`station.live.status`)."""
