#!/bin/sh
# cluster.sh — a throw-away PostgreSQL cluster for the tests (and `make bench`).
#
#   cluster.sh start DIR [--durable]  initdb in DIR/data (DIR is created; it must not exist or
#                                     be empty), start the server listening only on a Unix
#                                     socket in DIR (no TCP port, so nothing to collide with),
#                                     wait until it accepts connections, and print its
#                                     connection URI on stdout. Without --durable, fsync is off
#                                     (commits still wait for the WAL write, so a killed server
#                                     keeps every commit; only a machine crash could lose them).
#   cluster.sh url DIR                print the connection URI again
#   cluster.sh pid DIR                print the postmaster's PID
#   cluster.sh crash DIR              pg_ctl stop -m immediate: no shutdown checkpoint, crash
#                                     recovery at the next start (what a power cut leaves)
#   cluster.sh restart DIR            start the stopped (or crashed) cluster again
#   cluster.sh stop DIR               stop the server by its PID (SIGINT: fast shutdown; SIGKILL
#                                     after 20 s) and remove DIR
#
# PostgreSQL refuses to run as root: when run as root, initdb and the server run as the
# `postgres` user (Debian's package creates it), and DIR is handed to that user (its parent
# directories must let that user in). The server
# binaries are taken from $PG_BIN, else from Debian's /usr/lib/postgresql/<newest>/bin, else
# from PATH. The superuser is `postgres`, with trust authentication on the socket only.
set -eu

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
    echo "usage: $0 start|url|pid|crash|restart|stop DIR" >&2
    exit 2
}

pg_bin() {
    if [ -n "${PG_BIN:-}" ]; then
        echo "$PG_BIN"
        return
    fi
    newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -n "$newest" ]; then
        echo "$newest"
    else
        dirname "$(command -v initdb)"
    fi
}
BIN=$(pg_bin)

# Run "$@" as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

url() {
    echo "postgresql:///postgres?host=$dir&user=postgres"
}

pid() {
    head -1 "$dir/data/postmaster.pid" 2>/dev/null || true
}

server_start() {
    # A Unix socket only; enough connections for two nodes' pools plus the tests' own.
    as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $dir -c max_connections=300 $(cat "$dir/options")" \
        start >/dev/null || {
        echo "cluster.sh: the server did not start; its log:" >&2
        tail -20 "$dir/server.log" >&2
        exit 1
    }
}

case "$cmd" in
start)
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
        echo "cluster.sh: $dir is not empty" >&2
        exit 1
    fi
    mkdir -p "$dir"
    if [ "${3:-}" = --durable ]; then
        echo "-c fsync=on" >"$dir/options"
    else
        echo "-c fsync=off" >"$dir/options"
    fi
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        chmod 0755 "$dir" # the socket must be reachable by the tests (root)
    fi
    as_owner "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$dir/initdb.log" 2>&1 || {
        echo "cluster.sh: initdb failed:" >&2
        cat "$dir/initdb.log" >&2
        exit 1
    }
    server_start
    url
    ;;
url) url ;;
pid) pid ;;
crash) as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null ;;
restart) server_start ;;
stop)
    p=$(pid)
    if [ -n "$p" ] && kill -INT "$p" 2>/dev/null; then
        i=0
        while kill -0 "$p" 2>/dev/null; do
            i=$((i + 1))
            if [ "$i" -ge 200 ]; then
                kill -KILL "$p" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|url|pid|crash|restart|stop DIR" >&2
    exit 2
    ;;
esac
