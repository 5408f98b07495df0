#!/usr/bin/env bash
# pg-local.sh start|stop|url DIR — a private PostgreSQL 15 cluster under DIR for
# scsipub-api (issue 3) and its tests, reachable only on a unix socket in DIR (no TCP).
#   start  initdb DIR/data on first use, start the server (log DIR/postgres.log), create
#          the database "scsipub"; a running cluster is left alone
#   stop   fast shutdown (no-op when not running)
#   url    print the libpq URL: postgresql:///scsipub?host=DIR&user=OWNER
# PG_TEMPLATE_DIR=DIR (tests only): the first start without a cluster unpacks
# DIR/pg-<version>-<owner>.tar, a tar of a freshly initdb'ed data directory made by
# these binaries for this owner, instead of running initdb (47 s under the lab's TCG,
# 2 s to unpack); when that file is missing, initdb runs and its result is saved there
# for the next start.
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
  template=
  if [ ! -f "$data/PG_VERSION" ] && [ -n "${PG_TEMPLATE_DIR:-}" ]; then
    read -r _ _ version _ <<<"$("$PGBIN/postgres" --version)"
    template=$PG_TEMPLATE_DIR/pg-$version-$owner.tar
  fi
  if [ -n "$template" ] && [ -s "$template" ]; then
    rm -rf "$data"
    tar -C "$dir" -xf "$template" data || { echo "pg-local: cannot unpack $template" >&2; exit 1; }
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$data"; fi
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$PGBIN/initdb" -D "$data" -U "$owner" -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    if [ -n "$template" ]; then
      # written under a temporary name and renamed: a concurrent reader sees all or nothing
      mkdir -p "$PG_TEMPLATE_DIR"
      tar -C "$dir" -cf "$template.$$" data && mv -f "$template.$$" "$template" ||
        { rm -f "$template.$$"; echo "pg-local: cannot save $template (initdb runs next time)" >&2; }
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
