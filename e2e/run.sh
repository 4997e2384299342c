#!/usr/bin/env bash
# Runs the JS end-to-end suite against the chat example binary.
# Usage: [AUTHVEX_CHAT_BIN=path/to/chat] e2e/run.sh   (works from any directory)
set -euo pipefail

# Forward the binary, resolving a relative path against the caller's directory before moving.
if [[ -n "${AUTHVEX_CHAT_BIN:-}" ]]; then
  [[ "$AUTHVEX_CHAT_BIN" == /* ]] || AUTHVEX_CHAT_BIN="$PWD/$AUTHVEX_CHAT_BIN"
  export AUTHVEX_CHAT_BIN
fi

cd "$(dirname "${BASH_SOURCE[0]}")"

# npm records each install in node_modules/.package-lock.json; reinstall when that is missing or older than the lock.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

npm test
