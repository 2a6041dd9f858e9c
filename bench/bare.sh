#!/usr/bin/env bash
# bare.sh — the price of libmicrohttpd's suspend/resume hand-off per PUT, without kvs
# (bench/bare_put.c): server CPU per request of bare_put answering on the request thread
# ("direct") and through a second thread ("handoff"), interleaved, wrk -t1 -c64 with
# bench/wrk/put.lua (1 KiB bodies). Run through `make bench-bare`; ROUNDS (default 3) rounds of
# DUR (default 5) seconds each. Prints one line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
BARE=${BARE_PUT:-build/bare_put}
ROUNDS=${ROUNDS:-3} DUR=${DUR:-5}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; true' EXIT
cpu() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for r in $(seq "$ROUNDS"); do
    for mode in direct handoff; do
        port=$((20000 + RANDOM % 40000))
        port_free "$port" || continue
        "$BARE" "$mode" "$port" >/dev/null &
        PID=$!
        sleep 0.3
        c0=$(cpu "$PID")
        line=$(timeout $((DUR + 30)) wrk -t1 -c64 -d"${DUR}s" -s bench/wrk/put.lua \
            "http://127.0.0.1:$port" -- /v2/x/records/ "r$r" | grep '^WRK ')
        c1=$(cpu "$PID")
        kill "$PID"
        wait "$PID" 2>/dev/null || true
        PID=
        echo "$line" | awk -v m="$mode" -v cpu=$(((c1 - c0) * TICK_US)) -v l="$(cut -d' ' -f1 /proc/loadavg)" '{
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "%-8s %8.0f req/s  %5.2f µs server CPU per request  (load average %s)\n", m, v["rps"], cpu / v["requests"], l }'
    done
done
