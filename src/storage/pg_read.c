/* pg_read.c — the read ops of the PostgreSQL back-end.
 *
 * Each lookup is one statement on a connection of the node's pool, taken for the statement
 * only: READ COMMITTED, no transaction left open. Its result is kept by the struct kvs_read
 * until the read ends, because the views it hands out (record values, keys) point into it.
 * A lookup whose connection broke is tried once more on a new connection (reads change
 * nothing, so that is always safe); if that fails too the database is down: KVS_EUNAVAIL.
 *
 * Lookups in rounds: the request threads look up at the same moments (a GET is one lookup),
 * and a statement's own round trip costs the database more than the statement (a read and a
 * write of the socket, a wake-up of the backend, per statement). So a lookup joins a queue;
 * while fewer than rq_rounds_max rounds are out (two per CPU), the thread that finds its
 * lookup waiting takes every lookup queued (up to ROUND_MAX) and sends them as one pipeline
 * on one connection, with one Sync: each statement is still its own implicit transaction at
 * READ COMMITTED, as alone. It hands each lookup its result and wakes its thread, and the
 * first lookup queued meanwhile (whose thread then sends the next round).
 * A statement's error makes the ones after it in the pipeline fail unrun (PIPELINE_ABORTED):
 * those go again in another round. Measured (README, Benchmarks): with 32 threads, the
 * database's CPU per GET fell from 47-57 to 24-36 µs, kvs's own stayed 35-48 µs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "storage/pg_internal.h"

#define KEYS_CHUNK 1000              /* keys fetched per statement */
#define VALUES_CHUNK 8               /* records (with values, up to 10 MiB each) per statement */
#define VALUES_BYTES_MAX (32u << 20) /* a page with values stops early past this (truncated) */

#define ROUND_MAX 64 /* lookups per round (pipeline) at most */

#define NOT_DEAD "NOT EXISTS (SELECT FROM kvs_dead_stores d WHERE d.store_id = $1::text)"

static const struct kvs_pg_stmt Q_USER_COUNT = {PG_Q_USER_COUNT, "kvs_user_count",
                                                "SELECT count(*) FROM kvs_users"};
static const struct kvs_pg_stmt Q_TOTALS = {
    PG_Q_TOTALS, "kvs_totals",
    "SELECT (SELECT count(*) FROM kvs_users), (SELECT count(*) FROM kvs_stores), "
    "(SELECT coalesce(sum(record_count), 0)::int8 FROM kvs_stores) + "
    "(SELECT coalesce(sum(records), 0)::int8 FROM kvs_dead_stores)"};
static const struct kvs_pg_stmt Q_USER_BY_TOKEN = {
    PG_Q_USER_BY_TOKEN, "kvs_user_by_token",
    "SELECT " PG_USER_COLS ", t.expires_ms, t.scope FROM kvs_tokens t"
    " JOIN kvs_users u ON u.id = t.user_id WHERE t.hash = $1::bytea"};
static const struct kvs_pg_stmt Q_USER_BY_NAME = {PG_Q_USER_BY_NAME, "kvs_user_by_name",
                                                  "SELECT " PG_USER_COLS
                                                  " FROM kvs_users u WHERE u.username = $1::text"};
static const struct kvs_pg_stmt Q_USER_GET = {PG_Q_USER_GET, "kvs_user_get",
                                              "SELECT " PG_USER_COLS
                                              " FROM kvs_users u WHERE u.id = $1::text"};
static const struct kvs_pg_stmt Q_STORE_GET = {
    PG_Q_STORE_GET, "kvs_store_get",
    "SELECT " PG_STORE_COLS " FROM kvs_stores s JOIN kvs_users u ON u.id = s.user_id "
    "WHERE s.id = $1::text"};
const struct kvs_pg_stmt kvs_pg_q_store_by_name = {
    PG_Q_STORE_BY_NAME, "kvs_store_by_name",
    "SELECT " PG_STORE_COLS " FROM kvs_stores s JOIN kvs_users u ON u.id = s.user_id "
    "WHERE s.user_id = $1::text AND s.name = $2::text AND s.name <> ''"};

/* A user's own stores ($2) and those shared with them ($3), unnamed ones only with $4, as one
 * list in creation order: the total and one page of it (a row with NULL store columns when the
 * page is empty). $1 user, $5 offset, $6 limit. Cost: the user's stores and shares. */
#define STORES_SQL(DIR)                                                                            \
    "WITH v AS ("                                                                                  \
    " SELECT s.*, 0 AS share FROM kvs_stores s"                                                    \
    " WHERE $2::bool AND s.user_id = $1::text AND (s.name <> '' OR $4::bool)"                      \
    " UNION ALL"                                                                                   \
    " SELECT s.*, sh.level AS share FROM kvs_shares sh JOIN kvs_stores s ON s.id = sh.store_id"    \
    " WHERE $3::bool AND sh.user_id = $1::text AND (s.name <> '' OR $4::bool)),"                   \
    " page AS (SELECT * FROM v ORDER BY created_ms " DIR ", id " DIR                               \
    " OFFSET $5::int8 LIMIT $6::int8) "                                                            \
    "SELECT n.total, s.share, " PG_STORE_COLS " FROM (SELECT count(*) AS total FROM v) n"          \
    " LEFT JOIN page s ON true LEFT JOIN kvs_users u ON u.id = s.user_id"                          \
    " ORDER BY s.created_ms " DIR ", s.id " DIR
static const struct kvs_pg_stmt Q_STORES_ASC = {PG_Q_STORES_ASC, "kvs_stores_asc",
                                                STORES_SQL("ASC")};
static const struct kvs_pg_stmt Q_STORES_DESC = {PG_Q_STORES_DESC, "kvs_stores_desc",
                                                 STORES_SQL("DESC")};

static const struct kvs_pg_stmt Q_USER_LIST = {PG_Q_USER_LIST, "kvs_user_list",
                                               "SELECT " PG_USER_COLS
                                               " FROM kvs_users u ORDER BY u.username"};
static const struct kvs_pg_stmt Q_TOKEN_LIST = {
    PG_Q_TOKEN_LIST, "kvs_token_list",
    "SELECT t.prefix, t.created_ms, t.expires_ms, t.scope FROM kvs_tokens t"
    " WHERE t.user_id = $1::text ORDER BY t.created_ms, t.hash"};
static const struct kvs_pg_stmt Q_SHARE_GET = {
    PG_Q_SHARE_GET, "kvs_share_get",
    "SELECT level FROM kvs_shares WHERE store_id = $1::text AND user_id = $2::text"};
static const struct kvs_pg_stmt Q_SHARE_LIST = {
    PG_Q_SHARE_LIST, "kvs_share_list",
    "SELECT sh.user_id, u.username, sh.level FROM kvs_shares sh "
    "JOIN kvs_users u ON u.id = sh.user_id WHERE sh.store_id = $1::text ORDER BY sh.user_id"};
/* One row always: the meta epoch, then the record's columns, NULL when there is none. */
static const struct kvs_pg_stmt Q_RECORD_GET = {
    PG_Q_RECORD_GET, "kvs_record_get",
    "SELECT e.v, r.content_type, r.encoding, r.value, r.version, r.modified_ms, r.blob,"
    " r.blob_size FROM kvs_epoch e "
    "LEFT JOIN kvs_records r ON r.store_id = $1::text AND r.key = $2::text AND " NOT_DEAD};
static const struct kvs_pg_stmt Q_EPOCH = {PG_Q_EPOCH, "kvs_epoch", "SELECT v FROM kvs_epoch"};

/* A page of keys: a range scan of the primary key (store_id, key) in its order, from after $2
 * (and, with a prefix, from $3 up to, not including, $4: kvs_pg_prefix_end()), LIMIT rows. No
 * sort and no LIKE, also on a generic plan (test_pg.c shows the plan). */
#define KEYS_SQL(COLS, RANGE, LIMIT)                                                               \
    "SELECT r.key, coalesce(r.blob_size, octet_length(r.value))" COLS " FROM kvs_records r"        \
    " WHERE r.store_id = $1::text AND r.key > $2::text" RANGE " AND " NOT_DEAD                     \
    " ORDER BY r.key LIMIT " LIMIT
#define TYPE_COLS                                                                                  \
    ", r.content_type, r.encoding, ''::bytea, r.version, r.modified_ms, r.blob, r.blob_size"
#define VALUE_COLS                                                                                 \
    ", r.content_type, r.encoding, r.value, r.version, r.modified_ms, r.blob, r.blob_size"
#define PREFIX_RANGE " AND r.key >= $3::text AND r.key < $4::text"
const struct kvs_pg_stmt kvs_pg_q_keys_with[3][2] = {
    {{PG_Q_KEYS, "kvs_keys", KEYS_SQL("", "", "$3::int8")},
     {PG_Q_KEYS_PREFIX, "kvs_keys_prefix", KEYS_SQL("", PREFIX_RANGE, "$5::int8")}},
    {{PG_Q_KEYS_TYPES, "kvs_keys_types", KEYS_SQL(TYPE_COLS, "", "$3::int8")},
     {PG_Q_KEYS_PREFIX_TYPES, "kvs_keys_prefix_types",
      KEYS_SQL(TYPE_COLS, PREFIX_RANGE, "$5::int8")}},
    {{PG_Q_KEYS_VALUES, "kvs_keys_values", KEYS_SQL(VALUE_COLS, "", "$3::int8")},
     {PG_Q_KEYS_PREFIX_VALUES, "kvs_keys_prefix_values",
      KEYS_SQL(VALUE_COLS, PREFIX_RANGE, "$5::int8")}},
};

/* ==== the read and its results =============================================================== */

int kvs_pg_read_begin(struct kvs_storage *st, struct kvs_read **out)
{
    struct kvs_pg_read *r = kvs_xcalloc(1, sizeof *r);
    r->super.st = st;
    *out = &r->super;
    return 0;
}

static void keep(struct kvs_pg_results *k, PGresult *res)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 8;
        k->res = kvs_xrealloc(k->res, k->cap * sizeof *k->res);
    }
    k->res[k->n++] = res;
}

static void clear(struct kvs_pg_results *k)
{
    for (size_t i = 0; i < k->n; i++)
        PQclear(k->res[i]);
    k->n = 0;
}

void kvs_pg_read_end(struct kvs_read *rd)
{
    struct kvs_pg_read *r = pg_read_of(rd);
    clear(&r->kept);
    clear(&r->page);
    free(r->kept.res);
    free(r->page.res);
    free(r);
}

/* ---- lookups in rounds ---- */

/* A lookup waiting for its round; on the stack of the thread that waits. */
struct kvs_pg_lookup {
    const struct kvs_pg_stmt *stmt;
    const struct kvs_pg_params *p;
    PGresult *res; /* its result, the waiting read's from then on */
    int rc;
    int done;          /* under rq_mu */
    int again;         /* unrun after an earlier statement's error: in another round */
    pthread_cond_t cv; /* its thread waits here: done, or first in the queue with a round free */
    struct kvs_pg_lookup *next;
};

/* Send the N lookups LS as one pipeline on a connection of the pool, and set each one's
 * result (or error, or again). Returns 0, or KVS_EUNAVAIL when the connection broke (then
 * nothing is set). */
static int send_round(struct kvs_pg *db, struct kvs_pg_lookup **ls, size_t n)
{
    struct kvs_pg_conn *c;
    int rc = kvs_pg_conn_get(db, &c);
    if (rc != 0)
        return rc;
    struct kvs_pg_pipe pp = {.c = c};
    int slots[ROUND_MAX];
    for (size_t i = 0; i < n && rc == 0; i++) {
        slots[i] = kvs_pg_send(&pp, ls[i]->stmt, ls[i]->p);
        rc = slots[i] < 0 ? slots[i] : 0;
    }
    if (rc == 0)
        rc = kvs_pg_sync(&pp);
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* Its own Prepare (sent in this pipeline when the connection had not prepared the
         * statement yet) failing is its error; either aborted by an earlier error: again. */
        int prep = slots[i] > 0 && pp.slots[slots[i] - 1].prepare >= 0 ? slots[i] - 1 : -1;
        PGresult *pr = prep >= 0 ? pp.slots[prep].res : NULL, *r = pp.slots[slots[i]].res;
        if (PQresultStatus(pr ? pr : r) == PGRES_PIPELINE_ABORTED) {
            ls[i]->again = 1;
            continue;
        }
        ls[i]->rc = prep >= 0 ? kvs_pg_slot_err(&pp, prep) : 0;
        if (ls[i]->rc == 0)
            ls[i]->rc = kvs_pg_slot_err(&pp, slots[i]);
        if (ls[i]->rc == 0) {
            ls[i]->res = r;
            pp.slots[slots[i]].res = NULL; /* now the lookup's */
        }
    }
    int broken = rc == KVS_EUNAVAIL || kvs_pg_broken(c);
    kvs_pg_pipe_free(&pp);
    kvs_pg_conn_put(db, c, broken);
    if (broken)
        return KVS_EUNAVAIL;
    kvs_pg_note_up(db);
    return rc;
}

/* Run the N lookups LS (a round taken from the queue): once more on a new connection when
 * the first broke, and those left unrun by an error in rounds of their own (the first of a
 * pipeline always runs, so each round finishes one at least). */
static void run_round(struct kvs_pg *db, struct kvs_pg_lookup **ls, size_t n)
{
    for (int attempt = 0;; attempt++) {
        int rc = send_round(db, ls, n);
        if (rc == KVS_EUNAVAIL && attempt == 0)
            continue;
        if (rc != 0) {
            if (rc == KVS_EUNAVAIL)
                kvs_pg_note_down(db, "a lookup lost its connection twice");
            for (size_t i = 0; i < n; i++) {
                ls[i]->rc = rc;
                ls[i]->again = 0;
            }
            return;
        }
        size_t m = 0; /* the ones left unrun go again, in order */
        for (size_t i = 0; i < n; i++)
            if (ls[i]->again) {
                ls[i]->again = 0;
                ls[m++] = ls[i];
            }
        if (m == 0)
            return;
        n = m;
        attempt = -1; /* a new round: it may lose a connection once too */
    }
}

/* Run lookup L: queued, and sent in a round by this thread or another. Returns when it is
 * done. Each thread waits on its own lookup's condition: it is woken once, when its lookup is
 * done or when it is first in the queue and a round may go out (it then sends that round). */
static void lookup(struct kvs_pg *db, struct kvs_pg_lookup *l)
{
    pthread_cond_init(&l->cv, NULL);
    pthread_mutex_lock(&db->rq_mu);
    if (db->rq_tail != NULL)
        db->rq_tail->next = l;
    else
        db->rq_head = l;
    db->rq_tail = l;
    while (!l->done) {
        if (db->rq_head != l || db->rq_rounds >= db->rq_rounds_max) {
            pthread_cond_wait(&l->cv, &db->rq_mu);
            continue;
        }
        struct kvs_pg_lookup *round[ROUND_MAX];
        size_t n = 0;
        while (db->rq_head != NULL && n < ROUND_MAX) {
            round[n++] = db->rq_head;
            db->rq_head = db->rq_head->next;
        }
        if (db->rq_head == NULL)
            db->rq_tail = NULL;
        db->rq_rounds++;
        if (db->rq_head != NULL && db->rq_rounds < db->rq_rounds_max)
            pthread_cond_signal(&db->rq_head->cv); /* the next round may go out too */
        pthread_mutex_unlock(&db->rq_mu);
        run_round(db, round, n);
        pthread_mutex_lock(&db->rq_mu);
        db->rq_rounds--;
        for (size_t i = 0; i < n; i++) {
            round[i]->done = 1;
            if (round[i] != l)
                pthread_cond_signal(&round[i]->cv);
        }
        if (db->rq_head != NULL) /* lookups came meanwhile: the first sends them */
            pthread_cond_signal(&db->rq_head->cv);
    }
    pthread_mutex_unlock(&db->rq_mu);
    pthread_cond_destroy(&l->cv);
}

/* Run STMT with P as one statement (in a round of lookups). On 0, *OUT is its result, kept in
 * K (of the read) until the read ends or K is cleared. */
static KVS_MUST_CHECK int query_into(struct kvs_read *rd, struct kvs_pg_results *k,
                                     const struct kvs_pg_stmt *stmt, const struct kvs_pg_params *p,
                                     PGresult **out)
{
    struct kvs_pg_lookup l = {.stmt = stmt, .p = p};
    lookup(pg_of(rd->st), &l);
    if (l.rc == 0)
        keep(k, *out = l.res);
    return l.rc;
}

static KVS_MUST_CHECK int query(struct kvs_read *rd, const struct kvs_pg_stmt *stmt,
                                const struct kvs_pg_params *p, PGresult **out)
{
    return query_into(rd, &pg_read_of(rd)->kept, stmt, p, out);
}

/* One row expected: 0 with it, KVS_ENOTFOUND without. */
static KVS_MUST_CHECK int query_row(struct kvs_read *rd, const struct kvs_pg_stmt *stmt,
                                    const struct kvs_pg_params *p, PGresult **out)
{
    int rc = query(rd, stmt, p, out);
    if (rc == 0 && PQntuples(*out) == 0)
        rc = KVS_ENOTFOUND;
    return rc;
}

/* The ID in slice S into OUT, or 0 when S cannot be an ID. */
static int id_of(kvs_slice s, char out[KVS_ID_LEN + 1])
{
    if (s.n != KVS_ID_LEN)
        return 0;
    memcpy(out, s.p, KVS_ID_LEN);
    out[KVS_ID_LEN] = '\0';
    return kvs_pg_id_ok(out, KVS_ID_LEN + 1);
}

/* Limits and offsets of the interface are u64; a statement takes int8. */
static int64_t i64_of(uint64_t x)
{
    return x > INT64_MAX ? INT64_MAX : (int64_t)x;
}

/* ==== the meta epoch (pg_internal.h; storage.h, "Optimistic reads") ========================== */

/* Note epoch E, which a statement of RD returned. */
void kvs_pg_saw_epoch(struct kvs_pg *db, uint64_t e)
{
    uint64_t seen = __atomic_load_n(&db->epoch_seen, __ATOMIC_RELAXED);
    while (e > seen && !__atomic_compare_exchange_n(&db->epoch_seen, &seen, e, 1, __ATOMIC_RELAXED,
                                                    __ATOMIC_RELAXED)) {
    }
}

static void saw_epoch(struct kvs_read *rd, uint64_t e)
{
    kvs_pg_saw_epoch(pg_of(rd->st), e);
    pg_read_of(rd)->last_epoch = e;
}

uint64_t kvs_pg_meta_epoch(struct kvs_read *rd)
{
    struct kvs_pg_read *r = pg_read_of(rd);
    /* Statements see every commit made before they begin (READ COMMITTED), so the epoch a
     * later statement returns is never below one seen before: an answer that a cache keeps
     * under E was found at E or later, and is given again only when a statement after it
     * returns E. */
    if (r->optimistic && r->tentative == 0)
        r->tentative = __atomic_load_n(&pg_of(rd->st)->epoch_seen, __ATOMIC_RELAXED);
    return r->optimistic ? r->tentative : 0;
}

void kvs_pg_read_optimistic(struct kvs_read *rd)
{
    pg_read_of(rd)->optimistic = 1;
}

int kvs_pg_read_confirm(struct kvs_read *rd)
{
    struct kvs_pg_read *r = pg_read_of(rd);
    if (r->tentative == 0)
        return 0; /* no cache was asked, or nothing was seen yet: every lookup was made */
    if (r->last_epoch == 0) {
        PGresult *res;
        int rc = query_row(rd, &Q_EPOCH, NULL, &res);
        if (rc != 0)
            return rc == KVS_ENOTFOUND ? KVS_EIO : rc;
        saw_epoch(rd, (uint64_t)kvs_pg_int(res, 0, 0));
    }
    if (r->last_epoch == r->tentative)
        return 0;
    r->optimistic = 0; /* epoch 0 from now on: the lookups are made again, uncached */
    r->tentative = 0;
    return 1;
}

/* ==== users and totals ======================================================================= */

static const struct kvs_pg_stmt Q_DB_SIZE = {
    PG_Q_DB_SIZE, "kvs_db_size",
    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
    " AND c.relkind = 'r' AND c.relname IN ('kvs_meta', 'kvs_users', 'kvs_tokens',"
    " 'kvs_stores', 'kvs_records', 'kvs_shares', 'kvs_dead_stores', 'kvs_runs', 'kvs_blobs',"
    " 'kvs_dead_blobs')"};

int kvs_pg_disk_bytes(struct kvs_storage *st, uint64_t *out)
{
    struct kvs_read *rd;
    int rc = kvs_pg_read_begin(st, &rd);
    PGresult *res;
    if (rc == 0)
        rc = query_row(rd, &Q_DB_SIZE, NULL, &res);
    if (rc == 0)
        *out = (uint64_t)kvs_pg_int(res, 0, 0);
    kvs_pg_read_end(rd);
    return rc == KVS_ENOTFOUND ? KVS_EIO : rc;
}

int kvs_pg_user_count(struct kvs_read *rd, uint64_t *out)
{
    PGresult *res;
    int rc = query_row(rd, &Q_USER_COUNT, NULL, &res);
    *out = rc == 0 ? (uint64_t)kvs_pg_int(res, 0, 0) : 0;
    return rc == KVS_ENOTFOUND ? KVS_EIO : rc;
}

int kvs_pg_totals(struct kvs_read *rd, struct kvs_storage_totals *out)
{
    PGresult *res;
    int rc = query_row(rd, &Q_TOTALS, NULL, &res);
    if (rc != 0)
        return rc == KVS_ENOTFOUND ? KVS_EIO : rc;
    out->users = (uint64_t)kvs_pg_int(res, 0, 0);
    out->stores = (uint64_t)kvs_pg_int(res, 0, 1);
    out->records = (uint64_t)kvs_pg_int(res, 0, 2);
    return 0;
}

/* Run a statement that selects one user (PG_USER_COLS) with the single parameter V. */
static KVS_MUST_CHECK int user_by(struct kvs_read *rd, const struct kvs_pg_stmt *stmt, kvs_slice v,
                                  struct kvs_user *out)
{
    struct kvs_pg_params p = {0};
    kvs_pg_p_bytes(&p, v.p, v.n);
    PGresult *res;
    int rc = query_row(rd, stmt, &p, &res);
    return rc != 0 ? rc : kvs_pg_user_row(res, 0, 0, out);
}

int kvs_pg_user_get(struct kvs_read *rd, kvs_slice user_id, struct kvs_user *out)
{
    char id[KVS_ID_LEN + 1];
    if (!id_of(user_id, id))
        return KVS_ENOTFOUND;
    return user_by(rd, &Q_USER_GET, user_id, out);
}

int kvs_pg_user_by_token(struct kvs_read *rd, const uint8_t hash[KVS_TOKEN_HASH_LEN],
                         struct kvs_user *out, struct kvs_token_grant *grant)
{
    struct kvs_pg_params p = {0};
    kvs_pg_p_bytes(&p, hash, KVS_TOKEN_HASH_LEN);
    PGresult *res;
    int rc = query_row(rd, &Q_USER_BY_TOKEN, &p, &res);
    if (rc == 0)
        rc = kvs_pg_user_row(res, 0, 0, out);
    if (rc == 0 && grant != NULL) {
        kvs_slice scope = kvs_pg_bytes(res, 0, PG_USER_NCOLS + 1);
        grant->expires_ms = kvs_pg_int(res, 0, PG_USER_NCOLS);
        if (scope.n > KVS_TOKEN_SCOPE_MAX || grant->expires_ms < 0)
            return KVS_EIO; /* not written by kvs */
        grant->scope_n = scope.n;
        if (scope.n > 0)
            memcpy(grant->scope, scope.p, scope.n);
        grant->scope[scope.n] = '\0';
    }
    return rc;
}

int kvs_pg_user_by_name(struct kvs_read *rd, kvs_slice username, struct kvs_user *out)
{
    if (username.n == 0 || username.n > KVS_NAME_MAX || !kvs_pg_text_ok(username.p, username.n))
        return KVS_ENOTFOUND;
    return user_by(rd, &Q_USER_BY_NAME, username, out);
}

int kvs_pg_user_list(struct kvs_read *rd, kvs_user_cb cb, void *arg)
{
    PGresult *res;
    int rc = query(rd, &Q_USER_LIST, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        struct kvs_user u;
        rc = kvs_pg_user_row(res, i, 0, &u);
        if (rc == 0 && cb(arg, &u) != 0)
            break;
    }
    return rc;
}

int kvs_pg_token_list(struct kvs_read *rd, kvs_slice user_id, kvs_token_cb cb, void *arg)
{
    char id[KVS_ID_LEN + 1];
    if (!id_of(user_id, id))
        return 0;
    struct kvs_pg_params p = {0};
    kvs_pg_p_str(&p, id);
    PGresult *res;
    int rc = query(rd, &Q_TOKEN_LIST, &p, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        struct kvs_token_info t = {.created_ms = kvs_pg_int(res, i, 1),
                                   .expires_ms = kvs_pg_int(res, i, 2),
                                   .scope = kvs_pg_bytes(res, i, 3)};
        memcpy(t.user_id, id, sizeof t.user_id);
        rc = kvs_pg_str(res, i, 0, t.prefix, sizeof t.prefix);
        if (rc == 0 && cb(arg, &t) != 0)
            break;
    }
    return rc;
}

/* ==== stores ================================================================================= */

/* Run a statement that selects one store (PG_STORE_COLS) with P into OUT. */
static KVS_MUST_CHECK int store_by(struct kvs_read *rd, const struct kvs_pg_stmt *stmt,
                                   const struct kvs_pg_params *p, struct kvs_store *out)
{
    PGresult *res;
    int rc = query_row(rd, stmt, p, &res);
    if (rc == 0)
        rc = kvs_pg_store_row(res, 0, 0, out);
    if (rc != 0)
        kvs_store_clear(out);
    return rc;
}

int kvs_pg_store_get(struct kvs_read *rd, kvs_slice id, struct kvs_store *out)
{
    memset(out, 0, sizeof *out);
    char sid[KVS_ID_LEN + 1];
    if (!id_of(id, sid))
        return KVS_ENOTFOUND;
    struct kvs_pg_params p = {0};
    kvs_pg_p_str(&p, sid);
    return store_by(rd, &Q_STORE_GET, &p, out);
}

int kvs_pg_store_by_name(struct kvs_read *rd, kvs_slice user_id, kvs_slice name,
                         struct kvs_store *out)
{
    memset(out, 0, sizeof *out);
    char uid[KVS_ID_LEN + 1];
    if (!id_of(user_id, uid) || name.n == 0 || name.n > KVS_NAME_MAX ||
        !kvs_pg_text_ok(name.p, name.n))
        return KVS_ENOTFOUND;
    struct kvs_pg_params p = {0};
    kvs_pg_p_str(&p, uid);
    kvs_pg_p_bytes(&p, name.p, name.n);
    return store_by(rd, &kvs_pg_q_store_by_name, &p, out);
}

int kvs_pg_store_list_visible(struct kvs_read *rd, kvs_slice user_id, unsigned which,
                              uint64_t offset, uint64_t limit, int desc, int include_unnamed,
                              kvs_store_share_cb cb, void *arg, uint64_t *total)
{
    *total = 0;
    char uid[KVS_ID_LEN + 1];
    if (!id_of(user_id, uid))
        return 0;
    struct kvs_pg_params p = {0};
    kvs_pg_p_str(&p, uid);
    kvs_pg_p_bool(&p, (which & KVS_LIST_OWNED) != 0);
    kvs_pg_p_bool(&p, (which & KVS_LIST_SHARED) != 0);
    kvs_pg_p_bool(&p, include_unnamed);
    kvs_pg_p_i64(&p, i64_of(offset));
    kvs_pg_p_i64(&p, i64_of(limit));
    PGresult *res;
    int rc = query_row(rd, desc ? &Q_STORES_DESC : &Q_STORES_ASC, &p, &res);
    if (rc != 0)
        return rc == KVS_ENOTFOUND ? KVS_EIO : rc; /* the total always comes */
    *total = (uint64_t)kvs_pg_int(res, 0, 0);
    for (int i = 0; i < PQntuples(res) && !kvs_pg_null(res, i, 2); i++) {
        struct kvs_store s;
        rc = kvs_pg_store_row(res, i, 2, &s);
        int stop = rc == 0 && cb(arg, &s, (enum kvs_share_level)kvs_pg_int(res, i, 1)) != 0;
        kvs_store_clear(&s);
        if (rc != 0 || stop)
            break;
    }
    return rc;
}

/* store_list is store_list_visible of the user's own stores: this passes them on. */
struct own_ctx {
    kvs_store_cb cb;
    void *arg;
};

static int own_one(void *arg, const struct kvs_store *s, enum kvs_share_level share)
{
    const struct own_ctx *ctx = arg;
    (void)share;
    return ctx->cb(ctx->arg, s);
}

int kvs_pg_store_list(struct kvs_read *rd, kvs_slice user_id, uint64_t offset, uint64_t limit,
                      int desc, int include_unnamed, kvs_store_cb cb, void *arg, uint64_t *total)
{
    struct own_ctx ctx = {.cb = cb, .arg = arg};
    return kvs_pg_store_list_visible(rd, user_id, KVS_LIST_OWNED, offset, limit, desc,
                                     include_unnamed, own_one, &ctx, total);
}

/* ==== shares ================================================================================= */

/* The level in column COL of row ROW, checked. */
static KVS_MUST_CHECK int level_of(const PGresult *res, int row, int col, enum kvs_share_level *out)
{
    int64_t level = kvs_pg_int(res, row, col);
    if (level != KVS_SHARE_READ && level != KVS_SHARE_WRITE) {
        kvs_log_error("postgres: a share with level %lld", (long long)level);
        return KVS_EIO;
    }
    *out = (enum kvs_share_level)level;
    return 0;
}

int kvs_pg_share_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice user_id,
                     enum kvs_share_level *out)
{
    char sid[KVS_ID_LEN + 1], uid[KVS_ID_LEN + 1];
    if (!id_of(store_id, sid) || !id_of(user_id, uid))
        return KVS_ENOTFOUND;
    struct kvs_pg_params p = {0};
    kvs_pg_p_str(&p, sid);
    kvs_pg_p_str(&p, uid);
    PGresult *res;
    int rc = query_row(rd, &Q_SHARE_GET, &p, &res);
    return rc != 0 ? rc : level_of(res, 0, 0, out);
}

int kvs_pg_share_list(struct kvs_read *rd, kvs_slice store_id, kvs_share_cb cb, void *arg)
{
    char sid[KVS_ID_LEN + 1];
    if (!id_of(store_id, sid))
        return 0;
    struct kvs_pg_params p = {0};
    kvs_pg_p_str(&p, sid);
    PGresult *res;
    int rc = query(rd, &Q_SHARE_LIST, &p, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        struct kvs_share sh = {0};
        enum kvs_share_level level = KVS_SHARE_NONE;
        rc = kvs_pg_str(res, i, 0, sh.user_id, sizeof sh.user_id);
        if (rc == 0)
            rc = kvs_pg_str(res, i, 1, sh.username, sizeof sh.username);
        if (rc == 0)
            rc = level_of(res, i, 2, &level);
        sh.level = (uint8_t)level;
        if (rc == 0 && cb(arg, &sh) != 0)
            break;
    }
    return rc;
}

/* ==== records ================================================================================ */

/* The record in columns COL.. (content_type, encoding, value, version, modified_ms) of row ROW
 * into OUT. */
static KVS_MUST_CHECK int record_of(const PGresult *res, int row, int col,
                                    struct kvs_record_view *out)
{
    int64_t enc = kvs_pg_int(res, row, col + 1);
    if (enc < 0 || enc > KVS_ENC_BR) {
        kvs_log_error("postgres: a record with encoding %lld", (long long)enc);
        return KVS_EIO;
    }
    out->content_type = kvs_pg_bytes(res, row, col);
    out->encoding = (enum kvs_encoding)enc;
    out->value = kvs_pg_bytes(res, row, col + 2);
    out->size = out->value.n;
    out->blob = (kvs_slice){"", 0}; /* the value is in its row */
    out->version = (uint64_t)kvs_pg_int(res, row, col + 3);
    out->modified_ms = kvs_pg_int(res, row, col + 4);
    if (!PQgetisnull(res, row, col + 5)) { /* a large value: its number (8 bytes, binary) */
        out->blob = kvs_pg_bytes(res, row, col + 5);
        out->size = (uint64_t)kvs_pg_int(res, row, col + 6);
        if (out->blob.n != 8 || out->value.n != 0) {
            kvs_log_error("postgres: a record with a malformed large value");
            return KVS_EIO;
        }
    }
    return 0;
}

int kvs_pg_record_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice key,
                      struct kvs_record_view *out)
{
    char sid[KVS_ID_LEN + 1];
    if (!id_of(store_id, sid) || key.n == 0 || key.n > KVS_KEY_MAX || !kvs_pg_text_ok(key.p, key.n))
        return KVS_ENOTFOUND; /* no stored key looks like that */
    struct kvs_pg_params p = {0};
    kvs_pg_p_str(&p, sid);
    kvs_pg_p_bytes(&p, key.p, key.n);
    PGresult *res;
    int rc = query_row(rd, &Q_RECORD_GET, &p, &res);
    if (rc != 0)
        return rc == KVS_ENOTFOUND ? KVS_EIO : rc; /* kvs_epoch has its row */
    saw_epoch(rd, (uint64_t)kvs_pg_int(res, 0, 0));
    return PQgetisnull(res, 0, 1) ? KVS_ENOTFOUND : record_of(res, 0, 1, out);
}

int kvs_pg_keys_list(struct kvs_read *rd, kvs_slice store_id, kvs_slice prefix,
                     kvs_slice start_after, uint64_t limit, unsigned flags, kvs_key_cb cb,
                     void *arg, int *truncated)
{
    *truncated = 0;
    char sid[KVS_ID_LEN + 1];
    if (!id_of(store_id, sid) || prefix.n > KVS_KEY_MAX || limit == 0 ||
        !kvs_pg_text_ok(prefix.p, prefix.n))
        return 0; /* nothing can match: every stored key is text */
    if (!kvs_pg_text_ok(start_after.p, start_after.n))
        return KVS_EINVAL; /* cannot be compared with text (the API checks it is UTF-8) */
    int values = (flags & KVS_KEYS_WITH_VALUES) != 0;
    int what = values ? 2 : (flags & KVS_KEYS_WITH_TYPES) ? 1 : 0;
    struct kvs_pg_results *k = values ? &pg_read_of(rd)->page : &pg_read_of(rd)->kept;
    if (values) {
        /* The views of the previous page with values go (storage.h), so that a long export
         * holds one page of values at a time, not all it has sent. */
        clear(k);
    }
    char end[KVS_KEY_MAX + 4];
    size_t end_n = prefix.n ? kvs_pg_prefix_end(prefix.p, prefix.n, end) : 0;
    const struct kvs_pg_stmt *stmt = &kvs_pg_q_keys_with[what][end_n != 0];
    /* Without an end, PREFIX (empty, or only U+10FFFF) is no bound: every key is above "". */
    kvs_slice after = start_after;
    uint64_t given = 0, bytes = 0;
    for (;;) {
        uint64_t want = limit - given + 1; /* one more tells whether the page is truncated */
        uint64_t chunk = values ? VALUES_CHUNK : KEYS_CHUNK;
        if (want > chunk)
            want = chunk;
        struct kvs_pg_params p = {0};
        kvs_pg_p_str(&p, sid);
        kvs_pg_p_bytes(&p, after.p, after.n);
        if (end_n) {
            kvs_pg_p_bytes(&p, prefix.p, prefix.n);
            kvs_pg_p_bytes(&p, end, end_n);
        }
        kvs_pg_p_i64(&p, (int64_t)want);
        PGresult *res;
        int rc = query_into(rd, k, stmt, &p, &res);
        if (rc != 0)
            return rc;
        int rows = PQntuples(res);
        for (int i = 0; i < rows; i++) {
            if (given == limit || (values && bytes >= VALUES_BYTES_MAX && given > 0)) {
                *truncated = 1; /* one more key matches */
                return 0;
            }
            struct kvs_key_view kv = {.key = kvs_pg_bytes(res, i, 0),
                                      .size = (uint64_t)kvs_pg_int(res, i, 1)};
            if (what > 0) {
                rc = record_of(res, i, 2, &kv.rec);
                if (rc != 0)
                    return rc;
                bytes += kv.rec.value.n;
            }
            given++;
            rc = cb(arg, &kv);
            if (rc != 0)
                return rc;
            after = kv.key; /* points into RES, which the read keeps */
        }
        if ((uint64_t)rows < want)
            return 0; /* no more keys */
    }
}

int kvs_pg_query(struct kvs_read *rd, const struct kvs_pg_stmt *stmt, const struct kvs_pg_params *p,
                 PGresult **out)
{
    return query(rd, stmt, p, out);
}
