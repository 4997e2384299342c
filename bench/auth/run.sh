#!/usr/bin/env bash
# Side-by-side auth benchmark: authvex against its peer, Better Auth 1.4.9 on Node 20 over better-sqlite3 (set up as
# shared/spec/peer-bench.md says), driven by the same wrk scripts in one run, printed as a Markdown table with ratios.
#
# A benchmark, not a test: CI never runs it. Every load run is bounded in time and targets only 127.0.0.1.
#
#   bench/auth/run.sh                                  (from any directory; installs what it needs first)
#
# Knobs (environment):
#   REPS=3 DURATION=15 WARMUP=3 THREADS=2     repetitions (median reported), seconds measured, seconds of warm-up
#   SCENARIOS="get-session convex-token sign-in-c16 sign-in-c64 sign-up ok"
#   QUIET_WAIT=1800                            seconds to wait for other builds (cargo/rustc) to finish first
#   OTHER_MAX=0.25                             cores other processes may use during a repetition before it is redone
#   ATTEMPTS=5                                 tries per repetition before a disturbed one is kept (and marked)
#   OUT=DIR                                    where logs and results go (default bench/results/auth-<time>)
#   AUTHVEX_BIN=PATH                           server binary (default target/release/chat, built here)
#   AUTHVEX_REV=TEXT                           what to call that binary's version in the report (default: git HEAD)
#   SKIP_BUILD=1                               use the binaries as they are
#
# Per repetition each server gets a fresh process and a fresh database, one seeded user (signed up through the
# API), a warm-up of WARMUP seconds, then `wrk -tTHREADS -cC -dDURATIONs`. Servers alternate within a repetition so
# drift hits both sides alike. A repetition during which other processes used more than OTHER_MAX cores is redone
# (ATTEMPTS tries in all, then kept and marked).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEER_DIR="$HERE/peer"
LUA_DIR="$HERE/lua"

REPS="${REPS:-3}"
DURATION="${DURATION:-15}"
WARMUP="${WARMUP:-3}"
THREADS="${THREADS:-2}"
SCENARIOS="${SCENARIOS:-get-session convex-token sign-in-c16 sign-in-c64 sign-up ok}"
QUIET_WAIT="${QUIET_WAIT:-1800}"
OTHER_MAX="${OTHER_MAX:-0.25}"
ATTEMPTS="${ATTEMPTS:-5}"
OUT="${OUT:-$REPO/bench/results/auth-$(date +%Y%m%d-%H%M%S)}"
AUTHVEX_BIN="${AUTHVEX_BIN:-$REPO/target/release/chat}"
SCRYPT_BIN="$REPO/target/release/bench-scrypt"

# Same fixed secret for both servers; the seeded user both scenarios sign in as.
SECRET="authvex-bench-secret-0123456789abcdef0123456789"
USER_EMAIL="bench@bench.example.com"
USER_PASSWORD="benchmark-password-1"
CLK_TCK="$(getconf CLK_TCK)"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# ---------------------------------------------------------------------------------------------------------------
# Install and build

install() {
  if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  fi
  command -v node >/dev/null || die "node (20.x) is required for the peer"
  # npm records each install in node_modules/.package-lock.json; reinstall when missing or older than the lock.
  if [[ ! -f "$PEER_DIR/node_modules/.package-lock.json" ||
    "$PEER_DIR/package-lock.json" -nt "$PEER_DIR/node_modules/.package-lock.json" ]]; then
    log "npm ci in bench/auth/peer"
    (cd "$PEER_DIR" && npm ci --no-audit --no-fund >&2)
  fi
  if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    log "cargo build --release -p chat"
    (cd "$REPO" && cargo build --release -p chat >&2)
    log "cargo build --release -p bench --bin bench-scrypt"
    (cd "$REPO" && cargo build --release -p bench --bin bench-scrypt >&2)
  fi
  [[ -x "$AUTHVEX_BIN" ]] || die "no server binary at $AUTHVEX_BIN"
}

# ---------------------------------------------------------------------------------------------------------------
# A quiet machine

QUIET_DEADLINE=$(($(date +%s) + QUIET_WAIT))

# Build processes of other engineers on this machine (matched by exact process name).
builders() {
  local name
  for name in cargo rustc clippy-driver rustdoc cc1 cc1plus; do
    pgrep -x "$name" || true
  done
}

# Waits (until the shared QUIET_WAIT deadline) for no build process to run and the machine to idle (under OTHER_MAX
# cores busy over two seconds). Called while none of our servers runs.
wait_quiet() {
  local announced=0 m0 m1
  while true; do
    if [[ -z "$(builders)" ]]; then
      m0="$(machine_ticks)"
      sleep 2
      m1="$(machine_ticks)"
      if awk -v d="$((m1 - m0))" -v hz="$CLK_TCK" -v max="$OTHER_MAX" 'BEGIN { exit !(d / hz / 2 <= max) }'; then
        return
      fi
    fi
    if (($(date +%s) >= QUIET_DEADLINE)); then
      log "warning: the machine is still busy after waiting ${QUIET_WAIT}s in all; measuring anyway"
      return
    fi
    if ((announced == 0)); then
      log "waiting for other work (builds, busy CPU) to finish before measuring"
      announced=1
    fi
    sleep 5
  done
}

# CPU ticks (user + system) a process has used: fields 14 and 15 of /proc/PID/stat, counted after the `(comm)`.
proc_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# Busy ticks of the whole machine (all CPUs), from /proc/stat.
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# A `/proc/PID/status` field in KiB (VmHWM: peak resident set; VmRSS: resident now).
status_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }

# Waits (60 s at most) until the server has finished the work wrk left behind: a client that goes away does not stop
# a password hash already running, so requests of the warm-up would otherwise still be hashing in the measured run.
settle() {
  local pid="$1" i before after
  for ((i = 0; i < 120; i++)); do
    before="$(proc_ticks "$pid")"
    sleep 0.5
    after="$(proc_ticks "$pid")"
    # Under a tenth of a core over the half second.
    if awk -v d="$((after - before))" -v hz="$CLK_TCK" 'BEGIN { exit !(d / hz / 0.5 < 0.1) }'; then
      return
    fi
  done
  log "warning: the server was still busy 60 s after the warm-up"
}

# ---------------------------------------------------------------------------------------------------------------
# Servers

SERVER_PID=""
SITE=""

# start_server KIND DIR — KIND is authvex, peer (convex plugin off) or peer-convex (plugin on).
start_server() {
  local kind="$1" dir="$2"
  mkdir -p "$dir/data"
  case "$kind" in
  authvex)
    BETTER_AUTH_SECRET="$SECRET" "$AUTHVEX_BIN" dev --data "$dir/data" --port 0 --site-port 0 \
      --config "$OUT/authvex.json" >"$dir/server.out" 2>"$dir/server.err" &
    ;;
  peer | peer-convex)
    local plugin=0
    [[ "$kind" == peer-convex ]] && plugin=1
    NODE_ENV=production PEER_CONVEX_PLUGIN="$plugin" BETTER_AUTH_SECRET="$SECRET" \
      node "$PEER_DIR/server.mjs" --data "$dir/data" >"$dir/server.out" 2>"$dir/server.err" &
    ;;
  *) die "unknown server kind $kind" ;;
  esac
  SERVER_PID=$!
  local i
  for ((i = 0; i < 600; i++)); do
    SITE="$(awk '/^Site URL:/{print $3; exit}' "$dir/server.out" 2>/dev/null || true)"
    [[ -n "$SITE" ]] && return
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/server.out" "$dir/server.err" >&2 || true
  die "$kind did not start (logs in $dir)"
}

stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT

# POST JSON with the headers a page on the server's origin sends; prints the status, keeps headers and body.
post_json() {
  local path="$1" body="$2" dir="$3"
  curl -sS --max-time 60 -o "$dir/seed.body" -D "$dir/seed.headers" -w '%{http_code}' -X POST "$SITE$path" \
    -H "Origin: $SITE" -H 'Accept: application/json' -H 'Content-Type: application/json' -d "$body"
}

# Signs the benchmark user up; sets COOKIE to the session cookie the sign-up set.
COOKIE=""
seed_user() {
  local dir="$1" status
  status="$(post_json /api/auth/sign-up/email \
    "{\"email\":\"$USER_EMAIL\",\"password\":\"$USER_PASSWORD\",\"name\":\"Bench\"}" "$dir")"
  [[ "$status" == 200 ]] || die "seed sign-up answered $status: $(cat "$dir/seed.body")"
  COOKIE="$(tr -d '\r' <"$dir/seed.headers" | awk 'tolower($1) == "set-cookie:" && $2 ~ /session_token=/ {
    sub(/;.*/, "", $2); print $2; exit }')"
  [[ -n "$COOKIE" ]] || die "seed sign-up set no session cookie"
  session_valid "$dir" || die "get-session does not know the seeded session"
}

# Whether get-session with COOKIE returns the seeded user (a rejected cookie still answers 200, with `null`).
session_valid() {
  curl -sS --max-time 30 -D "$1/session.headers" "$SITE/api/auth/get-session" -H "Origin: $SITE" \
    -H 'Accept: application/json' -H "Cookie: $COOKIE" >"$1/session.body"
  grep -q "\"$USER_EMAIL\"" "$1/session.body"
}

# Whether /convex/token with COOKIE answers a token.
token_valid() {
  local status
  status="$(curl -sS --max-time 30 -o "$1/token.body" -w '%{http_code}' "$SITE/api/auth/convex/token" \
    -H "Origin: $SITE" -H 'Accept: application/json' -H "Cookie: $COOKIE")"
  [[ "$status" == 200 ]] && grep -q '"token"' "$1/token.body"
}

# Records once per server kind whether its get-session answer sets the convex JWT cookie (mints a JWT).
note_jwt() {
  local kind="$1" dir="$2" mints=no
  grep -q "^$kind"$'\t' "$OUT/get-session-jwt.tsv" 2>/dev/null && return
  grep -qi '^set-cookie: [^=]*convex_jwt=[^;]' "$dir/session.headers" && mints=yes
  printf '%s\t%s\n' "$kind" "$mints" >>"$OUT/get-session-jwt.tsv"
}

# ---------------------------------------------------------------------------------------------------------------
# Scenarios

# scenario_conns NAME; scenario_script NAME; scenario_path NAME; scenario_servers NAME
scenario_conns() { case "$1" in sign-in-c16) echo 16 ;; *) echo 64 ;; esac; }
scenario_script() {
  case "$1" in
  get-session | convex-token) echo get-session ;;
  sign-in-*) echo sign-in ;;
  sign-up) echo sign-up ;;
  ok) echo ok ;;
  *) die "unknown scenario $1" ;;
  esac
}
scenario_path() {
  case "$1" in
  get-session) echo /api/auth/get-session ;;
  convex-token) echo /api/auth/convex/token ;;
  sign-in-*) echo /api/auth/sign-in/email ;;
  sign-up) echo /api/auth/sign-up/email ;;
  ok) echo /api/auth/ok ;;
  esac
}
# The peer runs without the convex plugin (like for like on the password paths), get-session also with it on, and
# /convex/token exists only with it.
scenario_servers() {
  case "$1" in
  get-session) echo "authvex peer peer-convex" ;;
  convex-token) echo "authvex peer-convex" ;;
  *) echo "authvex peer" ;;
  esac
}

# wrk's script arguments for a scenario; TAG keeps sign-up addresses of separate wrk runs apart.
script_args() {
  case "$(scenario_script "$1")" in
  get-session) printf '%s\n' "$SITE" "$COOKIE" ;;
  sign-in) printf '%s\n' "$SITE" "$USER_EMAIL" "$USER_PASSWORD" ;;
  sign-up) printf '%s\n' "$SITE" "$2" ;;
  ok) printf '%s\n' "$SITE" ;;
  esac
}

# run_wrk SCENARIO SECONDS TAG FILE — one bounded wrk run; wrk's own CPU time goes in the file's last line.
run_wrk() {
  local scenario="$1" seconds="$2" tag="$3" file="$4" args
  mapfile -t args < <(script_args "$scenario" "$tag")
  (
    wrk -t"$THREADS" -c"$(scenario_conns "$scenario")" -d"${seconds}s" --timeout 30s \
      -s "$LUA_DIR/$(scenario_script "$scenario").lua" "$SITE$(scenario_path "$scenario")" -- "${args[@]}" || true
    times
  ) >"$file" 2>&1
}

# Seconds of CPU the subshell's children used (wrk, a scrypt run), from its `times` line ("XmY.YYYs XmY.YYYs").
child_cpu_seconds() {
  tail -n 1 "$1" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] } print t }'
}

# One repetition of SCENARIO on KIND; appends one row to results.tsv. Returns 1 when other processes were busy.
measure() {
  local scenario="$1" kind="$2" rep="$3" attempt="$4"
  local dir="$OUT/runs/$scenario/$kind/rep$rep-try$attempt"
  mkdir -p "$dir"
  wait_quiet
  start_server "$kind" "$dir"
  seed_user "$dir"
  note_jwt "$kind" "$dir"
  if [[ "$scenario" == convex-token ]] && ! token_valid "$dir"; then
    die "$kind: /convex/token does not answer a token for the seeded session ($(cat "$dir/token.body"))"
  fi
  local idle_kib
  idle_kib="$(status_kib "$SERVER_PID" VmRSS)"

  run_wrk "$scenario" "$WARMUP" "w$rep$attempt" "$dir/warmup.txt"
  settle "$SERVER_PID"

  local t0 p0 m0 t1 p1 m1
  t0="$(now)"
  p0="$(proc_ticks "$SERVER_PID")"
  m0="$(machine_ticks)"
  run_wrk "$scenario" "$DURATION" "m$rep$attempt" "$dir/wrk.txt"
  p1="$(proc_ticks "$SERVER_PID")"
  m1="$(machine_ticks)"
  t1="$(now)"

  local hwm_kib session=ok
  hwm_kib="$(status_kib "$SERVER_PID" VmHWM)"
  if [[ "$scenario" == get-session ]] && ! session_valid "$dir"; then
    session=invalid
  elif [[ "$scenario" == convex-token ]] && ! token_valid "$dir"; then
    session=invalid
  fi
  stop_server
  rm -rf "$dir/data"

  local result
  result="$(grep '^RESULT ' "$dir/wrk.txt" || true)"
  [[ -n "$result" ]] || die "wrk printed no result for $scenario on $kind (see $dir/wrk.txt)"
  local wrk_s
  wrk_s="$(child_cpu_seconds "$dir/wrk.txt")"
  # CPU in cores over the measured run: the server, wrk, and everything else on the machine.
  local line
  line="$(awk -v t0="$t0" -v t1="$t1" -v p0="$p0" -v p1="$p1" -v m0="$m0" -v m1="$m1" -v hz="$CLK_TCK" \
    -v wrk="$wrk_s" -v r="$result" 'BEGIN {
      el = t1 - t0; server = (p1 - p0) / hz / el; total = (m1 - m0) / hz / el; w = wrk / el
      other = total - server - w; if (other < 0) other = 0
      n = split(r, kv, " "); for (i = 2; i <= n; i++) { split(kv[i], f, "="); v[f[1]] = f[2] }
      errors = v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"]
      printf "%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%.3f", v["rps"], v["p50_us"], v["p99_us"], v["requests"],
        errors, server, w, other
    }')"
  local other
  other="$(cut -f8 <<<"$line")"
  local noisy=0
  if awk -v o="$other" -v m="$OTHER_MAX" 'BEGIN { exit !(o > m) }'; then
    noisy=1
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$kind" "$rep" "$line" "$hwm_kib" "$idle_kib" \
    "$session" "$noisy" "$attempt" >>"$OUT/all-runs.tsv"
  log "$scenario $kind rep $rep: $(cut -f1 <<<"$line") req/s, server $(cut -f6 <<<"$line") cores," \
    "other $other cores, peak RSS $((hwm_kib / 1024)) MiB$([[ $session == ok ]] || echo ", SESSION INVALID")"
  return "$noisy"
}

# ---------------------------------------------------------------------------------------------------------------
# Main

install
mkdir -p "$OUT"
echo '{"auth": {"rateLimit": {"enabled": false}}}' >"$OUT/authvex.json"
printf 'scenario\tserver\trep\trps\tp50_us\tp99_us\trequests\terrors\tserver_cores\twrk_cores\tother_cores\thwm_kib\tidle_kib\tsession\tnoisy\tattempt\n' \
  >"$OUT/all-runs.tsv"
{
  echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)," \
    "$(awk '/^MemTotal/{printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "tools: $(wrk -v 2>&1 | head -n 1 | awk '{print "wrk " $2}'), node $(node --version)," \
    "authvex ${AUTHVEX_REV:-$(cd "$REPO" && git rev-parse --short HEAD)$(cd "$REPO" && git diff --quiet HEAD -- crates examples || echo '+dirty')}"
  echo "load: wrk -t$THREADS -c64 (c=16 for sign-in-c16) -d${DURATION}s --timeout 30s after a ${WARMUP}s warm-up;" \
    "fresh server and database per repetition; median of $REPS"
} >"$OUT/machine.txt"
(cd "$REPO" && git status --short && git diff --stat) >"$OUT/tree.txt" 2>&1 || true
log "results in $OUT"

wait_quiet
log "machine before measuring: $(uptime)"
top -bn1 | head -n 12 >"$OUT/top-before.txt"

# measure_scrypt NAME COMMAND... — runs a scrypt capacity command on a quiet machine (ATTEMPTS tries) and appends its
# RESULT line to scrypt.txt. The command saturates the cores, so what others used is the machine's busy time less
# the command's own.
measure_scrypt() {
  local name="$1" attempt file m0 m1 t0 t1 own
  shift
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    wait_quiet
    file="$OUT/scrypt-$name-try$attempt.txt"
    t0="$(now)"
    m0="$(machine_ticks)"
    ("$@" || true; times) >"$file" 2>&1
    m1="$(machine_ticks)"
    t1="$(now)"
    own="$(child_cpu_seconds "$file")"
    if awk -v t0="$t0" -v t1="$t1" -v m0="$m0" -v m1="$m1" -v hz="$CLK_TCK" -v own="$own" -v max="$OTHER_MAX" \
      'BEGIN { el = t1 - t0; exit !(((m1 - m0) / hz - own) / el <= max) }' || ((attempt == ATTEMPTS)); then
      grep '^RESULT ' "$file" >>"$OUT/scrypt.txt" || die "$name printed no result (see $file)"
      return
    fi
    log "repeating the $name scrypt measurement: other processes used the CPU"
  done
}

log "scrypt capacity (OpenSSL via Node, then authvex's Rust scrypt crate)"
: >"$OUT/scrypt.txt"
measure_scrypt openssl node "$HERE/scrypt-capacity.mjs" --procs 2 --seconds 4
if [[ -x "$SCRYPT_BIN" ]]; then
  measure_scrypt rust "$SCRYPT_BIN" --threads 2 --seconds 4
fi

for scenario in $SCENARIOS; do
  for ((rep = 1; rep <= REPS; rep++)); do
    for kind in $(scenario_servers "$scenario"); do
      for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
        if measure "$scenario" "$kind" "$rep" "$attempt"; then
          break
        fi
        if ((attempt < ATTEMPTS)); then
          log "repeating: other processes used the CPU during that repetition"
        fi
      done
    done
  done
done

# The kept row of each repetition is its last attempt.
awk -F'\t' 'NR == 1 { print; next } { last[$1 FS $2 FS $3] = $0; order[++n] = $1 FS $2 FS $3 }
  END { for (i = 1; i <= n; i++) if (!(order[i] in seen)) { seen[order[i]] = 1; print last[order[i]] } }' \
  "$OUT/all-runs.tsv" >"$OUT/results.tsv"

node "$HERE/report.mjs" "$OUT" | tee "$OUT/report.md"
log "logs and raw figures in $OUT"
