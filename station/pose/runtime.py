"""The one place that loads a TFLite interpreter.

``ai_edge_litert`` (Google's LiteRT, the successor of the TensorFlow Lite
runtime, wheels for Python 3.9-3.14 on Linux x86_64/aarch64, macOS and
Windows) is tried first; ``tflite_runtime`` (last release 2.14.0, Python
<= 3.11, built against numpy 1.x) is the fallback. ``num_threads`` is always set
explicitly: the runtimes' own default differs between releases and is not what
a 4-core Pi wants.

:class:`TFLiteModel` wraps an interpreter with its input/output details so the
estimators only see numpy arrays; everything here raises
:class:`~station.errors.ModelError` (or :class:`~station.errors.MissingFileError`)
with a one-line message instead of the runtimes' own exceptions.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from station.errors import InputError, MissingFileError, ModelError

log = logging.getLogger(__name__)

#: runtime name -> module holding ``Interpreter``, in order of preference
RUNTIMES: dict[str, str] = {
    "ai-edge-litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
}
#: the pip distribution that provides each runtime (for "how to install" hints)
RUNTIME_PACKAGES: dict[str, str] = {
    "ai-edge-litert": "ai-edge-litert",
    "tflite-runtime": "tflite-runtime==2.14.0 (Python <= 3.11, numpy < 2)",
}


@dataclass(frozen=True)
class RuntimeStatus:
    """Whether a runtime imports here, its version, or why it does not."""

    name: str
    available: bool
    version: str | None = None
    error: str | None = None


def _import_runtime(name: str) -> Any:
    module_name = RUNTIMES[name]
    return importlib.import_module(module_name)


def _runtime_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def runtime_status() -> list[RuntimeStatus]:
    """Every known runtime with whether it imports in this environment (and why not)."""
    out: list[RuntimeStatus] = []
    for name in RUNTIMES:
        try:
            _import_runtime(name)
        except Exception as exc:  # ImportError, or numpy ABI errors raised at import time
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            out.append(RuntimeStatus(name, False, _runtime_version(name), msg))
        else:
            out.append(RuntimeStatus(name, True, _runtime_version(name)))
    return out


def available_runtimes() -> list[str]:
    """Names of the runtimes that import here, in order of preference."""
    return [s.name for s in runtime_status() if s.available]


def default_num_threads() -> int:
    """All cores up to 4 (a Pi 4/5 has 4; more threads do not help models this small)."""
    return max(1, min(4, os.cpu_count() or 1))


def _pick_runtime(runtime: str | None) -> tuple[str, Any]:
    if runtime is not None:
        if runtime not in RUNTIMES:
            raise InputError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
        try:
            return runtime, _import_runtime(runtime)
        except Exception as exc:
            raise ModelError(
                f"runtime {runtime} is not usable here ({exc}); install {RUNTIME_PACKAGES[runtime]}"
            ) from None
    errors = []
    for name in RUNTIMES:
        try:
            return name, _import_runtime(name)
        except Exception as exc:
            errors.append(f"{name}: {exc}")
            log.debug("runtime %s not usable: %s", name, exc)
    raise ModelError("no TFLite runtime found (" + "; ".join(errors) + "); run: pip install ai-edge-litert")


@contextlib.contextmanager
def _native_stderr_quiet() -> Iterator[None]:
    """Keep native code's writes to file descriptor 2 off the terminal while an interpreter is built.

    LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." from
    C++, which breaks the CLI's promise of one line on stderr. Kept when logging
    is at INFO or more verbose (``-v``), where it is wanted.
    """
    if logging.getLogger().isEnabledFor(logging.INFO):
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)
        os.close(saved)


class TFLiteModel:
    """A loaded ``.tflite`` model: numpy in, numpy out.

    ``inputs`` / ``outputs`` are the interpreter's tensor details (dicts with
    ``shape``, ``dtype``, ``quantization``, ``index``, ``name``).
    """

    def __init__(self, model_path: str | Path, num_threads: int | None = None, runtime: str | None = None) -> None:
        path = Path(model_path)
        if not path.exists():
            raise MissingFileError(f"{path}: no such model file")
        if path.is_dir():
            raise ModelError(f"{path}: is a directory, not a .tflite model")
        self.path = path
        self.num_threads = int(num_threads) if num_threads else default_num_threads()
        if self.num_threads < 1:
            raise InputError(f"num_threads must be at least 1, got {num_threads}")
        self.runtime, module = _pick_runtime(runtime)
        try:
            with _native_stderr_quiet():
                self._interpreter = module.Interpreter(model_path=str(path), num_threads=self.num_threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: not a usable TFLite model ({first})") from None
        #: time spent in ``invoke()`` and how many calls, for ``gait-station bench``
        self.invoke_s = 0.0
        self.invokes = 0
        self.inputs: list[dict[str, Any]] = list(self._interpreter.get_input_details())
        self.outputs: list[dict[str, Any]] = list(self._interpreter.get_output_details())
        log.info("loaded %s with %s, %d threads", path.name, self.runtime, self.num_threads)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.inputs[0]["shape"])

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.inputs[0]["dtype"])

    def run(self, *tensors: np.ndarray) -> list[np.ndarray]:
        """Set the inputs, invoke, and return copies of all outputs (in output-details order)."""
        if self._interpreter is None:
            raise ModelError(f"{self.path.name}: model is closed")
        for detail, tensor in zip(self.inputs, tensors, strict=True):
            self._interpreter.set_tensor(detail["index"], tensor)
        t0 = time.perf_counter()
        self._interpreter.invoke()
        self.invoke_s += time.perf_counter() - t0
        self.invokes += 1
        return [self._interpreter.get_tensor(d["index"]).copy() for d in self.outputs]

    def close(self) -> None:
        self._interpreter = None

    def __repr__(self) -> str:
        return f"TFLiteModel({self.path.name!r}, runtime={self.runtime!r}, num_threads={self.num_threads})"
