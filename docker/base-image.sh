#!/usr/bin/env bash
# Build local base images from Debian bookworm packages, for hosts that cannot pull from a container
# registry (the official python / postgres / redis / nginx images are then out of reach):
#
#   pm-local/debian:bookworm        debootstrap --variant=minbase, imported with `docker import`
#   pm-local/python:3.11-bookworm   Python 3.11 from Debian (stands in for python:3.11-slim-bookworm)
#   pm-local/postgres:15-bookworm   PostgreSQL 15, same interface as the official postgres:15 image
#   pm-local/redis:7-bookworm       Redis 7 (Debian's 7.0), runs redis-server as user redis in /data
#   pm-local/nginx:bookworm         nginx + openssl + envsubst, as docker/nginx/Dockerfile expects
#
# Usage: docker/base-image.sh [--force] [debian|python|postgres|redis|nginx ...]   (default: all)
# Needs root (debootstrap), the debootstrap package, and a Debian mirror (DEBIAN_MIRROR).
set -euo pipefail
# shellcheck source=docker/lib.sh
source "$(dirname "$0")/lib.sh"

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
FORCE=0

build_debian() {
  if image_exists "$LOCAL_DEBIAN_IMAGE" && [ "$FORCE" = 0 ]; then
    log "$LOCAL_DEBIAN_IMAGE exists (use --force to rebuild)"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  command -v debootstrap >/dev/null || die "install debootstrap (apt-get install -y debootstrap)"
  local rootfs
  rootfs=$(mktemp -d /tmp/pm-rootfs.XXXXXX)
  # shellcheck disable=SC2064  # expand now: the trap must remove this very directory
  trap "rm -rf '$rootfs'" RETURN
  log "debootstrap bookworm (minbase) from $DEBIAN_MIRROR"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$DEBIAN_MIRROR" >/tmp/pm-debootstrap.log 2>&1 \
    || { tail -20 /tmp/pm-debootstrap.log >&2; die "debootstrap failed (log: /tmp/pm-debootstrap.log)"; }
  # Security and point-release updates, as the official debian image has them.
  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb $DEBIAN_SECURITY_MIRROR bookworm-security main
SOURCES
  # Small images, as in the official debian images: no docs, no recommends, no apt caches.
  cat >"$rootfs/etc/apt/apt.conf.d/90pm-docker" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90pm-docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
DPKG
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
         "$rootfs"/var/log/* "$rootfs"/tmp/*
  : >"$rootfs/etc/hostname"
  log "Importing $LOCAL_DEBIAN_IMAGE"
  tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    - "$LOCAL_DEBIAN_IMAGE" >/dev/null
}

build_local() {
  local name=$1 tag=$2
  if image_exists "$tag" && [ "$FORCE" = 0 ]; then
    log "$tag exists (use --force to rebuild)"
    return 0
  fi
  image_exists "$LOCAL_DEBIAN_IMAGE" || build_debian
  build "$tag" "$DOCKER_DIR/local/$name.Dockerfile" "$DOCKER_DIR/local" \
    --build-arg "DEBIAN_IMAGE=$LOCAL_DEBIAN_IMAGE"
}

main() {
  local targets=()
  for arg in "$@"; do
    case $arg in
      --force) FORCE=1 ;;
      debian|python|postgres|redis|nginx) targets+=("$arg") ;;
      *) die "unknown argument: $arg" ;;
    esac
  done
  [ ${#targets[@]} -gt 0 ] || targets=(debian python postgres redis nginx)
  for target in "${targets[@]}"; do
    case $target in
      debian) build_debian ;;
      python) build_local python "$LOCAL_PYTHON_IMAGE" ;;
      postgres) build_local postgres "$LOCAL_POSTGRES_IMAGE" ;;
      redis) build_local redis "$LOCAL_REDIS_IMAGE" ;;
      nginx) build_local nginx "$LOCAL_NGINX_IMAGE" ;;
    esac
  done
}

main "$@"
