#!/usr/bin/env bash
# Installs what is missing and runs every test: formatting, clippy, the Rust tests, the
# component tests in headless Chromium, and the end-to-end browser tests against the real server.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start=$(date +%s)
# Every runner's output is copied to a log so that the closing line can add up its counts.
LOG="$(mktemp)"
APT_LOG="$(mktemp)"
trap 'rm -f "$LOG" "$APT_LOG"; stop_postgres' EXIT
# Debian's packages (Chromium, the interop peers) download and unpack while cargo compiles the
# build tools: network and disk against CPU, so on a fresh machine this saves their minutes.
# npm comes first: on a machine without it, it is installed with apt too.
ensure_npm_packages
( ensure_chromium; ensure_interop_packages ) >"$APT_LOG" 2>&1 &
apt_pid=$!
ensure_build_tools
if ! wait "$apt_pid"; then
  cat "$APT_LOG"
  die "installing Chromium or the interop test's packages from Debian failed"
fi
cat "$APT_LOG"

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (native and wasm32)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p sendguard-frontend --all-targets --target wasm32-unknown-unknown --locked -- -D warnings

step "Rust tests"
cargo test --workspace --locked 2>&1 | tee -a "$LOG"

# The same store tests, and every test that runs on the simulated internet's store helpers
# (tests/common: test_store, sim_env), against PostgreSQL; then the cluster test (several
# `sendguard serve` on one PostgreSQL), which needs it.
step "Store tests on PostgreSQL, and the cluster test"
start_postgres
SENDGUARD_TEST_POSTGRES="$SENDGUARD_TEST_POSTGRES" cargo test -p sendguard --locked \
  --test store_typed --test store_retention --test history_sim --test queue_api \
  --test recipients_api --test http_admin --test tlsrpt --test delivery_sim --test mta_sts_sim \
  --test probe_sim --test probe_cluster 2>&1 | tee -a "$LOG"
SENDGUARD_TEST_POSTGRES="$SENDGUARD_TEST_POSTGRES" cargo test -p sendguard --locked --test cluster \
  -- --ignored 2>&1 | tee -a "$LOG"
stop_postgres

# Built as the current user; only the test binary runs as root (ports 25 and 53, Postfix).
interop_test() {
  local bin
  bin="$(cargo test -p sendguard --locked --test "$1" --no-run 2>&1 \
    | sed -n "s/.*Executable tests\/$1.rs (\(.*\))\$/\1/p")"
  [ -x "$bin" ] || die "could not build the interop test $1"
  as_root "$bin" --ignored --exact "$2" 2>&1 | tee -a "$LOG"
}
step "Interop: our verdicts against posttls-finger on real Postfix, nsd and unbound (as root)"
interop_test interop_postfix verdicts_agree_with_posttls_finger
step "Interop: delivery to real Postfix peers at DANE, TLS and no STARTTLS (as root)"
interop_test interop_delivery delivery_to_postfix_peers_at_each_level
step "Interop: Postfix's postmap reads the TLS policy table"
interop_test postfix_postmap postmap_reads_the_tls_policy_table
step "Interop: Postfix enforces Sendguard's TLS policy table, secure senders and inbound guard (as root)"
interop_test interop_enforce postfix_enforces_what_sendguard_learned

step "Component tests in headless Chromium (wasm-bindgen-test)"
(cd frontend && CHROMEDRIVER="$(command -v chromedriver)" \
  cargo test --locked --target wasm32-unknown-unknown --test recipient_field --test badge_tooltip --test live_messages --test wire) 2>&1 | tee -a "$LOG"

build_frontend
step "The page's size against its budget (wasm + JS + CSS + HTML, gzip)"
check_bundle_budget
# The end-to-end tests run the dev-profile binary that `cargo test` built: the same code (in
# debug builds rust-embed reads dist/ from disk instead of embedding it). A cold release build of
# the server takes about 7 min here; scripts/run.sh builds and serves the release binary.
step "Building the sendguard server (dev profile, for the end-to-end tests)"
cargo build --locked -p sendguard

step "The service unit (systemd-analyze verify, where systemd is installed)"
verify_service_unit "$ROOT/target/debug/sendguard"

step "End-to-end browser tests (real server, headless Chromium)"
SENDGUARD_BIN="$ROOT/target/debug/sendguard" node --test --test-concurrency=1 tests/e2e/ 2>&1 | tee -a "$LOG"

passed=$(awk '/^test result:/ { n += $4 } /^# pass / { n += $3 } END { print n + 0 }' "$LOG")
failed=$(awk '/^test result:/ { n += $6 } /^# fail / { n += $3 } END { print n + 0 }' "$LOG")
printf '\nAll checks passed in %ss.\n' "$(( $(date +%s) - start ))"
printf 'tests: %s passed, %s failed\n' "$passed" "$failed"
