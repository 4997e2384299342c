#!/usr/bin/env bash
# File-storage benchmark: upload and download throughput (MiB/s) through demo-file-storage's upload URL and
# serving URL, and the server's peak RSS, for 1 MiB and 100 MiB files, beside a plain copy of the same file on the
# same disk (`dd bs=1M conv=fsync`) in the same run. Printed as Markdown.
#
# A benchmark, not a test: CI never runs it. Only 127.0.0.1 is used; every loop is bounded.
#
#   bench/storage/run.sh
#
# Knobs (environment):
#   BIN=PATH           the demo-file-storage binary (default target/release/demo-file-storage, built unless SKIP_BUILD)
#   SKIP_BUILD=1       use the binary as it is
#   ROWS=0,2           only these rows (0: 1 MiB, 1: 1 MiB 8 at once, 2: 100 MiB)
#   BASELINE=PATH      another demo-file-storage binary (e.g. built from main) measured beside BIN in the same run
#   WORK=DIR           where the files, copies and data folders go (default a temp dir under $REPO/target)
#   OUT=FILE           where the Markdown goes as well (default bench/results/storage-<time>.md)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BIN="${BIN:-$REPO/target/release/demo-file-storage}"
OUT="${OUT:-$REPO/bench/results/storage-$(date +%Y%m%d-%H%M%S).md}"

cd "$REPO"
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -p demos --bin demo-file-storage
fi
mkdir -p "$REPO/target" "$(dirname "$OUT")"
WORK="${WORK:-$(mktemp -d "$REPO/target/bench-storage.XXXXXX")}"
trap 'rm -rf "$WORK"' EXIT

node "$HERE/bench.mjs" "$WORK" "$BIN" ${BASELINE:+"$BASELINE"} | tee "$OUT"
