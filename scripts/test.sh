#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests that drive the real binary over HTTP
# against real HTTP backends. Installs what the tests need first (npm, for fetching the GitHub
# REST API description used by one test). Ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "installing npm (needed to fetch the GitHub REST API description)"
  apt-get update -qq && apt-get install -y -qq npm >/dev/null
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
