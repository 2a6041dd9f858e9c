#!/usr/bin/env bash
# run.sh — `make bench`: kvs against nginx and the disk, side by side, on loopback.
#
# Run through `make bench` (QUICK=1 for a short smoke run), which builds what this needs and
# passes KVS_BIN, FSYNC_BENCH, BULKLOAD and BENCH_DATA. What it measures, each row with the
# same wrk settings for kvs and its reference, best of RUNS runs (interleaved: kvs, reference,
# kvs, reference, … so that drift and noise from other work on the machine hit both alike):
#
#   1. GET of a 1 KiB record   vs nginx: the same 1 KiB as a static file, and from memory
#      and over TLS            vs nginx over TLS: the same file, the same certificate (made here
#                              by openssl: ECDSA P-256), TLS 1.3 with AES-128-GCM on both sides
#   2. GET of a 1 MiB record   vs nginx: a 1 MiB static file
#   3. durable PUT of 1 KiB to distinct keys at 1, 16, 64 connections
#                              vs the disk: 1 KiB appends each followed by fdatasync (fsync_bench)
#                              vs nginx WebDAV PUT into tmpfs (no sync: an upper reference)
#                              and kvs itself with its data on tmpfs (every sync free: what the
#                              CPUs allow at 64 connections; diagnostic, no target)
#   4. a page of 1,000 keys from a 1,000-key store vs from a 1,000,000-key store (bulk loaded),
#      and the server's CPU time per key of the page
#   5. the server's RSS with the 1,000,000-key store loaded
#   6. a mixed load: 90 % GET of 16 hot 1 KiB records and 10 % durable PUT of 1 KiB, 64
#      connections, with the GET latency apart (bench/mixload.c), vs the same client's GETs only
#   7. 10 MiB records at 8 connections: GET vs nginx's static file, durable PUT (8 keys
#      overwritten) vs nginx WebDAV PUT into tmpfs, in MiB/s; kvs's peak RSS during its PUTs
#   8. large records (issue 20), one transfer at a time with curl: PUT of a 1 GiB record vs
#      writing the same bytes with dd conv=fdatasync into the same file system; GET of it vs
#      nginx's static file of those bytes; kvs's peak RSS over its idle RSS (VmHWM after
#      clear_refs 5) during 8 concurrent PUTs of such a record and then 8 concurrent GETs, and
#      during 8 identity GETs of a gzip bomb (100 MiB of zeros stored gzip-coded). QUICK: 64 MiB
#   9. PostgreSQL (a throw-away cluster with fsync on, tests/pg/cluster.sh): GET 1 KiB and
#      durable PUT 1 KiB at 64 connections through one kvs node and through two (wrk with 32
#      connections on each), as ratios to the LMDB rows of the same run; the reference of the
#      PUT is PostgreSQL's own single-row insert rate with the same 64 clients (pgbench), and
#      of the GET, pgbench running kvs's own GET statement (prepared, the same parameters and
#      planner settings) with the same 64 clients. These
#      kvs run with 16 threads per CPU (BENCH_PG_THREADS): a thread mostly waits for the database
#      Then the large record of row 8 through one PostgreSQL node (chunks, storage/pg_blob.c):
#      PUT and GET as ratios to the LMDB rows of the same run, and the node's peak RSS over idle
#
# Pairing: kvs --threads $BENCH_THREADS (default 1; kvs also has its storage writer thread)
# and nginx worker_processes $BENCH_THREADS; wrk -t$BENCH_WRK_THREADS (default 1).
# Everything listens on 127.0.0.1 only; every load run is bounded (wrk -d, under timeout);
# kvs's data directory is on the real disk (BENCH_DATA, default build/bench-data) so that
# durability costs what it costs; nginx's WebDAV directory is on tmpfs (/dev/shm).
#
# Writes bench/results/latest.md, latest.png and latest-runs.tsv (every run; QUICK=1: quick.*),
# and prints the table. Environment knobs: QUICK, BENCH_RUNS, BENCH_DURATION, BENCH_THREADS,
# BENCH_WRK_THREADS, BENCH_BIG_KEYS, BENCH_KEEP_DATA=1 (keep the data directory). MIXLOAD is
# bench/mixload.c built (make bench passes it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

KVS_BIN=${KVS_BIN:-$ROOT/build/kvs}
FSYNC_BENCH=${FSYNC_BENCH:-$ROOT/build/fsync_bench}
MIXLOAD=${MIXLOAD:-$ROOT/build/mixload}
BULKLOAD=${BULKLOAD:-$ROOT/build/bulkload}
BENCH_DATA=${BENCH_DATA:-$ROOT/build/bench-data}
QUICK=${QUICK:-}
[ "$QUICK" = 0 ] && QUICK=

if [ -n "$QUICK" ]; then
    RUNS=${BENCH_RUNS:-1} DUR=${BENCH_DURATION:-2} KEYS_DUR=2 FSYNC_DUR=2
    BIG=${BENCH_BIG_KEYS:-10000} NAME=quick
else
    RUNS=${BENCH_RUNS:-3} DUR=${BENCH_DURATION:-10} KEYS_DUR=5 FSYNC_DUR=5
    BIG=${BENCH_BIG_KEYS:-1000000} NAME=latest
fi
THREADS=${BENCH_THREADS:-1}
WRK_T=${BENCH_WRK_THREADS:-1}
CONNS=64
PUT_CONNS="1 16 64"
HOT=16                 # hot records of the mixed load
BIG_CONNS=8            # connections of the 10 MiB rows
BIG_SIZE=$((10 << 20)) # 10 MiB
TOKEN=bench-admin-token
RESULTS=$ROOT/bench/results
OUT_MD=$RESULTS/$NAME.md
OUT_PNG=$RESULTS/$NAME.png

for tool in "$KVS_BIN" "$FSYNC_BENCH" "$BULKLOAD" "$MIXLOAD"; do
    [ -x "$tool" ] || { echo "bench: $tool is missing (run: make bench)" >&2; exit 1; }
done
for cmd in wrk nginx gnuplot curl psql; do
    command -v $cmd >/dev/null || { echo "bench: $cmd is missing (run: make bench)" >&2; exit 1; }
done
# pgbench: Debian's, of the newest PostgreSQL installed (tests/pg/cluster.sh takes that one too)
PGBENCH_BIN=$(ls -d /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -1)
PGBENCH_BIN=${PGBENCH_BIN:-$(command -v pgbench || true)}
[ -x "$PGBENCH_BIN" ] || { echo "bench: pgbench is missing (run: make bench)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench.kvs.XXXXXX")
SHM=$(mktemp -d /dev/shm/bench.kvs.XXXXXX)
RUNS_TSV=$TMP/runs.tsv
: >"$RUNS_TSV"
KVS_PID= NGINX_PID= KVS_TMPFS_PID= KVS_TLS_PID= PG_DIR= KVS_PG_PIDS=

cleanup() {
    set +e
    for p in $KVS_PG_PIDS; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "$PG_DIR" ] && "$ROOT/tests/pg/cluster.sh" stop "$PG_DIR"
    [ -n "$KVS_PID" ] && kill -TERM "$KVS_PID" 2>/dev/null && wait "$KVS_PID" 2>/dev/null
    [ -n "$KVS_TMPFS_PID" ] && kill -TERM "$KVS_TMPFS_PID" 2>/dev/null && wait "$KVS_TMPFS_PID" 2>/dev/null
    [ -n "$KVS_TLS_PID" ] && kill -TERM "$KVS_TLS_PID" 2>/dev/null && wait "$KVS_TLS_PID" 2>/dev/null
    [ -n "$NGINX_PID" ] && kill -TERM "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
    rm -rf "$TMP" "$SHM"
    [ "${BENCH_KEEP_DATA:-}" = 1 ] || rm -rf "$BENCH_DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# ---- kvs --------------------------------------------------------------------------------------

# launch_kvs DATA LOG [ARGS…] → a kvs serving DATA (a directory, or a postgres:// URI: then
# with BENCH_PG_THREADS threads, default 16 per CPU, since they mostly wait for the database)
# with ARGS, logging to LOG; sets LAUNCHED_PID and LAUNCHED_URL (https:// when ARGS make it
# serve TLS).
launch_kvs() {
    local data=$1 logf=$2
    shift 2
    : >"$logf"
    local where=(--data "$data" --threads "$THREADS")
    case $data in
    postgres://* | postgresql://*)
        where=(--storage "$data" --threads "${BENCH_PG_THREADS:-$((16 * $(nproc)))}")
        ;;
    esac
    KVS_ADMIN_TOKEN=$TOKEN "$KVS_BIN" serve --listen 127.0.0.1:0 "${where[@]}" \
        --log-level warn "$@" >>"$logf" 2>&1 &
    LAUNCHED_PID=$!
    local i url=
    for i in $(seq 300); do
        url=$(sed -n 's|^kvs: serving \(https*://127\.0\.0\.1:[0-9]*\) .*|\1|p' "$logf")
        [ -n "$url" ] && break
        kill -0 "$LAUNCHED_PID" 2>/dev/null || { cat "$logf" >&2; die "kvs did not start"; }
        sleep 0.1
    done
    [ -n "$url" ] || die "kvs did not start within 30 s"
    LAUNCHED_URL=$url
}

start_kvs() {
    launch_kvs "$BENCH_DATA" "$TMP/kvs.log"
    KVS_PID=$LAUNCHED_PID KVS=$LAUNCHED_URL
}

# stop_pid PID → TERM, then KILL after 30 s
stop_pid() {
    kill -TERM "$1"
    local i
    for i in $(seq 300); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$1" 2>/dev/null && { log "kvs did not stop in 30 s; killing"; kill -KILL "$1"; }
    wait "$1" 2>/dev/null || true
}

stop_kvs() {
    stop_pid "$KVS_PID"
    KVS_PID=
}

AUTH="Authorization: Bearer $TOKEN"
create_store() { # NAME [BASE_URL] → prints the store ID
    curl -sf -X POST -H "$AUTH" "${2:-$KVS}/v2/key-value-stores?name=$1" |
        grep -o '"id":"[A-Za-z0-9]*"' | head -1 | cut -d'"' -f4
}

rss_kb() { # PID FIELD → kB
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# The highest RssAnon of PID while a row runs, sampled every 50 ms: anon_peak_start PID, then
# anon_peak_stop prints it in kB. (VmHWM also counts the pages of the LMDB map that reads have
# touched, file pages the kernel may take back, which a long run of writes piles up.)
SAMPLER_PID=
anon_peak_start() {
    echo 0 >"$TMP/anon.max"
    (
        m=0
        while kill -0 "$1" 2>/dev/null; do
            a=$(rss_kb "$1" RssAnon)
            [ "${a:-0}" -gt "$m" ] && m=$a && echo "$m" >"$TMP/anon.max"
            sleep 0.05
        done
    ) &
    SAMPLER_PID=$!
}
anon_peak_stop() {
    kill "$SAMPLER_PID" 2>/dev/null
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=
    cat "$TMP/anon.max"
}

# ---- nginx ------------------------------------------------------------------------------------

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_nginx() {
    local n=$TMP/nginx user_line=""
    mkdir -p "$n" "$SHM/dav" "$SHM/body"
    [ "$(id -u)" = 0 ] && user_line="user root root;"
    local try
    for try in 1 2 3 4 5; do
        NGINX_PORT=$((20000 + RANDOM % 40000))
        NGINX_TLS_PORT=$((NGINX_PORT + 1))
        port_free "$NGINX_PORT" && port_free "$NGINX_TLS_PORT" || continue
        cat >"$n/nginx.conf" <<EOF
daemon off;
master_process on;
$user_line
worker_processes $THREADS;
pid $n/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path $SHM/body;
    proxy_temp_path $n/proxy;
    fastcgi_temp_path $n/fastcgi;
    uwsgi_temp_path $n/uwsgi;
    scgi_temp_path $n/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $TMP/www;
        location = /mem { return 200 "$(cat "$TMP/www/1k.bin")"; }
        location /dav/ {
            root $SHM;
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 11m;
        }
    }
    server {
        listen 127.0.0.1:$NGINX_TLS_PORT ssl;
        root $TMP/www;
        ssl_certificate $TMP/tls.crt;
        ssl_certificate_key $TMP/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_prefer_server_ciphers on;
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    }
}
EOF
        nginx -p "$n" -c "$n/nginx.conf" -e "$n/error.log" >>"$n/stdout.log" 2>&1 &
        NGINX_PID=$!
        local i
        for i in $(seq 50); do
            curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/mem" && {
                NGINX=http://127.0.0.1:$NGINX_PORT NGINX_TLS=https://127.0.0.1:$NGINX_TLS_PORT
                return 0
            }
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -TERM "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=
    done
    cat "$n/error.log" >&2 || true
    die "nginx did not start"
}

# ---- load runs --------------------------------------------------------------------------------

# Server CPU time (user + system, all threads) in clock ticks: kvs, or nginx's workers.
server_pids() {
    case $1 in
    kvs) echo "$KVS_PID" ;;
    kvs_tmpfs) echo "$KVS_TMPFS_PID" ;;
    kvs_tls) echo "$KVS_TLS_PID" ;;
    kvs_pg) echo "${KVS_PG_PIDS%% *}" ;; # the first node
    kvs_pg2) echo "$KVS_PG_PIDS" ;;      # both
    *) pgrep -P "$NGINX_PID" ;;
    esac
}
cpu_ticks() { # PID… → the sum of utime + stime (a process that has ended meanwhile: 0)
    local p t=0 n
    for p in "$@"; do
        n=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
        t=$((t + ${n:-0}))
    done
    echo "$t"
}
# Server CPU time of SERVER in clock ticks; with PostgreSQL the database's too (pg_ticks).
server_ticks() {
    # shellcheck disable=SC2046
    case $1 in
    kvs_pg*) echo $(($(cpu_ticks $(server_pids "$1")) + $(pg_ticks))) ;;
    *) cpu_ticks $(server_pids "$1") ;;
    esac
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
# All CPUs' busy time, and the CPU time of this shell's finished children (wrk under timeout).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
child_ticks() { sed 's/.*) //' "/proc/$BASHPID/stat" | awk '{ print $14 + $15 }'; }

# kvs_counters BASE_URL → that kvs's sync batches and writes so far ("-1 -1" without /metrics).
kvs_counters() {
    (curl -sf -H "$AUTH" "$1/metrics" || true) | awk '/^kvs_storage_sync_batches_total / { b = $2 }
        /^kvs_storage_writes_total / { w = $2 } END { print (b == "" ? -1 : b), (w == "" ? -1 : w) }'
}

# load_row ROW RUN SERVER METRICS_URL CMD… — one bounded load run of CMD (wrk, or mixload,
# which prints the same "WRK key=value …" line and the GET and PUT latencies apart) against
# SERVER (kvs, kvs_tmpfs, kvs_tls or nginx), appended to runs.tsv with the server's CPU time
# per request. METRICS_URL: a kvs whose /metrics tell the writes per sync during the run, or "".
load_row() {
    local row=$1 run=$2 server=$3 murl=$4
    shift 4
    local c0 c1
    local b0 b1 k0 k1 t0 t1
    c0=$(server_ticks "$server")
    local m0="-1 -1" m1="-1 -1"
    [ -n "$murl" ] && m0=$(kvs_counters "$murl")
    b0=$(busy_ticks) k0=$(child_ticks) t0=$(date +%s%N)
    local logf=$TMP/load-$row-$run.log
    "$@" >"$logf" 2>&1 || true
    c1=$(server_ticks "$server")
    b1=$(busy_ticks) k1=$(child_ticks) t1=$(date +%s%N)
    [ -n "$murl" ] && m1=$(kvs_counters "$murl")
    # Group commit: writes per sync (transaction) during the run, from kvs's /metrics.
    local per_sync
    per_sync=$(echo "$m0 $m1" | awk '{ db = $3 - $1; dw = $4 - $2
        if ($1 < 0 || $3 < 0 || db <= 0) print -1; else printf "%.1f", dw / db }')
    # Other work on the machine during the run, in CPUs: all busy time less the server's and the load's.
    local other
    other=$(awk -v b=$((b1 - b0)) -v s=$((c1 - c0)) -v k=$((k1 - k0)) -v t=$(((t1 - t0) / 1000)) \
        -v tick="$TICK_US" 'BEGIN { o = (b - s - k) * tick / t; printf "%.2f", o < 0 ? 0 : o }')
    local line
    line=$(grep '^WRK ' "$logf" | tail -1) || true
    [ -n "$line" ] || { cat "$logf" >&2; die "load run $row/$run produced no result"; }
    # WRK rps=… p50_us=… p99_us=… bytes_per_s=… requests=… sock_errors=… non2xx=…
    #     [get_p99_us=… put_p99_us=…]
    echo "$line" | awk -v row="$row" -v run="$run" -v cpu=$(((c1 - c0) * TICK_US)) -v other="$other" \
        -v per_sync="$per_sync" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        gp = ("get_p99_us" in v) ? v["get_p99_us"] : -1; pp = ("put_p99_us" in v) ? v["put_p99_us"] : -1
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\n", row, run, v["rps"], v["p50_us"],
               v["p99_us"], v["bytes_per_s"], v["requests"], v["sock_errors"], v["non2xx"],
               (v["requests"] > 0) ? cpu / v["requests"] : 0, other, per_sync, gp, pp }' >>"$RUNS_TSV"
    log "$(printf '%-18s run %s: %s cpu_us_per_req=%s other_cpus=%s writes_per_sync=%s' "$row" "$run" \
        "${line#WRK }" "$(tail -1 "$RUNS_TSV" | cut -f10)" "$other" "$per_sync")"
}

# wrk_row ROW RUN SERVER CONNS DURATION SCRIPT URL [-- ARGS…] — one bounded wrk run (load_row).
wrk_row() {
    local row=$1 run=$2 server=$3 conns=$4 dur=$5 script=$6 url=$7
    shift 7
    local murl=
    [ "${server#kvs}" != "$server" ] && [ "$script" = put.lua ] && murl=${url%%/v2/*}
    local t=$WRK_T
    [ "$conns" -lt "$t" ] && t=$conns
    load_row "$row" "$run" "$server" "$murl" timeout $((dur + 30)) wrk -t"$t" -c"$conns" \
        -d"${dur}s" --latency -H "$AUTH" -s "$ROOT/bench/wrk/$script" "$url" "$@"
}

# mix_row ROW RUN EVERY — mixload against kvs, 64 connections: GETs of the hot records, and
# every EVERY-th request a durable PUT of 1 KiB to a new key (EVERY 0: GETs only).
mix_row() {
    local paths=() i
    for i in $(seq 0 $((HOT - 1))); do paths+=("/v2/key-value-stores/$GET_ID/records/hot$i"); done
    load_row "$1" "$2" kvs "$([ "$3" -gt 0 ] && echo "$KVS")" timeout $((DUR + 30)) "$MIXLOAD" \
        -c "$CONNS" -d "$DUR" -m "$3" -s 1024 -t "$TOKEN" \
        -P "/v2/key-value-stores/$PUT_ID/records/mix-r$2-" "$KVS" "${paths[@]}"
}

# pg_ticks → the CPU time of the PostgreSQL server in clock ticks: the postmaster's, its ended
# children's (connections that closed: cutime + cstime) and its live children's.
pg_ticks() {
    local p
    p=$("$ROOT/tests/pg/cluster.sh" pid "$PG_DIR")
    # shellcheck disable=SC2046
    echo $(($(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 + $14 + $15 }') +
        $(cpu_ticks $(pgrep -P "$p"))))
}

# wrk_two ROW RUN SERVER CONNS DURATION SCRIPT URL_A URL_B [PREFIX_A PREFIX_B TAG] — two kvs
# nodes at once: CONNS/2 connections on each (two wrk; put.lua's with its path prefix and keys
# tagged TAG-a, TAG-b), one row with their summed rate and the higher p50 and p99.
wrk_two() {
    local row=$1 run=$2 server=$3 conns=$4 dur=$5 script=$6 url_a=$7 url_b=$8
    shift 8
    local c0 c1 half=$((conns / 2)) args_a=() args_b=()
    [ $# -ge 3 ] && args_a=(-- "$1" "$3-a") args_b=(-- "$2" "$3-b")
    c0=$(server_ticks "$server")
    local la=$TMP/wrk-$row-$run-a.log lb=$TMP/wrk-$row-$run-b.log
    timeout $((dur + 30)) wrk -t1 -c"$half" -d"${dur}s" --latency -H "$AUTH" \
        -s "$ROOT/bench/wrk/$script" "$url_a" "${args_a[@]}" >"$la" 2>&1 &
    local wa=$!
    timeout $((dur + 30)) wrk -t1 -c"$half" -d"${dur}s" --latency -H "$AUTH" \
        -s "$ROOT/bench/wrk/$script" "$url_b" "${args_b[@]}" >"$lb" 2>&1 &
    local wb=$!
    wait "$wa" "$wb" || true
    c1=$(server_ticks "$server")
    local a b
    a=$(grep '^WRK ' "$la" | tail -1) || true
    b=$(grep '^WRK ' "$lb" | tail -1) || true
    [ -n "$a" ] && [ -n "$b" ] || { cat "$la" "$lb" >&2; die "wrk run $row/$run produced no result"; }
    # (no "other work" figure here: the two wrk run in the background, beyond child_ticks)
    printf '%s\n%s\n' "${a#WRK }" "${b#WRK }" | awk -v row="$row" -v run="$run" -v cpu=$(((c1 - c0) * TICK_US)) '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        rps += v["rps"]; bps += v["bytes_per_s"]; req += v["requests"]; err += v["sock_errors"]; non += v["non2xx"]
        if (v["p50_us"] > p50) p50 = v["p50_us"]
        if (v["p99_us"] > p99) p99 = v["p99_us"] }
        END { printf "%s\t%s\t%.1f\t%d\t%d\t%.0f\t%d\t%d\t%d\t%.2f\t-1\t-1\n", row, run, rps, p50, p99, bps,
              req, err, non, (req > 0 ? cpu / req : 0) }' >>"$RUNS_TSV"
    log "$(printf '%-18s run %s: rps=%s p50_us=%s p99_us=%s requests=%s errors=%s cpu_us_per_req=%s' "$row" "$run" \
        $(tail -1 "$RUNS_TSV" | cut -f3,4,5,7,8,10))"
}

# pgbench_row RUN — PostgreSQL's own durable single-row inserts (1 KiB each, autocommit, the
# same synchronous_commit) with $CONNS clients: the reference of the PostgreSQL PUT rows.
pgbench_row() {
    local logf=$TMP/pgbench-$1.log c0 c1
    c0=$(pg_ticks)
    timeout $((DUR + 60)) "$PGBENCH_BIN" -n -c "$CONNS" -j 2 -T "$DUR" -f "$TMP/insert.sql" "$PG_URI" \
        >"$logf" 2>&1 || { cat "$logf" >&2; die "pgbench failed"; }
    c1=$(pg_ticks)
    awk -v run="$1" -v cpu=$(((c1 - c0) * TICK_US)) '
        /^number of transactions actually processed/ { split($0, a, ": "); split(a[2], b, "/"); n = b[1] }
        /latency average/ { lat = $4 * 1000 }
        /^tps = / { tps = $3 }
        END { printf "pgbench\t%s\t%s\t%d\t-1\t0\t%s\t0\t0\t%.2f\t-1\t1\n", run, tps, lat, n, (n > 0 ? cpu / n : 0) }' \
        "$logf" >>"$RUNS_TSV"
    log "$(printf '%-18s run %s: %s' pgbench "$1" "$(grep '^tps' "$logf")")"
}

# pgbench_get_row RUN — PostgreSQL running the statement of a kvs GET (Q_RECORD_GET of
# src/storage/pg_read.c, kept the same here: its text, prepared, with the store ID and key as
# parameters, and kvs's planner settings) with $CONNS clients: the reference of the PostgreSQL
# GET row, the database's own rate for what each GET asks of it.
pgbench_get_row() {
    local logf=$TMP/pgbench-get-$1.log c0 c1
    c0=$(pg_ticks)
    PGOPTIONS='-c enable_hashjoin=off -c enable_mergejoin=off' \
        timeout $((DUR + 60)) "$PGBENCH_BIN" -n -M prepared -c "$CONNS" -j 2 -T "$DUR" \
        -D "sid=$PG_GET_ID" -D key=1k -f "$TMP/get.sql" "$PG_URI" >"$logf" 2>&1 ||
        { cat "$logf" >&2; die "pgbench (GET) failed"; }
    c1=$(pg_ticks)
    awk -v run="$1" -v cpu=$(((c1 - c0) * TICK_US)) '
        /^number of transactions actually processed/ { split($0, a, ": "); split(a[2], b, "/"); n = b[1] }
        /latency average/ { lat = $4 * 1000 }
        /^tps = / { tps = $3 }
        END { printf "pgbench_get\t%s\t%s\t%d\t-1\t0\t%s\t0\t0\t%.2f\t-1\t1\n", run, tps, lat, n, (n > 0 ? cpu / n : 0) }' \
        "$logf" >>"$RUNS_TSV"
    log "$(printf '%-18s run %s: %s' pgbench_get "$1" "$(grep '^tps' "$logf")")"
}

fsync_row() { # RUN
    local line
    line=$(timeout $((FSYNC_DUR + 30)) "$FSYNC_BENCH" -s "$FSYNC_DUR" -b 1024 -n 1 \
        "$BENCH_DATA/fsync_bench.tmp")
    echo "$line" | awk -v run="$1" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "fsync\t%s\t%s\t%s\t%s\t0\t%s\t0\t0\t0\t-1\t1\t-1\t-1\n", run, v["records_per_s"], v["sync_p50_us"],
               v["sync_p99_us"], v["records"] }' >>"$RUNS_TSV"
    log "$(printf '%-18s run %s: %s' fsync "$1" "$line")"
}

# best ROW → "rps p50 p99 bytes_per_s min_rps max_rps runs errors cpu_us_per_req other_cpus
# writes_per_sync get_p99 put_p99" of the run with the most requests/s (best of N), or "NA".
best() {
    awk -F'\t' -v r="$1" '$1 == r {
            n++; err += $8 + $9
            if (n == 1 || $3 + 0 > b) { b = $3 + 0; p50 = $4; p99 = $5; bps = $6; cpu = $10; oth = $11; ps = $12; gp = $13; pp = $14 }
            if (n == 1 || $3 + 0 < mn) mn = $3 + 0
            if (n == 1 || $3 + 0 > mx) mx = $3 + 0 }
        END { if (!n) print "NA"; else print b, p50, p99, bps, mn, mx, n, err, cpu, oth, ps, gp, pp }' "$RUNS_TSV"
}

# ==== set-up =====================================================================================

# What is measured: the source as it is now, when kvs was just built (BENCH_REV overrides, e.g.
# for a run from an exported tree without .git).
GIT_REV=${BENCH_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
DIRTY=$(git status --porcelain -- src include 2>/dev/null) || DIRTY=
DIRTY=$(printf '%s' "$DIRTY" | grep -c . || true)
[ "$DIRTY" -gt 0 ] && GIT_REV="$GIT_REV + uncommitted changes in $DIRTY file(s) of src/, include/"
START_LOAD=$(load1)
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
log "mode: ${QUICK:+QUICK }runs=$RUNS duration=${DUR}s threads=$THREADS wrk -t$WRK_T big store=$BIG keys; load average $START_LOAD"
awk -v l="$START_LOAD" 'BEGIN { exit !(l > 0.7) }' &&
    log "WARNING: the machine is busy (load $START_LOAD): figures will be noisy"

mkdir -p "$TMP/www" "$RESULTS"
head -c 1024 /dev/zero | tr '\0' 'x' >"$TMP/www/1k.bin"
# One certificate for both TLS servers (the clients, wrk and curl --cacert, trust it directly).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null || die "openssl cannot make a certificate"
head -c 786432 /dev/urandom | base64 -w 0 >"$TMP/www/1m.bin"
head -c $((BIG_SIZE * 3 / 4)) /dev/urandom | base64 -w 0 >"$TMP/www/10m.bin"
chmod -R a+rX "$TMP"

rm -rf "$BENCH_DATA"
mkdir -p "$BENCH_DATA"
DATA_FS=$(df -T "$BENCH_DATA" | awk 'NR == 2 { print $2 " on " $1 }')
case "$DATA_FS" in tmpfs*) log "WARNING: $BENCH_DATA is on tmpfs: durable writes cost nothing there" ;; esac

log "creating the stores and records"
start_kvs
GET_ID=$(create_store bench-get)
PUT_ID=$(create_store bench-put)
K1K_ID=$(create_store bench-keys-1k)
KBIG_ID=$(create_store bench-keys-big)
[ -n "$GET_ID" ] && [ -n "$PUT_ID" ] && [ -n "$K1K_ID" ] && [ -n "$KBIG_ID" ] || die "cannot create the stores"
put_record() { # KEY FILE
    curl -sf -o /dev/null -X PUT -H "$AUTH" -H 'Content-Type: application/octet-stream' \
        --data-binary "@$2" "$KVS/v2/key-value-stores/$GET_ID/records/$1" || die "cannot PUT record $1"
}
for f in 1k 1m 10m; do put_record "$f" "$TMP/www/$f.bin"; done
for i in $(seq 0 $((HOT - 1))); do put_record "hot$i" "$TMP/www/1k.bin"; done
stop_kvs

log "bulk loading 1000 keys into $K1K_ID and $BIG keys into $KBIG_ID"
"$BULKLOAD" --data "$BENCH_DATA" --store "$K1K_ID" --count 1000 >&2
BULK_T0=$(date +%s.%N)
BULK_LINE=$("$BULKLOAD" --data "$BENCH_DATA" --store "$KBIG_ID" --count "$BIG")
echo "$BULK_LINE" >&2
BULK_RATE=$(echo "$BULK_LINE" | sed -n 's/.*(\([0-9]*\) records\/s.*/\1/p')
DB_MB=$(du -sm "$BENCH_DATA" | cut -f1)

start_kvs
RSS_START_ANON=$(rss_kb "$KVS_PID" RssAnon)
RSS_START_FILE=$(rss_kb "$KVS_PID" RssFile)
start_nginx
log "kvs on $KVS (pid $KVS_PID), nginx on $NGINX (pid $NGINX_PID)"

# Sanity: every URL answers what it should before it is loaded.
check_size() { # URL BYTES
    local got
    got=$(curl -sf --cacert "$TMP/tls.crt" -H "$AUTH" -o /dev/null -w '%{size_download}' "$1") ||
        die "GET $1 failed"
    [ "$got" = "$2" ] || die "GET $1 returned $got bytes, expected $2"
}
check_size "$KVS/v2/key-value-stores/$GET_ID/records/1k" 1024
check_size "$KVS/v2/key-value-stores/$GET_ID/records/1m" 1048576
check_size "$KVS/v2/key-value-stores/$GET_ID/records/10m" "$BIG_SIZE"
check_size "$KVS/v2/key-value-stores/$GET_ID/records/hot$((HOT - 1))" 1024
check_size "$NGINX/1k.bin" 1024
check_size "$NGINX/1m.bin" 1048576
check_size "$NGINX/10m.bin" "$BIG_SIZE"
check_size "$NGINX/mem" 1024
check_size "$NGINX_TLS/1k.bin" 1024
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$TMP/www/1k.bin" "$NGINX/dav/check")
[ "$code" = 201 ] || die "nginx WebDAV PUT answered $code (is the dav module in this nginx? nginx -V)"
rm -f "$SHM/dav/check"
MID=$(printf 'k%07d' $((BIG / 2)))
KEYS_1K_URL="$KVS/v2/key-value-stores/$K1K_ID/keys?limit=1000"
KEYS_BIG_URL="$KVS/v2/key-value-stores/$KBIG_ID/keys?limit=1000&exclusiveStartKey=$MID"
for u in "$KEYS_1K_URL" "$KEYS_BIG_URL"; do
    count=$(curl -sf -H "$AUTH" "$u" | grep -o '"count":[0-9]*' | cut -d: -f2)
    [ "$count" = 1000 ] || die "keys page $u has count $count, expected 1000"
done

# ==== the runs ===================================================================================

# First, right after loading: the RSS that matters is the one with the big store open.
log "keys page of 1000 (-c1), 1K-key store vs $BIG-key store"
for r in $(seq "$RUNS"); do
    wrk_row keys_1k "$r" kvs 1 "$KEYS_DUR" get.lua "$KEYS_1K_URL"
    wrk_row keys_big "$r" kvs 1 "$KEYS_DUR" get.lua "$KEYS_BIG_URL"
done
RSS_KEYS_ANON=$(rss_kb "$KVS_PID" RssAnon)
RSS_KEYS_FILE=$(rss_kb "$KVS_PID" RssFile)

log "GET 1 KiB (-c$CONNS)"
for r in $(seq "$RUNS"); do
    wrk_row get1k_kvs "$r" kvs $CONNS "$DUR" get.lua "$KVS/v2/key-value-stores/$GET_ID/records/1k"
    wrk_row get1k_nginx_file "$r" nginx $CONNS "$DUR" get.lua "$NGINX/1k.bin"
    wrk_row get1k_nginx_mem "$r" nginx $CONNS "$DUR" get.lua "$NGINX/mem"
done

log "GET 1 MiB (-c$CONNS)"
for r in $(seq "$RUNS"); do
    wrk_row get1m_kvs "$r" kvs $CONNS "$DUR" get.lua "$KVS/v2/key-value-stores/$GET_ID/records/1m"
    wrk_row get1m_nginx_file "$r" nginx $CONNS "$DUR" get.lua "$NGINX/1m.bin"
done

# TLS: a second kvs on the same data (LMDB takes several processes), serving HTTPS with the
# certificate nginx's TLS server has. The protocol and cipher each negotiates go in the report.
launch_kvs "$BENCH_DATA" "$TMP/kvs-tls.log" --tls-cert "$TMP/tls.crt" --tls-key "$TMP/tls.key"
KVS_TLS_PID=$LAUNCHED_PID KVS_TLS=$LAUNCHED_URL
check_size "$KVS_TLS/v2/key-value-stores/$GET_ID/records/1k" 1024
negotiated() { # URL → "TLSv1.3 TLS_AES_128_GCM_SHA256"
    local hp=${1#https://}
    hp=${hp%%/*}
    openssl s_client -connect "$hp" </dev/null 2>/dev/null | sed -n 's/^New, \(.*\), Cipher is \(.*\)/\1 \2/p'
}
TLS_KVS_SUITE=$(negotiated "$KVS_TLS")
TLS_NGINX_SUITE=$(negotiated "$NGINX_TLS")
log "GET 1 KiB over TLS (-c$CONNS): kvs $TLS_KVS_SUITE, nginx $TLS_NGINX_SUITE"
for r in $(seq "$RUNS"); do
    wrk_row get1k_tls_kvs "$r" kvs_tls $CONNS "$DUR" get.lua "$KVS_TLS/v2/key-value-stores/$GET_ID/records/1k"
    wrk_row get1k_tls_nginx "$r" nginx $CONNS "$DUR" get.lua "$NGINX_TLS/1k.bin"
done
stop_pid "$KVS_TLS_PID"
KVS_TLS_PID=

# The disk's rate and the PUT rows in the same rounds: a disk that is slow for a while (other
# work syncing too) then slows the reference and kvs alike.
# What limits the durable PUT: the same binary and requests with the data directory on tmpfs,
# where every sync returns at once. That row is what this machine's CPUs do at 64 connections
# when durability costs nothing; the durable row can only approach it.
mkdir -p "$SHM/kvs-data"
launch_kvs "$SHM/kvs-data" "$TMP/kvs-tmpfs.log"
KVS_TMPFS_PID=$LAUNCHED_PID KVS_TMPFS=$LAUNCHED_URL
TMPFS_PUT_ID=$(create_store bench-put "$KVS_TMPFS")
[ -n "$TMPFS_PUT_ID" ] || die "cannot create the store on the tmpfs kvs"
log "durable PUT 1 KiB, distinct keys, and the disk: 1 KiB appends, fdatasync each (${FSYNC_DUR}s)"
for r in $(seq "$RUNS"); do
    fsync_row "$r"
    for c in $PUT_CONNS; do
        wrk_row "put_kvs_c$c" "$r" kvs "$c" "$DUR" put.lua "$KVS" -- \
            "/v2/key-value-stores/$PUT_ID/records/" "c$c-r$r"
        rm -rf "$SHM/dav" && mkdir -p "$SHM/dav"
        wrk_row "put_dav_c$c" "$r" nginx "$c" "$DUR" put.lua "$NGINX" -- "/dav/" "c$c-r$r"
        rm -rf "$SHM/dav" && mkdir -p "$SHM/dav"
    done
    wrk_row put_kvs_tmpfs_c$CONNS "$r" kvs_tmpfs $CONNS "$DUR" put.lua "$KVS_TMPFS" -- \
        "/v2/key-value-stores/$TMPFS_PUT_ID/records/" "c$CONNS-r$r"
done
stop_pid "$KVS_TMPFS_PID"
KVS_TMPFS_PID=
rm -rf "$SHM/kvs-data"

RSS_END_ANON=$(rss_kb "$KVS_PID" RssAnon)
RSS_END_FILE=$(rss_kb "$KVS_PID" RssFile)
RSS_HWM=$(rss_kb "$KVS_PID" VmHWM)

# Reads beside writes: GETs must never wait for the writer or a sync. The same client (mixload,
# which tells GET and PUT latencies apart) with GETs only is the reference.
log "mixed load (-c$CONNS): 90 % GET of $HOT hot 1 KiB records, 10 % durable PUT 1 KiB; and GETs only"
for r in $(seq "$RUNS"); do
    mix_row mixed_get_only "$r" 0
    mix_row mixed "$r" 10
done

# Large records, last: the RSS figures above are of the small rows. kvs's peak RSS is read
# during each of its PUT runs: anonymous memory (where the bodies are) sampled, and VmHWM
# (clear_refs 5 resets it first), which also counts the map pages that reads touched: so the
# PUTs come first in each round, and RssFile before the row is told too.
log "10 MiB records (-c$BIG_CONNS): durable PUT vs nginx WebDAV PUT into tmpfs, GET vs nginx static file"
BIG_PUT_ANON=0 BIG_PUT_HWM=0 BIG_PUT_FILE0=0
for r in $(seq "$RUNS"); do
    echo 5 >"/proc/$KVS_PID/clear_refs" 2>/dev/null || log "cannot reset kvs's peak RSS; it counts from the start"
    file0=$(rss_kb "$KVS_PID" RssFile)
    anon_peak_start "$KVS_PID"
    wrk_row put10m_kvs "$r" kvs $BIG_CONNS "$DUR" put.lua "$KVS" -- \
        "/v2/key-value-stores/$PUT_ID/records/" "big-r$r" "$BIG_SIZE" $BIG_CONNS
    anon=$(anon_peak_stop)
    hwm=$(rss_kb "$KVS_PID" VmHWM)
    if [ "$anon" -gt "$BIG_PUT_ANON" ]; then
        BIG_PUT_ANON=$anon BIG_PUT_HWM=$hwm BIG_PUT_FILE0=$file0
    fi
    rm -rf "$SHM/dav" && mkdir -p "$SHM/dav"
    wrk_row put10m_dav "$r" nginx $BIG_CONNS "$DUR" put.lua "$NGINX" -- "/dav/" "big-r$r" "$BIG_SIZE" $BIG_CONNS
    rm -rf "$SHM/dav" && mkdir -p "$SHM/dav"
    wrk_row get10m_kvs "$r" kvs $BIG_CONNS "$DUR" get.lua "$KVS/v2/key-value-stores/$GET_ID/records/10m"
    wrk_row get10m_nginx "$r" nginx $BIG_CONNS "$DUR" get.lua "$NGINX/10m.bin"
done

# xfer_row ROW RUN CMD… — one timed transfer of HUGE_SIZE bytes by CMD (curl, dd, a function;
# each bounded in time itself); its rate in bytes/s goes where best() looks (req_per_s and
# bytes_per_s), a failure counts as an error.
xfer_row() {
    local row=$1 run=$2 t0 t1 ok=0
    shift 2
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>>"$TMP/xfer.err" && ok=1
    t1=$(date +%s.%N)
    awk -v row="$row" -v run="$run" -v n="$HUGE_SIZE" -v a="$t0" -v b="$t1" -v ok="$ok" 'BEGIN {
        bps = ok ? n / (b - a) : 0
        printf "%s\t%s\t%.0f\t0\t0\t%.0f\t1\t0\t%d\t-1\t-1\t-1\t-1\t-1\n", row, run, bps, bps, !ok }' >>"$RUNS_TSV"
    log "$(printf '%-18s run %s: %s' "$row" "$run" "$(tail -1 "$RUNS_TSV" | cut -f6) B/s")"
}

# kvs's peak RSS above RSS0 (kB) since the last reset: VmHWM - RSS0.
hwm_above() { echo $(($(rss_kb "$KVS_PID" VmHWM) - $1)); }

# Large records: one 1 GiB value (QUICK: 64 MiB), random bytes kept in /dev/shm so that both
# sides read it from memory; nginx serves the same bytes (a link in its root).
HUGE_SIZE=$([ -n "$QUICK" ] && echo $((64 << 20)) || echo $((1 << 30)))
HUGE_N=8
HUGE_H=$((HUGE_SIZE >> 20))
head -c "$HUGE_SIZE" /dev/urandom >"$SHM/huge.bin"
ln -sf "$SHM/huge.bin" "$TMP/www/huge.bin"
HUGE_ID=$(create_store bench-huge)
[ -n "$HUGE_ID" ] || die "cannot create the store of the large records"
HUGE_URL="$KVS/v2/key-value-stores/$HUGE_ID/records"
put_huge() { # KEY → a curl PUT of the value, streamed from the file, failing on an HTTP error
    curl -sf --max-time 600 -o /dev/null -X PUT -H "$AUTH" \
        -H 'Content-Type: application/octet-stream' -T "$SHM/huge.bin" "$HUGE_URL/$1"
}
get_huge() { curl -sf --max-time 600 -o /dev/null -H "$AUTH" "$HUGE_URL/$1"; }
log "large records: ${HUGE_H} MiB PUT vs dd conv=fdatasync, GET vs nginx; peak RSS of $HUGE_N at once"
for r in $(seq "$RUNS"); do
    xfer_row huge_put_kvs "$r" put_huge "h$r"
    xfer_row huge_put_dd "$r" timeout 600 dd if="$SHM/huge.bin" of="$BENCH_DATA/dd.bin" bs=1M \
        conv=fdatasync status=none
    rm -f "$BENCH_DATA/dd.bin"
    xfer_row huge_get_kvs "$r" get_huge "h$r"
    xfer_row huge_get_nginx "$r" curl -sf --max-time 600 -o /dev/null "$NGINX/huge.bin"
done
check_size "$HUGE_URL/h1" "$HUGE_SIZE"
# peak RSS of 8 concurrent PUTs, then 8 concurrent GETs, over the idle server
HUGE_RSS0=$(rss_kb "$KVS_PID" VmRSS)
echo 5 >"/proc/$KVS_PID/clear_refs" 2>/dev/null || log "cannot reset kvs's peak RSS"
pids=()
for i in $(seq "$HUGE_N"); do put_huge "c$i" & pids+=($!); done
wait "${pids[@]}" || log "a concurrent PUT of the large record failed"
HUGE_PUT_HWM=$(hwm_above "$HUGE_RSS0")
echo 5 >"/proc/$KVS_PID/clear_refs" 2>/dev/null || true
pids=()
for i in $(seq "$HUGE_N"); do get_huge "c$i" & pids+=($!); done
wait "${pids[@]}" || log "a concurrent GET of the large record failed"
HUGE_GET_HWM=$(hwm_above "$HUGE_RSS0")
for i in $(seq "$HUGE_N"); do curl -sf -o /dev/null -X DELETE -H "$AUTH" "$HUGE_URL/c$i" || true; done
# a gzip bomb: 100 MiB of zeros stored gzip-coded (about 100 KiB), read decoded by 8 at once
head -c $((100 << 20)) /dev/zero | gzip -1 >"$TMP/bomb.gz"
curl -sf -o /dev/null -X PUT -H "$AUTH" -H 'Content-Type: application/octet-stream' \
    -H 'Content-Encoding: gzip' --data-binary "@$TMP/bomb.gz" "$HUGE_URL/bomb" ||
    die "cannot PUT the gzip bomb"
echo 5 >"/proc/$KVS_PID/clear_refs" 2>/dev/null || true
pids=()
for i in $(seq "$HUGE_N"); do
    curl -sf -o /dev/null -H "$AUTH" -H 'Accept-Encoding: identity' "$HUGE_URL/bomb" &
    pids+=($!)
done
wait "${pids[@]}" || log "an identity GET of the gzip bomb failed"
BOMB_HWM=$(hwm_above "$HUGE_RSS0")
rm -f "$TMP/www/huge.bin" # $SHM/huge.bin goes after the PostgreSQL rows
log "peak RSS over idle: ${HUGE_PUT_HWM} kB during $HUGE_N PUTs, ${HUGE_GET_HWM} kB during $HUGE_N GETs, ${BOMB_HWM} kB during $HUGE_N bomb GETs"
stop_kvs

# PostgreSQL: a cluster of our own, durable (fsync on), its data in $TMPDIR (the real disk here
# unless TMPDIR is a tmpfs: said in the report). One node, then two on the same database.
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bench.pg.XXXXXX")
chmod 0755 "$PG_DIR"
PG_DIR=$PG_DIR/c
PG_URI=$("$ROOT/tests/pg/cluster.sh" start "$PG_DIR" --durable) || die "cannot start PostgreSQL"
PG_FS=$(df -T "$PG_DIR" | awk 'NR == 2 { print $2 " on " $1 }')
PG_V=$(psql -Atc 'SHOW server_version' "$PG_URI")
psql -qc 'CREATE TABLE bench_insert (id bigserial PRIMARY KEY, v bytea NOT NULL)' "$PG_URI"
echo "INSERT INTO bench_insert (v) VALUES (decode(repeat('78', 1024), 'hex'));" >"$TMP/insert.sql"
# kvs's GET statement (src/storage/pg_read.c, Q_RECORD_GET with NOT_DEAD), its parameters :sid, :key
cat >"$TMP/get.sql" <<'SQL'
SELECT e.v, r.content_type, r.encoding, r.value, r.version, r.modified_ms, r.blob, r.blob_size FROM kvs_epoch e LEFT JOIN kvs_records r ON r.store_id = :sid::text AND r.key = :key::text AND NOT EXISTS (SELECT FROM kvs_dead_stores d WHERE d.store_id = :sid::text);
SQL
launch_kvs "$PG_URI" "$TMP/kvs-pg-a.log"
KVS_PG_PIDS=$LAUNCHED_PID KVS_PG_A=$LAUNCHED_URL
PG_GET_ID=$(create_store bench-get "$KVS_PG_A")
PG_PUT_ID=$(create_store bench-put "$KVS_PG_A")
PG_PUT_B_ID=$(create_store bench-put-b "$KVS_PG_A")
[ -n "$PG_GET_ID" ] && [ -n "$PG_PUT_ID" ] && [ -n "$PG_PUT_B_ID" ] ||
    die "cannot create the stores on PostgreSQL"
curl -sf -o /dev/null -X PUT -H "$AUTH" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$TMP/www/1k.bin" "$KVS_PG_A/v2/key-value-stores/$PG_GET_ID/records/1k" ||
    die "cannot PUT the 1 KiB record on PostgreSQL"
check_size "$KVS_PG_A/v2/key-value-stores/$PG_GET_ID/records/1k" 1024
log "PostgreSQL $PG_V ($PG_FS): one node, GET and durable PUT 1 KiB (-c$CONNS), pgbench inserts and kvs's GET statement"
for r in $(seq "$RUNS"); do
    wrk_row get1k_pg1 "$r" kvs_pg $CONNS "$DUR" get.lua "$KVS_PG_A/v2/key-value-stores/$PG_GET_ID/records/1k"
    wrk_row put_pg1_c$CONNS "$r" kvs_pg $CONNS "$DUR" put.lua "$KVS_PG_A" -- \
        "/v2/key-value-stores/$PG_PUT_ID/records/" "pg1-r$r"
    pgbench_row "$r"
    pgbench_get_row "$r"
done
# the large record through this node: its value in chunks of the database, streamed both ways
PG_HUGE_ID=$(create_store bench-huge "$KVS_PG_A")
[ -n "$PG_HUGE_ID" ] || die "cannot create the store of the large records on PostgreSQL"
PG_HUGE_RSS0=$(rss_kb "$KVS_PG_PIDS" VmRSS)
echo 5 >"/proc/$KVS_PG_PIDS/clear_refs" 2>/dev/null || log "cannot reset kvs's peak RSS"
log "PostgreSQL: ${HUGE_H} MiB PUT and GET through one node"
HUGE_URL="$KVS_PG_A/v2/key-value-stores/$PG_HUGE_ID/records" # for put_huge, get_huge
for r in $(seq "$RUNS"); do
    xfer_row huge_put_pg "$r" put_huge "h$r"
    xfer_row huge_get_pg "$r" get_huge "h$r"
done
PG_HUGE_HWM=$(($(rss_kb "$KVS_PG_PIDS" VmHWM) - PG_HUGE_RSS0))
check_size "$HUGE_URL/h1" "$HUGE_SIZE"
rm -f "$SHM/huge.bin"
launch_kvs "$PG_URI" "$TMP/kvs-pg-b.log"
KVS_PG_PIDS="$KVS_PG_PIDS $LAUNCHED_PID" KVS_PG_B=$LAUNCHED_URL
log "PostgreSQL: two nodes, $((CONNS / 2)) connections each"
for r in $(seq "$RUNS"); do
    wrk_two get1k_pg2 "$r" kvs_pg2 $CONNS "$DUR" get.lua \
        "$KVS_PG_A/v2/key-value-stores/$PG_GET_ID/records/1k" "$KVS_PG_B/v2/key-value-stores/$PG_GET_ID/records/1k"
    # Each node writes to a store of its own: writes to one store are committed one batch after
    # the other, whichever node they come through (its stats row is locked until the commit).
    wrk_two put_pg2_c$CONNS "$r" kvs_pg2 $CONNS "$DUR" put.lua "$KVS_PG_A" "$KVS_PG_B" \
        "/v2/key-value-stores/$PG_PUT_ID/records/" "/v2/key-value-stores/$PG_PUT_B_ID/records/" "pg2-r$r"
done
for p in $KVS_PG_PIDS; do stop_pid "$p"; done
KVS_PG_PIDS=
"$ROOT/tests/pg/cluster.sh" stop "$PG_DIR"
rm -rf "${PG_DIR%/c}"
PG_DIR=
END_LOAD=$(load1)

# ==== the report =================================================================================

read -r G1K_KVS _ _ _ _ _ _ _ G1K_KVS_CPU _ <<<"$(best get1k_kvs)"
read -r G1K_NF _ _ _ _ _ _ _ G1K_NF_CPU _ <<<"$(best get1k_nginx_file)"
read -r G1K_NM _ _ _ _ _ _ _ G1K_NM_CPU _ <<<"$(best get1k_nginx_mem)"
read -r G1K_TLS_KVS _ _ _ _ _ _ _ G1K_TLS_KVS_CPU _ <<<"$(best get1k_tls_kvs)"
read -r G1K_TLS_NGINX _ _ _ _ _ _ _ G1K_TLS_NGINX_CPU _ <<<"$(best get1k_tls_nginx)"
read -r _ _ _ G1M_KVS_BPS _ <<<"$(best get1m_kvs)"
read -r _ _ _ G1M_NF_BPS _ <<<"$(best get1m_nginx_file)"
read -r FSYNC_RATE _ <<<"$(best fsync)"
read -r HPUT_KVS _ <<<"$(best huge_put_kvs)"
read -r HPUT_DD _ <<<"$(best huge_put_dd)"
read -r HGET_KVS _ <<<"$(best huge_get_kvs)"
read -r HGET_NGINX _ <<<"$(best huge_get_nginx)"
read -r HPUT_PG _ <<<"$(best huge_put_pg)"
read -r HGET_PG _ <<<"$(best huge_get_pg)"
read -r PUT64 _ PUT64_P99 _ _ _ _ _ PUT64_CPU _ <<<"$(best put_kvs_c64)"
read -r DAV64 _ _ _ _ _ _ _ DAV64_CPU _ <<<"$(best put_dav_c64)"
read -r TMPFS64 _ _ _ _ _ _ _ TMPFS64_CPU _ <<<"$(best put_kvs_tmpfs_c$CONNS)"
read -r _ K1K_P50 _ _ _ _ _ _ K1K_CPU _ <<<"$(best keys_1k)"
read -r _ KBIG_P50 _ _ _ _ _ _ KBIG_CPU _ <<<"$(best keys_big)"
read -r MIX_RPS _ _ _ _ _ _ _ MIX_CPU _ _ MIX_GET_P99 MIX_PUT_P99 <<<"$(best mixed)"
read -r MIXG_RPS _ _ _ _ _ _ _ _ _ _ MIXG_GET_P99 _ <<<"$(best mixed_get_only)"
read -r _ _ G1K_KVS_P99 _ <<<"$(best get1k_kvs)"
read -r _ _ _ G10_KVS_BPS _ <<<"$(best get10m_kvs)"
read -r _ _ _ G10_NF_BPS _ <<<"$(best get10m_nginx)"
read -r P10_KVS _ _ _ _ _ _ _ P10_KVS_CPU _ <<<"$(best put10m_kvs)"
read -r P10_DAV _ _ _ _ _ _ _ P10_DAV_CPU _ <<<"$(best put10m_dav)"
P10_KVS_BPS=$(awk -v r="$P10_KVS" -v s="$BIG_SIZE" 'BEGIN { printf "%.0f", r * s }')
P10_DAV_BPS=$(awk -v r="$P10_DAV" -v s="$BIG_SIZE" 'BEGIN { printf "%.0f", r * s }')
KEY_CPU=$(awk -v c="$K1K_CPU" 'BEGIN { printf "%.3f", c / 1000 }') # a page is 1,000 keys
read -r G1K_PG1 _ _ _ _ _ _ _ G1K_PG1_CPU _ <<<"$(best get1k_pg1)"
read -r G1K_PG2 _ <<<"$(best get1k_pg2)"
read -r PUT_PG1 _ PUT_PG1_P99 _ _ _ _ _ PUT_PG1_CPU _ <<<"$(best put_pg1_c$CONNS)"
read -r PUT_PG2 _ <<<"$(best put_pg2_c$CONNS)"
read -r PGBENCH _ _ _ _ _ _ _ PGBENCH_CPU _ <<<"$(best pgbench)"
read -r PGBENCH_GET _ _ _ _ _ _ _ PGBENCH_GET_CPU _ <<<"$(best pgbench_get)"
read -r _ PUT1_P50 _ <<<"$(best put_kvs_c1)"
read -r _ FSYNC_P50 _ <<<"$(best fsync)"
RSS_MAX_ANON=$(printf '%s\n' "$RSS_START_ANON" "$RSS_KEYS_ANON" "$RSS_END_ANON" | sort -n | tail -1)

# awk helpers shared by the report: number formatting.
AWK_FMT='
function commas(x,   s, neg) { x = sprintf("%.0f", x); neg = x ~ /^-/; sub(/^-/, "", x)
    s = ""; while (length(x) > 3) { s = "," substr(x, length(x) - 2) s; x = substr(x, 1, length(x) - 3) }
    return (neg ? "-" : "") x s }
function us(x) { return x < 1000 ? sprintf("%d µs", x) : sprintf("%.2f ms", x / 1000) }
function mib(x) { return sprintf("%.0f MiB/s", x / 1048576) }
'
ratio() { awk "BEGIN { printf \"%.2f\", ($1) / ($2) }"; }
verdict() { # VALUE OP TARGET
    awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
        ok = (op == ">=") ? v >= t : (op == "<=") ? v <= t : v < t
        print ok ? "PASS" : "MISS" }'
}

R1=$(ratio "$G1K_KVS" "$G1K_NF")
R2=$(ratio "$G1K_KVS" "$G1K_NM")
R3=$(ratio "$G1M_KVS_BPS" "$G1M_NF_BPS")
R4=$(ratio "$PUT64" "$FSYNC_RATE")
R5=$(ratio "$PUT64_P99" 10000)
R6=$(ratio "$PUT64" "$DAV64")
R7=$(ratio "$KBIG_P50" "$K1K_P50")
R8=$(ratio "$RSS_MAX_ANON" 65536)
R9=$(ratio "$TMPFS64" "$FSYNC_RATE")
R10=$(ratio "$PUT64" "$TMPFS64")
R11=$(ratio "$G1K_TLS_KVS" "$G1K_TLS_NGINX")
R12=$(ratio "$G1K_KVS_CPU" "$G1K_NM_CPU")
R13=$(ratio "$PUT64_CPU" "$G1K_KVS_CPU")
R14=$(ratio "$MIX_GET_P99" "$MIXG_GET_P99")
R15=$(ratio "$G10_KVS_BPS" "$G10_NF_BPS")
R16=$(ratio "$P10_KVS_BPS" "$P10_DAV_BPS")
R17=$(ratio "$BIG_PUT_ANON" $((2 * BIG_CONNS * BIG_SIZE / 1024)))
R18=$(ratio "$KEY_CPU" 0.35)
R27=$(ratio "$HPUT_KVS" "$HPUT_DD")
R28=$(ratio "$HGET_KVS" "$HGET_NGINX")
R29=$(ratio "$( ((HUGE_PUT_HWM > HUGE_GET_HWM)) && echo "$HUGE_PUT_HWM" || echo "$HUGE_GET_HWM")" 65536)
R30=$(ratio "$BOMB_HWM" 65536)
R31=$(ratio "$HPUT_PG" "$HPUT_KVS")
R32=$(ratio "$HGET_PG" "$HGET_KVS")
R33=$(ratio "$PG_HUGE_HWM" 65536)
R21=$(ratio "$G1K_PG1" "$G1K_KVS")
R22=$(ratio "$G1K_PG2" "$G1K_KVS")
R23=$(ratio "$PUT_PG1" "$PGBENCH")
R24=$(ratio "$PUT_PG2" "$PGBENCH")
R25=$(ratio "$PUT1_P50" "$FSYNC_P50")
R26=$(ratio "$G1K_PG1" "$PGBENCH_GET")
V1=$(verdict "$R1" ">=" 1.0)
V2=$(verdict "$R2" ">=" 0.9)
V3=$(verdict "$R3" ">=" 0.9)
V4=$(verdict "$R4" ">=" 8)
V5=$(verdict "$PUT64_P99" "<" 10000)
V6=$(verdict "$R6" ">=" 1.0)
V7=$(verdict "$R7" "<=" 1.5)
V8=$(verdict "$RSS_MAX_ANON" "<" 65536)
V11=$(verdict "$R11" ">=" 0.9)
V12=$(verdict "$R12" "<=" 1.1)
V13=$(verdict "$R13" "<=" 2)
V14=$(verdict "$R14" "<=" 1.5)
V15=$(verdict "$R15" ">=" 1.0)
V16=$(verdict "$R16" ">=" 1.0)
V17=$(verdict "$R17" "<=" 1.0)
V18=$(verdict "$KEY_CPU" "<=" 0.35)
V27=$(verdict "$R27" ">=" 0.8)
V28=$(verdict "$R28" ">=" 1.0)
V29=$(verdict "$R29" "<=" 1.0)
V30=$(verdict "$R30" "<=" 1.0)
V33=$(verdict "$R33" "<=" 1.0)
V21=$(verdict "$R21" ">=" 0.5)
V22=$(verdict "$R22" ">=" 0.5)
V23=$(verdict "$R23" ">=" 1.0)
V24=$(verdict "$R24" ">=" 1.0)
V10=$(verdict "$R10" ">=" 0.85)
V25=$(verdict "$R25" "<=" 1.5)
V26=$(verdict "$R26" ">=" 0.7)

row_line() { # ROW LABEL CONNS [bw|put] → a markdown row of the measurements table (bw: show
    local b   # the response throughput; put: the request bodies', BIG_SIZE each)
    b=$(best "$1")
    [ "$b" = NA ] && return 0
    echo "$b" | awk -v label="$2" -v c="$3" -v showbw="${4:-}" -v big="$BIG_SIZE" "$AWK_FMT"'{
        bw = (showbw == "bw") ? mib($4) : (showbw == "put") ? mib($1 * big) : "—"
        spread = ($7 > 1) ? sprintf(" [%s–%s]", commas($5), commas($6)) : ""
        cpu = ($9 > 0) ? sprintf("%.1f µs", $9) : "—"
        oth = ($10 >= 0) ? sprintf("%.2f", $10) : "—"
        ps = ($11 >= 0) ? $11 : "—"
        printf "| %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %s |\n", label, c, commas($1), spread, bw,
               us($2), us($3), cpu, ps, oth, $8 }'
}

OTHER_AVG=$(awk -F'\t' '$11 >= 0 { n++; t += $11 } END { printf "%.2f", n ? t / n : 0 }' "$RUNS_TSV")
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GB=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
NGINX_V=$(nginx -v 2>&1 | sed 's/^nginx version: //')
WRK_V=$( (wrk --version 2>&1 || true) | awk 'NR == 1 { print $2 }')
MODE=$([ -n "$QUICK" ] && echo "QUICK smoke run ($RUNS run of ${DUR}s per row; not for comparison)" ||
    echo "full run (best of $RUNS runs of ${DUR}s per row)")
BIG_H=$(awk -v n="$BIG" "$AWK_FMT"'BEGIN { print commas(n) }')

{
    echo "# kvstore benchmark ($NAME)"
    echo
    echo "$START_DATE · $MODE · kvs $GIT_REV"
    echo
    echo "Machine: $(nproc) CPUs ($CPU_MODEL), $MEM_GB GiB, kernel $(uname -r); kvs data on $DATA_FS;"
    echo "load average $START_LOAD at the start, $END_LOAD at the end; other work on the machine during the load runs:"
    awk -F'\t' '$11 >= 0 { n++; t += $11; if ($11 > m) m = $11 }
        END { printf "%.2f CPUs on average, %.2f at most (0 = a quiet machine; see the last columns below).\n", n ? t / n : 0, m }' "$RUNS_TSV"
    echo "$NGINX_V, wrk $WRK_V, PostgreSQL $PG_V (its data on $PG_FS, fsync on). Loopback only, HTTP/1.1 keep-alive."
    echo
    echo "Pairing: kvs \`--threads $THREADS\` (plus its storage writer thread), nginx \`worker_processes $THREADS\`"
    echo "(sendfile on, access_log off, keepalive_requests 1000000), wrk \`-t$WRK_T --latency\`, \`-c$CONNS\` unless the row says."
    echo "Each row is the best of $RUNS run(s) by req/s ([min–max] of the runs), latency of that run. kvs and its reference ran interleaved."
    echo
    echo "## Targets"
    echo
    echo "| target | kvs | reference | ratio | goal | result |"
    echo "| --- | --- | --- | --- | --- | --- |"
    awk -v a="$G1K_KVS" -v b="$G1K_NF" -v c="$G1K_NM" -v r1="$R1" -v r2="$R2" -v v1="$V1" -v v2="$V2" "$AWK_FMT"'BEGIN {
        printf "| GET 1 KiB vs nginx static file | %s req/s | %s req/s | %s× | ≥ 1.0× | %s |\n", commas(a), commas(b), r1, v1
        printf "| GET 1 KiB vs nginx from memory | %s req/s | %s req/s | %s× | ≥ 0.9× | %s |\n", commas(a), commas(c), r2, v2 }'
    awk -v a="$G1K_TLS_KVS" -v b="$G1K_TLS_NGINX" -v r="$R11" -v v="$V11" "$AWK_FMT"'BEGIN {
        printf "| GET 1 KiB over TLS vs nginx over TLS, same file and certificate | %s req/s | %s req/s | %s× | ≥ 0.9× | %s |\n", commas(a), commas(b), r, v }'
    awk -v a="$G1M_KVS_BPS" -v b="$G1M_NF_BPS" -v r="$R3" -v v="$V3" "$AWK_FMT"'BEGIN {
        printf "| GET 1 MiB vs nginx static file | %s | %s | %s× | ≥ 0.9× | %s |\n", mib(a), mib(b), r, v }'
    awk -v a="$PUT64" -v b="$FSYNC_RATE" -v r="$R4" -v v="$V4" "$AWK_FMT"'BEGIN {
        printf "| durable PUT 1 KiB, 64 conn., vs disk 1 KiB + fdatasync each | %s req/s | %s writes/s | %s× | ≥ 8× | %s |\n", commas(a), commas(b), r, v }'
    awk -v a="$PUT1_P50" -v b="$FSYNC_P50" -v r="$R25" -v v="$V25" "$AWK_FMT"'BEGIN {
        printf "| lone durable PUT 1 KiB (1 conn.), p50 latency vs the disk: 1 KiB append + fdatasync | %s | %s | %s× | ≤ 1.5× | %s |\n", us(a), us(b), r, v }'
    awk -v a="$PUT64" -v b="$TMPFS64" -v r="$R10" -v v="$V10" "$AWK_FMT"'BEGIN {
        printf "| durable PUT 1 KiB, 64 conn., vs the same kvs with its data on tmpfs (the CPU bound) | %s req/s | %s req/s | %s× | ≥ 0.85× | %s |\n", commas(a), commas(b), r, v }'
    awk -v p="$PUT64_P99" -v v="$V5" "$AWK_FMT"'BEGIN {
        printf "| durable PUT 1 KiB, 64 conn., p99 latency | %s | — | — | < 10 ms | %s |\n", us(p), v }'
    awk -v a="$PUT64" -v b="$DAV64" -v r="$R6" -v v="$V6" "$AWK_FMT"'BEGIN {
        printf "| (stretch) durable PUT vs nginx WebDAV PUT into tmpfs, 64 conn. | %s req/s | %s req/s | %s× | ≥ 1.0× | %s |\n", commas(a), commas(b), r, v }'
    awk -v a="$KBIG_P50" -v b="$K1K_P50" -v r="$R7" -v v="$V7" -v n="$BIG_H" "$AWK_FMT"'BEGIN {
        printf "| keys page of 1,000: %s-key store vs 1,000-key store (median latency) | %s | %s | %s× | ≤ 1.5× | %s |\n", n, us(a), us(b), r, v }'
    awk -v a="$RSS_MAX_ANON" -v v="$V8" -v n="$BIG_H" 'BEGIN {
        printf "| server RSS (anonymous) with the %s-key store, highest seen | %.1f MiB | — | — | < 64 MiB | %s |\n", n, a / 1024, v }'
    awk -v a="$G1K_KVS_CPU" -v b="$G1K_NM_CPU" -v r="$R12" -v v="$V12" 'BEGIN {
        printf "| GET 1 KiB: server CPU per request vs nginx from memory | %s µs | %s µs | %s× | ≤ 1.1× | %s |\n", a, b, r, v }'
    awk -v a="$PUT64_CPU" -v b="$G1K_KVS_CPU" -v r="$R13" -v v="$V13" 'BEGIN {
        printf "| durable PUT 1 KiB, 64 conn.: server CPU per PUT vs per GET 1 KiB | %s µs | %s µs | %s× | ≤ 2× | %s |\n", a, b, r, v }'
    awk -v a="$MIX_GET_P99" -v b="$MIXG_GET_P99" -v r="$R14" -v v="$V14" -v t="$MIX_RPS" "$AWK_FMT"'BEGIN {
        printf "| mixed 90 %% GET / 10 %% durable PUT, 64 conn. (%s req/s in all): GET p99 vs GETs only | %s | %s | %s× | ≤ 1.5× | %s |\n", commas(t), us(a), us(b), r, v }'
    awk -v a="$G10_KVS_BPS" -v b="$G10_NF_BPS" -v r="$R15" -v v="$V15" -v c="$BIG_CONNS" "$AWK_FMT"'BEGIN {
        printf "| GET 10 MiB vs nginx static file, %s conn. | %s | %s | %s× | ≥ 1.0× | %s |\n", c, mib(a), mib(b), r, v }'
    awk -v a="$P10_KVS_BPS" -v b="$P10_DAV_BPS" -v r="$R16" -v v="$V16" -v c="$BIG_CONNS" "$AWK_FMT"'BEGIN {
        printf "| durable PUT 10 MiB vs nginx WebDAV PUT into tmpfs, %s conn. | %s | %s | %s× | ≥ 1.0× | %s |\n", c, mib(a), mib(b), r, v }'
    awk -v a="$BIG_PUT_ANON" -v v="$V17" -v lim=$((2 * BIG_CONNS * BIG_SIZE / 1048576)) 'BEGIN {
        printf "| server peak RSS (anonymous) during the durable PUT 10 MiB row | %.1f MiB | — | — | ≤ %d MiB | %s |\n", a / 1024, lim, v }'
    awk -v a="$KEY_CPU" -v v="$V18" 'BEGIN {
        printf "| keys page of 1,000: server CPU per key | %.3f µs | — | — | ≤ 0.35 µs | %s |\n", a, v }'
    awk -v a="$HPUT_KVS" -v b="$HPUT_DD" -v r="$R27" -v v="$V27" -v n="$HUGE_H" "$AWK_FMT"'BEGIN {
        printf "| durable PUT of a %s MiB record vs dd conv=fdatasync of the same bytes, same disk | %s | %s | %s× | ≥ 0.8× | %s |\n", n, mib(a), mib(b), r, v }'
    awk -v a="$HGET_KVS" -v b="$HGET_NGINX" -v r="$R28" -v v="$V28" -v n="$HUGE_H" "$AWK_FMT"'BEGIN {
        printf "| GET of a %s MiB record vs nginx static file | %s | %s | %s× | ≥ 1.0× | %s |\n", n, mib(a), mib(b), r, v }'
    awk -v a="$HUGE_PUT_HWM" -v b="$HUGE_GET_HWM" -v v="$V29" -v n="$HUGE_H" -v c="$HUGE_N" 'BEGIN {
        printf "| server peak RSS over idle, %s concurrent PUTs then GETs of %s MiB | %.1f / %.1f MiB | — | — | ≤ 64 MiB | %s |\n", c, n, a / 1024, b / 1024, v }'
    awk -v a="$BOMB_HWM" -v v="$V30" -v c="$HUGE_N" 'BEGIN {
        printf "| server peak RSS over idle, %s identity GETs of a gzip bomb (100 MiB of zeros) | %.1f MiB | — | — | ≤ 64 MiB | %s |\n", c, a / 1024, v }'
    awk -v a="$G1K_PG1" -v b="$G1K_PG2" -v l="$G1K_KVS" -v r1="$R21" -v r2="$R22" -v v1="$V21" -v v2="$V22" "$AWK_FMT"'BEGIN {
        printf "| GET 1 KiB through PostgreSQL, one node, vs LMDB | %s req/s | %s req/s | %s× | ≥ 0.5× | %s |\n", commas(a), commas(l), r1, v1
        printf "| GET 1 KiB through PostgreSQL, two nodes, vs LMDB (one node) | %s req/s | %s req/s | %s× | ≥ 0.5× | %s |\n", commas(b), commas(l), r2, v2 }'
    awk -v a="$G1K_PG1" -v p="$PGBENCH_GET" -v r="$R26" -v v="$V26" -v c="$CONNS" "$AWK_FMT"'BEGIN {
        printf "| GET 1 KiB through PostgreSQL, one node, vs pgbench running kvs'"'"'s own GET statement (%s clients) | %s req/s | %s tx/s | %s× | ≥ 0.7× | %s |\n", c, commas(a), commas(p), r, v }'
    awk -v a="$PUT_PG1" -v b="$PUT_PG2" -v p="$PGBENCH" -v r1="$R23" -v r2="$R24" -v v1="$V23" -v v2="$V24" -v c="$CONNS" "$AWK_FMT"'BEGIN {
        printf "| durable PUT 1 KiB through PostgreSQL, one node, vs pgbench single-row inserts (%s clients) | %s req/s | %s tx/s | %s× | ≥ 1.0× | %s |\n", c, commas(a), commas(p), r1, v1
        printf "| durable PUT 1 KiB through PostgreSQL, two nodes, vs pgbench single-row inserts | %s req/s | %s tx/s | %s× | ≥ 1.0× | %s |\n", commas(b), commas(p), r2, v2 }'
    awk -v a="$HPUT_PG" -v b="$HPUT_KVS" -v c="$HGET_PG" -v d="$HGET_KVS" -v r1="$R31" -v r2="$R32" -v n="$HUGE_H" "$AWK_FMT"'BEGIN {
        printf "| durable PUT of a %s MiB record through PostgreSQL (chunks) vs LMDB (a file) | %s | %s | %s× | — | — |\n", n, mib(a), mib(b), r1
        printf "| GET of a %s MiB record through PostgreSQL vs LMDB | %s | %s | %s× | — | — |\n", n, mib(c), mib(d), r2 }'
    awk -v a="$PG_HUGE_HWM" -v v="$V33" -v n="$HUGE_H" 'BEGIN {
        printf "| PostgreSQL node peak RSS over idle during the %s MiB PUTs and GETs | %.1f MiB | — | — | ≤ 64 MiB | %s |\n", n, a / 1024, v }'
    echo
    awk -v t="$TMPFS64" -v r9="$R9" -v r10="$R10" -v c="$TMPFS64_CPU" "$AWK_FMT"'BEGIN {
        printf "What bounds the durable PUT: the same kvs with its data on tmpfs, where a sync costs nothing, does\n"
        printf "%s req/s at 64 connections (%s µs of server CPU per request) = %s× the disk; durable PUT reaches %s of that.\n", commas(t), c, r9, r10 }'
    echo
    echo "Server CPU time per request (user + system of all the server's threads or workers, from /proc; less"
    echo "disturbed by other work on the machine than req/s): GET 1 KiB kvs $G1K_KVS_CPU µs, nginx file $G1K_NF_CPU µs,"
    echo "nginx memory $G1K_NM_CPU µs; over TLS kvs $G1K_TLS_KVS_CPU µs, nginx $G1K_TLS_NGINX_CPU µs; durable PUT at 64"
    echo "conn. kvs $PUT64_CPU µs, nginx WebDAV $DAV64_CPU µs; PUT 10 MiB kvs $P10_KVS_CPU µs, nginx WebDAV $P10_DAV_CPU µs;"
    echo "mixed load kvs $MIX_CPU µs; keys page of 1,000 kvs $K1K_CPU µs (store of 1,000 keys), $KBIG_CPU µs (store of $BIG_H)."
    echo
    awk -v a="$BIG_PUT_ANON" -v h="$BIG_PUT_HWM" -v f="$BIG_PUT_FILE0" 'BEGIN {
        printf "Peak RSS of kvs during its durable PUT 10 MiB row: %.1f MiB anonymous (sampled every 50 ms), VmHWM %.1f MiB,\n", a / 1024, h / 1024
        printf "of which %.1f MiB were LMDB map pages (RssFile) already resident before the row.\n", f / 1024 }'
    echo
    awk -v g="$MIX_GET_P99" -v p="$MIX_PUT_P99" -v o="$MIXG_GET_P99" -v w="$G1K_KVS_P99" -v n="$HOT" "$AWK_FMT"'BEGIN {
        printf "Mixed load (bench/mixload.c: 64 connections, GETs of %d hot 1 KiB records, every 10th request a durable\n", n
        printf "PUT of 1 KiB to a new key): GET p99 %s, PUT p99 %s; the same client with GETs only: GET p99 %s\n", us(g), us(p), us(o)
        printf "(wrk'"'"'s GET-only row above: %s).\n", us(w) }'
    echo
    echo "TLS (keep-alive: one handshake per connection), negotiated with openssl s_client: kvs $TLS_KVS_SUITE"
    echo "(GnuTLS through libmicrohttpd), nginx $TLS_NGINX_SUITE (OpenSSL); certificate ECDSA P-256, made for the run."
    echo "With PostgreSQL (kvs and the database's processes together): GET 1 KiB $G1K_PG1_CPU µs, durable PUT $PUT_PG1_CPU µs"
    echo "(p99 $PUT_PG1_P99 µs); pgbench's inserts $PGBENCH_CPU µs of the database's CPU each, its runs of kvs's"
    echo "GET statement $PGBENCH_GET_CPU µs each."
    echo
    echo "## Measurements"
    echo
    echo "\"other work\": CPU time used on the machine by anything but the server and wrk during that run, in CPUs"
    echo "(of $(nproc)); above ~0.1 the row was disturbed by other work. \"writes / sync\": kvs's group commit, writes per"
    echo "synced transaction during the run (from its /metrics)."
    echo
    echo "| what | conn. | req/s | throughput | p50 | p99 | server CPU / req | writes / sync | other work (CPUs) | errors |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    row_line get1k_kvs "kvs GET 1 KiB record" $CONNS bw
    row_line get1k_nginx_file "nginx GET 1 KiB static file" $CONNS bw
    row_line get1k_nginx_mem "nginx GET 1 KiB from memory (\`return 200\`)" $CONNS bw
    row_line get1k_tls_kvs "kvs GET 1 KiB record over TLS" $CONNS bw
    row_line get1k_tls_nginx "nginx GET 1 KiB static file over TLS" $CONNS bw
    row_line get1m_kvs "kvs GET 1 MiB record" $CONNS bw
    row_line get1m_nginx_file "nginx GET 1 MiB static file" $CONNS bw
    for c in $PUT_CONNS; do row_line "put_kvs_c$c" "kvs durable PUT 1 KiB, distinct keys" "$c"; done
    row_line "put_kvs_tmpfs_c$CONNS" "kvs PUT 1 KiB, data on tmpfs (sync costs nothing; the CPU bound)" $CONNS
    for c in $PUT_CONNS; do row_line "put_dav_c$c" "nginx WebDAV PUT 1 KiB into tmpfs (no sync)" "$c"; done
    row_line fsync "disk: append 1 KiB + fdatasync, one writer (writes/s; sync latency)" "—"
    row_line keys_1k "kvs keys page of 1,000, store of 1,000 keys" 1
    row_line keys_big "kvs keys page of 1,000 after key $MID, store of $BIG_H keys" 1
    row_line mixed_get_only "kvs GETs only of $HOT hot 1 KiB records (mixload)" $CONNS
    row_line mixed "kvs 90 % GET of them, 10 % durable PUT 1 KiB (mixload)" $CONNS
    row_line get10m_kvs "kvs GET 10 MiB record" $BIG_CONNS bw
    row_line get10m_nginx "nginx GET 10 MiB static file" $BIG_CONNS bw
    row_line put10m_kvs "kvs durable PUT 10 MiB (8 keys overwritten)" $BIG_CONNS put
    row_line put10m_dav "nginx WebDAV PUT 10 MiB into tmpfs (no sync)" $BIG_CONNS put
    row_line get1k_pg1 "kvs on PostgreSQL, one node: GET 1 KiB record" $CONNS bw
    row_line get1k_pg2 "kvs on PostgreSQL, two nodes: GET 1 KiB record" "2 × $((CONNS / 2))" bw
    row_line "put_pg1_c$CONNS" "kvs on PostgreSQL, one node: durable PUT 1 KiB, distinct keys" $CONNS
    row_line "put_pg2_c$CONNS" "kvs on PostgreSQL, two nodes: durable PUT 1 KiB, distinct keys, a store per node" "2 × $((CONNS / 2))"
    row_line pgbench "pgbench: single-row INSERT of 1 KiB, autocommit (tx/s; average latency)" $CONNS
    row_line pgbench_get "pgbench: kvs's GET statement of the 1 KiB record, prepared (tx/s; average latency)" $CONNS
    echo
    echo "PostgreSQL rows: server CPU is kvs's and the database's together; the two-node rows run two wrk"
    echo "(no \"other work\" figure)."
    echo
    echo "Server memory (kvs, /proc/PID/status; RssFile is mostly the LMDB map in the page cache):"
    echo
    echo "| when | RssAnon | RssFile |"
    echo "| --- | --- | --- |"
    awk -v a="$RSS_START_ANON" -v f="$RSS_START_FILE" -v n="$BIG_H" 'BEGIN { printf "| started on the data with the %s-key store | %.1f MiB | %.1f MiB |\n", n, a / 1024, f / 1024 }'
    awk -v a="$RSS_KEYS_ANON" -v f="$RSS_KEYS_FILE" 'BEGIN { printf "| after the keys page runs | %.1f MiB | %.1f MiB |\n", a / 1024, f / 1024 }'
    awk -v a="$RSS_END_ANON" -v f="$RSS_END_FILE" -v h="$RSS_HWM" 'BEGIN { printf "| at the end of all runs (peak VmHWM %.1f MiB) | %.1f MiB | %.1f MiB |\n", h / 1024, a / 1024, f / 1024 }'
    echo
    awk -v n="$BIG_H" -v r="$BULK_RATE" -v d="$DB_MB" "$AWK_FMT"'BEGIN {
        printf "Bulk load (bench/bulkload, storage API, ~10,000 writes in flight): %s keys of 100 bytes at %s records/s; data directory %s MiB after loading.\n", n, commas(r), d }'
    echo
    echo "Reproduce: \`make bench\` (\`make bench QUICK=1\` for a smoke run). Chart: \`bench/results/$NAME.png\`."
} >"$OUT_MD"

# Chart data: one line per target: x, label, measured ratio, goal, pass, measured text, goal text.
{
    echo "1 \"GET 1 KiB\\n÷ nginx file\" $R1 1.0 $([ "$V1" = PASS ] && echo 1 || echo 0) \"${R1}×\" \"≥1.0\""
    echo "2 \"GET 1 KiB\\n÷ nginx memory\" $R2 0.9 $([ "$V2" = PASS ] && echo 1 || echo 0) \"${R2}×\" \"≥0.9\""
    echo "3 \"GET 1 MiB\\n÷ nginx file\" $R3 0.9 $([ "$V3" = PASS ] && echo 1 || echo 0) \"${R3}×\" \"≥0.9\""
    echo "4 \"PUT 64 conn.\\n÷ disk fdatasync\" $R4 8 $([ "$V4" = PASS ] && echo 1 || echo 0) \"${R4}×\" \"≥8\""
    echo "5 \"PUT 64 conn. p99\\n÷ 10 ms\" $R5 1.0 $([ "$V5" = PASS ] && echo 1 || echo 0) \"${R5}×\" \"<1\""
    echo "6 \"PUT 64 conn.\\n÷ nginx DAV (stretch)\" $R6 1.0 $([ "$V6" = PASS ] && echo 1 || echo 0) \"${R6}×\" \"≥1.0\""
    echo "7 \"keys page ${BIG_H}\\n÷ keys page 1,000\" $R7 1.5 $([ "$V7" = PASS ] && echo 1 || echo 0) \"${R7}×\" \"≤1.5\""
    echo "8 \"RSS anon\\n÷ 64 MiB\" $R8 1.0 $([ "$V8" = PASS ] && echo 1 || echo 0) \"${R8}×\" \"<1\""
    echo "9 \"GET 1 KiB TLS\\n÷ nginx TLS\" $R11 0.9 $([ "$V11" = PASS ] && echo 1 || echo 0) \"${R11}×\" \"≥0.9\""
    echo "10 \"PG GET 1 node\\n÷ LMDB GET\" $R21 0.5 $([ "$V21" = PASS ] && echo 1 || echo 0) \"${R21}×\" \"≥0.5\""
    echo "11 \"PG GET 2 nodes\\n÷ LMDB GET\" $R22 0.5 $([ "$V22" = PASS ] && echo 1 || echo 0) \"${R22}×\" \"≥0.5\""
    echo "12 \"PG PUT 1 node\\n÷ pgbench\" $R23 1.0 $([ "$V23" = PASS ] && echo 1 || echo 0) \"${R23}×\" \"≥1.0\""
    echo "13 \"PG PUT 2 nodes\\n÷ pgbench\" $R24 1.0 $([ "$V24" = PASS ] && echo 1 || echo 0) \"${R24}×\" \"≥1.0\""
    echo "14 \"GET 1 KiB CPU\\n÷ nginx memory\" $R12 1.1 $([ "$V12" = PASS ] && echo 1 || echo 0) \"${R12}×\" \"≤1.1\""
    echo "15 \"PUT CPU\\n÷ GET CPU\" $R13 2 $([ "$V13" = PASS ] && echo 1 || echo 0) \"${R13}×\" \"≤2\""
    echo "16 \"mixed GET p99\\n÷ GET-only p99\" $R14 1.5 $([ "$V14" = PASS ] && echo 1 || echo 0) \"${R14}×\" \"≤1.5\""
    echo "17 \"GET 10 MiB\\n÷ nginx file\" $R15 1.0 $([ "$V15" = PASS ] && echo 1 || echo 0) \"${R15}×\" \"≥1.0\""
    echo "18 \"PUT 10 MiB\\n÷ nginx DAV\" $R16 1.0 $([ "$V16" = PASS ] && echo 1 || echo 0) \"${R16}×\" \"≥1.0\""
    echo "19 \"PUT 10 MiB peak RSS\\n÷ 160 MiB\" $R17 1.0 $([ "$V17" = PASS ] && echo 1 || echo 0) \"${R17}×\" \"≤1\""
    echo "20 \"keys CPU per key\\n÷ 0.35 µs\" $R18 1.0 $([ "$V18" = PASS ] && echo 1 || echo 0) \"${R18}×\" \"≤1\""
    echo "21 \"lone PUT p50\\n÷ disk fdatasync\" $R25 1.5 $([ "$V25" = PASS ] && echo 1 || echo 0) \"${R25}×\" \"≤1.5\""
    echo "22 \"PUT 64 conn.\\n÷ kvs on tmpfs\" $R10 0.85 $([ "$V10" = PASS ] && echo 1 || echo 0) \"${R10}×\" \"≥0.85\""
    echo "23 \"PG GET 1 node\\n÷ pgbench GET\" $R26 0.7 $([ "$V26" = PASS ] && echo 1 || echo 0) \"${R26}×\" \"≥0.7\""
    echo "24 \"PUT ${HUGE_H} MiB\\n÷ dd fdatasync\" $R27 0.8 $([ "$V27" = PASS ] && echo 1 || echo 0) \"${R27}×\" \"≥0.8\""
    echo "25 \"GET ${HUGE_H} MiB\\n÷ nginx file\" $R28 1.0 $([ "$V28" = PASS ] && echo 1 || echo 0) \"${R28}×\" \"≥1.0\""
    echo "26 \"${HUGE_N}× ${HUGE_H} MiB RSS\\n÷ 64 MiB\" $R29 1.0 $([ "$V29" = PASS ] && echo 1 || echo 0) \"${R29}×\" \"≤1\""
    echo "27 \"${HUGE_N}× gzip bomb RSS\\n÷ 64 MiB\" $R30 1.0 $([ "$V30" = PASS ] && echo 1 || echo 0) \"${R30}×\" \"≤1\""
} >"$TMP/chart.dat"
gnuplot -e "datafile='$TMP/chart.dat'; outfile='$OUT_PNG'; subtitle='$START_DATE, $MODE, kvs ${GIT_REV%% *}; other work on the machine: $OTHER_AVG CPUs on average'" \
    "$ROOT/bench/plot.gp" || log "gnuplot failed; no chart"

{
    printf 'row\trun\treq_per_s\tp50_us\tp99_us\tbytes_per_s\trequests\tsocket_errors\tnon2xx\tserver_cpu_us_per_req\tother_cpus\twrites_per_sync\tget_p99_us\tput_p99_us\n'
    cat "$RUNS_TSV"
} >"$RESULTS/$NAME-runs.tsv"

cat "$OUT_MD"
log "wrote $OUT_MD, $OUT_PNG and $RESULTS/$NAME-runs.tsv (every run)"
