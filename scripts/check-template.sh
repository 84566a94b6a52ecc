#!/usr/bin/env bash
# Lints the SAM template (cfn-lint, then the SAM CLI's `sam validate --lint`) and
# scans it for insecure settings (checkov). Installs them from PyPI when they are not
# on PATH, into private virtualenvs (checkov pins old boto3/botocore versions that
# would break a global awscli; the SAM CLI's are in scripts/lambda-tools.sh).
# Exits non-zero when any tool reports a problem.
set -euo pipefail

cd "$(dirname "$0")/.."
TEMPLATE=infra/template.yaml

TOOLS_DIR="${LIVECHAT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/livechat/check-tools}"
if command -v cfn-lint >/dev/null 2>&1 && command -v checkov >/dev/null 2>&1; then
  CFN_LINT=cfn-lint
  CHECKOV=checkov
else
  if [ ! -x "$TOOLS_DIR/bin/checkov" ] || [ ! -x "$TOOLS_DIR/bin/cfn-lint" ]; then
    echo "installing cfn-lint and checkov into $TOOLS_DIR"
    python3 -m venv "$TOOLS_DIR"
    "$TOOLS_DIR/bin/pip" install --quiet cfn-lint checkov
  fi
  CFN_LINT="$TOOLS_DIR/bin/cfn-lint"
  CHECKOV="$TOOLS_DIR/bin/checkov"
fi

echo "== cfn-lint $("$CFN_LINT" --version 2>&1 | tail -n1)"
"$CFN_LINT" "$TEMPLATE"

# The SAM CLI's own check, as an operator runs it before `sam build`: the template
# through the SAM transform, then its bundled cfn-lint. Offline: it needs neither
# AWS credentials nor a region (plain `sam validate` asks for a region and calls
# AWS to validate; `--lint` does not), and passes in a network namespace with no
# network at all.
source scripts/lambda-tools.sh
use_sam_cli
echo "== $("$SAM" --version) validate --lint"
(cd infra && "$SAM" validate --lint)

# Checks skipped, each for a reason that holds for this stack:
SKIPS=(
  # Lambda DLQ: a function's DLQ only catches failed *asynchronous* invocations.
  # API Gateway invokes connect, card-advance and agent-message synchronously, and
  # route-to-agent is fed by an SQS event source mapping, whose failures go to the
  # delay queue's own dead-letter queue (redrive, maxReceiveCount 5), and analytics
  # by the table's stream, whose failed batches go to the mapping's on-failure
  # queue (AnalyticsFailures).
  CKV_AWS_116
  # Lambda in a VPC: the functions only call AWS public endpoints (DynamoDB, SQS,
  # @connections). A VPC would add NAT gateway or endpoint costs and cold-start
  # latency and protect nothing.
  CKV_AWS_117
  # Reserved concurrency: it is carved out of the account's pool and cannot be set
  # at all on new accounts (10 concurrent executions). The functions are bounded by
  # the stage's throttling (50 msg/s, burst 100) and route-to-agent by the SQS event
  # source's MaximumConcurrency (5).
  CKV_AWS_115
  # S3 server access logging: the bucket holds public web assets and is read only
  # by CloudFront through Origin Access Control; logging needs a second bucket.
  CKV_AWS_18
  # WAF on CloudFront: the distribution serves static files (and passes /ws to the
  # throttled WebSocket stage); a web ACL costs more than the rest of a small
  # deployment. Attach one with WebACLId if your policy requires it.
  CKV_AWS_68
  # CloudFront access logs: need a log bucket with ACLs enabled; optional.
  CKV_AWS_86
  # Minimum TLS 1.2 for viewers: with the default *.cloudfront.net certificate
  # CloudFront fixes the security policy at TLSv1; it can only be raised with a
  # custom domain and an ACM certificate (then set TLSv1.2_2021).
  CKV_AWS_174
)
skip_list=$(IFS=,; echo "${SKIPS[*]}")

echo "== checkov $("$CHECKOV" --version 2>&1 | tail -n1)"
# --skip-download: no policy or guideline downloads from Prisma Cloud (PyPI is the
# only network access this script needs).
BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
  "$CHECKOV" -f "$TEMPLATE" --framework cloudformation --quiet --compact \
  --skip-download --skip-check "$skip_list"

echo "template checks passed"
