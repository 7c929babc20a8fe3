#!/usr/bin/env bash
# Builds every image docker-compose.yml runs, locally, from Debian packages and this checkout (no container
# registry is needed; Debian's mirror and PyPI are):
#   tinytorch-grader-base      deploy/build_base.sh (mmdebstrap + docker import)
#   tinytorch-grader           ./Dockerfile on that base (api and worker): always built, so it holds this
#                              checkout's code (docker's layer cache makes an unchanged rebuild take seconds)
#   tinytorch-grader-postgres  deploy/postgres/ (postgresql-15), for GRADER_POSTGRES_IMAGE
#   tinytorch-grader-redis     deploy/redis/ (redis-server 7), for GRADER_REDIS_IMAGE
# and the sandbox image the worker starts gradings in (sandbox/setup.sh); and Debian's docker-compose where no
# compose (`docker compose` or `docker-compose`) is installed. Each image that exists is kept;
# --force rebuilds them all. `docker build --network host`: dockerd here runs with --bridge=none, so a build
# step on the default network has no network at all.
# Usage: bash deploy/build_images.sh [--force]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
FORCE="${1:-}"
BASE="${TINYTORCH_GRADER_BASE_IMAGE:-tinytorch-grader-base}"

log() { echo "build_images.sh: $*" >&2; }
die() { echo "build_images.sh: ERROR: $*" >&2; exit 1; }

# build IMAGE CONTEXT [always]: docker build unless IMAGE exists (or --force, or `always`).
build() {
  local image="$1" context="$2" started
  if [ "${3:-}" != always ] && [ "$FORCE" != --force ] && docker image inspect "$image" >/dev/null 2>&1; then
    log "$image exists, kept"
    return
  fi
  started=$SECONDS
  log "building $image"
  docker build --network host --build-arg "BASE=$BASE" -t "$image" "$context" >&2 \
    || die "docker build of $image failed; see the output above"
  log "built $image in $((SECONDS - started)) s"
}

if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  log "installing docker-compose (Debian's)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose >&2; } \
    || die "apt-get install docker-compose failed"
fi
docker info >/dev/null 2>&1 || die "docker daemon not reachable (bash sandbox/setup.sh starts one)"
bash "$HERE/build_base.sh" $FORCE
build tinytorch-grader "$REPO" always
build tinytorch-grader-postgres "$HERE/postgres"
build tinytorch-grader-redis "$HERE/redis"
# The sandbox image (tinytorch-sandbox) and the bubblewrap rootfs; idempotent, installs what is missing.
bash "$REPO/sandbox/setup.sh" >&2
log "done"
