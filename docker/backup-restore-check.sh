#!/usr/bin/env bash
# Tested backup and restore of PostgreSQL: the command pair of docs/OPERATIONS.md ("Backup and
# restore"), run against a throwaway stack (never against yours: it drops the database).
#
#   docker/backup-restore-check.sh [--keep]
#
# Starts the smoke stack (docker/smoke.sh's helpers: host network, 127.0.0.1, free ports), replays
# the sample campaign and opens one more position, takes a books fingerprint through the API and
# checks reconcile_broker; then dumps (pg_dump -Fc), stops the application, DROPS the database,
# recreates and restores it (pg_restore), starts the application again, and checks that the
# fingerprint is unchanged and reconcile_broker still matches.  Prints a table; exit 1 on failure.
set -euo pipefail
# shellcheck source=docker/smoke.sh
source "$(dirname "${BASH_SOURCE[0]}")/smoke.sh"   # stack helpers only (smoke.sh runs nothing when sourced)

PROJECT=${SMOKE_PROJECT:-pm-backup-check}
APP_SERVICES=("$NGINX_SERVICE" web1 web2 worker1 worker2 beat1 beat2)

books() { run_probe books "$BASE" --token "$TOKEN"; echo "$P_summary"; }

database_exists() {
  [ "$(dc exec -T postgres psql -U pm -d postgres -tAc "SELECT count(*) FROM pg_database WHERE datname = 'pm'" | tr -d '\r ')" = 1 ]
}

check() {
  local before after t0 t1 size
  # Books with history and an open position, so the restore has something to get wrong.
  next_batch 1
  run_probe send --url "$BASE/webhook" --secret "$WEBHOOK_SECRET" --kind entry --instrument GOLD_MINI \
    --start-epoch "$(( $(date +%s) - 60 ))" --rate 0 --deadline 60
  delivered 1 && check_signals entry 1 $P_ids || { record "open a position" FAIL "-" "$CHECK_DETAIL"; return 0; }
  reconcile "reconcile_broker before backup"
  before=$(books)
  log "Books before: $before"

  # 1. Backup: a consistent snapshot while the service runs (pg_dump takes one transaction).
  t0=$(now_ms)
  dc exec -T postgres pg_dump -U pm -d pm --format=custom >"$WORK/pm.dump"
  t1=$(now_ms)
  size=$(wc -c <"$WORK/pm.dump")
  if [ "$size" -gt 1000 ]; then
    record "pg_dump --format=custom" PASS "$(seconds_between "$t0" "$t1")" "$size bytes"
  else
    record "pg_dump --format=custom" FAIL "-" "$size bytes"
    return 0
  fi

  # 2. Disaster: the application stops, the database is dropped.
  dc stop "${APP_SERVICES[@]}" >>"$LOG" 2>&1
  dc exec -T postgres dropdb -U pm pm
  if database_exists; then record "drop database pm" FAIL "-" "still there"; return 0; fi
  record "drop database pm" PASS "-" "application stopped first (no connections)"

  # 3. Restore into a fresh empty database, then start the application again.
  t0=$(now_ms)
  dc exec -T postgres createdb -U pm pm
  dc exec -T postgres pg_restore -U pm -d pm --no-owner --exit-on-error <"$WORK/pm.dump"
  t1=$(now_ms)
  record "createdb + pg_restore" PASS "$(seconds_between "$t0" "$t1")" "--no-owner --exit-on-error"
  dc start "${APP_SERVICES[@]}" >>"$LOG" 2>&1
  run_probe wait "$BASE/ready" --timeout 120
  [ "$P_ok" = True ] || { record "service ready after restore" FAIL "-" "$P_last"; return 0; }
  record "service ready after restore" PASS "$(seconds_between "$t1" "$P_at_ms")" "GET /ready 200 via nginx"

  after=$(books)
  log "Books after: $after"
  if [ "$before" = "$after" ]; then
    record "books identical after restore" PASS "-" "$after"
  else
    record "books identical after restore" FAIL "-" "before: $before; after: $after"
  fi
  reconcile "reconcile_broker after restore"
  # And it still trades: the restored position's exit executes.
  run_probe send --url "$BASE/webhook" --secret "$WEBHOOK_SECRET" --kind exit --instrument GOLD_MINI \
    --start-epoch "$(( $(date +%s) - 30 ))" --rate 0 --deadline 60
  if delivered 1 && check_signals exit-after-restore 1 $P_ids; then
    record "exit of the restored position" PASS "-" "$CHECK_DETAIL"
  else
    record "exit of the restored position" FAIL "-" "$CHECK_DETAIL"
  fi
  reconcile "reconcile_broker at the end"
}

main() {
  for arg in "$@"; do
    case $arg in
      --keep) KEEP=1 ;;
      -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
      *) die "unknown argument: $arg" ;;
    esac
  done
  trap teardown EXIT
  setup
  first_start
  replay_campaign
  check
  print_table | tee "$WORK/table.txt"
  [ "$FAILED" = 0 ] || { warn "backup/restore check failed"; exit 1; }
  log "Backup and restore check passed"
}

main "$@"
