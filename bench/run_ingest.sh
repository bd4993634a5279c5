#!/usr/bin/env bash
# Single-record ingest, llmmeter vs the straightforward baseline (bench/baseline_app.py), in one
# run on the same PostgreSQL + Redis, 2 uvicorn workers each (one server up at a time), wrk on
# the same box, distinct externalRequestIds; then llmmeter without Redis (in-process limiter)
# for the limiter's share. Not part of the test suite.
# Usage: bash bench/run_ingest.sh [duration_seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
export LLMMETER_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/llmmeter_bench
export LLMMETER_REDIS_URL=redis://127.0.0.1:6379/14
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS llmmeter_bench WITH (FORCE)" \
  -c "CREATE DATABASE llmmeter_bench" postgres 2>&1 | grep -v NOTICE || true
.venv/bin/llmmeter migrate >/dev/null
LLMMETER_BENCH_KEY=$(.venv/bin/llmmeter create-workspace --name bench --plan enterprise \
  | grep -o 'lm_live_[A-Za-z0-9]*' | head -1)
export LLMMETER_BENCH_KEY
LOGS=$(mktemp -d)

measure() { # name port command…
  local name=$1 port=$2
  shift 2
  "$@" --port "$port" --workers 2 >"$LOGS/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/openapi.json" && break; sleep 0.2; done
  for conns in 64 4; do
    wrk -t2 -c"$conns" -d"${DURATION}s" -s bench/ingest.lua "http://127.0.0.1:$port" \
      | grep RESULT | sed "s/^RESULT/$name conns=$conns/"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$name answers: $(grep -oE '" [0-9]{3} ' "$LOGS/$name.log" | sort | uniq -c | tr -s ' \n' ' ')"
}

measure baseline 8201 .venv/bin/uvicorn bench.baseline_app:app
measure llmmeter 8200 .venv/bin/llmmeter serve
# The same without Redis: the in-process limiter, to show what the Redis round trip costs.
LLMMETER_REDIS_URL= measure llmmeter-local-limiter 8202 .venv/bin/llmmeter serve
echo "server logs: $LOGS"
