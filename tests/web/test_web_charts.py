"""Server-side SVG charts: well-formed, one dot per measured step, bands where the thresholds are."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from web.charts import drop_chart, nice_ticks, trend_chart

SVG = "{http://www.w3.org/2000/svg}"


def _steps(n: int) -> list[dict]:
    return [{"side": "left" if i % 2 == 0 else "right", "t_contact_s": 0.35 * i,
             "drop_excursion_deg": None if i % 7 == 6 else 1.0 + 0.1 * i} for i in range(n)]


def test_drop_chart_is_valid_svg_with_one_dot_per_measured_step() -> None:
    steps = _steps(50)
    root = ET.fromstring(str(drop_chart(steps, 4.0, 6.0)))
    assert root.tag == SVG + "svg"
    dots = {p.get("class"): p for p in root.iter(SVG + "path") if (p.get("class") or "").startswith("dots")}
    for side in ("left", "right"):
        n = sum(1 for s in steps if s["side"] == side and s["drop_excursion_deg"] is not None)
        assert int(dots[f"dots dots-{side}"].get("data-points")) == n
        assert dots[f"dots dots-{side}"].get("d").count("h0") == n
    bands = [r for r in root.iter(SVG + "rect") if r.get("class") == "band"]
    assert len(bands) == 2
    amber, red = bands
    # the red band sits above (smaller y) the amber band and they touch at red_deg
    assert float(red.get("y")) < float(amber.get("y"))
    assert abs(float(red.get("y")) + float(red.get("height")) - float(amber.get("y"))) < 0.2


def test_higher_drop_is_drawn_higher() -> None:
    steps = [{"side": "left", "t_contact_s": 0.0, "drop_excursion_deg": 1.0},
             {"side": "left", "t_contact_s": 1.0, "drop_excursion_deg": 5.0}]
    d = re.search(r'class="dots dots-left"[^>]* d="([^"]+)"', str(drop_chart(steps, 4.0, 6.0))).group(1)
    (x0, y0), (x1, y1) = [tuple(map(float, m)) for m in re.findall(r"M([\d.]+) ([\d.]+)h0", d)]
    assert x1 > x0 and y1 < y0  # later is right, more drop is up (SVG y grows downwards)


def test_empty_and_escaped() -> None:
    svg = str(drop_chart([], 4.0, 6.0))
    assert "No steps measured" in svg
    ET.fromstring(svg)
    # the session labels are dates and times (issue 11: two sessions on one day are told apart); text that is
    # not a date never reaches the SVG (it used to be printed, escaped)
    trend = str(trend_chart([{"started_at": "<b>2026</b>", "left": {"drop_excursion_deg": 2.0},
                              "right": {"drop_excursion_deg": None}},
                             {"started_at": "2026-03-01T09:05:00+00:00", "left": {"drop_excursion_deg": 2.5}}],
                            4.0, 6.0))
    assert "<b>" not in trend and "&lt;b&gt;" not in trend
    assert re.search(r">0[1-2] Mar \d\d:\d\d</text>", trend)  # the second session: date and time, local
    ET.fromstring(trend)
    assert "No measured sessions" in str(trend_chart([], 4.0, 6.0))


def test_nice_ticks_cover_the_range() -> None:
    for lo, hi in ((0, 7.3), (-1.2, 3.3), (0, 0.04), (5, 5)):
        t = nice_ticks(lo, hi)
        assert t[0] <= lo and t[-1] >= hi and len(t) >= 2
