#!/usr/bin/env bash
# Installs PostgreSQL 15 with the pgvector extension on Debian bookworm, for the tests and CI.
#
# Bookworm has PostgreSQL 15 but no pgvector package. Debian trixie's *source* package pgvector
# builds against bookworm's postgresql-server-dev-15, so this script:
#   1. adds a deb-src (source only, never binaries) entry for trixie in its own sources file;
#   2. installs what is missing of postgresql-15, postgresql-server-dev-15, build-essential and
#      dpkg-dev, from bookworm only (no upgrade of anything else);
#   3. fetches trixie's pgvector source with `apt-get source` into a temporary folder, builds it
#      against PostgreSQL 15 and installs it into PostgreSQL 15's extension folders.
# Idempotent: does nothing when vector.control and vector.so are already installed for PG 15.
#
#   scripts/install-pgvector.sh          (as root, or a user with sudo)
set -euo pipefail

PG_MAJOR=15
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
SRC_SUITE=trixie
export DEBIAN_FRONTEND=noninteractive

say() { echo "install-pgvector: $*" >&2; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi

installed() {
  [ -x "$PG_CONFIG" ] &&
    [ -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ] &&
    [ -f "$("$PG_CONFIG" --pkglibdir)/vector.so" ]
}

if installed; then
  say "pgvector is already installed for PostgreSQL $PG_MAJOR ($("$PG_CONFIG" --sharedir)/extension/vector.control)"
  exit 0
fi

# 1. A trixie deb-src entry, written in the style of this machine's own sources.
debian_uri=http://deb.debian.org/debian
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
    /etc/apt/sources.list.d/debian.sources)
  [ -n "$uri" ] && debian_uri=$uri
  src_file=/etc/apt/sources.list.d/$SRC_SUITE-src.sources
  src_text="Types: deb-src
URIs: $debian_uri
Suites: $SRC_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
else
  src_file=/etc/apt/sources.list.d/$SRC_SUITE-src.list
  src_text="deb-src $debian_uri $SRC_SUITE main
"
fi
if [ ! -f "$src_file" ] || [ "$(cat "$src_file")" != "$(printf '%s' "$src_text")" ]; then
  say "adding $src_file (deb-src $debian_uri $SRC_SUITE main)"
  printf '%s' "$src_text" | "${SUDO[@]}" tee "$src_file" >/dev/null
fi
say "apt-get update"
"${SUDO[@]}" apt-get update -qq

# 2. Build tools and PostgreSQL 15, from bookworm, only those missing.
missing=()
for pkg in postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR build-essential dpkg-dev; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 3. pgvector from trixie's source package.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # readable by apt's _apt user, which downloads into it
say "fetching the pgvector source package from $SRC_SUITE"
(cd "$work" && apt-get source -qq "pgvector/$SRC_SUITE" >/dev/null 2>"$work/source.log") || {
  cat "$work/source.log" >&2
  exit 1
}
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)
[ -n "$src" ] || {
  say "apt-get source gave no pgvector-* folder"
  exit 1
}
say "building $(basename "$src") against PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}')"
make -C "$src" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null
"${SUDO[@]}" make -C "$src" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
installed || {
  say "pgvector did not install where PostgreSQL $PG_MAJOR looks for it"
  exit 1
}
say "installed pgvector into $("$PG_CONFIG" --sharedir)/extension"
