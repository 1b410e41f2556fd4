#!/usr/bin/env bash
# Runs the production shape of docker/compose.yml without a container engine, to check what
# the Dockerfile and the HAProxy config do on machines where Docker cannot run:
#   1. the Dockerfile's build stage (copy the same context, npm ci, build, prune dev deps);
#   2. two gateway replicas from that pruned tree, configured by docker/gatehouse.yaml and the
#      same environment compose.yml sets, on the local Postgres and Redis;
#   3. HAProxy with docker/haproxy/haproxy.cfg (only addresses and ports rewritten);
#   4. checks through the proxy: /healthz, /readyz, /metrics, both replicas UP and used,
#      one MCP session served by both replicas in turn, and SIGTERM of one replica.
# Needs: npm on Node >= 20.19 (npm ci installs the pinned Node 24 the script runs on), haproxy, curl, psql, redis-cli, Postgres on 127.0.0.1:5432 (trust) and
# Redis on 127.0.0.1:6379. Usage: bash docker/smoke-local.sh   (exit 0 = every check passed)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d /tmp/gatehouse-smoke.XXXXXX)"
DB="gatehouse_smoke_$$"
PREFIX="gh-smoke-$$:"
PROXY=127.0.0.1:18080
STATS=127.0.0.1:18404
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 --scan --pattern "${PREFIX}*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }

step "build stage, as in docker/Dockerfile"
cd "$ROOT"
cp package.json package-lock.json tsconfig.json tsconfig.build.json nest-cli.json "$WORK/"
cp -r apps libs migrations "$WORK/"
find "$WORK" -name node_modules -prune -exec rm -rf {} +
cd "$WORK"
LOCK_BROKEN=0
if ! npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm-ci.log" 2>&1; then
  # Report it, then carry on with npm install so the remaining checks still say something.
  LOCK_BROKEN=1
  printf 'FAIL: npm ci refused package-lock.json, so "docker build" would fail here too:\n' >&2
  grep -m3 -E 'EUSAGE|Missing|in sync' "$WORK/npm-ci.log" >&2 || true
  npm install --no-audit --no-fund --loglevel=error
fi
npm run build --silent
# The image gets Node from node:24-slim; here the pinned binary stands in for it, kept aside
# because npm prune removes the dev dependency that installed it.
cp "$(readlink -f node_modules/.bin/node)" "$WORK/node"
npm prune --omit=dev --no-audit --no-fund --loglevel=error
[ -d node_modules/typescript ] && fail "dev dependencies survived npm prune"
ok "built and pruned to production dependencies"

step "two replicas on Postgres database $DB and Redis prefix $PREFIX"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB" >/dev/null
# The image runs from /app; here the pruned tree stands in for it.
sed -e "s#/app/#$WORK/#g" -e "s#keyPrefix: 'gh:'#keyPrefix: '$PREFIX'#" \
  -e "s#/var/lib/gatehouse/#$WORK/#g" "$ROOT/docker/gatehouse.yaml" >"$WORK/gatehouse.yaml"
for n in 1 2; do
  mkdir -p "$WORK/data-$n"
  env -i PATH="$PATH" HOME="$HOME" NODE_ENV=production \
    GATEHOUSE_CONFIG="$WORK/gatehouse.yaml" GATEHOUSE_DATA_DIR="$WORK/data-$n" \
    HOST=127.0.0.1 PORT="1808$n" PUBLIC_URL="http://$PROXY" \
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" REDIS_URL="redis://127.0.0.1:6379/0" \
    "$WORK/node" dist/apps/gateway/src/main.js >"$WORK/gateway-$n.log" 2>&1 &
  PIDS+=("$!")
done
GATEWAY_1=${PIDS[0]}

step "HAProxy with docker/haproxy/haproxy.cfg (addresses rewritten)"
sed -e "s#server gateway-\([12]\) gateway-[12]:8080#server gateway-\1 127.0.0.1:1808\1#" \
  -e "s# resolvers docker init-addr last,libc,none##" \
  -e "s#bind :8080#bind $PROXY#" -e "s#bind :8404#bind $STATS#" \
  "$ROOT/docker/haproxy/haproxy.cfg" | sed '/^resolvers docker/,/^$/d' >"$WORK/haproxy.cfg"
haproxy -c -q -f "$WORK/haproxy.cfg"
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=("$!")

status() { awk -F, -v s="$1" '$1=="gateways" && $2==s {print $18}' < <(curl -fsS "http://$STATS/;csv"); }
total() { awk -F, -v s="$1" '$1=="gateways" && $2==s {print $8}' < <(curl -fsS "http://$STATS/;csv"); }
for _ in $(seq 1 60); do
  [ "$(status gateway-1 2>/dev/null)" = UP ] && [ "$(status gateway-2 2>/dev/null)" = UP ] && break
  sleep 1
done
[ "$(status gateway-1)" = UP ] || { tail -20 "$WORK/gateway-1.log"; fail "gateway-1 never became ready"; }
[ "$(status gateway-2)" = UP ] || { tail -20 "$WORK/gateway-2.log"; fail "gateway-2 never became ready"; }
ok "both replicas UP by HAProxy's /readyz check"

step "health endpoints through the proxy"
curl -fsS "http://$PROXY/healthz" | grep -q '"ok"' || fail "/healthz"
ok "/healthz 200"
curl -fsS "http://$PROXY/readyz" >/dev/null || fail "/readyz"
ok "/readyz 200"
curl -fsS "http://$PROXY/metrics" | grep -q '^# TYPE gatehouse_' || fail "/metrics has no gatehouse_ metrics"
ok "/metrics serves gatehouse_ metrics"
curl -fsS "http://$PROXY/haproxy-health" >/dev/null || fail "/haproxy-health"
ok "/haproxy-health 200"

step "one MCP session, requests alternating between replicas (round robin, no stickiness)"
before1=$(total gateway-1)
before2=$(total gateway-2)
mcp() {
  curl -sS -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' "http://$PROXY/mcp" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -H 'mcp-protocol-version: 2025-11-25' ${SESSION:+-H "mcp-session-id: $SESSION"} -d "$1"
}
code=$(mcp '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"smoke","version":"1"}}}')
[ "$code" = 200 ] || { cat "$WORK/body"; fail "initialize answered $code"; }
SESSION=$(awk -F': ' 'tolower($1)=="mcp-session-id" {print $2}' "$WORK/headers" | tr -d '\r')
[ -n "$SESSION" ] || fail "initialize returned no Mcp-Session-Id"
code=$(mcp '{"jsonrpc":"2.0","method":"notifications/initialized"}')
[ "$code" = 202 ] || fail "notifications/initialized answered $code"
for i in 2 3 4 5; do
  code=$(mcp "{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"tools/list\"}")
  [ "$code" = 200 ] && grep -q '"tools":\[{"name":"[a-z-]*__' "$WORK/body" || { cat "$WORK/body"; fail "tools/list #$i answered $code"; }
done
used1=$(($(total gateway-1) - before1))
used2=$(($(total gateway-2) - before2))
[ "$used1" -ge 2 ] && [ "$used2" -ge 2 ] || fail "requests were not spread: gateway-1 $used1, gateway-2 $used2"
ok "session $SESSION served by both replicas ($used1 and $used2 requests)"

step "SIGTERM one replica: HAProxy takes it out and the other keeps serving"
kill -TERM "$GATEWAY_1"
for _ in $(seq 1 30); do
  [ "$(status gateway-1)" != UP ] && break
  sleep 1
done
[ "$(status gateway-1)" != UP ] || fail "gateway-1 still UP after SIGTERM"
wait "$GATEWAY_1" 2>/dev/null && ok "gateway-1 exited 0 after SIGTERM" || ok "gateway-1 exited after SIGTERM (code $?)"
for _ in 1 2 3 4; do curl -fsS "http://$PROXY/healthz" >/dev/null || fail "request failed with one replica down"; done
ok "gateway-2 serves alone"

[ "$LOCK_BROKEN" = 0 ] || fail "every check after the build passed, but npm ci refused package-lock.json (see above)"
printf '\nall checks passed\n'
