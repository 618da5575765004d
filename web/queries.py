"""Read-only queries the pages need beyond :class:`station.store.Store`'s methods.

Kept here (not in the store) because only the web reads this way: the last few
steps and the last cue for the live page, which polls every second and must not
load a whole session's steps, and a runner's sessions with their summaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from station.gait.steps import Step
from station.store import Store, decode_step

#: the Step fields the pages read, in the Step's order: everything but the flags, which only the exports carry
_PAGE_FIELDS = tuple(f.name for f in fields(Step) if f.name != "flags")
_FLAGS_AT = [f.name for f in fields(Step)].index("flags")
_DEFAULTED = (_PAGE_FIELDS.index("score_min"), _PAGE_FIELDS.index("frames"))  # None in rows of old stations


def last_steps(store: Store, session_id: int, limit: int, side: str | None = None) -> list[dict[str, Any]]:
    """The last ``limit`` step rows of a session (of one side if given), oldest first."""
    where, params = "session_id = ?", [session_id]
    if side is not None:
        where += " and side = ?"
        params.append(side)
    rows = store.db.query(f"select * from steps where {where} order by idx desc limit ?", [*params, limit])
    return [decode_step(r) for r in reversed(list(rows))]


def session_steps(store: Store, session_id: int) -> list[Step]:
    """A session's steps as :class:`Step` objects for the pages, oldest first: one plain query, no JSON decoding
    (a 30-minute session has ~5,000 steps and its page must stay fast; :meth:`Store.steps` gives the full rows)."""
    cols = ", ".join(_PAGE_FIELDS)
    rows = store.db.execute(f"select {cols} from steps where session_id = ? order by idx", [session_id])
    out = []
    for row in rows:
        if row[_DEFAULTED[0]] is None or row[_DEFAULTED[1]] is None:
            out.append(Step(**{k: v for k, v in zip(_PAGE_FIELDS, row, strict=True)
                               if v is not None or k not in ("score_min", "frames")}))
        else:
            out.append(Step(*row[:_FLAGS_AT], (), *row[_FLAGS_AT:]))
    return out


def last_measured_drops(store: Store, session_id: int, side: str, limit: int) -> list[float]:
    """A side's last ``limit`` drop values (what the cue window holds), oldest first."""
    rows = store.db.execute(
        "select drop_excursion_deg from steps where session_id = ? and side = ? and drop_excursion_deg is not null "
        "order by idx desc limit ?", [session_id, side, limit]).fetchall()
    return [float(r[0]) for r in reversed(rows)]


def last_cue(store: Store, session_id: int, kinds: Sequence[str] = ("led", "framing")) -> dict[str, Any] | None:
    marks = ",".join("?" * len(kinds))
    return next(store.db.query(f"select * from cue_events where session_id = ? and kind in ({marks}) "
                               "order by id desc limit 1", [session_id, *kinds]), None)


def runner_sessions(store: Store, runner_id: int) -> list[dict[str, Any]]:
    """A runner's sessions, oldest first, each with its summary's per-side mean drop (for the trend chart)."""
    sessions = store.sessions(runner_id=runner_id, limit=10_000)[::-1]
    out = []
    for s in sessions:
        summary = store.summary(s)
        out.append({k: s.get(k) for k in ("id", "started_at", "steps", "status")}
                   | {side: {"steps": summary.side(side).steps,
                             "drop_excursion_deg": summary.side(side).means["drop_excursion_deg"]}
                      for side in ("left", "right")}
                   | {"cadence_spm": summary.cadence_spm})
    return out
