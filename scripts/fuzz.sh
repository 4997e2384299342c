#!/usr/bin/env bash
# The libFuzzer targets in fuzz/ (cargo fuzz on stable Rust). See README.md "Fuzzing".
#
#   scripts/fuzz.sh build                 build every target once
#   scripts/fuzz.sh smoke [seconds]       build, then run each target over its seeds for a few seconds (default 5);
#                                         what scripts/test.sh runs
#   scripts/fuzz.sh run TARGET [seconds]  one target for longer (default 600), corpus kept in fuzz/corpus/TARGET
#   scripts/fuzz.sh list                  the targets
#
# cargo-fuzz needs nightly-only `-Z` flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. The targets
# are built without a sanitizer (the crates forbid `unsafe`; AddressSanitizer would double build and run time)
# but with debug assertions, so integer overflows and `debug_assert!`s fail like panics do.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

export RUSTC_BOOTSTRAP=1
FLAGS=(--sanitizer none --debug-assertions)
# Per input: a hang longer than 10 s or more than 2 GiB is a finding, as a panic is.
LIBFUZZER=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

targets() { cargo fuzz list; }

build() { cargo fuzz build "${FLAGS[@]}"; }

# run TARGET SECONDS CORPUS_DIR: new inputs go to CORPUS_DIR only; the committed seeds stay as they are.
run() {
  local target="$1" seconds="$2" corpus="$3"
  mkdir -p "$corpus" "artifacts/$target"
  cargo fuzz run "${FLAGS[@]}" "$target" "$corpus" "seeds/$target" -- \
    "${LIBFUZZER[@]}" -max_total_time="$seconds" -artifact_prefix="artifacts/$target/"
}

case "${1:-}" in
  build) build ;;
  list) targets ;;
  smoke)
    seconds="${2:-5}"
    build
    # A fresh corpus each time: CI fuzzes from the seeds, not from what earlier runs on this machine found.
    scratch="$(mktemp -d)"
    log="$scratch/log"
    trap 'rm -rf "$scratch"' EXIT
    for target in $(targets); do
      printf '\n--> %s (%s s)\n' "$target" "$seconds"
      if ! run "$target" "$seconds" "$scratch/$target" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
      fi
      grep -E '^(#[0-9]+ +(INITED|DONE)|stat::(number_of_executed_units|peak_rss_mb)|Done )' "$log" || true
    done
    ;;
  run)
    [ -n "${2:-}" ] || { echo "usage: $0 run TARGET [seconds]" >&2; exit 2; }
    build
    run "$2" "${3:-600}" "corpus/$2"
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
