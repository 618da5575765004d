"""Pure gait analysis: arrays in, dataclasses out. No I/O, no clock; numpy (and scipy) only."""

from station.gait.analyzer import AnalyzerSettings, GaitAnalyzer, analyze_track
from station.gait.framing import FramingStatus
from station.gait.steps import Step
from station.gait.summary import Summary, summarize

__all__ = ["AnalyzerSettings", "FramingStatus", "GaitAnalyzer", "Step", "Summary", "analyze_track", "summarize"]
