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
install() {
  if [[ ! -f "$1/node_modules/.package-lock.json" || "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]]; then
    (cd "$1" && npm ci --no-audit --no-fund)
  fi
}
install .
# The guide's Next.js app (tests/nextjs_browser.test.mjs builds it with `next build` against its deployment).
install ../examples/nextjs

npm test
