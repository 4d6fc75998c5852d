#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests that drive the real binary over HTTP
# against real HTTP backends, a test OAuth server, and (end to end) the npm `oidc-provider` with
# the official MCP TypeScript SDK client. Installs what the tests need first: Node/npm (the
# GitHub REST API description comes from npm; the end-to-end scripts run on Node) and the
# pinned packages of tests/e2e. Ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "installing node and npm (GitHub spec download, end-to-end OAuth test)"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
