# Sourced (not run) by the scripts that lint, build or run the Lambda functions:
# cargo-lambda and the AWS SAM CLI, each from PyPI in a private virtualenv under
# ~/.cache/livechat/ when it is not installed already (a plain `pip install` is
# refused by Debian 12's and recent Ubuntu's system Python).
#
#   use_cargo_lambda   puts `cargo-lambda` on PATH (as `cargo lambda`)
#   use_sam_cli        sets SAM to the `sam` executable
#
# The SAM CLI has a virtualenv of its own, not check-tools' (cfn-lint, checkov): pip's
# resolver would move checkov's boto3 and botocore forward by eight minor versions and
# its click and pydantic back, for a tool that pins them. Its `bin` is not put on
# PATH: its `python3` would shadow cargo-lambda's, which finds its zig with
# `python3 -m ziglang` (sam build then fails with "Zig is not installed").

LIVECHAT_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/livechat"
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
