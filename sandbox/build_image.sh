#!/usr/bin/env bash
# Builds everything the sandboxes run on, offline from any container registry (none is reachable here):
#   1. a Debian rootfs with mmdebstrap (Debian mirror + numpy/pytest pinned from PyPI) -> tarball
#   2. `docker import` of that tarball as $BASE_IMAGE
#   3. `docker build` of sandbox/Dockerfile on top of it as $IMAGE (labels carry the pinned versions)
#   4. the final image's filesystem exported for BubblewrapSandbox, so both sandboxes run the very same files:
#      $ROOTFS_DIR-<image id> (+ .json: which image, which versions), and $ROOTFS_DIR a symlink to the current one.
# Idempotent: each step is skipped when its result exists and matches its input; --force redoes all of them.
# Usage: bash sandbox/build_image.sh [--force]
set -euo pipefail

FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build_image.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE_DIR="${TINYTORCH_SANDBOX_STATE:-/var/lib/tinytorch-grader}"
ROOTFS_DIR="${TINYTORCH_SANDBOX_ROOTFS:-$STATE_DIR/rootfs}"
BASE_IMAGE="${TINYTORCH_SANDBOX_BASE_IMAGE:-tinytorch-sandbox-base}"
IMAGE="${TINYTORCH_SANDBOX_IMAGE:-tinytorch-sandbox}"
SUITE="${TINYTORCH_SANDBOX_SUITE:-bookworm}"
MIRROR="${TINYTORCH_SANDBOX_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${TINYTORCH_SANDBOX_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# Pinned to what the host has, so a submission behaves the same in `pytest` locally and in the sandbox.
NUMPY_VERSION="${TINYTORCH_SANDBOX_NUMPY:-2.4.6}"
PYTEST_VERSION="${TINYTORCH_SANDBOX_PYTEST:-9.0.3}"
TARBALL="$STATE_DIR/base-rootfs.part.tar"   # mmdebstrap picks the format from the name; deleted once imported
MANIFEST=/etc/tinytorch-sandbox.json   # inside the rootfs: what is really installed, read back by describe()

die() { echo "build_image.sh: $*" >&2; exit 1; }
log() { echo "build_image.sh: $*" >&2; }

command -v docker >/dev/null || die "docker CLI not found (run sandbox/setup.sh)"
docker info >/dev/null 2>&1 || die "docker daemon not reachable (run sandbox/setup.sh, or start dockerd)"
mkdir -p "$STATE_DIR"

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# 1 + 2: base rootfs and base image. The tarball is written to a temporary name and imported only on success:
# a failed `mmdebstrap - | docker import -` still creates a 0-byte image (docs/sandbox.md, pitfalls).
if [ "$FORCE" = 1 ] || [ -z "$(image_id "$BASE_IMAGE")" ]; then
  command -v mmdebstrap >/dev/null || die "mmdebstrap not found (apt-get install -y mmdebstrap, or run sandbox/setup.sh)"
  [ -f /etc/ssl/certs/ca-certificates.crt ] || die "/etc/ssl/certs/ca-certificates.crt missing (pip in the chroot needs it)"
  log "building the base rootfs with mmdebstrap ($SUITE, numpy==$NUMPY_VERSION pytest==$PYTEST_VERSION)"
  rm -rf "$TARBALL"
  # libstdc++6: the PyPI numpy wheel needs it and `essential` lacks it. The CA copy: outbound TLS is intercepted
  # here, so pip in the chroot must trust the host's CA bundle. pip itself is purged again: nothing in the image
  # can install anything.
  mmdebstrap --variant=essential --format=tar --include=python3,python3-pip,libstdc++6 \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='cp /etc/resolv.conf "$1/etc/resolv.conf"; cp /etc/ssl/certs/ca-certificates.crt "$1/tmp/ca.crt"' \
    --customize-hook="chroot \"\$1\" env -i PATH=/usr/sbin:/usr/bin HOME=/root python3 -m pip install -q --no-cache-dir --no-warn-script-location --cert /tmp/ca.crt --break-system-packages numpy==$NUMPY_VERSION pytest==$PYTEST_VERSION" \
    --customize-hook='chroot "$1" dpkg --purge python3-pip python3-setuptools python3-wheel' \
    --customize-hook='rm -f "$1/etc/resolv.conf" "$1/tmp/ca.crt"; rm -rf "$1/root/.cache"' \
    --customize-hook="chroot \"\$1\" env -i PATH=/usr/sbin:/usr/bin python3 -c 'import json, platform, numpy, pytest; print(json.dumps({\"python\": platform.python_version(), \"numpy\": numpy.__version__, \"pytest\": pytest.__version__, \"suite\": \"$SUITE\"}))' > \"\$1$MANIFEST\"" \
    "$SUITE" "$TARBALL" \
    "deb $MIRROR $SUITE main" \
    "deb $MIRROR $SUITE-updates main" \
    "deb $SECURITY_MIRROR $SUITE-security main" \
    || die "mmdebstrap failed (Debian mirror or PyPI unreachable?); see the output above"
  docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' "$TARBALL" "$BASE_IMAGE" >/dev/null \
    || die "docker import of $TARBALL failed"
  rm -f "$TARBALL"
  log "imported $BASE_IMAGE $(image_id "$BASE_IMAGE")"
else
  log "$BASE_IMAGE exists, skipping (use --force to rebuild)"
fi
BASE_ID="$(image_id "$BASE_IMAGE")"
[ -n "$BASE_ID" ] || die "$BASE_IMAGE is missing after the base step"

# 3: the sandbox image. Rebuilt when missing, forced, or built from a different base image or Dockerfile.
manifest() {  # the versions recorded inside the base image, read without running anything from it
  local cid out
  cid="$(docker create "$BASE_IMAGE" true)"
  out="$(docker cp "$cid:$MANIFEST" - | tar -xO)" || out=""
  docker rm -f "$cid" >/dev/null
  echo "$out"
}
DOCKERFILE_SHA="$(sha256sum "$HERE/Dockerfile" | cut -c1-64)"
current_label() { docker image inspect -f "{{index .Config.Labels \"$1\"}}" "$IMAGE" 2>/dev/null || true; }
if [ "$FORCE" = 1 ] || [ -z "$(image_id "$IMAGE")" ] || [ "$(current_label org.tinytorch.sandbox.base-id)" != "$BASE_ID" ] \
   || [ "$(current_label org.tinytorch.sandbox.dockerfile-sha256)" != "$DOCKERFILE_SHA" ]; then
  MANIFEST_JSON="$(manifest)"
  [ -n "$MANIFEST_JSON" ] || die "$BASE_IMAGE has no $MANIFEST; rebuild it with --force"
  field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$MANIFEST_JSON" "$1"; }
  log "building $IMAGE on $BASE_IMAGE (python $(field python), numpy $(field numpy), pytest $(field pytest))"
  # --network none: the build must never reach out; the legacy builder is used (no buildx here) and prints a notice.
  DOCKER_BUILDKIT=0 docker build -q --network none --build-arg BASE="$BASE_IMAGE" \
    --label org.tinytorch.sandbox.python="$(field python)" \
    --label org.tinytorch.sandbox.numpy="$(field numpy)" \
    --label org.tinytorch.sandbox.pytest="$(field pytest)" \
    --label org.tinytorch.sandbox.suite="$(field suite)" \
    --label org.tinytorch.sandbox.base-id="$BASE_ID" \
    --label org.tinytorch.sandbox.dockerfile-sha256="$DOCKERFILE_SHA" \
    -t "$IMAGE" "$HERE" >/dev/null || die "docker build of $IMAGE failed"
  log "built $IMAGE $(image_id "$IMAGE")"
  # earlier builds, now untagged; docker keeps any that a container still uses
  docker image prune -f --filter "label=org.tinytorch.sandbox.dockerfile-sha256" >/dev/null || true
else
  log "$IMAGE is up to date, skipping"
fi
IMAGE_ID="$(image_id "$IMAGE")"

# 4: the same filesystem for bubblewrap, exported from the final image (not re-derived). Versioned folders behind
# a symlink swapped atomically: a bwrap sandbox running during a rebuild keeps its files (its binds point into the
# old folder, which is kept until the rebuild after next).
VERSIONED="$ROOTFS_DIR-$(echo "$IMAGE_ID" | sed 's/^sha256://' | cut -c1-12)"
if [ "$FORCE" = 1 ] || [ ! -d "$VERSIONED" ] || [ ! -f "$VERSIONED.json" ] || [ "$(readlink "$ROOTFS_DIR" 2>/dev/null)" != "$(basename "$VERSIONED")" ]; then
  log "exporting $IMAGE to $VERSIONED"
  rm -rf "$VERSIONED.new"
  mkdir -p "$VERSIONED.new"
  cid="$(docker create "$IMAGE" true)"
  docker export "$cid" | tar -C "$VERSIONED.new" --numeric-owner -xpf - || { docker rm -f "$cid" >/dev/null; die "docker export failed"; }
  docker rm -f "$cid" >/dev/null
  # Bubblewrap needs these mount points to exist (docker creates its own).
  mkdir -p "$VERSIONED.new/sub" "$VERSIONED.new/out" "$VERSIONED.new/tmp" "$VERSIONED.new/proc" "$VERSIONED.new/dev"
  docker image inspect -f '{{json .}}' "$IMAGE" | python3 -c '
import json, sys
info = json.load(sys.stdin)
labels = info["Config"].get("Labels") or {}
print(json.dumps({
    "image": sys.argv[1],
    "image_id": info["Id"],
    "env": info["Config"].get("Env") or [],
    "python": labels.get("org.tinytorch.sandbox.python"),
    "numpy": labels.get("org.tinytorch.sandbox.numpy"),
    "pytest": labels.get("org.tinytorch.sandbox.pytest"),
    "suite": labels.get("org.tinytorch.sandbox.suite"),
}, indent=2))' "$IMAGE" > "$VERSIONED.json"
  rm -rf "$VERSIONED"
  mv "$VERSIONED.new" "$VERSIONED"
  previous="$(readlink "$ROOTFS_DIR" 2>/dev/null || true)"
  if [ -d "$ROOTFS_DIR" ] && [ ! -L "$ROOTFS_DIR" ]; then  # the layout before versioning: keep it as "previous"
    previous="$(basename "$ROOTFS_DIR")-unversioned"
    rm -rf "$ROOTFS_DIR-unversioned"
    mv "$ROOTFS_DIR" "$ROOTFS_DIR-unversioned"
  fi
  ln -sfn "$(basename "$VERSIONED")" "$ROOTFS_DIR.link"
  mv -T "$ROOTFS_DIR.link" "$ROOTFS_DIR"
  rm -f "$ROOTFS_DIR.json"  # the unversioned layout's metadata
  for old in "$ROOTFS_DIR"-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f] \
             "$ROOTFS_DIR"-unversioned; do  # keep the current and the previous one only
    [ -e "$old" ] || continue
    case "$(basename "$old")" in "$(basename "$VERSIONED")"|"$previous") continue ;; esac
    rm -rf "$old" "$old.json"
  done
  log "rootfs ready at $ROOTFS_DIR -> $(basename "$VERSIONED")"
else
  log "$ROOTFS_DIR matches $IMAGE, skipping"
fi
log "done: $IMAGE $IMAGE_ID"
