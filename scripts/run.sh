#!/usr/bin/env bash
# Installs what is missing, builds the compose page and the server, and starts Sendguard on its
# embedded defaults: `sendguard demo`, the product against the simulated internet on loopback.
# Usage: scripts/run.sh [--listen ADDR]   (default 127.0.0.1:8080)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_build_tools
build_frontend
build_server
step "Starting Sendguard"
exec "$ROOT/target/release/sendguard" demo "$@"
