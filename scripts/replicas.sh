#!/usr/bin/env bash
# Three switchyard replicas on this machine's Redis and PostgreSQL, in front of the provider
# simulator: ports 4141, 4142, 4143 share one budget, one rate window per endpoint and one
# ledger. Ctrl-C stops everything. Usage: scripts/replicas.sh
#   REDIS_URL [redis://127.0.0.1:6379/0]  PG_URL [postgres://postgres@127.0.0.1:5432]  DB [switchyard_replicas]
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
DB=${DB:-switchyard_replicas}
SIM_PORT=${SIM_PORT:-4199}
psql "$PG_URL/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 || psql "$PG_URL/postgres" -qc "CREATE DATABASE $DB"
node scripts/build.js --if-stale
BIN=dist/src/bin/switchyard.js
dir=$(mktemp -d)
cat > "$dir/switchyard.yaml" <<YAML
providers:
  deepseek: { kind: openai, baseUrl: http://127.0.0.1:$SIM_PORT/deepseek/v1 }
  gemini: { kind: openai, baseUrl: http://127.0.0.1:$SIM_PORT/gemini/v1 }
models:
  deepseek-v3.2:
    tier: fast_cheap
    price: { inputPerMTok: 0.28, outputPerMTok: 0.42 }
    contextWindow: 128000
    fallbacks: [gemini-2.5-flash]
    endpoints: [{ provider: deepseek, upstreamModel: deepseek-chat, rpm: 60 }]
  gemini-2.5-flash:
    tier: fast_cheap
    price: { inputPerMTok: 0.30, outputPerMTok: 2.50 }
    contextWindow: 1048576
    endpoints: [{ provider: gemini, upstreamModel: gemini-2.5-flash, rpm: 60 }]
budget:
  limits: [{ scope: global, period: day, usd: 0.05 }]
storage:
  ledger: $PG_URL/$DB
  shared: $REDIS_URL
  leaseMs: 5000
  keyPrefix: replicas-demo
YAML
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
node "$BIN" simulate --port "$SIM_PORT" & pids+=($!)
sleep 1
for i in 1 2 3; do
  SWITCHYARD_REPLICA_ID="replica-$i" node "$BIN" serve --config "$dir/switchyard.yaml" --port "414$i" & pids+=($!)
done
echo "three replicas on http://127.0.0.1:4141 4142 4143 (Redis $REDIS_URL, ledger $PG_URL/$DB); try: switchyard status --url http://127.0.0.1:4142"
wait
