# Shared helpers for the set-up scripts (sourced, not executed).

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  die "Python 3.11 is required (set PYTHON=/path/to/python3.11)"
}

# ensure_venv REQUIREMENTS_FILE: create .venv once and install the pinned requirements into it.
ensure_venv() {
  local requirements=$1 stamp
  if [ ! -x .venv/bin/python ]; then
    log "Creating virtual environment in .venv"
    "$(find_python)" -m venv .venv
  fi
  stamp=".venv/.installed-$(basename "$requirements" .txt)-$(cat requirements/*.txt | cksum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ]; then
    log "Installing $requirements"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r "$requirements"
    touch "$stamp"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do port_open "$port" && return 0; sleep 0.5; done
  die "$name did not start listening on 127.0.0.1:$port"
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to run: $*"; fi; }

apt_install() {
  command -v apt-get >/dev/null || die "cannot install $*: no apt-get; install it yourself and re-run"
  log "Installing $* from the OS packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  port_open 5432 && return 0
  if ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "Starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for_port 5432 PostgreSQL
  # A fresh Debian cluster uses password auth on TCP: give the postgres role the password the tests use.
  as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 || true
}

ensure_redis() {
  port_open 6379 && return 0
  command -v redis-server >/dev/null || apt_install redis-server
  log "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/pm-redis.log
  wait_for_port 6379 Redis
}

# The browser tests (pytest -m browser) drive the OS package's Chromium; without it they are skipped, so
# a failed install is reported and the suite still runs.  PM_SKIP_BROWSER_INSTALL=1 skips the attempt.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "${PM_SKIP_BROWSER_INSTALL:-}" = 1 ] || ! command -v apt-get >/dev/null; then
    log "No Chromium: the browser tests will be skipped (apt-get install chromium to run them)"
    return 0
  fi
  ( apt_install chromium ) || log "Chromium could not be installed: the browser tests will be skipped"
}
