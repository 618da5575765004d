"""Server-side SVG charts: no JavaScript, no chart library, no CDN; they render offline on any phone.

Colours are SVG presentation attributes (not inline CSS), so the pages' strict
Content-Security-Policy allows them. Left = blue circles, right = dark grey
squares (told apart by shape as well as colour). Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from web.filters import LABEL_TIME, local_time

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
    for (_, colour, cap), label in zip(_SIDES, ("left", "right"), strict=True):
        parts.append(f'<circle cx="{x + 6}" cy="{y - 4}" r="4.5" fill="{colour}"/>' if cap == "round" else
                     f'<rect x="{x + 1.5}" y="{y - 8.5}" width="9" height="9" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="{y}" font-size="13" {FONT} fill="{TEXT}">{escape(label)}</text>')
        x += 64
    if extra:
        parts.append(f'<text x="{frame.x1}" y="{y}" text-anchor="end" font-size="12" {FONT} '
                     f'fill="{TEXT}">{escape(extra)}</text>')
    return "".join(parts)


def _dots(frame: _Frame, points: Sequence[tuple[float, float]], colour: str, cap: str, side: str, *,
          kind: str = "dots", width: float = 6, opacity: float = 1.0) -> str:
    """All points of a side as one compact path of zero-length segments (round or square caps)."""
    if not points:
        return ""
    d = "".join(f"M{frame.x(t):.1f} {frame.y(v):.1f}h0" for t, v in points)
    fade = f' stroke-opacity="{opacity:g}"' if opacity < 1 else ""
    return (f'<path class="{kind} {kind}-{side}" data-points="{len(points)}" d="{d}" stroke="{colour}" '
            f'stroke-width="{width:g}"{fade} stroke-linecap="{cap}" fill="none"/>')


def _line(frame: _Frame, points: Sequence[tuple[float, float]], colour: str, side: str, width: float = 2.0) -> str:
    if len(points) < 2:
        return ""
    pts = " ".join(f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in points)
    return (f'<polyline class="line line-{side}" points="{pts}" fill="none" stroke="{colour}" '
            f'stroke-width="{width}" stroke-linejoin="round"/>')


def _time_ticks(t_lo: float, t_hi: float) -> list[tuple[float, str]]:
    minutes = (t_hi - t_lo) > 120
    scale = 60.0 if minutes else 1.0
    ticks = nice_ticks(t_lo / scale, t_hi / scale, 6)
    return [(t * scale, f"{_num(t)} {'min' if minutes else 's'}") for t in ticks if t_lo <= t * scale <= t_hi + 1e-9]


BIN_CHOICES_S = (5, 10, 15, 20, 30, 60, 120, 300, 600)
MAX_BINS = 30  # readable on a phone: about one point per 12 px
DOTS_MAX = 300  # a side with more steps than this is drawn as its trend only (4,970 dots are a smear, not a picture)

Bin = tuple[int, float, float, float]


def bin_width_s(span_s: float) -> int:
    """The shortest of :data:`BIN_CHOICES_S` giving at most :data:`MAX_BINS` bins over ``span_s``.

    >>> bin_width_s(30), bin_width_s(600), bin_width_s(1800)
    (5, 20, 60)
    """
    return next((b for b in BIN_CHOICES_S if span_s / b <= MAX_BINS), BIN_CHOICES_S[-1])


def binned(points: Sequence[tuple[float, float]], width_s: float, t0_s: float) -> list[Bin]:
    """Per time bin with values: (bin index, bin middle time, mean, half-width of its 95 % interval; 0 for one value).

    >>> [tuple(round(v, 3) for v in b) for b in binned([(0.5, 1.0), (1.5, 3.0), (12.0, 5.0)], 10.0, 0.0)]
    [(0, 5.0, 2.0, 1.96), (1, 15.0, 5.0, 0.0)]
    """
    if not points:
        return []
    t, v = np.asarray(points, dtype=float).T
    idx = ((t - t0_s) // width_s).astype(int)
    out = []
    for i in np.unique(idx):
        vals = v[idx == i]
        ci = 1.96 * float(np.std(vals, ddof=1)) / math.sqrt(len(vals)) if len(vals) >= 2 else 0.0
        out.append((int(i), t0_s + (int(i) + 0.5) * width_s, float(np.mean(vals)), ci))
    return out


def _runs(bins: Sequence[Bin]) -> list[list[Bin]]:
    """Bins split where one is missing (a pause out of view): each run is drawn as one line and band."""
    runs: list[list[Bin]] = []
    for b in bins:
        if runs and b[0] == runs[-1][-1][0] + 1:
            runs[-1].append(b)
        else:
            runs.append([b])
    return runs


def _ci_band(frame: _Frame, run: Sequence[Bin], colour: str, side: str) -> str:
    if len(run) < 2:
        return ""
    top = [f"{frame.x(t):.1f},{frame.y(m + c):.1f}" for _, t, m, c in run]
    bottom = [f"{frame.x(t):.1f},{frame.y(m - c):.1f}" for _, t, m, c in reversed(run)]
    return (f'<polygon class="ci ci-{side}" points="{" ".join(top + bottom)}" fill="{colour}" fill-opacity="0.18" '
            'stroke="none"/>')


def drop_chart(steps: Sequence[Mapping[str, Any] | Any], amber_deg: float, red_deg: float, *, width: int = 420,
               height: int = 260, chart_id: str = "drop-chart") -> Markup:
    """Each side's hip drop over the session: the mean per time bin (:func:`bin_width_s`: 5 s for a 30-second
    run, a minute for a 30-minute one) with the band of its 95 % interval, on the amber/red bands; each step as
    a faint dot while a side has at most :data:`DOTS_MAX` of them."""
    series: dict[str, list[tuple[float, float]]] = {"left": [], "right": []}
    for s in steps:
        side, t, v = (s.get(k) if isinstance(s, Mapping) else getattr(s, k, None)  # a row or a Step
                      for k in ("side", "t_contact_s", "drop_excursion_deg"))
        if side in series and isinstance(v, int | float) and isinstance(t, int | float):
            series[side].append((float(t), float(v)))
    all_pts = series["left"] + series["right"]
    title = f"Hip drop over the session: {len(series['left'])} left steps, {len(series['right'])} right"
    if not all_pts:
        frame = _Frame(width, height, 0, 1, 0, red_deg + 2)
        body = (frame.band(amber_deg, red_deg, AMBER_BAND, "amber") + frame.band(red_deg, 1e9, RED_BAND, "red")
                + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="16" {FONT} '
                  f'fill="{TEXT}">No steps measured</text>')
        return _svg(width, height, chart_id, "Hip drop: no steps measured", body)
    t_lo, t_hi = min(p[0] for p in all_pts), max(p[0] for p in all_pts)
    bin_s = bin_width_s(t_hi - t_lo)
    bins = {side: binned(pts, bin_s, t_lo) for side, pts in series.items()}
    dots = {side: len(pts) <= DOTS_MAX for side, pts in series.items()}
    values = [v for side, pts in series.items() if dots[side] for _, v in pts]
    values += [m + sgn * c for b in bins.values() for _, _, m, c in b for sgn in (-1, 1)]
    y_lo = min(0.0, math.floor(min(values)))
    y_hi = max(red_deg + 2.0, math.ceil(max(values) + 0.5))
    frame = _Frame(width, height, t_lo, max(t_hi, t_lo + bin_s), y_lo, y_hi)
    parts = [
        frame.band(amber_deg, red_deg, AMBER_BAND, f"amber: {_num(amber_deg)}° to {_num(red_deg)}°"),
        frame.band(red_deg, y_hi, RED_BAND, f"red: {_num(red_deg)}° and above"),
        frame.y_axis(nice_ticks(y_lo, y_hi, 6), "°"),
        frame.x_labels(_time_ticks(t_lo, t_hi)),
    ]
    for side, colour, cap in _SIDES:
        if dots[side]:
            parts.append(_dots(frame, series[side], colour, cap, side, width=5, opacity=0.35))
    for side, colour, _ in _SIDES:
        parts.extend(_ci_band(frame, run, colour, side) for run in _runs(bins[side]))
    for side, colour, cap in _SIDES:
        for run in _runs(bins[side]):
            pts = [(t, m) for _, t, m, _ in run]
            parts.append(_line(frame, pts, colour, side, 2.5) if len(pts) >= 2 else
                         _dots(frame, pts, colour, cap, side, kind="mean", width=8))
    every = f"{bin_s} s" if bin_s < 60 else f"{bin_s // 60} min"
    parts.append(_legend(frame, f"mean per {every} · band 95 %"))
    return _svg(width, height, chart_id, title, "".join(parts))


def change_chart(rows: Sequence[tuple[str, dict[str, Any], dict[str, Any]]], amber_deg: float, red_deg: float, *,
                 labels: tuple[str, str] = ("before", "after"), width: int = 420, chart_id: str = "change-chart",
                 title: str = "Hip drop: before and after") -> Markup:
    """Per row (a side), two means with their 95 % whiskers and an arrow from the first to the second, on the
    amber/red bands: "did it change, and by more than the noise?" at a glance.

    ``rows``: (label, before, after), each ``{"mean": deg or None, "ci95": deg or None}``.
    """
    row_h, top, bottom = 44, 34, 30
    height = top + bottom + row_h * len(rows)
    ends = [e["mean"] + sgn * (e.get("ci95") or 0.0) for _, a, b in rows for e in (a, b)
            if e.get("mean") is not None for sgn in (-1, 1)]
    x_lo = min([0.0, *[math.floor(v) for v in ends]])
    x_hi = max([red_deg + 1.0, *[math.ceil(v + 0.3) for v in ends]])
    frame = _Frame(width, height, x_lo, x_hi, 0, 1, left_pad=58, right_pad=14, top_pad=top, bottom_pad=bottom)
    x = frame.x
    parts = []
    for lo, hi, colour, name in ((amber_deg, red_deg, AMBER_BAND, "amber"), (red_deg, x_hi, RED_BAND, "red")):
        if hi > lo:
            parts.append(f'<rect class="band" x="{x(lo):.1f}" y="{top - 6}" width="{x(hi) - x(lo):.1f}" '
                         f'height="{row_h * len(rows) + 6}" fill="{colour}" fill-opacity="0.35">'
                         f'<title>{name} from {_num(lo)}°</title></rect>')
    parts.append(frame.x_labels([(t, f"{_num(t)}°") for t in nice_ticks(x_lo, x_hi, 6) if x_lo <= t <= x_hi]))
    colours = {side: colour for side, colour, _ in _SIDES}
    for i, (label, a, b) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        colour = colours.get(label.lower(), TEXT)
        parts.append(f'<text x="{frame.x0 - 8}" y="{y + 5:.1f}" text-anchor="end" font-size="14" font-weight="700" '
                     f'{FONT} fill="{colour}">{escape(label)}</text>')
        for e, after, dy in ((a, False, -7), (b, True, 7)):
            if e.get("mean") is None:
                continue
            ci = e.get("ci95") or 0.0
            parts.append(f'<line class="whisker" x1="{x(e["mean"] - ci):.1f}" x2="{x(e["mean"] + ci):.1f}" '
                         f'y1="{y + dy:.1f}" y2="{y + dy:.1f}" stroke="{colour}" stroke-width="2"/>')
            parts.append(f'<circle class="mark mark-{"after" if after else "before"}" cx="{x(e["mean"]):.1f}" '
                         f'cy="{y + dy:.1f}" r="6" fill="{colour if after else "#fff"}" stroke="{colour}" '
                         'stroke-width="2.5"/>')
        if a.get("mean") is not None and b.get("mean") is not None and abs(x(b["mean"]) - x(a["mean"])) > 12:
            xa, xb = x(a["mean"]), x(b["mean"])
            head = 6 if xb > xa else -6
            parts.append(f'<path class="arrow" d="M{xa:.1f} {y:.1f}H{xb - head:.1f}m0 -4l{head} 4l{-head} 4z" '
                         f'stroke="{colour}" fill="{colour}" stroke-width="1.5"/>')
    ly, lx = 16, frame.x0
    parts.append(f'<circle cx="{lx + 6}" cy="{ly - 4}" r="5" fill="#fff" stroke="{TEXT}" stroke-width="2"/>'
                 f'<text x="{lx + 16}" y="{ly}" font-size="13" {FONT} fill="{TEXT}">{escape(labels[0])}</text>'
                 f'<circle cx="{lx + 146}" cy="{ly - 4}" r="5" fill="{TEXT}"/>'
                 f'<text x="{lx + 156}" y="{ly}" font-size="13" {FONT} fill="{TEXT}">{escape(labels[1])}</text>'
                 f'<text x="{frame.x1}" y="{ly}" text-anchor="end" font-size="12" {FONT} fill="{TEXT}">'
                 'lines: 95 %</text>')
    return _svg(width, height, chart_id, title, "".join(parts))


def trend_chart(rows: Sequence[dict[str, Any]], amber_deg: float, red_deg: float, *, width: int = 420,
                height: int = 240, chart_id: str = "trend-chart") -> Markup:
    """Each session's mean drop per side, sessions in order (evenly spaced, date and time under the first and last)."""
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
    labels = [(0.0, local_time(rows[0].get("started_at"), LABEL_TIME))]
    if n > 1:  # date and time: two sessions on one day are told apart
        labels.append((float(n - 1), local_time(rows[-1].get("started_at"), LABEL_TIME)))
    parts = [
        frame.band(amber_deg, red_deg, AMBER_BAND, "amber"),
        frame.band(red_deg, y_hi, RED_BAND, "red"),
        frame.y_axis(nice_ticks(y_lo, y_hi, 6), "°"),
        frame.x_labels(labels),
    ]
    for side, colour, cap in _SIDES:
        parts.append(_line(frame, series[side], colour, side, 1.5))
        parts.append(_dots(frame, series[side], colour, cap, side, width=10))
    parts.append(_legend(frame, f"{n} sessions, mean per side"))
    return _svg(width, height, chart_id, f"Mean hip drop per session over {n} sessions", "".join(parts))
