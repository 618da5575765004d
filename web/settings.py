"""Settings page: thresholds and cue options, view and camera roll, pins, sessions, the live page's openness.

The form is built from the :mod:`station.config` dataclasses. What is saved
is only what differs from the station's own settings (defaults + TOML file),
as the ``settings`` overrides of the store, and only after
``Settings.merged`` has validated the whole result: invalid input shows the
one-line error and saves nothing.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from flask import Blueprint, flash, redirect, render_template, request, url_for

from station.config import Settings, takes_effect
from station.errors import InputError
from web.auth import login_required
from web.db import base_settings, get_store

bp = Blueprint("settings", __name__, url_prefix="/settings")

#: (section, title, fields shown; None = all)
SECTIONS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("cues", "Cues", None),
    ("camera", "Camera", ("view", "camera_roll_deg", "distance_m", "fps")),
    ("session", "Sessions", None),
    ("pins", "GPIO pins (BCM numbers)", None),
    ("web", "Web page", ("live_page_public", "kiosk_start_stop")),
    ("storage", "Storage (raw poses)", None),
)

HELP: dict[str, str] = {
    "cues.enabled": "Light the LEDs and sound the buzzer.",
    "cues.mode": "absolute: the thresholds below; baseline: change from the runner's own start of session.",
    "cues.window_steps": "Each side's rolling window (steps).",
    "cues.min_steps": "No colour until a side has this many steps.",
    "cues.amber_deg": "Drop excursion (median of the window) from which the light turns amber.",
    "cues.red_deg": "... and red.",
    "cues.hysteresis_deg": "A colour is left only this far back below its threshold.",
    "cues.baseline_s": "Baseline mode: the first seconds that set the baseline.",
    "cues.baseline_amber_delta_deg": "Baseline mode: amber at this much above the baseline.",
    "cues.baseline_red_delta_deg": "Baseline mode: red at this much above the baseline.",
    "cues.fading": "Faded feedback: cue every step at first, then less and less.",
    "cues.fading_full_s": "Cue every step for this long (s).",
    "cues.fading_end_s": "No cues at all from this session time (s).",
    "cues.beep_on_red": "Beep when the light turns red.",
    "cues.beep_s": "Beep length (s).",
    "cues.metronome": "Tick a target cadence on the buzzer.",
    "cues.metronome_gain_pct": "Target = measured cadence + this many percent (5–10 % in retraining studies).",
    "cues.buzzer_kind": "active: on/off buzzer; passive: a piezo driven with a tone.",
    "camera.view": "posterior: camera behind the runner; anterior: in front.",
    "camera.camera_roll_deg": "The camera's roll if levelled and known (0 = level); empty = unknown (no peak drop).",
    "camera.distance_m": "Lens to the runner's pelvis (m), if measured. Under 2.5 m, contact is timed from the "
                         "landing ankle (the feet's crossing comes late that close).",
    "camera.fps": "Requested frame rate.",
    "session.auto": "Start a session when a runner appears, end it when they leave.",
    "session.appear_s": "Runner in view this long before an automatic session starts (s).",
    "session.absent_s": "Runner out of view this long ends an automatic session (s).",
    "session.default_runner": "Name used when a session starts without one.",
    "web.live_page_public": "Anyone on the network may see the live page, read-only (no login).",
    "web.kiosk_start_stop": "Anyone on the network may start and stop sessions from the live page (a gym kiosk).",
    "storage.poses_max_disk_pct": "Raw poses (for re-analysis) use at most this share of the disk; the oldest go "
                                  "first. Steps and summaries are always kept.",
    "storage.poses_max_days": "Keep raw poses at most this many days; empty = no age limit.",
    "storage.min_free_mb": "Below this much free space raw poses are removed first, and the running session stops "
                           "keeping them (it goes on measuring).",
}


@dataclasses.dataclass(frozen=True)
class Field:
    key: str  # "cues.amber_deg"
    name: str  # form field name: "cues__amber_deg"
    label: str
    kind: str  # bool | choice | int | float | text
    optional: bool
    choices: tuple[str, ...]
    help: str
    applies: str  # when a change reaches the station (station.config.takes_effect)


def _kind(tp: Any) -> tuple[str, bool, tuple[str, ...]]:
    optional = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        tp = args[0]
    if typing.get_origin(tp) is Literal:
        return "choice", optional, tuple(str(a) for a in typing.get_args(tp))
    return {bool: "bool", int: "int", float: "float"}.get(tp, "text"), optional, ()


def form_fields() -> list[tuple[str, str, list[Field]]]:
    out = []
    hints = typing.get_type_hints(Settings)
    for section, title, names in SECTIONS:
        cls = hints[section]
        sub_hints = typing.get_type_hints(cls)
        fields = []
        for f in dataclasses.fields(cls):
            if names is not None and f.name not in names:
                continue
            kind, optional, choices = _kind(sub_hints[f.name])
            key = f"{section}.{f.name}"
            fields.append(Field(key, f"{section}__{f.name}", f.name.replace("_", " "), kind, optional, choices,
                                HELP.get(key, ""), takes_effect(key)))
        if names is not None:
            fields.sort(key=lambda fl: names.index(fl.key.split(".", 1)[1]))
        out.append((section, title, fields))
    return out


def _parse(field: Field, form: Any) -> Any:
    """The form value as the type config expects; unparseable text passes through for config to name."""
    if field.kind == "bool":
        return field.name in form
    raw = form.get(field.name, "").strip()
    if field.optional and raw == "":
        return None
    if field.kind == "int":
        try:
            return int(raw)
        except ValueError:
            return raw
    if field.kind == "float":
        try:
            return float(raw.replace(",", "."))
        except ValueError:
            return raw
    return raw


def _get(d: dict[str, Any], key: str) -> Any:
    section, name = key.split(".", 1)
    return d.get(section, {}).get(name)


def overrides_from_form(base: Settings, saved: dict[str, Any], form: Any) -> dict[str, Any]:
    """The new overrides: the saved ones for keys not on the form, plus the form's values that differ from base."""
    fields = [f for _, _, fs in form_fields() for f in fs]
    on_form = {f.key for f in fields}
    out: dict[str, Any] = {}
    for section, values in (saved or {}).items():
        if isinstance(values, dict):
            kept = {k: v for k, v in values.items() if f"{section}.{k}" not in on_form}
            if kept:
                out[section] = kept
        else:
            out[section] = values
    base_dict = base.to_dict()
    for f in fields:
        value = _parse(f, form)
        if value != _get(base_dict, f.key) or type(value) is not type(_get(base_dict, f.key)):
            section, name = f.key.split(".", 1)
            out.setdefault(section, {})[name] = value
    return out


def saved_message(before: Settings, after: Settings) -> str:
    """What the save changed and when each change reaches the station."""
    old, new = before.to_dict(), after.to_dict()
    changed = [f for _, _, fs in form_fields() for f in fs if _get(old, f.key) != _get(new, f.key)]
    if not changed:
        return "Settings saved (nothing changed)."
    when: dict[str, list[str]] = {}
    for f in changed:
        when.setdefault(f.applies, []).append(f.label)
    parts = [f"{', '.join(labels)}: {applies}" for applies, labels in when.items()]
    return "Settings saved. " + "; ".join(parts) + "."


def _values(settings_dict: dict[str, Any]) -> dict[str, Any]:
    return {f.key: _get(settings_dict, f.key) for _, _, fs in form_fields() for f in fs}


@bp.route("/", methods=["GET", "POST"])
@login_required
def index() -> Any:
    store = get_store()
    base = base_settings()
    saved = store.settings_overrides()
    error = None
    if request.method == "POST":
        overrides = overrides_from_form(base, saved, request.form)
        try:
            base.merged(overrides)
        except InputError as exc:
            error = str(exc)
            shown = {f.key: (f.name in request.form) if f.kind == "bool" else request.form.get(f.name, "")
                     for _, _, fs in form_fields() for f in fs}  # what was typed, to correct it
            return render_template("settings/index.html", sections=form_fields(), values=shown, error=error,
                                   overridden=set()), 400
        store.set_settings_overrides(overrides)
        flash(saved_message(base.merged(saved), base.merged(overrides)), "ok")
        return redirect(url_for("settings.index"))
    try:
        current = base.merged(saved)
    except InputError as exc:  # overrides saved under older rules
        error = f"the saved settings are no longer valid ({exc}); showing the station's own"
        current = base
    overridden = {f"{s}.{k}" for s, v in (saved or {}).items() if isinstance(v, dict) for k in v}
    return render_template("settings/index.html", sections=form_fields(), values=_values(current.to_dict()),
                           error=error, overridden=overridden)


@bp.route("/reset", methods=["POST"])
@login_required
def reset() -> Any:
    get_store().set_settings_overrides({})
    flash("Settings reset to the station's own (defaults and config file).", "ok")
    return redirect(url_for("settings.index"))
