#!/usr/bin/env bash
# Runs one benchmark (or all) in a release build, installing what it compares against first:
# Debian's pssh (parallel-ssh) and ansible-core from PyPI (in a virtualenv outside the clone),
# the SSH server and nginx for the test hosts, Postgres for the two-backend figures.
#   scripts/bench.sh jobs_engine        # or fleet_facts, config_push, instances_page, all
source "$(dirname "$0")/lib.sh"

which="${1:-all}"
ensure_rust
[ -x /usr/sbin/sshd ] || apt_install openssh-server
command -v ssh-keygen >/dev/null || apt_install openssh-client
[ -x /usr/sbin/nginx ] || apt_install nginx-light || apt_install nginx
command -v parallel-ssh >/dev/null || apt_install pssh
command -v python3 >/dev/null || apt_install python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
as_root mkdir -p /run/sshd

# ansible-core in its own environment, reused across runs.
BENCH_VENV="${BENCH_VENV:-$HOME/.cache/steward/bench-venv}"
if [ ! -x "$BENCH_VENV/bin/ansible" ]; then
    say "installing ansible-core into $BENCH_VENV"
    python3 -m venv "$BENCH_VENV"
    "$BENCH_VENV/bin/pip" install --quiet 'ansible-core>=2.15,<2.19'
fi
export PATH="$BENCH_VENV/bin:$PATH"

export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cd "$ROOT"
build_agent
benches=(jobs_engine instances_page fleet_facts config_push)
[ "$which" = all ] || benches=("$which")
for bench in "${benches[@]}"; do
    say "benchmark $bench"
    cargo run --quiet --release -p steward-bench --bin "$bench"
done
