#!/usr/bin/env bash
# The console browser test against the mock server: no gateway and no cargo needed.
#   bash tests/console/run_with_mock.sh          (screenshots in tests/console/out/)
# Needs Node 20+ and Chromium at /usr/bin/chromium (apt-get install -y chromium) or $CHROMIUM.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/playwright-core ] && [ -d node_modules/axe-core ] || npm ci --no-audit --no-fund
PORT=${PORT:-18930}
BASE="http://127.0.0.1:$PORT"
OUT=${OUT:-$PWD/out}
PORT=$PORT MOCK_OAUTH=1 MOCK_FETCH_URL=1 node mock_server.mjs &
MOCK=$!
trap 'kill "$MOCK" 2>/dev/null || true' EXIT
node -e "
  const until = Date.now() + 10000;
  (async function wait() {
    try { if ((await fetch('$BASE/admin/api/auth-config')).ok) return; } catch {}
    if (Date.now() > until) { console.error('mock server did not start'); process.exit(1); }
    setTimeout(wait, 100);
  })();"
BASE="$BASE" ADMIN_TOKEN=test-admin-token SPEC=../../specs/petstore.yaml OUT="$OUT" \
  OAUTH_TEST=1 FETCH_URL="$BASE/specs/petstore.yaml" node console_test.mjs
