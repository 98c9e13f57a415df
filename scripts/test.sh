#!/usr/bin/env bash
# Runs the whole test suite: formatting and lints, unit and integration tests (SQLite and
# Postgres), and the browser tests in real Chromium. Installs and starts what the tests need.
source "$(dirname "$0")/lib.sh"

LOG_DIR="$(mktemp -d)"
# A test run rebuilds Steward's own crates from a clean clone: incremental data would only pile
# up in the shared target directory (tens of GB over many runs).
export CARGO_INCREMENTAL=0
trap 'rm -rf "$LOG_DIR"' EXIT

# --- what the tests need -----------------------------------------------------------------
ensure_rust
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || apt_install chromium
command -v psql >/dev/null || apt_install postgresql-client
command -v ssh-keygen >/dev/null || apt_install openssh-client
# The test fleet: one real sshd per host on loopback (Debian's policy keeps the system one off).
[ -x /usr/sbin/sshd ] || apt_install openssh-server
# Test hosts run a real nginx under their own user (config pushes validate and reload it).
[ -x /usr/sbin/nginx ] || apt_install nginx-light || apt_install nginx
# Namespaced test hosts (a host reachable only through a jump host), and test certificates.
command -v ip >/dev/null || apt_install iproute2
command -v pkill >/dev/null || apt_install procps
command -v openssl >/dev/null || apt_install openssl
# The test mail server (scripts/test-smtp.py): aiosmtpd from PyPI.
command -v python3 >/dev/null || apt_install python3
python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd==1.4.6 \
    || python3 -m pip install --quiet --break-system-packages aiosmtpd==1.4.6
as_root mkdir -p /run/sshd

# Postgres: use the one on 127.0.0.1:5432, starting or installing it when absent.
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_ok() { psql "$TEST_POSTGRES_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; }
if ! pg_ok; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql; fi
    say "starting Postgres"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
    if ! pg_ok; then
        # A cluster we installed wants a password over TCP: give the test superuser one.
        as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'steward-test'\"" >/dev/null
        export TEST_POSTGRES_URL="postgres://postgres:steward-test@127.0.0.1:5432/postgres"
    fi
    pg_ok || die "cannot reach Postgres at 127.0.0.1:5432"
fi
# Databases left behind by an interrupted run.
for db in $(psql "$TEST_POSTGRES_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'steward_test_%'"); do
    psql "$TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
done

# --- build, lint, unit + integration ------------------------------------------------------
cd "$ROOT"
build_agent
build_bundle dev
say "checking formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy -p steward-frontend --lib --target wasm32-unknown-unknown --no-default-features --features hydrate --quiet -- -D warnings

say "unit and integration tests (SQLite and Postgres)"
cargo test --workspace --no-fail-fast 2>&1 | tee "$LOG_DIR/cargo.log"

# --- browser tests ----------------------------------------------------------------------------
say "browser tests in Chromium"
(cd e2e && npm ci --no-audit --no-fund --silent)
export STEWARD_BIN="$CARGO_TARGET_DIR/debug/steward"
(cd e2e && node --test --test-concurrency=1 tests/) 2>&1 | tee "$LOG_DIR/e2e.log"

# --- one closing line for everything ------------------------------------------------------------
passed=$(( $(grep -ho '[0-9]* passed' "$LOG_DIR/cargo.log" | awk '{s+=$1} END {print s+0}') \
         + $(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$LOG_DIR/e2e.log" | awk '{s+=$1} END {print s+0}') ))
failed=$(( $(grep -ho '[0-9]* failed' "$LOG_DIR/cargo.log" | awk '{s+=$1} END {print s+0}') \
         + $(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$LOG_DIR/e2e.log" | awk '{s+=$1} END {print s+0}') ))
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
