#!/usr/bin/env bash
# The most faithful local AWS run: the five functions as separate processes (their
# host binaries, each against its own Lambda Runtime API: tests/lambda/lambda_service.py)
# with the template's environment and their real AWS SDK clients on DynamoDB Local,
# moto's SQS (the delay queue, with a dead-letter queue and a redrive policy like the
# template's) and moto's SES v2 (a verified sender); the local gateway as the
# WebSocket API and @connections (SigV4-checked), polling the real queue as Lambda's
# SQS event source mapping does (--sqs-queue-url). Then tests/tests/aws_local.rs walks
# a chat over real WebSockets against it: an offer that times out and a second
# attempt, a missed request answered by email, a failing batch item moved to the DLQ.
#
# Shortened from the template's values, so the run takes seconds, not 12 minutes:
# the visibility timeout (180 s there), maxReceiveCount (5) and the wait time limit
# (100 s; 10 s is its minimum).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lambda-tools.sh

FUNCTIONS=(connect card-advance route-to-agent agent-message analytics)
TARGET="${CARGO_TARGET_DIR:-target}"
PORT_BASE="${AWS_LOCAL_PORT_BASE:-18200}"   # gateway, moto, DynamoDB Local, invoke API, 5 Runtime APIs
GATEWAY=127.0.0.1:$PORT_BASE
MOTO_PORT=$((PORT_BASE + 1))
INVOKE_PORT=$((PORT_BASE + 3))
RUNTIME_PORT_BASE=$((PORT_BASE + 4))
# A table of its own on a DynamoDB Local it may share: the scenarios start from the
# demo account as the functions seed it.
TABLE=livechat-aws-local-$(date +%s)
VISIBILITY_TIMEOUT=2
MAX_RECEIVE_COUNT=2
WAIT_TIME_LIMIT=10
FROM=chat@acme-analytics.example
# "local": DynamoDB Local keeps tables per access key, and the gateway (which creates
# the table) uses that one; its @connections then accepts the same.
KEY_ID=local SECRET=local
started=$SECONDS

use_moto
# The functions' binaries as scripts/local-invoke.sh builds them (each alone), and
# the gateway.
cargo build --locked -p livechat-cli
for f in "${FUNCTIONS[@]}"; do cargo build --locked --bin "$f"; done

scratch_begin
CALLS="$work/aws-calls.jsonl"
start_local_aws "$PORT_BASE"
wait_port "$MOTO_PORT" moto
MOTO="http://127.0.0.1:$MOTO_PORT"

# The queues as the template makes them (a DLQ, and the delay queue redriving to it),
# with the shortened values; the sender verified in SES, as a deploy requires.
read -r QUEUE_URL DLQ_URL < <(AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET "$AWS_TOOLS/bin/python" -c "
import boto3, json
sqs = boto3.client('sqs', endpoint_url='$MOTO', region_name='us-east-1')
dlq = sqs.create_queue(QueueName='livechat-DelayQueueDlq', Attributes={'MessageRetentionPeriod': '1209600'})['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
queue = sqs.create_queue(QueueName='livechat-DelayQueue', Attributes={
    'VisibilityTimeout': '$VISIBILITY_TIMEOUT',
    'RedrivePolicy': json.dumps({'deadLetterTargetArn': arn, 'maxReceiveCount': $MAX_RECEIVE_COUNT}),
})['QueueUrl']
boto3.client('sesv2', endpoint_url='$MOTO', region_name='us-east-1').create_email_identity(EmailIdentity='$FROM')
print(queue, dlq)")
[ -n "${DLQ_URL:-}" ] || { echo "could not create the queues in moto" >&2; tail -20 "$work/moto.log" >&2; exit 1; }
echo "   delay queue $QUEUE_URL (visibility timeout $VISIBILITY_TIMEOUT s, maxReceiveCount $MAX_RECEIVE_COUNT), DLQ $DLQ_URL"

# The gateway: the functions through the invoke API below, the table created when
# missing, the delay queue polled as Lambda's event source mapping polls it.
env AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET AWS_EC2_METADATA_DISABLED=true \
  AWS_ENDPOINT_URL_SQS="$MOTO" \
  LIVECHAT_CONNECTIONS_ACCESS_KEY_ID=$KEY_ID LIVECHAT_CONNECTIONS_SECRET_ACCESS_KEY=$SECRET \
  "$TARGET/debug/livechat" dev --listen "$GATEWAY" --invoke-url "http://127.0.0.1:$INVOKE_PORT" \
  --sqs-queue-url "$QUEUE_URL" --dynamodb-endpoint "$DYNAMODB_ENDPOINT" --table "$TABLE" \
  >"$work/gateway.log" 2>&1 &
pids+=($!)
gateway_pid=$!
for _ in $(seq 1 240); do
  grep -q '^livechat local gateway on' "$work/gateway.log" && break
  kill -0 "$gateway_pid" 2>/dev/null || { echo "the gateway exited:" >&2; grep -v "^ " "$work/gateway.log" | tail -20 >&2; exit 1; }
  sleep 0.5
done
grep -q '^livechat local gateway on' "$work/gateway.log" || { echo "the gateway did not start" >&2; exit 1; }

# The template's variables, as scripts/arm64-boot.sh gives them, but for the agent
# keys: the local HS256 secret (the tests sign with it) instead of Cognito's JWKS.
declare -A VALUE=(
  [WEBSOCKET_MANAGEMENT_ENDPOINT]="http://$GATEWAY/local"
  [DELAY_QUEUE_URL]="$QUEUE_URL"
  [TOKEN_ISSUER]=livechat-local
  [AGENT_TOKEN_AUDIENCE]=livechat-inbox
  [AGENT_JWKS]=""
  [VISITOR_TOKEN_SECRET]="local-aws-run-visitor-secret-0123456789abcdef"
  [IDENTIFY_SECRET]="local-aws-run-identify-secret-0123456789abcdef"
  [TABLE_NAME]="$TABLE"
  [WAIT_TIME_LIMIT_SECONDS]=$WAIT_TIME_LIMIT
  [FALLBACK_MESSAGE]=""
  [MEETING_LINK]=""
  [NOTIFY_FROM_EMAIL]="$FROM"
  [INBOX_ORIGIN]="http://$GATEWAY"
  [RUST_LOG]=info
  [LOG_FORMAT]=json
)
template_env_from VALUE scripts/aws-local.sh
functions=()
case "$TARGET" in /*) bins="$TARGET/debug" ;; *) bins="$PWD/$TARGET/debug" ;; esac
for f in "${FUNCTIONS[@]}"; do functions+=("$f=$bins/$f"); done
# LIVECHAT_AWS_CALL_LOG: where each function appends the AWS calls it makes (JSON
# lines), for the IAM check below.
env -i PATH=/usr/bin:/bin "${template_env[@]}" \
  AGENT_TOKEN_SECRET=local-only-agent-token-secret-do-not-deploy \
  AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET \
  AWS_EC2_METADATA_DISABLED=true DYNAMODB_ENDPOINT="$DYNAMODB_ENDPOINT" \
  AWS_ENDPOINT_URL_SQS="$MOTO" AWS_ENDPOINT_URL_SESV2="$MOTO" LIVECHAT_AWS_CALL_LOG="$CALLS" \
  python3 tests/lambda/lambda_service.py --invoke-port "$INVOKE_PORT" \
  --runtime-port-base "$RUNTIME_PORT_BASE" --logs "$work" "${functions[@]}" >"$work/lambda-service.log" 2>&1 &
pids+=($!)
wait_port "$INVOKE_PORT" lambda-service
ready=""
for _ in $(seq 1 120); do
  status=$(python3 -c "
import urllib.request, urllib.error, sys
try: print(urllib.request.urlopen('http://127.0.0.1:$INVOKE_PORT/ready').status)
except urllib.error.HTTPError as e: print(e.code)")
  [ "$status" = 200 ] && { ready=1; break; }
  [ "$status" = 500 ] && break
  sleep 0.5
done
[ -n "$ready" ] || { echo "the functions did not all start" >&2; show_logs >&2; exit 1; }
echo "   functions up (${FUNCTIONS[*]}), gateway on $GATEWAY, set up in $((SECONDS - started)) s"

# The scenarios (tests/tests/aws_local.rs), one at a time: they share the agents.
# --workspace: the test build of the test command, not a second one.
set +e
env LIVECHAT_AWS_LOCAL_GATEWAY="$GATEWAY" LIVECHAT_AWS_LOCAL_MOTO="$MOTO" \
  LIVECHAT_AWS_LOCAL_QUEUE_URL="$QUEUE_URL" LIVECHAT_AWS_LOCAL_DLQ_URL="$DLQ_URL" \
  LIVECHAT_AWS_LOCAL_TABLE="$TABLE" DYNAMODB_ENDPOINT="$DYNAMODB_ENDPOINT" \
  LIVECHAT_AWS_LOCAL_FROM="$FROM" LIVECHAT_AWS_LOCAL_MAX_RECEIVE_COUNT=$MAX_RECEIVE_COUNT \
  LIVECHAT_AWS_LOCAL_LOGS="$work" \
  cargo test --locked --workspace --test aws_local -- --test-threads=1
status=$?
set -e
if [ "$status" -ne 0 ]; then show_logs; echo "the local AWS run failed ($status)" >&2; exit "$status"; fi

# IAM against the code: every AWS call the five processes made (each recorded by its
# own clients) must be allowed by that function's policy in the template.
echo "== IAM: the recorded calls against each function's policy"
test -s "$CALLS" || { echo "no AWS call was recorded" >&2; exit 1; }
cargo run --locked -q -p livechat-tests --bin iam-check -- --calls "$CALLS" --template infra/template.yaml
echo "local AWS run: every scenario passed in $((SECONDS - started)) s"
