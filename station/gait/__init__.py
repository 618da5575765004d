"""Pure gait analysis: arrays in, dataclasses out. No I/O, no clock; numpy (and scipy) only."""

from station.gait.analyzer import AnalyzerSettings, GaitAnalyzer, analyze_track
from station.gait.framing import FramingStatus
from station.gait.steps import Step
from station.gait.summary import SideSummary, Summary, summarize
from station.gait.uncertainty import Difference, compare, difference_is_real, enough_steps

__all__ = ["AnalyzerSettings", "Difference", "FramingStatus", "GaitAnalyzer", "SideSummary", "Step", "Summary",
           "analyze_track", "compare", "difference_is_real", "enough_steps", "summarize"]
