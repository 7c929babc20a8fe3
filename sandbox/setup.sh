#!/usr/bin/env bash
# Idempotent machine setup for the sandboxes (used by CI and by tests/sandbox/conftest.py):
#   1. installs what is missing: docker.io, bubblewrap, mmdebstrap (+ util-linux for setpriv/prlimit)
#   2. starts dockerd in the background if `docker info` fails (--iptables=false --bridge=none, as measured in
#      docs/sandbox.md; log in $TINYTORCH_SANDBOX_STATE/dockerd.log), waiting up to 60 s for it
#   3. builds the images and the bubblewrap rootfs (sandbox/build_image.sh, itself idempotent)
# Any step that cannot be done stops the script with a message saying which and why. Must run as root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE_DIR="${TINYTORCH_SANDBOX_STATE:-/var/lib/tinytorch-grader}"
DOCKERD_LOG="$STATE_DIR/dockerd.log"

die() { echo "sandbox/setup.sh: ERROR: $*" >&2; exit 1; }
log() { echo "sandbox/setup.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts dockerd, mounts tmpfs, writes cgroups)"
mkdir -p "$STATE_DIR"

# 1. packages. `docker` may already exist as a standalone client (e.g. /usr/local/bin/docker) without a daemon:
#    what we need is dockerd.
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
{ command -v setpriv >/dev/null && command -v prlimit >/dev/null; } || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 || die "apt-get update failed (is the Debian mirror reachable?)"
  apt-get install -y -q "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
fi
command -v docker >/dev/null || die "docker CLI still missing after installing docker.io"

# 2. the daemon. Started detached (setsid) so it outlives this script and the test session that called it.
if ! docker info >/dev/null 2>&1; then
  if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null; then
    log "dockerd is running but not answering yet; waiting"
  else
    log "starting dockerd (log: $DOCKERD_LOG)"
    setsid nohup dockerd --iptables=false --bridge=none >>"$DOCKERD_LOG" 2>&1 < /dev/null &
  fi
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || die "dockerd did not come up within 60 s; last lines of $DOCKERD_LOG:
$(tail -n 20 "$DOCKERD_LOG" 2>/dev/null)"
  log "dockerd is up"
fi

# Sanity checks of what the sandboxes rely on; clearer here than as a failed run later.
for c in memory pids cpu cpuacct freezer; do
  [ -e "/sys/fs/cgroup/$c/cgroup.procs" ] || die "cgroup v1 hierarchy /sys/fs/cgroup/$c missing (BubblewrapSandbox needs cgroup v1)"
done
setpriv --reuid=65534 --regid=65534 --clear-groups -- bwrap --unshare-all --ro-bind / / true 2>/dev/null \
  || die "bwrap cannot create an unprivileged user namespace as uid 65534 (check sysctl user.max_user_namespaces and kernel.unprivileged_userns_clone)"

# 3. images and rootfs.
bash "$HERE/build_image.sh" || die "sandbox/build_image.sh failed (see above)"
log "ready"
