"""Shared fixtures.

Tests read ../shared/data in place. Without ../shared they skip with a reason,
except under CI=true, where a missing shared folder is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def skip_or_fail(msg: str) -> NoReturn:
    """Skip a test whose material is missing here; under CI=true the material is required, so fail."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg + " (required under CI=true)")
    pytest.skip(msg)


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
