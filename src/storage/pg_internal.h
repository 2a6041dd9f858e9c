/* pg_internal.h — what the files of the PostgreSQL back-end share: the design, the structs, the
 * connection and statement helpers (pg_conn.c), the row decoders (pg_codec.c) and the ops each
 * file implements. Included only by storage/pg_*.c (and the back-end's own tests).
 *
 * The back-end has the shape of the LMDB one, so that the two read side by side:
 *   pg_codec.c   errors (SQLSTATE → KVS_E...), parameters, and decoding rows of the schema
 *   pg_conn.c    connections: the pool of one node, pipelines, prepared statements
 *   pg_read.c    the read ops: one statement each
 *   pg_apply.c   the write ops: one transaction per batch of the writer thread
 *   pg_maint.c   background work shared by all nodes: the sweep, retention
 *   pg_open.c    opening, the schema and its version, closing, the ops table
 *   pg_runs.c    runs (storage/run.h): their statements, rows and reads
 *   pg_blob.c    large values: uploads (chunks streamed in with COPY, in the transaction that
 *                writes the record's row) and readers of their chunks
 *
 * ---- Many nodes, one database ---------------------------------------------------------------
 *
 * Any number of `kvs serve` processes (nodes) may open the same database: they keep no state
 * of their own that another node could miss, so a client may send each request to any node.
 *   - Reads: every lookup is one statement at READ COMMITTED on a connection borrowed from
 *     the node's pool and given back at once; lookups of several threads at the same moment
 *     share one pipeline, one round trip (pg_read.c). The results are kept by the struct
 *     kvs_read until it ends (the views point into them), but no connection and no
 *     transaction is held while a response goes out to a slow client.
 *   - The meta epoch (storage.h): kvs_epoch's one row, which triggers add one to in every
 *     statement that changes users, tokens, shares or what a store is (not its stats), in
 *     the same transaction, whichever node or program runs it. A record lookup returns it in
 *     the same statement, so the API may resolve the caller and the store from its caches
 *     under the epoch last seen (optimistic reads) and know, with the record, whether that
 *     still held: the lookups are redone without the caches when it did not. So a revoked
 *     token is refused by every node at once, and a record GET is one statement.
 *   - Record versions (storage.h) come from the database's clock in µs, above the store's
 *     last_version (read with its locked stats row) and the node's own last one; conditional
 *     writes are evaluated against the records as the batch reads them (pg_apply.c).
 *   - Writes: the writer thread of each node (storage.c) turns a batch into one transaction
 *     on its own connection, sent as a pipeline: two round trips (pg_apply.c tells why), and
 *     COMMIT with synchronous_commit=on before any write's done() runs. Statements are
 *     written so that none can fail: ON CONFLICT, and conditions evaluated in the statement.
 *     The stats rows (kvs_stores) of every store the batch touches are locked first, sorted
 *     by ID, so two nodes never deadlock on them and `count = count + n` stays exact.
 *   - Read statistics: counted in memory by storage.c and added with each batch, or about
 *     once a second (additive updates, so nodes never overwrite each other's counts).
 *   - Background work: the sweep of deleted stores takes one dead store at a time with FOR
 *     UPDATE SKIP LOCKED; retention runs on one node at a time (pg_try_advisory_xact_lock) and
 *     compares with the database's clock, leaving PG_UNFLUSHED_SLACK_MS for reads that other
 *     nodes have counted in memory but not written yet. All times the back-end stores come
 *     from the database's clock, so the nodes' clocks do not matter.
 *   - Start: the schema is created or upgraded under pg_advisory_lock, and creating the admin
 *     is idempotent (serve.c), so nodes starting together on an empty database all start.
 *   - A lost connection makes the lookup or the batch fail with KVS_EUNAVAIL (503 with
 *     Retry-After); the connection is made again at the next use, so a node recovers by
 *     itself once the database is back. A batch whose connection broke after COMMIT was sent
 *     is never retried: its outcome is asked of the database (pg_xact_status) when it can be
 *     reached at once, and is otherwise reported as unknown (KVS_EUNAVAIL).
 *
 * ---- Large values (pg_blob.c) ----------------------------------------------------------------
 *
 * A value larger than the inline size (cfg.inline_max, 1 MiB) is not a bytea in its row but
 * chunks of PG_BLOB_CHUNK bytes in kvs_blobs, under a number from the sequence kvs_blob_ids;
 * its row holds that number and the size (blob, blob_size) and an empty value.
 *   - In: the upload has a connection of its own (not the pool's), which begins a transaction
 *     and streams the body in as it arrives with COPY kvs_blobs FROM STDIN (binary), one row
 *     per chunk: the node holds one chunk, never the body. When the body is complete the COPY
 *     ends and a savepoint is set; the record's write then goes to the writer like any other,
 *     but as a batch of its own (ops->uploads_alone), which the writer runs on the upload's
 *     connection, inside that transaction: the chunks commit with the record's row, in one
 *     transaction, or not at all. An upload cut off, a failed write, a node killed: the
 *     transaction rolls back (PostgreSQL rolls back a transaction whose connection is gone),
 *     and nothing is left to sweep. A write refused as stale (the meta epoch moved) rolls back
 *     to the savepoint and is submitted again with its chunks.
 *     The cost: an upload is a transaction as long as the body takes to arrive, which holds
 *     back VACUUM's horizon for that long, and a connection; at most PG_UPLOADS_MAX at once
 *     per node (then 503), and PG_UPLOADS_IDLE connections are kept for the next uploads.
 *     Measured against large objects (bench/pg_blob_model.c, make bench-pg-blob: 256 MiB in
 *     256 KiB pieces, one transaction, fsync on, three interleaved rounds): COPY into the chunk
 *     table wrote 93-126 MB/s against lo_write's 58-68, read back (a statement per chunk)
 *     581-684 MB/s against lo_read's 106-108, and took 1.04 bytes on disk per byte (large
 *     objects 1.34); and a table lives in kvs's schema (large objects are database-wide) and
 *     goes with its rows' transactions and with pg_dump -n.
 *   - Out: a reader (struct kvs_blob_reader) fetches one chunk per statement on a pooled
 *     connection, as the response needs it: no transaction or snapshot is held while a
 *     client reads, and any node reads any value.
 *   - Freed: an overwrite or delete (or the sweep of a deleted store) puts the old number into
 *     kvs_dead_blobs in the same transaction; the sweep (pg_maint.c) deletes the chunks of one
 *     dead value at a time, PG_BLOB_SWEEP_MAX chunks per short transaction, once it has been
 *     dead and unread for the grace period (cfg.pg_blob_grace_ms, 5 minutes): a reader
 *     that began before the overwrite keeps reading the old bytes (each chunk it fetches
 *     marks the value read), unless it fetches nothing for that long (it then fails, and its
 *     client sees the response cut off).
 *
 * ---- Schema, version 6 (created and upgraded by pg_open.c; kvs_meta holds the version) ------
 *
 *   kvs_users        id PK, username UNIQUE, is_admin, default_access, created_ms
 *   kvs_tokens       hash (SHA-256, bytea) PK → user_id, prefix, created_ms, scope (v5: the
 *                    canonical scope text, '' for none), expires_ms (v5: 0 = never); indexed
 *                    by prefix (revoke by prefix: a range scan) and by (user_id, created_ms)
 *   kvs_stores       id PK → user_id, name ('' when unnamed), title, secret, general_access,
 *                    schema, created/modified/accessed_ms and the stats counters in the row,
 *                    last_version (v2: the last record version the store gave);
 *                    UNIQUE (user_id, name) WHERE name <> ''; (user_id, created_ms, id) for the
 *                    listings; (accessed_ms, id) WHERE name = '' for retention
 *   kvs_records      (store_id, key) PK → content_type (bytea: as sent), encoding, value (bytea,
 *                    stored uncompressed: uploads are often compressed already), version and
 *                    modified_ms (v2: the ETag and Last-Modified of the API), blob and
 *                    blob_size (v6: a large value's number in kvs_blobs and its size; NULL
 *                    when the value is in the row)
 *   kvs_blobs        (blob, seq) PK → data (bytea, stored uncompressed): the chunks of large
 *                    values (v6); every chunk but the last holds PG_BLOB_CHUNK bytes
 *   kvs_dead_blobs   blob PK → dead_ms, read_ms: values no record references any more, whose
 *                    chunks the sweep deletes after the grace period (v6)
 *   kvs_blob_ids     the sequence that numbers large values (v6)
 *   kvs_shares       (store_id, user_id) PK → level; indexed by user_id
 *   kvs_dead_stores  store_id PK → deleted_ms, records: deleted stores whose records the
 *                    sweep has still to delete (readers treat those records as absent)
 *   kvs_epoch        one row, v: the meta epoch (v3), kept by the statement triggers *_epoch
 *   kvs_runs         id PK → user_id, act_id, actor, store_id (UNIQUE, REFERENCES kvs_stores
 *                    ON DELETE CASCADE: a run goes with its default store), origin, status,
 *                    status_message, message_terminal, exit_code, timeout_secs, memory_mbytes,
 *                    started_ms, finished_ms (v4; storage/run.h); (user_id, started_ms, id) and
 *                    (act_id, started_ms, id) for the listings. No epoch trigger: runs are not
 *                    what the caches keep.
 * Identifiers and keys are text COLLATE "C": byte order, whatever the database's collation,
 * so that a page of keys is a range scan of the primary key (shown by test_pg.c's EXPLAIN).
 */
#ifndef KVS_STORAGE_PG_INTERNAL_H
#define KVS_STORAGE_PG_INTERNAL_H

#include <endian.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "kvs.h"
#include "storage/backend.h"

#define PG_SCHEMA_VERSION 6
#define PG_BLOB_CHUNK (256u * 1024) /* bytes per chunk of a large value (a schema constant) */
#define PG_BLOB_SWEEP_MAX 64        /* chunks the sweep deletes per step (16 MiB) */
#define PG_BLOB_GRACE_MS (5 * 60 * 1000)
#define PG_UPLOADS_MAX 64 /* uploads at once per node, each with a connection */
#define PG_UPLOADS_IDLE 4 /* upload connections kept for the next uploads */
#define PG_INLINE_MAX (1024u * 1024)
#define PG_DEFAULT_POOL 16
#define PG_UNFLUSHED_SLACK_MS 1500 /* retention leaves this for other nodes' unflushed reads */

/* The key of an advisory lock on WHAT (SQL text): a hash of the schema, "/kvs/" and WHAT, so
 * that deployments in different schemas of one database do not wait for each other. */
#define PG_LOCK_KEY(WHAT)                                                                          \
    "hashtextextended(coalesce(current_schema(), '') || '/kvs/' || " WHAT ", 0)"

/* The database's clock in milliseconds since the epoch, the same for every statement of a
 * transaction (a batch): what the back-end stores as created/modified/accessed times. */
#define PG_NOW_MS "(floor(extract(epoch FROM transaction_timestamp()) * 1000))::int8"

/* The end of a statement that deletes the stores D (a CTE deleting from kvs_stores RETURNING
 * id, record_count): their shares go, their records are left to the sweep. Returns how many. */
#define PG_STORES_GONE                                                                             \
    " sh AS (DELETE FROM kvs_shares WHERE store_id IN (SELECT id FROM d)),"                        \
    " x AS (INSERT INTO kvs_dead_stores (store_id, deleted_ms, records)"                           \
    " SELECT id, " PG_NOW_MS ", record_count FROM d ON CONFLICT DO NOTHING) "                      \
    "SELECT count(*) FROM d"

/* ==== statements ============================================================================= */

/* Every statement the back-end runs. Each connection prepares a statement the first time it
 * runs it (in the same round trip), so ID is its bit in struct kvs_pg_conn's prepared. */
enum kvs_pg_stmt_id {
    /* pg_read.c */
    PG_Q_USER_COUNT,
    PG_Q_TOTALS,
    PG_Q_USER_BY_TOKEN,
    PG_Q_USER_BY_NAME,
    PG_Q_USER_GET,
    PG_Q_STORE_GET,
    PG_Q_STORE_BY_NAME,
    PG_Q_STORES_ASC,
    PG_Q_STORES_DESC,
    PG_Q_USER_LIST,
    PG_Q_TOKEN_LIST,
    PG_Q_SHARE_GET,
    PG_Q_SHARE_LIST,
    PG_Q_RECORD_GET,
    PG_Q_BLOB_READ,
    PG_Q_EPOCH,
    PG_Q_KEYS,
    PG_Q_KEYS_PREFIX,
    PG_Q_KEYS_TYPES,
    PG_Q_KEYS_PREFIX_TYPES,
    PG_Q_KEYS_VALUES,
    PG_Q_KEYS_PREFIX_VALUES,
    /* pg_runs.c */
    PG_Q_RUN_GET,
    PG_Q_RUN_BY_STORE,
    PG_Q_RUNS_USER_ASC,
    PG_Q_RUNS_USER_DESC,
    PG_Q_RUNS_ACTOR_ASC,
    PG_Q_RUNS_ACTOR_DESC,
    PG_Q_RUN_CREATE,
    PG_Q_RUN_LOCK,
    PG_Q_RUN_UPDATE,
    /* pg_apply.c */
    PG_Q_NOW,
    PG_Q_LOCK_STORES,
    PG_Q_LOCK_NAME,
    PG_Q_LOCK_RENAME,
    PG_Q_RECORDS,
    PG_Q_RECORD_PUT,
    PG_Q_RECORD_DELETE,
    PG_Q_BLOBS_DEAD,
    PG_Q_STORE_CREATE,
    PG_Q_STORE_UPDATE,
    PG_Q_STORE_DELETE,
    PG_Q_USER_CREATE,
    PG_Q_USER_UNDO,
    PG_Q_TOKEN_ADD,
    PG_Q_TOKEN_OWNER,
    PG_Q_TOKEN_REVOKE_PREFIX,
    PG_Q_TOKEN_REVOKE_HASH,
    PG_Q_USER_UPDATE,
    PG_Q_SHARE_SET,
    PG_Q_SHARE_DELETE,
    PG_Q_USER_DELETE,
    PG_Q_SECRETS,
    PG_Q_STATS,
    PG_Q_XACT_STATUS,
    /* pg_maint.c */
    PG_Q_SWEEP,
    PG_Q_BLOB_SWEEP,
    PG_Q_EXPIRE,
    PG_Q_EXPIRED,
    PG_Q_DB_SIZE,
    PG_Q_COUNT
};
/* A connection's prepared statements are the bits of a uint64_t (struct kvs_pg_conn). */
_Static_assert(PG_Q_COUNT <= 64, "more statements than bits in kvs_pg_conn.prepared");

struct kvs_pg_stmt {
    enum kvs_pg_stmt_id id;
    const char *name; /* of the prepared statement */
    const char *sql;
};

/* Statements of pg_read.c used elsewhere: the key pages [what][with a prefix] (what: 0 keys, 1
 * keys with their types, 2 keys with their records; test_pg.c EXPLAINs them), a store by its
 * name (pg_apply.c's get-or-create). */
extern const struct kvs_pg_stmt kvs_pg_q_keys_with[3][2];
extern const struct kvs_pg_stmt kvs_pg_q_store_by_name;
/* The statements of pg_runs.c that a batch runs (pg_apply.c): create a run with its store, lock
 * a run, write what a batch's updates left of it. */
extern const struct kvs_pg_stmt kvs_pg_q_run_create;
extern const struct kvs_pg_stmt kvs_pg_q_run_lock;
extern const struct kvs_pg_stmt kvs_pg_q_run_update;

/* ==== connections (pg_conn.c) ================================================================ */

struct kvs_pg_conn {
    PGconn *pg;               /* in pipeline mode */
    uint64_t prepared;        /* bit ID: statement ID is prepared (or being) on it */
    struct kvs_pg_conn *next; /* in the pool's idle list */
};

struct kvs_pg {
    struct kvs_storage super;
    char *uri;            /* owned */
    int64_t retention_ms; /* unnamed stores unaccessed this long are deleted; 0 = never */

    /* The pool of connections for reads: IDLE ones, OPEN in all, at most MAX. */
    pthread_mutex_t mu;
    pthread_cond_t freed;
    struct kvs_pg_conn *idle;
    unsigned open, max;
    int down;         /* the database was found unreachable and has not answered since */
    int64_t retry_at; /* while down: when a new connection may be tried (pg_conn.c) */
    int64_t grow_at;  /* monotonic ms: after a failed attempt the pool grows again then */
    int grow_failing; /* an attempt failed (and was logged); none has been made since */

    /* Large values (pg_blob.c), under mu: connections of uploads in progress (OPEN counts
     * them too, apart from the pool's), idle ones kept for the next. */
    struct kvs_pg_conn *up_idle;
    unsigned up_open, up_n_idle;
    uint64_t inline_max;
    int64_t blob_grace_ms;

    /* Writer thread only. */
    struct kvs_pg_conn *wconn; /* the writer's own connection; NULL until (re)made */
    int64_t clock_offset_ms;   /* the database's clock minus ours, as of the last batch */
    uint64_t last_version;     /* the last record version this node gave (pg_apply.c) */

    /* The largest meta epoch a statement of this node has returned (atomic): the tentative
     * epoch of optimistic reads (pg_read.c). 0 = none yet. */
    uint64_t epoch_seen;

    /* Lookups waiting to be sent, and the rounds (pipelines) out (pg_read.c), under rq_mu. */
    pthread_mutex_t rq_mu;
    struct kvs_pg_lookup *rq_head, *rq_tail;
    unsigned rq_rounds, rq_rounds_max;
};

/* Results a read keeps because views point into them. */
struct kvs_pg_results {
    PGresult **res;
    size_t n, cap;
};

struct kvs_pg_read {
    struct kvs_read super;
    struct kvs_pg_results kept; /* cleared at read end */
    struct kvs_pg_results page; /* the last key page with values: cleared at the next one */
    int optimistic;             /* kvs_storage_read_optimistic() was called */
    uint64_t tentative;         /* the epoch given to the caller; 0 = none (yet) */
    uint64_t last_epoch;        /* the epoch the last record lookup returned; 0 = none */
};

static inline struct kvs_pg *pg_of(struct kvs_storage *st)
{
    return (struct kvs_pg *)st;
}

static inline struct kvs_pg_read *pg_read_of(struct kvs_read *rd)
{
    return (struct kvs_pg_read *)rd;
}

/* Connect a new connection: session settings (synchronous_commit=on, READ COMMITTED),
 * pipeline mode. Returns 0, or KVS_EUNAVAIL when the database cannot be reached: the reason,
 * on one line, goes into WHY[WHY_N] when WHY is not NULL, else to the log (once per outage,
 * kvs_pg_note_down). Release with kvs_pg_conn_close(). */
KVS_MUST_CHECK int kvs_pg_connect(struct kvs_pg *db, char *why, size_t why_n,
                                  struct kvs_pg_conn **out);
void kvs_pg_conn_close(struct kvs_pg_conn *c);

/* Take a connection of the pool (made when none is idle and fewer than MAX are open; else wait
 * for one; a failed attempt while others are open waits for one of them). Returns 0, or
 * KVS_EUNAVAIL when none is open and none can be made. Give it back with kvs_pg_conn_put();
 * BROKEN closes it (and every idle one: a database that dropped one connection has usually
 * dropped all). */
KVS_MUST_CHECK int kvs_pg_conn_get(struct kvs_pg *db, struct kvs_pg_conn **out);
void kvs_pg_conn_put(struct kvs_pg *db, struct kvs_pg_conn *c, int broken);
/* Close every connection of the pool; none may be taken. */
void kvs_pg_pool_close(struct kvs_pg *db);

/* The database answered after having been unreachable, or was found unreachable: log the
 * change once (not once per request). */
void kvs_pg_note_up(struct kvs_pg *db);
void kvs_pg_note_down(struct kvs_pg *db, const char *why);

/* X in network byte order at P, as PostgreSQL's binary formats (parameters, arrays, COPY)
 * want it; kvs_pg_int() reads it back. */
static inline void kvs_pg_put_be32(void *p, uint32_t x)
{
    x = htobe32(x);
    memcpy(p, &x, sizeof x);
}
static inline void kvs_pg_put_be64(void *p, uint64_t x)
{
    x = htobe64(x);
    memcpy(p, &x, sizeof x);
}

/* Parameters of one statement, sent in binary format (the SQL casts each parameter to its
 * type: $1::text, $2::int8, ...). */
#define PG_MAX_PARAMS 12
struct kvs_pg_params {
    int n;
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS];
    int formats[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][8]; /* big-endian integers */
};
/* Bytes of text or bytea (not copied: they must stay valid until the statement is sent). */
void kvs_pg_p_bytes(struct kvs_pg_params *p, const void *v, size_t n);
void kvs_pg_p_str(struct kvs_pg_params *p, const char *s);
void kvs_pg_p_i64(struct kvs_pg_params *p, int64_t x);
void kvs_pg_p_bool(struct kvs_pg_params *p, int x);
void kvs_pg_p_null(struct kvs_pg_params *p);
/* A one-dimensional array without NULLs in PostgreSQL's binary format (array_send), to send
 * as one parameter ($1::text[], $2::bytea[], $3::int8[]): many rows in one statement. */
struct kvs_pg_array {
    char *p; /* the 20-byte header, then each element as its length and bytes */
    size_t n, cap;
    uint32_t count;
};
#define PG_OID_BYTEA 17
#define PG_OID_INT8 20
#define PG_OID_TEXT 25
void kvs_pg_array_init(struct kvs_pg_array *a, uint32_t elem_oid);
void kvs_pg_array_add(struct kvs_pg_array *a, const void *v, size_t n); /* text, bytea */
void kvs_pg_array_add_i64(struct kvs_pg_array *a, int64_t x);
/* A as the next parameter of P; A must stay until the statement is sent. */
void kvs_pg_p_array(struct kvs_pg_params *p, struct kvs_pg_array *a);
void kvs_pg_array_free(struct kvs_pg_array *a);

/* A pipeline on one connection: statements are sent (preparing any the connection has not
 * prepared yet), then kvs_pg_sync() sends a Sync and collects every result in order. */
struct kvs_pg_pipe {
    struct kvs_pg_conn *c;
    struct kvs_pg_slot {
        PGresult *res;    /* NULL until collected, or when none came (connection lost) */
        int prepare;      /* a Prepare of statement PREPARE (its result is only checked), or -1 */
        const char *what; /* the statement's name, for errors */
    } * slots;
    size_t n, cap;
};

/* Send STMT with P (NULL: none). Returns the slot of its result, or KVS_EUNAVAIL when the
 * connection is broken. */
KVS_MUST_CHECK int kvs_pg_send(struct kvs_pg_pipe *pp, const struct kvs_pg_stmt *stmt,
                               const struct kvs_pg_params *p);
/* Send a statement without parameters that is not prepared (BEGIN, COMMIT, ROLLBACK). */
KVS_MUST_CHECK int kvs_pg_send_sql(struct kvs_pg_pipe *pp, const char *sql);
/* Send a Sync and collect the results of everything sent since the last one. Returns 0 when
 * every result came (each may still be an error: kvs_pg_slot_err()), or KVS_EUNAVAIL when the
 * connection broke (slots without a result have res NULL). */
KVS_MUST_CHECK int kvs_pg_sync(struct kvs_pg_pipe *pp);
/* The result of slot I, or NULL. */
static inline PGresult *kvs_pg_res(const struct kvs_pg_pipe *pp, int i)
{
    return pp->slots[i].res;
}
/* 0 when slot I succeeded, else its error as a KVS_E... code (logged, unless it was only
 * aborted by an earlier error of the pipeline). */
KVS_MUST_CHECK int kvs_pg_slot_err(struct kvs_pg_pipe *pp, int i);
/* The error of the first slot that failed (as kvs_pg_slot_err()), or 0 when none did. */
KVS_MUST_CHECK int kvs_pg_pipe_err(struct kvs_pg_pipe *pp);
/* Clear every result; the pipe may be used again. */
void kvs_pg_pipe_clear(struct kvs_pg_pipe *pp);
void kvs_pg_pipe_free(struct kvs_pg_pipe *pp);

/* ==== errors, rows (pg_codec.c) ============================================================== */

/* The KVS_E... code of the failed result R (NULL: none came) on connection C, logged with
 * WHAT: KVS_EUNAVAIL for a lost or refused connection, KVS_ENOSPACE for a full disk, KVS_EIO
 * otherwise. */
KVS_MUST_CHECK int kvs_pg_err(const PGresult *r, const struct kvs_pg_conn *c, const char *what);

/* Whether connection C is unusable (lost). */
int kvs_pg_broken(const struct kvs_pg_conn *c);

/* Fields of a binary result. An integer of any width (2, 4 or 8 bytes); 0 when NULL. */
int64_t kvs_pg_int(const PGresult *r, int row, int col);
int kvs_pg_null(const PGresult *r, int row, int col);
kvs_slice kvs_pg_bytes(const PGresult *r, int row, int col);
/* Copy a text field into OUT[CAP] (NUL-terminated). Returns 0, or KVS_EIO (logged) when it
 * does not fit. */
KVS_MUST_CHECK int kvs_pg_str(const PGresult *r, int row, int col, char *out, size_t cap);

/* The columns of a user as PG_USER_COLS selects them (table alias u), and of a store as
 * PG_STORE_COLS does (alias s, the owner's username last: join kvs_users u). */
#define PG_USER_COLS "u.id, u.username, u.is_admin, u.default_access, u.created_ms"
#define PG_USER_NCOLS 5
#define PG_STORE_COLS                                                                              \
    "s.id, s.user_id, s.name, s.title, s.secret, s.general_access, s.schema, s.created_ms, "       \
    "s.modified_ms, s.accessed_ms, s.read_count, s.write_count, s.delete_count, s.list_count, "    \
    "s.record_count, s.storage_bytes, u.username"
#define PG_STORE_NCOLS 17
/* The columns of a run (alias r), as kvs_pg_run_row() decodes them. */
#define PG_RUN_COLS                                                                                \
    "r.id, r.user_id, r.act_id, r.actor, r.store_id, r.origin, r.status, r.status_message, "      \
    "r.message_terminal, r.exit_code, r.timeout_secs, r.memory_mbytes, r.started_ms, "             \
    "r.finished_ms"

/* Decode the user at columns COL.. of row ROW into OUT. Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_pg_user_row(const PGresult *r, int row, int col, struct kvs_user *out);
/* Decode the store at columns COL.. of row ROW into OUT (zeroed first; release it with
 * kvs_store_clear(), also after an error). Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_pg_store_row(const PGresult *r, int row, int col, struct kvs_store *out);
/* Decode the run at columns COL.. (PG_RUN_COLS) of row ROW into OUT (cleared first; released by
 * the caller). Returns 0 or KVS_EIO (OUT cleared). pg_runs.c. */
KVS_MUST_CHECK int kvs_pg_run_row(const PGresult *r, int row, int col, struct kvs_run *out);

/* Whether S is N bytes of valid UTF-8 without NUL: what a text parameter may hold. */
int kvs_pg_text_ok(const char *s, size_t n);
/* Whether ID is a store or user ID (KVS_ID_LEN alphanumerics, NUL-terminated in its array). */
int kvs_pg_id_ok(const char *id, size_t cap);
/* The least string above every string that starts with P (valid UTF-8, N bytes) into OUT
 * (N + 4 bytes at least): P with its last character increased. Returns its length, or 0 when
 * there is none (P is empty or only U+10FFFF characters). */
size_t kvs_pg_prefix_end(const char *p, size_t n, char *out);

/* ==== the ops (struct kvs_storage_ops, backend.h) ============================================ */

/* pg_read.c */
KVS_MUST_CHECK int kvs_pg_read_begin(struct kvs_storage *st, struct kvs_read **out);
void kvs_pg_read_end(struct kvs_read *rd);
uint64_t kvs_pg_meta_epoch(struct kvs_read *rd);
/* Note meta epoch E, which a statement returned, as seen by node DB (any thread). */
void kvs_pg_saw_epoch(struct kvs_pg *db, uint64_t e);
void kvs_pg_read_optimistic(struct kvs_read *rd);
KVS_MUST_CHECK int kvs_pg_read_confirm(struct kvs_read *rd);
KVS_MUST_CHECK int kvs_pg_user_count(struct kvs_read *rd, uint64_t *out);
KVS_MUST_CHECK int kvs_pg_totals(struct kvs_read *rd, struct kvs_storage_totals *out);
KVS_MUST_CHECK int kvs_pg_user_get(struct kvs_read *rd, kvs_slice user_id, struct kvs_user *out);
KVS_MUST_CHECK int kvs_pg_user_by_token(struct kvs_read *rd, const uint8_t hash[KVS_TOKEN_HASH_LEN],
                                        struct kvs_user *out, struct kvs_token_grant *grant);
KVS_MUST_CHECK int kvs_pg_user_by_name(struct kvs_read *rd, kvs_slice username,
                                       struct kvs_user *out);
KVS_MUST_CHECK int kvs_pg_store_get(struct kvs_read *rd, kvs_slice id, struct kvs_store *out);
KVS_MUST_CHECK int kvs_pg_store_by_name(struct kvs_read *rd, kvs_slice user_id, kvs_slice name,
                                        struct kvs_store *out);
KVS_MUST_CHECK int kvs_pg_store_list(struct kvs_read *rd, kvs_slice user_id, uint64_t offset,
                                     uint64_t limit, int desc, int include_unnamed, kvs_store_cb cb,
                                     void *arg, uint64_t *total);
KVS_MUST_CHECK int kvs_pg_store_list_visible(struct kvs_read *rd, kvs_slice user_id, unsigned which,
                                             uint64_t offset, uint64_t limit, int desc,
                                             int include_unnamed, kvs_store_share_cb cb, void *arg,
                                             uint64_t *total);
KVS_MUST_CHECK int kvs_pg_user_list(struct kvs_read *rd, kvs_user_cb cb, void *arg);
KVS_MUST_CHECK int kvs_pg_token_list(struct kvs_read *rd, kvs_slice user_id, kvs_token_cb cb,
                                     void *arg);
KVS_MUST_CHECK int kvs_pg_share_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice user_id,
                                    enum kvs_share_level *out);
KVS_MUST_CHECK int kvs_pg_share_list(struct kvs_read *rd, kvs_slice store_id, kvs_share_cb cb,
                                     void *arg);
KVS_MUST_CHECK int kvs_pg_record_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice key,
                                     struct kvs_record_view *out);
KVS_MUST_CHECK int kvs_pg_keys_list(struct kvs_read *rd, kvs_slice store_id, kvs_slice prefix,
                                    kvs_slice start_after, uint64_t limit, unsigned flags,
                                    kvs_key_cb cb, void *arg, int *truncated);
/* Run STMT with P (NULL: none) as one lookup of RD: on 0, *OUT is its result, kept by RD until
 * it ends. Returns 0, KVS_EUNAVAIL, KVS_EIO. */
KVS_MUST_CHECK int kvs_pg_query(struct kvs_read *rd, const struct kvs_pg_stmt *stmt,
                                const struct kvs_pg_params *p, PGresult **out);

/* pg_runs.c */
KVS_MUST_CHECK int kvs_pg_run_get(struct kvs_read *rd, kvs_slice id, struct kvs_run *out);
KVS_MUST_CHECK int kvs_pg_run_by_store(struct kvs_read *rd, kvs_slice store_id,
                                       struct kvs_run *out);
KVS_MUST_CHECK int kvs_pg_run_list(struct kvs_read *rd, unsigned by, kvs_slice owner,
                                   unsigned statuses, uint64_t offset, uint64_t limit, int desc,
                                   kvs_run_cb cb, void *arg, uint64_t *total);

/* pg_apply.c */
KVS_MUST_CHECK int kvs_pg_apply(struct kvs_storage *st, struct kvs_write **ws, size_t n,
                                const struct kvs_stat_delta *deltas, size_t nd);
/* The writer's connection, made again when it was lost. Returns 0 or KVS_EUNAVAIL. */
KVS_MUST_CHECK int kvs_pg_writer_conn(struct kvs_pg *db, struct kvs_pg_conn **out);
/* The writer's connection broke: close it (the next use makes a new one). */
void kvs_pg_writer_lost(struct kvs_pg *db);

/* pg_read.c too: the disk space of the back-end's tables (with their indexes and TOAST). */
KVS_MUST_CHECK int kvs_pg_disk_bytes(struct kvs_storage *st, uint64_t *out);

/* pg_maint.c */
KVS_MUST_CHECK int kvs_pg_maintain(struct kvs_storage *st);

/* pg_blob.c: the ops of large values (backend.h), and what a batch needs of an upload: its
 * connection (in the upload's transaction, after its savepoint, in pipeline mode; NULL when
 * it is not ready or failed) and its number. */
KVS_MUST_CHECK int kvs_pg_upload_begin(struct kvs_storage *st, uint64_t size,
                                       struct kvs_upload **out);
KVS_MUST_CHECK int kvs_pg_upload_append(struct kvs_upload *u, const void *p, size_t n);
KVS_MUST_CHECK int kvs_pg_upload_sync(struct kvs_upload *u);
void kvs_pg_upload_keep(struct kvs_upload *u);
void kvs_pg_upload_abort(struct kvs_upload *u);
KVS_MUST_CHECK int kvs_pg_blob_reader(struct kvs_read *rd, const struct kvs_record_view *rec,
                                      struct kvs_blob_reader **out);
uint64_t kvs_pg_inline_max(const struct kvs_storage *st);
struct kvs_pg_conn *kvs_pg_upload_conn(struct kvs_upload *u);
int64_t kvs_pg_upload_blob(const struct kvs_upload *u);
/* Close the idle upload connections (at close; none is in use). */
void kvs_pg_uploads_close(struct kvs_pg *db);
/* A large value's number from the 8 bytes of its reference (struct kvs_record_view.blob). */
int64_t kvs_pg_blob_of(kvs_slice ref);

#endif
