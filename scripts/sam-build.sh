#!/usr/bin/env bash
# Builds the deployable artifacts once, as a deploy does: `sam build` from infra/
# (docs/deploy.md runs the same command), no container. Then zips each function's
# built folder the way `sam package` / `sam deploy` would, into infra/.aws-sam/zips/
# <binary>.zip, checking that each function got its own crate's arm64 bootstrap
# (tests/lambda/sam_zips.py). scripts/arm64-boot.sh boots those zips and the bench
# reports their sizes. Prints the build's time and each zip's size.
#
# Where the build goes: the template's functions use BuildMethod rust-cargolambda
# with CodeUri ../ (the workspace root), which SAM builds in the source folder only
# (no copy): it runs `cargo lambda build --release --arm64 --bin <binary>` there, once
# per function, and copies <target>/lambda/<binary>/bootstrap into
# infra/.aws-sam/build/<LogicalId>/, <target> being cargo's own target directory
# (`cargo metadata`: CARGO_TARGET_DIR when set, else ./target). So the arm64 release
# build lives beside the test command's other builds, in
# <target>/aarch64-unknown-linux-gnu/release, and a second run (same target
# directory) only checks cargo's fingerprints and relinks nothing. No `--cached`:
# SAM's cache hashes CodeUri, the whole workspace and its target directory with it,
# and cargo already knows what is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=infra/.aws-sam/build   # sam build's default, from infra/
ZIPS=infra/.aws-sam/zips

source scripts/lambda-tools.sh
use_cargo_lambda
use_sam_cli
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

echo "== $("$SAM" --version) build (cargo lambda: $(cargo lambda --version))"
started=$SECONDS
(cd infra && "$SAM" build)
echo "   sam build: $((SECONDS - started)) s"

rm -rf "$ZIPS"
"$SAM_PYTHON" tests/lambda/sam_zips.py "$BUILD_DIR" "$ZIPS" | while read -r id binary raw zipped; do
  printf '   %-22s %-15s bootstrap %s bytes, %s zipped %s bytes (%s)\n' \
    "$id" "$binary" "$raw" "$ZIPS/$binary.zip" "$zipped" "$(du -h "$ZIPS/$binary.zip" | cut -f1)"
done
# The zips' earlier home (cargo lambda --output-format zip), so nothing reads a stale one.
rm -f "${CARGO_TARGET_DIR:-target}"/lambda/*/bootstrap.zip
echo "sam build: every function has its own arm64 bootstrap, zipped in $ZIPS"
