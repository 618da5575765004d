"""The station's live status: what the loop publishes about once a second and the live page shows.

A frozen dataclass, written by :meth:`station.store.Store.set_status` (the heartbeat row)
and read back by :meth:`station.store.Store.station_status`. The web renders it as it is:
the cue policy's own window medians and levels, the LED state, the framing judgement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from station.gait.framing import FramingView

State = Literal["starting", "idle", "session", "camera_lost", "fault", "stopped"]


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


@dataclass(frozen=True)
class SideStatus:
    """One side's judgement as the cue policy holds it: the window median, its level, the steps in the window,
    and the thresholds it is judged against (deg; None while a baseline is being collected)."""

    drop_deg: float | None = None
    level: str | None = None  # wait | green | amber | red (None: no session)
    steps_in_window: int = 0
    amber_deg: float | None = None
    red_deg: float | None = None
    mean_deg: float | None = None  # the session's mean drop on this side so far
    ci95_deg: float | None = None  # ... and the 95 % half-width of that mean
    uncertain: bool = False  # enough steps, but the interval is still wider than amber-red: "not enough steps yet"

    @classmethod
    def from_dict(cls, d: Any) -> SideStatus:
        if not isinstance(d, dict):
            return cls()
        level = d.get("level")
        return cls(drop_deg=_num(d.get("drop_deg")), level=level if isinstance(level, str) else None,
                   steps_in_window=int(d.get("steps_in_window") or 0), amber_deg=_num(d.get("amber_deg")),
                   red_deg=_num(d.get("red_deg")), mean_deg=_num(d.get("mean_deg")), ci95_deg=_num(d.get("ci95_deg")),
                   uncertain=d.get("uncertain") is True)


@dataclass(frozen=True)
class StationStatus:
    """The live station's heartbeat."""

    state: State = "starting"
    message: str = ""
    pid: int | None = None
    source: str = ""
    model: str = ""
    view: str = "posterior"
    fps: float = 0.0
    session_id: int | None = None
    runner: str | None = None
    trigger: str | None = None
    elapsed_s: float | None = None  # stream seconds since the session started
    steps: int = 0
    left: SideStatus = field(default_factory=SideStatus)
    right: SideStatus = field(default_factory=SideStatus)
    cadence_spm: float | None = None
    cue: str = "off"  # the LED state (station.cues.Led value)
    cue_side: str | None = None  # the side the light's judgement rests on (the worse side; None while waiting)
    hysteresis_deg: float | None = None  # a colour holds until the median is this far back below its threshold
    metronome_spm: float | None = None
    framing: FramingView = field(default_factory=FramingView)
    camera_ok: bool = True
    preview_path: str | None = None
    updated_at: str | None = None  # when the station wrote it (UTC ISO 8601); set by the store on reading

    def side(self, side: str) -> SideStatus:
        return self.left if side == "left" else self.right

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["framing"] = self.framing.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StationStatus:
        """Read a stored status; missing or malformed fields take their defaults (a station of another version)."""
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {k: v for k, v in d.items() if k in known}
        for key in ("fps", "elapsed_s", "cadence_spm", "metronome_spm", "hysteresis_deg"):
            if key in kwargs:
                kwargs[key] = _num(kwargs[key]) if key != "fps" else (_num(kwargs[key]) or 0.0)
        for key in ("session_id", "pid"):
            if key in kwargs and not (isinstance(kwargs[key], int) and not isinstance(kwargs[key], bool)):
                kwargs[key] = None
        kwargs["steps"] = int(kwargs.get("steps") or 0)
        kwargs["left"] = SideStatus.from_dict(d.get("left"))
        kwargs["right"] = SideStatus.from_dict(d.get("right"))
        kwargs["framing"] = FramingView.from_dict(d.get("framing") if isinstance(d.get("framing"), dict) else None)
        if kwargs.get("cue_side") not in (None, "left", "right"):
            kwargs["cue_side"] = None
        for key in ("message", "source", "model", "view", "cue"):
            if key in kwargs and not isinstance(kwargs[key], str):
                kwargs.pop(key)
        return cls(**kwargs)
