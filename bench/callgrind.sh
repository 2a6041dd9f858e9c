#!/usr/bin/env bash
# callgrind.sh — the server's instructions per request, counted by valgrind's callgrind.
#
#   bench/callgrind.sh [ROW…]      (make bench-ir [IR_ROWS="get1k put1k"])
#
# On a shared machine req/s and CPU time move with whatever else runs; instruction counts do
# not: the same binary, requests and data give the same count whatever the load. So each lever
# of the server's CPU per request is measured here, before and after, and bench/run.sh keeps
# the wall-clock comparison with nginx.
#
# For each ROW: a fresh data directory, `kvs serve --threads 1 --map-size 1G` under callgrind,
# the row's records made over HTTP, a warm-up of WARM seconds of the row's load (so caches
# and pools are filled), counters zeroed (callgrind_control -z), RUN seconds of the same load
# with wrk, counters dumped (callgrind_control -d). The figure is the dump's total (every
# thread of kvs, the storage writer included) divided by the requests wrk completed.
# valgrind counts a `rep stosb` (memset) once per byte, so memset alone is also shown: on
# real hardware it is far cheaper than its count (libmicrohttpd clears its connection memory
# after every request).
#
# Rows: get1k (GET of a 1 KiB record by admin~name, keep-alive, 8 connections), get1k_id
# (the same by store ID), put1k (durable PUT of 1 KiB to a new key, 64 connections), keys1k
# (a page of 1,000 keys: per key), get10m and put10m (10 MiB records, 8 connections: per MiB).
#
# Environment: KVS_BIN (default build/kvs), WARM (default 3), RUN (default 10), IR_OUT (a
# directory to keep the callgrind dumps and callgrind_annotate's inclusive listing in).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KVS_BIN=${KVS_BIN:-$ROOT/build/kvs}
WARM=${WARM:-3}
RUN=${RUN:-10}
TOKEN=ir-admin-token
AUTH="Authorization: Bearer $TOKEN"
ROWS=${*:-get1k get1k_id put1k keys1k get10m put10m}

for cmd in valgrind callgrind_control callgrind_annotate wrk curl; do
    command -v $cmd >/dev/null || { echo "callgrind.sh: $cmd is missing (tools/deps.sh bench)" >&2; exit 1; }
done
[ -x "$KVS_BIN" ] || { echo "callgrind.sh: $KVS_BIN is missing (make)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ir.kvs.XXXXXX")
OUT=${IR_OUT:-$TMP/out}
mkdir -p "$OUT"
PID=
cleanup() {
    set +e
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "callgrind.sh: $*" >&2; exit 1; }

start() { # ROW → PID, URL: kvs under callgrind on a new data directory
    local logf=$TMP/$1.log
    rm -rf "$TMP/data"
    KVS_ADMIN_TOKEN=$TOKEN valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$1" \
        "$KVS_BIN" serve --listen 127.0.0.1:0 --data "$TMP/data" --threads 1 --map-size 1G \
        --log-level warn >"$logf" 2>&1 &
    PID=$!
    local i
    URL=
    for i in $(seq 600); do
        URL=$(sed -n 's|^kvs: serving \(http://127\.0\.0\.1:[0-9]*\) .*|\1|p' "$logf")
        [ -n "$URL" ] && curl -sf -o /dev/null "$URL/health" && return 0
        kill -0 "$PID" 2>/dev/null || { cat "$logf" >&2; die "kvs did not start"; }
        sleep 0.1
    done
    die "kvs did not start within 60 s"
}

stop() {
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
}

put_file() { # STORE KEY FILE
    curl -sf -o /dev/null -X PUT -H "$AUTH" -H 'Content-Type: application/octet-stream' \
        --data-binary "@$3" "$URL/v2/key-value-stores/$1/records/$2" || die "cannot PUT $2"
}

# load TAG SECONDS CONNS SCRIPT PATH [ARGS…] → prints the requests wrk completed; @TAG@ in
# ARGS becomes TAG (so that the PUTs of the warm-up and of the run go to different keys)
load() {
    local tag=$1 d=$2 c=$3 script=$4 path=$5
    shift 5
    set -- "${@//@TAG@/$tag}"
    local line
    line=$(timeout $((d + 60)) wrk -t1 -c"$c" -d"${d}s" -H "$AUTH" -s "$ROOT/bench/wrk/$script" \
        "$URL$path" "$@" | grep '^WRK ') || die "wrk produced no result"
    case $line in *" non2xx=0"*) ;; *) die "errors in the load: $line" ;; esac
    echo "$line" | sed 's/.* requests=\([0-9]*\).*/\1/'
}

measure() { # ROW UNITS_PER_REQUEST UNIT CONNS SCRIPT PATH [ARGS…]
    local row=$1 per=$2 unit=$3
    shift 3
    load warm "$WARM" "$@" >/dev/null
    callgrind_control -z "$PID" >/dev/null 2>&1
    local n
    n=$(load run "$RUN" "$@")
    callgrind_control -d "$PID" >/dev/null 2>&1
    local dump
    dump=$(ls -t "$OUT/callgrind.$row"* | grep -v '\.txt$' | head -1)
    callgrind_annotate --inclusive=yes --threshold=99.5 "$dump" >"$OUT/$row.inclusive.txt" 2>/dev/null || true
    local total memset
    total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
    memset=$(callgrind_annotate --threshold=100 "$dump" 2>/dev/null | awk '/memset/ { gsub(",", "", $1); s += $1 } END { print s + 0 }')
    awk -v row="$row" -v t="$total" -v m="$memset" -v n="$n" -v per="$per" -v unit="$unit" 'BEGIN {
        u = n * per
        printf "%-9s %8d requests  %9.0f Ir/%s  %9.0f Ir/%s without memset  (memset %.0f)\n",
               row, n, t / u, unit, (t - m) / u, unit, m / u }'
}

head -c 1024 /dev/zero | tr '\0' 'x' >"$TMP/1k.bin"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$TMP/10m.bin"

for row in $ROWS; do
    start "$row"
    curl -sf -o /dev/null -X POST -H "$AUTH" "$URL/v2/key-value-stores?name=b" || die "cannot create store b"
    ID=$(curl -sf -H "$AUTH" "$URL/v2/key-value-stores/admin~b" | grep -o '"id":"[A-Za-z0-9]*"' | head -1 | cut -d'"' -f4)
    put_file b 1k "$TMP/1k.bin"
    case $row in
    get1k) measure get1k 1 req 8 get.lua /v2/key-value-stores/admin~b/records/1k ;;
    get1k_id) measure get1k_id 1 req 8 get.lua "/v2/key-value-stores/$ID/records/1k" ;;
    put1k) measure put1k 1 req 64 put.lua "" -- /v2/key-value-stores/admin~b/records/ @TAG@ ;;
    keys1k)
        for i in $(seq 1000); do printf 'k%04d\n' "$i"; done | while read -r k; do
            curl -sf -o /dev/null -X PUT -H "$AUTH" --data-binary v "$URL/v2/key-value-stores/b/records/$k"
        done
        measure keys1k 1000 key 1 get.lua "/v2/key-value-stores/admin~b/keys?limit=1000" ;;
    get10m)
        put_file b 10m "$TMP/10m.bin"
        measure get10m 10 MiB 8 get.lua /v2/key-value-stores/admin~b/records/10m ;;
    put10m) measure put10m 10 MiB 8 put.lua "" -- /v2/key-value-stores/admin~b/records/ @TAG@ 10485760 8 ;;
    *) die "unknown row $row" ;;
    esac
    stop
done
