"""Station settings: defaults here, a TOML file, environment, and the web page's overrides.

Strictly validated, units in names. Layers, later wins:

1. the defaults in these dataclasses;
2. a TOML file (``--config``, ``$GAIT_STATION_CONFIG``, or ``/etc/gait-station/config.toml``);
3. overrides saved from the web settings page (the ``settings`` table of the store),
   passed in as a nested dict.

An unknown key, a wrong type or an out-of-range value raises :class:`InputError`
naming the key, e.g. ``config: cues.red_deg must be greater than cues.amber_deg``.
These dataclasses are the one set of rules: the TOML file, the web settings page and
the station's merge of saved overrides all build settings through :func:`from_dict`,
so nothing that is saved can stop the station. No number may be infinite or NaN (TOML
has ``inf`` and ``nan``); a runner's name follows :func:`check_runner_name`, the rule
the store and the live page's start form use too.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from station.errors import InputError
from station.files import read_text_capped
from station.gait.analyzer import CAMERA_DISTANCE_RANGE_M, MAX_CAMERA_ROLL_DEG, AnalyzerSettings

View = Literal["posterior", "anterior"]
CueMode = Literal["absolute", "baseline"]
BuzzerKind = Literal["active", "passive"]

DEFAULT_CONFIG_PATH = Path("/etc/gait-station/config.toml")
MAX_CONFIG_BYTES = 1024 * 1024


MAX_RUNNER_NAME_CHARS = 80


def _check(cond: bool, key: str, message: str) -> None:
    if not cond:
        raise InputError(f"config: {key} {message}")


def check_runner_name(name: str, what: str = "a runner's name") -> str:
    """A runner's name as stored (stripped; may be empty); raises :class:`InputError` when it is too long."""
    name = name.strip()
    if len(name) > MAX_RUNNER_NAME_CHARS:
        raise InputError(f"{what} must have at most {MAX_RUNNER_NAME_CHARS} characters")
    return name


@dataclass(frozen=True)
class CameraSettings:
    source: str = "auto"  # auto | camera | webcam[:N] | PATH
    fps: float = 60.0  # requested capture rate
    view: View = "posterior"
    camera_roll_deg: float | None = None  # declared roll (levelled camera: 0); None = unknown
    distance_m: float | None = None  # declared distance from the lens to the runner's pelvis; None = unknown
    hfov_deg: float = 66.0  # the camera's horizontal field of view (Camera Module 3: 66; Wide: 102)

    def __post_init__(self) -> None:
        _check(1.0 <= self.fps <= 240.0, "camera.fps", "must be between 1 and 240")
        if self.camera_roll_deg is not None:
            _check(abs(self.camera_roll_deg) <= MAX_CAMERA_ROLL_DEG, "camera.camera_roll_deg",
                   f"must be within ±{MAX_CAMERA_ROLL_DEG:g}")
        if self.distance_m is not None:
            lo, hi = CAMERA_DISTANCE_RANGE_M
            _check(lo <= self.distance_m <= hi, "camera.distance_m", f"must be between {lo:g} and {hi:g} (metres)")
        _check(20.0 <= self.hfov_deg <= 180.0, "camera.hfov_deg", "must be between 20 and 180 (degrees)")


@dataclass(frozen=True)
class ModelSettings:
    name: str = "movenet-lightning-int8"
    path: str | None = None  # a given .tflite file for that model
    num_threads: int = 2
    # turn the hip line to the pelvis line read from the picture (pose/pelvis.py; station.pose.DEFAULT_PELVIS_LINE)
    pelvis_line: bool = True

    def __post_init__(self) -> None:
        _check(1 <= self.num_threads <= 16, "model.num_threads", "must be between 1 and 16")


@dataclass(frozen=True)
class CueSettings:
    """How drop_excursion_deg becomes green / amber / red, and what the buzzer does."""

    enabled: bool = True
    mode: CueMode = "absolute"  # absolute thresholds, or change from the runner's own baseline
    window_steps: int = 8  # rolling window per side
    min_steps: int = 7  # fewer steps than this on a side: no judgement (unreliable in 2D)
    amber_deg: float = 4.0  # absolute mode: window median excursion at or above this is amber
    red_deg: float = 6.0  # ... and at or above this is red
    hysteresis_deg: float = 0.5  # a colour is left only when the median is this far back past its threshold
    baseline_s: float = 120.0  # baseline mode: the first seconds of the session set the baseline
    baseline_amber_delta_deg: float = 2.8  # smallest change a 2D measure detects reliably
    baseline_red_delta_deg: float = 4.2
    fading: bool = False  # faded feedback: cue every step at first, then fewer
    fading_full_s: float = 300.0  # cue on every step for this long
    fading_end_s: float = 1200.0  # ... then fewer, down to none by this session time
    beep_on_red: bool = True
    beep_s: float = 0.08
    metronome: bool = False  # tick the target cadence on the buzzer
    metronome_gain_pct: float = 7.5  # target = measured cadence × (1 + gain/100); 5–10 % in retraining studies
    buzzer_kind: BuzzerKind = "active"

    def __post_init__(self) -> None:
        _check(1 <= self.window_steps <= 100, "cues.window_steps", "must be between 1 and 100")
        _check(1 <= self.min_steps <= self.window_steps, "cues.min_steps", "must be between 1 and cues.window_steps")
        _check(0.0 < self.amber_deg < 45.0, "cues.amber_deg", "must be between 0 and 45")
        _check(self.red_deg > self.amber_deg, "cues.red_deg", "must be greater than cues.amber_deg")
        _check(0.0 <= self.hysteresis_deg < 2.0, "cues.hysteresis_deg", "must be between 0 and 2")
        _check(self.baseline_s > 0, "cues.baseline_s", "must be positive")
        _check(self.baseline_amber_delta_deg > 0, "cues.baseline_amber_delta_deg", "must be positive")
        _check(
            self.baseline_red_delta_deg > self.baseline_amber_delta_deg,
            "cues.baseline_red_delta_deg",
            "must be greater than cues.baseline_amber_delta_deg",
        )
        _check(
            0 < self.fading_full_s < self.fading_end_s, "cues.fading_full_s", "must be positive and below fading_end_s"
        )
        _check(0.0 < self.beep_s <= 2.0, "cues.beep_s", "must be between 0 and 2")
        _check(0.0 <= self.metronome_gain_pct <= 20.0, "cues.metronome_gain_pct", "must be between 0 and 20")


@dataclass(frozen=True)
class PinSettings:
    """BCM pin numbers."""

    green: int = 17
    amber: int = 27
    red: int = 22
    buzzer: int = 18
    button: int = 23

    def __post_init__(self) -> None:
        pins = dataclasses.astuple(self)
        for f, pin in zip(dataclasses.fields(self), pins, strict=True):
            _check(2 <= pin <= 27, f"pins.{f.name}", "must be a BCM GPIO number between 2 and 27")
        _check(len(set(pins)) == len(pins), "pins", "must all be different")


#: a station id: letters, digits, "-" and "_" (it is an MQTT topic level and a broker user name)
STATION_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
HUB_SCHEMES = {"mqtt": 1883, "mqtts": 8883}


def parse_broker_url(url: str, key: str = "hub.url") -> tuple[str, str, int]:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` (TLS) as (scheme, host, port).

    >>> parse_broker_url("mqtts://hub.local")
    ('mqtts', 'hub.local', 8883)
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InputError(f"config: {key} is not a broker URL ({exc})") from None
    _check(parts.scheme in HUB_SCHEMES, key, f"must start with mqtt:// or mqtts:// (got {url!r})")
    _check(bool(parts.hostname), key, f"needs a host name (got {url!r})")
    _check(not parts.username and not parts.password, key,
           "must not hold a user or password (hub.username, hub.password_file)")
    _check(parts.path in ("", "/") and not parts.query, key, f"must be only mqtt[s]://host[:port] (got {url!r})")
    return parts.scheme, str(parts.hostname), port or HUB_SCHEMES[parts.scheme]


@dataclass(frozen=True)
class HubSettings:
    """Publishing to a hub over MQTT (station/hub): off while ``url`` is empty."""

    url: str = ""  # mqtt://host[:port], or mqtts://host[:port] for TLS
    station_id: str = ""  # this station's name on the hub: its topics gait/<station_id>/...
    username: str | None = None  # the broker user (default: the station id, which the broker's ACL expects)
    password_file: str | None = None  # a file holding the broker password (one line)
    tls_ca: str | None = None  # the CA certificate that signed the broker's (mqtts; default: the system's)

    def __post_init__(self) -> None:
        if not self.url:
            return
        scheme, _, _ = parse_broker_url(self.url)
        _check(bool(STATION_ID_RE.fullmatch(self.station_id)), "hub.station_id",
               "must be 1-32 letters, digits, '-' or '_', starting with a letter or digit "
               f"(got {self.station_id!r})")
        if self.tls_ca is not None:
            _check(scheme == "mqtts", "hub.tls_ca", "needs an mqtts:// hub.url")

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    @property
    def user(self) -> str:
        return self.username or self.station_id


@dataclass(frozen=True)
class SessionSettings:
    auto: bool = True  # start a session when a runner appears, end it when they leave
    appear_s: float = 2.0  # runner in view this long before an automatic session starts
    absent_s: float = 10.0  # runner out of view this long ends an automatic session
    default_runner: str = ""

    def __post_init__(self) -> None:
        _check(self.appear_s >= 0, "session.appear_s", "must be ≥ 0")
        _check(self.absent_s > 0, "session.absent_s", "must be positive")
        check_runner_name(self.default_runner, "config: session.default_runner")


@dataclass(frozen=True)
class ClipSettings:
    """Each session's short clip (station.live.clip), kept beside the database."""

    enabled: bool = True
    budget_mb: float = 200.0  # the clips folder is kept under this (oldest clips removed first)

    def __post_init__(self) -> None:
        _check(1.0 <= self.budget_mb <= 100_000.0, "clips.budget_mb", "must be between 1 and 100000 (megabytes)")


@dataclass(frozen=True)
class WebSettings:
    live_page_public: bool = True  # the live page without login, read-only (everything else needs it)
    kiosk_start_stop: bool = False  # anyone on the network may start and stop sessions (a gym kiosk)
    host: str = "0.0.0.0"
    port: int = 8080

    def __post_init__(self) -> None:
        _check(1 <= self.port <= 65535, "web.port", "must be between 1 and 65535")


@dataclass(frozen=True)
class StorageSettings:
    """The disk budget of raw poses (steps, cues and summaries are always kept)."""

    poses_max_disk_pct: float = 50.0  # raw poses use at most this share of the database's filesystem
    poses_max_days: float | None = None  # ... and are kept at most this many days (None: no age limit)
    min_free_mb: float = 1024.0  # below this much free space raw poses go first, oldest first

    def __post_init__(self) -> None:
        _check(1.0 <= self.poses_max_disk_pct <= 90.0, "storage.poses_max_disk_pct", "must be between 1 and 90")
        if self.poses_max_days is not None:
            _check(self.poses_max_days > 0, "storage.poses_max_days", "must be positive (or absent: no age limit)")
        _check(0.0 <= self.min_free_mb <= 1e6, "storage.min_free_mb", "must be between 0 and 1000000")


@dataclass(frozen=True)
class Settings:
    camera: CameraSettings = field(default_factory=CameraSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    cues: CueSettings = field(default_factory=CueSettings)
    pins: PinSettings = field(default_factory=PinSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    hub: HubSettings = field(default_factory=HubSettings)
    web: WebSettings = field(default_factory=WebSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    clips: ClipSettings = field(default_factory=ClipSettings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def merged(self, overrides: dict[str, Any] | None) -> Settings:
        """A copy with the nested ``overrides`` applied (validated like a file)."""
        if not overrides:
            return self
        return from_dict(_deep_merge(self.to_dict(), overrides))


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if errors else f"config: {key} has the wrong type")
    if origin is Literal:
        allowed = typing.get_args(tp)
        _check(value in allowed, key, f"must be one of {', '.join(map(str, allowed))} (got {value!r})")
        return value
    if tp is bool:
        _check(isinstance(value, bool), key, f"must be true or false (got {value!r})")
        return value
    if tp is int:
        _check(isinstance(value, int) and not isinstance(value, bool), key, f"must be a whole number (got {value!r})")
        return value
    if tp is float:
        _check(isinstance(value, int | float) and not isinstance(value, bool), key, f"must be a number (got {value!r})")
        _check(math.isfinite(value), key, f"must be a finite number (got {value!r})")
        return float(value)
    if tp is str:
        _check(isinstance(value, str), key, f"must be text (got {value!r})")
        return value
    if dataclasses.is_dataclass(tp):
        _check(isinstance(value, dict), key, "must be a table")
        return _build(tp, value, key + ".")
    raise InputError(f"config: {key} has an unsupported type")  # pragma: no cover


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"config: unknown setting {prefix}{unknown[0]}")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        raise InputError(f"config: {prefix.rstrip('.')}: {exc}") from None


def from_dict(data: dict[str, Any]) -> Settings:
    """Validated settings from a nested dict (the TOML file's shape)."""
    return _build(Settings, data)


def load_settings(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from the TOML file at ``path`` (or the default locations), then ``overrides``.

    A missing default file is fine (defaults apply); a missing named file is an error.
    """
    explicit = path is not None or "GAIT_STATION_CONFIG" in os.environ
    p = Path(path) if path is not None else Path(os.environ.get("GAIT_STATION_CONFIG", DEFAULT_CONFIG_PATH))
    data: dict[str, Any] = {}
    if p.exists():
        try:
            data = tomllib.loads(read_text_capped(p, MAX_CONFIG_BYTES))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"config: {p}: {exc}") from None
        except InputError as exc:
            raise InputError(f"config: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"config: cannot read {p}: {exc}") from None
    elif explicit:
        raise InputError(f"config: {p}: no such file")
    settings = from_dict(data)
    return settings.merged(overrides)


NEXT_SESSION = "from the next session"
AT_ONCE = "at once"
AT_RESTART = "when the station restarts"

#: when a changed setting reaches the station ("section" or "section.key"; the longer key wins)
TAKES_EFFECT: dict[str, str] = {
    "camera": NEXT_SESSION,  # each session builds its analyzer from the settings at its start
    "camera.source": AT_RESTART,
    "camera.fps": AT_RESTART,  # the camera is opened once, at start
    "camera.hfov_deg": AT_ONCE,  # only the set-up assistant's distance estimate reads it
    "model": AT_RESTART,
    "cues": NEXT_SESSION,  # each session builds its cue policy at its start
    "cues.buzzer_kind": AT_RESTART,  # the board is opened once, at start
    "pins": AT_RESTART,
    "hub": AT_RESTART,  # the publisher connects once, at start
    "session": AT_ONCE,  # the station re-reads saved settings within a second
    "web": AT_ONCE,  # the web page reads them on every request
    "storage": AT_ONCE,  # the station checks the disk budget every minute
    "clips": AT_RESTART,  # the clip recorder is made once, at start
}


def takes_effect(key: str) -> str:
    """When a change to setting ``key`` ("cues.amber_deg") reaches the station."""
    return TAKES_EFFECT.get(key) or TAKES_EFFECT[key.split(".", 1)[0]]


def analyzer_settings(settings: Settings) -> AnalyzerSettings:
    """The analyzer's settings from the station's: the one path from the config to :mod:`station.gait`."""
    cam = settings.camera
    return AnalyzerSettings(view=cam.view, camera_roll_deg=cam.camera_roll_deg, camera_distance_m=cam.distance_m)


def effective_settings(base: Settings, overrides: dict[str, Any] | None) -> tuple[Settings, str | None]:
    """The station's settings with the web page's saved overrides: the one place they merge.

    Overrides that no longer validate (saved under older rules) are ignored rather than
    stopping the station; the second value says why, for the log and the page.
    """
    try:
        return base.merged(overrides), None
    except InputError as exc:
        return base, f"settings saved from the web page ignored: {exc}"


def default_db_path() -> Path:
    """``$GAIT_STATION_DB``, else ``$STATE_DIRECTORY/gait.db`` under systemd, else ~/.local/share/gait-station."""
    if "GAIT_STATION_DB" in os.environ:
        return Path(os.environ["GAIT_STATION_DB"])
    if "STATE_DIRECTORY" in os.environ:  # set by systemd's StateDirectory=
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0]) / "gait.db"
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "gait-station" / "gait.db"


def runtime_dir() -> Path:
    """Where the station writes its live preview JPEG (``$RUNTIME_DIRECTORY`` under systemd)."""
    if "RUNTIME_DIRECTORY" in os.environ:
        return Path(os.environ["RUNTIME_DIRECTORY"].split(":")[0])
    if "GAIT_STATION_RUNTIME_DIR" in os.environ:
        return Path(os.environ["GAIT_STATION_RUNTIME_DIR"])
    return default_db_path().parent / "run"
