#!/usr/bin/env bash
# The full test run, and what CI runs (.ci/run): installs what the tests need where it is missing,
# then lints and runs every test, the PostgreSQL ones included.
#
#   scripts/test-all.sh                         (or: npm run test:all) lint, then every test
#   scripts/test-all.sh test/postgres.test.ts   the same set-up, then only these test files
#
# As root, or a user with sudo (only for what is missing):
#   - Debian's chromium for the browser tests, unless LOOKALIKE_CHROMIUM names another browser;
#   - PostgreSQL 15 with pgvector (scripts/install-pgvector.sh), and a throwaway server
#     (scripts/start-postgres.sh), stopped at the end if this script started it; none of that
#     when LOOKALIKE_TEST_POSTGRES already holds a database URL;
#   - the npm dependencies (`npm ci`) when node_modules is missing or older than package-lock.json,
#     with ONNXRUNTIME_NODE_INSTALL=skip (no CUDA download; set it to cuda12 to get them).
# It sets LOOKALIKE_REQUIRE_POSTGRES=1: without a reachable PostgreSQL the tests fail, where
# `npm test` skips them.
set -euo pipefail
cd "$(dirname "$0")/.."

export ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL:-skip}
export DEBIAN_FRONTEND=noninteractive
# The same per-file limit as `npm test` (package.json).
TEST_TIMEOUT_MS=1800000

say() { echo "test-all: $*" >&2; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi

# Chromium for test/web.test.ts.
if [ -n "${LOOKALIKE_CHROMIUM:-}" ]; then
  [ -x "$LOOKALIKE_CHROMIUM" ] || {
    say "LOOKALIKE_CHROMIUM=$LOOKALIKE_CHROMIUM is not an executable"
    exit 1
  }
elif [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# PostgreSQL 15 + pgvector for test/postgres.test.ts.
if [ -z "${LOOKALIKE_TEST_POSTGRES:-}" ]; then
  scripts/install-pgvector.sh
  port=${LOOKALIKE_PG_PORT:-55432}
  if /usr/lib/postgresql/15/bin/pg_isready -q -h 127.0.0.1 -p "$port"; then
    say "PostgreSQL already listens on 127.0.0.1:$port: using it, and leaving it running"
  else
    trap 'scripts/stop-postgres.sh "$port" || true' EXIT
  fi
  LOOKALIKE_TEST_POSTGRES=$(scripts/start-postgres.sh "$port")
  export LOOKALIKE_TEST_POSTGRES
fi
export LOOKALIKE_REQUIRE_POSTGRES=1

node --version
npm --version
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci (ONNXRUNTIME_NODE_INSTALL=$ONNXRUNTIME_NODE_INSTALL)"
  npm ci
fi

if [ $# -eq 0 ]; then
  npm run lint
  npm test
else
  npm run build
  node --import tsx --test --test-concurrency=1 --test-timeout="$TEST_TIMEOUT_MS" "$@"
fi
