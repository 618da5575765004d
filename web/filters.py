"""Jinja filters: numbers with units ("—" for null), durations, local date-times."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

DASH = "—"


def num(value: Any, digits: int = 1, unit: str = "", signed: bool = False) -> str:
    """A number for the page; ``None`` (not measured) is a dash, never 0.

    >>> num(2.345, 1, "°"), num(None), num(0.5, 1, "°", signed=True), num(-0.04, 1, "°"), num(-1.25, 1)
    ('2.3°', '—', '+0.5°', '0.0°', '−1.2')
    """
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        return DASH
    if round(value, digits) == 0:
        value = 0.0  # never "-0.0°"
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text.replace("-", "−") + unit


def ci(value: Any, unit: str = "°") -> str:
    """The half-width of a 95 % range: "± 0.4°", "± <0.1°" when it rounds to nothing, "" when there is none.

    >>> ci(0.42), ci(0.03), ci(None)
    ('± 0.4°', '± <0.1°', '')
    """
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        return ""
    return f"± {value:.1f}{unit}" if value >= 0.05 else f"± <0.1{unit}"


def duration(seconds: Any) -> str:
    """``h:mm:ss`` or ``m:ss``.

    >>> duration(75.4), duration(3725), duration(None)
    ('1:15', '1:02:05', '—')
    """
    if not isinstance(seconds, int | float) or seconds < 0:
        return DASH
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def parse_utc(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


LABEL_TIME = "%d %b %H:%M"  # a short label with date and time: "02 Dec 14:05"


def local_time(text: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC timestamp in the station's local time."""
    when = parse_utc(text)
    return when.astimezone().strftime(fmt) if when else DASH


def init_app(app: Flask) -> None:
    from web.metrics import measured_keys

    app.jinja_env.globals["label_time"] = LABEL_TIME
    app.jinja_env.globals["measured_keys"] = measured_keys
    app.jinja_env.filters["num"] = num
    app.jinja_env.filters["ci"] = ci
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["local_time"] = local_time
