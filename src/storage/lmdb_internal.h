/* lmdb_internal.h — what the files of the LMDB back-end share: the layout, the structs, the
 * codec (lmdb_codec.c) and the ops each file implements. Included only by storage/lmdb_*.c.
 *
 * The back-end is split by concern, and the PostgreSQL back-end (pg_*.c) has the same shape:
 *   lmdb_codec.c  errors, and the rows of the schema below: packing, loading, saving
 *   lmdb_read.c   the read ops (struct kvs_read is an LMDB read transaction)
 *   lmdb_apply.c  the write ops: one write transaction per batch of the writer thread
 *   lmdb_maint.c  background work (the sweep of deleted stores, retention) and backup
 *   lmdb_open.c   opening, the schema version and its upgrades, closing, the ops table
 *   lmdb_runs.c   runs (storage/run.h): their rows, their reads, and the parts of the write ops
 *   lmdb_wal.c    the write-ahead log: one flush per durable commit (lmdb_wal.h)
 *
 * The LMDB back-end of the storage interface (storage.h, backend.h):
 *
 * One LMDB environment in the data directory holds everything. Writes come only from the
 * writer thread of storage.c (one write transaction per batch); reads are LMDB read
 * transactions, opened with MDB_NOTLS so that a read may end on another thread than the one
 * that began it.
 *
 * ---- Durability ----------------------------------------------------------------------------
 *
 * A commit is durable when kvs_lmdb_commit() returns, in one of two ways (lmdb_wal.h tells
 * the whole design and why each is safe against kill -9 and power loss):
 *   - the process that owns the directory's write-ahead log (the server) appends the row
 *     images of the transaction to DIR/wal.log and flushes them (one device flush), then
 *     commits with MDB_NOSYNC; a checkpoint thread makes the B-tree durable now and then,
 *     while a read transaction pins the last durable snapshot so that LMDB reuses none of its
 *     pages; recovery puts that snapshot's meta page back and applies the records after it;
 *   - any other process (kvs --data commands, backup) commits with LMDB's default sync
 *     (fdatasync of the pages, then the meta page through O_DSYNC: two flushes) and makes its
 *     commit a checkpoint.
 * So every change of the data goes through the helpers below (db_put, db_reserve, db_del,
 * db_cursor_del), which note it for the log, and every write transaction through
 * kvs_lmdb_write_begin/commit/abort.
 * The data file is kept ahead of use with zeros (prealloc.h, grow_ahead() in lmdb_apply.c):
 * commits of a growing store then overwrite blocks the file has, instead of extending it, which
 * costs a journal commit per fdatasync. Measured: a C model of the commit (4 pages, fdatasync,
 * meta write) ran 2,553 commits/s extending the file vs 4,050/s into preallocated blocks;
 * durable PUT at 64 connections in make bench's set-up, 4 interleaved runs each, 31,313 vs
 * 35,638 req/s on average.
 * Tried and left before the log: MDB_NOMETASYNC, acknowledging a batch once the next commit's
 * fdatasync had made its meta page durable (one flush per commit instead of two). It was 2-5 %
 * faster at 1 and 16 connections but 5 % slower than the above at 64: a write then waits for
 * the next batch too, and with a fixed number of clients the latency sets the rate.
 *
 * ---- Schema, version 7 ---------------------------------------------------------------------
 *
 * Integers are little-endian and fixed-width unless said otherwise; strings are raw bytes
 * with an explicit length, never NUL-terminated. Every value that may change shape starts
 * with a format byte (1 today; 2 for records and store_stats since schema version 4), so a
 * later format can be told apart. A value that is too short, too long, or of an unknown
 * format is reported as KVS_EIO; nothing is read past its end. IDs are the 17 ASCII
 * characters of the ID. "+" is concatenation.
 *
 *   meta           "schema_version"                  → u32 SCHEMA_VERSION
 *                  "commit"                          → u64, the number of the last write
 *                  transaction that had to make sure it changed something (see "Meta epoch")
 *                  Checked at open. Version 1 (no token prefixes, no shares) is upgraded in
 *                  place (see migrate_v1 in lmdb_open.c: its tokens get index rows with an unknown
 * prefix, revocable by the whole token only), and so is version 2 (no unnamed_by_access; migrate_v2
 * builds it), and so is version 3 (records and store_stats in format 1, without versions;
 * migrate_v3 rewrites them in bounded steps), and so are versions 4 (no runs: their four tables
 * are made empty, in the transaction that opens the tables), 5 (its tokens rows are all the
 * bare user ID, which version 6 still reads as a token without limits: only the version
 * changes, so that an older build refuses rows with a scope rather than misread them) and 6
 * (no blobs table: made empty the same way as the runs' tables); any other version is refused
 * (KVS_EIO, logged), and so is data without a version.
 *   users          user id                           → u8 format, u8 is_admin,
 *                                                      u8 default_access, i64 created_ms,
 *                                                      u8 len + username
 *   usernames      username                          → user id
 *   tokens         SHA-256 of the token (32 bytes)   → user id
 *                                                      [+ u8 format, i64 expires_ms,
 *                                                       u32 len + scope text]
 *                  What every request looks up: the bare user ID for a token without limits
 *                  (the common case, and every token before version 6); with an expiry or a
 *                  scope (auth/scope.h's canonical text) they follow. What else is known of a
 *                  token is in the two indexes below, written with it.
 *   token_prefixes prefix (KVS_TOKEN_PREFIX_MAX bytes, NUL-padded) + SHA-256
 *                                                    → u8 format, user id, i64 created_ms
 *                  Revoking by prefix is one MDB_SET_RANGE and a step past the last match.
 *                  A prefix holds no NUL byte, so a given prefix never matches the padding.
 *   user_tokens    user id + u64 BIG-endian (created_ms, sign bit flipped) + SHA-256
 *                                                    → u8 format, u8 len + prefix
 *                  One user's tokens, oldest first.
 *   stores         store id                          → u8 format, u8 general_access,
 *                                                      i64 created_ms, user id (17),
 *                                                      secret (32), u8 len + name,
 *                                                      u8 len + title, u8 has_schema,
 *                                                      u32 len + schema (when has_schema)
 *   store_stats    store id                          → u8 format (2), i64 modified_ms,
 *                                                      i64 accessed_ms, u64 read_count,
 *                                                      write_count, delete_count,
 *                                                      list_count, record_count, storage_bytes,
 *                                                      u64 last_version
 *                  Kept apart from `stores` because every record write rewrites it: 73 bytes
 *                  instead of a row that may carry a 64 KiB schema. A store exists exactly
 *                  when both rows exist. last_version: the highest record version the store
 *                  ever gave (storage.h, "Record versions"); a record write gives
 *                  max(now in µs, last_version + 1, the process's last version + 1).
 *   store_names    user id + name                    → store id        (named stores only)
 *   store_by_user  user id + u64 BIG-endian (created_ms with the sign bit flipped) + store id
 *                                                    → u8 flags (1 = named)
 *                  Big-endian so that byte order is creation order: a cursor walks one
 *                  user's stores oldest first (MDB_NEXT) or newest first (MDB_PREV).
 *   records        store id + key                    → u8 format (2), u8 encoding,
 *                                                      u8 content-type len, u64 version,
 *                                                      i64 modified_ms, content type,
 *                                                      value bytes (the rest)
 *                                                    or, for a record held in a blob file
 *                                                      (version 7), u8 format (3) and the same
 *                                                      up to the content type, then u64 size,
 *                                                      blob id (16 bytes)
 *                  All records of a store are adjacent and in key byte order, so a page of
 *                  keys is one MDB_SET_RANGE and LIMIT steps: O(limit + log n).
 *   blobs          blob id (16 bytes)                → u8 format, u64 size, store id + key
 *                  (version 7) Every blob file a committed record references, written and
 *                  deleted with that record's row: what the start-up sweep and `kvs check`
 *                  hold the files of blobs/ against (lmdb_blob.c).
 *   shares         store id + user id                → u8 format, u8 level (1 READ, 2 WRITE)
 *                  Who a store is shared with. Deleting the store deletes these rows and
 *                  their shared_with twins in the same transaction.
 *   shared_with    user id + u64 BIG-endian (the store's created_ms, sign bit flipped) +
 *                  store id                          → u8 format, u8 level, u8 flags (1 = named)
 *                  The stores shared with a user, keyed like store_by_user, so that a user's
 *                  own and shared stores list as one merge of two cursors in creation order
 *                  (kvs_lmdb_store_list_visible) and never as a scan of all stores. The named
 *                  flag is rewritten when a rename makes a store named or unnamed.
 *   dead_stores    store id                          → i64 deleted_ms
 *                  Deleted stores whose records are still to be swept. Readers treat the
 *                  records of a dead store as absent; kvs_lmdb_maintain() deletes them in
 *                  transactions of at most SWEEP_MAX records, so that deleting a store of
 *                  any size never makes one huge transaction (MDB_TXN_FULL, or a long stall
 *                  of the writes queued behind it).
 *   unnamed_by_access  u64 BIG-endian (accessed_ms, sign bit flipped) + store id → u8 format
 *                  (version 3) Every unnamed store, oldest access first: what retention
 *                  (--unnamed-retention) expires. A row exists exactly when the store exists
 *                  and is unnamed, and its time is the store's stored accessed_ms: every
 *                  change of accessed_ms (record writes, store updates, the flush of the
 *                  in-memory read statistics) moves the row in the same transaction (one
 *                  delete and one put, kvs_lmdb_unnamed_touch), a rename moves the store in or out,
 *                  and a delete removes it. So finding the expired stores is a walk from the
 *                  first row that stops at the first one not expired: O(expired), never a
 *                  scan of all stores (expire_step in lmdb_maint.c).
 *   runs           run id                            → u8 format, u8 status, u8 flags (1 the
 *                                                      message is terminal, 2 has an exit
 *                                                      code, 4 has a message), i32 exit_code,
 *                                                      u32 timeout_secs, u32 memory_mbytes,
 *                                                      i64 started_ms, i64 finished_ms,
 *                                                      user id, act id, store id (17 each),
 *                                                      u8 len + origin, u8 len + actor name,
 *                                                      u32 len + status message
 *                  (version 5) Actor runs, storage/run.h. A run exists exactly when its default
 *                  store does: kvs_lmdb_store_delete() deletes it with its three index rows.
 *   runs_by_user   user id + u64 BIG-endian (started_ms, sign bit flipped) + run id → u8 status
 *   runs_by_actor  act id + u64 BIG-endian (started_ms, sign bit flipped) + run id → u8 status
 *                  A user's or an Actor's runs in start order, like store_by_user; the status in
 *                  the value (rewritten when it changes) filters a listing without reading the
 *                  runs it leaves out.
 *   runs_by_store  store id                          → run id
 *
 * ---- Large values ---------------------------------------------------------------------------
 *
 * A record larger than INLINE_MAX is not put in the B-tree but in a file of its own,
 * DIR/blobs/HH/ID (ID: 32 hex digits of 16 random bytes, HH its first two), written as the
 * body arrives and synced (with its directory) before the commit of the row that references it
 * (storage.h, "Large records"; lmdb_blob.c). The row is then a few dozen bytes, so the writer's
 * transaction, LMDB's dirty pages and the data file stay small whatever the record's size.
 * Smaller records live in the B-tree as LMDB overflow pages (contiguous page runs).
 * Freed runs are reused only when a run of the needed length is free, so churn of large values
 * fragments the file. Measured with bench/lmdb_frag.c (64 live records of 64 KiB..10 MiB, each
 * round overwriting a random one with a new random size; ~20 GB written in 4,000 rounds): the
 * file grows to about 1.5× the live bytes within the first few hundred rounds and then stays
 * there (330 MiB live, 492-512 MiB file). Bounded, so values stay in the B-tree: one
 * transaction keeps a record and its metadata atomic, and there is no second place to sync.
 *
 * ---- Meta epoch (kvs_storage_meta_epoch) ---------------------------------------------------
 *
 * LMDB numbers its commits 1, 2, 3, … across every process that opens the environment, and a
 * read snapshot knows the number of the last commit it sees (mdb_txn_id). The writer thread,
 * which makes every commit of this process, notes after each (kvs_lmdb_commit) its number in
 * own_txnid and, when it changed users, tokens, stores or shares, in meta_txnid. A gap before
 * a commit of ours (it is not own_txnid + 1) means that another process (the CLI's --data
 * mode, a second server on the same directory) committed in between and may have changed
 * anything, so meta_txnid moves to it then too. A read whose snapshot is exactly own_txnid has
 * everything up to it accounted for, and its epoch is meta_txnid + 1: two such reads with the
 * same epoch have no meta change between their snapshots. Any other snapshot (another
 * process's commit not followed by one of ours yet, or one of ours not noted yet) has epoch 0.
 * Only numbers that LMDB really gave to a commit of ours are noted: a failed commit notes
 * nothing, and a transaction that might change nothing writes meta's "commit" row first
 * (LMDB does not commit an empty transaction, and its number could then go to another
 * process's commit). Another process's write is so seen from the next commit of this process
 * on, at most a second later while reads come (their statistics are flushed every second);
 * until then reads have epoch 0 and bypass the caches.
 *
 * ---- Errors --------------------------------------------------------------------------------
 *
 * LMDB's codes stop here: MDB_MAP_FULL, ENOSPC and EDQUOT become KVS_ENOSPACE, MDB_NOTFOUND
 * becomes KVS_ENOTFOUND where "missing" is an answer, anything else KVS_EIO, logged with
 * mdb_strerror() (see kvs_lmdb_err()). One exception, at commit: LMDB 0.9 reports a pwrite that
 * wrote fewer bytes than asked as EIO, and a short write is how a file system that has room
 * for only part of the pages fails (tmpfs always, ext4 often). So an EIO from a commit while
 * the file system has less room left than the batch needs is KVS_ENOSPACE (kvs_lmdb_commit_err()).
 * Tested on a real full file system by tests/crash/full-disk.test.mjs.
 *
 * The behaviour common to all back-ends is checked by tests/unit/storage/conformance.c; what
 * is particular to this one (schema version, corrupt values, the sweep in bounded steps, a
 * 200,000-key store paged by cursor, a full map) by tests/unit/storage/test_lmdb.c.
 */
#ifndef KVS_STORAGE_LMDB_INTERNAL_H
#define KVS_STORAGE_LMDB_INTERNAL_H

#include <endian.h>
#include <lmdb.h>
#include <stdint.h>
#include <string.h>

#include "common/log.h"
#include "kvs.h"
#include "storage/backend.h"
#include "storage/lmdb_wal.h"
#include "storage/prealloc.h"

#define SCHEMA_VERSION 7u
#define FORMAT 1u        /* the format byte of every value written today, but: */
#define RECORD_FORMAT 2u /* records (version 4: + version, modified_ms) */
#define RECORD_BLOB 3u   /* records held in a blob file (version 7) */
#define BLOB_ID_LEN 16
#define RECORD_BLOB_TAIL (8 + BLOB_ID_LEN) /* size, blob id */
/* Values up to this size stay in the B-tree, larger ones go to blob files: see "Large values"
 * for why, and README ("Large records") for the measurement that chose it. */
#define KVS_LMDB_INLINE_MAX (1024u * 1024)
#define STATS_FORMAT 2u  /* store_stats (version 4: + last_version) */

#define STORE_BY_USER_KEY_LEN (KVS_ID_LEN + 8 + KVS_ID_LEN) /* also the shared_with key */
#define TOKEN_PREFIX_KEY_LEN (KVS_TOKEN_PREFIX_MAX + KVS_TOKEN_HASH_LEN)
#define USER_TOKEN_KEY_LEN (KVS_ID_LEN + 8 + KVS_TOKEN_HASH_LEN)
#define SHARE_KEY_LEN (2 * KVS_ID_LEN)
#define ACCESS_KEY_LEN (8 + KVS_ID_LEN) /* unnamed_by_access */
#define STATS_ROW_LEN (1 + 8 + 8 + 6 * 8 + 8)
#define RECORD_HDR_LEN (3 + 8 + 8)

enum dbi {
    DBI_META,
    DBI_USERS,
    DBI_USERNAMES,
    DBI_TOKENS,
    DBI_STORES,
    DBI_STORE_STATS,
    DBI_STORE_NAMES,
    DBI_STORE_BY_USER,
    DBI_RECORDS,
    DBI_DEAD_STORES,
    DBI_TOKEN_PREFIXES,
    DBI_USER_TOKENS,
    DBI_SHARES,
    DBI_SHARED_WITH,
    DBI_UNNAMED_BY_ACCESS,
    DBI_RUNS,
    DBI_RUNS_BY_USER,
    DBI_RUNS_BY_ACTOR,
    DBI_RUNS_BY_STORE,
    DBI_BLOBS,
    DBI_COUNT
};

/* The names of the tables, by enum dbi (lmdb_open.c). */
extern const char *const kvs_lmdb_dbi_names[DBI_COUNT];

struct kvs_lmdb {
    struct kvs_storage super;
    MDB_env *env;
    MDB_dbi dbi[DBI_COUNT];
    int64_t retention_ms; /* unnamed stores unaccessed this long are deleted; 0 = never */
    unsigned page_size;
    struct kvs_prealloc prealloc; /* writer thread only */
    uint64_t last_version;        /* writer thread only: the last record version given */
    char *dir;                    /* the data directory (owned) */
    /* "Meta epoch" above: written by the writer thread (atomic), read by any */
    uint64_t own_txnid;  /* this process's last commit, every commit before it accounted for */
    uint64_t meta_txnid; /* the last commit up to own_txnid that may have changed meta */
    /* The write-ahead log (lmdb_wal.h). LOGGING is WAL while this process appends its commits
     * to it (the owner, once started), else NULL: the helpers below note every change then. */
    struct kvs_wal *wal;
    struct kvs_wal *logging;
    int wal_started;
    unsigned char dbi_enum[64]; /* enum dbi of each MDB_dbi handle (LMDB numbers them from 2) */
    int blobs_fd;     /* DIR/blobs, open; its flock (lmdb_blob.c) lasts as long as the storage */
    int keep_orphans;    /* cfg.keep_orphans: no sweep of unreferenced blob files at open */
    uint64_t inline_max; /* larger values go to blob files (cfg.inline_max) */
    /* Ended reads kept for the next ones (lmdb_read.c), their transactions reset */
    pthread_mutex_t spares_mu;
    struct kvs_lmdb_read *spares; /* under spares_mu */
    unsigned n_spares;            /* under spares_mu */
};

struct kvs_lmdb_read {
    struct kvs_read super;
    MDB_txn *txn;
    struct kvs_lmdb_read *next; /* in db->spares */
};

static inline struct kvs_lmdb *lmdb_of(struct kvs_storage *st)
{
    return (struct kvs_lmdb *)st;
}

static inline struct kvs_lmdb_read *read_of(struct kvs_read *rd)
{
    return (struct kvs_lmdb_read *)rd;
}

/* The mutable parts of a store, kept in store_stats. */
struct stats_row {
    int64_t modified_ms;
    int64_t accessed_ms;
    struct kvs_store_stats s;
    uint64_t last_version; /* the highest record version the store gave */
};

/* ==== errors (lmdb_codec.c) ================================================================= */

/* Translate an LMDB or errno code RC (not MDB_NOTFOUND) from WHAT into a KVS_E... code. */
KVS_MUST_CHECK int kvs_lmdb_err(int rc, const char *what);

/* Translate RC from committing a transaction that wrote about NEED bytes of values. An EIO
 * with too little room left on the data file's file system is the short write of a full disk
 * (see "Errors" above): KVS_ENOSPACE. Otherwise as kvs_lmdb_err(). */
KVS_MUST_CHECK int kvs_lmdb_commit_err(struct kvs_lmdb *db, int rc, uint64_t need,
                                       const char *what);

/* Log that a stored WHAT value is corrupt; returns KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_corrupt(const char *what);

static inline MDB_val val_of(const void *p, size_t n)
{
    return (MDB_val){.mv_size = n, .mv_data = (void *)p};
}

/* Look up K in DBI. Returns 0 (V points into the map), KVS_ENOTFOUND, or the mapped error. */
static inline KVS_MUST_CHECK int db_get(MDB_txn *txn, MDB_dbi dbi, MDB_val k, MDB_val *v,
                                        const char *what)
{
    int rc = mdb_get(txn, dbi, &k, v);
    if (rc == MDB_NOTFOUND)
        return KVS_ENOTFOUND;
    return rc == 0 ? 0 : kvs_lmdb_err(rc, what);
}

/* Whether K exists in DBI: 1, 0, or the mapped error. */
static inline KVS_MUST_CHECK int db_has(MDB_txn *txn, MDB_dbi dbi, MDB_val k, const char *what)
{
    MDB_val v;
    int rc = db_get(txn, dbi, k, &v, what);
    if (rc == KVS_ENOTFOUND)
        return 0;
    return rc == 0 ? 1 : rc;
}

/* ---- changes ----
 * Every change of the data goes through these (or kvs_lmdb_commit's own row): while this
 * process appends to the write-ahead log, each change is noted as a row of the transaction's
 * record (lmdb_wal.h), and a change that bypassed them would be lost by a recovery. */

/* The log noting TXN's changes, or NULL. */
static inline struct kvs_wal *wal_of(MDB_txn *txn, MDB_dbi dbi, unsigned *index)
{
    const struct kvs_lmdb *db = mdb_env_get_userctx(mdb_txn_env(txn));
    if (db == NULL || db->logging == NULL)
        return NULL;
    *index = db->dbi_enum[dbi];
    kvs_wal_settle(db->logging); /* before LMDB moves the last reserved value */
    return db->logging;
}

static inline KVS_MUST_CHECK int db_put(MDB_txn *txn, MDB_dbi dbi, MDB_val k, MDB_val v,
                                        const char *what)
{
    unsigned index = 0;
    struct kvs_wal *w = wal_of(txn, dbi, &index);
    int rc = mdb_put(txn, dbi, &k, &v, 0);
    if (rc == 0 && w != NULL)
        kvs_wal_note(w, index, k, &v, 0);
    return rc == 0 ? 0 : kvs_lmdb_err(rc, what);
}

/* Reserve N bytes for the value of K and return where to write them (in *OUT). */
static inline KVS_MUST_CHECK int db_reserve(MDB_txn *txn, MDB_dbi dbi, MDB_val k, size_t n,
                                            unsigned char **out, const char *what)
{
    unsigned index = 0;
    struct kvs_wal *w = wal_of(txn, dbi, &index);
    MDB_val v = {.mv_size = n, .mv_data = NULL};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return kvs_lmdb_err(rc, what);
    if (w != NULL)
        kvs_wal_note(w, index, k, &v, 1); /* copied from V at the next change or the commit */
    *out = v.mv_data;
    return 0;
}

/* Delete K from DBI. Returns 0, MDB_NOTFOUND (an LMDB code: the caller decides), or the
 * mapped error. */
static inline KVS_MUST_CHECK int db_del_raw(MDB_txn *txn, MDB_dbi dbi, MDB_val k, const char *what)
{
    unsigned index = 0;
    struct kvs_wal *w = wal_of(txn, dbi, &index);
    int rc = mdb_del(txn, dbi, &k, NULL);
    if (rc == 0 && w != NULL)
        kvs_wal_note(w, index, k, NULL, 0);
    return rc == 0 || rc == MDB_NOTFOUND ? rc : kvs_lmdb_err(rc, what);
}

/* Delete K from DBI; a missing K is not an error. */
static inline KVS_MUST_CHECK int db_del(MDB_txn *txn, MDB_dbi dbi, MDB_val k, const char *what)
{
    int rc = db_del_raw(txn, dbi, k, what);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Delete the row cursor CUR stands on (mdb_cursor_del). Returns 0 or the mapped error. */
static inline KVS_MUST_CHECK int db_cursor_del(MDB_cursor *cur, const char *what)
{
    MDB_txn *txn = mdb_cursor_txn(cur);
    MDB_dbi dbi = mdb_cursor_dbi(cur);
    unsigned index = 0;
    struct kvs_wal *w = wal_of(txn, dbi, &index);
    MDB_val k, v;
    int rc = w != NULL ? mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT) : 0;
    if (rc == 0)
        rc = mdb_cursor_del(cur, 0);
    if (rc == 0 && w != NULL)
        kvs_wal_note(w, index, k, NULL, 0); /* K points into a page the delete left alone */
    return rc == 0 ? 0 : kvs_lmdb_err(rc, what);
}

/* ==== packing =============================================================================== */

/* Reading a stored value: every getter checks the remaining length, and after the first
 * shortfall all getters return zeros and `bad` stays set. */
struct unpacker {
    const unsigned char *p;
    size_t n;
    int bad;
};

static inline struct unpacker unpacker_of(MDB_val v)
{
    return (struct unpacker){.p = v.mv_data, .n = v.mv_size, .bad = 0};
}

static inline const unsigned char *take(struct unpacker *u, size_t n)
{
    if (u->bad || u->n < n) {
        u->bad = 1;
        return NULL;
    }
    const unsigned char *p = u->p;
    u->p += n;
    u->n -= n;
    return p;
}

static inline unsigned get_u8(struct unpacker *u)
{
    const unsigned char *p = take(u, 1);
    return p ? p[0] : 0;
}

/* memcpy + le*toh compile to one load (the byte loop did not: it ran on every stats read). */
static inline uint32_t get_u32(struct unpacker *u)
{
    const unsigned char *p = take(u, 4);
    uint32_t x = 0;
    if (p)
        memcpy(&x, p, 4);
    return le32toh(x);
}

static inline uint64_t get_u64(struct unpacker *u)
{
    const unsigned char *p = take(u, 8);
    uint64_t x = 0;
    if (p)
        memcpy(&x, p, 8);
    return le64toh(x);
}

/* Copy a string of N bytes into OUT (of CAP bytes, NUL included). */
static inline void get_str(struct unpacker *u, size_t n, char *out, size_t cap)
{
    if (n >= cap) {
        u->bad = 1;
        out[0] = '\0';
        return;
    }
    const unsigned char *p = take(u, n);
    if (p != NULL)
        memcpy(out, p, n);
    out[p ? n : 0] = '\0';
}

/* Whether the whole value was read and nothing was missing. */
static inline KVS_MUST_CHECK int unpacked(const struct unpacker *u)
{
    return !u->bad && u->n == 0;
}

struct packer {
    unsigned char *p;
};

static inline void put_u8(struct packer *w, unsigned x)
{
    *w->p++ = (unsigned char)x;
}

static inline void put_u32(struct packer *w, uint32_t x)
{
    for (int i = 0; i < 4; i++, x >>= 8)
        *w->p++ = (unsigned char)x;
}

static inline void put_u64(struct packer *w, uint64_t x)
{
    for (int i = 0; i < 8; i++, x >>= 8)
        *w->p++ = (unsigned char)x;
}

static inline void put_bytes(struct packer *w, const void *p, size_t n)
{
    if (n > 0)
        memcpy(w->p, p, n);
    w->p += n;
}

/* ---- keys ---- */

/* KEY[KVS_ID_LEN + NAME] for store_names. Returns the key length. */
static inline size_t name_key(unsigned char *key, const char *user_id, const char *name)
{
    size_t n = strlen(name);
    memcpy(key, user_id, KVS_ID_LEN);
    memcpy(key + KVS_ID_LEN, name, n);
    return KVS_ID_LEN + n;
}

/* A time as 8 bytes whose byte order is the time order, for keys. */
static inline void put_time_key(unsigned char *p, int64_t ms)
{
    /* Flipping the sign bit makes the unsigned big-endian order the signed order. */
    uint64_t t = (uint64_t)ms ^ (1ull << 63);
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(t >> (56 - 8 * i));
}

static inline int64_t get_time_key(const unsigned char *p)
{
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | p[i];
    return (int64_t)(t ^ (1ull << 63));
}

/* The store_by_user key of store S. */
static inline void by_user_key(unsigned char key[STORE_BY_USER_KEY_LEN], const struct kvs_store *s)
{
    memcpy(key, s->user_id, KVS_ID_LEN);
    put_time_key(key + KVS_ID_LEN, s->created_ms);
    memcpy(key + KVS_ID_LEN + 8, s->id, KVS_ID_LEN);
}

/* The shared_with key of store S shared with user USER_ID. */
static inline void shared_with_key(unsigned char key[STORE_BY_USER_KEY_LEN], const char *user_id,
                                   const struct kvs_store *s)
{
    memcpy(key, user_id, KVS_ID_LEN);
    put_time_key(key + KVS_ID_LEN, s->created_ms);
    memcpy(key + KVS_ID_LEN + 8, s->id, KVS_ID_LEN);
}

/* The unnamed_by_access key of store ID accessed at MS. */
static inline MDB_val access_key(unsigned char key[ACCESS_KEY_LEN], int64_t ms, const char *id)
{
    put_time_key(key, ms);
    memcpy(key + 8, id, KVS_ID_LEN);
    return val_of(key, ACCESS_KEY_LEN);
}

/* The shares key of (STORE_ID, USER_ID). */
static inline MDB_val share_key(unsigned char key[SHARE_KEY_LEN], const char *store_id,
                                const char *user_id)
{
    memcpy(key, store_id, KVS_ID_LEN);
    memcpy(key + KVS_ID_LEN, user_id, KVS_ID_LEN);
    return val_of(key, SHARE_KEY_LEN);
}

/* ---- tokens ---- */

/* The token_prefixes key of a token with PREFIX and HASH. */
static inline MDB_val token_prefix_key(unsigned char key[TOKEN_PREFIX_KEY_LEN], const char *prefix,
                                       const uint8_t hash[KVS_TOKEN_HASH_LEN])
{
    memset(key, 0, KVS_TOKEN_PREFIX_MAX);
    memcpy(key, prefix, strnlen(prefix, KVS_TOKEN_PREFIX_MAX));
    memcpy(key + KVS_TOKEN_PREFIX_MAX, hash, KVS_TOKEN_HASH_LEN);
    return val_of(key, TOKEN_PREFIX_KEY_LEN);
}

/* The user_tokens key of a token of USER_ID created at CREATED_MS with HASH. */
static inline MDB_val user_token_key(unsigned char key[USER_TOKEN_KEY_LEN], const char *user_id,
                                     int64_t created_ms, const uint8_t hash[KVS_TOKEN_HASH_LEN])
{
    memcpy(key, user_id, KVS_ID_LEN);
    put_time_key(key + KVS_ID_LEN, created_ms);
    memcpy(key + KVS_ID_LEN + 8, hash, KVS_TOKEN_HASH_LEN);
    return val_of(key, USER_TOKEN_KEY_LEN);
}

/* The records key of (STORE_ID, KEY) into BUF[KVS_ID_LEN + KVS_KEY_MAX]. */
static inline MDB_val record_key(unsigned char *buf, const char *store_id, kvs_slice key)
{
    memcpy(buf, store_id, KVS_ID_LEN);
    memcpy(buf + KVS_ID_LEN, key.p, key.n);
    return val_of(buf, KVS_ID_LEN + key.n);
}

/* Copy slice S (an ID of the right length) into a NUL-terminated ID. */
static inline void id_of(kvs_slice s, char out[KVS_ID_LEN + 1])
{
    memcpy(out, s.p, KVS_ID_LEN);
    out[KVS_ID_LEN] = '\0';
}

/* ==== rows (lmdb_codec.c) =================================================================== */

/* The users row of user U: its length, and packing it into DST (of that length). */
size_t kvs_lmdb_user_row_len(const struct kvs_user *u);
void kvs_lmdb_pack_user(unsigned char *dst, const struct kvs_user *u);

/* Fill OUT from the users row of ID. Returns 0, KVS_ENOTFOUND, KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_load_user(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                      struct kvs_user *out);

/* A user ID stored as the value of an index (usernames, tokens) into OUT. */
KVS_MUST_CHECK int kvs_lmdb_id_value(MDB_val v, char out[KVS_ID_LEN + 1], const char *what);

/* Read the store_stats row of store ID. Returns 0, KVS_ENOTFOUND (no such store), KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_load_stats(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                       struct stats_row *out);
KVS_MUST_CHECK int kvs_lmdb_save_stats(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                       const struct stats_row *r);

/* Fill OUT with store ID: its stores row, its stats and its owner's username. The caller
 * releases OUT with kvs_store_clear() (also after an error). Returns 0, KVS_ENOTFOUND,
 * KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_load_store(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                       struct kvs_store *out);
/* Write the stores row of S (not its stats). */
KVS_MUST_CHECK int kvs_lmdb_save_store(MDB_txn *txn, const struct kvs_lmdb *db,
                                       const struct kvs_store *s);

/* Add the unnamed_by_access row of unnamed store ID accessed at MS. */
KVS_MUST_CHECK int kvs_lmdb_unnamed_put(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                        int64_t ms);
/* Store ID's accessed_ms changed from OLD_MS to NEW_MS: move its unnamed_by_access row, if it
 * has one (a named store has none, so a missing row means "named" and nothing is added). */
KVS_MUST_CHECK int kvs_lmdb_unnamed_touch(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                          int64_t old_ms, int64_t new_ms);

/* Parse a records value into OUT (which points into V): an inline value, or a reference to a
 * blob file (OUT->blob, BLOB_ID_LEN bytes). Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_parse_record(MDB_val v, struct kvs_record_view *out);

/* The length of REC's records value: RECORD_HDR_LEN + content type + the value's bytes, or
 * + RECORD_BLOB_TAIL for a record held in a blob file (REC->blob set). */
size_t kvs_lmdb_record_len(const struct kvs_record_view *rec);

/* Write the records value of REC (its value or its blob reference and size, content type,
 * encoding, version and modification time) into DST, of kvs_lmdb_record_len(REC) bytes. */
void kvs_lmdb_pack_record(unsigned char *dst, const struct kvs_record_view *rec);

/* Whether store ID was deleted and its records are not swept yet: 1, 0, or KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_store_dead(MDB_txn *txn, const struct kvs_lmdb *db, const char *id);

/* The level in a shares value V. Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_share_value(MDB_val v, enum kvs_share_level *out);

/* A WRITE share of store S went away (taken back, lowered to READ, or its user deleted), in
 * transaction TXN: its sharer has seen S's URL-signing secret, so S gets a new one (saved;
 * S is updated), and every link signed with the old one opens nothing from the commit on.
 * Returns 0 or an error. */
KVS_MUST_CHECK int kvs_lmdb_write_share_gone(struct kvs_lmdb *db, MDB_txn *txn,
                                             struct kvs_store *s);

/* A tokens row: its user ID into UID, and what limits the token into *GRANT (may be NULL).
 * Returns 0 or KVS_EIO (damaged). */
KVS_MUST_CHECK int kvs_lmdb_token_value(MDB_val v, char uid[KVS_ID_LEN + 1],
                                        struct kvs_token_grant *grant);

/* Put the tokens row of token HASH of user UID, limited by EXPIRES_MS and SCOPE. */
KVS_MUST_CHECK int kvs_lmdb_token_put(struct kvs_lmdb *db, MDB_txn *txn,
                                      const uint8_t hash[KVS_TOKEN_HASH_LEN], const char *uid,
                                      int64_t expires_ms, kvs_slice scope);

/* Write the two index rows of a token (HASH of user USER_ID, with PREFIX, made at NOW). */
KVS_MUST_CHECK int kvs_lmdb_token_meta_put(struct kvs_lmdb *db, MDB_txn *txn,
                                           const uint8_t hash[KVS_TOKEN_HASH_LEN],
                                           const char *user_id, const char *prefix, int64_t now);

/* ==== the ops (struct kvs_storage_ops, backend.h) =========================================== */

/* lmdb_read.c */
KVS_MUST_CHECK int kvs_lmdb_read_begin(struct kvs_storage *st, struct kvs_read **out);
void kvs_lmdb_read_end(struct kvs_read *rd);
uint64_t kvs_lmdb_meta_epoch(struct kvs_read *rd);
/* Release the ended reads kept for reuse (before the environment closes). */
void kvs_lmdb_read_spares_free(struct kvs_lmdb *db);
KVS_MUST_CHECK int kvs_lmdb_user_count(struct kvs_read *rd, uint64_t *out);
KVS_MUST_CHECK int kvs_lmdb_totals(struct kvs_read *rd, struct kvs_storage_totals *out);
KVS_MUST_CHECK int kvs_lmdb_user_get(struct kvs_read *rd, kvs_slice user_id, struct kvs_user *out);
KVS_MUST_CHECK int kvs_lmdb_user_by_token(struct kvs_read *rd,
                                          const uint8_t hash[KVS_TOKEN_HASH_LEN],
                                          struct kvs_user *out, struct kvs_token_grant *grant);
KVS_MUST_CHECK int kvs_lmdb_user_by_name(struct kvs_read *rd, kvs_slice username,
                                         struct kvs_user *out);
KVS_MUST_CHECK int kvs_lmdb_store_get(struct kvs_read *rd, kvs_slice id, struct kvs_store *out);
KVS_MUST_CHECK int kvs_lmdb_store_by_name(struct kvs_read *rd, kvs_slice user_id, kvs_slice name,
                                          struct kvs_store *out);
KVS_MUST_CHECK int kvs_lmdb_store_list(struct kvs_read *rd, kvs_slice user_id, uint64_t offset,
                                       uint64_t limit, int desc, int include_unnamed,
                                       kvs_store_cb cb, void *arg, uint64_t *total);
KVS_MUST_CHECK int kvs_lmdb_store_list_visible(struct kvs_read *rd, kvs_slice user_id,
                                               unsigned which, uint64_t offset, uint64_t limit,
                                               int desc, int include_unnamed, kvs_store_share_cb cb,
                                               void *arg, uint64_t *total);
KVS_MUST_CHECK int kvs_lmdb_user_list(struct kvs_read *rd, kvs_user_cb cb, void *arg);
KVS_MUST_CHECK int kvs_lmdb_token_list(struct kvs_read *rd, kvs_slice user_id, kvs_token_cb cb,
                                       void *arg);
KVS_MUST_CHECK int kvs_lmdb_share_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice user_id,
                                      enum kvs_share_level *out);
KVS_MUST_CHECK int kvs_lmdb_share_list(struct kvs_read *rd, kvs_slice store_id, kvs_share_cb cb,
                                       void *arg);
KVS_MUST_CHECK int kvs_lmdb_record_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice key,
                                       struct kvs_record_view *out);
KVS_MUST_CHECK int kvs_lmdb_keys_list(struct kvs_read *rd, kvs_slice store_id, kvs_slice prefix,
                                      kvs_slice start_after, uint64_t limit, unsigned flags,
                                      kvs_key_cb cb, void *arg, int *truncated);

/* lmdb_apply.c */
/* Note that this process committed write transaction TXNID, which changed users, tokens,
 * stores or shares when META is set (see "Meta epoch"). On the writer thread, or while it
 * does not run yet (opening: TXNID is then the environment's last commit, META 1). */
void kvs_lmdb_committed(struct kvs_lmdb *db, uint64_t txnid, int meta);
/* Begin a write transaction that ends with kvs_lmdb_commit() or kvs_lmdb_write_abort() (the
 * write-ahead log takes part in both). Returns 0 or a KVS_E code. */
KVS_MUST_CHECK int kvs_lmdb_write_begin(struct kvs_lmdb *db, MDB_txn **txn);
void kvs_lmdb_write_abort(struct kvs_lmdb *db, MDB_txn *txn);
/* Commit write transaction TXN (which ends, as with mdb_txn_commit) and note it with META
 * (kvs_lmdb_committed). Durable when it returns 0: through the write-ahead log (the owner) or
 * a synced commit. LMDB ends a transaction that changed nothing without a commit and
 * without using its number, which another process's commit may then take: noting it would
 * hide that commit. So unless the caller knows that TXN CHANGED the data, it first writes
 * meta's "commit" row. On the writer thread. Returns 0, LMDB's (or an errno) code, or
 * KVS_WAL_AGAIN: the log had no room, TXN was aborted, and the caller should make the same
 * changes again in a new transaction. */
KVS_MUST_CHECK int kvs_lmdb_commit(struct kvs_lmdb *db, MDB_txn *txn, int meta, int changed);
KVS_MUST_CHECK int kvs_lmdb_apply(struct kvs_storage *st, struct kvs_write **ws, size_t n,
                                  const struct kvs_stat_delta *deltas, size_t nd);
/* KVS_W_STORE_DELETE of W->store_id within TXN at NOW (retention deletes this way too). */
KVS_MUST_CHECK int kvs_lmdb_store_delete(struct kvs_lmdb *db, MDB_txn *txn,
                                         const struct kvs_write *w, int64_t now);

/* lmdb_runs.c: the reads of runs, and the parts of the writes of lmdb_apply.c that touch runs */
KVS_MUST_CHECK int kvs_lmdb_run_get(struct kvs_read *rd, kvs_slice id, struct kvs_run *out);
KVS_MUST_CHECK int kvs_lmdb_run_by_store(struct kvs_read *rd, kvs_slice store_id,
                                         struct kvs_run *out);
KVS_MUST_CHECK int kvs_lmdb_run_list(struct kvs_read *rd, unsigned by, kvs_slice owner,
                                     unsigned statuses, uint64_t offset, uint64_t limit, int desc,
                                     kvs_run_cb cb, void *arg, uint64_t *total);
/* Write the row and the index rows of new run R (every field set, its store made already). */
KVS_MUST_CHECK int kvs_lmdb_run_put_new(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_run *r);
/* KVS_W_RUN_UPDATE of W at NOW: the updated run into OUT (the caller's, cleared first; released
 * by the caller also after an error). */
KVS_MUST_CHECK int kvs_lmdb_run_update(struct kvs_lmdb *db, MDB_txn *txn,
                                       const struct kvs_write *w, int64_t now,
                                       struct kvs_run *out);
/* Store STORE_ID is being deleted: delete the run it is the default store of, if any. */
KVS_MUST_CHECK int kvs_lmdb_run_drop_of_store(struct kvs_lmdb *db, MDB_txn *txn,
                                              const char *store_id);
/* lmdb_blob.c: blob files (see "Large values" above) */
struct kvs_lmdb_upload {
    struct kvs_upload super;
    int fd;
    unsigned char id[BLOB_ID_LEN];
    uint64_t reserved; /* bytes set aside with fallocate */
    uint64_t flushed;  /* bytes handed to writeback already (sync_file_range) */
};
/* Open DIR/blobs (creating it and its 256 subdirectories), take its shared lock, and, when no
 * other process has the storage open, remove every blob file no row references (left by a
 * crash mid-upload or between a commit and its removals). Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_blobs_open(struct kvs_lmdb *db);
void kvs_lmdb_blobs_close(struct kvs_lmdb *db);
KVS_MUST_CHECK int kvs_lmdb_upload_begin(struct kvs_storage *st, uint64_t size,
                                         struct kvs_upload **out);
KVS_MUST_CHECK int kvs_lmdb_upload_append(struct kvs_upload *u, const void *p, size_t n);
KVS_MUST_CHECK int kvs_lmdb_upload_sync(struct kvs_upload *u);
void kvs_lmdb_upload_keep(struct kvs_upload *u);
void kvs_lmdb_upload_abort(struct kvs_upload *u);
KVS_MUST_CHECK int kvs_lmdb_blob_open(struct kvs_read *rd, const struct kvs_record_view *rec,
                                      int *fd);
/* kvs_storage_check(): records against their blobs rows and files, and back. */
KVS_MUST_CHECK int kvs_lmdb_check(struct kvs_storage *st, struct kvs_check_report *out,
                                  void (*problem)(void *arg, const char *text), void *arg);
/* Give OUT_DIR, which holds a copy of the environment (kvs_lmdb_backup), the blob files its
 * blobs table names: hard links where it can, copies where not, synced. Returns 0,
 * KVS_ESTALE (a file was removed since the copy's snapshot: copy again), KVS_ENOSPACE, KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_blobs_backup(struct kvs_lmdb *db, const char *out_dir);
/* Remove the file of blob ID: its row was deleted by a transaction that committed. */
void kvs_lmdb_blob_remove(struct kvs_lmdb *db, const unsigned char id[BLOB_ID_LEN]);
uint64_t kvs_lmdb_inline_max(const struct kvs_storage *st);
/* Add the blobs row of blob ID of SIZE bytes, held by record KEY of STORE_ID; delete it. */
KVS_MUST_CHECK int kvs_lmdb_blob_row_put(struct kvs_lmdb *db, MDB_txn *txn,
                                         const unsigned char id[BLOB_ID_LEN], uint64_t size,
                                         const char *store_id, kvs_slice key);
KVS_MUST_CHECK int kvs_lmdb_blob_row_del(struct kvs_lmdb *db, MDB_txn *txn, kvs_slice id);

/* lmdb_maint.c */
KVS_MUST_CHECK int kvs_lmdb_maintain(struct kvs_storage *st);
KVS_MUST_CHECK int kvs_lmdb_backup(struct kvs_storage *st, const char *out_dir);
KVS_MUST_CHECK int kvs_lmdb_disk_bytes(struct kvs_storage *st, uint64_t *out);

#endif
