#!/usr/bin/env bash
# The benchmark suite (issue 8), separate from the tests: cold start, relay latency,
# store cost, routing contention, load, widget weight and cost per 1,000 chats, each
# measured beside its reference in the same run. Prints the table and writes it, with
# the machine it ran on, to docs/benchmarks.md. Installs what it needs by itself:
# the npm packages pinned in bench/package.json (esbuild and two peers' widgets),
# DynamoDB Local (scripts/dynamodb-local.sh, on port 8100 by default), and the arm64
# Lambda zips whose sizes it reports (scripts/sam-build.sh; BENCH_SKIP_ZIPS=1 skips
# them).
#   scripts/bench.sh [--only 1,2,...] [--runs N]      (arguments go to the bench binary)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
export BENCH_SCRIPT_STARTED="$started"   # the report states the whole command's time

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target="${CARGO_TARGET_DIR:-target}"
FUNCTIONS=(connect card-advance route-to-agent agent-message analytics)

echo "== npm packages for the widget weights (bench/package.json)" >&2
[ -x bench/node_modules/.bin/esbuild ] || (cd bench && npm ci --no-audit --no-fund --silent)

echo "== release build (host): the functions, the gateway, the bench" >&2
cargo build --release --locked $(printf -- '-p %s ' "${FUNCTIONS[@]}") -p livechat-cli -p livechat-bench

if [ "${BENCH_SKIP_ZIPS:-0}" != 1 ]; then
  echo "== arm64 Lambda zips (sam build), for their sizes" >&2
  scripts/sam-build.sh >&2
fi

echo "== DynamoDB Local" >&2
port="${BENCH_DYNAMODB_PORT:-8100}"
DYNAMODB_ENDPOINT=$(scripts/dynamodb-local.sh start "$port")
export DYNAMODB_ENDPOINT
trap 'scripts/dynamodb-local.sh stop' EXIT
echo "   $DYNAMODB_ENDPOINT" >&2

# 1,000 visitors, 1,000 echo sockets and 110 agents at once: raise the soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== bench" >&2
"$target/release/bench" "$@"
echo "bench.sh: $(( $(date +%s) - started )) s in all, builds included" >&2
