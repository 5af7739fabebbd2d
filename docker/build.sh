#!/usr/bin/env bash
# Build the images the compose file runs: the application (pm-app) and the proxy (pm-nginx).
# Official base images are used when they can be pulled; otherwise the Debian-packaged stand-ins
# from docker/base-image.sh are built (once) and used, so this works on a host without a registry.
#
# Usage: docker/build.sh            (tags: $PM_IMAGE, default pm-app:latest; $PM_NGINX_IMAGE, default pm-nginx:latest)
# Prints the chosen base images as KEY=VALUE lines on stdout (smoke.sh reads them).
set -euo pipefail
# shellcheck source=docker/lib.sh
source "$(dirname "$0")/lib.sh"

PM_IMAGE=${PM_IMAGE:-pm-app:latest}
PM_NGINX_IMAGE=${PM_NGINX_IMAGE:-pm-nginx:latest}

# pick OFFICIAL LOCAL TARGET: echo the official image if it can be pulled, else the local one
# (building it with base-image.sh when missing).  PM_BASE_IMAGES=local skips the pull attempts.
pick() {
  local official=$1 local_image=$2 target=$3
  if [ "${PM_BASE_IMAGES:-auto}" != local ] && try_pull "$official"; then
    echo "$official"
    return 0
  fi
  if ! image_exists "$local_image"; then
    log "$official cannot be pulled: building $local_image from Debian packages"
    "$DOCKER_DIR/base-image.sh" "$target" >&2
  fi
  echo "$local_image"
}

main() {
  local python_base nginx_base postgres_image redis_image
  python_base=$(pick "$OFFICIAL_PYTHON_IMAGE" "$LOCAL_PYTHON_IMAGE" python)
  nginx_base=$(pick "$OFFICIAL_NGINX_IMAGE" "$LOCAL_NGINX_IMAGE" nginx)
  postgres_image=$(pick "$OFFICIAL_POSTGRES_IMAGE" "$LOCAL_POSTGRES_IMAGE" postgres)
  redis_image=$(pick "$OFFICIAL_REDIS_IMAGE" "$LOCAL_REDIS_IMAGE" redis)
  log "Bases: python=$python_base nginx=$nginx_base postgres=$postgres_image redis=$redis_image"

  build "$PM_IMAGE" "$DOCKER_DIR/Dockerfile" "$REPO_DIR" --build-arg "BASE_IMAGE=$python_base" \
    --label "org.opencontainers.image.revision=$(git -C "$REPO_DIR" rev-parse HEAD 2>/dev/null || echo unknown)" >&2
  build "$PM_NGINX_IMAGE" "$DOCKER_DIR/nginx/Dockerfile" "$DOCKER_DIR/nginx" --build-arg "NGINX_IMAGE=$nginx_base" >&2

  # For compose: which PostgreSQL and Redis images to run.
  echo "PM_BASE_IMAGE=$python_base"
  echo "PM_NGINX_BASE_IMAGE=$nginx_base"
  echo "PM_POSTGRES_IMAGE=$postgres_image"
  echo "PM_REDIS_IMAGE=$redis_image"
  echo "PM_IMAGE=$PM_IMAGE"
  echo "PM_NGINX_IMAGE=$PM_NGINX_IMAGE"
}

main "$@"
