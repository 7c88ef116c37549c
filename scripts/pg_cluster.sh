#!/bin/sh
# A throw-away PostgreSQL cluster for tests and benchmarks (Debian's
# postgresql-15 binaries), on 127.0.0.1 only, trust authentication.
#   scripts/pg_cluster.sh start DIR [PORT] [-c name=value ...]
#       initdb in DIR/data (as the `postgres` user when run as root: initdb
#       and postgres refuse to run as root), start it on PORT (default: a
#       free port) with its socket in DIR, wait until it accepts
#       connections; prints the admin URL on stdout.
#   scripts/pg_cluster.sh stop DIR
#       stops the postmaster by the PID in DIR/data/postmaster.pid (SIGINT:
#       fast shutdown; immediate after 30 s, SIGKILL after 40 s), waits for
#       it to exit.
#   scripts/pg_cluster.sh crash DIR
#       immediate shutdown (pg_ctl -m immediate: every server process exits
#       at once without a checkpoint); the next start runs crash recovery.
# The server's log is DIR/postgres.log.
set -eu
bin=/usr/lib/postgresql/15/bin
[ -x $bin/postgres ] || bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|crash DIR [PORT] [-c k=v ...]" >&2; exit 2; }
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
  port=${3:-}
  [ $# -ge 3 ] && shift 3 || shift 2
  if [ -z "$port" ] || [ "$port" = 0 ]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg $bin/initdb -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  as_pg $bin/pg_ctl -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=200 $*" \
    start >/dev/null || { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
  echo "postgresql://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  pidfile="$dir/data/postmaster.pid"
  [ -f "$pidfile" ] || exit 0
  pid=$(head -n 1 "$pidfile")
  kill -INT "$pid" 2>/dev/null || exit 0
  # Fast shutdown for 30 s, then immediate (SIGQUIT) for 10 s, then SIGKILL:
  # the caller removes DIR next, so the server must be gone.
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    [ $i -eq 300 ] && kill -QUIT "$pid" 2>/dev/null
    [ $i -eq 400 ] && kill -KILL "$pid" 2>/dev/null
    [ $i -gt 450 ] && { echo "pg_cluster.sh: postmaster $pid did not exit" >&2; exit 1; }
    sleep 0.1
  done
  ;;
crash)
  [ -f "$dir/data/postmaster.pid" ] || exit 0
  as_pg $bin/pg_ctl -D "$dir/data" -m immediate -w -t 60 stop >/dev/null
  ;;
*) echo "usage: $0 start|stop|crash DIR [PORT]" >&2; exit 2 ;;
esac
