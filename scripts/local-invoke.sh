#!/usr/bin/env bash
# Proves the AWS side locally: builds every function for Lambda with cargo-lambda
# (release, arm64 for provided.al2023, as the SAM template deploys them; prints each
# zip's size), then runs them under `cargo lambda watch` and sends the repository's
# event files with `cargo lambda invoke`, checking each answer.
# The local gateway runs beside them as the @connections endpoint of their pushes.
set -euo pipefail
cd "$(dirname "$0")/.."

FUNCTIONS=(connect card-advance route-to-agent agent-message)
INVOKE_PORT="${LAMBDA_INVOKE_PORT:-19000}"
GATEWAY_LISTEN=127.0.0.1:18091   # matches events/local-invoke.env

command -v cargo-lambda >/dev/null 2>&1 || pip install --quiet cargo-lambda

rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

echo "== cargo lambda build --release --arm64 (${FUNCTIONS[*]})"
rm -f target/lambda/*/bootstrap.zip
cargo lambda build --release --arm64 --output-format zip $(printf -- '-p %s ' "${FUNCTIONS[@]}")
for f in "${FUNCTIONS[@]}"; do
  zip="target/lambda/$f/bootstrap.zip"
  test -s "$zip" || { echo "missing $zip" >&2; exit 1; }
  printf '   %-15s %s bytes zipped (%s)\n' "$f" "$(stat -c %s "$zip")" "$(du -h "$zip" | cut -f1)"
done

echo "== cargo lambda watch + invoke"
cargo build -p livechat-gateway
logs=$(mktemp -d)
target/debug/livechat dev --listen "$GATEWAY_LISTEN" >"$logs/gateway.log" 2>&1 &
gateway_pid=$!
cargo lambda watch --invoke-port "$INVOKE_PORT" --env-file events/local-invoke.env >"$logs/watch.log" 2>&1 &
watch_pid=$!
cleanup() {
  kill "$watch_pid" "$gateway_pid" 2>/dev/null || true
  wait "$watch_pid" "$gateway_pid" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1 120); do
  (echo >"/dev/tcp/127.0.0.1/$INVOKE_PORT") 2>/dev/null && break
  sleep 1
done

# invoke FUNCTION EVENT_FILE PYTHON_CHECK: the check reads the response as `r`.
invoke() {
  local function=$1 file=$2 check=$3 out
  out=$(cargo lambda invoke "$function" --invoke-port "$INVOKE_PORT" --data-file "events/$file" --output-format json) || {
    echo "invoke $function $file failed"; tail -50 "$logs/watch.log"; exit 1; }
  if python3 -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if ($check) else 1)" "$out"; then
    echo "   ok  $function < $file"
  else
    echo "   BAD $function < $file: $out (expected $check)"; tail -50 "$logs/watch.log"; exit 1
  fi
}

invoke connect connect-visitor.json            "r['statusCode'] == 200"
invoke connect connect-agent-bad-token.json    "r['statusCode'] == 401"
invoke card-advance message-start.json         "r['statusCode'] == 200"
invoke agent-message message-default.json      "r['statusCode'] == 200"
invoke route-to-agent sqs-route.json           "r['batchItemFailures'] == []"
invoke connect disconnect.json                 "r['statusCode'] == 200"
echo "local invoke: all functions answered as expected"
