#!/usr/bin/env bash
# Runs every check and test of the project on a fresh machine: formatting, lints,
# unit, property and integration tests. Installs what the tests need by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A one-shot run gains nothing from incremental compilation, which adds gigabytes of
# target/ and time to every build.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# section TITLE: a heading with the run's elapsed time, to see where a slow run went.
section() { printf '== %s (at %d s)\n' "$1" "$SECONDS"; }

section "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

section "SAM template (cfn-lint, sam validate --lint, checkov)"
scripts/check-template.sh

section "DynamoDB Local (for the store conformance, contention and gateway tests)"
DYNAMODB_ENDPOINT=$(scripts/dynamodb-local.sh start "${DYNAMODB_PORT:-8000}")
export DYNAMODB_ENDPOINT LIVECHAT_REQUIRE_DYNAMODB=1
trap 'scripts/dynamodb-local.sh stop' EXIT
echo "   $DYNAMODB_ENDPOINT"

section "cargo test (full output: target/test-output.txt)"
mkdir -p target
set +e
cargo test --workspace --locked -- --nocapture >target/test-output.txt 2>&1
status=$?
set -e
grep -E '^test .* (ok|FAILED|ignored)$|test result|^DynamoDB|^1000 requests' target/test-output.txt || true
if [ "$status" -ne 0 ]; then
  tail -n 80 target/test-output.txt
  echo "cargo test failed ($status)" >&2
  exit "$status"
fi

section "web unit tests (node --test)"
node --test web/

section "fuzz targets, bounded (scripts/fuzz.sh ci)"
scripts/fuzz.sh ci

section "browser end-to-end (Debian chromium + playwright-core)"
tests/browser/run.sh

section "Lambda builds: sam build, the deployable arm64 zips"
scripts/sam-build.sh

section "local invoke (cargo lambda watch, host binaries)"
scripts/local-invoke.sh

section "arm64 bootstraps (sam build's zips) under qemu, with the template's environment"
scripts/arm64-boot.sh

section "the local AWS run: functions as processes on DynamoDB Local, moto's SQS and SES v2"
scripts/aws-local.sh
section "done"
