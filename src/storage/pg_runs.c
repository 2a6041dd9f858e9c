/* pg_runs.c — runs in the PostgreSQL back-end (storage/run.h): their statements, the decoding of
 * their rows, and their reads. The writes are part of a batch (pg_apply.c), which uses the
 * statements below.
 *
 * kvs_runs (schema version 4, pg_open.c) references kvs_stores ON DELETE CASCADE: every
 * statement that deletes a store, whoever runs it (DELETE of a store or run, retention, a
 * user's deletion, a person with psql), deletes its run in the same statement, so no run ever
 * names a missing store. */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "storage/pg_internal.h"

static const struct kvs_pg_stmt Q_RUN_GET = {
    PG_Q_RUN_GET, "kvs_run_get", "SELECT " PG_RUN_COLS " FROM kvs_runs r WHERE r.id = $1::text"};
static const struct kvs_pg_stmt Q_RUN_BY_STORE = {
    PG_Q_RUN_BY_STORE, "kvs_run_by_store",
    "SELECT " PG_RUN_COLS " FROM kvs_runs r WHERE r.store_id = $1::text"};

/* A user's ($1 = user_id) or an Actor's ($1 = act_id) runs whose status is in the mask $2 (0:
 * any), in start order: the total and one page ($3 offset, $4 limit), a row with NULL run
 * columns when the page is empty. An index range scan of (OWNER, started_ms, id). */
#define RUNS_SQL(OWNER, DIR)                                                                       \
    "WITH v AS (SELECT * FROM kvs_runs WHERE " OWNER " = $1::text"                                 \
    " AND ($2::int8 = 0 OR (($2::int8 >> status::int4) & 1) = 1)),"                                \
    " page AS (SELECT * FROM v ORDER BY started_ms " DIR ", id " DIR                               \
    " OFFSET $3::int8 LIMIT $4::int8) "                                                            \
    "SELECT n.total, " PG_RUN_COLS " FROM (SELECT count(*) AS total FROM v) n"                     \
    " LEFT JOIN page r ON true ORDER BY r.started_ms " DIR ", r.id " DIR
static const struct kvs_pg_stmt Q_RUNS[2][2] = {
    {{PG_Q_RUNS_USER_ASC, "kvs_runs_user_asc", RUNS_SQL("user_id", "ASC")},
     {PG_Q_RUNS_USER_DESC, "kvs_runs_user_desc", RUNS_SQL("user_id", "DESC")}},
    {{PG_Q_RUNS_ACTOR_ASC, "kvs_runs_actor_asc", RUNS_SQL("act_id", "ASC")},
     {PG_Q_RUNS_ACTOR_DESC, "kvs_runs_actor_desc", RUNS_SQL("act_id", "DESC")}},
};

/* Create a run ($6, its Actor $7 and name $8, origin $9, timeout $10, memory $11) with its
 * default store ($1, of user $2, title $3, secret $4, general access $5): the owner's username
 * (NULL: no such user), the store's creation time and the run's start (NULL: an ID was taken). */
const struct kvs_pg_stmt kvs_pg_q_run_create = {
    PG_Q_RUN_CREATE, "kvs_run_create",
    "WITH o AS (SELECT username FROM kvs_users WHERE id = $2::text),"
    " s AS (INSERT INTO kvs_stores (id, user_id, name, title, secret, general_access, schema,"
    " created_ms, modified_ms, accessed_ms)"
    " SELECT $1::text, $2::text, '', $3::text, $4::text, $5::int8, NULL, " PG_NOW_MS ", " PG_NOW_MS
    ", " PG_NOW_MS " FROM o ON CONFLICT DO NOTHING RETURNING id, created_ms),"
    " r AS (INSERT INTO kvs_runs (id, user_id, act_id, actor, store_id, origin, status,"
    " status_message, message_terminal, exit_code, timeout_secs, memory_mbytes, started_ms,"
    " finished_ms)"
    " SELECT $6::text, $2::text, $7::text, $8::text, s.id, $9::text, 2, NULL, false, NULL,"
    " $10::int8, $11::int8, s.created_ms, 0 FROM s ON CONFLICT DO NOTHING RETURNING started_ms) "
    "SELECT (SELECT username FROM o), (SELECT created_ms FROM s), (SELECT started_ms FROM r)"};
/* The run to update, locked until the batch commits (its updates play through in C, on it). */
const struct kvs_pg_stmt kvs_pg_q_run_lock = {
    PG_Q_RUN_LOCK, "kvs_run_lock",
    "SELECT " PG_RUN_COLS " FROM kvs_runs r WHERE r.id = $1::text FOR UPDATE"};
/* What the batch's updates left of run $1. */
const struct kvs_pg_stmt kvs_pg_q_run_update = {
    PG_Q_RUN_UPDATE, "kvs_run_update",
    "UPDATE kvs_runs SET status = $2::int8, status_message = $3::text,"
    " message_terminal = $4::bool, exit_code = $5::int8, finished_ms = $6::int8"
    " WHERE id = $1::text"};

int kvs_pg_run_row(const PGresult *res, int row, int col, struct kvs_run *out)
{
    kvs_run_clear(out);
    int rc = kvs_pg_str(res, row, col, out->id, sizeof out->id);
    if (rc == 0)
        rc = kvs_pg_str(res, row, col + 1, out->user_id, sizeof out->user_id);
    if (rc == 0)
        rc = kvs_pg_str(res, row, col + 2, out->act_id, sizeof out->act_id);
    if (rc == 0)
        rc = kvs_pg_str(res, row, col + 3, out->actor, sizeof out->actor);
    if (rc == 0)
        rc = kvs_pg_str(res, row, col + 4, out->store_id, sizeof out->store_id);
    if (rc == 0)
        rc = kvs_pg_str(res, row, col + 5, out->origin, sizeof out->origin);
    int64_t status = kvs_pg_int(res, row, col + 6);
    if (rc == 0 && (status < KVS_RUN_READY || status > KVS_RUN_ABORTED)) {
        kvs_log_error("postgres: a run with status %lld", (long long)status);
        rc = KVS_EIO;
    }
    out->status = (uint8_t)status;
    if (rc == 0 && !kvs_pg_null(res, row, col + 7)) {
        kvs_slice m = kvs_pg_bytes(res, row, col + 7);
        out->status_message = kvs_xstrndup(m.p, m.n);
    }
    out->message_terminal = kvs_pg_int(res, row, col + 8) != 0;
    out->has_exit_code = !kvs_pg_null(res, row, col + 9);
    out->exit_code = (int32_t)kvs_pg_int(res, row, col + 9);
    out->timeout_secs = (uint32_t)kvs_pg_int(res, row, col + 10);
    out->memory_mbytes = (uint32_t)kvs_pg_int(res, row, col + 11);
    out->started_ms = kvs_pg_int(res, row, col + 12);
    out->finished_ms = kvs_pg_int(res, row, col + 13);
    if (rc != 0)
        kvs_run_clear(out);
    return rc;
}

/* ==== reads ================================================================================== */

/* The ID in slice S, NUL-terminated, into OUT; 0 when S cannot be one. */
static int run_id_of(kvs_slice s, char out[KVS_ID_LEN + 1])
{
    if (s.n != KVS_ID_LEN)
        return 0;
    memcpy(out, s.p, KVS_ID_LEN);
    out[KVS_ID_LEN] = '\0';
    return kvs_pg_id_ok(out, KVS_ID_LEN + 1);
}

/* Run STMT, which selects at most one run, with the one parameter ID. */
static KVS_MUST_CHECK int run_by(struct kvs_read *rd, const struct kvs_pg_stmt *stmt, kvs_slice id,
                                 struct kvs_run *out)
{
    char key[KVS_ID_LEN + 1];
    if (!run_id_of(id, key))
        return KVS_ENOTFOUND;
    struct kvs_pg_params p = {0};
    kvs_pg_p_str(&p, key);
    PGresult *res;
    int rc = kvs_pg_query(rd, stmt, &p, &res);
    if (rc == 0 && PQntuples(res) == 0)
        rc = KVS_ENOTFOUND;
    return rc != 0 ? rc : kvs_pg_run_row(res, 0, 0, out);
}

int kvs_pg_run_get(struct kvs_read *rd, kvs_slice id, struct kvs_run *out)
{
    return run_by(rd, &Q_RUN_GET, id, out);
}

int kvs_pg_run_by_store(struct kvs_read *rd, kvs_slice store_id, struct kvs_run *out)
{
    return run_by(rd, &Q_RUN_BY_STORE, store_id, out);
}

int kvs_pg_run_list(struct kvs_read *rd, unsigned by, kvs_slice owner, unsigned statuses,
                    uint64_t offset, uint64_t limit, int desc, kvs_run_cb cb, void *arg,
                    uint64_t *total)
{
    *total = 0;
    char key[KVS_ID_LEN + 1];
    if (!run_id_of(owner, key))
        return 0;
    struct kvs_pg_params p = {0};
    kvs_pg_p_str(&p, key);
    kvs_pg_p_i64(&p, statuses);
    kvs_pg_p_i64(&p, offset > INT64_MAX ? INT64_MAX : (int64_t)offset);
    kvs_pg_p_i64(&p, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    PGresult *res;
    int rc = kvs_pg_query(rd, &Q_RUNS[by == KVS_RUNS_OF_ACTOR][desc != 0], &p, &res);
    if (rc == 0 && PQntuples(res) == 0)
        rc = KVS_EIO; /* the total always comes */
    if (rc != 0)
        return rc;
    *total = (uint64_t)kvs_pg_int(res, 0, 0);
    struct kvs_run r = {0};
    for (int i = 0; i < PQntuples(res) && !kvs_pg_null(res, i, 1); i++) {
        rc = kvs_pg_run_row(res, i, 1, &r);
        if (rc != 0 || cb(arg, &r) != 0)
            break;
    }
    kvs_run_clear(&r);
    return rc;
}
