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
