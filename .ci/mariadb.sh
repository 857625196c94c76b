#!/usr/bin/env bash
# A throwaway MariaDB 10.11 server for rowguard's MariaDB/MySQL tests.
#
#   source .ci/mariadb.sh start   # exports ROWGUARD_MYSQL_URL and MARIADB_SCRATCH
#   .ci/mariadb.sh stop [DIR]     # stops the server in DIR (default $MARIADB_SCRATCH) and deletes DIR
#
# mariadb-install-db into a temporary folder owned by the `mysql` user, the
# server on 127.0.0.1 on a free port and on a Unix socket in that folder,
# with its grant tables in force: the URL is a `rowguard_admin` user with a
# password (created here with ALL ON *.* WITH GRANT OPTION, as a DBA would
# give rowguard), over TCP. Installs Debian's `mariadb-server` package only
# when the binaries are missing; nothing is started through init scripts.
#
# Sourcing it changes nothing in your shell but the variables it exports: the
# work runs in a subshell under `set -euo pipefail`, which hands the exports
# back through a temporary file; your shell's options (set -e, -u, pipefail)
# and functions are left as they were, and a failure is a return code, never
# an exit of your shell.

mariadb_start() {
  if ! command -v mariadbd >/dev/null 2>&1 || ! command -v mariadb-install-db >/dev/null 2>&1; then
    echo "mariadb.sh: no MariaDB binaries; installing Debian's mariadb-server package" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  fi
  local dir port password
  dir=$(mktemp -d /tmp/rowguard-mariadb.XXXXXX)
  chmod 755 "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
         || echo $(( 20000 + RANDOM % 20000 )))
  password=rowguard-ci
  local user=()
  if [ "$(id -u)" -eq 0 ]; then chown mysql: "$dir"; user=(--user=mysql); fi
  mariadb-install-db "${user[@]}" --datadir="$dir/data" --auth-root-authentication-method=normal \
      --skip-test-db >"$dir/install.log" 2>&1 \
    || { cat "$dir/install.log" >&2; return 1; }
  mariadbd --no-defaults "${user[@]}" --datadir="$dir/data" --socket="$dir/sock" --port="$port" \
      --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid" --log-error="$dir/server.log" \
      --skip-name-resolve --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 \
      --innodb-doublewrite=0 --sync-binlog=0 --max-connections=300 &
  local i
  for i in $(seq 1 120); do
    mariadb --no-defaults --socket="$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    [ -e "$dir/mariadbd.pid" ] || [ "$i" -lt 20 ] || { cat "$dir/server.log" >&2; return 1; }
    sleep 0.5
  done
  mariadb --no-defaults --socket="$dir/sock" -uroot -e "
    CREATE USER 'rowguard_admin'@'127.0.0.1' IDENTIFIED BY '$password';
    GRANT ALL ON *.* TO 'rowguard_admin'@'127.0.0.1' WITH GRANT OPTION;" \
    || { cat "$dir/server.log" >&2; return 1; }
  MARIADB_SCRATCH="$dir"
  ROWGUARD_MYSQL_URL="mysql://rowguard_admin:$password@127.0.0.1:$port/"
  printf 'export MARIADB_SCRATCH=%q ROWGUARD_MYSQL_URL=%q\n' "$MARIADB_SCRATCH" "$ROWGUARD_MYSQL_URL" >>"$ROWGUARD_ENV_OUT"
  echo "mariadb.sh: $(mariadbd --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)" >&2
}

# A superuser session on the server in DIR: `.ci/mariadb.sh sql DIR "SELECT ..."`.
mariadb_sql() {
  mariadb --no-defaults --socket="$1/sock" -uroot -N -B -e "$2"
}

mariadb_stop() {
  local dir=${1:-${MARIADB_SCRATCH:-}} pid
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  if [ -s "$dir/mariadbd.pid" ]; then
    pid=$(cat "$dir/mariadbd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

mariadb_main() {
  case "${1:-}" in
    start) mariadb_start ;;
    stop) mariadb_stop "${2:-}" ;;
    sql) mariadb_sql "$2" "$3" ;;
    *) echo "usage: .ci/mariadb.sh start|stop [DIR]|sql DIR QUERY" >&2; return 2 ;;
  esac
}

# The work in a subshell (strict options stay there); its exports come back
# through a file this shell reads.
rowguard_env_out=$(mktemp "${TMPDIR:-/tmp}/rowguard-env.XXXXXX") || return 1 2>/dev/null || exit 1
( set -euo pipefail; ROWGUARD_ENV_OUT=$rowguard_env_out mariadb_main "$@" )
rowguard_rc=$?
[ "$rowguard_rc" -ne 0 ] || . "$rowguard_env_out"
rm -f "$rowguard_env_out"
unset -f mariadb_start mariadb_sql mariadb_stop mariadb_main
unset rowguard_env_out
# sourced: a return code for the caller's shell; run: the script's exit code
eval "unset rowguard_rc; return $rowguard_rc 2>/dev/null || exit $rowguard_rc"
