/* pg_apply.c — the write ops of the PostgreSQL back-end: a batch of the writer thread
 * (storage.c) is one transaction, committed with synchronous_commit=on before kvs_pg_apply()
 * returns, so every write's done() runs after its commit is durable.
 *
 * A batch is two round trips of one pipeline:
 *   1. BEGIN; the database's clock and the transaction's ID; the stats rows (kvs_stores) of
 *      every store the batch touches, locked FOR UPDATE in the order of their IDs; the records
 *      the batch's record writes name, as they are (their sizes); then one statement per write
 *      that is not a record write (two for a named create or a rename, whose first takes the
 *      advisory lock of the name), written so that it cannot fail: ON CONFLICT, and
 *      conditions inside the statement ("insert if the user exists") whose outcome it returns.
 *   2. Every record write's result follows from what came back: all writers of a store hold
 *      its locked stats row, so its records cannot change under the batch, and the batch
 *      plays its record writes through here, in order, each seeing those before it. So the
 *      second round trip sends only what they leave, in at most two statements whatever the
 *      batch's size (an upsert of every record left written, with its last value, and a
 *      delete of every record left deleted, as array parameters), then one UPDATE of the
 *      stats rows with what the batch adds (count = count + n, exact because the rows are
 *      locked), the read statistics drained by storage.c included; COMMIT.
 * Computing the counters here needs the records as they were, hence two round trips and not
 * one; a batch shares them between all its writes.
 *
 * Runs (storage/run.h): a create is one statement (the store and the run, pg_runs.c); an update
 * locks its run in round trip 1 (FOR UPDATE), plays through here by kvs_run_apply() on the run
 * as the batch's earlier updates left it, and writes what it left in round trip 2.
 *
 * A statement that fails anyway (a deadlock between two renames, a full disk) rolls the
 * transaction back: nothing happened and storage.c retries each write alone. A connection
 * lost before COMMIT was sent leaves nothing either; one lost after it leaves the outcome
 * unknown: the database is asked (pg_xact_status of the transaction's ID) if it can be reached
 * at once, else the batch fails with KVS_EUNAVAIL and is never retried blindly. A result the
 * commit did not settle (get-or-create found an existing store, a token race) is read after
 * the commit, in a third round trip only those batches pay. */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "storage/pg_internal.h"

/* The database's clock at BEGIN in µs (PG_NOW_MS is the same in ms), the transaction's ID,
 * the meta epoch (kvs_write.meta_epoch). */
static const struct kvs_pg_stmt Q_NOW = {
    PG_Q_NOW, "kvs_now",
    "SELECT (floor(extract(epoch FROM transaction_timestamp()) * 1000000))::int8,"
    " pg_current_xact_id()::text::int8, (SELECT v FROM kvs_epoch)"};
static const struct kvs_pg_stmt Q_LOCK_STORES = {
    PG_Q_LOCK_STORES, "kvs_lock_stores",
    "SELECT id, last_version FROM kvs_stores WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE"};
/* The advisory lock of the name $2 of user $1 (creating a named store, renaming one), so that
 * the uniqueness of names is decided by the statement's condition, never by a failing
 * unique index. */
static const struct kvs_pg_stmt Q_LOCK_NAME = {
    PG_Q_LOCK_NAME, "kvs_lock_name",
    "SELECT pg_advisory_xact_lock(" PG_LOCK_KEY("'name/' || $1::text || '~' || $2::text") ")"};
static const struct kvs_pg_stmt Q_LOCK_RENAME = {
    PG_Q_LOCK_RENAME, "kvs_lock_rename",
    "SELECT pg_advisory_xact_lock(" PG_LOCK_KEY(
        "'name/' || user_id || '~' || $2::text") ") "
                                                 "FROM kvs_stores WHERE id = $1::text"};

/* The records ($1 store IDs, $2 keys, pairwise) that exist: their sizes, validators and large
 * values' numbers (0: in the row). */
static const struct kvs_pg_stmt Q_RECORDS = {
    PG_Q_RECORDS, "kvs_records",
    "SELECT r.store_id, r.key, coalesce(r.blob_size, octet_length(r.value))::int8, r.version,"
    " r.modified_ms, coalesce(r.blob, 0) FROM kvs_records r"
    " JOIN unnest($1::text[], $2::text[]) AS k(store_id, key)"
    " ON r.store_id = k.store_id AND r.key = k.key"};
/* The records the batch leaves written, one row per record (the last write of each); $8 the
 * number of a large value (0: the value is $5) and $9 its size. */
static const struct kvs_pg_stmt Q_RECORD_PUT = {
    PG_Q_RECORD_PUT, "kvs_record_put",
    "INSERT INTO kvs_records (store_id, key, content_type, encoding, value, version,"
    " modified_ms, blob, blob_size)"
    " SELECT s, k, t, e, v, ver, m, NULLIF(b, 0), CASE WHEN b = 0 THEN NULL ELSE bs END"
    " FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int8[], $5::bytea[], $6::int8[],"
    " $7::int8[], $8::int8[], $9::int8[]) AS u(s, k, t, e, v, ver, m, b, bs)"
    " ON CONFLICT (store_id, key) DO UPDATE SET content_type = EXCLUDED.content_type,"
    " encoding = EXCLUDED.encoding, value = EXCLUDED.value, version = EXCLUDED.version,"
    " modified_ms = EXCLUDED.modified_ms, blob = EXCLUDED.blob,"
    " blob_size = EXCLUDED.blob_size"};
/* Large values ($1) that records the batch overwrote or deleted referenced: the sweep deletes
 * their chunks after the grace period (pg_maint.c). */
static const struct kvs_pg_stmt Q_BLOBS_DEAD = {
    PG_Q_BLOBS_DEAD, "kvs_blobs_dead",
    "INSERT INTO kvs_dead_blobs (blob, dead_ms) SELECT unnest($1::int8[]), " PG_NOW_MS
    " ON CONFLICT DO NOTHING"};
/* The records the batch leaves deleted. */
static const struct kvs_pg_stmt Q_RECORD_DELETE = {
    PG_Q_RECORD_DELETE, "kvs_record_delete",
    "DELETE FROM kvs_records r USING unnest($1::text[], $2::text[]) AS k(store_id, key)"
    " WHERE r.store_id = k.store_id AND r.key = k.key"};
/* Create: the owner's username (NULL: no such user), the creation time (NULL: the name was
 * taken, or, for an unnamed store, the ID). */
static const struct kvs_pg_stmt Q_STORE_CREATE = {
    PG_Q_STORE_CREATE, "kvs_store_create",
    "WITH o AS (SELECT username FROM kvs_users WHERE id = $2::text),"
    " ins AS (INSERT INTO kvs_stores (id, user_id, name, title, secret, general_access, schema,"
    " created_ms, modified_ms, accessed_ms)"
    " SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::int8, $7::text, " PG_NOW_MS
    ", " PG_NOW_MS ", " PG_NOW_MS " FROM o ON CONFLICT DO NOTHING RETURNING created_ms) "
    "SELECT (SELECT username FROM o), (SELECT created_ms FROM ins)"};
/* Update the fields whose flag is set; no row: no such store, or the new name is taken. */
static const struct kvs_pg_stmt Q_STORE_UPDATE = {
    PG_Q_STORE_UPDATE, "kvs_store_update",
    "UPDATE kvs_stores s SET name = CASE WHEN $2::bool THEN $3::text ELSE s.name END,"
    " title = CASE WHEN $4::bool THEN $5::text ELSE s.title END,"
    " general_access = CASE WHEN $6::bool THEN $7::int8 ELSE s.general_access END,"
    " schema = CASE WHEN $8::bool THEN $9::text ELSE s.schema END,"
    " secret = CASE WHEN $10::bool THEN $11::text ELSE s.secret END,"
    " modified_ms = " PG_NOW_MS ", accessed_ms = " PG_NOW_MS " FROM kvs_users u"
    " WHERE s.id = $1::text AND u.id = s.user_id AND NOT ($2::bool AND $3::text <> '' AND"
    " EXISTS (SELECT FROM kvs_stores o WHERE o.user_id = s.user_id AND o.name = $3::text"
    " AND o.id <> s.id)) RETURNING " PG_STORE_COLS};
static const struct kvs_pg_stmt Q_STORE_DELETE = {
    PG_Q_STORE_DELETE, "kvs_store_delete",
    "WITH d AS (DELETE FROM kvs_stores WHERE id = $1::text RETURNING id, "
    "record_count)," PG_STORES_GONE};
/* Create a user with one token, unless the username or the token is taken: the creation time
 * (NULL: taken) and whether the token went in (false only when another node took it at the
 * same moment: the user is then taken out again, Q_USER_UNDO). */
static const struct kvs_pg_stmt Q_USER_CREATE = {
    PG_Q_USER_CREATE, "kvs_user_create",
    "WITH c AS (SELECT NOT EXISTS (SELECT FROM kvs_users WHERE username = $2::text) AND"
    " NOT EXISTS (SELECT FROM kvs_tokens WHERE hash = $5::bytea) AS ok),"
    " u AS (INSERT INTO kvs_users (id, username, is_admin, default_access, created_ms)"
    " SELECT $1::text, $2::text, $3::bool, $4::int8, " PG_NOW_MS " FROM c WHERE c.ok"
    " ON CONFLICT DO NOTHING RETURNING id, created_ms),"
    " t AS (INSERT INTO kvs_tokens (hash, user_id, prefix, created_ms)"
    " SELECT $5::bytea, id, $6::text, created_ms FROM u ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT (SELECT created_ms FROM u), EXISTS (SELECT FROM t)"};
static const struct kvs_pg_stmt Q_USER_UNDO = {
    PG_Q_USER_UNDO, "kvs_user_undo",
    "DELETE FROM kvs_users WHERE id = $1::text AND "
    "NOT EXISTS (SELECT FROM kvs_tokens WHERE user_id = $1::text)"};
/* Add a token: does the user exist, whose the token is already (NULL: nobody's), and whether
 * it went in. */
static const struct kvs_pg_stmt Q_TOKEN_ADD = {
    PG_Q_TOKEN_ADD, "kvs_token_add",
    "WITH u AS (SELECT id FROM kvs_users WHERE id = $1::text),"
    " t AS (SELECT user_id FROM kvs_tokens WHERE hash = $2::bytea),"
    " ins AS (INSERT INTO kvs_tokens (hash, user_id, prefix, created_ms, scope, expires_ms)"
    " SELECT $2::bytea, u.id, $3::text, " PG_NOW_MS ", $4::text, $5::int8"
    " FROM u WHERE NOT EXISTS (SELECT FROM t) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT EXISTS (SELECT FROM u), (SELECT user_id FROM t), EXISTS (SELECT FROM ins)"};
static const struct kvs_pg_stmt Q_TOKEN_OWNER = {
    PG_Q_TOKEN_OWNER, "kvs_token_owner", "SELECT user_id FROM kvs_tokens WHERE hash = $1::bytea"};
/* Revoke the one token that M finds: how many M found (up to 2: ambiguous), and the owner. */
#define REVOKE_SQL(MATCH)                                                                          \
    "WITH m AS (SELECT hash, user_id FROM kvs_tokens WHERE " MATCH                                 \
    " ORDER BY prefix, hash LIMIT 2 FOR UPDATE),"                                                  \
    " n AS (SELECT count(*) AS c FROM m),"                                                         \
    " d AS (DELETE FROM kvs_tokens t WHERE t.hash IN (SELECT hash FROM m)"                         \
    " AND (SELECT c FROM n) = 1 RETURNING t.user_id) "                                             \
    "SELECT n.c, " PG_USER_COLS " FROM n LEFT JOIN d ON true LEFT JOIN kvs_users u"                \
    " ON u.id = d.user_id"
static const struct kvs_pg_stmt Q_TOKEN_REVOKE_PREFIX = {
    PG_Q_TOKEN_REVOKE_PREFIX, "kvs_token_revoke_prefix",
    REVOKE_SQL("prefix >= $1::text AND prefix < $2::text AND"
               " ($3::text = '' OR user_id = $3::text)")};
static const struct kvs_pg_stmt Q_TOKEN_REVOKE_HASH = {
    PG_Q_TOKEN_REVOKE_HASH, "kvs_token_revoke_hash",
    REVOKE_SQL("hash = $1::bytea AND ($2::text = '' OR user_id = $2::text)")};
static const struct kvs_pg_stmt Q_USER_UPDATE = {
    PG_Q_USER_UPDATE, "kvs_user_update",
    "UPDATE kvs_users u SET default_access = $2::int8 WHERE u.id = $1::text "
    "RETURNING " PG_USER_COLS};
/* Share: does the store exist, does the user, is the user its owner. A WRITE share (level 2,
 * KVS_SHARE_WRITE) lowered to READ gives the store the new secret $4 (storage.h, "Signing
 * secrets"); OLD reads the share as it was before INS changed it (one snapshot). */
static const struct kvs_pg_stmt Q_SHARE_SET = {
    PG_Q_SHARE_SET, "kvs_share_set",
    "WITH s AS (SELECT user_id FROM kvs_stores WHERE id = $1::text),"
    " u AS (SELECT id FROM kvs_users WHERE id = $2::text),"
    " old AS (SELECT level FROM kvs_shares WHERE store_id = $1::text AND user_id = $2::text),"
    " ins AS (INSERT INTO kvs_shares (store_id, user_id, level)"
    " SELECT $1::text, u.id, $3::int8 FROM s, u WHERE s.user_id <> u.id"
    " ON CONFLICT (store_id, user_id) DO UPDATE SET level = EXCLUDED.level RETURNING 1),"
    " rot AS (UPDATE kvs_stores SET secret = $4::text WHERE id = $1::text AND $3::int8 <> 2"
    " AND EXISTS (SELECT FROM ins) AND (SELECT level FROM old) = 2 RETURNING 1) "
    "SELECT EXISTS (SELECT FROM s), EXISTS (SELECT FROM u),"
    " coalesce((SELECT user_id FROM s) = $2::text, false)"};
/* Take a share back: whether there was one; a WRITE share gone gives the store the new
 * secret $3. */
static const struct kvs_pg_stmt Q_SHARE_DELETE = {
    PG_Q_SHARE_DELETE, "kvs_share_delete",
    "WITH d AS (DELETE FROM kvs_shares WHERE store_id = $1::text AND user_id = $2::text"
    " RETURNING level),"
    " rot AS (UPDATE kvs_stores SET secret = $3::text WHERE id = $1::text"
    " AND EXISTS (SELECT FROM d WHERE level = 2) RETURNING 1) "
    "SELECT count(*) FROM d"};
/* Delete a user and everything that is theirs (KVS_W_USER_DELETE): their tokens, the shares
 * others gave them, their stores (as Q_STORE_DELETE deletes one: shares with them, records
 * left to the sweep, runs by kvs_runs' ON DELETE CASCADE). Whatever else comes to belong to a
 * user goes here too, as one more CTE. Deleting an admin counts the other admins under FOR
 * UPDATE, so that two nodes deleting two admins at once cannot leave none. One row per store
 * deleted ('d') and per store they had a WRITE share of ('w': it gets a new signing secret,
 * Q_SECRETS), one with a NULL kind when neither: whether the user existed, the user as deleted
 * (NULLs: refused, the only admin), the kind and the store. */
static const struct kvs_pg_stmt Q_USER_DELETE = {
    PG_Q_USER_DELETE, "kvs_user_delete",
    "WITH a AS (SELECT id FROM kvs_users WHERE is_admin AND id <> $1::text FOR UPDATE),"
    " u AS (DELETE FROM kvs_users u WHERE u.id = $1::text AND"
    " (NOT u.is_admin OR (SELECT count(*) FROM a) > 0) RETURNING " PG_USER_COLS "),"
    " t AS (DELETE FROM kvs_tokens WHERE user_id IN (SELECT id FROM u)),"
    " g AS (DELETE FROM kvs_shares WHERE user_id IN (SELECT id FROM u)"
    " RETURNING store_id, level),"
    " d AS (DELETE FROM kvs_stores WHERE user_id IN (SELECT id FROM u)"
    " RETURNING id, record_count),"
    " sh AS (DELETE FROM kvs_shares WHERE store_id IN (SELECT id FROM d)),"
    " x AS (INSERT INTO kvs_dead_stores (store_id, deleted_ms, records)"
    " SELECT id, " PG_NOW_MS ", record_count FROM d ON CONFLICT DO NOTHING) "
    "SELECT EXISTS (SELECT FROM kvs_users WHERE id = $1::text), " PG_USER_COLS ", k.kind, k.id"
    " FROM (SELECT 1) one LEFT JOIN u ON true LEFT JOIN (SELECT 'd' AS kind, id FROM d"
    " UNION ALL SELECT 'w', store_id FROM g WHERE level = 2) k ON true"};
/* New URL-signing secrets ($2) for the stores $1 (storage.h, "Signing secrets"). */
static const struct kvs_pg_stmt Q_SECRETS = {
    PG_Q_SECRETS, "kvs_secrets",
    "UPDATE kvs_stores s SET secret = n.secret FROM unnest($1::text[], $2::text[])"
    " AS n(id, secret) WHERE s.id = n.id"};
/* What a batch adds to the stats rows of its stores (locked by Q_LOCK_STORES), one row of
 * the arrays per store. */
static const struct kvs_pg_stmt Q_STATS = {
    PG_Q_STATS, "kvs_stats",
    "UPDATE kvs_stores s SET read_count = s.read_count + d.reads,"
    " write_count = s.write_count + d.writes, delete_count = s.delete_count + d.deletes,"
    " list_count = s.list_count + d.lists, record_count = s.record_count + d.records,"
    " storage_bytes = s.storage_bytes + d.bytes,"
    " modified_ms = GREATEST(s.modified_ms, d.modified_ms),"
    " accessed_ms = GREATEST(s.accessed_ms, d.accessed_ms),"
    " last_version = GREATEST(s.last_version, d.last_version)"
    " FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[],"
    " $7::int8[], $8::int8[], $9::int8[], $10::int8[])"
    " AS d(id, reads, writes, deletes, lists, records, bytes, modified_ms, accessed_ms,"
    " last_version) WHERE s.id = d.id"};
static const struct kvs_pg_stmt Q_XACT_STATUS = {PG_Q_XACT_STATUS, "kvs_xact_status",
                                                 "SELECT pg_xact_status($1::int8::text::xid8)"};

/* ==== the writer's connection ================================================================ */

int kvs_pg_writer_conn(struct kvs_pg *db, struct kvs_pg_conn **out)
{
    if (db->wconn == NULL) {
        int rc = kvs_pg_connect(db, NULL, 0, &db->wconn);
        if (rc != 0)
            return rc;
    }
    *out = db->wconn;
    return 0;
}

void kvs_pg_writer_lost(struct kvs_pg *db)
{
    kvs_pg_conn_close(db->wconn);
    db->wconn = NULL;
}

/* ==== the batch ============================================================================== */

/* A store the batch touches: as Q_LOCK_STORES found it, and what the batch adds to it. */
struct touched {
    char id[KVS_ID_LEN + 1];
    int exists;                       /* it existed (and is locked) */
    int deleted;                      /* a write of this batch deleted it */
    uint64_t last_version;            /* the last record version it gave (storage.h) */
    struct kvs_store_stats add;       /* read_count..storage_bytes; record_count, bytes may wrap */
    int64_t modified_ms, accessed_ms; /* 0: unchanged */
};

/* A record the batch's record writes name: as it was (from Q_RECORDS), then as the writes
 * before the one being played through left it. */
struct rec {
    const char *store_id; /* the write's (valid while the batch runs) */
    kvs_slice key;
    int was;          /* it existed before the batch */
    int exists;       /* ... and now, as the writes played through so far have left it */
    uint64_t size;    /* of the value */
    int64_t blob;     /* the number of its large value before the batch, or 0 */
    uint64_t version; /* its validators (when it exists) */
    int64_t modified_ms;
    int changed;                   /* by a write of the batch */
    const struct kvs_write *value; /* when it exists and changed: the write of its value */
};

/* What comes after the commit for a write. */
enum follow { F_NONE, F_STORE_BY_NAME, F_TOKEN_OWNER };

/* One write of the batch. */
struct plan {
    int slot;   /* the slot of its statement's result, or -1: RESULT is known already */
    int result; /* set before the statements run when SLOT is -1 */
    int record; /* a record write, played through after the first round trip */
    int undo;   /* user create: the token was taken meanwhile; take the user out again */
    enum follow follow;
    int follow_slot;
    char id[KVS_ID_LEN + 1];         /* create: the new store's or user's ID */
    char secret[KVS_SECRET_LEN + 1]; /* store create */
    char run_id[KVS_ID_LEN + 1];     /* run create */
    int has_store, has_user, has_run; /* outputs, handed over once the batch commits */
    struct kvs_store store;
    struct kvs_user user;
    struct kvs_run run; /* a run op's run as the write leaves it (its message owned) */
    uint64_t version; /* a record put's, handed over with the others */
    int64_t modified_ms;
};

struct batch {
    struct kvs_pg *db;
    struct kvs_upload *up; /* the one write carries an upload: its connection is the batch's */
    struct kvs_pg_pipe pp;
    struct kvs_write **ws;
    size_t n;
    struct plan *plans;
    struct touched *t; /* sorted by ID */
    size_t nt;
    struct rec *recs; /* sorted by store ID and key */
    size_t nrecs;
    int64_t now;    /* the database's clock at BEGIN, ms */
    int64_t now_us; /* ... and µs */
    int64_t xid;
    uint64_t epoch; /* the meta epoch at BEGIN */
    int stale;      /* the first round trip failed on a connection made before the batch */
    /* stores to get a new signing secret (a user deleted who could write them): Q_SECRETS;
     * made only when needed (zeroed until then, which kvs_pg_array_free takes) */
    int rotating;
    struct kvs_pg_array rotate_ids, rotate_secrets;
};

/* Whether the string in the char array FIELD ends within the array (input from a client
 * passes through several hands before it reaches here). */
#define FITS(field) (strnlen((field), sizeof(field)) < sizeof(field))

static int cmp_touched(const void *a, const void *b)
{
    return strcmp(((const struct touched *)a)->id, ((const struct touched *)b)->id);
}

static struct touched *find(struct batch *b, const char *id)
{
    struct touched key;
    if (!kvs_pg_id_ok(id, KVS_ID_LEN + 1))
        return NULL;
    memcpy(key.id, id, sizeof key.id);
    return bsearch(&key, b->t, b->nt, sizeof *b->t, cmp_touched);
}

/* The stores whose stats rows the batch locks: those its writes name, and those with read
 * statistics; sorted, each once. */
static void collect_touched(struct batch *b, const struct kvs_stat_delta *deltas, size_t nd)
{
    b->t = kvs_xcalloc(b->n + nd + 1, sizeof *b->t);
    for (size_t i = 0; i < b->n + nd; i++) {
        const char *id;
        if (i < b->n) {
            const struct kvs_write *w = b->ws[i];
            if (w->op == KVS_W_STORE_CREATE || w->op == KVS_W_USER_CREATE ||
                w->op == KVS_W_TOKEN_ADD || w->op == KVS_W_TOKEN_REVOKE ||
                w->op == KVS_W_USER_UPDATE || w->op == KVS_W_RUN_CREATE ||
                w->op == KVS_W_RUN_UPDATE || w->op == KVS_W_USER_DELETE)
                continue;
            id = w->store_id;
        } else {
            id = deltas[i - b->n].store_id;
        }
        if (!kvs_pg_id_ok(id, KVS_ID_LEN + 1))
            continue;
        memcpy(b->t[b->nt++].id, id, KVS_ID_LEN + 1);
    }
    qsort(b->t, b->nt, sizeof *b->t, cmp_touched);
    size_t u = 0;
    for (size_t i = 0; i < b->nt; i++)
        if (u == 0 || strcmp(b->t[u - 1].id, b->t[i].id) != 0)
            b->t[u++] = b->t[i];
    b->nt = u;
}

/* Check the fields of a store a client may set. Returns 0 or KVS_EINVAL. */
static KVS_MUST_CHECK int check_store_fields(const struct kvs_store *s, unsigned mask)
{
    if ((mask & KVS_UPD_NAME) && (!FITS(s->name) || !kvs_pg_text_ok(s->name, strlen(s->name))))
        return KVS_EINVAL;
    if ((mask & KVS_UPD_TITLE) && (!FITS(s->title) || !kvs_pg_text_ok(s->title, strlen(s->title))))
        return KVS_EINVAL;
    if ((mask & KVS_UPD_ACCESS) && s->general_access > KVS_GA_ANYONE_WITH_NAME_CAN_READ)
        return KVS_EINVAL;
    if ((mask & KVS_UPD_SCHEMA) && s->schema != NULL) {
        size_t n = strnlen(s->schema, KVS_SCHEMA_MAX + 1);
        if (n > KVS_SCHEMA_MAX || !kvs_pg_text_ok(s->schema, n))
            return KVS_EINVAL;
    }
    return 0;
}

/* A new URL-signing secret into P (a store's, storage.h "Signing secrets"). Returns 0, or
 * KVS_EIO in P's result when the random source failed. */
static int new_secret(struct plan *p)
{
    if (kvs_random_alnum(p->secret, KVS_SECRET_LEN) != 0) {
        kvs_log_error("postgres: the random source failed");
        return p->result = KVS_EIO;
    }
    p->secret[KVS_SECRET_LEN] = '\0';
    return 0;
}

/* ---- round trip 1: the statements of each write ---- */

/* Send the statements of write W into P's plan. Returns 0, or KVS_EUNAVAIL when the
 * connection broke. A write that needs no statement gets its result in P. */
static KVS_MUST_CHECK int send_write(struct batch *b, const struct kvs_write *w, struct plan *p)
{
    struct kvs_pg_pipe *pp = &b->pp;
    struct kvs_pg_params q = {0};
    p->slot = -1;
    p->result = 0;
    switch (w->op) {
    case KVS_W_RECORD_PUT:
    case KVS_W_RECORD_DELETE:
        p->record = 1; /* played through after the first round trip (play) */
        return 0;
    case KVS_W_STORE_CREATE: {
        const struct kvs_store *in = &w->store;
        if (!kvs_pg_id_ok(in->user_id, sizeof in->user_id)) {
            p->result = KVS_ENOTFOUND;
            return 0;
        }
        p->result =
            check_store_fields(in, KVS_UPD_NAME | KVS_UPD_TITLE | KVS_UPD_ACCESS | KVS_UPD_SCHEMA);
        if (p->result == 0 &&
            (kvs_random_id(p->id) != 0 || kvs_random_alnum(p->secret, KVS_SECRET_LEN) != 0)) {
            kvs_log_error("postgres: the random source failed");
            p->result = KVS_EIO;
        }
        if (p->result != 0)
            return 0;
        p->secret[KVS_SECRET_LEN] = '\0';
        if (in->name[0] != '\0') {
            kvs_pg_p_str(&q, in->user_id);
            kvs_pg_p_str(&q, in->name);
            if (kvs_pg_send(pp, &Q_LOCK_NAME, &q) < 0)
                return KVS_EUNAVAIL;
            q.n = 0;
        }
        kvs_pg_p_str(&q, p->id);
        kvs_pg_p_str(&q, in->user_id);
        kvs_pg_p_str(&q, in->name);
        kvs_pg_p_str(&q, in->title);
        kvs_pg_p_str(&q, p->secret);
        kvs_pg_p_i64(&q, in->general_access);
        if (in->schema != NULL)
            kvs_pg_p_str(&q, in->schema);
        else
            kvs_pg_p_null(&q);
        p->slot = kvs_pg_send(pp, &Q_STORE_CREATE, &q);
        break;
    }
    case KVS_W_STORE_UPDATE: {
        const struct kvs_store *in = &w->store;
        unsigned m = w->update_mask;
        if (!kvs_pg_id_ok(w->store_id, sizeof w->store_id)) {
            p->result = KVS_ENOTFOUND;
            return 0;
        }
        if ((p->result = check_store_fields(in, m)) != 0)
            return 0;
        if ((m & KVS_UPD_NAME) && in->name[0] != '\0') {
            kvs_pg_p_str(&q, w->store_id);
            kvs_pg_p_str(&q, in->name);
            if (kvs_pg_send(pp, &Q_LOCK_RENAME, &q) < 0)
                return KVS_EUNAVAIL;
            q.n = 0;
        }
        kvs_pg_p_str(&q, w->store_id);
        kvs_pg_p_bool(&q, (m & KVS_UPD_NAME) != 0);
        kvs_pg_p_str(&q, (m & KVS_UPD_NAME) ? in->name : "");
        kvs_pg_p_bool(&q, (m & KVS_UPD_TITLE) != 0);
        kvs_pg_p_str(&q, (m & KVS_UPD_TITLE) ? in->title : "");
        kvs_pg_p_bool(&q, (m & KVS_UPD_ACCESS) != 0);
        kvs_pg_p_i64(&q, in->general_access);
        kvs_pg_p_bool(&q, (m & KVS_UPD_SCHEMA) != 0);
        if ((m & KVS_UPD_SCHEMA) && in->schema != NULL)
            kvs_pg_p_str(&q, in->schema);
        else
            kvs_pg_p_null(&q);
        if ((m & KVS_UPD_SECRET) && new_secret(p) != 0)
            return 0;
        kvs_pg_p_bool(&q, (m & KVS_UPD_SECRET) != 0);
        kvs_pg_p_str(&q, p->secret);
        p->slot = kvs_pg_send(pp, &Q_STORE_UPDATE, &q);
        break;
    }
    case KVS_W_STORE_DELETE:
        if (!kvs_pg_id_ok(w->store_id, sizeof w->store_id)) {
            p->result = KVS_ENOTFOUND;
            return 0;
        }
        kvs_pg_p_str(&q, w->store_id);
        p->slot = kvs_pg_send(pp, &Q_STORE_DELETE, &q);
        break;
    case KVS_W_USER_CREATE: {
        const struct kvs_user *in = &w->user;
        size_t name_n = strnlen(in->username, sizeof in->username);
        if (name_n == 0 || name_n == sizeof in->username || !kvs_pg_text_ok(in->username, name_n) ||
            in->default_access < KVS_GA_RESTRICTED ||
            in->default_access > KVS_GA_ANYONE_WITH_NAME_CAN_READ ||
            !kvs_pg_text_ok(w->token_prefix, strnlen(w->token_prefix, KVS_TOKEN_PREFIX_MAX))) {
            p->result = KVS_EINVAL;
            return 0;
        }
        if (kvs_random_id(p->id) != 0) {
            kvs_log_error("postgres: the random source failed");
            p->result = KVS_EIO;
            return 0;
        }
        kvs_pg_p_str(&q, p->id);
        kvs_pg_p_bytes(&q, in->username, name_n);
        kvs_pg_p_bool(&q, in->is_admin != 0);
        kvs_pg_p_i64(&q, in->default_access);
        kvs_pg_p_bytes(&q, w->token_hash, KVS_TOKEN_HASH_LEN);
        kvs_pg_p_bytes(&q, w->token_prefix, strnlen(w->token_prefix, KVS_TOKEN_PREFIX_MAX));
        p->slot = kvs_pg_send(pp, &Q_USER_CREATE, &q);
        break;
    }
    case KVS_W_TOKEN_ADD:
        if (!kvs_pg_id_ok(w->user.id, sizeof w->user.id)) {
            p->result = KVS_ENOTFOUND;
            return 0;
        }
        if (!kvs_pg_text_ok(w->token_prefix, strnlen(w->token_prefix, KVS_TOKEN_PREFIX_MAX)) ||
            w->token_expires_ms < 0 || w->token_scope.n > KVS_TOKEN_SCOPE_MAX ||
            (w->token_scope.n > 0 && !kvs_pg_text_ok(w->token_scope.p, w->token_scope.n))) {
            p->result = KVS_EINVAL;
            return 0;
        }
        kvs_pg_p_str(&q, w->user.id);
        kvs_pg_p_bytes(&q, w->token_hash, KVS_TOKEN_HASH_LEN);
        kvs_pg_p_bytes(&q, w->token_prefix, strnlen(w->token_prefix, KVS_TOKEN_PREFIX_MAX));
        kvs_pg_p_bytes(&q, w->token_scope.n ? w->token_scope.p : "", w->token_scope.n);
        kvs_pg_p_i64(&q, w->token_expires_ms);
        p->slot = kvs_pg_send(pp, &Q_TOKEN_ADD, &q);
        break;
    case KVS_W_TOKEN_REVOKE: {
        size_t only_n = FITS(w->user.id) ? strlen(w->user.id) : 0;
        if (!FITS(w->user.id) || (only_n != 0 && !kvs_pg_id_ok(w->user.id, sizeof w->user.id)) ||
            w->key.n > KVS_TOKEN_PREFIX_MAX || !kvs_pg_text_ok(w->key.p, w->key.n)) {
            p->result = KVS_ENOTFOUND; /* no token or prefix looks like that */
            return 0;
        }
        if (w->key.n > 0) {
            char end[KVS_TOKEN_PREFIX_MAX + 4];
            size_t end_n = kvs_pg_prefix_end(w->key.p, w->key.n, end);
            kvs_pg_p_bytes(&q, w->key.p, w->key.n);
            kvs_pg_p_bytes(&q, end, end_n); /* copied when sent */
            kvs_pg_p_bytes(&q, w->user.id, only_n);
            if (end_n == 0) {
                p->result = KVS_ENOTFOUND; /* only U+10FFFF: not a prefix of ours */
                return 0;
            }
            p->slot = kvs_pg_send(pp, &Q_TOKEN_REVOKE_PREFIX, &q);
        } else {
            kvs_pg_p_bytes(&q, w->token_hash, KVS_TOKEN_HASH_LEN);
            kvs_pg_p_bytes(&q, w->user.id, only_n);
            p->slot = kvs_pg_send(pp, &Q_TOKEN_REVOKE_HASH, &q);
        }
        break;
    }
    case KVS_W_USER_UPDATE:
        if (!kvs_pg_id_ok(w->user.id, sizeof w->user.id)) {
            p->result = KVS_ENOTFOUND;
            return 0;
        }
        if (w->user.default_access < KVS_GA_RESTRICTED ||
            w->user.default_access > KVS_GA_ANYONE_WITH_NAME_CAN_READ) {
            p->result = KVS_EINVAL;
            return 0;
        }
        kvs_pg_p_str(&q, w->user.id);
        kvs_pg_p_i64(&q, w->user.default_access);
        p->slot = kvs_pg_send(pp, &Q_USER_UPDATE, &q);
        break;
    case KVS_W_USER_DELETE:
        if (!kvs_pg_id_ok(w->user.id, sizeof w->user.id)) {
            p->result = KVS_ENOTFOUND;
            return 0;
        }
        kvs_pg_p_str(&q, w->user.id);
        p->slot = kvs_pg_send(pp, &Q_USER_DELETE, &q);
        break;
    case KVS_W_SHARE_SET:
    case KVS_W_SHARE_DELETE:
        if (!kvs_pg_id_ok(w->store_id, sizeof w->store_id) ||
            !kvs_pg_id_ok(w->user.id, sizeof w->user.id)) {
            p->result = KVS_ENOTFOUND;
            return 0;
        }
        if (w->op == KVS_W_SHARE_SET && w->share_level != KVS_SHARE_READ &&
            w->share_level != KVS_SHARE_WRITE) {
            p->result = KVS_EINVAL;
            return 0;
        }
        if (new_secret(p) != 0) /* used only when a WRITE share goes */
            return 0;
        kvs_pg_p_str(&q, w->store_id);
        kvs_pg_p_str(&q, w->user.id);
        if (w->op == KVS_W_SHARE_SET) {
            kvs_pg_p_i64(&q, w->share_level);
            kvs_pg_p_str(&q, p->secret);
            p->slot = kvs_pg_send(pp, &Q_SHARE_SET, &q);
        } else {
            kvs_pg_p_str(&q, p->secret);
            p->slot = kvs_pg_send(pp, &Q_SHARE_DELETE, &q);
        }
        break;
    case KVS_W_RUN_CREATE: {
        const struct kvs_run *in = w->run;
        const struct kvs_store *st = &w->store;
        if (in == NULL || !kvs_run_fields_ok(in) || !FITS(st->name) || st->name[0] != '\0' ||
            strcmp(in->user_id, st->user_id) != 0 ||
            check_store_fields(st, KVS_UPD_TITLE | KVS_UPD_ACCESS) != 0) {
            p->result = KVS_EINVAL;
            return 0;
        }
        if (kvs_random_id(p->id) != 0 || kvs_random_id(p->run_id) != 0 ||
            kvs_random_alnum(p->secret, KVS_SECRET_LEN) != 0) {
            kvs_log_error("postgres: the random source failed");
            p->result = KVS_EIO;
            return 0;
        }
        p->secret[KVS_SECRET_LEN] = '\0';
        kvs_pg_p_str(&q, p->id);
        kvs_pg_p_str(&q, in->user_id);
        kvs_pg_p_str(&q, st->title);
        kvs_pg_p_str(&q, p->secret);
        kvs_pg_p_i64(&q, st->general_access);
        kvs_pg_p_str(&q, p->run_id);
        kvs_pg_p_str(&q, in->act_id);
        kvs_pg_p_str(&q, in->actor);
        kvs_pg_p_str(&q, in->origin);
        kvs_pg_p_i64(&q, in->timeout_secs);
        kvs_pg_p_i64(&q, in->memory_mbytes);
        p->slot = kvs_pg_send(pp, &kvs_pg_q_run_create, &q);
        break;
    }
    case KVS_W_RUN_UPDATE:
        if (w->run == NULL || !kvs_pg_id_ok(w->run->id, sizeof w->run->id)) {
            p->result = w->run == NULL ? KVS_EINVAL : KVS_ENOTFOUND;
            return 0;
        }
        kvs_pg_p_str(&q, w->run->id);
        p->slot = kvs_pg_send(pp, &kvs_pg_q_run_lock, &q);
        break;
    default:
        p->result = KVS_EINVAL;
        return 0;
    }
    return p->slot < 0 ? KVS_EUNAVAIL : 0;
}

/* ---- the records of the record writes ---- */

/* Whether W is a record write of a key that may exist (valid store ID and key). */
static int names_record(const struct kvs_write *w)
{
    return (w->op == KVS_W_RECORD_PUT || w->op == KVS_W_RECORD_DELETE) &&
           kvs_pg_id_ok(w->store_id, sizeof w->store_id) && w->key.n > 0 &&
           w->key.n <= KVS_KEY_MAX && kvs_pg_text_ok(w->key.p, w->key.n);
}

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    int c = strcmp(x->store_id, y->store_id);
    if (c != 0)
        return c;
    size_t n = x->key.n < y->key.n ? x->key.n : y->key.n;
    c = memcmp(x->key.p, y->key.p, n);
    return c != 0 ? c : (x->key.n > y->key.n) - (x->key.n < y->key.n);
}

static struct rec *find_rec(struct batch *b, const char *store_id, kvs_slice key)
{
    struct rec k = {.store_id = store_id, .key = key};
    return bsearch(&k, b->recs, b->nrecs, sizeof *b->recs, cmp_rec);
}

/* Collect the records the batch's record writes name (sorted, each once), and send the
 * statement that reads them as they are. Returns its slot, 0 when there are none, or
 * KVS_EUNAVAIL. */
static KVS_MUST_CHECK int send_records(struct batch *b)
{
    b->recs = kvs_xcalloc(b->n + 1, sizeof *b->recs);
    for (size_t i = 0; i < b->n; i++)
        if (names_record(b->ws[i]))
            b->recs[b->nrecs++] =
                (struct rec){.store_id = b->ws[i]->store_id, .key = b->ws[i]->key};
    if (b->nrecs == 0)
        return 0;
    qsort(b->recs, b->nrecs, sizeof *b->recs, cmp_rec);
    size_t u = 0;
    for (size_t i = 0; i < b->nrecs; i++)
        if (u == 0 || cmp_rec(&b->recs[u - 1], &b->recs[i]) != 0)
            b->recs[u++] = b->recs[i];
    b->nrecs = u;
    struct kvs_pg_array ids, keys;
    kvs_pg_array_init(&ids, PG_OID_TEXT);
    kvs_pg_array_init(&keys, PG_OID_TEXT);
    for (size_t i = 0; i < b->nrecs; i++) {
        kvs_pg_array_add(&ids, b->recs[i].store_id, KVS_ID_LEN);
        kvs_pg_array_add(&keys, b->recs[i].key.p, b->recs[i].key.n);
    }
    struct kvs_pg_params q = {0};
    kvs_pg_p_array(&q, &ids);
    kvs_pg_p_array(&q, &keys);
    int slot = kvs_pg_send(&b->pp, &Q_RECORDS, &q);
    kvs_pg_array_free(&ids);
    kvs_pg_array_free(&keys);
    return slot;
}

/* Mark the records that exist, from Q_RECORDS's result R. Returns 0 or KVS_EIO. */
static KVS_MUST_CHECK int records_found(struct batch *b, const PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        char id[KVS_ID_LEN + 1];
        struct rec *rec = NULL;
        if (kvs_pg_str(r, i, 0, id, sizeof id) == 0)
            rec = find_rec(b, id, kvs_pg_bytes(r, i, 1));
        if (rec == NULL)
            return KVS_EIO; /* a record that was not asked for */
        rec->was = rec->exists = 1;
        rec->size = (uint64_t)kvs_pg_int(r, i, 2);
        rec->version = (uint64_t)kvs_pg_int(r, i, 3);
        rec->modified_ms = kvs_pg_int(r, i, 4);
        rec->blob = kvs_pg_int(r, i, 5);
    }
    return 0;
}

/* ---- between the round trips: each write's result, each store's counters ---- */

/* Store T changed now (a record written or deleted, the store updated). */
static void touch(struct batch *b, struct touched *t)
{
    t->modified_ms = t->accessed_ms = b->now;
}

/* The version of a record the batch writes into store T: storage.h's "Record versions", as
 * lmdb_apply.c makes them (at least the time in µs, above the store's last version and this
 * node's; the database's clock, so nodes do not depend on theirs). */
static uint64_t next_version(struct batch *b, struct touched *t)
{
    uint64_t v = b->now_us > 0 ? (uint64_t)b->now_us : 0;
    if (v <= t->last_version)
        v = t->last_version + 1;
    if (v <= b->db->last_version)
        v = b->db->last_version + 1;
    return t->last_version = b->db->last_version = v;
}

/* Play record write W (plan P) of store T (NULL: not a store) through: its result from the
 * records as the batch has left them so far, what it adds to T's counters, and what it leaves
 * (send_changes sends that). */
static int play(struct batch *b, const struct kvs_write *w, struct plan *p, struct touched *t)
{
    if (w->meta_epoch != 0 && w->meta_epoch != b->epoch) {
        p->result = KVS_ESTALE; /* the rights it was given may have changed: changes nothing */
        return 0;
    }
    int valid_key = names_record(w);
    if (kvs_pg_id_ok(w->store_id, sizeof w->store_id) && w->op == KVS_W_RECORD_PUT &&
        (!valid_key || w->content_type.n > KVS_CONTENT_TYPE_MAX ||
         (unsigned)w->encoding > KVS_ENC_BR)) {
        p->result = KVS_EINVAL; /* checked first, as lmdb_apply.c does */
        return 0;
    }
    if (t == NULL || !t->exists || t->deleted) {
        p->result = KVS_ENOTFOUND; /* no such store (deleted meanwhile, or by this batch) */
        return 0;
    }
    struct rec *rec = valid_key ? find_rec(b, w->store_id, w->key) : NULL;
    if (valid_key && rec == NULL)
        return KVS_EIO; /* collected by send_records: cannot happen */
    /* Against the record as the writes before this one left it (none: a key that cannot
     * exist). */
    struct kvs_precond_target cur = {0, 0, 0};
    if (rec != NULL && rec->exists)
        cur = (struct kvs_precond_target){1, rec->version, rec->modified_ms};
    if (w->precond != NULL && kvs_precond_eval(w->precond, &cur, 0, 0) != KVS_PRECOND_PASS) {
        p->result = KVS_EPRECOND;
        return 0;
    }
    if (!valid_key)
        return 0; /* deleting a key that cannot exist: a success that changes nothing */
    uint64_t old = rec->exists ? w->key.n + rec->size : 0;
    if (w->op == KVS_W_RECORD_PUT) {
        uint64_t size = w->upload ? kvs_upload_size(w->upload) : w->value.n;
        t->add.write_count++;
        t->add.record_count += !rec->exists;
        t->add.storage_bytes += w->key.n + size - old;
        rec->exists = 1;
        rec->size = size;
        rec->value = w;
        rec->version = p->version = next_version(b, t);
        rec->modified_ms = p->modified_ms = b->now;
    } else if (rec->exists) {
        t->add.delete_count++;
        t->add.record_count--;
        t->add.storage_bytes -= old;
        rec->exists = 0;
        rec->value = NULL;
    } else {
        return 0; /* no such key: nothing changes */
    }
    rec->changed = 1;
    touch(b, t);
    return 0;
}

/* Send what the record writes leave, as played through: one statement that writes every
 * record they leave written (with the last value each got), one that deletes every record that
 * existed and is left deleted; at most two statements whatever the batch's size. */
static KVS_MUST_CHECK int send_changes(struct batch *b)
{
    struct kvs_pg_array ids, keys, types, encs, values, versions, times, blobs, sizes, del_ids,
        del_keys, dead;
    kvs_pg_array_init(&blobs, PG_OID_INT8);
    kvs_pg_array_init(&sizes, PG_OID_INT8);
    kvs_pg_array_init(&dead, PG_OID_INT8);
    kvs_pg_array_init(&ids, PG_OID_TEXT);
    kvs_pg_array_init(&keys, PG_OID_TEXT);
    kvs_pg_array_init(&types, PG_OID_BYTEA);
    kvs_pg_array_init(&encs, PG_OID_INT8);
    kvs_pg_array_init(&values, PG_OID_BYTEA);
    kvs_pg_array_init(&versions, PG_OID_INT8);
    kvs_pg_array_init(&times, PG_OID_INT8);
    kvs_pg_array_init(&del_ids, PG_OID_TEXT);
    kvs_pg_array_init(&del_keys, PG_OID_TEXT);
    for (size_t i = 0; i < b->nrecs; i++) {
        const struct rec *r = &b->recs[i];
        if (r->changed && r->exists) {
            const struct kvs_write *w = r->value;
            kvs_pg_array_add(&ids, r->store_id, KVS_ID_LEN);
            kvs_pg_array_add(&keys, r->key.p, r->key.n);
            kvs_pg_array_add(&types, w->content_type.p, w->content_type.n);
            kvs_pg_array_add_i64(&encs, w->encoding);
            kvs_pg_array_add(&values, w->value.p, w->value.n);
            kvs_pg_array_add_i64(&versions, (int64_t)r->version);
            kvs_pg_array_add_i64(&times, r->modified_ms);
            kvs_pg_array_add_i64(&blobs, w->upload ? kvs_pg_upload_blob(w->upload) : 0);
            kvs_pg_array_add_i64(&sizes, (int64_t)r->size);
        } else if (r->changed && r->was) {
            kvs_pg_array_add(&del_ids, r->store_id, KVS_ID_LEN);
            kvs_pg_array_add(&del_keys, r->key.p, r->key.n);
        }
        if (r->changed && r->was && r->blob != 0)
            kvs_pg_array_add_i64(&dead, r->blob); /* overwritten or deleted */
    }
    int rc = 0;
    struct kvs_pg_params q = {0};
    if (ids.count > 0) {
        kvs_pg_p_array(&q, &ids);
        kvs_pg_p_array(&q, &keys);
        kvs_pg_p_array(&q, &types);
        kvs_pg_p_array(&q, &encs);
        kvs_pg_p_array(&q, &values);
        kvs_pg_p_array(&q, &versions);
        kvs_pg_p_array(&q, &times);
        kvs_pg_p_array(&q, &blobs);
        kvs_pg_p_array(&q, &sizes);
        rc = kvs_pg_send(&b->pp, &Q_RECORD_PUT, &q) < 0 ? KVS_EUNAVAIL : 0;
    }
    if (rc == 0 && dead.count > 0) {
        q.n = 0;
        kvs_pg_p_array(&q, &dead);
        rc = kvs_pg_send(&b->pp, &Q_BLOBS_DEAD, &q) < 0 ? KVS_EUNAVAIL : 0;
    }
    if (rc == 0 && del_ids.count > 0) {
        q.n = 0;
        kvs_pg_p_array(&q, &del_ids);
        kvs_pg_p_array(&q, &del_keys);
        rc = kvs_pg_send(&b->pp, &Q_RECORD_DELETE, &q) < 0 ? KVS_EUNAVAIL : 0;
    }
    struct kvs_pg_array *all[] = {&ids,   &keys,  &types, &encs,    &values,   &versions,
                                  &times, &blobs, &sizes, &del_ids, &del_keys, &dead};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        kvs_pg_array_free(all[i]);
    return rc;
}

/* P's new store, made from the fields IN of its write: username (column 0) and creation time
 * (column 1) from R, the ID and secret from P. Returns 0 or KVS_EIO. */
static KVS_MUST_CHECK int new_store(struct plan *p, const struct kvs_store *in, const PGresult *r)
{
    struct kvs_store *s = &p->store;
    memset(s, 0, sizeof *s);
    memcpy(s->id, p->id, sizeof s->id);
    memcpy(s->secret, p->secret, sizeof s->secret);
    memcpy(s->user_id, in->user_id, sizeof s->user_id);
    memcpy(s->name, in->name, sizeof s->name);
    memcpy(s->title, in->title, sizeof s->title);
    s->general_access = in->general_access;
    s->created_ms = s->modified_ms = s->accessed_ms = kvs_pg_int(r, 0, 1);
    s->schema = in->schema ? kvs_xstrdup(in->schema) : NULL;
    p->has_store = 1;
    return kvs_pg_str(r, 0, 0, s->username, sizeof s->username);
}

/* KVS_W_RUN_CREATE's result R (kvs_pg_q_run_create's row). */
static KVS_MUST_CHECK int run_created(const struct kvs_write *w, struct plan *p, const PGresult *r)
{
    if (kvs_pg_null(r, 0, 0)) {
        p->result = KVS_ENOTFOUND; /* no such user */
        return 0;
    }
    if (kvs_pg_null(r, 0, 1) || kvs_pg_null(r, 0, 2)) {
        /* A random ID was taken: the batch is rolled back and each write tried again alone. */
        kvs_log_error("postgres: a new run's or store's random ID was taken");
        return KVS_EIO;
    }
    const struct kvs_run *in = w->run;
    struct kvs_run *run = &p->run;
    kvs_run_clear(run);
    memcpy(run->id, p->run_id, sizeof run->id);
    memcpy(run->user_id, in->user_id, sizeof run->user_id);
    memcpy(run->act_id, in->act_id, sizeof run->act_id);
    memcpy(run->actor, in->actor, sizeof run->actor);
    memcpy(run->origin, in->origin, sizeof run->origin);
    memcpy(run->store_id, p->id, sizeof run->store_id);
    run->status = KVS_RUN_RUNNING;
    run->timeout_secs = in->timeout_secs;
    run->memory_mbytes = in->memory_mbytes;
    run->started_ms = kvs_pg_int(r, 0, 2);
    p->has_run = 1;
    return new_store(p, &w->store, r);
}

/* KVS_W_RUN_UPDATE of plan P with R, the run locked (no row: none): played through on the run as
 * the batch's earlier updates of it left it. */
static KVS_MUST_CHECK int run_updated(struct batch *b, const struct kvs_write *w, struct plan *p,
                                      const PGresult *r)
{
    if (PQntuples(r) == 0) {
        p->result = KVS_ENOTFOUND;
        return 0;
    }
    const struct plan *prev = NULL;
    for (struct plan *q = b->plans; q < p; q++)
        if (q->has_run && b->ws[q - b->plans]->op == KVS_W_RUN_UPDATE &&
            strcmp(q->run.id, w->run->id) == 0)
            prev = q;
    struct kvs_run cur = {0};
    if (prev != NULL) {
        kvs_run_copy(&cur, &prev->run);
    } else {
        int rc = kvs_pg_run_row(r, 0, 0, &cur);
        if (rc != 0)
            return rc;
    }
    const char *msg = w->run->status_message;
    if ((w->update_mask & KVS_RUN_UPD_MESSAGE) && msg != NULL &&
        !kvs_pg_text_ok(msg, strnlen(msg, KVS_RUN_MESSAGE_MAX + 1)))
        p->result = KVS_EINVAL;
    else
        p->result = kvs_run_apply(&cur, w->update_mask, w->run, b->now);
    if (p->result == 0) {
        p->run = cur;
        p->has_run = 1;
    } else {
        kvs_run_clear(&cur);
    }
    return 0;
}

/* Send what run update P left of its run (round trip 2; a later update of the same run in the
 * batch is sent after it, with what it left). */
static KVS_MUST_CHECK int send_run_update(struct batch *b, const struct plan *p)
{
    const struct kvs_run *run = &p->run;
    struct kvs_pg_params q = {0};
    kvs_pg_p_str(&q, run->id);
    kvs_pg_p_i64(&q, run->status);
    if (run->status_message != NULL)
        kvs_pg_p_str(&q, run->status_message);
    else
        kvs_pg_p_null(&q);
    kvs_pg_p_bool(&q, run->message_terminal);
    if (run->has_exit_code)
        kvs_pg_p_i64(&q, run->exit_code);
    else
        kvs_pg_p_null(&q);
    kvs_pg_p_i64(&q, run->finished_ms);
    return kvs_pg_send(&b->pp, &kvs_pg_q_run_update, &q) < 0 ? KVS_EUNAVAIL : 0;
}

/* The result of write W (plan P) from its statement's result, with the counters it adds.
 * Returns 0 or KVS_EIO for a result that makes no sense. */
static KVS_MUST_CHECK int resolve_write(struct batch *b, const struct kvs_write *w, struct plan *p)
{
    struct touched *t = NULL;
    if (w->op == KVS_W_RECORD_PUT || w->op == KVS_W_RECORD_DELETE || w->op == KVS_W_STORE_UPDATE ||
        w->op == KVS_W_STORE_DELETE)
        t = find(b, w->store_id);
    int live = t != NULL && t->exists && !t->deleted;
    if (p->record)
        return play(b, w, p, t);
    if (p->slot < 0)
        return 0;
    PGresult *r = kvs_pg_res(&b->pp, p->slot);
    if (w->op == KVS_W_RUN_CREATE)
        return run_created(w, p, r);
    if (w->op == KVS_W_RUN_UPDATE)
        return run_updated(b, w, p, r);
    if (w->op == KVS_W_SHARE_DELETE) {
        p->result = kvs_pg_int(r, 0, 0) == 0 ? KVS_ENOTFOUND : 0;
        return 0;
    }
    if (PQntuples(r) == 0) { /* UPDATE ... RETURNING that matched nothing */
        if (w->op == KVS_W_STORE_UPDATE)
            p->result = live ? KVS_ENAMETAKEN : KVS_ENOTFOUND;
        else if (w->op == KVS_W_USER_UPDATE)
            p->result = KVS_ENOTFOUND;
        else
            return KVS_EIO;
        return 0;
    }
    switch (w->op) {
    case KVS_W_STORE_CREATE: {
        if (kvs_pg_null(r, 0, 0)) {
            p->result = KVS_ENOTFOUND; /* no such owner */
            return 0;
        }
        if (kvs_pg_null(r, 0, 1)) {
            if (w->store.name[0] == '\0') {
                kvs_log_error("postgres: a new store's random ID was taken");
                p->result = KVS_EIO;
            } else {
                p->result = KVS_EEXIST;
                p->follow = F_STORE_BY_NAME; /* get-or-create: which store has the name */
            }
            return 0;
        }
        return new_store(p, &w->store, r);
    }
    case KVS_W_STORE_UPDATE: {
        p->has_store = 1;
        int rc = kvs_pg_store_row(r, 0, 0, &p->store);
        if (rc != 0 || t == NULL)
            return KVS_EIO;
        /* The counters of this batch's earlier writes are added with Q_STATS. */
        struct kvs_store_stats *st = &p->store.stats;
        st->write_count += t->add.write_count;
        st->delete_count += t->add.delete_count;
        st->record_count += t->add.record_count;
        st->storage_bytes += t->add.storage_bytes;
        touch(b, t);
        return 0;
    }
    case KVS_W_STORE_DELETE:
        if (kvs_pg_int(r, 0, 0) == 0) {
            p->result = KVS_ENOTFOUND;
        } else if (t != NULL) {
            t->deleted = 1;
        }
        return 0;
    case KVS_W_USER_CREATE:
        if (kvs_pg_null(r, 0, 0)) {
            p->result = KVS_EEXIST;
            return 0;
        }
        if (!kvs_pg_int(r, 0, 1)) {
            /* Another node added the same token at this moment: no user without its token. */
            p->result = KVS_EEXIST;
            p->undo = 1;
            return 0;
        }
        p->user = w->user;
        memcpy(p->user.id, p->id, sizeof p->user.id);
        p->user.is_admin = w->user.is_admin != 0;
        p->user.created_ms = kvs_pg_int(r, 0, 0);
        p->has_user = 1;
        return 0;
    case KVS_W_TOKEN_ADD:
        if (!kvs_pg_int(r, 0, 0))
            p->result = KVS_ENOTFOUND;
        else if (!kvs_pg_null(r, 0, 1))
            p->result = kvs_slice_eq_str(kvs_pg_bytes(r, 0, 1), w->user.id) ? 0 : KVS_EEXIST;
        else if (!kvs_pg_int(r, 0, 2))
            p->follow = F_TOKEN_OWNER; /* taken by another node at this moment: whose? */
        return 0;
    case KVS_W_TOKEN_REVOKE: {
        int64_t found = kvs_pg_int(r, 0, 0);
        if (found != 1) {
            p->result = found == 0 ? KVS_ENOTFOUND : KVS_EAMBIGUOUS;
            return 0;
        }
        p->has_user = 1;
        return kvs_pg_user_row(r, 0, 1, &p->user);
    }
    case KVS_W_USER_UPDATE:
        p->has_user = 1;
        return kvs_pg_user_row(r, 0, 0, &p->user);
    case KVS_W_USER_DELETE:
        if (!kvs_pg_int(r, 0, 0)) {
            p->result = KVS_ENOTFOUND;
            return 0;
        }
        if (kvs_pg_null(r, 0, 1)) {
            p->result = KVS_EINVAL; /* the only admin */
            return 0;
        }
        for (int i = 0; i < PQntuples(r); i++) {
            char kind[2], id[KVS_ID_LEN + 1];
            if (kvs_pg_null(r, i, 1 + PG_USER_NCOLS) ||
                kvs_pg_str(r, i, 1 + PG_USER_NCOLS, kind, sizeof kind) != 0 ||
                kvs_pg_str(r, i, 2 + PG_USER_NCOLS, id, sizeof id) != 0)
                continue;
            if (kind[0] == 'w') { /* they have seen its secret: a new one (round trip 2) */
                char secret[KVS_SECRET_LEN + 1];
                if (kvs_random_alnum(secret, KVS_SECRET_LEN) != 0) {
                    kvs_log_error("postgres: the random source failed");
                    return KVS_EIO;
                }
                if (!b->rotating) {
                    kvs_pg_array_init(&b->rotate_ids, PG_OID_TEXT);
                    kvs_pg_array_init(&b->rotate_secrets, PG_OID_TEXT);
                    b->rotating = 1;
                }
                kvs_pg_array_add(&b->rotate_ids, id, KVS_ID_LEN);
                kvs_pg_array_add(&b->rotate_secrets, secret, KVS_SECRET_LEN);
                continue;
            }
            /* later record writes of this batch to its stores find them deleted (play) */
            struct touched *gone = find(b, id);
            if (gone != NULL)
                gone->deleted = 1;
        }
        p->has_user = 1;
        return kvs_pg_user_row(r, 0, 1, &p->user);
    case KVS_W_SHARE_SET:
        if (!kvs_pg_int(r, 0, 0) || !kvs_pg_int(r, 0, 1))
            p->result = KVS_ENOTFOUND;
        else if (kvs_pg_int(r, 0, 2))
            p->result = KVS_EINVAL; /* the owner has every right already */
        return 0;
    default:
        return KVS_EIO;
    }
}

/* ---- round trip 2: counters, COMMIT ---- */

/* Add the read statistics DELTAS of storage.c to the touched stores (those that still
 * exist); their times are converted from our clock to the database's. */
static void add_deltas(struct batch *b, const struct kvs_stat_delta *deltas, size_t nd,
                       int64_t offset)
{
    for (size_t i = 0; i < nd; i++) {
        struct touched *t = find(b, deltas[i].store_id);
        if (t == NULL || !t->exists || t->deleted)
            continue; /* deleted meanwhile */
        t->add.read_count += deltas[i].reads;
        t->add.list_count += deltas[i].lists;
        int64_t at = deltas[i].accessed_ms ? deltas[i].accessed_ms + offset : 0;
        if (at > t->accessed_ms)
            t->accessed_ms = at;
    }
}

static KVS_MUST_CHECK int send_stats(struct batch *b)
{
    enum { N = 10 };
    struct kvs_pg_array a[N];
    kvs_pg_array_init(&a[0], PG_OID_TEXT);
    for (int i = 1; i < N; i++)
        kvs_pg_array_init(&a[i], PG_OID_INT8);
    for (size_t i = 0; i < b->nt; i++) {
        const struct touched *t = &b->t[i];
        const struct kvs_store_stats *s = &t->add;
        if (!t->exists || t->deleted ||
            (s->read_count | s->write_count | s->delete_count | s->list_count | s->record_count |
             s->storage_bytes | (uint64_t)t->modified_ms | (uint64_t)t->accessed_ms) == 0)
            continue;
        const int64_t v[N - 1] = {
            (int64_t)s->read_count,    (int64_t)s->write_count,  (int64_t)s->delete_count,
            (int64_t)s->list_count,    (int64_t)s->record_count, /* wrapped negatives: as such */
            (int64_t)s->storage_bytes, t->modified_ms,           t->accessed_ms,
            (int64_t)t->last_version};
        kvs_pg_array_add(&a[0], t->id, KVS_ID_LEN);
        for (int k = 1; k < N; k++)
            kvs_pg_array_add_i64(&a[k], v[k - 1]);
    }
    int rc = 0;
    if (a[0].count > 0) {
        struct kvs_pg_params q = {0};
        for (int i = 0; i < N; i++)
            kvs_pg_p_array(&q, &a[i]);
        rc = kvs_pg_send(&b->pp, &Q_STATS, &q) < 0 ? KVS_EUNAVAIL : 0;
    }
    for (int i = 0; i < N; i++)
        kvs_pg_array_free(&a[i]);
    return rc;
}

/* B's connection broke, or is in a state not known: the writer's is closed (the next use
 * makes a new one); an upload's is closed with its upload (kvs_pg_upload_abort). */
static void conn_lost(struct batch *b)
{
    if (b->up == NULL)
        kvs_pg_writer_lost(b->db);
}

/* End B's transaction with SQL (ROLLBACK, or back to an upload's savepoint). Returns 0, or
 * the error (the connection is then taken as lost). */
static int roll(struct batch *b, const char *sql)
{
    kvs_pg_pipe_clear(&b->pp);
    int rc = kvs_pg_send_sql(&b->pp, sql) < 0 ? KVS_EUNAVAIL : kvs_pg_sync(&b->pp);
    if (rc == 0)
        rc = kvs_pg_pipe_err(&b->pp);
    if (rc != 0)
        conn_lost(b); /* a new connection starts clean */
    kvs_pg_pipe_clear(&b->pp);
    return rc;
}

/* Roll back B's transaction after a failed statement. */
static void rollback(struct batch *b)
{
    (void)roll(b, "ROLLBACK");
}

/* The connection broke after COMMIT may have been sent: ask the database whether transaction
 * XID committed, on a new connection, once (a database that is down cannot tell, and the
 * writes waiting behind this batch must not wait for it). Returns 0 when it did, KVS_EUNAVAIL
 * when it did not or nobody can tell. */
static KVS_MUST_CHECK int commit_outcome(struct batch *b, int64_t xid)
{
    struct kvs_pg *db = b->db;
    conn_lost(b);
    struct kvs_pg_conn *c;
    int rc = kvs_pg_writer_conn(db, &c);
    if (rc == 0) {
        struct kvs_pg_pipe pp = {.c = c};
        struct kvs_pg_params q = {0};
        kvs_pg_p_i64(&q, xid);
        int slot = kvs_pg_send(&pp, &Q_XACT_STATUS, &q);
        rc = slot < 0 ? slot : kvs_pg_sync(&pp);
        if (rc == 0)
            rc = kvs_pg_pipe_err(&pp);
        if (rc == 0 && PQntuples(pp.slots[slot].res) == 1) {
            kvs_slice s = kvs_pg_bytes(pp.slots[slot].res, 0, 0);
            rc = kvs_slice_eq_str(s, "committed") ? 0 : KVS_EUNAVAIL;
            kvs_log_warn("postgres: the connection broke during a commit; the database says "
                         "transaction %lld %.*s",
                         (long long)xid, (int)s.n, s.p);
        } else if (rc == 0) {
            rc = KVS_EUNAVAIL;
        }
        if (rc != 0 && kvs_pg_broken(c))
            kvs_pg_writer_lost(db);
        kvs_pg_pipe_free(&pp);
    }
    if (rc == KVS_EUNAVAIL)
        kvs_log_error("postgres: the connection broke during the commit of transaction %lld: "
                      "its writes are answered 503 and not retried (they may have been "
                      "applied)",
                      (long long)xid);
    return rc;
}

/* ---- after the commit ---- */

/* The results the commit did not settle, read on the writer's connection now that the batch's
 * writes are visible: the store that has a name (get-or-create), whose a token is. */
static void follow_up(struct batch *b)
{
    struct kvs_pg_conn *c = NULL;
    size_t need = 0;
    for (size_t i = 0; i < b->n; i++)
        need += b->plans[i].follow != F_NONE;
    if (need == 0)
        return;
    int rc = kvs_pg_writer_conn(b->db, &c);
    struct kvs_pg_pipe pp = {.c = c};
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        struct plan *p = &b->plans[i];
        const struct kvs_write *w = b->ws[i];
        struct kvs_pg_params q = {0};
        if (p->follow == F_STORE_BY_NAME) {
            kvs_pg_p_str(&q, w->store.user_id);
            kvs_pg_p_str(&q, w->store.name);
            p->follow_slot = kvs_pg_send(&pp, &kvs_pg_q_store_by_name, &q);
        } else if (p->follow == F_TOKEN_OWNER) {
            kvs_pg_p_bytes(&q, w->token_hash, KVS_TOKEN_HASH_LEN);
            p->follow_slot = kvs_pg_send(&pp, &Q_TOKEN_OWNER, &q);
        }
        if (p->follow != F_NONE && p->follow_slot < 0)
            rc = KVS_EUNAVAIL;
    }
    if (rc == 0)
        rc = kvs_pg_sync(&pp);
    for (size_t i = 0; i < b->n; i++) {
        struct plan *p = &b->plans[i];
        if (p->follow == F_NONE)
            continue;
        PGresult *r = rc == 0 && kvs_pg_slot_err(&pp, p->follow_slot) == 0
                          ? kvs_pg_res(&pp, p->follow_slot)
                          : NULL;
        if (r == NULL) {
            p->result = rc == KVS_EUNAVAIL ? KVS_EUNAVAIL : KVS_EIO;
        } else if (p->follow == F_TOKEN_OWNER) {
            p->result =
                PQntuples(r) == 1 && kvs_slice_eq_str(kvs_pg_bytes(r, 0, 0), b->ws[i]->user.id)
                    ? 0
                    : KVS_EEXIST;
        } else if (PQntuples(r) == 1) {
            p->has_store = 1; /* p->result stays KVS_EEXIST */
            if (kvs_pg_store_row(r, 0, 0, &p->store) != 0)
                p->result = KVS_EIO;
        } else {
            /* The name's store was deleted between our commit and this read. */
            p->result = KVS_EUNAVAIL;
        }
    }
    if (rc == KVS_EUNAVAIL || (c != NULL && kvs_pg_broken(c)))
        kvs_pg_writer_lost(b->db);
    kvs_pg_pipe_free(&pp);
}

/* Hand the outputs of the committed batch to their writes. */
static void hand_over(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct plan *p = &b->plans[i];
        struct kvs_write *w = b->ws[i];
        w->result = p->result;
        if (p->has_store) {
            kvs_store_clear(&w->store);
            w->store = p->store;
            p->has_store = 0;
        }
        if (p->has_user)
            w->user = p->user;
        if (w->op == KVS_W_RECORD_PUT && p->result == 0) {
            w->version = p->version;
            w->modified_ms = p->modified_ms;
        }
        if (p->has_run && p->result == 0) {
            kvs_run_clear(w->run);
            *w->run = p->run; /* its message moves with it */
            p->has_run = 0;
        }
    }
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->plans[i].has_store)
            kvs_store_clear(&b->plans[i].store);
        if (b->plans[i].has_run)
            kvs_run_clear(&b->plans[i].run);
    }
    free(b->plans);
    free(b->t);
    free(b->recs);
    kvs_pg_array_free(&b->rotate_ids);
    kvs_pg_array_free(&b->rotate_secrets);
    kvs_pg_pipe_free(&b->pp);
}

/* Run the batch B: both round trips and the commit. Returns as kvs_pg_apply(). */
static KVS_MUST_CHECK int run(struct batch *b, const struct kvs_stat_delta *deltas, size_t nd)
{
    struct kvs_pg *db = b->db;
    int fresh = db->wconn == NULL, rc = 0;
    if (b->up != NULL) { /* in the upload's transaction, which holds its chunks */
        fresh = 1;
        b->pp.c = kvs_pg_upload_conn(b->up);
        if (b->pp.c == NULL)
            return KVS_EIO;
    } else if ((rc = kvs_pg_writer_conn(db, &b->pp.c)) != 0) {
        return rc;
    }
    collect_touched(b, deltas, nd);

    /* Round trip 1. */
    int s_now = b->up ? 0 : kvs_pg_send_sql(&b->pp, "BEGIN");
    if (s_now >= 0)
        s_now = kvs_pg_send(&b->pp, &Q_NOW, NULL);
    int s_lock = 0;
    if (s_now >= 0 && b->nt > 0) {
        struct kvs_pg_params q = {0};
        struct kvs_pg_array ids;
        kvs_pg_array_init(&ids, PG_OID_TEXT);
        for (size_t i = 0; i < b->nt; i++)
            kvs_pg_array_add(&ids, b->t[i].id, KVS_ID_LEN);
        kvs_pg_p_array(&q, &ids);
        s_lock = kvs_pg_send(&b->pp, &Q_LOCK_STORES, &q);
        kvs_pg_array_free(&ids);
    }
    int s_recs = s_now < 0 || s_lock < 0 ? KVS_EUNAVAIL : send_records(b);
    rc = s_recs < 0 ? KVS_EUNAVAIL : 0;
    for (size_t i = 0; i < b->n && rc == 0; i++)
        rc = send_write(b, b->ws[i], &b->plans[i]);
    if (rc == 0)
        rc = kvs_pg_sync(&b->pp);
    if (rc != 0) {
        conn_lost(b);      /* no COMMIT was sent: nothing happened */
        b->stale = !fresh; /* perhaps only dropped while idle (a restart): try anew */
        if (fresh)
            kvs_pg_note_down(db, "the writer's connection broke");
        return rc;
    }
    if ((rc = kvs_pg_pipe_err(&b->pp)) != 0) {
        rollback(b);
        return rc;
    }
    kvs_pg_note_up(db);
    PGresult *r = kvs_pg_res(&b->pp, s_now);
    b->now_us = kvs_pg_int(r, 0, 0);
    b->now = b->now_us / 1000;
    b->xid = kvs_pg_int(r, 0, 1);
    b->epoch = (uint64_t)kvs_pg_int(r, 0, 2);
    kvs_pg_saw_epoch(db, b->epoch);
    int64_t offset = b->now - kvs_now_ms();
    __atomic_store_n(&db->clock_offset_ms, offset, __ATOMIC_RELAXED);
    if (b->nt > 0) {
        r = kvs_pg_res(&b->pp, s_lock);
        for (int i = 0; i < PQntuples(r); i++) {
            char id[KVS_ID_LEN + 1];
            struct touched *t = NULL;
            if (kvs_pg_str(r, i, 0, id, sizeof id) == 0)
                t = find(b, id);
            if (t == NULL) {
                rollback(b);
                return KVS_EIO;
            }
            t->exists = 1;
            t->last_version = (uint64_t)kvs_pg_int(r, i, 1);
        }
    }
    if (b->nrecs > 0)
        rc = records_found(b, kvs_pg_res(&b->pp, s_recs));
    for (size_t i = 0; i < b->n && rc == 0; i++)
        rc = resolve_write(b, b->ws[i], &b->plans[i]);
    if (rc != 0) {
        kvs_log_error("postgres: a batch's statements answered what they cannot");
        rollback(b);
        return rc;
    }
    if (b->up != NULL && b->plans[0].result != 0) {
        /* The upload's write changes nothing: its chunks go with its transaction, or, when it
         * was refused as stale (to be submitted again), back to the savepoint after them. */
        rc = roll(b, b->plans[0].result == KVS_ESTALE ? "ROLLBACK TO SAVEPOINT kvs_upload"
                                                      : "ROLLBACK");
        if (rc == 0)
            hand_over(b);
        return rc;
    }
    add_deltas(b, deltas, nd, offset);

    /* Round trip 2. */
    size_t s_commit_first = b->pp.n;
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        if (b->plans[i].undo) {
            struct kvs_pg_params q = {0};
            kvs_pg_p_str(&q, b->plans[i].id);
            rc = kvs_pg_send(&b->pp, &Q_USER_UNDO, &q) < 0 ? KVS_EUNAVAIL : 0;
        }
    }
    for (size_t i = 0; i < b->n && rc == 0; i++)
        if (b->ws[i]->op == KVS_W_RUN_UPDATE && b->plans[i].has_run)
            rc = send_run_update(b, &b->plans[i]);
    if (rc == 0 && b->rotating) {
        struct kvs_pg_params q = {0};
        kvs_pg_p_array(&q, &b->rotate_ids);
        kvs_pg_p_array(&q, &b->rotate_secrets);
        rc = kvs_pg_send(&b->pp, &Q_SECRETS, &q) < 0 ? KVS_EUNAVAIL : 0;
    }
    if (rc == 0)
        rc = send_changes(b);
    if (rc == 0)
        rc = send_stats(b);
    int s_commit = rc == 0 ? kvs_pg_send_sql(&b->pp, "COMMIT") : -1;
    if (s_commit >= 0)
        rc = kvs_pg_sync(&b->pp);
    if (s_commit < 0) {
        /* Could not send: the connection is gone, or goes now, and its transaction with it. */
        conn_lost(b);
        return KVS_EUNAVAIL;
    }
    if (rc != 0) {
        /* Lost after COMMIT went out: it may have been carried out. */
        rc = commit_outcome(b, b->xid);
        if (rc != 0)
            return rc;
    } else {
        for (size_t i = s_commit_first; i < b->pp.n && rc == 0; i++)
            rc = kvs_pg_slot_err(&b->pp, (int)i);
        if (rc != 0) {
            rollback(b);
            return rc;
        }
    }
    follow_up(b);
    hand_over(b);
    return 0;
}

int kvs_pg_apply(struct kvs_storage *st, struct kvs_write **ws, size_t n,
                 const struct kvs_stat_delta *deltas, size_t nd)
{
    if (n == 0 && nd == 0)
        return 0;
    struct kvs_upload *up = NULL;
    for (size_t i = 0; i < n; i++) {
        if (ws[i]->upload == NULL)
            continue;
        if (n > 1 || ws[i]->op != KVS_W_RECORD_PUT)
            return KVS_EIO; /* storage.c gives an upload a batch of its own; alone, it works */
        up = ws[i]->upload;
    }
    for (int attempt = 0;; attempt++) {
        struct batch b = {.db = pg_of(st), .up = up, .ws = ws, .n = n};
        b.plans = kvs_xcalloc(n ? n : 1, sizeof *b.plans);
        int rc = run(&b, deltas, nd);
        int again = b.stale && attempt == 0;
        batch_free(&b);
        if (!again)
            return rc;
    }
}
