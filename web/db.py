"""One :class:`station.store.Store` per request, kept on ``flask.g`` and closed in teardown (as flaskr does)."""

from __future__ import annotations

from flask import Flask, current_app, g

from station.config import Settings, load_settings
from station.errors import InputError
from station.store import Store


def get_store() -> Store:
    if "store" not in g:
        g.store = Store(current_app.config["DATABASE"], migrate=False)
    return g.store


def close_store(exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def base_settings() -> Settings:
    """The station's settings before the web's overrides: defaults, then the TOML file if there is one."""
    try:
        return load_settings(current_app.config.get("CONFIG_PATH"))
    except InputError as exc:
        current_app.logger.warning("ignoring the settings file: %s", exc)
        return Settings()


def effective_settings() -> Settings:
    """The settings the station runs with: file, then the overrides saved from the settings page."""
    base = base_settings()
    try:
        return base.merged(get_store().settings_overrides())
    except InputError as exc:
        current_app.logger.warning("ignoring saved settings overrides: %s", exc)
        return base


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_store)
