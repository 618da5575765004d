"""``gait-station bench`` runs and reports figures. No speed is asserted: speed is shown, never tested."""

from __future__ import annotations

import json

import pytest

from station.cli import main
from station.pose.models import add
from station.pose.runtime import runtime_status
from tests.conftest import require_shared

VIDEO = ("videos", "radluy_posterior_outdoor_run_openpose_rendered_30fps.mp4")
LIGHTNING = ("models", "movenet_singlepose_lightning_int8_v4.tflite")


@pytest.fixture
def weights(tmp_path, monkeypatch):
    d = tmp_path / "weights"
    monkeypatch.setenv("GAIT_STATION_MODELS_DIR", str(d))
    return d


def test_bench_json_has_both_figures_per_model_and_runtime(weights, capsys):
    add(require_shared(*LIGHTNING))
    video = require_shared(*VIDEO)
    rc = main(["bench", str(video), "--frames", "5", "--threads", "1", "--model", "movenet", "--format", "json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    available = [s.name for s in runtime_status() if s.available]
    assert [r["runtime"] for r in out["results"]] == available
    for r in out["results"]:
        assert r["model"] == "movenet-lightning-int8" and r["frames"] == 5 and r["num_threads"] == 1
        assert r["frame_size"] == [1920, 1080]
        assert r["invokes_per_frame"] >= 1.0
        assert 0 < r["inference_ms_per_frame"] <= r["whole_ms_per_frame"]
        assert r["overhead_ms_per_frame"] == pytest.approx(r["whole_ms_per_frame"] - r["inference_ms_per_frame"], 1e-2)
    assert out["decode_ms_per_frame"] > 0
    missing = {m["runtime"] for m in out["missing_runtimes"]}
    assert missing == {s.name for s in runtime_status() if not s.available}


def test_bench_text_names_what_it_skipped(weights, capsys):
    add(require_shared(*LIGHTNING))
    rc = main(["bench", str(require_shared(*VIDEO)), "--frames", "3", "--threads", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "decoding alone" in out and "infer ms/f" in out and "movenet-lightning-int8" in out
    assert "skipped movenet-thunder-int8: not installed" in out


def test_bench_with_nothing_installed_says_so(weights, capsys):
    assert main(["bench", str(require_shared(*VIDEO)), "--frames", "2", "--model", "movenet-thunder-fp16"]) == 0
    out = capsys.readouterr().out
    assert "nothing to time" in out and "skipped movenet-thunder-fp16" in out


def test_bench_bad_input_is_one_line(weights, tmp_path, capsys):
    assert main(["bench", str(tmp_path / "nope.mp4")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["bench", str(require_shared(*VIDEO)), "--runtime", "onnx"]) == 1
    assert "unknown runtime" in capsys.readouterr().err
