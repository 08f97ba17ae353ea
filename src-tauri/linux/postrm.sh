#!/bin/sh
# Debian postrm. `dpkg -r` keeps what Certgate keeps per user (its data folder, the user's
# start-at-login entry), so reinstalling picks up where they were; `dpkg --purge` removes both
# for every account with a home folder. Secrets in each user's OS keyring (device key, tokens)
# stay: only that user's own session can reach them.
set -e

if [ "$1" = "purge" ]; then
  getent passwd | while IFS=: read -r _name _pw _uid _gid _gecos home _shell; do
    case "$home" in /|"") continue ;; esac
    data="$home/.local/share/certgate"
    # A symlinked folder is the user's own arrangement: never follow it as root.
    if [ -d "$data" ] && [ ! -L "$data" ]; then
      rm -rf -- "$data"
    fi
    rm -f -- "$home/.config/autostart/Certgate.desktop"
  done
fi

exit 0
