# Shared by scripts/run.sh and scripts/test.sh: installs what is missing, quickly and
# idempotently (each step first checks whether the right version is already there), and builds.
# Only the package registries are used: crates.io, npm and Debian's packages.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TRUNK_VERSION="0.21.14"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
export TRUNK_OFFLINE=true TRUNK_SKIP_VERSION_CHECK=true

step() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*"; }  # with the seconds since the script started
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# The wasm-bindgen version in Cargo.lock: the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

ensure_wasm_target() {
  command -v cargo >/dev/null || die "cargo is missing: this machine should have a Rust toolchain (rustup)"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_trunk() {
  if ! trunk --version 2>/dev/null | grep -qx "trunk $TRUNK_VERSION"; then
    step "Installing trunk $TRUNK_VERSION (a few minutes, once)"
    cargo install --locked trunk --version "$TRUNK_VERSION"
  fi
}

ensure_wasm_bindgen() {
  local want
  want="$(wasm_bindgen_version)"
  [ -n "$want" ] || die "no wasm-bindgen in Cargo.lock"
  if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want" \
    || ! command -v wasm-bindgen-test-runner >/dev/null; then
    step "Installing wasm-bindgen-cli $want (a few minutes, once)"
    # Not --locked: its lockfile pins a webpki-roots version that is gone from the registry.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
  grep -q "wasm_bindgen = \"$want\"" Trunk.toml \
    || die "Trunk.toml's [tools] wasm_bindgen does not match Cargo.lock's wasm-bindgen $want"
}

ensure_npm_packages() {
  command -v npm >/dev/null || { step "Installing Node.js and npm"; as_root apt-get update; as_root apt-get install -y nodejs npm; }
  local stamp="node_modules/.sendguard-lock"
  if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    step "Installing npm packages (binaryen for wasm-opt, playwright-core)"
    npm ci --no-audit --no-fund
    cp package-lock.json "$stamp"
  fi
}

ensure_chromium() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    step "Installing Chromium and ChromeDriver from Debian"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
  fi
}

# The real peers of the interop tests (server/tests/interop_*.rs): nsd, unbound, the ldns
# signing tools, dig, Postfix (with posttls-finger), openssl, and swaks (the SMTP client that
# interop_enforce sends to the inbound guard with). Postfix is preseeded as
# "No configuration" so that nothing asks and no system mail server is set up or started.
INTEROP_PACKAGES=(nsd unbound ldnsutils bind9-dnsutils postfix dns-root-data openssl swaks postgresql)
ensure_interop_packages() {
  local missing=() p
  for p in "${INTEROP_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    step "Installing the interop test's peers from Debian: ${missing[*]}"
    echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
}

# PostgreSQL for the store's tests on PostgreSQL and the cluster test (issue 16): a private server
# initialised in a temporary directory, listening on a free loopback port and its own socket
# directory, with trust authentication (nothing else can reach it). initdb refuses to run as root,
# so as root it runs as Debian's `postgres` user. fsync is off: the tests kill Sendguard, never
# PostgreSQL, and each test creates a database of its own (a copy of template1). Sets
# SENDGUARD_TEST_POSTGRES to a URL the tests may create databases with; stop_postgres ends it.
PG_DIR=""
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
start_postgres() {
  local bin port
  bin="$(pg_bin)"
  [ -x "$bin/initdb" ] || die "PostgreSQL's initdb is missing (Debian package postgresql)"
  PG_DIR="$(mktemp -d /tmp/sendguard-pg.XXXXXX)"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  pg_as_owner "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log"; die "initdb failed"; }
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c max_connections=400" start >/dev/null \
    || { cat "$PG_DIR/server.log"; die "PostgreSQL did not start"; }
  SENDGUARD_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
}
stop_postgres() {
  [ -n "$PG_DIR" ] || return 0
  pg_as_owner "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
  SENDGUARD_TEST_POSTGRES=""
}

ensure_build_tools() {
  ensure_wasm_target
  ensure_npm_packages
  ensure_trunk
  ensure_wasm_bindgen
  cargo fetch --locked
}

build_frontend() {
  step "Building the compose page (trunk, release, wasm-opt -Oz)"
  trunk build --release --cargo-profile wasm-release
}

# The release page's files in dist/ (wasm, JS glue, CSS, index.html) as "file raw gzip" lines,
# gzip at level 9 as a server would send them, and a last line "total RAW GZIP".
bundle_sizes() {
  local f raw gz total_raw=0 total_gz=0
  for f in dist/*.wasm dist/*.js dist/*.css dist/index.html; do
    [ -f "$f" ] || die "no $f: build the page first (trunk build --release)"
    raw="$(stat -c%s "$f")"
    gz="$(gzip -9c "$f" | wc -c)"
    echo "$f $raw $gz"
    total_raw=$((total_raw + raw))
    total_gz=$((total_gz + gz))
  done
  echo "total $total_raw $total_gz"
}

# Issue 5's budget for everything the browser loads (wasm + JS + CSS + HTML), gzip.
BUNDLE_BUDGET_GZIP=250000

# Fails when the page in dist/ is over its budget, printing what each file weighs.
check_bundle_budget() {
  local sizes total
  sizes="$(bundle_sizes)"
  printf '%s\n' "$sizes"
  total="$(awk '$1 == "total" { print $3 }' <<<"$sizes")"
  [ "$total" -le "$BUNDLE_BUDGET_GZIP" ] \
    || die "the page is $total B gzip, over its budget of $BUNDLE_BUDGET_GZIP B (BENCHMARKS.md, Frontend size)"
  echo "page: $total B gzip, budget $BUNDLE_BUDGET_GZIP B"
}

build_server() {
  step "Building the sendguard server (release, frontend embedded)"
  cargo build --release --locked -p sendguard
}

# `systemd-analyze verify` of packaging/sendguard.service against the binary $1 (its ExecStart
# must exist, so the unit is checked as a copy that points at $1). verify exits 0 on many
# errors (an unknown value is "ignored"), so any output counts as a failure. Skipped where
# systemd-analyze is missing.
verify_service_unit() {
  local bin="$1" dir out
  if ! command -v systemd-analyze >/dev/null; then
    echo "systemd-analyze is not installed: the service unit is not verified here"
    return 0
  fi
  [ -x "$bin" ] || die "verify_service_unit: no binary at $bin"
  dir="$(mktemp -d)"
  sed "s#/usr/bin/sendguard#$bin#" packaging/sendguard.service >"$dir/sendguard.service"
  if ! out="$(systemd-analyze verify "$dir/sendguard.service" 2>&1)" || [ -n "$out" ]; then
    rm -rf "$dir"
    printf '%s\n' "$out"
    die "systemd-analyze verify refused packaging/sendguard.service"
  fi
  rm -rf "$dir"
  echo "packaging/sendguard.service: systemd-analyze verify passed"
}
