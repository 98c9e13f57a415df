# Shared by the scripts: paths, versions, and installing what is missing.
# shellcheck shell=bash

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Build output lives outside the clone so repeated runs and fresh clones share it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/steward/target}"
export STEWARD_SITE_DIR="${STEWARD_SITE_DIR:-$CARGO_TARGET_DIR/site}"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The wasm-bindgen CLI must match the crate version pinned in Cargo.toml exactly.
wasm_bindgen_version() {
    sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)" }.*/\1/p' "$ROOT/Cargo.toml"
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

APT_UPDATED=""
apt_install() {
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
    say "installing ${missing[*]}"
    if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
    command -v cargo >/dev/null || die "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again"
    local target
    for target in wasm32-unknown-unknown x86_64-unknown-linux-musl; do
        if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
            say "adding the $target target"
            rustup target add "$target"
        fi
    done
    local want have
    want="$(wasm_bindgen_version)"
    have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
    if [ "$have" != "$want" ]; then
        say "installing wasm-bindgen-cli $want (a few minutes, once)"
        # Without --locked: its lockfile names a crate version the registry no longer serves.
        cargo install wasm-bindgen-cli --version "$want" --force --quiet
    fi
}

# Builds the static steward-agent that Steward embeds and installs on hosts (server/build.rs
# picks it up from cargo's musl release directory).
build_agent() {
    say "building steward-agent (static, x86_64 musl)"
    (cd "$ROOT" && cargo build -p steward-agent --release --target x86_64-unknown-linux-musl)
}

# Builds the browser bundle into $STEWARD_SITE_DIR/pkg. $1: dev or release.
build_bundle() {
    local mode="$1" profile_flag=() dir=debug
    if [ "$mode" = release ]; then profile_flag=(--profile wasm-release); dir=wasm-release; fi
    say "building the browser bundle ($mode)"
    (cd "$ROOT" && cargo build -p steward-frontend --lib --target wasm32-unknown-unknown \
        --no-default-features --features hydrate "${profile_flag[@]}")
    mkdir -p "$STEWARD_SITE_DIR/pkg"
    wasm-bindgen --target web --no-typescript --out-dir "$STEWARD_SITE_DIR/pkg" --out-name steward \
        "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$dir/steward_frontend.wasm"
}
