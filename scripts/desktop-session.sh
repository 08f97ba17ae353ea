#!/usr/bin/env bash
# Runs a command inside a throw-away Linux desktop session: Xvfb, an unlocked gnome-keyring,
# a StatusNotifierWatcher tray host and the dunst notification daemon, each waited for on the
# session bus. Meant to be started as
#   keyctl session - dbus-run-session -- bash scripts/desktop-session.sh CMD [ARGS...]
# so the keyring, the bus and everything here die with the command. Exits with CMD's status.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]]; then
  echo "desktop-session.sh: no session bus; start it under dbus-run-session (see scripts/test)" >&2
  exit 2
fi

SESSION_DIR="$(mktemp -d "${TMPDIR:-/tmp}/certgate-session.XXXXXX")"
PIDS=()

cleanup() {
  # Newest first, so X clients are gone before Xvfb.
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  rm -rf "${SESSION_DIR}"
}
trap cleanup EXIT

# Cargo and rustup live under the real HOME; keep them when HOME moves below.
export CARGO_HOME="${CARGO_HOME:-${HOME}/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-${HOME}/.rustup}"
export npm_config_cache="${npm_config_cache:-${HOME}/.npm}"
if [[ -d "${HOME}/.pyenv" ]]; then export PYENV_ROOT="${PYENV_ROOT:-${HOME}/.pyenv}"; fi
# Inside this session the real peers are present: tests that need them fail, never skip.
export CERTGATE_REQUIRE_KEYRING=1 CERTGATE_REQUIRE_SCIM=1 CERTGATE_REQUIRE_SDKS=1
# A fresh HOME: an old login.keyring with another password would make the unlock fail, and
# the app and WebKit write under HOME.
export HOME="${SESSION_DIR}/home"
export XDG_RUNTIME_DIR="${SESSION_DIR}/run"
unset XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME
mkdir -p "${HOME}"
mkdir -m 0700 "${XDG_RUNTIME_DIR}"

bus_has_owner() {
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner "$1" 2>/dev/null | grep -q true
}

# wait_for_name NAME: polls the bus (a single check right after a start can miss it).
wait_for_name() {
  local name="$1" i
  for ((i = 0; i < 200; i++)); do
    if bus_has_owner "${name}"; then return 0; fi
    sleep 0.05
  done
  echo "desktop-session.sh: ${name} did not appear on the session bus within 10 s" >&2
  return 1
}

start_xvfb() {
  # -displayfd picks a free display number, so parallel runs on one machine do not collide.
  local fifo="${SESSION_DIR}/display" i
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"${fifo}" 2>"${SESSION_DIR}/xvfb.log" &
  PIDS+=($!)
  for ((i = 0; i < 200; i++)); do
    if [[ -s "${fifo}" ]]; then
      export DISPLAY=":$(tr -d '[:space:]' <"${fifo}")"
      if xdpyinfo >/dev/null 2>&1; then
        echo "Xvfb on ${DISPLAY}"
        # Services the bus starts on demand (WebKit asks for the desktop portal) need it too.
        dbus-update-activation-environment DISPLAY 2>/dev/null || true
        return 0
      fi
    fi
    sleep 0.05
  done
  echo "desktop-session.sh: Xvfb did not start:" >&2
  cat "${SESSION_DIR}/xvfb.log" >&2
  return 1
}

start_keyring() {
  local out
  # The password only guards this throw-away keyring.
  out="$(printf '%s' "certgate-test" | gnome-keyring-daemon --unlock --components=secrets)" || return
  while IFS='=' read -r key value; do
    [[ -n "${key}" ]] && export "${key}=${value}"
  done <<<"${out}"
  wait_for_name org.freedesktop.secrets || return
  # gnome-keyring daemonises; find it through the bus so cleanup can stop it.
  local pid
  pid="$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.GetConnectionUnixProcessID org.freedesktop.secrets |
    tr -dc '0-9')"
  if [[ -n "${pid}" ]]; then PIDS+=("${pid}"); fi
}

start_tray_host() {
  status-notifier-watcher >"${SESSION_DIR}/watcher.log" 2>&1 &
  PIDS+=($!)
  wait_for_name org.kde.StatusNotifierWatcher
}

start_notifications() {
  dunst >"${SESSION_DIR}/dunst.log" 2>&1 &
  PIDS+=($!)
  wait_for_name org.freedesktop.Notifications
}

step "Xvfb" start_xvfb
step "gnome-keyring (unlocked)" start_keyring
step "status-notifier-watcher (tray host)" start_tray_host
step "dunst (notifications)" start_notifications
print_times

set +e
"$@"
rc=$?
set -e
exit "${rc}"
