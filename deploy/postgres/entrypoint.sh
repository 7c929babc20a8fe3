#!/bin/sh
# First start (empty $PGDATA): initdb with POSTGRES_USER as the superuser and POSTGRES_PASSWORD as its password,
# password (scram) logins from the network, then POSTGRES_DB created. Every start: the server in the foreground,
# listening on all addresses (the container's network is the boundary; compose publishes no port for it).
set -eu

die() { echo "grader-postgres: $*" >&2; exit 1; }

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is not set (needed to create the cluster)"
  [ -w "$PGDATA" ] || die "$PGDATA is not writable by $(id -un)"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >&2
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  # The database is made by a server that listens on its socket only, so nobody connects before it exists.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >&2
  if [ "$POSTGRES_DB" != postgres ]; then
    createdb -h /var/run/postgresql -U "$POSTGRES_USER" "$POSTGRES_DB" || { pg_ctl -D "$PGDATA" -w stop; die "createdb failed"; }
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  echo "grader-postgres: cluster initialised (user $POSTGRES_USER, database $POSTGRES_DB)" >&2
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
