#!/usr/bin/env bash
# The demo's second command: replay samples/campaign.jsonl (a Gold Mini and a Bank Nifty campaign)
# into the embedded service started by scripts/serve.sh.  Extra arguments go to replay_signals.
set -euo pipefail
cd "$(dirname "$0")/.."
unset REDIS_URL DATABASE_URL
exec .venv/bin/python manage.py replay_signals samples/campaign.jsonl "$@"
