#!/usr/bin/env bash
# Sync benchmark: push latency from a mutation's commit to its subscribers over the Convex sync WebSocket (1, 100
# and 1,000 subscribed sockets) and server memory per idle socket, against `target/release/chat`, printed as
# Markdown (bench/src/sync.rs says exactly what is measured).
#
# A benchmark, not a test: CI never runs it. Every wait is bounded; only 127.0.0.1 is used.
#
#   bench/sync/run.sh                         (from any directory)
#   bench/sync/run.sh --writer ws             (arguments go to bench-sync; see `bench-sync --help`)
#
# Knobs (environment):
#   QUIET_WAIT=1200    seconds to wait for other engineers' builds and test runs to finish before measuring
#   OUT=FILE           where the Markdown goes as well (default bench/results/sync-<time>.md)
#   SKIP_BUILD=1       use the binaries as they are
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
QUIET_WAIT="${QUIET_WAIT:-1200}"
OUT="${OUT:-$REPO/bench/results/sync-$(date +%Y%m%d-%H%M%S).md}"

log() { printf '[bench-sync %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cd "$REPO"
if [[ -z "${SKIP_BUILD:-}" ]]; then
  log "building (cargo waits for other builds' lock)"
  cargo build --release -p chat -p bench
fi

# Sockets need descriptors: up to 5,000 idle sockets on each side (the server inherits this limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 20000 2>/dev/null || true
log "open-file limit $(ulimit -n)"

# Other engineers build and test on this machine: measure only once no compiler or test run is going.
busy() {
  pgrep -x cargo >/dev/null || pgrep -f rustc >/dev/null || pgrep -f "node --test" >/dev/null
}
deadline=$(($(date +%s) + QUIET_WAIT))
if busy; then
  log "waiting (up to ${QUIET_WAIT}s) for other builds and test runs to finish"
  while busy && (($(date +%s) < deadline)); do
    sleep 5
  done
  busy && log "warning: still busy after ${QUIET_WAIT}s; measuring anyway (see the load figures in the output)"
fi

mkdir -p "$(dirname "$OUT")"
{
  echo "# bench-sync $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- tree: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates examples || echo ', with uncommitted changes in:' $(git diff --name-only HEAD -- crates examples | sed 's|/src/.*||; s|/Cargo.toml||' | sort -u))"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), uptime: $(uptime)"
  echo
} | tee "$OUT"
target/release/bench-sync --chat target/release/chat "$@" | tee -a "$OUT"
log "machine after: $(uptime)"
log "results in $OUT"
