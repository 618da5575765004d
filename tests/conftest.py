"""Shared fixtures.

Tests read ../shared/data in place. Without ../shared they skip with a reason,
except under CI=true, where a missing shared folder is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def require_shared(*parts: str) -> Path:
    """Path to a file under ../shared/data; skip (or fail under CI) when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        msg = f"shared test data not found: {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (required under CI=true)")
        pytest.skip(msg)
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
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"blazepose-full could not be fetched under CI: {exc}")
            pytest.skip(f"blazepose-full is not installed and could not be fetched: {exc}")
    return spec
