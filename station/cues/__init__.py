"""Cues: the pure policy (:mod:`station.cues.policy`) and the gpiozero board (:mod:`station.cues.board`)."""

from station.cues.board import BEEP_TONE_HZ, TICK_TONE_HZ, CueBoard, mock_factory, open_board
from station.cues.policy import CueEvent, CuePolicy, Led, Level

__all__ = ["BEEP_TONE_HZ", "TICK_TONE_HZ", "CueBoard", "CueEvent", "CuePolicy", "Led", "Level", "mock_factory",
           "open_board"]
