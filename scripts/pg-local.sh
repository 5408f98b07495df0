#!/usr/bin/env bash
# pg-local.sh start|stop|url DIR — a private PostgreSQL 15 cluster under DIR for
# scsipub-api (issue 3) and its tests, reachable only on a unix socket in DIR (no TCP).
#   start  initdb DIR/data on first use, start the server (log DIR/postgres.log), create
#          the database "scsipub"; a running cluster is left alone
#   stop   fast shutdown (no-op when not running)
#   url    print the libpq URL: postgresql:///scsipub?host=DIR&user=OWNER
# PG_TEMPLATE=FILE (tests only): the first start without a cluster unpacks FILE, a tar
# of a freshly initdb'ed data directory, instead of running initdb (47 s under the lab's
# TCG, 2 s to unpack); when FILE is missing, initdb runs and its result is saved there
# for the next start. FILE's name should carry the PostgreSQL version.
# As root the cluster runs as the `postgres` user (DIR is chown'ed to it), as anyone
# else as that user. Binaries from $PGBIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
usage() { echo "usage: $0 start|stop|url DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
data=$dir/data
owner=$(id -un)
[ "$(id -u)" = 0 ] && owner=postgres
as_owner() {
  # setpriv, not runuser/su: no PAM, so it also works in the lab guest (no /etc/pam.d).
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}
running() { as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; }

case $cmd in
start)
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  # 0711: other users (the API's unprivileged user) reach the socket, list nothing
  chmod 711 "$dir"
  if [ ! -f "$data/PG_VERSION" ] && [ -n "${PG_TEMPLATE:-}" ] && [ -s "$PG_TEMPLATE" ]; then
    rm -rf "$data"
    tar -C "$dir" -xf "$PG_TEMPLATE" data || { echo "pg-local: cannot unpack $PG_TEMPLATE" >&2; exit 1; }
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$data"; fi
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$PGBIN/initdb" -D "$data" -U "$owner" -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    if [ -n "${PG_TEMPLATE:-}" ] && [ ! -s "$PG_TEMPLATE" ]; then
      # written under a temporary name and renamed: a concurrent reader sees all or nothing
      mkdir -p "$(dirname "$PG_TEMPLATE")"
      tar -C "$dir" -cf "$PG_TEMPLATE.$$" data && mv -f "$PG_TEMPLATE.$$" "$PG_TEMPLATE" ||
        { rm -f "$PG_TEMPLATE.$$"; echo "pg-local: cannot save $PG_TEMPLATE (initdb runs next time)" >&2; }
    fi
  fi
  if ! running; then
    as_owner "$PGBIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
      -o "-c listen_addresses='' -k '$dir'" start >/dev/null ||
      { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
  fi
  if [ "$(as_owner "$PGBIN/psql" -h "$dir" -U "$owner" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'scsipub'")" != 1 ]; then
    as_owner "$PGBIN/createdb" -h "$dir" -U "$owner" scsipub
  fi
  ;;
stop)
  if [ -f "$data/PG_VERSION" ] && running; then
    as_owner "$PGBIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
  fi
  ;;
url)
  [ -f "$data/PG_VERSION" ] && owner=$(stat -c %U "$data")
  echo "postgresql:///scsipub?host=$dir&user=$owner"
  ;;
*) usage ;;
esac
