#!/usr/bin/env bash
# The README's main command (`make run`): one command from a fresh clone.
#
#   on a Raspberry Pi with a camera  -> the live station (`gait-station run --source camera`)
#                                       plus the web page (`gait-station serve`) if it is not already a service
#   anywhere else                    -> `gait-station demo`: a simulated runner drives the whole station
#
# Arguments go to the command chosen, e.g. `make run ARGS="--duration-s 30"` or
# `scripts/start.sh --duration-s 30`. GAIT_STATION_MODE=demo|live forces the choice.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
if [ ! -x "$bin/gait-station" ]; then
    scripts/setup-venv.sh .venv
fi
gs="$bin/gait-station"

mode="${GAIT_STATION_MODE:-}"
if [ -z "$mode" ]; then
    if "$bin/python" -c 'import sys; from station.camera.picam import camera_present; sys.exit(0 if camera_present() else 1)' \
        2>/dev/null; then
        mode=live
    else
        mode=demo
    fi
fi

case "$mode" in
demo)
    echo "start: no Raspberry Pi camera here: running the demo (a simulated runner; Ctrl-C to stop)" >&2
    exec "$gs" demo "$@"
    ;;
live)
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet gait-station 2>/dev/null; then
        echo "start: the gait-station service is already running (it owns the camera); see: journalctl -u gait-station -f" >&2
        exit 0
    fi
    if ! "$bin/python" -c 'import sys; from station.pose.models import load_manifest, is_installed; from station.pose import DEFAULT_MODEL; sys.exit(0 if is_installed(load_manifest().get(DEFAULT_MODEL)) else 1)' 2>/dev/null; then
        echo "start: fetching the default pose model" >&2
        "$gs" models fetch movenet-lightning-int8
    fi
    web_pid=""
    if ! { command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet gait-web 2>/dev/null; }; then
        "$gs" serve &
        web_pid=$!
        trap '[ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null; wait' EXIT
    fi
    echo "start: the live station on the Pi camera (Ctrl-C closes the session and stops)" >&2
    "$gs" -v run --source camera "$@"
    ;;
*)
    echo "start: GAIT_STATION_MODE must be demo or live (got '$mode')" >&2
    exit 2
    ;;
esac
