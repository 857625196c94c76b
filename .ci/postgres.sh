#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for rowguard's PostgreSQL tests.
#
#   source .ci/postgres.sh start   # exports ROWGUARD_DATABASE_URL, PG_SCRATCH and ROWGUARD_PG_TRIPWIRE_LIB
#   .ci/postgres.sh stop [DIR]     # stops the server in DIR (default $PG_SCRATCH) and deletes DIR
#
# initdb into a temporary folder owned by the `postgres` user (the server refuses
# to run as root), listening on 127.0.0.1 on a free port and on a Unix socket in
# that folder only. Installs Debian's `postgresql` package only when the binaries
# are missing. The URL uses the superuser `postgres` with a password, over TCP.
# Builds the tripwire's C module (crates/guard/pg) against the server's headers
# (Debian's postgresql-server-dev-<major>, installed only when missing) into that
# folder, where the server can read it; a failed build stops CI (CI=true) and is
# a warning elsewhere.
#
# Sourcing it changes nothing in your shell but the variables it exports: the
# work runs in a subshell under `set -euo pipefail`, which hands the exports
# back through a temporary file; your shell's options (set -e, -u, pipefail)
# and functions are left as they were, and a failure is a return code, never
# an exit of your shell.

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bin
  if ! bin=$(pg_bin); then
    echo "postgres.sh: no PostgreSQL binaries; installing Debian's postgresql package" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(pg_bin)
  fi
  local dir port password
  dir=$(mktemp -d /tmp/rowguard-pg.XXXXXX)
  chmod 755 "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
         || echo $(( 20000 + RANDOM % 20000 )))
  password=rowguard-ci
  as_pg bash -c "printf '%s\n' '$password' > '$dir/pwfile'"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" -A scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
      start >/dev/null \
    || { cat "$dir/server.log" >&2; return 1; }
  PG_SCRATCH="$dir"
  ROWGUARD_DATABASE_URL="postgres://postgres:$password@127.0.0.1:$port/postgres"
  printf 'export PG_SCRATCH=%q ROWGUARD_DATABASE_URL=%q\n' "$PG_SCRATCH" "$ROWGUARD_DATABASE_URL" >>"$ROWGUARD_ENV_OUT"
  echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)" >&2
  if pg_module "$bin" "$dir"; then
    echo "postgres.sh: the tripwire's C module in $ROWGUARD_PG_TRIPWIRE_LIB" >&2
  elif [ "${CI:-}" = "true" ]; then
    echo "postgres.sh: the tripwire's C module did not build" >&2; return 1
  else
    echo "postgres.sh: warning: the tripwire's C module did not build; its tests are skipped" >&2
  fi
}

pg_module() {
  local bin=$1 dir=$2 src major
  src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/crates/guard/pg"
  if [ ! -f "$("$bin/pg_config" --includedir-server)/postgres.h" ] || [ ! -f "$("$bin/pg_config" --pgxs)" ]; then
    major=$("$bin/pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
    echo "postgres.sh: no server headers; installing Debian's postgresql-server-dev-$major" >&2
    { [ "$(id -u)" -eq 0 ] && apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$major" >/dev/null; } \
      || { echo "postgres.sh: could not install postgresql-server-dev-$major" >&2; return 1; }
  fi
  mkdir -p "$dir/module"
  cp "$src/Makefile" "$src"/*.c "$src"/*.h "$dir/module/"
  make -C "$dir/module" PG_CONFIG="$bin/pg_config" >"$dir/module/build.log" 2>&1 \
    || { cat "$dir/module/build.log" >&2; return 1; }
  chmod 755 "$dir/module" "$dir/module/rowguard_tripwire.so"
  ROWGUARD_PG_TRIPWIRE_LIB="$dir/module/rowguard_tripwire.so"
  printf 'export ROWGUARD_PG_TRIPWIRE_LIB=%q\n' "$ROWGUARD_PG_TRIPWIRE_LIB" >>"$ROWGUARD_ENV_OUT"
}

pg_stop() {
  local dir=${1:-${PG_SCRATCH:-}} bin
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  bin=$(pg_bin) || return 0
  as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

pg_main() {
  case "${1:-}" in
    start) pg_start ;;
    stop) pg_stop "${2:-}" ;;
    *) echo "usage: .ci/postgres.sh start|stop [DIR]" >&2; return 2 ;;
  esac
}

# The work in a subshell (strict options stay there); its exports come back
# through a file this shell reads.
rowguard_env_out=$(mktemp "${TMPDIR:-/tmp}/rowguard-env.XXXXXX") || return 1 2>/dev/null || exit 1
( set -euo pipefail; ROWGUARD_ENV_OUT=$rowguard_env_out pg_main "$@" )
rowguard_rc=$?
[ "$rowguard_rc" -ne 0 ] || . "$rowguard_env_out"
rm -f "$rowguard_env_out"
unset -f pg_bin as_pg pg_start pg_module pg_stop pg_main
unset rowguard_env_out
# sourced: a return code for the caller's shell; run: the script's exit code
eval "unset rowguard_rc; return $rowguard_rc 2>/dev/null || exit $rowguard_rc"
