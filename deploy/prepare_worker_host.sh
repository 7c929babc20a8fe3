#!/usr/bin/env bash
# Prepares a Docker host to run the compose file's worker service (run as root, once per boot; idempotent):
#   - the run folder $RUNS (TINYTORCH_SANDBOX_WORKDIR) exists and is a mount point with SHARED propagation: the
#     worker mounts each run's tmpfs and read-only binds inside it, and the host's dockerd must see them to
#     bind-mount them into the sandbox. On a host whose / is private (this one) that takes a bind of the folder
#     onto itself, made shared.
#   - the cgroup v1 hierarchies the docker sandbox reads are there (mounted into the worker at /host/sys/fs/cgroup).
# Usage: bash deploy/prepare_worker_host.sh
set -euo pipefail

RUNS="${TINYTORCH_SANDBOX_WORKDIR:-/var/lib/tinytorch-grader-runs}"
die() { echo "prepare_worker_host.sh: ERROR: $*" >&2; exit 1; }
log() { echo "prepare_worker_host.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (mounts $RUNS)"
mkdir -p "$RUNS"
if ! mountpoint -q "$RUNS"; then
  mount --bind "$RUNS" "$RUNS" || die "cannot bind-mount $RUNS onto itself"
fi
mount --make-shared "$RUNS" || die "cannot make $RUNS a shared mount"
grep -q "shared:" <(awk -v t="$RUNS" '$5 == t' /proc/self/mountinfo) || die "$RUNS is still not a shared mount"
for controller in memory pids cpu cpuacct freezer; do
  [ -e "/sys/fs/cgroup/$controller/cgroup.procs" ] \
    || die "cgroup v1 hierarchy /sys/fs/cgroup/$controller missing (the docker sandbox needs cgroup v1)"
done
log "$RUNS is a shared mount; cgroup v1 hierarchies present"
