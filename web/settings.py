"""Settings page in plain words: the light and the buzzer, the camera, sessions, the live page; the rest (the
judgement's details, the wiring, the camera's frame rate, clips) behind "Advanced".

The form is built from the :mod:`station.config` dataclasses; each field has a label in plain words, its unit
and a line of help (:data:`WORDS`). What is saved is only what differs from the station's own settings
(defaults + TOML file), as the ``settings`` overrides of the store, and only after ``Settings.merged`` has
validated the whole result: invalid input shows the one-line error, in the page's words
(:func:`page_error`), and saves nothing. The validation rules are :mod:`station.config`'s.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, Literal

from flask import Blueprint, flash, redirect, render_template, request, url_for

from station.config import Settings, takes_effect
from station.errors import InputError
from web.auth import login_required
from web.db import base_settings, get_store

bp = Blueprint("settings", __name__, url_prefix="/settings")

#: the form's groups: (id, title, settings "section.key" in order, advanced)
GROUPS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("light", "The light and the buzzer", ("cues.enabled", "cues.mode", "cues.amber_deg", "cues.red_deg",
                                           "cues.baseline_s", "cues.baseline_amber_delta_deg",
                                           "cues.baseline_red_delta_deg", "cues.beep_on_red", "cues.metronome",
                                           "cues.metronome_gain_pct", "cues.fading", "cues.fading_full_s",
                                           "cues.fading_end_s"), False),
    ("camera", "Camera", ("camera.view", "camera.distance_m", "camera.camera_roll_deg", "camera.hfov_deg"), False),
    ("session", "Sessions", ("session.auto", "session.appear_s", "session.absent_s", "session.default_runner"), False),
    ("web", "Live page", ("web.live_page_public", "web.kiosk_start_stop"), False),
    ("judgement", "How the light judges", ("cues.window_steps", "cues.min_steps", "cues.hysteresis_deg",
                                           "cues.beep_s"), True),
    ("wiring", "Wiring (GPIO pins as BCM numbers) and buzzer", ("pins.green", "pins.amber", "pins.red",
                                                                "pins.buzzer", "pins.button", "cues.buzzer_kind"),
     True),
    ("capture", "Camera capture and clips", ("camera.fps", "clips.enabled", "clips.budget_mb"), True),
    ("storage", "Storage of the raw keypoints", ("storage.poses_max_disk_pct", "storage.poses_max_days",
                                                 "storage.min_free_mb"), True),
)
#: settings the page never shows (set in the station's file): which camera and model, where the page listens
NOT_ON_PAGE = ("camera.source", "model", "web.host", "web.port")
MORE = ("more", "More settings")  # any other setting gets a field here, under its own name

#: each setting in the page's words: (label, unit, help, {value: label} for choices)
WORDS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "cues.enabled": ("Light and buzzer on", "", "Show the runner the light and sound the buzzer. Measuring goes "
                     "on when they are off.", {}),
    "cues.mode": ("Judge the hip drop against", "", "Fixed lines, or the change from the runner's own first "
                  "minutes (for a runner whose drop is high to begin with).",
                  {"absolute": "fixed lines (below)", "baseline": "the runner's own start"}),
    "cues.amber_deg": ("Amber from", "°", "The light turns amber when a side's hip drop (median of its last steps) "
                       "reaches this.", {}),
    "cues.red_deg": ("Red from", "°", "… and red (with a beep) from this.", {}),
    "cues.baseline_s": ("Own start: the first", "s", "With “the runner's own start”: these first seconds set the "
                        "runner's own level.", {}),
    "cues.baseline_amber_delta_deg": ("Own start: amber at", "° above", "2.8° is the smallest change a 2D camera "
                                      "measures reliably.", {}),
    "cues.baseline_red_delta_deg": ("Own start: red at", "° above", "", {}),
    "cues.beep_on_red": ("Beep when the light turns red", "", "One short beep; it does not say which side.", {}),
    "cues.metronome": ("Metronome", "", "Tick a target cadence on the buzzer (then there is no red beep).", {}),
    "cues.metronome_gain_pct": ("Metronome faster than the runner by", "%", "5–10 % in retraining studies.", {}),
    "cues.fading": ("Fade the feedback", "", "The light on every step at first, then less each minute, so the "
                    "runner learns to feel the change.", {}),
    "cues.fading_full_s": ("Feedback on every step for the first", "s", "", {}),
    "cues.fading_end_s": ("No feedback after", "s", "", {}),
    "camera.view": ("The camera is", "", "", {"posterior": "behind the runner", "anterior": "in front of the runner"}),
    "camera.distance_m": ("Distance from the lens to the runner's hips", "m", "If you measured it. Nearer than "
                          "2.5 m the station times foot contact from the landing ankle.", {}),
    "camera.camera_roll_deg": ("Camera tilt", "°", "Leave empty unless you levelled the camera (0) or measured its "
                               "tilt; only the hip drop below level needs it.", {}),
    "camera.hfov_deg": ("Camera's field of view, side to side", "°", "Camera Module 3: 66, Wide: 102. The set-up "
                        "assistant's distance uses it.", {}),
    "session.auto": ("Start and stop sessions by themselves", "", "A session starts when a runner appears and ends "
                     "when they leave.", {}),
    "session.appear_s": ("Runner in view this long starts a session", "s", "", {}),
    "session.absent_s": ("Runner away this long ends it", "s", "", {}),
    "session.default_runner": ("Name when none is given", "", "", {}),
    "web.live_page_public": ("Live page open to anyone on the Wi-Fi", "", "They can see it without the "
                             "password.", {}),
    "web.kiosk_start_stop": ("Anyone may start and stop sessions", "", "From the live page, without the password "
                             "(a gym kiosk).", {}),
    "storage.poses_max_disk_pct": ("Raw keypoints may use at most", "% of the disk", "Kept for re-analysis; the "
                                   "oldest go first. Steps and summaries are always kept.", {}),
    "storage.poses_max_days": ("Keep raw keypoints for at most", "days", "Empty: no age limit.", {}),
    "storage.min_free_mb": ("Keep at least this much disk free", "MB", "Below it the raw keypoints go first and the "
                            "running session stops keeping them (it goes on measuring).", {}),
    "cues.window_steps": ("Steps per side the light judges", "steps", "The median of each side's last steps.", {}),
    "cues.min_steps": ("Steps a side needs before a colour", "steps", "", {}),
    "cues.hysteresis_deg": ("A colour holds until the drop is back by", "°", "So a drop sitting on a line does not "
                            "flicker the light.", {}),
    "cues.beep_s": ("Beep length", "s", "", {}),
    "pins.green": ("Green LED", "GPIO", "", {}),
    "pins.amber": ("Amber LED", "GPIO", "", {}),
    "pins.red": ("Red LED", "GPIO", "", {}),
    "pins.buzzer": ("Buzzer", "GPIO", "", {}),
    "pins.button": ("Start/stop button", "GPIO", "", {}),
    "cues.buzzer_kind": ("Buzzer type", "", "See hardware.md.",
                         {"active": "active (beeps by itself)", "passive": "passive (a piezo, played as tones)"}),
    "camera.fps": ("Frames a second asked of the camera", "fps", "", {}),
    "clips.enabled": ("Keep a short clip of each session", "", "A few seconds of the most typical steps, skeleton "
                      "drawn, for before/after.", {}),
    "clips.budget_mb": ("Disk space for clips", "MB", "The oldest clips go first.", {}),
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
    unit: str = ""
    choice_labels: tuple[tuple[str, str], ...] = ()  # (value, words)


def _kind(tp: Any) -> tuple[str, bool, tuple[str, ...]]:
    optional = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        tp = args[0]
    if typing.get_origin(tp) is Literal:
        return "choice", optional, tuple(str(a) for a in typing.get_args(tp))
    return {bool: "bool", int: "int", float: "float"}.get(tp, "text"), optional, ()


def _field(key: str) -> Field:
    section, name = key.split(".", 1)
    hints = typing.get_type_hints(typing.get_type_hints(Settings)[section])
    kind, optional, choices = _kind(hints[name])
    label, unit, help_text, choice_words = WORDS.get(key, (name.replace("_", " "), "", "", {}))
    return Field(key, f"{section}__{name}", label, kind, optional, choices, help_text, takes_effect(key), unit,
                 tuple((c, choice_words.get(c, c)) for c in choices))


def _all_keys() -> list[str]:
    out = []
    for section, cls in typing.get_type_hints(Settings).items():
        out += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    return out


def form_fields() -> list[tuple[str, str, list[Field]]]:
    """The form's groups: (id, title, fields); a setting none of them names (a new one) comes under "More"."""
    known = _all_keys()
    groups = [(group, title, [_field(k) for k in keys if k in known]) for group, title, keys, _ in GROUPS]
    listed = {k for _, _, keys, _ in GROUPS for k in keys}
    rest = [_field(k) for k in known if k not in listed and not any(k == n or k.startswith(n + ".")
                                                                     for n in NOT_ON_PAGE)]
    return [g for g in groups if g[2]] + ([(*MORE, rest)] if rest else [])


ADVANCED = {group for group, _, _, advanced in GROUPS if advanced} | {MORE[0]}


def page_error(message: str) -> str:
    """A settings error in the page's words: ``config: cues.red_deg must be greater than cues.amber_deg`` becomes
    ``“Red from (°)” must be greater than “Amber from (°)”.``"""
    text = message.removeprefix("config: ")
    labels = {f.key: f"“{f.label}{f' ({f.unit})' if f.unit else ''}”" for _, _, fs in form_fields() for f in fs}
    text = re.sub(r"\b(\w+\.\w+)\b", lambda m: labels.get(m.group(1), m.group(1)), text)
    text = re.sub(r"^pins must all be different", "each GPIO pin can do one thing: the pins must all be different",
                  text)
    text = text.replace("(got ", "(you typed ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


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
            error = page_error(str(exc))
            shown = {f.key: (f.name in request.form) if f.kind == "bool" else request.form.get(f.name, "")
                     for _, _, fs in form_fields() for f in fs}  # what was typed, to correct it
            return render_template("settings/index.html", sections=form_fields(), advanced=ADVANCED, values=shown,
                                   error=error, overridden=set()), 400
        store.set_settings_overrides(overrides)
        flash(saved_message(base.merged(saved), base.merged(overrides)), "ok")
        return redirect(url_for("settings.index"))
    try:
        current = base.merged(saved)
    except InputError as exc:  # overrides saved under older rules
        error = f"The saved settings are no longer valid ({page_error(str(exc))}); showing the station's own."
        current = base
    overridden = {f"{s}.{k}" for s, v in (saved or {}).items() if isinstance(v, dict) for k in v}
    return render_template("settings/index.html", sections=form_fields(), advanced=ADVANCED,
                           values=_values(current.to_dict()), error=error, overridden=overridden)


@bp.route("/reset", methods=["POST"])
@login_required
def reset() -> Any:
    get_store().set_settings_overrides({})
    flash("Settings reset to the station's own (defaults and config file).", "ok")
    return redirect(url_for("settings.index"))
