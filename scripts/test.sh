#!/usr/bin/env bash
# Command 2: install the test dependencies, make sure PostgreSQL and Redis answer on loopback
# (starting them, or installing them from the OS packages, when they don't) and Chromium is there for
# the browser tests (installed from the OS packages when missing), run the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/portfolio -x
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_venv requirements/dev.txt
ensure_postgres
ensure_redis
ensure_chromium
log "Running the test suite"
exec .venv/bin/python -m pytest "$@"
