#!/usr/bin/env bash
# Builds a local stand-in for python:3.11-slim, offline from any container registry (none is reachable here):
# a Debian bookworm rootfs (Python 3.11 + pip + venv) made with mmdebstrap and `docker import`ed as $IMAGE.
# Then: docker build --network host --build-arg BASE=tinytorch-grader-base -t tinytorch-grader .
# The host's CA bundle is copied in (outbound TLS is intercepted here) and PIP_CERT points at it, so pip in the
# image build trusts the same CAs as the host. Skipped when the image exists; --force rebuilds it.
# Usage: bash deploy/build_base.sh [--force]
set -euo pipefail

IMAGE="${TINYTORCH_GRADER_BASE_IMAGE:-tinytorch-grader-base}"
SUITE="${TINYTORCH_GRADER_SUITE:-bookworm}"
MIRROR="${TINYTORCH_GRADER_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${TINYTORCH_GRADER_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

die() { echo "build_base.sh: $*" >&2; exit 1; }
log() { echo "build_base.sh: $*" >&2; }

if [ "${1:-}" != "--force" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE exists, skipping (use --force to rebuild)"
  exit 0
fi
command -v mmdebstrap >/dev/null || die "mmdebstrap not found (apt-get install -y mmdebstrap)"
[ -f /etc/ssl/certs/ca-certificates.crt ] || die "/etc/ssl/certs/ca-certificates.crt missing"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
TARBALL="$TMP/rootfs.tar"   # imported only once mmdebstrap succeeded (a failed pipe still creates an image)
log "building the $SUITE rootfs with mmdebstrap"
mmdebstrap --variant=minbase --format=tar \
  --include=python3,python3-venv,python3-pip,ca-certificates,libstdc++6 \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/host-ca-certificates.crt"' \
  --customize-hook='chroot "$1" python3 -c "import sys, venv, ensurepip; assert sys.version_info[:2] == (3, 11)"' \
  "$SUITE" "$TARBALL" \
  "deb $MIRROR $SUITE main" \
  "deb $MIRROR $SUITE-updates main" \
  "deb $SECURITY_MIRROR $SUITE-security main" \
  || die "mmdebstrap failed (Debian mirror unreachable?); see the output above"
docker import -c 'ENV LANG=C.UTF-8' \
  -c 'ENV PIP_CERT=/etc/ssl/certs/host-ca-certificates.crt' \
  -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/host-ca-certificates.crt' \
  -c 'CMD ["python3"]' "$TARBALL" "$IMAGE" >/dev/null || die "docker import failed"
log "imported $IMAGE $(docker image inspect -f '{{.Id}}' "$IMAGE")"
