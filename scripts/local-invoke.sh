#!/usr/bin/env bash
# Runs every function as its own process on this machine's host binaries under
# `cargo lambda watch` and sends the repository's event files with
# `cargo lambda invoke`, checking each answer. The local gateway runs beside them as
# the @connections endpoint of their pushes. (The deployable arm64 zips are
# scripts/sam-build.sh's; scripts/arm64-boot.sh boots those.)
set -euo pipefail
cd "$(dirname "$0")/.."

FUNCTIONS=(connect card-advance route-to-agent agent-message analytics)
INVOKE_PORT="${LAMBDA_INVOKE_PORT:-19000}"
GATEWAY_LISTEN=127.0.0.1:18091   # matches events/local-invoke.env
CALL_TIMEOUT="${LOCAL_INVOKE_TIMEOUT:-180}"   # seconds an invoke may wait for its answer
TARGET="${CARGO_TARGET_DIR:-target}"

source scripts/lambda-tools.sh
use_cargo_lambda

echo "== cargo lambda watch + invoke"
# Build what `cargo lambda watch` runs (`cargo run --bin F`) before starting it: a
# function that fails to build or to start never takes its invocation, and
# `cargo lambda invoke` then waits for it forever.
# Each alone, as watch builds it: features unify per build, so a joint build would
# leave watch different dependency builds to make.
cargo build -p livechat-cli
for f in "${FUNCTIONS[@]}"; do cargo build --bin "$f"; done
logs=$(mktemp -d)
# The gateway is only the @connections endpoint here, on its in-memory store (the
# functions run on theirs: no TABLE_NAME), whatever DYNAMODB_ENDPOINT the caller set.
# Its @connections API accepts only requests signed with the credentials the functions
# have in their env file.
env_value() { sed -n "s/^$1=//p" events/local-invoke.env; }
env -u DYNAMODB_ENDPOINT \
  LIVECHAT_CONNECTIONS_ACCESS_KEY_ID="$(env_value AWS_ACCESS_KEY_ID)" \
  LIVECHAT_CONNECTIONS_SECRET_ACCESS_KEY="$(env_value AWS_SECRET_ACCESS_KEY)" \
  "$TARGET"/debug/livechat dev --listen "$GATEWAY_LISTEN" >"$logs/gateway.log" 2>&1 &
gateway_pid=$!
# --ignore-changes: a file written in the tree meanwhile must not restart a function
# in the middle of an invocation (that invocation would never be answered).
start_watch() {
  cargo lambda watch --ignore-changes --invoke-port "$INVOKE_PORT" \
    --env-file events/local-invoke.env >>"$logs/watch.log" 2>&1 &
  watch_pid=$!
}
start_watch
cleanup() {
  kill "$watch_pid" "$gateway_pid" 2>/dev/null || true
  wait "$watch_pid" "$gateway_pid" 2>/dev/null || true
}
trap cleanup EXIT

# wait_port PORT WHAT PID: up to 120 s for a listener on PORT, while process PID lives.
wait_port() {
  for _ in $(seq 1 120); do
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "$2 exited before listening on port $1" >&2; show_logs; exit 1; }
    sleep 1
  done
  echo "$2 is not listening on port $1 after 120 s" >&2; show_logs; exit 1
}
show_logs() {
  echo "--- cargo lambda watch (last 50 lines)"; tail -50 "$logs/watch.log"
  echo "--- gateway (last 20 lines)"; tail -20 "$logs/gateway.log"
}
wait_port "$INVOKE_PORT" "cargo lambda watch" "$watch_pid"
wait_port "${GATEWAY_LISTEN##*:}" "the gateway" "$gateway_pid"

# invoke FUNCTION EVENT_FILE PYTHON_CHECK: the check reads the response as `r`.
# Each call is bounded: the functions are built already, so a healthy one answers in
# seconds, and one that crashed at start would otherwise never answer. A call that
# gets no answer is shown with the logs and tried once more under a fresh watch (a
# CI run once hung here for an hour); a second silence fails the run.
call() {
  timeout "$CALL_TIMEOUT" cargo lambda invoke "$1" --invoke-port "$INVOKE_PORT" --data-file "events/$2" --output-format json
}
invoke() {
  local function=$1 file=$2 check=$3 out status=0
  out=$(call "$function" "$file") || status=$?
  if [ "$status" -eq 124 ]; then
    echo "   no answer from $function < $file within $CALL_TIMEOUT s; logs, then one more try under a fresh watch:"
    show_logs
    kill "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
    start_watch
    wait_port "$INVOKE_PORT" "cargo lambda watch" "$watch_pid"
    status=0
    out=$(call "$function" "$file") || status=$?
  fi
  if [ "$status" -ne 0 ]; then
    echo "invoke $function < $file failed (exit $status)"; show_logs; exit 1
  fi
  if python3 -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if ($check) else 1)" "$out"; then
    echo "   ok  $function < $file"
  else
    echo "   BAD $function < $file: $out (expected $check)"; show_logs; exit 1
  fi
}

invoke connect connect-visitor.json            "r['statusCode'] == 200"
invoke connect connect-agent-bad-token.json    "r['statusCode'] == 401"
invoke card-advance message-start.json         "r['statusCode'] == 200"
invoke agent-message message-default.json      "r['statusCode'] == 200"
invoke route-to-agent sqs-route.json           "r['batchItemFailures'] == []"
invoke analytics dynamodb-stream.json          "r['batchItemFailures'] == []"
invoke connect disconnect.json                 "r['statusCode'] == 200"
echo "local invoke: all functions answered as expected"
