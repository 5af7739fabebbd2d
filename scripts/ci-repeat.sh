#!/usr/bin/env bash
# Runs the README test command (./scripts/test.sh) in N fresh clones of this repository's HEAD, one
# after the other, optionally while another CPU-heavy process keeps one core busy; prints a table of
# each run's result and wall time and exits non-zero if any run failed.  Not part of CI (it takes
# N times the suite).
#
#   scripts/ci-repeat.sh [--runs 5] [--load] [--keep]
#
# --load  starts `python3 -c 'while True: pass'` at nice 0 for the whole series (one core spinning:
#         the other core, the suite and its subprocesses share what is left)
# --keep  keeps the clones and their logs under /tmp/pm-ci-repeat.*
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

RUNS=5 LOAD=0 KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --load) LOAD=1; shift ;;
    --keep) KEEP=1; shift ;;
    *) die "unknown argument $1 (use --runs N, --load, --keep)" ;;
  esac
done

WORK=$(mktemp -d /tmp/pm-ci-repeat.XXXXXX)
COMMIT=$(git rev-parse --short HEAD)
LOADER=""
if [ "$LOAD" = 1 ]; then
  python3 -c 'while True: pass' &
  LOADER=$!
fi
cleanup() {
  [ -n "$LOADER" ] && kill "$LOADER" 2>/dev/null || true
  [ "$KEEP" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

ROWS=() FAILED=0
for run in $(seq 1 "$RUNS"); do
  clone="$WORK/run$run"
  git clone --quiet . "$clone"
  log "Run $run/$RUNS of ./scripts/test.sh in a fresh clone of $COMMIT ($clone)"
  started=$(date +%s)
  if (cd "$clone" && ./scripts/test.sh >"$WORK/run$run.log" 2>&1); then result=PASS; else result=FAIL; FAILED=1; fi
  seconds=$(( $(date +%s) - started ))
  summary=$(grep -E '(passed|failed|error)' "$WORK/run$run.log" | tail -n 1 | tr -d '=' | sed 's/^ *//')
  ROWS+=("$(printf '| %d | %s | %dm%02ds | %s |' "$run" "$result" $((seconds / 60)) $((seconds % 60)) "$summary")")
  [ "$result" = PASS ] || { KEEP=1; log "Run $run failed: $WORK/run$run.log"; }
  rm -rf "$clone/.venv"
done

echo
echo "Commit $COMMIT, $(nproc) cores, load: $([ "$LOAD" = 1 ] && echo "one core spinning (python3 busy loop)" || echo none), $(date -u +%Y-%m-%d)"
echo "| Run | Result | Wall time | pytest summary |"
echo "|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
exit "$FAILED"
