"""scripts/drop_floor.py: what a perfect hip line reads through a camera, against the motion capture's truth."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT, SHARED_DATA, require_shared


@pytest.fixture(scope="module")
def floor() -> ModuleType:
    require_shared("mocap", "fukuchi2017", "RBDS001runT25markers.txt")
    if not (SHARED_DATA.parent / "tools" / "mocap_track.py").exists():
        require_shared("..", "tools", "mocap_track.py")
    spec = importlib.util.spec_from_file_location("drop_floor", ROOT / "scripts" / "drop_floor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_hip_joints_seen_from_afar_read_the_truths_excursion(floor: ModuleType, tmp_path: Path) -> None:
    track, truth = floor.track("s01", 60.0, 60.0, tmp_path)
    summary = json.loads(truth.read_text())["summary"]
    image = floor.image_excursions(track, truth)
    for side in ("left", "right"):
        assert summary[side]["drop_excursion_deg"] > 1.5  # s01 drops about 2.1 deg a side
        assert image[side] == pytest.approx(summary[side]["drop_excursion_deg"], abs=0.06), side
