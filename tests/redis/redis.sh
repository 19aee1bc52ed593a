#!/bin/sh
# A throwaway Redis for tests, on loopback, owned by the test that starts it.
#   tests/redis/redis.sh start         prints "URL DIR": a fresh redis-server in a temporary DIR
#   tests/redis/redis.sh restart DIR   kill -9 of that server, then a new one on the same port and files
#   tests/redis/redis.sh kill DIR      kill -9 of that server (restart brings it back)
#   tests/redis/redis.sh stop DIR      stops that server (by its PID) and removes DIR
# Persistence: the shared flash sale's guarantees (no oversell, no lost win after a Redis crash) rest on
# every acknowledged write being on disk before Redis answers, so the server runs with the append-only
# file and fsync on every write (appendonly yes, appendfsync always); RDB snapshots are off.
set -eu
command -v redis-server >/dev/null 2>&1 ||
    { echo "redis.sh: redis-server is not installed (scripts/install-deps.sh test)" >&2; exit 2; }

launch() { # DIR: starts the server described by DIR/redis.conf, waits until it answers
    dir=$1
    port=$(sed -n 's/^port //p' "$dir/redis.conf")
    redis-server "$dir/redis.conf" >>"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 100); do
        if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
        sleep 0.05
    done
    cat "$dir/server.log" >&2
    exit 1
}

kill_by_pid() { # DIR SIGNAL
    [ -f "$1/pid" ] || return 0
    pid=$(cat "$1/pid")
    kill "-$2" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$1/pid"
}

check_dir() {
    case "$1" in /tmp/meridian-redis-*) ;; *) echo "redis.sh: not a test server: $1" >&2; exit 2 ;; esac
}

case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/meridian-redis-XXXXXX)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
protected-mode yes
dir $dir
daemonize no
save ""
appendonly yes
appendfsync always
appenddirname appendonly
loglevel warning
logfile ""
CONF
    launch "$dir"
    echo "redis://127.0.0.1:$port/0 $dir"
    ;;
restart)
    check_dir "$2"
    kill_by_pid "$2" KILL
    launch "$2"
    ;;
kill)
    check_dir "$2"
    kill_by_pid "$2" KILL
    ;;
stop)
    check_dir "$2"
    kill_by_pid "$2" TERM
    rm -rf "$2"
    ;;
*)
    echo "usage: $0 start | restart DIR | kill DIR | stop DIR" >&2
    exit 2
    ;;
esac
