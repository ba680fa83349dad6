#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server with pgvector for tests and benchmarks, and prints its
# connection URL on stdout (everything else goes to stderr):
#
#   export LOOKALIKE_TEST_POSTGRES=$(scripts/start-postgres.sh [port])     # port: default 55432
#
# The cluster lives in $LOOKALIKE_PG_DATA (default: $TMPDIR/lookalike-postgres-<port>), listens
# on 127.0.0.1 only, trusts local connections (superuser "postgres", no password) and runs with
# fsync off: for tests only, never for data that matters. It holds the database "lookalike" with
# the extension "vector". Run as root, the server runs as the system user "postgres", which owns
# the data folder; run as another user, as that user. Idempotent: when the server is already up,
# it only makes sure that the database and extension exist and prints the URL.
# Needs PostgreSQL 15 and pgvector: scripts/install-pgvector.sh. Stop it: scripts/stop-postgres.sh.
set -euo pipefail

PORT=${1:-${LOOKALIKE_PG_PORT:-55432}}
PG_BIN=/usr/lib/postgresql/15/bin
DATA=$(realpath -m "${LOOKALIKE_PG_DATA:-${TMPDIR:-/tmp}/lookalike-postgres-$PORT}")
DB=lookalike
URL=postgres://postgres@127.0.0.1:$PORT/$DB

say() { echo "start-postgres: $*" >&2; }

[ -x "$PG_BIN/postgres" ] || {
  say "no PostgreSQL 15 in $PG_BIN (run scripts/install-pgvector.sh)"
  exit 1
}

# Who runs the server: "postgres" when we are root, else ourselves.
cd / # the server's user may not be able to read the current folder
as_server() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || {
    say 'running as root, but there is no system user "postgres" to run the server'
    exit 1
  }
  as_server() { runuser -u postgres -- "$@"; }
fi

psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }

if ! as_server "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  if [ ! -f "$DATA/PG_VERSION" ]; then
    say "creating a cluster in $DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DATA"
    chmod 700 "$DATA"
    as_server "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      --no-sync >"$DATA.initdb.log" 2>&1 || {
      cat "$DATA.initdb.log" >&2
      exit 1
    }
  fi
  say "starting PostgreSQL on 127.0.0.1:$PORT (log: $DATA/server.log)"
  as_server "$PG_BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 -o \
    "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || {
    tail -n 20 "$DATA/server.log" >&2
    exit 1
  }
fi

for _ in $(seq 1 50); do
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.2
done
if [ "$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  psql_ -d postgres -c "CREATE DATABASE $DB"
fi
psql_ -d "$DB" -c 'CREATE EXTENSION IF NOT EXISTS vector' 2>&1 | grep -v 'already exists, skipping' >&2 || true
say "pgvector $(psql_ -d "$DB" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'vector'") ready"
echo "$URL"
