#!/usr/bin/env bash
# Runs every check and test: formatting, lints, all Rust tests, then the JS end-to-end suites against the
# freshly built binaries. This is the command README.md gives and CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

step "Dockerfile and deploy/compose.yaml (hadolint; no container engine needed)"
scripts/lint-dockerfile.sh

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The Rust tests build every binary once (with the test-time feature set); the e2e suites reuse them.
step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

step "Rust tests again on PostgreSQL (every test that opens its store through test_persistence())"
if cargo nextest --version >/dev/null 2>&1; then
  AUTHVEX_TEST_BACKEND=postgres cargo nextest run --workspace --locked --no-fail-fast
else
  AUTHVEX_TEST_BACKEND=postgres cargo test --workspace --locked --no-fail-fast
fi

# Builds every fuzz target once (its own workspace and target dir, fuzz/target) and runs each for a few seconds
# over its committed seeds: a crash, panic or timeout fails the step. From a cold fuzz/target the build takes
# about 6 CPU-minutes (3-4 minutes on two idle cores), the eleven runs about a minute; a warm one, seconds.
# Longer runs: README.md "Fuzzing".
step "fuzz targets (cargo fuzz: each target 5 s over its seeds)"
scripts/fuzz.sh smoke 5

CHAT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/chat"
step "end-to-end suites with the real npm clients (SQLite)"
AUTHVEX_CHAT_BIN="$CHAT_BIN" bash e2e/run.sh

step "end-to-end suites with the real npm clients (PostgreSQL)"
AUTHVEX_E2E_DATABASE=postgres AUTHVEX_CHAT_BIN="$CHAT_BIN" bash e2e/run.sh
