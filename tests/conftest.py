"""Shared fixtures.

Tests read ../shared/data in place. Without ../shared they skip with a reason,
except under CI=true, where a missing shared folder is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
# the browser tests (tests/browser.py): Debian's Chromium, never `playwright install`
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
ARTIFACTS = ROOT / "test-artifacts"


def skip_or_fail(msg: str) -> NoReturn:
    """Skip a test whose material is missing here; under CI=true the material is required, so fail."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg + " (required under CI=true)")
    pytest.skip(msg)


def load_module(path: Path) -> ModuleType:
    """A script (scripts/, ../shared/tools) imported from its file, under its file name (registered, so its
    dataclasses can look their module up)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def require_shared(*parts: str) -> Path:
    """Path to a file under ../shared/data; skip (or fail under CI) when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        skip_or_fail(f"shared test data not found: {path}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def mocap_dir() -> Path:
    return require_shared("mocap", "fukuchi2017")


@pytest.fixture(scope="session")
def blazepose_spec():
    """The blazepose-full manifest entry, installed once (from the mediapipe wheel on PyPI).

    Skips off CI when it cannot be fetched; fails under CI=true.
    """
    from station.errors import ModelError
    from station.pose.models import fetch, is_installed, load_manifest

    spec = load_manifest().get("blazepose-full")
    if not is_installed(spec):
        try:
            fetch(spec.name)
        except ModelError as exc:
            skip_or_fail(f"blazepose-full is not installed and could not be fetched: {exc}")
    return spec


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.js_errors = errors
    try:
        yield pg
    finally:
        context.close()


def require_chromium() -> Path:
    """Debian's Chromium; skip (or fail under CI=true) without it."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} not found (apt-get install chromium)")
    return CHROMIUM
