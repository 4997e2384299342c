#!/usr/bin/env bash
# Several nodes on one PostgreSQL database, beside the single-node figures, in one run, printed as Markdown:
#   1. mutation commits/s and indexed point queries/s: SQLite, PostgreSQL with one node, PostgreSQL with two nodes
#      (bench-core: the function runtime driven in process; two nodes = two deployments with their own committers
#      and pools on one database);
#   2. push latency (p50/p99) with 1 and 100 subscribers: SQLite, PostgreSQL one node, PostgreSQL two nodes
#      (subscribers on node 1, writer on node 2, so every push crosses nodes) — bench-sync;
#   3. GET /api/auth/get-session req/s over HTTP: one node, then two nodes taking the same load between them
#      (wrk, one process per node, summed).
#
# A benchmark, not a test: CI never runs it. Only 127.0.0.1 is used; every load run is bounded in time.
# On this 2-core machine every node, the database and the load generators share the same two cores: a second node
# adds no CPU, so the two-node figures show what crossing nodes costs, not scale-out.
#
#   bench/nodes/run.sh            (from any directory)
#
# Knobs (environment):
#   ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres   where databases are created (and dropped)
#   DURATION=10 CONNECTIONS=64                              wrk seconds and connections per get-session run
#   SKIP_BUILD=1                                            use target/release binaries as they are
#   OUT=FILE                                                where the Markdown goes as well
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
ADMIN_URL="${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
OUT="${OUT:-$REPO/bench/results/nodes-$(date +%Y%m%d-%H%M%S).md}"
CHAT="$REPO/target/release/chat"
SECRET="authvex-bench-secret-0123456789abcdef0123456789"
LUA="$REPO/bench/auth/lua/get-session.lua"

log() { printf '[bench-nodes %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

cd "$REPO"
mkdir -p "$(dirname "$OUT")"
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v psql >/dev/null || die "psql is needed (PostgreSQL client)"
pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL is not answering on 127.0.0.1:5432"
if [[ -z "${SKIP_BUILD:-}" ]]; then
  log "building (cargo waits for other builds' lock)"
  cargo build --release -p chat -p bench
fi
ulimit -n 20000 2>/dev/null || true

WORK="$(mktemp -d)"
DATABASES=()
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for db in "${DATABASES[@]}"; do psql "$ADMIN_URL" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Prints the URL of a fresh database.
new_database() {
  local name="authvex_bench_$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
  psql "$ADMIN_URL" -qAtc "CREATE DATABASE $name" >/dev/null
  DATABASES+=("$name")
  local base="${ADMIN_URL%%\?*}"
  printf '%s/%s\n' "${base%/*}" "$name"
}

# Starts a node (`--db URL`, or SQLite when URL is empty); sets SITE to its site origin.
start_node() {
  local url="$1" dir
  dir="$(mktemp -d -p "$WORK")"
  local db_args=()
  [[ -n "$url" ]] && db_args=(--db "$url")
  echo '{"auth": {"rateLimit": {"enabled": false}}}' >"$dir/authvex.json"
  BETTER_AUTH_SECRET="$SECRET" "$CHAT" dev --data "$dir/data" --port 0 --site-port 0 "${db_args[@]}" \
    --config "$dir/authvex.json" >"$dir/out" 2>"$dir/err" &
  PIDS+=($!)
  local i
  for ((i = 0; i < 300; i++)); do
    SITE="$(awk '/^Site URL:/{print $3; exit}' "$dir/out" 2>/dev/null || true)"
    [[ -n "$SITE" ]] && return
    sleep 0.1
  done
  cat "$dir/err" >&2
  die "a node did not start"
}

stop_nodes() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

# Signs a user up on SITE; prints the session cookie.
seed_cookie() {
  curl -sS --max-time 60 -D "$WORK/seed.headers" -o /dev/null -X POST "$SITE/api/auth/sign-up/email" \
    -H "Origin: $SITE" -H 'Content-Type: application/json' \
    -d "{\"name\":\"Bench\",\"email\":\"bench-$RANDOM$RANDOM@bench.example.com\",\"password\":\"benchmark-password-1\"}"
  tr -d '\r' <"$WORK/seed.headers" | awk 'tolower($1) == "set-cookie:" && $2 ~ /session_token=/ {
    sub(/;.*/, "", $2); print $2; exit }'
}

# wrk get-session against SITE with COOKIE; prints "rps p50_ms p99_ms".
wrk_get_session() {
  local site="$1" cookie="$2" threads="$3" conns="$4"
  wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency -s "$LUA" "$site/api/auth/get-session" -- "$site" "$cookie" |
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
                     printf "%.0f %.2f %.2f %d\n", r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000, r["err_status"] }'
}

{
  echo "## Several nodes on one PostgreSQL database ($(git rev-parse --short HEAD))"
  echo
  echo "$(nproc) cores; nodes, PostgreSQL and the load generators share them; load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
} | tee "$OUT"

log "1/3 commits and point queries (bench-core)"
{
  echo "### Mutation commits/s and point queries/s (bench-core, 16 writers, 4 readers)"
  echo
  target/release/bench-core --ops 4000 --writers 16 --reads 20000 \
    --postgres "$(new_database)" --postgres-two-nodes "$(new_database)" | sed -n '/^|/p;/^$/p'
  echo
} | tee -a "$OUT"

log "2/3 push latency (bench-sync)"
{
  echo "### Push latency (bench-sync, HTTP writer; ms)"
  echo
  for run in sqlite postgres postgres2; do
    case "$run" in
    sqlite) args=() label="SQLite, one node" ;;
    postgres) args=(--postgres "$ADMIN_URL") label="PostgreSQL, one node" ;;
    postgres2) args=(--postgres "$ADMIN_URL" --nodes 2) label="PostgreSQL, two nodes (subscribers on node 1, writer on node 2)" ;;
    esac
    echo "#### $label"
    echo
    target/release/bench-sync --chat "$CHAT" --subscribers 1,100 --mutations 100,100 --idle-sockets 0 "${args[@]}" |
      awk '/^### Push latency/{p=1} /^### Where/{p=0} p && /^\|/'
    echo
  done
} | tee -a "$OUT"

log "3/3 get-session over HTTP (wrk)"
url="$(new_database)"
start_node "$url"
SITE1="$SITE"
COOKIE="$(seed_cookie)"
[[ -n "$COOKIE" ]] || die "the seed sign-up set no session cookie"
read -r one_rps one_p50 one_p99 one_err < <(wrk_get_session "$SITE1" "$COOKIE" 2 "$CONNECTIONS")
start_node "$url"
SITE2="$SITE"
half=$((CONNECTIONS / 2))
wrk_get_session "$SITE1" "$COOKIE" 1 "$half" >"$WORK/a" &
load_a=$!
wrk_get_session "$SITE2" "$COOKIE" 1 "$half" >"$WORK/b" &
load_b=$!
wait "$load_a" "$load_b"
read -r a_rps a_p50 a_p99 a_err <"$WORK/a"
read -r b_rps b_p50 b_p99 b_err <"$WORK/b"
stop_nodes
{
  echo "### GET /api/auth/get-session, ${CONNECTIONS} connections, ${DURATION} s (wrk; the session made on node 1)"
  echo
  echo "| setup | req/s | p50 ms | p99 ms | non-2xx |"
  echo "|---|---:|---:|---:|---:|"
  echo "| one node | $one_rps | $one_p50 | $one_p99 | $one_err |"
  echo "| two nodes: node 1 ($half connections) | $a_rps | $a_p50 | $a_p99 | $a_err |"
  echo "| two nodes: node 2 ($half connections) | $b_rps | $b_p50 | $b_p99 | $b_err |"
  echo "| two nodes together | $((a_rps + b_rps)) | | | $((a_err + b_err)) |"
  echo
  awk -v one="$one_rps" -v two="$((a_rps + b_rps))" 'BEGIN { printf "Two nodes / one node: %.2fx\n", two / one }'
} | tee -a "$OUT"
log "written to $OUT"
