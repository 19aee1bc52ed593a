#!/bin/sh
# A throwaway PostgreSQL for tests, on loopback, owned by the test that starts it.
#   tests/pg/pg.sh start      prints "URL DIR": a fresh cluster in a temporary DIR with database "meridian"
#                             (fsync off; PG_FSYNC=on tests/pg/pg.sh start: durable, for benchmarks)
#   tests/pg/pg.sh stop DIR   stops that cluster (by the postmaster's PID) and removes DIR
#   tests/pg/pg.sh down DIR   stops the postmaster (fast shutdown: clients are cut off), keeping DIR (fault tests)
#   tests/pg/pg.sh up DIR     starts it again on the same port
#   tests/pg/pg.sh createdb DIR NAME   creates another database in that cluster; prints its URL
# PG_LOGICAL=1 tests/pg/pg.sh start: a cluster that can publish and subscribe (logical replication: wal_level
# logical, replication slots and senders; a subscription whose publisher went away retries after 500 ms rather
# than 5 s), for the catalogue hub and the regions (scripts/run-global.sh, tests/api/global.test.mjs)
# PostgreSQL will not run as root: as root the cluster runs as the "postgres" user (runuser).
set -eu
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] || { echo "pg.sh: PostgreSQL is not installed (scripts/install-deps.sh test)" >&2; exit 2; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/meridian-pg-XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$bindir/initdb" -D "$dir/data" -U meridian -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync off: the cluster lives as long as one test run, and what the tests check (an order acknowledged
    # only after its COMMIT, nothing lost to kill -9 of a node, a fast shutdown and restart) never needs the
    # operating system to survive; it saves each COMMIT's flush across the whole suite
    # (PG_FSYNC=on: a durable cluster, for bench/scenario-pg.sh's figures)
    logical=
    [ "${PG_LOGICAL:-}" = 1 ] && logical=" -c wal_level=logical -c max_wal_senders=20 -c max_replication_slots=20 -c wal_retrieve_retry_interval=500ms -c wal_sender_timeout=10s"
    echo "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=${PG_FSYNC:-off}$logical" >"$dir/options"
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
    as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U meridian meridian
    echo "postgresql://meridian@127.0.0.1:$port/meridian $dir"
    ;;
down)
    as_pg "$bindir/pg_ctl" -D "$2/data" -m fast -w -t 60 stop >/dev/null
    ;;
up)
    as_pg "$bindir/pg_ctl" -D "$2/data" -l "$2/server.log" -w -t 60 -o "$(cat "$2/options")" start >/dev/null ||
        { tail -20 "$2/server.log" >&2; exit 1; }
    ;;
createdb)
    port=$(sed 's/.* -p \([0-9]*\) .*/\1/' "$2/options")
    as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U meridian "$3"
    echo "postgresql://meridian@127.0.0.1:$port/$3"
    ;;
stop)
    dir=$2
    case "$dir" in /tmp/meridian-pg-*) ;; *) echo "pg.sh: not a test cluster: $dir" >&2; exit 2 ;; esac
    if [ -f "$dir/data/postmaster.pid" ]; then
        pid=$(head -1 "$dir/data/postmaster.pid")
        kill -INT "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start | stop DIR | down DIR | up DIR | createdb DIR NAME" >&2
    exit 2
    ;;
esac
