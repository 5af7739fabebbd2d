#!/usr/bin/env bash
# Command 1: the embedded service — SQLite, no Redis, paper broker — on http://127.0.0.1:8000
# until stopped with Ctrl-C.  Needs only Python 3.11 and the package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# Embedded mode is exactly "no REDIS_URL"; the database defaults to var/pm.sqlite3.
unset REDIS_URL DATABASE_URL BROKER
export LOG_FORMAT=${LOG_FORMAT:-console}

ensure_venv requirements/prod.txt
mkdir -p var
log "Migrating the SQLite database (var/pm.sqlite3)"
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py init_portfolio --capital 5000000 --actor demo
.venv/bin/python manage.py ensure_demo_admin
.venv/bin/python manage.py show_webhook_secret
log "Serving on http://127.0.0.1:8000  (admin: http://127.0.0.1:8000/admin/)"
exec .venv/bin/gunicorn config.wsgi --config config/gunicorn_embedded.py
