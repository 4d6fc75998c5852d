#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests that drive the real binary over HTTP
# against real HTTP backends, a test OAuth server, (end to end) the npm `oidc-provider` with the
# official MCP TypeScript SDK client, and the console in headless Chromium. Installs what the
# tests need first: Node/npm (the GitHub REST API description comes from npm; the end-to-end
# and browser scripts run on Node), Debian's Chromium, and the pinned packages of tests/e2e and
# tests/console, PostgreSQL's server programs (tests/replicas.rs). Ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  need_apt+=(nodejs npm)
fi
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need_apt+=(chromium)
command -v prlimit >/dev/null 2>&1 || need_apt+=(util-linux)
# tests/store_tls.rs makes an Ed448 certificate with the openssl command.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# python3 with venv: tests/deploy.rs puts the pinned kubernetes-validate in target/k8s-venv.
if ! command -v python3 >/dev/null 2>&1; then
  need_apt+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi
# tests/replicas.rs starts its own PostgreSQL servers (initdb + pg_ctl from Debian's package).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "installing ${need_apt[*]} (test tools)"
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/console && npm ci --no-audit --no-fund --loglevel=error)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
