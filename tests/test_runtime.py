"""The one interpreter loader: which runtime, how many threads, and one-line errors for bad model files."""

from __future__ import annotations

import numpy as np
import pytest

from station.errors import InputError, MissingFileError, ModelError
from station.pose import runtime
from station.pose.runtime import TFLiteModel, available_runtimes, runtime_status
from tests.conftest import require_shared

LIGHTNING = ("models", "movenet_singlepose_lightning_int8_v4.tflite")


def test_a_runtime_is_available_and_litert_comes_first():
    names = available_runtimes()
    assert names, "no TFLite runtime imports in this environment"
    statuses = runtime_status()
    assert [s.name for s in statuses] == ["ai-edge-litert", "tflite-runtime"]
    for s in statuses:
        assert s.available or s.error  # a missing runtime says why
    assert names[0] == next(s.name for s in statuses if s.available)


def test_loads_lightning_with_explicit_threads_and_runs_it():
    m = TFLiteModel(require_shared(*LIGHTNING), num_threads=1)
    assert m.num_threads == 1
    assert m.runtime == available_runtimes()[0]
    assert m.input_shape == (1, 192, 192, 3)
    assert m.input_dtype == np.uint8
    (out,) = m.run(np.zeros((1, 192, 192, 3), np.uint8))
    assert out.shape == (1, 1, 17, 3)
    assert m.invokes == 1 and m.invoke_s > 0
    m.close()
    with pytest.raises(ModelError):
        m.run(np.zeros((1, 192, 192, 3), np.uint8))


def test_default_threads_are_set_not_left_to_the_runtime():
    m = TFLiteModel(require_shared(*LIGHTNING))
    assert 1 <= m.num_threads <= 4


def test_falls_back_to_the_second_runtime_when_the_first_does_not_import(monkeypatch):
    # the first entry cannot import; the second is a real interpreter module (LiteRT's, standing in for tflite_runtime)
    first = available_runtimes()[0]
    monkeypatch.setattr(
        runtime, "RUNTIMES", {"broken-runtime": "no_such_module_xyz.interpreter", first: runtime.RUNTIMES[first]}
    )
    m = TFLiteModel(require_shared(*LIGHTNING), num_threads=1)
    assert m.runtime == first
    assert m.run(np.zeros((1, 192, 192, 3), np.uint8))[0].shape == (1, 1, 17, 3)


def test_no_runtime_at_all_is_a_model_error(monkeypatch):
    monkeypatch.setattr(runtime, "RUNTIMES", {"a": "no_such_module_a", "b": "no_such_module_b"})
    with pytest.raises(ModelError, match="no TFLite runtime"):
        TFLiteModel(require_shared(*LIGHTNING))


def test_unknown_or_unavailable_runtime(monkeypatch):
    with pytest.raises(InputError, match="unknown runtime"):
        TFLiteModel(require_shared(*LIGHTNING), runtime="onnx")
    missing = [s.name for s in runtime_status() if not s.available]
    if missing:
        with pytest.raises(ModelError, match="not usable here"):
            TFLiteModel(require_shared(*LIGHTNING), runtime=missing[0])


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, not a model\n", bytes(range(256)) * 40, "truncated"],
    ids=["empty", "text", "random", "truncated"],
)
def test_corrupt_model_files_are_one_line_model_errors(tmp_path, content):
    path = tmp_path / "bad.tflite"
    if content == "truncated":
        content = require_shared(*LIGHTNING).read_bytes()[:100_000]
    path.write_bytes(content)
    with pytest.raises(ModelError) as err:
        TFLiteModel(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(MissingFileError):
        TFLiteModel(tmp_path / "nope.tflite")
    with pytest.raises(ModelError, match="directory"):
        TFLiteModel(tmp_path)
