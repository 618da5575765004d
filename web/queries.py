"""Read-only aggregate queries the pages need beyond :class:`station.store.Store`'s methods.

Kept here (not in the store) because only the web reads this way: per-session
side means for the list, and the last few steps / the last cue for the live
page, which polls every second and must not load a whole session's steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from station.store import Store, decode_step


def side_means(store: Store, session_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per session: {"left"/"right": {"steps", "drop_excursion_deg"}, "cadence_spm"} from the steps table."""
    out: dict[int, dict[str, Any]] = {
        sid: {"left": {"steps": 0, "drop_excursion_deg": None}, "right": {"steps": 0, "drop_excursion_deg": None},
              "cadence_spm": None}
        for sid in session_ids
    }
    if not session_ids:
        return out
    marks = ",".join("?" * len(session_ids))
    sql = f"""select session_id, side, count(*) as n, avg(drop_excursion_deg) as drop_deg
              from steps where session_id in ({marks}) group by session_id, side"""
    for r in store.db.query(sql, list(session_ids)):
        if r["side"] in ("left", "right"):
            out[r["session_id"]][r["side"]] = {"steps": r["n"], "drop_excursion_deg": r["drop_deg"]}
    sql = f"""select session_id, count(*) as n, min(t_contact_s) as t0, max(t_contact_s) as t1
              from steps where session_id in ({marks}) group by session_id"""
    for r in store.db.query(sql, list(session_ids)):
        if r["n"] >= 2 and r["t1"] > r["t0"]:
            out[r["session_id"]]["cadence_spm"] = 60.0 * (r["n"] - 1) / (r["t1"] - r["t0"])
    return out


def last_steps(store: Store, session_id: int, limit: int, side: str | None = None) -> list[dict[str, Any]]:
    """The last ``limit`` steps of a session (of one side if given), oldest first."""
    where, params = "session_id = ?", [session_id]
    if side is not None:
        where += " and side = ?"
        params.append(side)
    rows = store.db.query(f"select * from steps where {where} order by idx desc limit ?", [*params, limit])
    return [decode_step(r) for r in reversed(list(rows))]


def last_measured_steps(store: Store, session_id: int, side: str, limit: int) -> list[dict[str, Any]]:
    """A side's last ``limit`` steps that have a drop value (what the cue window holds), oldest first."""
    rows = store.db.query(
        "select * from steps where session_id = ? and side = ? and drop_excursion_deg is not null "
        "order by idx desc limit ?", [session_id, side, limit])
    return [decode_step(r) for r in reversed(list(rows))]


def last_cue(store: Store, session_id: int, kinds: Sequence[str] = ("led", "framing")) -> dict[str, Any] | None:
    marks = ",".join("?" * len(kinds))
    return next(store.db.query(f"select * from cue_events where session_id = ? and kind in ({marks}) "
                               "order by id desc limit 1", [session_id, *kinds]), None)


def runner_session_means(store: Store, runner_id: int) -> list[dict[str, Any]]:
    """A runner's sessions, oldest first, with each side's mean drop (for the trend chart)."""
    sessions = list(store.db.query(
        "select id, started_at, steps, status from sessions where runner_id = ? order by started_at, id",
        [runner_id]))
    means = side_means(store, [s["id"] for s in sessions])
    return [{**s, **means[s["id"]]} for s in sessions]
