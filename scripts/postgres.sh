#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on loopback for the tests and prints its admin URL.
# Installs Debian's postgresql when it is missing. Usage:
#   eval "$(bash scripts/postgres.sh start)"   # exports GONGTI_TEST_DATABASE_URL, GONGTI_TEST_PG_DIR
#   bash scripts/postgres.sh stop "$GONGTI_TEST_PG_DIR"
set -euo pipefail

find_bin() {
  local found
  found=$(ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] && echo "$found"
}

ensure_installed() {
  if [ -z "$(find_bin initdb)" ]; then
    echo "installing PostgreSQL (apt-get)…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
}

start() {
  ensure_installed
  local initdb pg_ctl dir port
  initdb=$(find_bin initdb)
  pg_ctl=$(find_bin pg_ctl)
  dir=$(mktemp -d /tmp/gongti-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  run "$initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  run "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
    start >&2 || { cat "$dir/server.log" >&2; exit 1; }
  echo "export GONGTI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
  echo "export GONGTI_TEST_PG_DIR=$dir"
}

stop() {
  local dir=$1
  local pg_ctl
  pg_ctl=$(find_bin pg_ctl)
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  else
    "$pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:?directory}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
