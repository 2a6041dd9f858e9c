#!/bin/sh
# with-cluster.sh CMD [ARG...] — run CMD with $KVS_TEST_PG set to the URI of a throw-away
# PostgreSQL cluster (cluster.sh), started in a temporary directory first and stopped by its PID
# afterwards, whatever CMD's outcome; the exit status is CMD's. When $KVS_TEST_PG is set
# already, CMD simply runs with it. $KVS_TEST_PG_DURABLE=1: a cluster with fsync on (benches).
set -eu
if [ -n "${KVS_TEST_PG:-}" ]; then
    exec "$@"
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/kvs-pg-XXXXXX")
rmdir "$dir" # cluster.sh makes it, for the server's user
trap '"$here/cluster.sh" stop "$dir"' EXIT INT TERM
KVS_TEST_PG=$("$here/cluster.sh" start "$dir" ${KVS_TEST_PG_DURABLE:+--durable})
KVS_TEST_PG_DIR=$dir
export KVS_TEST_PG KVS_TEST_PG_DIR
status=0
"$@" || status=$?
exit $status
