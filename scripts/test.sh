#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests that drive the real binary over HTTP
# against real HTTP backends. Installs what the tests need first (npm, for fetching the GitHub
# REST description used by one test).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "installing npm (needed to fetch the GitHub REST API description)"
  apt-get update -qq && apt-get install -y -qq npm >/dev/null
fi
cargo test --all-targets
