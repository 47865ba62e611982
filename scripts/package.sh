#!/usr/bin/env bash
# Builds the Debian package: target/package/debian/sendguard_<version>-1_<arch>.deb with the
# binary (release, the page embedded, without the demo), the service unit, the example
# configuration as /etc/sendguard/sendguard.toml and the `sendguard` system user.
# Install it with `dpkg -i target/package/debian/sendguard_*.deb`. Not part of CI: a cold
# build takes 15-25 minutes here (trunk and wasm-bindgen-cli once, then two release builds).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CARGO_DEB_VERSION="3.8.0"
# Its own target directory, so that development builds are not blocked while it runs.
export CARGO_TARGET_DIR="$ROOT/target/package"

ensure_build_tools
build_frontend
[ -f dist/index.html ] || die "the page was not built (dist/index.html is missing)"
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  step "Installing cargo-deb $CARGO_DEB_VERSION (a few minutes, once)"
  cargo install --locked cargo-deb --version "$CARGO_DEB_VERSION"
fi
step "Building the Debian package (release)"
cargo deb -p sendguard --locked
ls -l "$CARGO_TARGET_DIR"/debian/sendguard_*.deb
