#!/usr/bin/env bash
# Stops the throwaway PostgreSQL server of scripts/start-postgres.sh.
#
#   scripts/stop-postgres.sh [port] [--purge]     # --purge also removes its data folder
set -euo pipefail

PORT=${LOOKALIKE_PG_PORT:-55432}
PURGE=0
for arg in "$@"; do
  case $arg in
  --purge) PURGE=1 ;;
  *) PORT=$arg ;;
  esac
done
PG_BIN=/usr/lib/postgresql/15/bin
DATA=$(realpath -m "${LOOKALIKE_PG_DATA:-${TMPDIR:-/tmp}/lookalike-postgres-$PORT}")
cd / # the server's user may not be able to read the current folder

say() { echo "stop-postgres: $*" >&2; }

as_server() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then as_server() { runuser -u postgres -- "$@"; }; fi

if [ -f "$DATA/PG_VERSION" ] && as_server "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  as_server "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  say "stopped the server in $DATA"
else
  say "no server running in $DATA"
fi
if [ "$PURGE" -eq 1 ]; then
  rm -rf "$DATA" "$DATA.initdb.log"
  say "removed $DATA"
fi
