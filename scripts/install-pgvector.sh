#!/usr/bin/env bash
# Installs PostgreSQL 15 with the pgvector extension on Debian bookworm, for the tests and CI.
#
# Bookworm has PostgreSQL 15 but no pgvector package. Debian trixie's *source* package pgvector
# builds against bookworm's postgresql-server-dev-15, so this script:
#   1. adds a deb-src (source only, never binaries) entry for trixie in its own sources file, on
#      the Debian mirror this machine's apt already uses (read from /etc/apt/sources.list,
#      sources.list.d/*.list and sources.list.d/*.sources; deb.debian.org only when none is found);
#   2. installs what is missing of postgresql-15, postgresql-server-dev-15, build-essential and
#      dpkg-dev, from bookworm only (no upgrade of anything else);
#   3. fetches trixie's pgvector source with `apt-get source` into a temporary folder, builds it
#      against PostgreSQL 15 and installs it into PostgreSQL 15's extension folders.
# Idempotent: does nothing when vector.control and vector.so are already installed for PG 15.
#
#   scripts/install-pgvector.sh                 (as root, or a user with sudo)
#   scripts/install-pgvector.sh --print-source  prints the sources file it would write, and exits
#
# LOOKALIKE_APT_ETC (default /etc/apt) and LOOKALIKE_OS_RELEASE (default /etc/os-release) point
# elsewhere for tests of the parsing (test/setup.test.ts).
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

if installed && [ "${1:-}" != --print-source ]; then
  say "pgvector is already installed for PostgreSQL $PG_MAJOR ($("$PG_CONFIG" --sharedir)/extension/vector.control)"
  exit 0
fi

# 1. A trixie deb-src entry, on this machine's own Debian mirror and in the style of its sources.
APT_ETC=${LOOKALIKE_APT_ETC:-/etc/apt}
OS_RELEASE=${LOOKALIKE_OS_RELEASE:-/etc/os-release}
DEFAULT_URI=http://deb.debian.org/debian
DEFAULT_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# Every enabled binary ("deb") entry with the component main of the machine's apt sources, one a
# line: format (list|sources) <TAB> URI <TAB> suites (space-separated) <TAB> signed-by (or "-").
apt_entries() {
  local f
  for f in "$APT_ETC/sources.list" "$APT_ETC"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '
      { sub(/#.*/, "") }
      $1 != "deb" { next }
      {
        i = 2; signed = "-"
        if ($i ~ /^\[/) {                       # [ option=value ... ]
          opts = ""
          while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } i++ }
          gsub(/[\[\]]/, " ", opts)
          n = split(opts, o, /[ \t]+/)
          for (j = 1; j <= n; j++) if (tolower(o[j]) ~ /^signed-by=/) signed = substr(o[j], 11)
        }
        uri = $i; suite = $(i + 1); main = 0
        for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
        if (uri != "" && main) printf "list\t%s\t%s\t%s\n", uri, suite, signed
      }
    ' "$f"
  done
  for f in "$APT_ETC"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && comps ~ /(^| )main( |$)/ && tolower(enabled) != "no" && uris != "")
          { n = split(uris, u, " "); for (k = 1; k <= n; k++) printf "sources\t%s\t%s\t%s\n", u[k], suites, signed }
        types = uris = suites = comps = enabled = ""; signed = "-"; field = ""
      }
      BEGIN { signed = "-" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { if (field == "signed-by") signed = "inline"; next }   # a continuation line
      {
        field = tolower($0); sub(/:.*/, "", field)
        value = $0; sub(/^[^:]*:[ \t]*/, "", value); gsub(/[ \t]+/, " ", value); sub(/ $/, "", value)
        if (field == "types") types = value
        else if (field == "uris") uris = value
        else if (field == "suites") suites = value
        else if (field == "components") comps = value
        else if (field == "enabled") enabled = value
        else if (field == "signed-by") signed = (value == "" ? "inline" : value)
      }
      END { flush() }
    ' "$f"
  done
}

# The entry of the Debian archive itself: one for this release (bookworm, or "stable"), not its
# -security or -updates suites, over a URI apt can fetch sources from.
codename=$(. "$OS_RELEASE" 2>/dev/null && echo "${VERSION_CODENAME:-}") || codename=
codename=${codename:-bookworm}
entry=$(apt_entries | awk -F '\t' -v release="$codename" '
  $2 ~ /^(https?|mirror\+[a-z]+|file|tor\+https?):/ {
    n = split($3, s, " ")
    for (i = 1; i <= n; i++) if (s[i] == release || s[i] == "stable") { print; exit }
  }')
if [ -n "$entry" ]; then
  IFS=$'\t' read -r style debian_uri _ signed_by <<<"$entry"
else
  say "no Debian entry for $codename in $APT_ETC's sources: using $DEFAULT_URI"
  style=$([ -n "$(find "$APT_ETC/sources.list.d" -maxdepth 1 -name '*.sources' 2>/dev/null)" ] && echo sources || echo list)
  debian_uri=$DEFAULT_URI
  signed_by=-
fi
# The machine's own key for that archive when it names a file, else Debian's archive keyring.
if [ "$signed_by" = - ] || [ "$signed_by" = inline ]; then
  signed_by=-
  if [ -f "$DEFAULT_KEYRING" ]; then signed_by=$DEFAULT_KEYRING; fi
fi
if [ "$style" = sources ]; then
  src_file=$APT_ETC/sources.list.d/$SRC_SUITE-src.sources
  src_text="Types: deb-src
URIs: $debian_uri
Suites: $SRC_SUITE
Components: main
"
  if [ "$signed_by" != - ]; then src_text+="Signed-By: $signed_by
"; fi
else
  src_file=$APT_ETC/sources.list.d/$SRC_SUITE-src.list
  options=
  if [ "$signed_by" != - ]; then options=" [signed-by=$signed_by]"; fi
  src_text="deb-src$options $debian_uri $SRC_SUITE main
"
fi
if [ "${1:-}" = --print-source ]; then
  printf '# %s\n%s' "$src_file" "$src_text"
  exit 0
fi
if [ ! -f "$src_file" ] || [ "$(cat "$src_file")" != "$(printf '%s' "$src_text")" ]; then
  say "adding $src_file (deb-src $debian_uri $SRC_SUITE main)"
  printf '%s' "$src_text" | "${SUDO[@]}" tee "$src_file" >/dev/null
fi
# The same entry in the other style, from an earlier run, would be a duplicate.
for other in "$APT_ETC/sources.list.d/$SRC_SUITE-src.list" "$APT_ETC/sources.list.d/$SRC_SUITE-src.sources"; do
  if [ "$other" != "$src_file" ] && [ -f "$other" ]; then "${SUDO[@]}" rm -f "$other"; fi
done
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
