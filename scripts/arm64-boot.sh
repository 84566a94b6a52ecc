#!/usr/bin/env bash
# Boots each function's deployable arm64 `bootstrap` (the zips that
# scripts/sam-build.sh makes of `sam build`'s output, as `sam deploy` uploads them,
# unzipped with the modes they carry) under Debian's
# qemu-user-static (with Debian's arm64 glibc, as provided.al2023 has one), with exactly the environment variables the SAM template gives
# the functions, against a local Lambda Runtime API (tests/lambda/runtime_api.py),
# and checks its answer to one event of its own kind: a WebSocket `$connect` for
# connect, WebSocket messages for card-advance and agent-message, an SQS batch for
# route-to-agent, a DynamoDB Streams batch for analytics. Behind them: DynamoDB Local (the table), moto's SQS (the delay
# queue) and the local gateway (@connections).
# Only the endpoints differ from AWS: DYNAMODB_ENDPOINT and AWS_ENDPOINT_URL_SQS
# point at the local services, and the credentials are local ones.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lambda-tools.sh

FUNCTIONS=(connect card-advance agent-message route-to-agent analytics)
TARGET="${CARGO_TARGET_DIR:-target}"
PORT_BASE="${ARM64_BOOT_PORT_BASE:-18100}"   # gateway, moto, DynamoDB Local, Runtime API
GATEWAY=127.0.0.1:$PORT_BASE
MOTO_PORT=$((PORT_BASE + 1))
API_PORT=$((PORT_BASE + 3))
TABLE=livechat-arm64-boot
# "local": DynamoDB Local keeps tables per access key, and the gateway (which creates
# the table) uses that one; its @connections then accepts the same.
KEY_ID=local SECRET=local
ZIPS=infra/.aws-sam/zips   # scripts/sam-build.sh's
export DEBIAN_FRONTEND=noninteractive

for f in "${FUNCTIONS[@]}"; do
  test -s "$ZIPS/$f.zip" || { echo "missing $ZIPS/$f.zip: run scripts/sam-build.sh first" >&2; exit 1; }
done
SYSROOT=/usr/aarch64-linux-gnu
if ! command -v qemu-aarch64-static >/dev/null 2>&1 || [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] \
  || [ ! -e "$SYSROOT/lib/libgcc_s.so.1" ]; then
  echo "installing Debian's qemu-user-static and arm64 glibc"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross >/dev/null
fi
use_moto
test -x "$TARGET/debug/livechat" || cargo build -p livechat-cli

scratch_begin
start_local_aws "$PORT_BASE"
# The gateway creates the table on DynamoDB Local and seeds the demo account, as a
# first deploy's first start does; it is also the @connections endpoint.
env LIVECHAT_CONNECTIONS_ACCESS_KEY_ID=$KEY_ID LIVECHAT_CONNECTIONS_SECRET_ACCESS_KEY=$SECRET \
  "$TARGET/debug/livechat" dev --listen "$GATEWAY" --dynamodb-endpoint "$DYNAMODB_ENDPOINT" --table "$TABLE" \
  >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_port "$MOTO_PORT" moto
# Ready once it prints its address: the table is created by then (it listens before).
for _ in $(seq 1 240); do
  grep -q '^livechat local gateway on' "$work/gateway.log" && break
  kill -0 "${pids[1]}" 2>/dev/null || { echo "the gateway exited:" >&2; tail -20 "$work/gateway.log" >&2; exit 1; }
  sleep 0.5
done
grep -q '^livechat local gateway on' "$work/gateway.log" || { echo "the gateway did not start" >&2; exit 1; }
QUEUE_URL=$(AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET "$AWS_TOOLS/bin/python" -c "
import boto3
sqs = boto3.client('sqs', endpoint_url='http://127.0.0.1:$MOTO_PORT', region_name='us-east-1')
print(sqs.create_queue(QueueName='livechat-DelayQueue')['QueueUrl'])")

# The template's variables, with the values a deploy with the default parameters
# gives them (the endpoints and ids local). A variable the template gains must be
# given a value here: the boot fails on one it does not know.
JWKS='{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}]}'
declare -A VALUE=(
  [WEBSOCKET_MANAGEMENT_ENDPOINT]="http://$GATEWAY/local"
  [DELAY_QUEUE_URL]="$QUEUE_URL"
  [TOKEN_ISSUER]="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_LocalPool"
  [AGENT_TOKEN_AUDIENCE]="localinboxclient"
  [AGENT_JWKS]="$JWKS"
  [VISITOR_TOKEN_SECRET]="local-arm64-boot-visitor-secret-0123456789"
  [IDENTIFY_SECRET]="local-arm64-boot-identify-secret-0123456789abcdef"
  [TABLE_NAME]="$TABLE"
  [WAIT_TIME_LIMIT_SECONDS]=100
  [FALLBACK_MESSAGE]=""
  [MEETING_LINK]=""
  [NOTIFY_FROM_EMAIL]=""
  [INBOX_ORIGIN]="https://d111111abcdef8.cloudfront.net"
  [RUST_LOG]=info
  [LOG_FORMAT]=json
)
template_env_from VALUE scripts/arm64-boot.sh

# boot FUNCTION EVENT PYTHON_CHECK: the check reads the answer as `r`.
boot() {
  local f=$1 event=$2 check=$3 dir="$work/$1" answer status=0
  mkdir -p "$dir"
  # As Lambda unpacks a zip: each file with the mode the zip gives it (zipfile's
  # extractall drops modes), so a zip whose bootstrap is not executable fails here.
  python3 -c "
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for info in z.infolist():
    os.chmod(z.extract(info, sys.argv[2]), (info.external_attr >> 16) & 0o7777)" "$ZIPS/$f.zip" "$dir"
  python3 tests/lambda/runtime_api.py "$API_PORT" "events/$event" "$f" 120 >"$dir/answer" &
  local api=$!
  wait_port "$API_PORT" "$f-runtime-api"
  (cd "$dir" && exec env -i PATH=/usr/bin:/bin "${template_env[@]}" \
    AWS_LAMBDA_RUNTIME_API="127.0.0.1:$API_PORT" AWS_LAMBDA_FUNCTION_NAME="livechat-$f" \
    AWS_LAMBDA_FUNCTION_VERSION='$LATEST' AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 \
    AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/livechat-$f" AWS_LAMBDA_LOG_STREAM_NAME=local \
    _HANDLER=bootstrap LAMBDA_TASK_ROOT="$dir" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET AWS_EC2_METADATA_DISABLED=true \
    DYNAMODB_ENDPOINT="$DYNAMODB_ENDPOINT" AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$MOTO_PORT" \
    qemu-aarch64-static -L "$SYSROOT" ./bootstrap) >"$dir/log" 2>&1 &
  local fn=$!
  # The answer, or the function's exit without one (then the Runtime API is stopped).
  while kill -0 "$api" 2>/dev/null; do
    if ! kill -0 "$fn" 2>/dev/null; then
      sleep 1
      kill "$api" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  wait "$api" || status=$?
  kill "$fn" 2>/dev/null || true
  wait "$fn" 2>/dev/null || true
  answer=$(cat "$dir/answer")
  if [ "$status" -eq 0 ] && python3 -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if ($check) else 1)" "$answer"; then
    printf '   ok  %-15s arm64 bootstrap (%s bytes) < %s\n' "$f" "$(stat -c %s "$dir/bootstrap")" "$event"
  else
    echo "   BAD $f < $event: $answer (expected $check)"
    echo "--- $f's log"; tail -30 "$dir/log"
    echo "--- its bootstrap, as unzipped: $(stat -c "%A %s bytes" "$dir/bootstrap")"
    exit 1
  fi
}

echo "== arm64 bootstraps under $(qemu-aarch64-static --version | head -n1)"
boot connect connect-visitor.json          "r['statusCode'] == 200"
boot card-advance message-start.json       "r['statusCode'] == 200"
boot agent-message message-default.json    "r['statusCode'] == 200"
boot route-to-agent sqs-route.json         "r['batchItemFailures'] == []"
boot analytics dynamodb-stream.json       "r['batchItemFailures'] == []"
echo "arm64 boot: every bootstrap started with the template's environment and answered its event"
