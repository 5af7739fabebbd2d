#!/usr/bin/env bash
# End-to-end smoke test and failure drills of the Docker deployment (not part of CI).
#
#   docker/smoke.sh [--keep]
#
# Builds the images (official bases when they can be pulled, else Debian-packaged local ones from
# docker/base-image.sh), starts docker/compose.yaml with docker/compose.smoke.yaml (every container
# on the host network, listening on 127.0.0.1 only, on free ports), then through nginx (HTTPS with
# the stack's own self-signed certificate):
#   waits for /health and /ready, initialises the portfolio, replays samples/campaign.jsonl, checks
#   every signal executed exactly once (GET /api/signals/<id>/ with a staff token) and that
#   reconcile_broker matches; then runs the drills: kill the leader's beat, kill a web instance
#   under load, restart Redis, stop/start PostgreSQL, a rolling upgrade, restart everything.  Prints a table of drills
#   with PASS/FAIL and timings, tears the stack down (unless --keep), and exits 1 on any failure.
#
# Needs only Docker (Engine + Compose v2 or v1.29) and this repository: every HTTP client runs in
# the app image (docker/smoke/probe.py).  Environment: COMPOSE="docker-compose" forces Compose v1;
# PM_BASE_IMAGES=local skips pull attempts; SMOKE_PROJECT names the compose project.
# Sourced (by docker/backup-restore-check.sh) it only defines the stack helpers and runs nothing.
set -euo pipefail
# shellcheck source=docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROJECT=${SMOKE_PROJECT:-pm-smoke}
KEEP=0
CAPITAL=5000000
FAILOVER_BUDGET_MS=3000
NGINX_SERVICE=nginx-smoke         # compose.smoke.yaml's host-network twin of the base file's nginx

WORK=$(mktemp -d /tmp/pm-smoke.XXXXXX)
chmod 755 "$WORK"
mkdir -m 777 "$WORK/out"          # the probe runs as the image's unprivileged user
LOG=$WORK/smoke.log
ENV_FILE=$WORK/smoke.env
ROWS=()
FAILED=0
ALL_IDS=()                        # every signal id accepted during the run: checked again at the end

# ---------------------------------------------------------------------------------------------
# Plumbing

# dc ARGS: compose with the smoke override, our project name and generated env file.
dc() { "${COMPOSE_CMD[@]}" -p "$PROJECT" --env-file "$ENV_FILE" -f "$DOCKER_DIR/compose.yaml" -f "$DOCKER_DIR/compose.smoke.yaml" "$@"; }

# probe ARGS: run docker/smoke/probe.py in the app image on the host network (standard input is
# passed on: `signals --ids -` reads ids from it); its P_* assignments go to stdout, its JSON result
# to the log.
probe() {
  docker run --rm -i --network host -e PROBE_CA_FILE=/smoke-work/ca.pem \
    -v "$DOCKER_DIR/smoke:/smoke:ro" -v "$WORK:/smoke-work" \
    --entrypoint python "$PM_IMAGE" /smoke/probe.py "$@" 2>>"$LOG"
}

# The probe's results, reset before each use so that a probe that failed leaves defined, failing
# values behind (set -u) instead of the previous probe's.
reset_probe_vars() {
  P_ok=False P_status=none P_body='' P_last='' P_at_ms=0 P_seconds=0 P_leader='' P_instance_id='' P_polls=0
  P_database='' P_redis='' P_broker='' P_sent=0 P_accepted=0 P_duplicates=0 P_not_accepted=missing P_resent=0
  P_first_attempt_5xx=0 P_first_attempt_transport_errors=0 P_max_seconds=0 P_ids='' P_results=''
  P_by_status='' P_pending='' P_unexpected='' P_duplicate_deliveries=0 P_summary=''
}
reset_probe_vars

# run_probe ARGS: probe and load its results into the P_* variables.
run_probe() {
  local output
  reset_probe_vars
  output=$(probe "$@" </dev/null) || true
  eval "$output"
}

# record NAME PASS|FAIL TIMING DETAIL: one row of the final table.
record() {
  ROWS+=("$1|$2|$3|$4")
  [ "$2" = PASS ] || FAILED=1
  if [ "$2" = PASS ]; then log "$1: PASS ($3) $4"; else warn "$1: FAIL ($3) $4"; fi
}

seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", (b - a) / 1000 }'; }

container() { dc ps -q "$1"; }

# manage ARGS: a management command in web1 (any app container would do).
manage() { dc exec -T web1 python manage.py "$@"; }

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# A cursor of signal times: each batch of drill signals gets its own seconds, so no two signals of
# the run share a fingerprint.  MARKET_DATA is never rejected for age; entries use "now".
SIGNAL_CURSOR=$(( $(date +%s) - 3500 ))
# next_batch N: sets BATCH_START for a batch of N signals (no subshell: the cursor must advance).
next_batch() { BATCH_START=$SIGNAL_CURSOR; SIGNAL_CURSOR=$(( SIGNAL_CURSOR + $1 + 1 )); }

# wait_progress FILE N DEADLINE: wait until a background sender has done N signals.
progress_at_least() { [ -s "$1" ] && [ "$(cat "$1")" -ge "$2" ] 2>/dev/null; }
wait_progress() { wait_until "$3" "sender progress $2 in $1" progress_at_least "$1" "$2"; }

healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$(container "$1")" 2>/dev/null)" = healthy ]; }
running() { [ "$(docker inspect -f '{{.State.Running}}' "$(container "$1")" 2>/dev/null)" = true ]; }

# delivered N: the sender got an answer for all N signals: 202 accepted, or 200 duplicate (a resend
# whose first delivery had been stored, e.g. by an instance killed before it could answer).
delivered() { [ $(( P_accepted + P_duplicates )) -eq "$1" ]; }

# check_signals LABEL EXPECTED IDS...: all given signals terminal, each executed exactly once.
check_signals() {
  local expected=$2
  shift 2
  local output
  CHECK_DETAIL="not checked"
  reset_probe_vars
  output=$(printf '%s\n' "$@" | probe signals "$BASE/api/signals" --token "$TOKEN" --ids - --expect "$expected" --timeout 180) || true
  eval "$output"
  CHECK_DETAIL="$P_ids signals: $P_by_status; resent copies deduplicated: $P_duplicate_deliveries"
  [ "$P_ok" = True ] || CHECK_DETAIL="$CHECK_DETAIL; pending: ${P_pending:-none}; unexpected: $P_unexpected"
  [ "$P_ok" = True ]
}

# start_sender NAME ARGS: a TradingView-like sender (probe send) in the background; sets SENDER_PID.
start_sender() {
  local name=$1
  shift
  rm -f "$WORK/out/$name.progress"
  probe send --url "$BASE/webhook" --secret "$WEBHOOK_SECRET" --progress "/smoke-work/out/$name.progress" "$@" \
    </dev/null >"$WORK/$name.result" &
  SENDER_PID=$!
}

# finish_sender NAME: wait for it and load its P_* results.
finish_sender() {
  wait "$SENDER_PID" || true
  reset_probe_vars
  # shellcheck disable=SC1090
  source "$WORK/$1.result"
  # shellcheck disable=SC2206
  ALL_IDS+=($P_ids)
}

teardown() {
  local status=$?
  if [ "$KEEP" = 1 ]; then
    log "Stack left running (--keep): project $PROJECT, env file $ENV_FILE, https://127.0.0.1:${SMOKE_HTTPS_PORT:-?}"
    log "Stop it with: ${COMPOSE_CMD[*]} -p $PROJECT --env-file $ENV_FILE -f docker/compose.yaml -f docker/compose.smoke.yaml down -v"
  elif [ ${#COMPOSE_CMD[@]} -gt 0 ] && [ -s "$ENV_FILE" ]; then
    log "Tearing down"
    dc logs --no-color >"$WORK/compose.log" 2>&1 || true
    dc down -v --remove-orphans >>"$LOG" 2>&1 || true
  fi
  log "Logs: $LOG"
  exit "$status"
}

print_table() {
  local row name result timing detail
  printf '\n%-38s | %-6s | %-11s | %s\n' "Drill" "Result" "Time" "Detail"
  printf '%s\n' "---------------------------------------+--------+-------------+------------------------------------------"
  for row in "${ROWS[@]}"; do
    IFS='|' read -r name result timing detail <<<"$row"
    printf '%-38s | %-6s | %-11s | %s\n' "$name" "$result" "$timing" "$detail"
  done
  echo
  echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet 2>/dev/null || echo '+changes'), compose: ${COMPOSE_CMD[*]} $("${COMPOSE_CMD[@]}" version --short 2>/dev/null || true), images: app base $PM_BASE_IMAGE, postgres $PM_POSTGRES_IMAGE, redis $PM_REDIS_IMAGE"
}

# ---------------------------------------------------------------------------------------------
# Set-up

setup() {
  docker info >/dev/null 2>&1 || die "Docker is not running (docker info failed)"
  choose_compose
  log "Compose: ${COMPOSE_CMD[*]}; work directory $WORK"

  local t0 t1
  t0=$(now_ms)
  # build.sh prints PM_POSTGRES_IMAGE=..., PM_REDIS_IMAGE=..., PM_IMAGE=..., PM_NGINX_IMAGE=...
  local built
  built=$("$DOCKER_DIR/build.sh" 2>>"$LOG") || die "image build failed (see $LOG)"
  eval "$built"
  t1=$(now_ms)
  record "build images" PASS "$(seconds_between "$t0" "$t1")" "base=$PM_BASE_IMAGE postgres=$PM_POSTGRES_IMAGE redis=$PM_REDIS_IMAGE"

  # Free loopback ports, away from 5432/6379/8000 that other services on a host may use.
  SMOKE_PG_PORT=$(free_port $(seq 15432 15499)) || die "no free port for PostgreSQL"
  SMOKE_REDIS_PORT=$(free_port $(seq 16379 16449)) || die "no free port for Redis"
  SMOKE_WEB1_PORT=$(free_port $(seq 18001 18049)) || die "no free port for web1"
  SMOKE_WEB2_PORT=$(free_port $(seq $((SMOKE_WEB1_PORT + 1)) 18099)) || die "no free port for web2"
  SMOKE_HTTP_PORT=$(free_port $(seq 18180 18199)) || die "no free port for nginx (HTTP)"
  SMOKE_HTTPS_PORT=$(free_port $(seq 18443 18499)) || die "no free port for nginx (HTTPS)"
  BASE=https://127.0.0.1:$SMOKE_HTTPS_PORT

  WEBHOOK_SECRET=$(random_hex 24)
  # Throwaway secrets for a throwaway stack; the file lives in $WORK, outside the repository.
  cat >"$ENV_FILE" <<ENV
COMPOSE_PROJECT_NAME=$PROJECT
PM_ENV_FILE=$ENV_FILE
POSTGRES_PASSWORD=$(random_hex 16)
REDIS_PASSWORD=$(random_hex 16)
WEBHOOK_SECRET=$WEBHOOK_SECRET
DJANGO_SECRET_KEY=$(random_hex 32)
ALLOWED_HOSTS=127.0.0.1,localhost
TRUSTED_PROXY_COUNT=1
BROKER=paper
LOG_FORMAT=json
NGINX_TLS=self-signed
TLS_HOSTNAMES=localhost,127.0.0.1
PM_IMAGE=$PM_IMAGE
PM_NGINX_IMAGE=$PM_NGINX_IMAGE
PM_POSTGRES_IMAGE=$PM_POSTGRES_IMAGE
PM_REDIS_IMAGE=$PM_REDIS_IMAGE
SMOKE_PG_PORT=$SMOKE_PG_PORT
SMOKE_REDIS_PORT=$SMOKE_REDIS_PORT
SMOKE_WEB1_PORT=$SMOKE_WEB1_PORT
SMOKE_WEB2_PORT=$SMOKE_WEB2_PORT
SMOKE_HTTP_PORT=$SMOKE_HTTP_PORT
SMOKE_HTTPS_PORT=$SMOKE_HTTPS_PORT
ENV
  chmod 644 "$ENV_FILE"

  log "Starting the stack (project $PROJECT, nginx on 127.0.0.1:$SMOKE_HTTPS_PORT)"
  dc down -v --remove-orphans >>"$LOG" 2>&1 || true   # leftovers of an interrupted run
  t0=$(now_ms)
  dc up -d --scale nginx=0 >>"$LOG" 2>&1 || die "compose up failed (see $LOG)"
  wait_until 60 "nginx certificate" dc exec -T "$NGINX_SERVICE" test -s /etc/nginx/tls/cert.pem || die "nginx made no certificate"
  dc exec -T "$NGINX_SERVICE" cat /etc/nginx/tls/cert.pem >"$WORK/ca.pem"
  chmod 644 "$WORK/ca.pem"
  run_probe wait "$BASE/health" --timeout 180
  [ "$P_ok" = True ] || { record "stack up (GET /health via nginx)" FAIL "-" "last: $P_last"; return 1; }
  t1=$(now_ms)
  record "stack up (GET /health via nginx)" PASS "$(seconds_between "$t0" "$t1")" "migrate ran first; 2 web, 2 workers, 2 beats"
}

first_start() {
  local t0 t1 output
  t0=$(now_ms)
  manage init_portfolio --capital "$CAPITAL" >>"$LOG" 2>&1
  run_probe wait "$BASE/ready" --timeout 60
  t1=$(now_ms)
  if [ "$P_ok" = True ]; then
    record "init_portfolio, GET /ready via nginx" PASS "$(seconds_between "$t0" "$t1")" "capital $CAPITAL; /ready 200"
  else
    record "init_portfolio, GET /ready via nginx" FAIL "-" "last: $P_last"
    return 1
  fi

  # A staff user and a DRF token for GET /api/signals/ (django.contrib.auth only: no app module).
  manage shell -c "
from django.contrib.auth import get_user_model
user, _ = get_user_model().objects.get_or_create(username='smoke')
user.is_staff = user.is_superuser = True
user.set_password('smoke-$(random_hex 8)')
user.save()" >>"$LOG" 2>&1
  output=$(manage drf_create_token smoke 2>>"$LOG")
  TOKEN=$(sed -n 's/^Generated token \([0-9a-f]*\) for user.*/\1/p' <<<"$output")
  [ -n "$TOKEN" ] || die "no API token: $output"
}

replay_campaign() {
  local t0 t1 output ids lines
  lines=$(grep -c . "$REPO_DIR/samples/campaign.jsonl")
  t0=$(now_ms)
  # replay_signals from the image, as ops would run it, posting through nginx over HTTPS.
  output=$(docker run --rm --network host -v "$WORK/ca.pem:/tmp/ca.pem:ro" -e SSL_CERT_FILE=/tmp/ca.pem \
           -e WEBHOOK_SECRET="$WEBHOOK_SECRET" -e DJANGO_SECRET_KEY=replay-only "$PM_IMAGE" \
           python manage.py replay_signals samples/campaign.jsonl --url "$BASE/webhook" --secret "$WEBHOOK_SECRET" 2>&1) || true
  echo "$output" >>"$LOG"
  mapfile -t ids < <(grep -o '"signal_id": *[0-9]*' <<<"$output" | grep -o '[0-9]*$')  # compact or spaced JSON
  ALL_IDS+=("${ids[@]}")
  if [ "${#ids[@]}" -ne "$lines" ]; then
    record "replay samples/campaign.jsonl" FAIL "-" "${#ids[@]} of $lines accepted"
    return 0
  fi
  if check_signals campaign "$lines" "${ids[@]}"; then
    t1=$(now_ms)
    record "replay campaign, executed once" PASS "$(seconds_between "$t0" "$t1")" "$CHECK_DETAIL"
  else
    record "replay campaign, executed once" FAIL "-" "$CHECK_DETAIL"
  fi
  reconcile "reconcile_broker after campaign"
}

reconcile() {
  local output rc=0
  output=$(manage reconcile_broker --json 2>>"$LOG") || rc=$?
  echo "$output" >>"$LOG"
  if [ "$rc" = 0 ] && grep -q '"outcome": *"matched"' <<<"$output"; then
    record "$1" PASS "-" "outcome matched (exit 0)"
  else
    record "$1" FAIL "-" "exit $rc: $(grep -o '"outcome": *"[a-z_]*"' <<<"$output" | head -1)"
  fi
}

# ---------------------------------------------------------------------------------------------
# Drills

drill_leader() {
  run_probe health "$BASE/health"
  local old=$P_leader service=${P_leader%%:*}
  case $service in beat1|beat2) ;; *) record "kill leader beat (SIGKILL)" FAIL "-" "leader is '$old'"; return 0 ;; esac
  local cid t0
  cid=$(container "$service")
  # Poll /health from before the kill, so the failover time does not include a client's start-up.
  rm -f "$WORK/out/leader.progress"
  probe leader "$BASE/health" --old "$old" --timeout 30 --progress /smoke-work/out/leader.progress \
    </dev/null >"$WORK/leader.result" &
  local watcher=$!
  wait_until 30 "leader watcher polling" test -s "$WORK/out/leader.progress"
  t0=$(now_ms)
  docker kill --signal KILL "$cid" >/dev/null
  wait "$watcher" || true
  reset_probe_vars
  source "$WORK/leader.result"
  local took=$(( P_at_ms - t0 ))
  if [ "$P_ok" = True ] && [ "$took" -le "$FAILOVER_BUDGET_MS" ]; then
    record "kill leader beat ($service, SIGKILL)" PASS "${took} ms" "$old -> $P_leader (budget ${FAILOVER_BUDGET_MS} ms)"
  else
    record "kill leader beat ($service, SIGKILL)" FAIL "${took} ms" "$old -> ${P_leader:-none}"
  fi
  # Jobs keep running: the new leader records leader jobs (instance reaping runs every 10 s).
  local new=$P_leader table since t1
  table=$(dc exec -T postgres psql -U pm -d pm -tAc \
    "SELECT relname FROM pg_class WHERE relname LIKE '%\_jobrun' AND relkind = 'r' LIMIT 1" | tr -d '\r')
  since=$(( t0 / 1000 ))
  jobs_by_new_leader() {
    [ "$(dc exec -T postgres psql -U pm -d pm -tAc \
      "SELECT count(*) FROM $table WHERE instance_id = '$new' AND started_at >= to_timestamp($since)" | tr -d '\r ')" -gt 0 ]
  }
  if [ -n "$table" ] && wait_until 40 "a leader job run by $new" jobs_by_new_leader; then
    t1=$(now_ms)
    record "leader jobs continue" PASS "$(seconds_between "$t0" "$t1")" "first job run by $new after the kill ($table)"
  else
    record "leader jobs continue" FAIL "-" "no job run by $new within 40 s (table '${table:-?}')"
  fi
  dc start "$service" >>"$LOG" 2>&1
  wait_until 60 "$service running again" running "$service" || true
}

drill_kill_web() {
  local t0 t1
  next_batch 120
  start_sender killweb --count 120 --rate 10 --start-epoch "$BATCH_START" --deadline 60
  wait_progress "$WORK/out/killweb.progress" 30 60 || true
  t0=$(now_ms)
  docker kill --signal KILL "$(container web1)" >/dev/null
  finish_sender killweb
  t1=$(now_ms)
  local detail="sent $P_sent, accepted $P_accepted, duplicate $P_duplicates, resent $P_resent (first-attempt 5xx $P_first_attempt_5xx), max $P_max_seconds s"
  local slowest="max ${P_max_seconds} s"
  if [ -z "$P_not_accepted" ] || [ "$P_not_accepted" = "[]" ]; then
    if delivered 120 && check_signals killweb 120 $P_ids; then
      record "kill web1 under load (10/s)" PASS "$slowest" "$detail; $CHECK_DETAIL"
    else
      record "kill web1 under load (10/s)" FAIL "-" "$detail; ${CHECK_DETAIL:-}"
    fi
  else
    record "kill web1 under load (10/s)" FAIL "-" "$detail; not accepted: $P_not_accepted"
  fi
  dc start web1 >>"$LOG" 2>&1
  wait_until 90 "web1 healthy again" healthy web1 || record "web1 back after kill" FAIL "-" "not healthy in 90 s"
}

redis_ok() { run_probe health "$BASE/health"; [ "$P_redis" = ok ]; }

drill_restart_redis() {
  local t0 t1 restart_s
  next_batch 60
  start_sender redis --count 60 --rate 5 --start-epoch "$BATCH_START" --deadline 90
  wait_progress "$WORK/out/redis.progress" 10 60 || true
  t0=$(now_ms)
  dc restart redis >>"$LOG" 2>&1
  t1=$(now_ms)
  restart_s=$(seconds_between "$t0" "$t1")
  finish_sender redis
  local detail="restart took $restart_s; sent $P_sent, accepted $P_accepted, duplicate $P_duplicates, resent $P_resent, max $P_max_seconds s"
  local bars_ok=0
  if delivered 60 && check_signals redis 60 $P_ids; then bars_ok=1; fi
  # Trading continues: a fresh entry and its exit both execute after the restart.
  local now=$(( $(date +%s) - 90 ))
  run_probe send --url "$BASE/webhook" --secret "$WEBHOOK_SECRET" --kind trade --instrument GOLD_MINI \
          --start-epoch "$now" --rate 0 --deadline 60
  ALL_IDS+=($P_ids)
  local trade_ok=0 trade_detail
  if delivered 2 && check_signals trade 2 $P_ids; then trade_ok=1; fi
  trade_detail=$CHECK_DETAIL
  wait_until 60 "Redis ok in GET /health" redis_ok
  if [ "$bars_ok" = 1 ] && [ "$trade_ok" = 1 ] && [ "$P_redis" = ok ]; then
    record "restart Redis under load (5/s)" PASS "$restart_s" "$detail; entry+exit after restart executed; /health redis $P_redis"
  else
    record "restart Redis under load (5/s)" FAIL "$restart_s" "$detail; bars ok=$bars_ok; trade: $trade_detail; redis=$P_redis"
  fi
}

drill_postgres() {
  local t0 t_down t_start t_up
  next_batch 20
  start_sender postgres --count 20 --rate 1 --start-epoch "$BATCH_START" --deadline 120
  wait_progress "$WORK/out/postgres.progress" 3 60 || true
  dc stop postgres >>"$LOG" 2>&1
  t0=$(now_ms)
  run_probe wait "$BASE/health" --status 503 --timeout 30
  local saw_503=$P_ok
  t_down=$P_at_ms
  t_start=$(now_ms)
  dc start postgres >>"$LOG" 2>&1
  run_probe wait "$BASE/ready" --status 200 --timeout 120
  local recovered=$P_ok
  t_up=$P_at_ms
  finish_sender postgres
  local detail="503 $(seconds_between "$t0" "${t_down:-$t0}") after stop; ready $(seconds_between "$t_start" "${t_up:-$t_start}") after start; sent $P_sent, accepted $P_accepted, duplicate $P_duplicates, resent $P_resent, max $P_max_seconds s"
  if [ "$saw_503" = True ] && [ "$recovered" = True ] && delivered 20 && check_signals postgres 20 $P_ids; then
    record "stop/start PostgreSQL (503, recovery)" PASS "$(seconds_between "$t_start" "$t_up")" "$detail; $CHECK_DETAIL"
  else
    record "stop/start PostgreSQL (503, recovery)" FAIL "-" "$detail; saw503=$saw_503 recovered=$recovered; ${CHECK_DETAIL:-}"
  fi
}

# The upgrade procedure of docs/OPERATIONS.md, under load: migrate with a one-off container while
# the old containers serve, then recreate web1, web2 (each healthy before the next, nginx reloaded),
# workers and beats.  Same image here; --force-recreate stands in for a new one.
drill_rolling_upgrade() {
  local t0 t1 service
  next_batch 60
  start_sender rolling --count 60 --rate 2 --start-epoch "$BATCH_START" --deadline 120
  wait_progress "$WORK/out/rolling.progress" 5 60 || true
  t0=$(now_ms)
  dc run --rm migrate >>"$LOG" 2>&1 || record "rolling upgrade: migrate" FAIL "-" "migrate failed"
  for service in web1 web2; do
    dc up -d --no-deps --force-recreate "$service" >>"$LOG" 2>&1
    wait_until 120 "$service healthy after recreate" healthy "$service" || record "rolling upgrade: $service" FAIL "-" "not healthy in 120 s"
    dc exec -T "$NGINX_SERVICE" nginx -s reload >>"$LOG" 2>&1
  done
  for service in worker1 worker2 beat1 beat2; do
    dc up -d --no-deps --force-recreate "$service" >>"$LOG" 2>&1
  done
  t1=$(now_ms)
  finish_sender rolling
  local detail="migrate + 6 containers replaced in $(seconds_between "$t0" "$t1"); sent $P_sent, accepted $P_accepted, duplicate $P_duplicates, resent $P_resent, max $P_max_seconds s"
  if delivered 60 && check_signals rolling 60 $P_ids; then
    record "rolling upgrade under load (2/s)" PASS "$(seconds_between "$t0" "$t1")" "$detail; $CHECK_DETAIL"
  else
    record "rolling upgrade under load (2/s)" FAIL "-" "$detail; ${CHECK_DETAIL:-}"
  fi
}

drill_restart_all() {
  local t0 t1 t_ready
  next_batch 60
  start_sender all --count 60 --rate 2 --start-epoch "$BATCH_START" --deadline 180
  wait_progress "$WORK/out/all.progress" 5 60 || true
  t0=$(now_ms)
  dc restart >>"$LOG" 2>&1
  t1=$(now_ms)
  run_probe wait "$BASE/ready" --status 200 --timeout 180
  t_ready=$P_at_ms
  finish_sender all
  local detail="restart took $(seconds_between "$t0" "$t1"), ready after $(seconds_between "$t0" "$t_ready"); sent $P_sent, accepted $P_accepted, duplicate $P_duplicates, resent $P_resent, max $P_max_seconds s"
  if delivered 60 && check_signals all 60 $P_ids; then
    record "compose restart (everything)" PASS "$(seconds_between "$t0" "$t_ready")" "$detail; $CHECK_DETAIL"
  else
    record "compose restart (everything)" FAIL "-" "$detail; ${CHECK_DETAIL:-}"
  fi
}

final_checks() {
  local expected=${#ALL_IDS[@]}
  if check_signals all-run "$expected" "${ALL_IDS[@]}"; then
    record "every signal of the run, exactly once" PASS "-" "$CHECK_DETAIL"
  else
    record "every signal of the run, exactly once" FAIL "-" "$CHECK_DETAIL"
  fi
  reconcile "books reconcile at the end"
}

main() {
  for arg in "$@"; do
    case $arg in
      --keep) KEEP=1 ;;
      -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
      *) die "unknown argument: $arg" ;;
    esac
  done
  trap teardown EXIT
  setup
  first_start
  replay_campaign
  drill_leader
  drill_kill_web
  drill_restart_redis
  drill_postgres
  drill_rolling_upgrade
  drill_restart_all
  final_checks
  print_table | tee "$WORK/table.txt"
  [ "$FAILED" = 0 ] || { warn "some drills failed"; exit 1; }
  log "All drills passed"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
