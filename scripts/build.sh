#!/usr/bin/env bash
# Builds the `steward` binary with its browser bundle embedded.
#   scripts/build.sh            release build -> $CARGO_TARGET_DIR/release/steward
#   scripts/build.sh --dev      debug build   -> $CARGO_TARGET_DIR/debug/steward
source "$(dirname "$0")/lib.sh"

mode=release
[ "${1:-}" = "--dev" ] && mode=dev
ensure_rust
build_agent
build_bundle "$mode"
say "building the server ($mode)"
if [ "$mode" = release ]; then
    (cd "$ROOT" && cargo build -p steward --release)
    echo "$CARGO_TARGET_DIR/release/steward"
else
    (cd "$ROOT" && cargo build -p steward)
    echo "$CARGO_TARGET_DIR/debug/steward"
fi
