"""Clothing as vertex colours on the body: shirt, tights or shorts, socks, shoes, skin and hair.

Regions come from the skinning weights (which segment moves a vertex) and the rest pose (how far down
the thigh, how far along the arm). Colours are drawn from small palettes by the seed.
"""

from __future__ import annotations

import numpy as np

from twin.body import SEGMENTS, Body

SKIN = [(0.96, 0.80, 0.69), (0.87, 0.68, 0.55), (0.76, 0.57, 0.42), (0.55, 0.38, 0.26), (0.36, 0.24, 0.16)]
HAIR = [(0.1, 0.08, 0.06), (0.3, 0.2, 0.1), (0.55, 0.4, 0.2), (0.75, 0.62, 0.4), (0.2, 0.2, 0.2)]
SHIRT = [(0.85, 0.1, 0.1), (0.1, 0.3, 0.75), (0.95, 0.95, 0.95), (0.15, 0.15, 0.15), (0.1, 0.6, 0.35),
         (0.95, 0.55, 0.1), (0.55, 0.2, 0.6), (0.3, 0.75, 0.85)]
BOTTOM = [(0.08, 0.08, 0.1), (0.15, 0.17, 0.3), (0.3, 0.3, 0.32), (0.05, 0.2, 0.25), (0.4, 0.1, 0.15)]
SHOE = [(0.95, 0.95, 0.95), (0.1, 0.1, 0.1), (0.9, 0.3, 0.2), (0.2, 0.5, 0.9), (0.95, 0.85, 0.2)]

CLOTHING = ("tights", "shorts")


def clothing_colors(body: Body, clothing: str, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, tuple]]:
    """Per-vertex RGB (0..1, sRGB) and the colours chosen."""
    pick = {name: tuple(pal[rng.integers(len(pal))]) for name, pal in
            (("skin", SKIN), ("hair", HAIR), ("shirt", SHIRT), ("bottom", BOTTOM), ("shoe", SHOE))}
    while np.allclose(pick["shirt"], pick["bottom"], atol=0.1):
        pick["shirt"] = tuple(SHIRT[rng.integers(len(SHIRT))])
    v = body.vertices
    j = body.joints
    seg = np.array(SEGMENTS)[np.argmax(body.weights, axis=1)]
    leg_w = sum(body.weights[:, SEGMENTS.index(f"{p}.{s}")] for p in ("thigh", "shank") for s in "LR")
    hip_y = (j["upperleg01.L"][1] + j["upperleg01.R"][1]) / 2
    knee_y = (j["lowerleg01.L"][1] + j["lowerleg01.R"][1]) / 2
    ankle_y = (j["foot.L"][1] + j["foot.R"][1]) / 2
    waist_y = hip_y + 0.13
    col = np.tile(np.asarray(pick["skin"]), (len(v), 1))
    trunk = np.isin(seg, ["pelvis", "spine05", "spine04", "spine03", "spine02", "spine01"]) | (leg_w > 0.02)
    col[trunk & (v[:, 1] >= waist_y)] = pick["shirt"]
    # short sleeves: the upper arm's first 40 %
    for s in "LR":
        sh, el = j[f"upperarm01.{s}"], j[f"lowerarm01.{s}"]
        axis = el - sh
        along = (v - sh) @ axis / (axis @ axis)
        on_arm = (seg == f"upperarm.{s}") | ((seg == "spine01") & (along > 0))
        col[on_arm & (along < 0.4)] = pick["shirt"]
    lower = trunk & (v[:, 1] < waist_y)
    if clothing == "shorts":
        hem_y = hip_y - 0.4 * (hip_y - knee_y)
        col[lower & (v[:, 1] >= hem_y)] = pick["bottom"]
    else:
        col[lower & (v[:, 1] >= ankle_y + 0.06)] = pick["bottom"]
    col[(v[:, 1] < ankle_y + 0.06) & (v[:, 1] >= ankle_y - 0.01)] = (0.92, 0.92, 0.9)  # socks
    col[v[:, 1] < ankle_y - 0.01] = pick["shoe"]
    col[body.hair] = pick["hair"]
    return col, {k: [round(float(x), 3) for x in c] for k, c in pick.items()}
