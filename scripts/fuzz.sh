#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (libFuzzer), one after another: the address parser
# (`address`), the SMTP reply reader (`reply`) and TLSA matching (`tlsa`). Not part of CI.
#
#   scripts/fuzz.sh [address|reply|tlsa|all] [seconds per target]    (default: all 600)
#
# Installs cargo-fuzz once if it is missing. cargo-fuzz needs nightly compiler flags
# (-Zsanitizer); on the stable toolchain RUSTC_BOOTSTRAP=1 allows them. The seeds in
# fuzz/seeds/<target> are committed; what libFuzzer adds goes to fuzz/corpus/<target>, a crash
# to fuzz/artifacts/<target>, the log to fuzz/logs/<target>.log (all ignored by git). A crash
# is fixed in the code with a regression test next to it, not committed as a file.
# The build keeps debug assertions and overflow checks but no AddressSanitizer (the code under
# test is safe Rust; ASan would halve the executions per second).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGETS=(address reply tlsa)
which="${1:-all}"
seconds="${2:-600}"
case "$which" in
  all) ;;
  address | reply | tlsa) TARGETS=("$which") ;;
  *) die "unknown target $which (address, reply, tlsa or all)" ;;
esac
[[ "$seconds" =~ ^[0-9]+$ ]] || die "seconds must be a number, not $seconds"

if ! cargo fuzz --version >/dev/null 2>&1; then
  step "Installing cargo-fuzz (about 2 minutes, once)"
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
cd "$ROOT/fuzz"
mkdir -p logs
for target in "${TARGETS[@]}"; do
  step "Fuzzing $target for $seconds s (log: fuzz/logs/$target.log)"
  mkdir -p "corpus/$target"
  # The first folder receives new inputs; the seeds are only read.
  nice -n 19 cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | tee "logs/$target.log"
done
