#!/usr/bin/env bash
# Runs every check and test: formatting, lints, all Rust tests, then the JS end-to-end suites against the
# freshly built binaries. This is the command README.md gives and CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The Rust tests build every binary once (with the test-time feature set); the e2e suites reuse them.
step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

step "end-to-end suites with the real npm clients"
AUTHVEX_CHAT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/chat" bash e2e/run.sh
