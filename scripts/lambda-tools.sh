# Sourced (not run) by the scripts that lint, build or run the Lambda functions:
# cargo-lambda and the AWS SAM CLI, each from PyPI in a private virtualenv under
# ~/.cache/livechat/ when it is not installed already (a plain `pip install` is
# refused by Debian 12's and recent Ubuntu's system Python).
#
#   use_cargo_lambda   puts `cargo-lambda` on PATH (as `cargo lambda`)
#   use_sam_cli        sets SAM to the `sam` executable
#   template_env_from  fills `template_env` with the template's function variables
#   use_moto           moto (server mode, for SQS and SES v2) and boto3 in AWS_TOOLS
#   scratch_begin      $work (removed on exit) and $pids (stopped on exit)
#   wait_port          waits for a port, showing $work's logs when nothing comes
#   start_local_aws    DynamoDB Local (unless DYNAMODB_ENDPOINT names one) and moto
#
# The SAM CLI has a virtualenv of its own, not check-tools' (cfn-lint, checkov): pip's
# resolver would move checkov's boto3 and botocore forward by eight minor versions and
# its click and pydantic back, for a tool that pins them. Its `bin` is not put on
# PATH: its `python3` would shadow cargo-lambda's, which finds its zig with
# `python3 -m ziglang` (sam build then fails with "Zig is not installed").

LIVECHAT_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/livechat"
# moto and boto3, for the scripts that run the functions against local AWS APIs.
AWS_TOOLS="$LIVECHAT_CACHE/aws-tools"
# The SAM CLI whose `sam build` the test command and docs/deploy.md use.
SAM_CLI_VERSION=1.170.0

use_cargo_lambda() {
  command -v cargo-lambda >/dev/null 2>&1 && return 0
  local venv="$LIVECHAT_CACHE/cargo-lambda"
  if [ ! -x "$venv/bin/cargo-lambda" ]; then
    echo "installing cargo-lambda into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet cargo-lambda
  fi
  export PATH="$venv/bin:$PATH"
}

use_sam_cli() {
  local venv="$LIVECHAT_CACHE/sam-cli"
  if [ ! -x "$venv/bin/sam" ] || ! "$venv/bin/sam" --version 2>/dev/null | grep -qF " $SAM_CLI_VERSION"; then
    echo "installing aws-sam-cli $SAM_CLI_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "aws-sam-cli==$SAM_CLI_VERSION"
  fi
  SAM="$venv/bin/sam"
  SAM_PYTHON="$venv/bin/python"
  # No usage reports from a test run.
  export SAM_CLI_TELEMETRY=0
}

# template_env_from VALUES SCRIPT: sets the array `template_env` to NAME=VALUE for
# every environment variable infra/template.yaml gives the functions, taking each
# value from the associative array named VALUES. A variable the template gains must
# be given a value there: this fails, naming SCRIPT, on one it does not know. Empty
# values are passed as Lambda passes them (the functions read them as unset).
template_env_from() {
  local -n values=$1
  local name
  template_env=()
  while read -r name; do
    [ -n "${values[$name]+set}" ] || { echo "the template sets $name, which $2 gives no value" >&2; return 1; }
    template_env+=("$name=${values[$name]}")
  done < <(python3 tests/lambda/template_env.py infra/template.yaml)
}

use_moto() {
  if [ ! -x "$AWS_TOOLS/bin/moto_server" ]; then
    echo "installing moto (server mode) into $AWS_TOOLS"
    python3 -m venv "$AWS_TOOLS"
    "$AWS_TOOLS/bin/pip" install --quiet "moto[server]==5.2.5"
  fi
}

# A scratch folder `$work` for logs and files, and `$pids`: the processes to stop
# when the script exits, with the DynamoDB Local that start_local_aws started.
scratch_begin() {
  work=$(mktemp -d)
  pids=()
  trap scratch_end EXIT
}

scratch_end() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${own_dynamodb:-}" ]; then DYNAMODB_PORT=$own_dynamodb scripts/dynamodb-local.sh stop || true; fi
  rm -rf "$work"
}

show_logs() {
  for log in "$work"/*.log; do
    [ -e "$log" ] || continue
    echo "--- $(basename "$log") (last 30 lines)"; tail -30 "$log"
  done
}

# wait_port PORT WHAT: fails, naming WHAT and showing the logs, when nothing listens
# on PORT within a minute.
wait_port() {
  for _ in $(seq 1 120); do
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.5
  done
  echo "nothing listens on port $1 ($2)" >&2; show_logs >&2; exit 1
}

# start_local_aws PORT_BASE: DynamoDB Local on PORT_BASE+2 (stopped on exit) unless
# DYNAMODB_ENDPOINT names one, which it then sets; and moto on MOTO_PORT, logging to
# $work/moto.log (first in $pids). The caller waits for moto's port.
start_local_aws() {
  if [ -z "${DYNAMODB_ENDPOINT:-}" ]; then
    own_dynamodb=$(($1 + 2))
    DYNAMODB_ENDPOINT=$(scripts/dynamodb-local.sh start "$own_dynamodb")
  fi
  "$AWS_TOOLS/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$work/moto.log" 2>&1 &
  pids+=($!)
}
