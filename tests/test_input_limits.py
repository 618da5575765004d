"""Bounded memory on any input file, and one-line errors (issue 14, findings 7 and 8).

A file with no line breaks used to be read whole as one line (a 2 GB one peaked at
4.25 GB and was OOM-killed with no message). Peak memory is measured as the child's
``ru_maxrss`` through a small wrapper, so other tests' children do not count. The
2 GB figure itself comes from ``scripts/bench_kiosk.py memory``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.errors import InputError
from station.keypoints import iter_track_csv

WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "print(r.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
           "sys.stdout.write(r.stderr)")
BIG_MB = 300


def run_measured(tmp_path: Path, *args: str) -> tuple[int, float, str]:
    """(exit code, peak RSS in MB, stderr) of ``gait-station ARGS``."""
    env = {**os.environ, "GAIT_STATION_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    out = subprocess.run([sys.executable, "-c", WRAPPER, sys.executable, "-m", "station.cli", *args],
                         capture_output=True, text=True, timeout=300, env=env)
    rc, kb, *err = out.stdout.split("\n")
    return int(rc), int(kb) / 1024, "\n".join(err).strip()


@pytest.fixture(scope="module")
def no_line_breaks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300 MB file without a single line break (sparse: costs no disk)."""
    path = tmp_path_factory.mktemp("big") / "runner.csv"
    with path.open("wb") as f:
        f.write(b"t_s,nose_x")
        f.truncate(BIG_MB * 1024 * 1024)
    return path


@pytest.mark.parametrize("verb", ["analyze", "run"])
def test_a_huge_file_without_line_breaks_is_refused_in_bounded_memory(tmp_path: Path, no_line_breaks: Path,
                                                                       verb: str) -> None:
    args = [verb, str(no_line_breaks)] if verb == "analyze" else [
        verb, "--source", str(no_line_breaks), "--db", str(tmp_path / "g.db"), "--mock-pins", "--no-preview"]
    rc, peak_mb, err = run_measured(tmp_path, *args)
    assert rc == 1, err
    lines = [ln for ln in err.splitlines() if ln.startswith("gait-station:")]
    assert len(lines) == 1 and "Traceback" not in err and "longer than" in lines[0], err
    assert peak_mb < BIG_MB, f"peak {peak_mb:.0f} MB reading a {BIG_MB} MB file"


def test_track_lines_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("t_s," + "x" * 100_000 + "\n")
    with pytest.raises(InputError, match="line 1 is longer than"):
        next(iter_track_csv(path))


def test_a_huge_truth_or_config_file_is_refused(tmp_path: Path) -> None:
    from station.config import load_settings
    from station.validation import load_truth

    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.write(b"{")
        f.truncate(100 * 1024 * 1024)
    with pytest.raises(InputError, match="larger than"):
        load_truth(big)
    toml = tmp_path / "big.toml"
    toml.write_text("# " + "x" * (2 * 1024 * 1024))
    with pytest.raises(InputError, match="larger than"):
        load_settings(toml)
    assert json.loads('{"ok": 1}')  # (the small case is everyone else's tests)
