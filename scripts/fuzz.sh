#!/usr/bin/env bash
# Fuzzes the core's parsers and token verifiers with cargo fuzz (libFuzzer); the
# targets are in fuzz/fuzz_targets/, their seed corpus in fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh ci [TARGET...]             deterministic and bounded, for the test
#                                              command: the corpus replayed, then a
#                                              fixed seed and number of runs
#   scripts/fuzz.sh long [SECONDS] [TARGET...] SECONDS per target (default 300),
#                                              random seed, corpus kept between runs
#
# Neither writes to the committed corpus: ci fuzzes a temporary copy, long grows its
# own corpus under ~/.cache/livechat/fuzz-corpus/ and only reads the committed one.
# A crash stops the run; its input is in fuzz/artifacts/<target>/ (replay it with
# `cargo fuzz run --debug-assertions TARGET FILE`, add it to the corpus with the fix).
# cargo-fuzz is installed into ~/.cache/livechat/cargo-fuzz when missing. It needs
# nightly flags, which the stable toolchain takes with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(frame dialog config token token_mutate)
# Runs per target in ci mode, each about a minute or less on a 2-core machine (with
# other work on it) under the address sanitizer.
declare -A CI_RUNS=(
  [frame]=300000
  [dialog]=20000
  [config]=15000
  [token]=500000
  [token_mutate]=100000
)
CARGO_FUZZ_VERSION=0.13.2
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/livechat"

export RUSTC_BOOTSTRAP=1
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

usage() {
  sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

install_cargo_fuzz() {
  export PATH="$CACHE/cargo-fuzz/bin:$PATH"
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION into $CACHE/cargo-fuzz"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$CACHE/cargo-fuzz" --quiet
  fi
}

# run TARGET CORPUS_DIR... -- LIBFUZZER_FLAGS...: one target; prints its executions
# and time, and fails on a crash (its log is printed whole).
run() {
  local target=$1 log
  shift
  log=$(mktemp)
  local start=$SECONDS
  if ! cargo fuzz run --debug-assertions "$target" "$@" >"$log" 2>&1; then
    cat "$log"
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    rm -f "$log"
    return 1
  fi
  local done
  done=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
  printf '   %-13s %10s executions in %4d s\n' "$target" \
    "$(awk '{print $2}' <<<"$done")" "$((SECONDS - start))"
  rm -f "$log"
}

mode=${1:-}
[ -n "$mode" ] || usage
shift
case "$mode" in
  ci)
    selected=("${@:-${TARGETS[@]}}")
    install_cargo_fuzz
    cargo fuzz build --debug-assertions
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    for target in "${selected[@]}"; do
      [ -n "${CI_RUNS[$target]:-}" ] || { echo "unknown target $target" >&2; exit 2; }
      cp -r "fuzz/corpus/$target" "$work/$target"
      run "$target" "$work/$target" -- -seed=1 -runs="${CI_RUNS[$target]}" -timeout=10
    done
    ;;
  long)
    seconds=300
    if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
      seconds=$1
      shift
    fi
    selected=("${@:-${TARGETS[@]}}")
    install_cargo_fuzz
    cargo fuzz build --debug-assertions
    for target in "${selected[@]}"; do
      [ -n "${CI_RUNS[$target]:-}" ] || { echo "unknown target $target" >&2; exit 2; }
      mkdir -p "$CACHE/fuzz-corpus/$target"
      run "$target" "$CACHE/fuzz-corpus/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10
    done
    ;;
  *) usage ;;
esac
