#!/usr/bin/env bash
# wal_model.sh — `make bench-wal`: what one durable commit costs the disk, LMDB's way (pages,
# fdatasync, the meta page through O_DSYNC) against the write-ahead log's (one append to a
# zero-filled log, one fdatasync; the pages written without a sync and flushed by a checkpoint
# every 200 ms), for a lone write (1 record of 1 KiB, 4 pages) and a batch of 64 connections'
# worth (26 records, 40 pages of which 10 scattered); and the disk's own 1 KiB append +
# fdatasync (fsync_bench). Interleaved rounds (ROUNDS, default 3) of DUR seconds (default 3).
# Disk latency hardly moves with CPU load, but it does with other processes' I/O: compare
# within a round.
set -euo pipefail
cd "$(dirname "$0")/.."
WAL_MODEL=${WAL_MODEL:-build/wal_model} FSYNC_BENCH=${FSYNC_BENCH:-build/fsync_bench}
DIR=${WAL_DIR:-build/wal-model}
ROUNDS=${ROUNDS:-3} DUR=${DUR:-3}
mkdir -p "$DIR"
trap 'rm -rf "$DIR"' EXIT
for r in $(seq "$ROUNDS"); do
    echo "round $r ($(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1 /proc/loadavg))"
    for m in lmdb wal; do
        "$WAL_MODEL" -s "$DUR" -r 1 -p 4 -S 2 "$m" "$DIR"
        "$WAL_MODEL" -s "$DUR" -r 26 -p 40 -S 10 "$m" "$DIR"
    done
    "$FSYNC_BENCH" -s "$DUR" "$DIR/fsync"
done
