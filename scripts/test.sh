#!/usr/bin/env bash
# Runs every check and test of the project on a fresh machine: formatting, lints,
# unit, property and integration tests. Installs what the tests need by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== web unit tests (node --test)"
node --test web/

echo "== browser end-to-end (Debian chromium + playwright-core)"
tests/browser/run.sh

echo "== Lambda builds and local invoke (cargo-lambda)"
scripts/local-invoke.sh
