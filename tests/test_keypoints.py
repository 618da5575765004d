from pathlib import Path

import numpy as np
import pytest

from station.errors import InputError, MissingFileError
from station.keypoints import (
    KEYPOINT_NAMES,
    TRACK_COLUMNS,
    BodyPart,
    Pose,
    read_track_csv,
    write_track_csv,
)
from tests.conftest import require_shared


def test_body_parts_are_coco_order():
    assert len(BodyPart) == 17
    assert KEYPOINT_NAMES[BodyPart.LEFT_HIP] == "left_hip"
    assert TRACK_COLUMNS[1:4] == ("nose_x", "nose_y", "nose_score")
    assert TRACK_COLUMNS[-1] == "right_ankle_score"


def test_round_trip(tmp_path: Path):
    rng = np.random.default_rng(1)
    poses = [Pose(i / 30, rng.uniform(0, 640, (17, 2)), rng.uniform(0, 1, 17)) for i in range(5)]
    write_track_csv(tmp_path / "t.csv", poses)
    track = read_track_csv(tmp_path / "t.csv")
    assert len(track) == 5
    np.testing.assert_allclose(track.xy, np.stack([p.xy for p in poses]), atol=0.006)
    np.testing.assert_allclose(track.score, np.stack([p.score for p in poses]), atol=0.0006)
    assert track.fps == pytest.approx(30, rel=1e-3)


def test_reads_shared_mocap_track():
    track = read_track_csv(require_shared("mocap", "fukuchi2017", "s01_30fps_clean.track.csv"))
    assert len(track) > 800
    assert track.score[:, BodyPart.LEFT_HIP].min() > 0.3
    assert track.score[:, BodyPart.NOSE].max() == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty file"),
        ("a,b,c\n1,2,3\n", "missing columns"),
        (",".join(TRACK_COLUMNS) + "\n", "no rows"),
        (",".join(TRACK_COLUMNS) + "\n" + ",".join(["0"] * 10) + "\n", "cells"),
        (",".join(TRACK_COLUMNS) + "\n" + ",".join(["x"] * len(TRACK_COLUMNS)) + "\n", "not a number"),
        (",".join(TRACK_COLUMNS) + "\n" + ",".join(["1"] * 52) + "\n" + ",".join(["0"] * 52) + "\n", "backwards"),
    ],
)
def test_bad_csv_is_one_clear_error(tmp_path: Path, text: str, message: str):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        read_track_csv(p)


def test_missing_file(tmp_path: Path):
    with pytest.raises(MissingFileError):
        read_track_csv(tmp_path / "nope.csv")


def test_binary_file(tmp_path: Path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xd8\xff\x00" * 100)
    with pytest.raises(InputError):
        read_track_csv(p)
