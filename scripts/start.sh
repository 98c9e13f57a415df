#!/usr/bin/env bash
# Installs what is missing, builds Steward (release) and starts it on http://127.0.0.1:8080
# with SQLite and local storage in ./data. On the first start it prints a one-time setup link.
source "$(dirname "$0")/lib.sh"

command -v cc >/dev/null || apt_install build-essential
# Steward reaches hosts with the system ssh and ssh-keyscan.
command -v ssh-keyscan >/dev/null || apt_install openssh-client
bin="$("$ROOT/scripts/build.sh" | tail -n1)"
cd "$ROOT"
export STEWARD_STORAGE__DATA_DIR="${STEWARD_STORAGE__DATA_DIR:-$ROOT/data}"
say "starting Steward on http://${STEWARD_SERVER__BIND:-127.0.0.1:8080} (data in $STEWARD_STORAGE__DATA_DIR)"
exec "$bin" serve "$@"
