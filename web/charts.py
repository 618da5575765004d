"""Server-side SVG charts: no JavaScript, no chart library, no CDN; they render offline on any phone.

Colours are SVG presentation attributes (not inline CSS), so the pages' strict
Content-Security-Policy allows them. Left = blue circles, right = dark grey
squares (told apart by shape as well as colour). Every text is escaped.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

LEFT_COLOUR = "#1d4ed8"
RIGHT_COLOUR = "#374151"
AMBER_BAND = "#fcd34d"
RED_BAND = "#f87171"
GRID = "#d1d5db"
TEXT = "#111827"
FONT = 'font-family="system-ui, sans-serif"'

_SIDES = (("left", LEFT_COLOUR, "round"), ("right", RIGHT_COLOUR, "square"))


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi].

    >>> nice_ticks(0, 7.3)
    [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v < hi + step * 0.999:
        ticks.append(float(round(v, 10)))
        v += step
    return ticks


class _Frame:
    """Maps data to pixels inside the plot area and writes axes."""

    def __init__(self, width: int, height: int, x_lo: float, x_hi: float, y_lo: float, y_hi: float,
                 left_pad: int = 44, right_pad: int = 12, top_pad: int = 30, bottom_pad: int = 36) -> None:
        self.w, self.h = width, height
        self.x0, self.x1 = left_pad, width - right_pad
        self.y0, self.y1 = height - bottom_pad, top_pad  # y0 = bottom pixel
        self.x_lo, self.x_hi = x_lo, x_hi if x_hi > x_lo else x_lo + 1.0
        self.y_lo, self.y_hi = y_lo, y_hi if y_hi > y_lo else y_lo + 1.0

    def x(self, v: float) -> float:
        return self.x0 + (v - self.x_lo) / (self.x_hi - self.x_lo) * (self.x1 - self.x0)

    def y(self, v: float) -> float:
        return self.y0 - (v - self.y_lo) / (self.y_hi - self.y_lo) * (self.y0 - self.y1)

    def band(self, lo: float, hi: float, colour: str, label: str) -> str:
        lo, hi = max(lo, self.y_lo), min(hi, self.y_hi)
        if hi <= lo:
            return ""
        top, bottom = self.y(hi), self.y(lo)
        return (f'<rect class="band" x="{self.x0}" y="{top:.1f}" width="{self.x1 - self.x0}" '
                f'height="{bottom - top:.1f}" fill="{colour}" fill-opacity="0.35">'
                f'<title>{escape(label)}</title></rect>')

    def y_axis(self, ticks: Sequence[float], unit: str) -> str:
        parts = []
        for t in ticks:
            if self.y_lo - 1e-9 <= t <= self.y_hi + 1e-9:
                y = self.y(t)
                parts.append(f'<line x1="{self.x0}" x2="{self.x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" '
                             'stroke-width="1"/>')
                parts.append(f'<text x="{self.x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" {FONT} '
                             f'fill="{TEXT}">{_num(t)}{escape(unit)}</text>')
        return "".join(parts)

    def x_labels(self, ticks: Sequence[tuple[float, str]]) -> str:
        parts = [f'<line x1="{self.x0}" x2="{self.x1}" y1="{self.y0}" y2="{self.y0}" stroke="{TEXT}" '
                 'stroke-width="1"/>']
        for v, label in ticks:
            x = self.x(v)
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.y0}" y2="{self.y0 + 4}" stroke="{TEXT}"/>')
            parts.append(f'<text x="{x:.1f}" y="{self.y0 + 18}" text-anchor="middle" font-size="12" {FONT} '
                         f'fill="{TEXT}">{escape(label)}</text>')
        return "".join(parts)


def _num(v: float) -> str:
    return f"{v:g}" if abs(v - round(v)) > 1e-9 else str(int(round(v)))


def _svg(width: int, height: int, chart_id: str, title: str, body: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def _legend(frame: _Frame, extra: str = "") -> str:
    y = 16
    parts = []
    x = frame.x0
    for (_, colour, cap), label in zip(_SIDES, ("left stance", "right stance"), strict=True):
        parts.append(f'<path d="M{x + 6} {y - 4}h0" stroke="{colour}" stroke-width="9" stroke-linecap="{cap}"/>')
        parts.append(f'<text x="{x + 16}" y="{y}" font-size="13" {FONT} fill="{TEXT}">{escape(label)}</text>')
        x += 100
    if extra:
        parts.append(f'<text x="{frame.x1}" y="{y}" text-anchor="end" font-size="12" {FONT} '
                     f'fill="{TEXT}">{escape(extra)}</text>')
    return "".join(parts)


def _dots(frame: _Frame, points: Sequence[tuple[float, float]], colour: str, cap: str, side: str) -> str:
    """All points of a side as one compact path of zero-length segments (round or square caps)."""
    if not points:
        return ""
    d = "".join(f"M{frame.x(t):.1f} {frame.y(v):.1f}h0" for t, v in points)
    return (f'<path class="dots dots-{side}" data-points="{len(points)}" d="{d}" stroke="{colour}" '
            f'stroke-width="6" stroke-linecap="{cap}" fill="none"/>')


def _line(frame: _Frame, points: Sequence[tuple[float, float]], colour: str, side: str, width: float = 2.0) -> str:
    if len(points) < 2:
        return ""
    pts = " ".join(f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in points)
    return (f'<polyline class="line line-{side}" points="{pts}" fill="none" stroke="{colour}" '
            f'stroke-width="{width}" stroke-linejoin="round"/>')


def _rolling_median(points: Sequence[tuple[float, float]], window: int) -> list[tuple[float, float]]:
    out = []
    for i in range(window - 1, len(points)):
        out.append((points[i][0], statistics.median(v for _, v in points[i - window + 1:i + 1])))
    return out


def _time_ticks(t_lo: float, t_hi: float) -> list[tuple[float, str]]:
    minutes = (t_hi - t_lo) > 120
    scale = 60.0 if minutes else 1.0
    ticks = nice_ticks(t_lo / scale, t_hi / scale, 6)
    return [(t * scale, f"{_num(t)} {'min' if minutes else 's'}") for t in ticks if t_lo <= t * scale <= t_hi + 1e-9]


def drop_chart(steps: Sequence[dict[str, Any]], amber_deg: float, red_deg: float, *, window_steps: int = 8,
               width: int = 420, height: int = 260, chart_id: str = "drop-chart") -> Markup:
    """Every step's ``drop_excursion_deg`` over stream time, per stance side, on the amber/red bands.

    Each side also gets its rolling median over ``window_steps`` (what the cue light judges).
    """
    series: dict[str, list[tuple[float, float]]] = {"left": [], "right": []}
    for s in steps:
        v, t = s.get("drop_excursion_deg"), s.get("t_contact_s")
        if s.get("side") in series and isinstance(v, int | float) and isinstance(t, int | float):
            series[s["side"]].append((float(t), float(v)))
    all_pts = series["left"] + series["right"]
    title = f"Pelvic drop per step: {len(series['left'])} left, {len(series['right'])} right"
    if not all_pts:
        frame = _Frame(width, height, 0, 1, 0, red_deg + 2)
        body = (frame.band(amber_deg, red_deg, AMBER_BAND, "amber") + frame.band(red_deg, 1e9, RED_BAND, "red")
                + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="16" {FONT} '
                  f'fill="{TEXT}">No steps measured</text>')
        return _svg(width, height, chart_id, "Pelvic drop per step: no steps measured", body)
    t_lo, t_hi = min(p[0] for p in all_pts), max(p[0] for p in all_pts)
    values = [p[1] for p in all_pts]
    y_lo = min(0.0, math.floor(min(values)))
    y_hi = max(red_deg + 2.0, math.ceil(max(values) + 0.5))
    frame = _Frame(width, height, t_lo, t_hi, y_lo, y_hi)
    parts = [
        frame.band(amber_deg, red_deg, AMBER_BAND, f"amber: {_num(amber_deg)}° to {_num(red_deg)}°"),
        frame.band(red_deg, y_hi, RED_BAND, f"red: {_num(red_deg)}° and above"),
        frame.y_axis(nice_ticks(y_lo, y_hi, 6), "°"),
        frame.x_labels(_time_ticks(t_lo, t_hi)),
    ]
    for side, colour, cap in _SIDES:
        parts.append(_dots(frame, series[side], colour, cap, side))
    for side, colour, _ in _SIDES:
        parts.append(_line(frame, _rolling_median(series[side], window_steps), colour, side))
    parts.append(_legend(frame, f"line: median of {window_steps}"))
    return _svg(width, height, chart_id, title, "".join(parts))


def trend_chart(rows: Sequence[dict[str, Any]], amber_deg: float, red_deg: float, *, width: int = 420,
                height: int = 240, chart_id: str = "trend-chart") -> Markup:
    """Each session's mean drop per side, sessions in order (evenly spaced, dates under the first and last)."""
    series: dict[str, list[tuple[float, float]]] = {"left": [], "right": []}
    for i, r in enumerate(rows):
        for side in series:
            v = (r.get(side) or {}).get("drop_excursion_deg")
            if isinstance(v, int | float):
                series[side].append((float(i), float(v)))
    all_pts = series["left"] + series["right"]
    if not all_pts:
        frame = _Frame(width, height, 0, 1, 0, red_deg + 2)
        body = (f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="16" {FONT} '
                f'fill="{TEXT}">No measured sessions yet</text>')
        return _svg(width, height, chart_id, "Drop trend: no measured sessions", body)
    n = len(rows)
    values = [p[1] for p in all_pts]
    y_lo = min(0.0, math.floor(min(values)))
    y_hi = max(red_deg + 2.0, math.ceil(max(values) + 0.5))
    frame = _Frame(width, height, -0.5, n - 0.5, y_lo, y_hi, left_pad=44, right_pad=16)
    labels = [(0.0, str(rows[0].get("started_at") or "")[:10])]
    if n > 1:
        labels.append((float(n - 1), str(rows[-1].get("started_at") or "")[:10]))
    parts = [
        frame.band(amber_deg, red_deg, AMBER_BAND, "amber"),
        frame.band(red_deg, y_hi, RED_BAND, "red"),
        frame.y_axis(nice_ticks(y_lo, y_hi, 6), "°"),
        frame.x_labels(labels),
    ]
    for side, colour, cap in _SIDES:
        parts.append(_line(frame, series[side], colour, side, 1.5))
        parts.append(_dots(frame, series[side], colour, cap, side).replace('stroke-width="6"', 'stroke-width="10"'))
    parts.append(_legend(frame, f"{n} sessions, mean per side"))
    return _svg(width, height, chart_id, f"Mean pelvic drop per session over {n} sessions", "".join(parts))
