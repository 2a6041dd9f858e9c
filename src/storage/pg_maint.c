/* pg_maint.c — background work of the PostgreSQL back-end, done by each node's writer thread
 * while no write waits (storage.c), and safe with any number of nodes doing it at once:
 *   - the sweep deletes the records of deleted stores, one dead store at a time, taken with
 *     FOR UPDATE SKIP LOCKED, in steps of at most SWEEP_MAX records (one short transaction
 *     each, so that deleting a huge store never holds anything long);
 *   - retention deletes the unnamed stores not accessed for --unnamed-retention, on one node
 *     at a time (pg_try_advisory_xact_lock; the others skip the round), measured with the
 *     database's clock;
 *   - the blob sweep deletes the chunks of large values that no record references any more
 *     (kvs_dead_blobs: overwritten, deleted, or swept with their store) once they have been
 *     dead and unread for the grace period (pg_internal.h, "Large values"), one value at a
 *     time, taken with FOR UPDATE SKIP LOCKED, PG_BLOB_SWEEP_MAX chunks per transaction. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "storage/pg_internal.h"

#define SWEEP_MAX 5000 /* records deleted per sweep step */
#define EXPIRE_MAX 256 /* stores expired per retention step */

/* One sweep step: the dead store taken (NULL: none left, or all taken by other nodes) and how
 * many of its records went; the dead store's row goes with its last records. */
static const struct kvs_pg_stmt Q_SWEEP = {
    PG_Q_SWEEP, "kvs_sweep",
    "WITH ds AS (SELECT store_id FROM kvs_dead_stores ORDER BY store_id LIMIT 1"
    " FOR UPDATE SKIP LOCKED),"
    " gone AS (DELETE FROM kvs_records r USING (SELECT r2.store_id, r2.key FROM kvs_records r2"
    " JOIN ds ON r2.store_id = ds.store_id LIMIT $1::int8) v"
    " WHERE r.store_id = v.store_id AND r.key = v.key RETURNING r.blob),"
    " n AS (SELECT count(*) AS c FROM gone),"
    " dead AS (INSERT INTO kvs_dead_blobs (blob, dead_ms) SELECT blob, " PG_NOW_MS " FROM gone"
    " WHERE blob IS NOT NULL ON CONFLICT DO NOTHING),"
    " fin AS (DELETE FROM kvs_dead_stores WHERE store_id IN (SELECT store_id FROM ds)"
    " AND (SELECT c FROM n) < $1::int8),"
    " upd AS (UPDATE kvs_dead_stores SET records = GREATEST(records - (SELECT c FROM n), 0)"
    " WHERE store_id IN (SELECT store_id FROM ds) AND (SELECT c FROM n) >= $1::int8) "
    "SELECT (SELECT store_id FROM ds), (SELECT c FROM n)"};

/* One blob sweep step: a dead large value unread for $2 ms (NULL: none, or all taken by other
 * nodes), and how many of its chunks went (at most $1); its row goes with its last chunks. */
static const struct kvs_pg_stmt Q_BLOB_SWEEP = {
    PG_Q_BLOB_SWEEP, "kvs_blob_sweep",
    "WITH d AS (SELECT blob FROM kvs_dead_blobs WHERE GREATEST(dead_ms, read_ms) < " PG_NOW_MS
    " - $2::int8 ORDER BY dead_ms LIMIT 1 FOR UPDATE SKIP LOCKED),"
    " gone AS (DELETE FROM kvs_blobs b USING (SELECT b2.blob, b2.seq FROM kvs_blobs b2"
    " JOIN d ON b2.blob = d.blob ORDER BY b2.seq LIMIT $1::int8) v"
    " WHERE b.blob = v.blob AND b.seq = v.seq RETURNING 1),"
    " n AS (SELECT count(*) AS c FROM gone),"
    " fin AS (DELETE FROM kvs_dead_blobs WHERE blob IN (SELECT blob FROM d)"
    " AND (SELECT c FROM n) < $1::int8) "
    "SELECT (SELECT blob FROM d), (SELECT c FROM n)"};

/* The unnamed stores not accessed since $1 ms before the database's clock, oldest first, if
 * this node holds the retention lock for this transaction (else none), locked so that a
 * batch writing to one of them meanwhile is waited for, and skipped when one holds it. */
static const struct kvs_pg_stmt Q_EXPIRED = {
    PG_Q_EXPIRED, "kvs_expired",
    "WITH l AS (SELECT pg_try_advisory_xact_lock(" PG_LOCK_KEY(
        "'retention'") ") AS got) "
                       "SELECT s.id, s.accessed_ms, " PG_NOW_MS " FROM kvs_stores s, l"
                       " WHERE l.got AND s.name = '' AND s.accessed_ms < " PG_NOW_MS " - $1::int8"
                       " ORDER BY s.accessed_ms LIMIT $2::int8 FOR UPDATE OF s SKIP LOCKED"};
static const struct kvs_pg_stmt Q_EXPIRE = {
    PG_Q_EXPIRE, "kvs_expire",
    "WITH d AS (DELETE FROM kvs_stores WHERE id = ANY($1::text[]) AND name = ''"
    " RETURNING id, record_count)," PG_STORES_GONE};

/* A statement could not be sent: the writer's connection goes (with any transaction it had
 * open). Returns KVS_EUNAVAIL. */
static int lost(struct kvs_pg *db)
{
    kvs_pg_writer_lost(db);
    return KVS_EUNAVAIL;
}

/* Run the statements queued in PP (BEGIN ... COMMIT) on the writer's connection. */
static KVS_MUST_CHECK int run(struct kvs_pg *db, struct kvs_pg_pipe *pp)
{
    int rc = kvs_pg_sync(pp);
    if (rc == 0)
        rc = kvs_pg_pipe_err(pp);
    if (rc != 0 && kvs_pg_broken(pp->c))
        kvs_pg_writer_lost(db);
    else if (rc != 0) {
        /* the transaction failed: end it, so that the connection can go on */
        kvs_pg_pipe_clear(pp);
        if (kvs_pg_send_sql(pp, "ROLLBACK") < 0 || kvs_pg_sync(pp) != 0)
            kvs_pg_writer_lost(db);
    }
    return rc;
}

/* One step of a sweep: statement STMT with parameters Q, alone in a transaction on the
 * writer's connection; its first column is NULL when it found nothing to do. Returns 1 when it
 * did something (more may remain), 0 when nothing was left to this node, or an error. */
static KVS_MUST_CHECK int sweep_one(struct kvs_pg *db, const struct kvs_pg_stmt *stmt,
                                    const struct kvs_pg_params *q)
{
    struct kvs_pg_pipe pp = {0};
    int rc = kvs_pg_writer_conn(db, &pp.c);
    if (rc != 0)
        return rc;
    int slot = kvs_pg_send_sql(&pp, "BEGIN") < 0 ? -1 : kvs_pg_send(&pp, stmt, q);
    if (slot < 0 || kvs_pg_send_sql(&pp, "COMMIT") < 0)
        rc = lost(db);
    if (rc == 0)
        rc = run(db, &pp);
    int more = rc == 0 && !kvs_pg_null(kvs_pg_res(&pp, slot), 0, 0);
    kvs_pg_pipe_free(&pp);
    return rc != 0 ? rc : more;
}

/* Sweep step: up to SWEEP_MAX records of a deleted store. */
static KVS_MUST_CHECK int sweep_step(struct kvs_pg *db)
{
    struct kvs_pg_params q = {0};
    kvs_pg_p_i64(&q, SWEEP_MAX);
    return sweep_one(db, &Q_SWEEP, &q);
}

/* Blob sweep step: up to PG_BLOB_SWEEP_MAX chunks of one value dead and unread for the grace
 * period. */
static KVS_MUST_CHECK int blob_sweep_step(struct kvs_pg *db)
{
    struct kvs_pg_params q = {0};
    kvs_pg_p_i64(&q, PG_BLOB_SWEEP_MAX);
    kvs_pg_p_i64(&q, db->blob_grace_ms);
    return sweep_one(db, &Q_BLOB_SWEEP, &q);
}

/* Retention step: delete up to EXPIRE_MAX unnamed stores whose last access is older than the
 * retention by the database's clock. The cut-off allows PG_UNFLUSHED_SLACK_MS more for reads
 * other nodes have counted in memory and not written yet (they write them within about a
 * second); this node's own are asked of storage.c. Each store goes as with KVS_W_STORE_DELETE:
 * its records are swept afterwards. Returns 1 when stores were deleted, 0 when none was (or
 * another node is at it), or an error. */
static KVS_MUST_CHECK int expire_step(struct kvs_pg *db)
{
    struct kvs_pg_pipe pp = {0};
    int rc = kvs_pg_writer_conn(db, &pp.c);
    if (rc != 0)
        return rc;
    struct kvs_pg_params q = {0};
    kvs_pg_p_i64(&q, db->retention_ms + PG_UNFLUSHED_SLACK_MS);
    kvs_pg_p_i64(&q, EXPIRE_MAX);
    int slot = kvs_pg_send_sql(&pp, "BEGIN") < 0 ? -1 : kvs_pg_send(&pp, &Q_EXPIRED, &q);
    rc = slot < 0 ? lost(db) : run(db, &pp);
    struct kvs_pg_array ids;
    kvs_pg_array_init(&ids, PG_OID_TEXT);
    if (rc == 0) {
        PGresult *r = kvs_pg_res(&pp, slot);
        for (int i = 0; i < PQntuples(r); i++) {
            char id[KVS_ID_LEN + 1];
            if (kvs_pg_str(r, i, 0, id, sizeof id) != 0 || !kvs_pg_id_ok(id, sizeof id))
                continue;
            /* Our own reads not flushed yet, on the database's clock. */
            int64_t pending = kvs_storage_pending_access(&db->super, id);
            int64_t db_now = kvs_pg_int(r, i, 2), offset = db_now - kvs_now_ms();
            if (pending != 0 && pending + offset >= db_now - db->retention_ms)
                continue;
            kvs_pg_array_add(&ids, id, KVS_ID_LEN);
        }
    }
    size_t n = ids.count;
    kvs_pg_pipe_clear(&pp);
    if (rc == 0) {
        q.n = 0;
        kvs_pg_p_array(&q, &ids);
        if ((n > 0 && kvs_pg_send(&pp, &Q_EXPIRE, &q) < 0) || kvs_pg_send_sql(&pp, "COMMIT") < 0)
            rc = lost(db);
        if (rc == 0)
            rc = run(db, &pp);
    }
    if (rc == 0 && n > 0)
        kvs_log_info("postgres: retention: deleted %zu unnamed store%s not accessed for %lld ms", n,
                     n == 1 ? "" : "s", (long long)db->retention_ms);
    kvs_pg_array_free(&ids);
    kvs_pg_pipe_free(&pp);
    return rc != 0 ? rc : n > 0;
}

int kvs_pg_maintain(struct kvs_storage *st)
{
    struct kvs_pg *db = pg_of(st);
    int r = sweep_step(db);
    if (r == 0)
        r = blob_sweep_step(db);
    if (r != 0 || db->retention_ms <= 0)
        return r;
    return expire_step(db);
}
