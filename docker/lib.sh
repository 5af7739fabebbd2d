# shellcheck shell=bash
# Shared helpers for the docker/ scripts (sourced, not executed).  Bash, set -euo pipefail expected.

DOCKER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$DOCKER_DIR/.." && pwd)

# Names of the images the local (registry-less) path builds with docker/base-image.sh.
LOCAL_DEBIAN_IMAGE=${LOCAL_DEBIAN_IMAGE:-pm-local/debian:bookworm}
LOCAL_PYTHON_IMAGE=${LOCAL_PYTHON_IMAGE:-pm-local/python:3.11-bookworm}
LOCAL_POSTGRES_IMAGE=${LOCAL_POSTGRES_IMAGE:-pm-local/postgres:15-bookworm}
LOCAL_REDIS_IMAGE=${LOCAL_REDIS_IMAGE:-pm-local/redis:7-bookworm}
LOCAL_NGINX_IMAGE=${LOCAL_NGINX_IMAGE:-pm-local/nginx:bookworm}

# The official images used when a registry is reachable.
OFFICIAL_PYTHON_IMAGE=python:3.11-slim-bookworm
OFFICIAL_POSTGRES_IMAGE=postgres:15-bookworm
OFFICIAL_REDIS_IMAGE=redis:7-bookworm
OFFICIAL_NGINX_IMAGE=nginx:1.27-bookworm

# A CA bundle to trust at build time (pip behind a TLS-inspecting egress proxy).  It is passed as a
# BuildKit secret, so it never becomes part of an image layer.
BUILD_CA_BUNDLE=${BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# try_pull IMAGE: true when the image is here or can be pulled within a short deadline.  A registry
# that cannot be resolved fails in milliseconds; one that hangs must not stall the build for minutes.
try_pull() {
  image_exists "$1" && return 0
  timeout 120 docker pull -q "$1" >/dev/null 2>&1
}

# The build command.  The Dockerfile mounts the CA bundle as a BuildKit secret, so we need a client
# that speaks BuildKit: buildx when installed, else a classic client (< 23) with DOCKER_BUILDKIT=1.
# A Docker CLI >= 23 without the buildx plugin cannot; the docker.io package's own client
# (/usr/bin/docker, 20.10) can, so it is tried when the first `docker` on PATH is such a CLI.
BUILD_CMD=()
choose_builder() {
  [ ${#BUILD_CMD[@]} -gt 0 ] && return 0
  if docker buildx version >/dev/null 2>&1; then
    BUILD_CMD=(docker buildx build --load)
    return 0
  fi
  local client
  for client in docker /usr/bin/docker /usr/local/bin/docker; do
    command -v "$client" >/dev/null 2>&1 || continue
    if DOCKER_BUILDKIT=1 "$client" build --help >/dev/null 2>&1; then
      BUILD_CMD=(env DOCKER_BUILDKIT=1 "$client" build)
      return 0
    fi
  done
  die "no BuildKit-capable docker client: install the buildx plugin (or the distribution's docker.io client)"
}

# build IMAGE_TAG DOCKERFILE CONTEXT [extra docker build args...]
# Host networking: on hosts where only the host can reach the package mirrors, build steps must use
# its network.  The CA bundle is offered as secret "ca" (ignored by Dockerfiles that do not use it).
build() {
  local tag=$1 dockerfile=$2 context=$3
  shift 3
  choose_builder
  local secret=()
  [ -s "$BUILD_CA_BUNDLE" ] && secret=(--secret "id=ca,src=$BUILD_CA_BUNDLE")
  log "Building $tag"
  "${BUILD_CMD[@]}" --network host "${secret[@]}" -f "$dockerfile" -t "$tag" "$@" "$context"
}

# compose: `docker compose` (v2) when present, else `docker-compose` (v1.29); COMPOSE overrides.
COMPOSE_CMD=()
choose_compose() {
  [ ${#COMPOSE_CMD[@]} -gt 0 ] && return 0
  if [ -n "${COMPOSE:-}" ]; then
    read -r -a COMPOSE_CMD <<<"$COMPOSE"
  elif docker compose version >/dev/null 2>&1; then
    COMPOSE_CMD=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE_CMD=(docker-compose)
  else
    die "neither 'docker compose' nor 'docker-compose' is installed"
  fi
}

# now_ms: wall-clock milliseconds, for drill timings.
now_ms() { date +%s%3N; }

# wait_until DEADLINE_SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s until it succeeds;
# fail with DESCRIPTION when the deadline passes.  Every wait in these scripts has a deadline.
wait_until() {
  local deadline=$1 what=$2
  shift 2
  local end=$(( $(now_ms) + deadline * 1000 ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(now_ms)" -ge "$end" ]; then
      warn "timed out after ${deadline}s waiting for: $what"
      return 1
    fi
    sleep 0.2
  done
}

# free_port: a TCP port nothing on 127.0.0.1 listens on (bash's /dev/tcp, no extra tools).
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local port
  for port in "$@"; do
    if ! port_in_use "$port"; then echo "$port"; return 0; fi
  done
  return 1
}
