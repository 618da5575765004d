#!/usr/bin/env bash
# Install the gait station as two systemd services on Raspberry Pi OS (Bookworm), or a hub for many stations.
#
#   git clone <repo> gait-station && cd gait-station && sudo scripts/install.sh
#   sudo scripts/install.sh --role hub --add-station treadmill-1 --add-station track   # the club's hub
#   sudo scripts/install.sh --hub mqtt://hub.local:1883 --station-id treadmill-1       # a station joins it
#
# What it does (every step can be re-run: run it again after `git pull` to upgrade):
#   1. apt: python3-venv, python3-picamera2 (the camera; built against apt's numpy),
#      python3-lgpio (GPIO for gpiozero on the Pi 5 and Bookworm), rsync.
#   2. a system user "gaitstation" in the gpio and video groups (GPIO pins, camera).
#   3. the code copied to /opt/gait-station/src, a venv at /opt/gait-station/.venv that
#      sees apt's picamera2 and lgpio (--system-site-packages); numpy is held at apt's
#      version so picamera2's compiled parts keep working (pip then picks an OpenCV
#      wheel built for that numpy).
#   4. the default pose model fetched into /opt/gait-station/models (sha256-checked).
#   5. /etc/gait-station/config.toml (a commented starter, never overwritten).
#   6. systemd/gait-station.service and systemd/gait-web.service installed, enabled
#      and (re)started.
#
# Hub role (--role hub): instead of the camera and the model, Mosquitto (Debian's mosquitto) with no
# anonymous access, a password per station (mosquitto_passwd) and an ACL that lets a station write only its
# own topics and read only its own commands (`gait-station hub acl`); the gait-hub service writes every
# station into /var/lib/gait-station/hub.db and gait-web serves that database.
#
# Options:
#   --no-start    install and enable, but do not (re)start the services
#   --no-models   skip the model fetch (offline: copy a .tflite over and run
#                 `gait-station models add FILE` as root later)
#   --model NAME  the model to fetch (default movenet-lightning-int8)
#   --role ROLE   station (default) or hub
#   --add-station NAME    (hub) a broker user for station NAME with a new password, printed once;
#                         again to give it a new password
#   --tls-cert FILE --tls-key FILE   (hub) stations connect with TLS on 8883 (plain 1883 stays on localhost)
#   --hub URL --station-id NAME      (station) publish to a hub (mqtt://host:1883 or mqtts://host:8883): the
#                         [hub] settings, and the station's broker password asked here into
#                         /etc/gait-station/hub-password
#   --hub-ca FILE         (station) the CA certificate for an mqtts:// hub
set -euo pipefail

APP_DIR=/opt/gait-station
SERVICE_USER=gaitstation
STATE_DIR=/var/lib/gait-station
CONFIG_DIR=/etc/gait-station
CACHE_DIR=/var/cache/gait-station
UNIT_DIR=/etc/systemd/system
UNITS=(gait-station.service gait-web.service)
OS_RELEASE=${GAIT_STATION_OS_RELEASE:-/etc/os-release}  # overridable for the script's own tests
MODEL=movenet-lightning-int8
START=1
FETCH=1
ROLE=station
ADD_STATIONS=()
TLS_CERT=
TLS_KEY=
HUB_URL=
STATION_ID=
HUB_CA=
ARGS=("$@")

say() { printf 'install: %s\n' "$*"; }
warn() { printf 'install: warning: %s\n' "$*" >&2; }
die() {
    printf 'install: %s\n' "$*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    --no-start) START=0 ;;
    --no-models) FETCH=0 ;;
    --model)
        [ $# -ge 2 ] || die "--model needs a name"
        MODEL=$2
        shift
        ;;
    --role | --add-station | --tls-cert | --tls-key | --hub | --station-id | --hub-ca)
        [ $# -ge 2 ] || die "$1 needs a value"
        case "$1" in
        --role) ROLE=$2 ;;
        --add-station) ADD_STATIONS+=("$2") ;;
        --tls-cert) TLS_CERT=$2 ;;
        --tls-key) TLS_KEY=$2 ;;
        --hub) HUB_URL=$2 ;;
        --station-id) STATION_ID=$2 ;;
        --hub-ca) HUB_CA=$2 ;;
        esac
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done

case "$ROLE" in
station | hub) ;;
*) die "--role must be station or hub (got '$ROLE')" ;;
esac
if [ "$ROLE" = hub ] && [ -n "$HUB_URL$STATION_ID" ]; then
    die "--hub and --station-id are for a station (--role station)"
fi
if [ "$ROLE" = station ] && [ "${#ADD_STATIONS[@]}" -gt 0 ]; then
    die "--add-station is for the hub (--role hub)"
fi
if [ -n "$HUB_URL" ] && [ -z "$STATION_ID" ]; then
    die "--hub needs --station-id NAME (the name the hub knows this station by)"
fi
if [ -n "$TLS_CERT$TLS_KEY" ] && { [ -z "$TLS_CERT" ] || [ -z "$TLS_KEY" ]; }; then
    die "--tls-cert and --tls-key go together"
fi
for name in "${ADD_STATIONS[@]}" "$STATION_ID"; do
    if [ -n "$name" ] && ! [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ ]]; then
        die "station id '$name': 1-32 letters, digits, '-' or '_', starting with a letter or digit"
    fi
done
if [ "$ROLE" = hub ]; then
    UNITS=(gait-hub.service gait-web.service)
    FETCH=0 # the hub runs no pose model
fi

# -- preconditions: refuse politely ------------------------------------------------------------
if [ ! -r "$OS_RELEASE" ]; then
    die "cannot read $OS_RELEASE; this installer is for Raspberry Pi OS / Debian. Elsewhere run 'make run' (the demo)."
fi
os_field() { # one field of os-release (KEY=value or KEY="value"), without sourcing the file
    sed -n "s/^$1=//p" "$OS_RELEASE" | head -n 1 | tr -d "\"'"
}
os_id=$(os_field ID)
os_like=$(os_field ID_LIKE)
os_codename=$(os_field VERSION_CODENAME)
case " $os_id $os_like " in
*" debian "* | *" raspbian "* | *" ubuntu "*) ;;
*) die "this installer is for Raspberry Pi OS / Debian (found '${os_id:-unknown}'). Elsewhere run 'make run' (the demo)." ;;
esac
if [ "$(id -u)" -ne 0 ]; then
    die "please run as root: sudo $0 ${ARGS[*]}"
fi
command -v apt-get >/dev/null || die "apt-get not found; this installer needs a Debian-like system"
command -v systemctl >/dev/null || die "systemctl not found; the services need systemd"
[ "$os_codename" = bookworm ] || warn "written for Bookworm (found '${os_codename:-unknown}'); carrying on"

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -f "$SRC_DIR/pyproject.toml" ] && [ -d "$SRC_DIR/station" ] || die "run this from the project's checkout ($SRC_DIR is not one)"

is_pi=0
if [ -r /proc/device-tree/model ] && grep -qa "Raspberry Pi" /proc/device-tree/model; then
    is_pi=1
elif [ "$ROLE" = station ]; then
    warn "not a Raspberry Pi: no camera module or GPIO here; the station service will fail to find them"
fi

# -- 1. apt packages -----------------------------------------------------------------------------
say "apt packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
wanted=(python3 python3-venv python3-pip python3-numpy rsync ca-certificates)
camera_packages=(python3-picamera2 python3-lgpio)
if [ "$ROLE" = hub ]; then
    wanted+=(mosquitto mosquitto-clients)
    camera_packages=()
fi
# Raspberry Pi OS only (archive.raspberrypi.com): installed when the archive has them
for pkg in "${camera_packages[@]}"; do
    if apt-cache show "$pkg" >/dev/null 2>&1; then
        wanted+=("$pkg")
    else
        warn "$pkg is not in the apt archives here (not Raspberry Pi OS?): skipped"
    fi
done
apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null

py=/usr/bin/python3
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11 or newer is needed (found $("$py" --version 2>&1))"

# -- 2. the service user -------------------------------------------------------------------------
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    say "creating system user $SERVICE_USER"
    useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin \
        --comment "gait station" "$SERVICE_USER"
fi
for group in gpio video; do
    if getent group "$group" >/dev/null; then
        usermod -a -G "$group" "$SERVICE_USER"
    else
        warn "group '$group' does not exist here: $SERVICE_USER cannot use the $group devices"
    fi
done
install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$STATE_DIR"

# -- 3. code and venv ----------------------------------------------------------------------------
say "code in $APP_DIR/src"
install -d -m 0755 "$APP_DIR" "$APP_DIR/src" "$APP_DIR/models" "$CACHE_DIR"
if [ "$SRC_DIR" != "$APP_DIR/src" ]; then
    rsync -a --delete \
        --exclude .git/ --exclude .venv/ --exclude 'models/weights/' --exclude '__pycache__/' \
        --exclude '*.egg-info/' --exclude node_modules/ --exclude .pytest_cache/ --exclude .ruff_cache/ \
        "$SRC_DIR/" "$APP_DIR/src/"
    chown -R root:root "$APP_DIR/src"
fi

venv="$APP_DIR/.venv"
if [ ! -x "$venv/bin/python" ]; then
    say "venv $venv (sees apt's picamera2 and lgpio)"
    "$py" -m venv --system-site-packages "$venv"
fi
constraints="$APP_DIR/constraints.txt"
{
    echo "# written by scripts/install.sh: keep apt's numpy, which picamera2 and simplejpeg were built against"
    if numpy_version=$("$py" -c 'import numpy; print(numpy.__version__)' 2>/dev/null); then
        echo "numpy==$numpy_version"
    fi
} >"$constraints"
say "python packages (numpy held at ${numpy_version:-whatever pip picks})"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# editable: the model manifest (models/manifest.toml) is read from the checkout
"$venv/bin/python" -m pip install --quiet --constraint "$constraints" -e "$APP_DIR/src"
"$venv/bin/python" -m compileall -q "$APP_DIR/src/station" "$APP_DIR/src/web" >/dev/null || true
"$venv/bin/gait-station" --version >/dev/null || die "the installed gait-station does not start"

# -- 4. the pose model ---------------------------------------------------------------------------
export GAIT_STATION_MODELS_DIR="$APP_DIR/models" GAIT_STATION_CACHE_DIR="$CACHE_DIR"
if [ "$FETCH" = 1 ]; then
    say "model $MODEL into $APP_DIR/models"
    "$venv/bin/gait-station" models fetch "$MODEL" ||
        die "model fetch failed (offline?). Re-run when online, or re-run with --no-models and add the file later"
fi
chmod -R a+rX "$APP_DIR/models"

# -- 5. settings ---------------------------------------------------------------------------------
install -d -m 0755 "$CONFIG_DIR"
if [ ! -e "$CONFIG_DIR/config.toml" ]; then
    say "starter settings in $CONFIG_DIR/config.toml"
    cat >"$CONFIG_DIR/config.toml" <<'TOML'
# Gait station settings. Every key is optional; the defaults are in station/config.py.
# After editing: sudo systemctl restart gait-station

[camera]
# view = "posterior"        # "posterior" (behind the runner) or "anterior" (in front)
# fps = 60.0
# camera_roll_deg = 0.0     # declare once the camera is levelled: enables drop_peak_deg

[cues]
# mode = "absolute"         # or "baseline": change from the runner's first baseline_s
# amber_deg = 4.0
# red_deg = 6.0
# buzzer_kind = "active"    # "passive" for a bare piezo on PWM (TonalBuzzer)
# metronome = false

[pins]                      # BCM numbers, see hardware.md
# green = 17
# amber = 27
# red = 22
# buzzer = 18
# button = 23

[web]
# live_page_public = true   # the live page without login, read-only
# kiosk_start_stop = false  # true: anyone on the Wi-Fi may start and stop sessions (a gym kiosk)

[storage]                   # the disk budget of raw poses; steps and summaries are always kept
# poses_max_disk_pct = 50.0
# poses_max_days = 90.0     # unset: no age limit
# min_free_mb = 1024.0
TOML
    chmod 0644 "$CONFIG_DIR/config.toml"
fi

# -- admin password for the web page: asked here while a person runs the installer, so that nobody
#    else on the club's Wi-Fi can claim the page's first-run setup form
db="$STATE_DIR/gait.db"
[ "$ROLE" = hub ] && db="$STATE_DIR/hub.db"
if [ -t 0 ] && ! runuser -u "$SERVICE_USER" -- "$venv/bin/python" -c \
        'import sys; from station.store import Store; from web.auth import has_password; sys.exit(0 if has_password(Store(sys.argv[1])) else 1)' \
        "$db" 2>/dev/null; then
    say "admin password for the web page (runners' health data: choose a real one)"
    runuser -u "$SERVICE_USER" -- "$venv/bin/gait-station" serve --set-password --db "$db" \
        || warn "no password set: the page asks for one on the first visit (set it later with serve --set-password)"
fi

# -- 5b. the hub: Mosquitto with a password per station and the ACL; or a station joining a hub ---------
new_password() { "$py" -c 'import secrets; print(secrets.token_urlsafe(18))'; }
if [ "$ROLE" = hub ]; then
    say "Mosquitto for the stations (no anonymous access, a password per station, the ACL)"
    passwd=/etc/mosquitto/gait-station.passwd
    acl=/etc/mosquitto/gait-station.acl
    [ -e "$passwd" ] || install -m 0640 -o root -g mosquitto /dev/null "$passwd"
    "$venv/bin/gait-station" hub acl >"$acl"
    chown root:mosquitto "$acl" && chmod 0640 "$acl"
    tls=()
    if [ -n "$TLS_CERT" ]; then
        install -d -m 0755 /etc/mosquitto/certs
        install -m 0644 "$TLS_CERT" /etc/mosquitto/certs/gait-hub.crt
        install -m 0640 -o root -g mosquitto "$TLS_KEY" /etc/mosquitto/certs/gait-hub.key
        tls=(--tls-cert /etc/mosquitto/certs/gait-hub.crt --tls-key /etc/mosquitto/certs/gait-hub.key)
    fi
    "$venv/bin/gait-station" hub broker-conf --passwd "$passwd" --acl "$acl" "${tls[@]}" \
        >/etc/mosquitto/conf.d/gait-station.conf
    if [ ! -s "$CONFIG_DIR/hub-password" ]; then # the hub's own broker user
        new_password >"$CONFIG_DIR/hub-password"
        mosquitto_passwd -b "$passwd" gait-hub "$(cat "$CONFIG_DIR/hub-password")"
    fi
    chown root:"$SERVICE_USER" "$CONFIG_DIR/hub-password" && chmod 0640 "$CONFIG_DIR/hub-password"
    for name in "${ADD_STATIONS[@]}"; do
        password=$(new_password)
        mosquitto_passwd -b "$passwd" "$name" "$password"
        say "station $name: broker password $password (shown once). On that station:"
        say "  sudo scripts/install.sh --hub mqtt://$(hostname).local:1883 --station-id $name"
    done
    # gait-web shows the hub's database
    install -d -m 0755 "$UNIT_DIR/gait-web.service.d"
    cat >"$UNIT_DIR/gait-web.service.d/hub.conf" <<UNIT
# written by scripts/install.sh --role hub: the page shows every station (the hub's database)
[Service]
ExecStart=
ExecStart=$venv/bin/gait-station -v serve --db $STATE_DIR/hub.db --host 0.0.0.0 --port 8080
UNIT
    if [ -d /run/systemd/system ]; then
        systemctl enable --quiet mosquitto
        systemctl restart mosquitto || warn "mosquitto did not restart: journalctl -u mosquitto -n 50"
    fi
elif [ -n "$HUB_URL" ]; then
    say "publishing to the hub $HUB_URL as $STATION_ID"
    if ! grep -q '^\[hub\]' "$CONFIG_DIR/config.toml"; then
        {
            echo ""
            echo "[hub]                       # written by scripts/install.sh --hub"
            echo "url = \"$HUB_URL\""
            echo "station_id = \"$STATION_ID\""
            echo "password_file = \"$CONFIG_DIR/hub-password\""
            if [ -n "$HUB_CA" ]; then
                install -m 0644 "$HUB_CA" "$CONFIG_DIR/hub-ca.crt"
                echo "tls_ca = \"$CONFIG_DIR/hub-ca.crt\""
            fi
        } >>"$CONFIG_DIR/config.toml"
    else
        warn "$CONFIG_DIR/config.toml has a [hub] section already: left as it is"
    fi
    if [ -t 0 ]; then
        read -r -s -p "install: the broker password the hub gave station $STATION_ID: " password
        echo
        printf '%s\n' "$password" >"$CONFIG_DIR/hub-password"
    elif [ ! -s "$CONFIG_DIR/hub-password" ]; then
        warn "no terminal: put station $STATION_ID's broker password in $CONFIG_DIR/hub-password"
        touch "$CONFIG_DIR/hub-password"
    fi
    chown root:"$SERVICE_USER" "$CONFIG_DIR/hub-password" && chmod 0640 "$CONFIG_DIR/hub-password"
    "$venv/bin/python" -c 'import sys; from station.config import load_settings; load_settings(sys.argv[1])' \
        "$CONFIG_DIR/config.toml" || die "the [hub] settings in $CONFIG_DIR/config.toml are not valid (see above)"
fi

# -- 6. services ---------------------------------------------------------------------------------
say "systemd units"
for unit in "${UNITS[@]}"; do
    install -m 0644 "$APP_DIR/src/systemd/$unit" "$UNIT_DIR/$unit"
done
if [ ! -d /run/systemd/system ]; then
    # a chroot (an SD-card image build) or a container: enabling works offline, starting does not
    systemctl enable --quiet "${UNITS[@]}"
    warn "systemd is not running here: the services are enabled and start on the next boot"
    START=0
else
    systemctl daemon-reload
    systemctl enable --quiet "${UNITS[@]}"
fi
if [ "$START" = 1 ]; then
    systemctl restart "${UNITS[@]}"
    sleep 2
    for unit in "${UNITS[@]}"; do
        if systemctl is-active --quiet "$unit"; then
            say "$unit is running"
        else
            warn "$unit is not running: journalctl -u ${unit%.service} -n 50"
        fi
    done
fi

host=$(hostname)
say "done. The page: http://$host.local:8080 (same Wi-Fi); log in with the admin password."
if [ "$ROLE" = hub ]; then
    say "hub: journalctl -u gait-hub -f; stations join with: sudo scripts/install.sh --role hub --add-station NAME"
fi
say "logs: journalctl -u gait-station -f; settings: $CONFIG_DIR/config.toml; wiring: $APP_DIR/src/hardware.md"
if [ "$is_pi" = 1 ] && command -v rpicam-hello >/dev/null; then
    say "camera check: rpicam-hello --list-cameras"
fi
