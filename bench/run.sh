#!/usr/bin/env bash
# rest2mcp benchmark: the shared harness (../shared/bench) against nginx directly and against the
# gateway, in one run, plus the GitHub REST spec start-up figures. Prints measured figures next
# to the limits from issues #3 and #4. Loopback only; every load run is bounded in time.
#
#   bash bench/run.sh            # full run (about 3 minutes)
#   DURATION=5 RUNS=1 bash bench/run.sh   # quicker
#   BASELINE_BIN=/path/to/older/rest2mcp bash bench/run.sh   # adds that build to the
#                                         # interleaved rounds: before and after in one run
#
# The harness (wrk + Lua checks, the nginx petstore backend, the JWT tool) is a copy of the
# shared one in bench/harness, so a fresh clone runs it as is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-$ROOT/bench/harness}"
OUT="${OUTDIR:-/tmp/rest2mcp-bench}"
export OUTDIR="$OUT" DURATION="${DURATION:-10}" RUNS="${RUNS:-3}"
PORT=18081
rm -rf "$OUT/json"; mkdir -p "$OUT/json"   # figures from this run only

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx && [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null
fi
[ -d "$SHARED" ] || { echo "shared harness not found at $SHARED (set SHARED=)"; exit 2; }

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/rest2mcp"

pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; bash "$SHARED/backend/nginx.sh" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

bash "$SHARED/backend/nginx.sh" start

start_gateway() { # args...; waits for "ready on"; sets GW_PID and READY_S
  # Not gateway.log: bench_mcp.sh writes its own log as $OUT/<label>.log, and the label is
  # "gateway"; sharing the file, the audit lines overwrote its SUMMARY lines.
  local log="$OUT/gateway-server.log" t0
  t0=$(date +%s.%N)
  "$BIN" serve "$@" --listen "127.0.0.1:$PORT" >"$log" 2>&1 &
  GW_PID=$!; pids+=("$GW_PID")
  for _ in $(seq 600); do
    if grep -q '^ready on' "$log"; then READY_S=$(echo "$(date +%s.%N) - $t0" | bc -l); return 0; fi
    sleep 0.01
  done
  cat "$log"; echo "gateway did not start"; exit 1
}
stop_gateway() { kill "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; }

echo "== nginx direct (the limit)"
python3 "$SHARED/mcp_load.py" --plain-get http://127.0.0.1:18080/pets/1 -t 1 -c 32 --duration "$DURATION" --runs "$RUNS" \
  --label nginx-c32 --json-out "$OUT/json/nginx-c32.json" | grep SUMMARY
python3 "$SHARED/mcp_load.py" --plain-get http://127.0.0.1:18080/pets/1 -t 1 -c 1 --duration "$DURATION" --runs "$RUNS" \
  --label nginx-c1 --json-out "$OUT/json/nginx-c1.json" | grep SUMMARY

echo "== gateway on the petstore bench spec"
start_gateway --spec "$SHARED/specs/petstore-bench.yaml" --base-url http://127.0.0.1:18080 --name petstore
bash "$SHARED/bench_mcp.sh" gateway "http://127.0.0.1:$PORT/mcp/petstore"
curl -s "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics.txt" || true
grep 'rest2mcp::audit' "$OUT/gateway-server.log" | tail -1 >"$OUT/audit.txt" || true
echo "metrics after this block: $OUT/metrics.txt ($(grep -vc '^#' "$OUT/metrics.txt") series); an audit line: $OUT/audit.txt"
stop_gateway

echo "== interleaved: nginx direct, an nginx reverse proxy, the gateway (c32)"
# The ratio the target is about, from rounds taken in turn so that this box's drift (nginx
# direct alone moves between ~60k and ~90k req/s from one minute to the next) hits all three
# alike. The nginx reverse proxy is the cheapest proxy hop there is here: what it reaches is
# about the ceiling for anything that sits between wrk and the backend.
NPROXY="$OUT/nginx-proxy"; mkdir -p "$NPROXY/tmp"
sed "s|PREFIX|$NPROXY|g" "$ROOT/bench/nginx-proxy.conf" > "$NPROXY/nginx.conf"
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
"$NGINX_BIN" -p "$NPROXY" -c "$NPROXY/nginx.conf"
stop_proxy() { "$NGINX_BIN" -p "$NPROXY" -c "$NPROXY/nginx.conf" -s quit 2>/dev/null || true; }
trap 'cleanup; stop_proxy' EXIT
if [ -n "${BASELINE_BIN:-}" ]; then
  "$BASELINE_BIN" serve --spec "$SHARED/specs/petstore-bench.yaml" --base-url http://127.0.0.1:18080 \
    --name petstore --listen 127.0.0.1:18082 >"$OUT/baseline.log" 2>&1 &
  BASE_PID=$!; pids+=("$BASE_PID")
  for _ in $(seq 600); do grep -q '^ready on' "$OUT/baseline.log" && break; sleep 0.01; done
fi
start_gateway --spec "$SHARED/specs/petstore-bench.yaml" --base-url http://127.0.0.1:18080 --name petstore
for i in $(seq "${AB_ROUNDS:-$((RUNS * 2))}"); do
  python3 "$SHARED/mcp_load.py" --plain-get http://127.0.0.1:18080/pets/1 -t 1 -c 32 --duration "${AB_DURATION:-5}" --runs 1 \
    --label il-nginx-$i --json-out "$OUT/json/il-nginx-$i.json" | grep SUMMARY
  if [ -n "${BASELINE_BIN:-}" ]; then
    python3 "$SHARED/mcp_load.py" --url "http://127.0.0.1:18082/mcp/petstore" -t 1 -c 32 --duration "${AB_DURATION:-5}" --runs 1 \
      --label il-baseline-$i --json-out "$OUT/json/il-baseline-$i.json" | grep SUMMARY
    python3 "$SHARED/mcp_load.py" --url "http://127.0.0.1:18082/mcp/petstore" -t 1 -c 1 --duration "${AB_DURATION:-5}" --runs 1 \
      --label il-baseline-c1-$i --json-out "$OUT/json/il-baseline1-$i.json" | grep SUMMARY
  fi
  python3 "$SHARED/mcp_load.py" --plain-get http://127.0.0.1:18090/pets/1 -t 1 -c 32 --duration "${AB_DURATION:-5}" --runs 1 \
    --label il-proxy-$i --json-out "$OUT/json/il-proxy-$i.json" | grep SUMMARY
  python3 "$SHARED/mcp_load.py" --url "http://127.0.0.1:$PORT/mcp/petstore" -t 1 -c 32 --duration "${AB_DURATION:-5}" --runs 1 \
    --label il-gateway-$i --json-out "$OUT/json/il-gateway-$i.json" | grep SUMMARY
done
stop_gateway
stop_proxy
[ -n "${BASELINE_BIN:-}" ] && kill "$BASE_PID" 2>/dev/null || true

echo "== open vs protected (RS256 JWT checked against a JWKS file; issue #4: within 10%)"
# One gateway serving the same API twice, open at /mcp/open and protected at /mcp/petstore, with
# the runs interleaved (open, protected, open, ...): the machine's drift over a run (10-20% here)
# then hits both sides alike instead of deciding the ratio.
RESOURCE="http://127.0.0.1:$PORT/mcp/petstore"
python3 "$SHARED/jwt_tool.py" --dir "$OUT/jwt" --issuer https://bench-issuer.example \
  --audience "$RESOURCE" --scope "pets:read pets:write" >/dev/null
cat > "$OUT/ab.yaml" <<YAML
auth:
  issuers:
    - {issuer: https://bench-issuer.example, jwks: $OUT/jwt/jwks.json}
apis:
  - {name: open, spec: $SHARED/specs/petstore-bench.yaml, base_url: http://127.0.0.1:18080, auth: {enabled: false}}
  - {name: petstore, spec: $SHARED/specs/petstore-bench.yaml, base_url: http://127.0.0.1:18080}
YAML
start_gateway --config "$OUT/ab.yaml"
# More, shorter rounds than the other sets: this machine's throughput jumps between two levels
# for seconds at a time, and a median needs enough rounds on each side to see through that.
for i in $(seq "${AB_ROUNDS:-$((RUNS * 2))}"); do
  RUNS=1 DURATION="${AB_DURATION:-5}" SETS="c32 c1" bash "$SHARED/bench_mcp.sh" ab-open-$i "http://127.0.0.1:$PORT/mcp/open"
  RUNS=1 DURATION="${AB_DURATION:-5}" SETS="c32 c1" bash "$SHARED/bench_mcp.sh" ab-jwt-$i "$RESOURCE" --bearer-file "$OUT/jwt/token.txt"
  # Control: the open endpoint sent the same ~700-byte Authorization header, which it ignores.
  # It separates what carrying a bearer token costs wrk and the kernel on this 2-core box from
  # what checking it costs the gateway.
  RUNS=1 DURATION="${AB_DURATION:-5}" SETS="c32" bash "$SHARED/bench_mcp.sh" ab-hdr-$i "http://127.0.0.1:$PORT/mcp/open" --bearer-file "$OUT/jwt/token.txt"
done
stop_gateway
echo "== the token check alone (cargo bench --bench token_check)"
TOKEN_CHECK=$(cd "$ROOT" && cargo bench --quiet --bench token_check 2>/dev/null | grep '^token check')
echo "$TOKEN_CHECK"

echo "== GitHub REST API description (13 MB, 1223 operations)"
GH="$ROOT/target/github-spec/api.github.com-23.0.2.json"
if [ ! -f "$GH" ]; then
  mkdir -p "$(dirname "$GH")"
  (cd "$(dirname "$GH")" && npm pack @octokit/openapi@23.0.2 --silent >/dev/null \
     && tar xzf octokit-openapi-23.0.2.tgz package/generated/api.github.com.json \
     && mv package/generated/api.github.com.json "$GH" && rm -rf package octokit-openapi-23.0.2.tgz)
fi
# Ready time: the median of three starts (the first may read the file from disk).
readies=()
for _ in 1 2 3; do
  start_gateway --spec "$GH" --base-url http://127.0.0.1:18080 --name github
  readies+=("$READY_S"); stop_gateway
done
READY_S=$(printf '%s\n' "${readies[@]}" | sort -n | sed -n 2p)
start_gateway --spec "$GH" --base-url http://127.0.0.1:18080 --name github
HWM_READY=$(awk '/VmHWM/ {print $2}' "/proc/$GW_PID/status")
python3 "$ROOT/bench/list_all.py" "http://127.0.0.1:$PORT/mcp/github" > "$OUT/json/github-list.json"
HWM=$(awk '/VmHWM/ {print $2}' "/proc/$GW_PID/status")
stop_gateway

echo "== live mapping: one API changed among 1,000, and 100 reloads under load (issue 16)"
RELOAD_FAILED=0
python3 "$ROOT/bench/reload.py" "$BIN" | tee "$OUT/reload.txt" || RELOAD_FAILED=1

python3 - "$OUT" "$READY_S" "$HWM" "$HWM_READY" "$TOKEN_CHECK" <<'PY'
import json, sys
out, ready, hwm, hwm_ready = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
token_check = sys.argv[5].split(": ", 1)[-1]
j = lambda n: json.load(open(f"{out}/json/{n}.json"))
n32, n1 = j("nginx-c32"), j("nginx-c1")
g32, g1 = j("gateway-c32"), j("gateway-c1")
import glob, statistics
def ab(side, s, key):
    return statistics.median(json.load(open(f))[key] for f in glob.glob(f"{out}/json/ab-{side}-*-{s}.json"))
ab_open32, ab_jwt32 = ab("open", "c32", "rps_median"), ab("jwt", "c32", "rps_median")
ab_hdr32 = ab("hdr", "c32", "rps_median")
ab_open1, ab_jwt1 = ab("open", "c1", "p50_ms"), ab("jwt", "c1", "p50_ms")
ab_runs = [json.load(open(f)) for f in glob.glob(f"{out}/json/ab-*.json")]
il = {k: statistics.median(json.load(open(f))["rps_median"] for f in glob.glob(f"{out}/json/il-{k}-*.json"))
      for k in ("nginx", "proxy", "gateway")}
il_runs = [json.load(open(f)) for f in glob.glob(f"{out}/json/il-gateway-*.json")]
base_files = glob.glob(f"{out}/json/il-baseline-*.json")
base = statistics.median(json.load(open(f))["rps_median"] for f in base_files) if base_files else None
base1_files = glob.glob(f"{out}/json/il-baseline1-*.json")
base1 = statistics.median(json.load(open(f))["p50_ms"] for f in base1_files) if base1_files else None
try: gm = j("gateway-modern")
except Exception: gm = None
gl = j("github-list")
rows = [
  ("tools/call c32 / nginx-direct c32 (interleaved, medians)", f"{il['gateway']:.0f} / {il['nginx']:.0f} req/s = {100*il['gateway']/il['nginx']:.1f}%", ">= 30%"),
  ("same, one block after the other", f"{g32['rps_median']:.0f} / {n32['rps_median']:.0f} req/s = {100*g32['rps_median']/n32['rps_median']:.1f}%", ">= 30%"),
] + ([
  ("BASELINE_BIN tools/call c32 / nginx-direct (interleaved)", f"{base:.0f} / {il['nginx']:.0f} req/s = {100*base/il['nginx']:.1f}%", "-"),
  ("BASELINE_BIN added p50 at c1", f"{base1:.3f} - {n1['p50_ms']:.3f} = {base1-n1['p50_ms']:.3f} ms", "-"),
] if base else []) + [
  ("nginx reverse proxy c32 / nginx-direct (interleaved)", f"{il['proxy']:.0f} / {il['nginx']:.0f} req/s = {100*il['proxy']/il['nginx']:.1f}%", "-"),
  ("tools/call c32 / nginx reverse proxy (interleaved)", f"{il['gateway']:.0f} / {il['proxy']:.0f} req/s = {100*il['gateway']/il['proxy']:.1f}%", "-"),
  ("added p50 latency at c1", f"{g1['p50_ms']:.3f} - {n1['p50_ms']:.3f} = {g1['p50_ms']-n1['p50_ms']:.3f} ms", "< 0.3 ms"),
  ("tools/call c32, protocol 2026-07-28", f"{gm['rps_median']:.0f} req/s" if gm else "skipped", "-"),
  ("tools/call c32, JWT / open (interleaved, medians)", f"{ab_jwt32:.0f} / {ab_open32:.0f} req/s = {100*ab_jwt32/ab_open32:.1f}%", ">= 90%"),
  ("tools/call c32, JWT / open sent the same header", f"{ab_jwt32:.0f} / {ab_hdr32:.0f} req/s = {100*ab_jwt32/ab_hdr32:.1f}%", "-"),
  ("p50 at c1, JWT / open (interleaved, medians)", f"{ab_jwt1:.3f} / {ab_open1:.3f} ms", "-"),
  ("token check: first sight / cached (cargo bench)", token_check, "-"),
  ("errors (non2xx + bad bodies + socket)", str(sum(x['non2xx_total']+x['bad_body_total']+x['socket_errors_total'] for x in [g32, g1] + ab_runs + il_runs + ([gm] if gm else []))), "0"),
  ("GitHub spec: ready after (median of 3 starts)", f"{ready:.3f} s", "< 0.5 s"),
  ("GitHub spec: tools/list, all pages", f"{gl['ms']:.1f} ms ({gl['tools']} tools, {gl['pages']} pages, {gl['bytes']/1048576:.2f} MiB)", "< 20 ms"),
  ("GitHub spec: peak RSS (ready / after the list runs)", f"{hwm_ready/1024:.1f} / {hwm/1024:.1f} MiB", "< 80 MiB"),
]
w = max(len(r[0]) for r in rows); v = max(len(r[1]) for r in rows)
print(f"\n{'measure':<{w}}  {'measured (this run)':<{v}}  limit")
for a, b, c in rows: print(f"{a:<{w}}  {b:<{v}}  {c}")
# Each interleaved round: nginx direct moves between phases (about 89k and 105k req/s on the
# development box) and the ratio with it; the gateway itself moves much less.
def il_round(k, i):
    return json.load(open(f"{out}/json/il-{k}-{i}.json"))["rps_median"]
rounds = sorted(int(f.rsplit("-", 1)[1][:-5]) for f in glob.glob(f"{out}/json/il-gateway-*.json"))
print("\nrounds (nginx direct / gateway req/s = ratio): " + "; ".join(
    f"{il_round('nginx', i):.0f} / {il_round('gateway', i):.0f} = "
    f"{100 * il_round('gateway', i) / il_round('nginx', i):.1f}%" for i in rounds))
PY
echo
cat "$OUT/reload.txt"
exit "$RELOAD_FAILED"
