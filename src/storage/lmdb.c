/* lmdb.c — the LMDB back-end of the storage interface (storage.h, backend.h).
 *
 * One LMDB environment in the data directory holds everything. Writes come only from the
 * writer thread of storage.c (one write transaction per batch); reads are LMDB read
 * transactions, opened with MDB_NOTLS so that a read may end on another thread than the one
 * that began it.
 *
 * ---- Durability ----------------------------------------------------------------------------
 *
 * Commits use LMDB's default sync (fdatasync() of the data pages, then the meta page through
 * an O_DSYNC descriptor), so a commit that returned is on disk and its writes may be
 * acknowledged. The data file is kept ahead of use with zeros (prealloc.h, grow_ahead()):
 * commits of a growing store then overwrite blocks the file has, instead of extending it, which
 * costs a journal commit per fdatasync. Measured: a C model of the commit (4 pages, fdatasync,
 * meta write) ran 2,553 commits/s extending the file vs 4,050/s into preallocated blocks;
 * durable PUT at 64 connections in make bench's set-up, 4 interleaved runs each, 31,313 vs
 * 35,638 req/s on average.
 * Tried and left: MDB_NOMETASYNC, acknowledging a batch once the next commit's fdatasync
 * had made its meta page durable (one flush per commit instead of two). It was 2-5 % faster at 1
 * and 16 connections but 5 % slower than the above at 64: a write then waits for the next
 * batch too, and with a fixed number of clients the latency sets the rate.
 *
 * ---- Schema, version 3 ---------------------------------------------------------------------
 *
 * Integers are little-endian and fixed-width unless said otherwise; strings are raw bytes
 * with an explicit length, never NUL-terminated. Every value that may change shape starts
 * with a format byte (1 today), so a later format can be told apart. A value that is too
 * short, too long, or of an unknown format is reported as KVS_EIO; nothing is read past its
 * end. IDs are the 17 ASCII characters of the ID. "+" is concatenation.
 *
 *   meta           "schema_version"                  → u32 SCHEMA_VERSION
 *                  Checked at open. Version 1 (no token prefixes, no shares) is upgraded in
 *                  place (see migrate_v1: its tokens get index rows with an unknown prefix,
 *                  revocable by the whole token only), and so is version 2 (no
 *                  unnamed_by_access; migrate_v2 builds it); any other version is refused
 *                  (KVS_EIO, logged), and so is data without a version.
 *   users          user id                           → u8 format, u8 is_admin,
 *                                                      u8 default_access, i64 created_ms,
 *                                                      u8 len + username
 *   usernames      username                          → user id
 *   tokens         SHA-256 of the token (32 bytes)   → user id
 *                  What every request looks up, so it stays the bare user ID; what else is
 *                  known of a token is in the two indexes below, written with it.
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
 *   store_stats    store id                          → u8 format, i64 modified_ms,
 *                                                      i64 accessed_ms, u64 read_count,
 *                                                      write_count, delete_count,
 *                                                      list_count, record_count, storage_bytes
 *                  Kept apart from `stores` because every record write rewrites it: 65 bytes
 *                  instead of a row that may carry a 64 KiB schema. A store exists exactly
 *                  when both rows exist.
 *   store_names    user id + name                    → store id        (named stores only)
 *   store_by_user  user id + u64 BIG-endian (created_ms with the sign bit flipped) + store id
 *                                                    → u8 flags (1 = named)
 *                  Big-endian so that byte order is creation order: a cursor walks one
 *                  user's stores oldest first (MDB_NEXT) or newest first (MDB_PREV).
 *   records        store id + key                    → u8 format, u8 encoding,
 *                                                      u8 content-type len, content type,
 *                                                      value bytes (the rest)
 *                  All records of a store are adjacent and in key byte order, so a page of
 *                  keys is one MDB_SET_RANGE and LIMIT steps: O(limit + log n).
 *   shares         store id + user id                → u8 format, u8 level (1 READ, 2 WRITE)
 *                  Who a store is shared with. Deleting the store deletes these rows and
 *                  their shared_with twins in the same transaction.
 *   shared_with    user id + u64 BIG-endian (the store's created_ms, sign bit flipped) +
 *                  store id                          → u8 format, u8 level, u8 flags (1 = named)
 *                  The stores shared with a user, keyed like store_by_user, so that a user's
 *                  own and shared stores list as one merge of two cursors in creation order
 *                  (lmdb_store_list_visible) and never as a scan of all stores. The named
 *                  flag is rewritten when a rename makes a store named or unnamed.
 *   dead_stores    store id                          → i64 deleted_ms
 *                  Deleted stores whose records are still to be swept. Readers treat the
 *                  records of a dead store as absent; lmdb_maintain() deletes them in
 *                  transactions of at most SWEEP_MAX records, so that deleting a store of
 *                  any size never makes one huge transaction (MDB_TXN_FULL, or a long stall
 *                  of the writes queued behind it).
 *   unnamed_by_access  u64 BIG-endian (accessed_ms, sign bit flipped) + store id → u8 format
 *                  (version 3) Every unnamed store, oldest access first: what retention
 *                  (--unnamed-retention) expires. A row exists exactly when the store exists
 *                  and is unnamed, and its time is the store's stored accessed_ms: every
 *                  change of accessed_ms (record writes, store updates, the flush of the
 *                  in-memory read statistics) moves the row in the same transaction (one
 *                  delete and one put, unnamed_touch), a rename moves the store in or out,
 *                  and a delete removes it. So finding the expired stores is a walk from the
 *                  first row that stops at the first one not expired: O(expired), never a
 *                  scan of all stores (expire_step).
 *
 * ---- Large values ---------------------------------------------------------------------------
 *
 * Records of up to 10 MiB live in the B-tree as LMDB overflow pages (contiguous page runs).
 * Freed runs are reused only when a run of the needed length is free, so churn of large values
 * fragments the file. Measured with bench/lmdb_frag.c (64 live records of 64 KiB..10 MiB, each
 * round overwriting a random one with a new random size; ~20 GB written in 4,000 rounds): the
 * file grows to about 1.5× the live bytes within the first few hundred rounds and then stays
 * there (330 MiB live, 492-512 MiB file). Bounded, so values stay in the B-tree: one
 * transaction keeps a record and its metadata atomic, and there is no second place to sync.
 *
 * ---- Errors --------------------------------------------------------------------------------
 *
 * LMDB's codes stop here: MDB_MAP_FULL, ENOSPC and EDQUOT become KVS_ENOSPACE, MDB_NOTFOUND
 * becomes KVS_ENOTFOUND where "missing" is an answer, anything else KVS_EIO, logged with
 * mdb_strerror() (see lmdb_err()). One exception, at commit: LMDB 0.9 reports a pwrite that
 * wrote fewer bytes than asked as EIO, and a short write is how a file system that has room
 * for only part of the pages fails (tmpfs always, ext4 often). So an EIO from a commit while
 * the file system has less room left than the batch needs is KVS_ENOSPACE (commit_err()).
 * Tested on a real full file system by tests/crash/full-disk.test.mjs.
 *
 * The behaviour common to all back-ends is checked by tests/unit/storage/conformance.c; what
 * is particular to this one (schema version, corrupt values, the sweep in bounded steps, a
 * 200,000-key store paged by cursor, a full map) by tests/unit/storage/test_lmdb.c.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/random.h"
#include "kvs.h"
#include "storage/backend.h"
#include "storage/prealloc.h"

#define SCHEMA_VERSION 3u
#define FORMAT 1u                     /* the format byte of every value written today */
#define DEFAULT_MAP_SIZE (1ull << 40) /* 1 TiB of address space; the file grows as used */
#define DEFAULT_MAX_READERS 1024u
#define SWEEP_MAX 5000 /* record deletions per maintenance transaction */
#define ID_RETRIES 8   /* fresh IDs to try before calling it a failure */
#define EXPIRE_MAX 256 /* unnamed_by_access rows looked at per retention step */

#define COMMIT_SLACK (1u << 20) /* pages a commit writes besides the values (commit_err) */

#define STORE_BY_USER_KEY_LEN (KVS_ID_LEN + 8 + KVS_ID_LEN) /* also the shared_with key */
#define TOKEN_PREFIX_KEY_LEN (KVS_TOKEN_PREFIX_MAX + KVS_TOKEN_HASH_LEN)
#define USER_TOKEN_KEY_LEN (KVS_ID_LEN + 8 + KVS_TOKEN_HASH_LEN)
#define SHARE_KEY_LEN (2 * KVS_ID_LEN)
#define ACCESS_KEY_LEN (8 + KVS_ID_LEN) /* unnamed_by_access */
#define STATS_ROW_LEN (1 + 8 + 8 + 6 * 8)
#define RECORD_HDR_LEN 3

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
    DBI_COUNT
};

static const char *const dbi_names[DBI_COUNT] = {
    [DBI_META] = "meta",
    [DBI_USERS] = "users",
    [DBI_USERNAMES] = "usernames",
    [DBI_TOKENS] = "tokens",
    [DBI_STORES] = "stores",
    [DBI_STORE_STATS] = "store_stats",
    [DBI_STORE_NAMES] = "store_names",
    [DBI_STORE_BY_USER] = "store_by_user",
    [DBI_RECORDS] = "records",
    [DBI_DEAD_STORES] = "dead_stores",
    [DBI_TOKEN_PREFIXES] = "token_prefixes",
    [DBI_USER_TOKENS] = "user_tokens",
    [DBI_SHARES] = "shares",
    [DBI_SHARED_WITH] = "shared_with",
    [DBI_UNNAMED_BY_ACCESS] = "unnamed_by_access",
};

struct kvs_lmdb {
    struct kvs_storage super;
    MDB_env *env;
    MDB_dbi dbi[DBI_COUNT];
    int64_t retention_ms; /* unnamed stores unaccessed this long are deleted; 0 = never */
    unsigned page_size;
    struct kvs_prealloc prealloc; /* writer thread only */
};

struct kvs_lmdb_read {
    struct kvs_read super;
    MDB_txn *txn;
};

static struct kvs_lmdb *lmdb_of(struct kvs_storage *st)
{
    return (struct kvs_lmdb *)st;
}

static struct kvs_lmdb_read *read_of(struct kvs_read *rd)
{
    return (struct kvs_lmdb_read *)rd;
}

/* The mutable parts of a store, kept in store_stats. */
struct stats_row {
    int64_t modified_ms;
    int64_t accessed_ms;
    struct kvs_store_stats s;
};

/* ==== errors ================================================================================ */

/* Translate an LMDB or errno code RC (not MDB_NOTFOUND) from WHAT into a KVS_E... code. */
static KVS_MUST_CHECK int lmdb_err(int rc, const char *what)
{
    if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT) {
        kvs_log_warn("lmdb: %s: %s", what, mdb_strerror(rc));
        return KVS_ENOSPACE;
    }
    kvs_log_error("lmdb: %s: %s", what, mdb_strerror(rc));
    return KVS_EIO;
}

/* Translate RC from committing a transaction that wrote about NEED bytes of values. An EIO
 * with less than NEED + COMMIT_SLACK bytes free on the data file's file system is the short
 * write of a full disk (see "Errors" above): KVS_ENOSPACE. Otherwise as lmdb_err(). */
static KVS_MUST_CHECK int commit_err(struct kvs_lmdb *db, int rc, uint64_t need, const char *what)
{
    mdb_filehandle_t fd;
    struct statvfs sv;
    if (rc == EIO && mdb_env_get_fd(db->env, &fd) == 0 && fstatvfs(fd, &sv) == 0 &&
        (uint64_t)sv.f_bavail * sv.f_frsize < need + COMMIT_SLACK) {
        kvs_log_warn("lmdb: %s: short write, the file system is full (%llu bytes free)", what,
                     (unsigned long long)sv.f_bavail * sv.f_frsize);
        return KVS_ENOSPACE;
    }
    return lmdb_err(rc, what);
}

static KVS_MUST_CHECK int corrupt(const char *what)
{
    kvs_log_error("lmdb: corrupt %s value", what);
    return KVS_EIO;
}

static MDB_val val_of(const void *p, size_t n)
{
    return (MDB_val){.mv_size = n, .mv_data = (void *)p};
}

/* Look up K in DBI. Returns 0 (V points into the map), KVS_ENOTFOUND, or the mapped error. */
static KVS_MUST_CHECK int db_get(MDB_txn *txn, MDB_dbi dbi, MDB_val k, MDB_val *v, const char *what)
{
    int rc = mdb_get(txn, dbi, &k, v);
    if (rc == MDB_NOTFOUND)
        return KVS_ENOTFOUND;
    return rc == 0 ? 0 : lmdb_err(rc, what);
}

/* Whether K exists in DBI: 1, 0, or the mapped error. */
static KVS_MUST_CHECK int db_has(MDB_txn *txn, MDB_dbi dbi, MDB_val k, const char *what)
{
    MDB_val v;
    int rc = db_get(txn, dbi, k, &v, what);
    if (rc == KVS_ENOTFOUND)
        return 0;
    return rc == 0 ? 1 : rc;
}

static KVS_MUST_CHECK int db_put(MDB_txn *txn, MDB_dbi dbi, MDB_val k, MDB_val v, const char *what)
{
    int rc = mdb_put(txn, dbi, &k, &v, 0);
    return rc == 0 ? 0 : lmdb_err(rc, what);
}

/* Reserve N bytes for the value of K and return where to write them (in *OUT). */
static KVS_MUST_CHECK int db_reserve(MDB_txn *txn, MDB_dbi dbi, MDB_val k, size_t n,
                                     unsigned char **out, const char *what)
{
    MDB_val v = {.mv_size = n, .mv_data = NULL};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return lmdb_err(rc, what);
    *out = v.mv_data;
    return 0;
}

/* Delete K from DBI; a missing K is not an error. */
static KVS_MUST_CHECK int db_del(MDB_txn *txn, MDB_dbi dbi, MDB_val k, const char *what)
{
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_err(rc, what);
}

/* ==== packing =============================================================================== */

/* Reading a stored value: every getter checks the remaining length, and after the first
 * shortfall all getters return zeros and `bad` stays set. */
struct unpacker {
    const unsigned char *p;
    size_t n;
    int bad;
};

static struct unpacker unpacker_of(MDB_val v)
{
    return (struct unpacker){.p = v.mv_data, .n = v.mv_size, .bad = 0};
}

static const unsigned char *take(struct unpacker *u, size_t n)
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

static unsigned get_u8(struct unpacker *u)
{
    const unsigned char *p = take(u, 1);
    return p ? p[0] : 0;
}

/* memcpy + le*toh compile to one load (the byte loop did not: it ran on every stats read). */
static uint32_t get_u32(struct unpacker *u)
{
    const unsigned char *p = take(u, 4);
    uint32_t x = 0;
    if (p)
        memcpy(&x, p, 4);
    return le32toh(x);
}

static uint64_t get_u64(struct unpacker *u)
{
    const unsigned char *p = take(u, 8);
    uint64_t x = 0;
    if (p)
        memcpy(&x, p, 8);
    return le64toh(x);
}

/* Copy a string of N bytes into OUT (of CAP bytes, NUL included). */
static void get_str(struct unpacker *u, size_t n, char *out, size_t cap)
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
static KVS_MUST_CHECK int unpacked(const struct unpacker *u)
{
    return !u->bad && u->n == 0;
}

struct packer {
    unsigned char *p;
};

static void put_u8(struct packer *w, unsigned x)
{
    *w->p++ = (unsigned char)x;
}

static void put_u32(struct packer *w, uint32_t x)
{
    for (int i = 0; i < 4; i++, x >>= 8)
        *w->p++ = (unsigned char)x;
}

static void put_u64(struct packer *w, uint64_t x)
{
    for (int i = 0; i < 8; i++, x >>= 8)
        *w->p++ = (unsigned char)x;
}

static void put_bytes(struct packer *w, const void *p, size_t n)
{
    if (n > 0)
        memcpy(w->p, p, n);
    w->p += n;
}

/* ---- users ---- */

static size_t user_row_len(const struct kvs_user *u)
{
    return 1 + 1 + 1 + 8 + 1 + strlen(u->username);
}

static void pack_user(unsigned char *dst, const struct kvs_user *u)
{
    struct packer w = {dst};
    size_t n = strlen(u->username);
    put_u8(&w, FORMAT);
    put_u8(&w, u->is_admin);
    put_u8(&w, u->default_access);
    put_u64(&w, (uint64_t)u->created_ms);
    put_u8(&w, (unsigned)n);
    put_bytes(&w, u->username, n);
}

/* Fill OUT from the users row of ID. Returns 0, KVS_ENOTFOUND, KVS_EIO. */
static KVS_MUST_CHECK int load_user(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                    struct kvs_user *out)
{
    MDB_val v;
    int rc = db_get(txn, db->dbi[DBI_USERS], val_of(id, KVS_ID_LEN), &v, "get user");
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof *out);
    struct unpacker u = unpacker_of(v);
    unsigned format = get_u8(&u);
    out->is_admin = (uint8_t)get_u8(&u);
    out->default_access = (uint8_t)get_u8(&u);
    out->created_ms = (int64_t)get_u64(&u);
    get_str(&u, get_u8(&u), out->username, sizeof out->username);
    if (format != FORMAT || !unpacked(&u))
        return corrupt("user");
    memcpy(out->id, id, KVS_ID_LEN);
    out->id[KVS_ID_LEN] = '\0';
    return 0;
}

/* A user ID stored as the value of an index (usernames, tokens) into OUT. */
static KVS_MUST_CHECK int id_value(MDB_val v, char out[KVS_ID_LEN + 1], const char *what)
{
    if (v.mv_size != KVS_ID_LEN)
        return corrupt(what);
    memcpy(out, v.mv_data, KVS_ID_LEN);
    out[KVS_ID_LEN] = '\0';
    return 0;
}

/* ---- stores ---- */

static size_t store_row_len(const struct kvs_store *s)
{
    size_t n =
        1 + 1 + 8 + KVS_ID_LEN + KVS_SECRET_LEN + 1 + strlen(s->name) + 1 + strlen(s->title) + 1;
    if (s->schema != NULL)
        n += 4 + strlen(s->schema);
    return n;
}

static void pack_store(unsigned char *dst, const struct kvs_store *s)
{
    struct packer w = {dst};
    size_t name_n = strlen(s->name), title_n = strlen(s->title);
    put_u8(&w, FORMAT);
    put_u8(&w, s->general_access);
    put_u64(&w, (uint64_t)s->created_ms);
    put_bytes(&w, s->user_id, KVS_ID_LEN);
    put_bytes(&w, s->secret, KVS_SECRET_LEN);
    put_u8(&w, (unsigned)name_n);
    put_bytes(&w, s->name, name_n);
    put_u8(&w, (unsigned)title_n);
    put_bytes(&w, s->title, title_n);
    put_u8(&w, s->schema != NULL);
    if (s->schema != NULL) {
        size_t schema_n = strlen(s->schema);
        put_u32(&w, (uint32_t)schema_n);
        put_bytes(&w, s->schema, schema_n);
    }
}

static void pack_stats(unsigned char *dst, const struct stats_row *r)
{
    struct packer w = {dst};
    put_u8(&w, FORMAT);
    put_u64(&w, (uint64_t)r->modified_ms);
    put_u64(&w, (uint64_t)r->accessed_ms);
    put_u64(&w, r->s.read_count);
    put_u64(&w, r->s.write_count);
    put_u64(&w, r->s.delete_count);
    put_u64(&w, r->s.list_count);
    put_u64(&w, r->s.record_count);
    put_u64(&w, r->s.storage_bytes);
}

/* Read the store_stats row of store ID. Returns 0, KVS_ENOTFOUND (no such store), KVS_EIO. */
static KVS_MUST_CHECK int load_stats(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                     struct stats_row *out)
{
    MDB_val v;
    int rc = db_get(txn, db->dbi[DBI_STORE_STATS], val_of(id, KVS_ID_LEN), &v, "get stats");
    if (rc != 0)
        return rc;
    struct unpacker u = unpacker_of(v);
    unsigned format = get_u8(&u);
    out->modified_ms = (int64_t)get_u64(&u);
    out->accessed_ms = (int64_t)get_u64(&u);
    out->s.read_count = get_u64(&u);
    out->s.write_count = get_u64(&u);
    out->s.delete_count = get_u64(&u);
    out->s.list_count = get_u64(&u);
    out->s.record_count = get_u64(&u);
    out->s.storage_bytes = get_u64(&u);
    if (format != FORMAT || !unpacked(&u))
        return corrupt("store stats");
    return 0;
}

static KVS_MUST_CHECK int save_stats(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                     const struct stats_row *r)
{
    unsigned char *dst = NULL;
    int rc = db_reserve(txn, db->dbi[DBI_STORE_STATS], val_of(id, KVS_ID_LEN), STATS_ROW_LEN, &dst,
                        "put stats");
    if (rc == 0)
        pack_stats(dst, r);
    return rc;
}

/* Fill OUT with store ID: its stores row, its stats and its owner's username. The caller
 * releases OUT with kvs_store_clear() (also after an error). Returns 0, KVS_ENOTFOUND,
 * KVS_EIO. */
static KVS_MUST_CHECK int load_store(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                     struct kvs_store *out)
{
    memset(out, 0, sizeof *out);
    MDB_val v;
    int rc = db_get(txn, db->dbi[DBI_STORES], val_of(id, KVS_ID_LEN), &v, "get store");
    if (rc != 0)
        return rc;
    struct unpacker u = unpacker_of(v);
    unsigned format = get_u8(&u);
    out->general_access = (uint8_t)get_u8(&u);
    out->created_ms = (int64_t)get_u64(&u);
    get_str(&u, KVS_ID_LEN, out->user_id, sizeof out->user_id);
    get_str(&u, KVS_SECRET_LEN, out->secret, sizeof out->secret);
    get_str(&u, get_u8(&u), out->name, sizeof out->name);
    get_str(&u, get_u8(&u), out->title, sizeof out->title);
    unsigned has_schema = get_u8(&u);
    if (has_schema > 1)
        u.bad = 1;
    if (has_schema == 1) {
        uint32_t n = get_u32(&u);
        const unsigned char *p = n <= KVS_SCHEMA_MAX ? take(&u, n) : NULL;
        if (p == NULL)
            u.bad = 1;
        else
            out->schema = kvs_xstrndup((const char *)p, n);
    }
    if (format != FORMAT || !unpacked(&u))
        return corrupt("store");
    memcpy(out->id, id, KVS_ID_LEN);
    out->id[KVS_ID_LEN] = '\0';

    struct stats_row sr;
    rc = load_stats(txn, db, id, &sr);
    if (rc == KVS_ENOTFOUND)
        return corrupt("store (no stats)");
    if (rc != 0)
        return rc;
    out->modified_ms = sr.modified_ms;
    out->accessed_ms = sr.accessed_ms;
    out->stats = sr.s;

    struct kvs_user owner;
    rc = load_user(txn, db, out->user_id, &owner);
    if (rc == KVS_ENOTFOUND)
        return corrupt("store (owner missing)");
    if (rc != 0)
        return rc;
    memcpy(out->username, owner.username, sizeof out->username);
    return 0;
}

static KVS_MUST_CHECK int save_store(MDB_txn *txn, const struct kvs_lmdb *db,
                                     const struct kvs_store *s)
{
    size_t n = store_row_len(s);
    unsigned char *dst = NULL;
    int rc = db_reserve(txn, db->dbi[DBI_STORES], val_of(s->id, KVS_ID_LEN), n, &dst, "put store");
    if (rc == 0)
        pack_store(dst, s);
    return rc;
}

/* KEY[KVS_ID_LEN + NAME] for store_names. Returns the key length. */
static size_t name_key(unsigned char *key, const char *user_id, const char *name)
{
    size_t n = strlen(name);
    memcpy(key, user_id, KVS_ID_LEN);
    memcpy(key + KVS_ID_LEN, name, n);
    return KVS_ID_LEN + n;
}

/* A time as 8 bytes whose byte order is the time order, for keys. */
static void put_time_key(unsigned char *p, int64_t ms)
{
    /* Flipping the sign bit makes the unsigned big-endian order the signed order. */
    uint64_t t = (uint64_t)ms ^ (1ull << 63);
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(t >> (56 - 8 * i));
}

static int64_t get_time_key(const unsigned char *p)
{
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | p[i];
    return (int64_t)(t ^ (1ull << 63));
}

/* The store_by_user key of store S. */
static void by_user_key(unsigned char key[STORE_BY_USER_KEY_LEN], const struct kvs_store *s)
{
    memcpy(key, s->user_id, KVS_ID_LEN);
    put_time_key(key + KVS_ID_LEN, s->created_ms);
    memcpy(key + KVS_ID_LEN + 8, s->id, KVS_ID_LEN);
}

/* The shared_with key of store S shared with user USER_ID. */
static void shared_with_key(unsigned char key[STORE_BY_USER_KEY_LEN], const char *user_id,
                            const struct kvs_store *s)
{
    memcpy(key, user_id, KVS_ID_LEN);
    put_time_key(key + KVS_ID_LEN, s->created_ms);
    memcpy(key + KVS_ID_LEN + 8, s->id, KVS_ID_LEN);
}

/* The unnamed_by_access key of store ID accessed at MS. */
static MDB_val access_key(unsigned char key[ACCESS_KEY_LEN], int64_t ms, const char *id)
{
    put_time_key(key, ms);
    memcpy(key + 8, id, KVS_ID_LEN);
    return val_of(key, ACCESS_KEY_LEN);
}

/* Add the unnamed_by_access row of unnamed store ID accessed at MS. */
static KVS_MUST_CHECK int unnamed_put(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                      int64_t ms)
{
    unsigned char key[ACCESS_KEY_LEN], fmt = FORMAT;
    return db_put(txn, db->dbi[DBI_UNNAMED_BY_ACCESS], access_key(key, ms, id), val_of(&fmt, 1),
                  "put unnamed_by_access");
}

/* Store ID's accessed_ms changed from OLD_MS to NEW_MS: move its unnamed_by_access row, if it
 * has one (a named store has none, so a missing row means "named" and nothing is added). */
static KVS_MUST_CHECK int unnamed_touch(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                        int64_t old_ms, int64_t new_ms)
{
    if (old_ms == new_ms)
        return 0;
    unsigned char key[ACCESS_KEY_LEN];
    MDB_val k = access_key(key, old_ms, id);
    int rc = mdb_del(txn, db->dbi[DBI_UNNAMED_BY_ACCESS], &k, NULL);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return lmdb_err(rc, "del unnamed_by_access");
    return unnamed_put(txn, db, id, new_ms);
}

/* The shares key of (STORE_ID, USER_ID). */
static MDB_val share_key(unsigned char key[SHARE_KEY_LEN], const char *store_id,
                         const char *user_id)
{
    memcpy(key, store_id, KVS_ID_LEN);
    memcpy(key + KVS_ID_LEN, user_id, KVS_ID_LEN);
    return val_of(key, SHARE_KEY_LEN);
}

/* ---- tokens ---- */

/* The token_prefixes key of a token with PREFIX and HASH. */
static MDB_val token_prefix_key(unsigned char key[TOKEN_PREFIX_KEY_LEN], const char *prefix,
                                const uint8_t hash[KVS_TOKEN_HASH_LEN])
{
    memset(key, 0, KVS_TOKEN_PREFIX_MAX);
    memcpy(key, prefix, strnlen(prefix, KVS_TOKEN_PREFIX_MAX));
    memcpy(key + KVS_TOKEN_PREFIX_MAX, hash, KVS_TOKEN_HASH_LEN);
    return val_of(key, TOKEN_PREFIX_KEY_LEN);
}

/* The user_tokens key of a token of USER_ID created at CREATED_MS with HASH. */
static MDB_val user_token_key(unsigned char key[USER_TOKEN_KEY_LEN], const char *user_id,
                              int64_t created_ms, const uint8_t hash[KVS_TOKEN_HASH_LEN])
{
    memcpy(key, user_id, KVS_ID_LEN);
    put_time_key(key + KVS_ID_LEN, created_ms);
    memcpy(key + KVS_ID_LEN + 8, hash, KVS_TOKEN_HASH_LEN);
    return val_of(key, USER_TOKEN_KEY_LEN);
}

/* ---- records ---- */

/* Parse a records value into OUT. Returns 0 or KVS_EIO. */
static KVS_MUST_CHECK int parse_record(MDB_val v, struct kvs_record_view *out)
{
    const unsigned char *p = v.mv_data;
    if (v.mv_size < RECORD_HDR_LEN || p[0] != FORMAT || p[1] > KVS_ENC_BR ||
        v.mv_size - RECORD_HDR_LEN < p[2])
        return corrupt("record");
    size_t ct = p[2];
    out->encoding = (enum kvs_encoding)p[1];
    out->content_type = (kvs_slice){(const char *)p + RECORD_HDR_LEN, ct};
    out->value =
        (kvs_slice){(const char *)p + RECORD_HDR_LEN + ct, v.mv_size - RECORD_HDR_LEN - ct};
    return 0;
}

/* The records key of (STORE_ID, KEY) into BUF[KVS_ID_LEN + KVS_KEY_MAX]. */
static MDB_val record_key(unsigned char *buf, const char *store_id, kvs_slice key)
{
    memcpy(buf, store_id, KVS_ID_LEN);
    memcpy(buf + KVS_ID_LEN, key.p, key.n);
    return val_of(buf, KVS_ID_LEN + key.n);
}

/* Whether store ID was deleted and its records are not swept yet: 1, 0, or KVS_EIO. */
static KVS_MUST_CHECK int store_dead(MDB_txn *txn, const struct kvs_lmdb *db, const char *id)
{
    return db_has(txn, db->dbi[DBI_DEAD_STORES], val_of(id, KVS_ID_LEN), "get dead store");
}

/* Copy slice S (an ID of the right length) into a NUL-terminated ID. */
static void id_of(kvs_slice s, char out[KVS_ID_LEN + 1])
{
    memcpy(out, s.p, KVS_ID_LEN);
    out[KVS_ID_LEN] = '\0';
}

/* Byte order of slices, shorter first on a common prefix (LMDB's default key order). */
static int slice_cmp(kvs_slice a, kvs_slice b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c != 0)
        return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

/* ==== reads ================================================================================= */

static KVS_MUST_CHECK int lmdb_read_begin(struct kvs_storage *st, struct kvs_read **out)
{
    struct kvs_lmdb *db = lmdb_of(st);
    struct kvs_lmdb_read *r = kvs_xcalloc(1, sizeof *r);
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &r->txn);
    if (rc != 0) {
        free(r);
        return lmdb_err(rc, "begin read"); /* MDB_READERS_FULL included: KVS_EIO */
    }
    r->super.st = st;
    *out = &r->super;
    return 0;
}

static void lmdb_read_end(struct kvs_read *rd)
{
    struct kvs_lmdb_read *r = read_of(rd);
    mdb_txn_abort(r->txn);
    free(r);
}

/* The number of entries of DBI (kept in the tree's root by LMDB, so constant time). */
static KVS_MUST_CHECK int entries(struct kvs_read *rd, int dbi, uint64_t *out)
{
    MDB_stat ms;
    int rc = mdb_stat(read_of(rd)->txn, lmdb_of(rd->st)->dbi[dbi], &ms);
    if (rc != 0)
        return lmdb_err(rc, dbi_names[dbi]);
    *out = ms.ms_entries;
    return 0;
}

static KVS_MUST_CHECK int lmdb_user_count(struct kvs_read *rd, uint64_t *out)
{
    return entries(rd, DBI_USERS, out);
}

static KVS_MUST_CHECK int lmdb_totals(struct kvs_read *rd, struct kvs_storage_totals *out)
{
    int rc = entries(rd, DBI_USERS, &out->users);
    if (rc == 0)
        rc = entries(rd, DBI_STORES, &out->stores);
    if (rc == 0)
        rc = entries(rd, DBI_RECORDS, &out->records);
    return rc;
}

static KVS_MUST_CHECK int lmdb_user_get(struct kvs_read *rd, kvs_slice user_id,
                                        struct kvs_user *out)
{
    if (user_id.n != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    char id[KVS_ID_LEN + 1];
    id_of(user_id, id);
    return load_user(read_of(rd)->txn, lmdb_of(rd->st), id, out);
}

static KVS_MUST_CHECK int lmdb_user_by_token(struct kvs_read *rd,
                                             const uint8_t hash[KVS_TOKEN_HASH_LEN],
                                             struct kvs_user *out)
{
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_val v;
    int rc = db_get(txn, db->dbi[DBI_TOKENS], val_of(hash, KVS_TOKEN_HASH_LEN), &v, "get token");
    if (rc != 0)
        return rc;
    char id[KVS_ID_LEN + 1];
    rc = id_value(v, id, "token");
    if (rc != 0)
        return rc;
    rc = load_user(txn, db, id, out);
    return rc == KVS_ENOTFOUND ? corrupt("token (user missing)") : rc;
}

static KVS_MUST_CHECK int lmdb_user_by_name(struct kvs_read *rd, kvs_slice username,
                                            struct kvs_user *out)
{
    if (username.n == 0 || username.n > KVS_NAME_MAX)
        return KVS_ENOTFOUND;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_val v;
    int rc =
        db_get(txn, db->dbi[DBI_USERNAMES], val_of(username.p, username.n), &v, "get username");
    if (rc != 0)
        return rc;
    char id[KVS_ID_LEN + 1];
    rc = id_value(v, id, "username");
    if (rc != 0)
        return rc;
    rc = load_user(txn, db, id, out);
    return rc == KVS_ENOTFOUND ? corrupt("username (user missing)") : rc;
}

static KVS_MUST_CHECK int lmdb_store_get(struct kvs_read *rd, kvs_slice id, struct kvs_store *out)
{
    memset(out, 0, sizeof *out);
    if (id.n != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    char sid[KVS_ID_LEN + 1];
    id_of(id, sid);
    int rc = load_store(read_of(rd)->txn, lmdb_of(rd->st), sid, out);
    if (rc != 0)
        kvs_store_clear(out);
    return rc;
}

static KVS_MUST_CHECK int lmdb_store_by_name(struct kvs_read *rd, kvs_slice user_id, kvs_slice name,
                                             struct kvs_store *out)
{
    memset(out, 0, sizeof *out);
    if (user_id.n != KVS_ID_LEN || name.n == 0 || name.n > KVS_NAME_MAX)
        return KVS_ENOTFOUND;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    unsigned char key[KVS_ID_LEN + KVS_NAME_MAX];
    memcpy(key, user_id.p, KVS_ID_LEN);
    memcpy(key + KVS_ID_LEN, name.p, name.n);
    MDB_val v;
    int rc = db_get(txn, db->dbi[DBI_STORE_NAMES], val_of(key, KVS_ID_LEN + name.n), &v,
                    "get store name");
    if (rc != 0)
        return rc;
    char sid[KVS_ID_LEN + 1];
    rc = id_value(v, sid, "store name");
    if (rc == 0)
        rc = load_store(txn, db, sid, out);
    if (rc == KVS_ENOTFOUND)
        rc = corrupt("store name (store missing)");
    if (rc != 0)
        kvs_store_clear(out);
    return rc;
}

static KVS_MUST_CHECK int lmdb_store_list(struct kvs_read *rd, kvs_slice user_id, uint64_t offset,
                                          uint64_t limit, int desc, int include_unnamed,
                                          kvs_store_cb cb, void *arg, uint64_t *total)
{
    *total = 0;
    if (user_id.n != KVS_ID_LEN)
        return 0;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_cursor *cur = NULL;
    struct kvs_store s = {0};
    int stopped = 0;
    uint64_t given = 0;

    int rc = mdb_cursor_open(txn, db->dbi[DBI_STORE_BY_USER], &cur);
    if (rc != 0)
        return lmdb_err(rc, "open cursor");

    /* Newest first starts from a key above all of this user's keys: store IDs are
     * alphanumeric, so no real key reaches the 0xff bytes. */
    unsigned char seek[STORE_BY_USER_KEY_LEN];
    memset(seek, 0xff, sizeof seek);
    memcpy(seek, user_id.p, KVS_ID_LEN);
    MDB_val k = val_of(seek, desc ? sizeof seek : KVS_ID_LEN), v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    MDB_cursor_op step = desc ? MDB_PREV : MDB_NEXT;
    if (desc && (rc == 0 || rc == MDB_NOTFOUND))
        rc = mdb_cursor_get(cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);

    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, step)) {
        if (k.mv_size != STORE_BY_USER_KEY_LEN || memcmp(k.mv_data, user_id.p, KVS_ID_LEN) != 0)
            break; /* past this user's stores */
        if (v.mv_size != 1) {
            rc = corrupt("store_by_user");
            goto out;
        }
        int named = *(const unsigned char *)v.mv_data & 1;
        if (!named && !include_unnamed)
            continue;
        uint64_t index = (*total)++;
        /* After the callback stopped, go on counting so that *TOTAL stays right. */
        if (stopped || index < offset || given >= limit)
            continue;
        char sid[KVS_ID_LEN + 1];
        memcpy(sid, (const unsigned char *)k.mv_data + KVS_ID_LEN + 8, KVS_ID_LEN);
        sid[KVS_ID_LEN] = '\0';
        rc = load_store(txn, db, sid, &s);
        if (rc == KVS_ENOTFOUND)
            rc = corrupt("store_by_user (store missing)");
        if (rc != 0)
            goto out;
        given++;
        stopped = cb(arg, &s) != 0;
        kvs_store_clear(&s);
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : lmdb_err(rc, "list stores");
out:
    kvs_store_clear(&s);
    mdb_cursor_close(cur);
    return rc;
}

static KVS_MUST_CHECK int lmdb_record_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice key,
                                          struct kvs_record_view *out)
{
    if (store_id.n != KVS_ID_LEN || key.n == 0 || key.n > KVS_KEY_MAX)
        return KVS_ENOTFOUND;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    char sid[KVS_ID_LEN + 1];
    id_of(store_id, sid);
    int rc = store_dead(txn, db, sid);
    if (rc != 0)
        return rc > 0 ? KVS_ENOTFOUND : rc;
    unsigned char buf[KVS_ID_LEN + KVS_KEY_MAX];
    MDB_val v;
    rc = db_get(txn, db->dbi[DBI_RECORDS], record_key(buf, sid, key), &v, "get record");
    if (rc != 0)
        return rc;
    return parse_record(v, out);
}

static KVS_MUST_CHECK int lmdb_keys_list(struct kvs_read *rd, kvs_slice store_id, kvs_slice prefix,
                                         kvs_slice start_after, uint64_t limit, unsigned flags,
                                         kvs_key_cb cb, void *arg, int *truncated)
{
    *truncated = 0;
    if (store_id.n != KVS_ID_LEN || prefix.n > KVS_KEY_MAX || limit == 0)
        return 0; /* nothing can match */
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_cursor *cur = NULL;
    char sid[KVS_ID_LEN + 1];
    id_of(store_id, sid);
    int rc = store_dead(txn, db, sid);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    rc = mdb_cursor_open(txn, db->dbi[DBI_RECORDS], &cur);
    if (rc != 0)
        return lmdb_err(rc, "open cursor");

    /* Start at the larger of PREFIX and START_AFTER. A START_AFTER longer than any key is
     * cut to KVS_KEY_MAX bytes for the seek (LMDB's keys are bounded); the loop below skips
     * keys up to START_AFTER itself, which is at most one key in either case. */
    kvs_slice from = prefix;
    if (start_after.n > 0 && slice_cmp(start_after, prefix) > 0)
        from =
            (kvs_slice){start_after.p, start_after.n < KVS_KEY_MAX ? start_after.n : KVS_KEY_MAX};
    unsigned char seek[KVS_ID_LEN + KVS_KEY_MAX];
    MDB_val k = record_key(seek, sid, from), v;
    uint64_t given = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *kp = k.mv_data;
        if (k.mv_size < KVS_ID_LEN + prefix.n || memcmp(kp, sid, KVS_ID_LEN) != 0 ||
            (prefix.n > 0 && memcmp(kp + KVS_ID_LEN, prefix.p, prefix.n) != 0))
            break; /* past this store, or past the keys with PREFIX */
        struct kvs_key_view kv = {.key = {kp + KVS_ID_LEN, k.mv_size - KVS_ID_LEN}};
        if (start_after.n > 0 && slice_cmp(kv.key, start_after) <= 0)
            continue;
        if (given == limit) {
            *truncated = 1; /* one more key matches */
            break;
        }
        struct kvs_record_view rec;
        rc = parse_record(v, &rec);
        if (rc != 0)
            goto out;
        kv.size = rec.value.n;
        if (flags & KVS_KEYS_WITH_VALUES)
            kv.rec = rec;
        given++;
        rc = cb(arg, &kv);
        if (rc != 0)
            goto out;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : lmdb_err(rc, "list keys");
out:
    mdb_cursor_close(cur);
    return rc;
}

/* ==== reads: users, tokens, shares, visible stores ========================================= */

static KVS_MUST_CHECK int lmdb_user_list(struct kvs_read *rd, kvs_user_cb cb, void *arg)
{
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, db->dbi[DBI_USERNAMES], &cur);
    if (rc != 0)
        return lmdb_err(rc, "open cursor");
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[KVS_ID_LEN + 1];
        struct kvs_user u;
        rc = id_value(v, id, "username");
        if (rc == 0)
            rc = load_user(txn, db, id, &u);
        if (rc == KVS_ENOTFOUND)
            rc = corrupt("username (user missing)");
        if (rc != 0)
            goto out;
        if (cb(arg, &u) != 0)
            break;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : lmdb_err(rc, "list users");
out:
    mdb_cursor_close(cur);
    return rc;
}

static KVS_MUST_CHECK int lmdb_token_list(struct kvs_read *rd, kvs_slice user_id, kvs_token_cb cb,
                                          void *arg)
{
    if (user_id.n != KVS_ID_LEN)
        return 0;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(read_of(rd)->txn, db->dbi[DBI_USER_TOKENS], &cur);
    if (rc != 0)
        return lmdb_err(rc, "open cursor");
    MDB_val k = val_of(user_id.p, KVS_ID_LEN), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != USER_TOKEN_KEY_LEN || memcmp(kp, user_id.p, KVS_ID_LEN) != 0)
            break; /* past this user's tokens */
        struct kvs_token_info t = {.created_ms = get_time_key(kp + KVS_ID_LEN)};
        id_of(user_id, t.user_id);
        struct unpacker u = unpacker_of(v);
        unsigned format = get_u8(&u);
        get_str(&u, get_u8(&u), t.prefix, sizeof t.prefix);
        if (format != FORMAT || !unpacked(&u)) {
            rc = corrupt("user_tokens");
            goto out;
        }
        if (cb(arg, &t) != 0)
            break;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : lmdb_err(rc, "list tokens");
out:
    mdb_cursor_close(cur);
    return rc;
}

/* The level in a shares value V. Returns 0 or KVS_EIO. */
static KVS_MUST_CHECK int share_value(MDB_val v, enum kvs_share_level *out)
{
    const unsigned char *p = v.mv_data;
    if (v.mv_size != 2 || p[0] != FORMAT || p[1] < KVS_SHARE_READ || p[1] > KVS_SHARE_WRITE)
        return corrupt("share");
    *out = (enum kvs_share_level)p[1];
    return 0;
}

static KVS_MUST_CHECK int lmdb_share_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice user_id,
                                         enum kvs_share_level *out)
{
    if (store_id.n != KVS_ID_LEN || user_id.n != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    char sid[KVS_ID_LEN + 1], uid[KVS_ID_LEN + 1];
    id_of(store_id, sid);
    id_of(user_id, uid);
    unsigned char key[SHARE_KEY_LEN];
    MDB_val v;
    int rc =
        db_get(read_of(rd)->txn, db->dbi[DBI_SHARES], share_key(key, sid, uid), &v, "get share");
    return rc != 0 ? rc : share_value(v, out);
}

static KVS_MUST_CHECK int lmdb_share_list(struct kvs_read *rd, kvs_slice store_id, kvs_share_cb cb,
                                          void *arg)
{
    if (store_id.n != KVS_ID_LEN)
        return 0;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, db->dbi[DBI_SHARES], &cur);
    if (rc != 0)
        return lmdb_err(rc, "open cursor");
    MDB_val k = val_of(store_id.p, KVS_ID_LEN), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *kp = k.mv_data;
        if (k.mv_size != SHARE_KEY_LEN || memcmp(kp, store_id.p, KVS_ID_LEN) != 0)
            break; /* past this store's shares */
        struct kvs_share sh = {0};
        enum kvs_share_level level;
        struct kvs_user u;
        id_of((kvs_slice){kp + KVS_ID_LEN, KVS_ID_LEN}, sh.user_id);
        rc = share_value(v, &level);
        if (rc == 0)
            rc = load_user(txn, db, sh.user_id, &u);
        if (rc == KVS_ENOTFOUND)
            rc = corrupt("share (user missing)");
        if (rc != 0)
            goto out;
        sh.level = (uint8_t)level;
        memcpy(sh.username, u.username, sizeof sh.username);
        if (cb(arg, &sh) != 0)
            break;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : lmdb_err(rc, "list shares");
out:
    mdb_cursor_close(cur);
    return rc;
}

/* One of the two index walks that lmdb_store_list_visible merges: store_by_user or
 * shared_with, over one user's rows, in creation order or its reverse. */
struct walk {
    MDB_cursor *cur;
    MDB_val k, v;
    int live;   /* K and V hold a row of the user */
    int shared; /* a shared_with walk */
};

/* Take the result RC of a cursor move of W. Returns 0 or the mapped error. */
static KVS_MUST_CHECK int walk_check(struct walk *w, int rc, kvs_slice user_id)
{
    w->live = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return lmdb_err(rc, "list stores");
    w->live =
        w->k.mv_size == STORE_BY_USER_KEY_LEN && memcmp(w->k.mv_data, user_id.p, KVS_ID_LEN) == 0;
    return 0;
}

/* Open W on DBI and put it on USER_ID's first row (the last with DESC). */
static KVS_MUST_CHECK int walk_start(struct walk *w, MDB_txn *txn, MDB_dbi dbi, kvs_slice user_id,
                                     int desc)
{
    int rc = mdb_cursor_open(txn, dbi, &w->cur);
    if (rc != 0) {
        w->cur = NULL;
        return lmdb_err(rc, "open cursor");
    }
    /* Newest first starts from a key above all of this user's keys: store IDs are
     * alphanumeric, so no real key reaches the 0xff bytes. */
    unsigned char seek[STORE_BY_USER_KEY_LEN];
    memset(seek, 0xff, sizeof seek);
    memcpy(seek, user_id.p, KVS_ID_LEN);
    w->k = val_of(seek, desc ? sizeof seek : KVS_ID_LEN);
    rc = mdb_cursor_get(w->cur, &w->k, &w->v, MDB_SET_RANGE);
    if (desc && (rc == 0 || rc == MDB_NOTFOUND))
        rc = mdb_cursor_get(w->cur, &w->k, &w->v, rc == 0 ? MDB_PREV : MDB_LAST);
    return walk_check(w, rc, user_id);
}

static KVS_MUST_CHECK int walk_step(struct walk *w, kvs_slice user_id, int desc)
{
    return walk_check(w, mdb_cursor_get(w->cur, &w->k, &w->v, desc ? MDB_PREV : MDB_NEXT), user_id);
}

static KVS_MUST_CHECK int lmdb_store_list_visible(struct kvs_read *rd, kvs_slice user_id,
                                                  unsigned which, uint64_t offset, uint64_t limit,
                                                  int desc, int include_unnamed,
                                                  kvs_store_share_cb cb, void *arg, uint64_t *total)
{
    *total = 0;
    if (user_id.n != KVS_ID_LEN)
        return 0;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    struct walk own = {0}, shared = {.shared = 1};
    struct kvs_store s = {0};
    int stopped = 0;
    uint64_t given = 0;
    int rc = 0;
    if (which & KVS_LIST_OWNED)
        rc = walk_start(&own, txn, db->dbi[DBI_STORE_BY_USER], user_id, desc);
    if (rc == 0 && (which & KVS_LIST_SHARED))
        rc = walk_start(&shared, txn, db->dbi[DBI_SHARED_WITH], user_id, desc);

    while (rc == 0 && (own.live || shared.live)) {
        /* Both keys are user id + creation time + store id: the rest decides the order. */
        struct walk *w = own.live ? &own : &shared;
        if (own.live && shared.live) {
            int c = memcmp((const unsigned char *)own.k.mv_data + KVS_ID_LEN,
                           (const unsigned char *)shared.k.mv_data + KVS_ID_LEN, 8 + KVS_ID_LEN);
            w = (desc ? c > 0 : c < 0) ? &own : &shared;
        }
        const unsigned char *vp = w->v.mv_data;
        unsigned named, level = KVS_SHARE_NONE;
        if (w->shared) {
            if (w->v.mv_size != 3 || vp[0] != FORMAT || vp[1] < KVS_SHARE_READ ||
                vp[1] > KVS_SHARE_WRITE) {
                rc = corrupt("shared_with");
                break;
            }
            level = vp[1];
            named = vp[2] & 1;
        } else {
            if (w->v.mv_size != 1) {
                rc = corrupt("store_by_user");
                break;
            }
            named = vp[0] & 1;
        }
        uint64_t index = *total;
        if (named || include_unnamed)
            (*total)++;
        /* After the callback stopped, go on counting so that *TOTAL stays right. */
        if ((named || include_unnamed) && !stopped && index >= offset && given < limit) {
            char sid[KVS_ID_LEN + 1];
            memcpy(sid, (const unsigned char *)w->k.mv_data + KVS_ID_LEN + 8, KVS_ID_LEN);
            sid[KVS_ID_LEN] = '\0';
            rc = load_store(txn, db, sid, &s);
            if (rc == KVS_ENOTFOUND)
                rc = corrupt(w->shared ? "shared_with (store missing)"
                                       : "store_by_user (store missing)");
            if (rc != 0)
                break;
            given++;
            stopped = cb(arg, &s, (enum kvs_share_level)level) != 0;
            kvs_store_clear(&s);
        }
        rc = walk_step(w, user_id, desc);
    }
    kvs_store_clear(&s);
    if (own.cur != NULL)
        mdb_cursor_close(own.cur);
    if (shared.cur != NULL)
        mdb_cursor_close(shared.cur);
    return rc;
}

/* ==== writes ================================================================================ */

/* What a write hands back to its submitter (the created or updated store, the new user),
 * held aside until the transaction commits: a write whose batch fails leaves the submitter's
 * struct untouched, so that storage.c can retry it as it was. */
struct staged {
    int has_store, has_user;
    struct kvs_store store;
    struct kvs_user user;
};

/* Whether the string in the char array FIELD ends within the array (input from a client
 * passes through several hands before it reaches here). */
#define FITS(field) (strnlen((field), sizeof(field)) < sizeof(field))

static KVS_MUST_CHECK int record_put(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                     int64_t now)
{
    if (!FITS(w->store_id) || strlen(w->store_id) != KVS_ID_LEN)
        return KVS_ENOTFOUND; /* no store has such an ID */
    if (w->key.n == 0 || w->key.n > KVS_KEY_MAX || w->content_type.n > KVS_CONTENT_TYPE_MAX ||
        (unsigned)w->encoding > KVS_ENC_BR)
        return KVS_EINVAL;
    struct stats_row sr;
    int rc = load_stats(txn, db, w->store_id, &sr);
    if (rc != 0)
        return rc; /* KVS_ENOTFOUND: no such store */

    unsigned char kbuf[KVS_ID_LEN + KVS_KEY_MAX];
    MDB_val k = record_key(kbuf, w->store_id, w->key), old;
    rc = db_get(txn, db->dbi[DBI_RECORDS], k, &old, "get record");
    if (rc == 0) {
        struct kvs_record_view prev;
        rc = parse_record(old, &prev);
        if (rc != 0)
            return rc;
        sr.s.storage_bytes -= w->key.n + prev.value.n;
        sr.s.record_count--;
    } else if (rc != KVS_ENOTFOUND) {
        return rc;
    }

    unsigned char *dst = NULL;
    size_t ct = w->content_type.n;
    rc = db_reserve(txn, db->dbi[DBI_RECORDS], k, RECORD_HDR_LEN + ct + w->value.n, &dst,
                    "put record");
    if (rc != 0)
        return rc;
    struct packer p = {dst};
    put_u8(&p, FORMAT);
    put_u8(&p, (unsigned)w->encoding);
    put_u8(&p, (unsigned)ct);
    put_bytes(&p, w->content_type.p, ct);
    put_bytes(&p, w->value.p, w->value.n);

    sr.s.write_count++;
    sr.s.record_count++;
    sr.s.storage_bytes += w->key.n + w->value.n;
    int64_t was_accessed = sr.accessed_ms;
    sr.modified_ms = sr.accessed_ms = now;
    rc = unnamed_touch(txn, db, w->store_id, was_accessed, now);
    return rc != 0 ? rc : save_stats(txn, db, w->store_id, &sr);
}

static KVS_MUST_CHECK int record_delete(struct kvs_lmdb *db, MDB_txn *txn,
                                        const struct kvs_write *w, int64_t now)
{
    if (!FITS(w->store_id) || strlen(w->store_id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    struct stats_row sr;
    int rc = load_stats(txn, db, w->store_id, &sr);
    if (rc != 0)
        return rc;
    if (w->key.n == 0 || w->key.n > KVS_KEY_MAX)
        return 0; /* no such key can exist: deleting it is a success that changes nothing */

    unsigned char kbuf[KVS_ID_LEN + KVS_KEY_MAX];
    MDB_val k = record_key(kbuf, w->store_id, w->key), old;
    rc = db_get(txn, db->dbi[DBI_RECORDS], k, &old, "get record");
    if (rc == KVS_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    struct kvs_record_view prev;
    rc = parse_record(old, &prev);
    if (rc != 0)
        return rc;
    size_t freed = w->key.n + prev.value.n; /* PREV points into a page mdb_del may reuse */
    rc = db_del(txn, db->dbi[DBI_RECORDS], k, "delete record");
    if (rc != 0)
        return rc;
    sr.s.delete_count++;
    sr.s.record_count--;
    sr.s.storage_bytes -= freed;
    int64_t was_accessed = sr.accessed_ms;
    sr.modified_ms = sr.accessed_ms = now;
    rc = unnamed_touch(txn, db, w->store_id, was_accessed, now);
    return rc != 0 ? rc : save_stats(txn, db, w->store_id, &sr);
}

/* Check the fields of a store a client may set. Returns 0 or KVS_EINVAL. */
static KVS_MUST_CHECK int check_store_fields(const struct kvs_store *s, unsigned mask)
{
    if ((mask & KVS_UPD_NAME) && !FITS(s->name))
        return KVS_EINVAL;
    if ((mask & KVS_UPD_TITLE) && !FITS(s->title))
        return KVS_EINVAL;
    if ((mask & KVS_UPD_ACCESS) && s->general_access > KVS_GA_ANYONE_WITH_NAME_CAN_READ)
        return KVS_EINVAL;
    if ((mask & KVS_UPD_SCHEMA) && s->schema != NULL &&
        strnlen(s->schema, KVS_SCHEMA_MAX + 1) > KVS_SCHEMA_MAX)
        return KVS_EINVAL;
    return 0;
}

/* A new random ID not yet a key of DBI into OUT. */
static KVS_MUST_CHECK int fresh_id(MDB_txn *txn, MDB_dbi dbi, char out[KVS_ID_LEN + 1])
{
    for (int i = 0; i < ID_RETRIES; i++) {
        if (kvs_random_id(out) != 0) {
            kvs_log_error("lmdb: the random source failed");
            return KVS_EIO;
        }
        int rc = db_has(txn, dbi, val_of(out, KVS_ID_LEN), "get id");
        if (rc <= 0)
            return rc;
    }
    kvs_log_error("lmdb: %d random IDs in a row were taken", ID_RETRIES);
    return KVS_EIO;
}

static KVS_MUST_CHECK int store_create(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                       int64_t now, struct staged *out)
{
    const struct kvs_store *in = &w->store;
    if (!FITS(in->user_id) || strlen(in->user_id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    int rc = check_store_fields(in, KVS_UPD_NAME | KVS_UPD_TITLE | KVS_UPD_ACCESS | KVS_UPD_SCHEMA);
    if (rc != 0)
        return rc;
    struct kvs_user owner;
    rc = load_user(txn, db, in->user_id, &owner);
    if (rc != 0)
        return rc;

    unsigned char nkey[KVS_ID_LEN + KVS_NAME_MAX];
    size_t nkey_n = name_key(nkey, in->user_id, in->name);
    if (in->name[0] != '\0') {
        MDB_val v;
        rc = db_get(txn, db->dbi[DBI_STORE_NAMES], val_of(nkey, nkey_n), &v, "get store name");
        if (rc == 0) {
            /* Get-or-create: hand back the store that has the name. */
            char sid[KVS_ID_LEN + 1];
            rc = id_value(v, sid, "store name");
            if (rc == 0)
                rc = load_store(txn, db, sid, &out->store);
            if (rc != 0) {
                kvs_store_clear(&out->store);
                return rc == KVS_ENOTFOUND ? corrupt("store name (store missing)") : rc;
            }
            out->has_store = 1;
            return KVS_EEXIST;
        }
        if (rc != KVS_ENOTFOUND)
            return rc;
    }

    struct kvs_store *s = &out->store;
    memset(s, 0, sizeof *s);
    rc = fresh_id(txn, db->dbi[DBI_STORES], s->id);
    if (rc != 0)
        return rc;
    if (kvs_random_alnum(s->secret, KVS_SECRET_LEN) != 0) {
        kvs_log_error("lmdb: the random source failed");
        return KVS_EIO;
    }
    memcpy(s->user_id, in->user_id, sizeof s->user_id);
    memcpy(s->username, owner.username, sizeof s->username);
    memcpy(s->name, in->name, sizeof s->name);
    memcpy(s->title, in->title, sizeof s->title);
    s->general_access = in->general_access;
    s->created_ms = s->modified_ms = s->accessed_ms = now;
    s->schema = in->schema ? kvs_xstrdup(in->schema) : NULL;
    out->has_store = 1; /* from here on OUT owns the schema */

    struct stats_row sr = {.modified_ms = now, .accessed_ms = now};
    unsigned char bkey[STORE_BY_USER_KEY_LEN];
    unsigned char flags = s->name[0] != '\0';
    by_user_key(bkey, s);
    rc = save_store(txn, db, s);
    if (rc == 0)
        rc = save_stats(txn, db, s->id, &sr);
    if (rc == 0 && flags)
        rc = db_put(txn, db->dbi[DBI_STORE_NAMES], val_of(nkey, nkey_n), val_of(s->id, KVS_ID_LEN),
                    "put store name");
    if (rc == 0)
        rc = db_put(txn, db->dbi[DBI_STORE_BY_USER], val_of(bkey, sizeof bkey), val_of(&flags, 1),
                    "put store_by_user");
    if (rc == 0 && !flags)
        rc = unnamed_put(txn, db, s->id, now); /* retention counts from now */
    return rc;
}

static KVS_MUST_CHECK int each_share(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_store *s,
                                     int drop);

static KVS_MUST_CHECK int store_update(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                       int64_t now, struct staged *out)
{
    if (!FITS(w->store_id) || strlen(w->store_id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    int rc = check_store_fields(&w->store, w->update_mask);
    if (rc != 0)
        return rc;
    struct kvs_store store, *s = &store;
    rc = load_store(txn, db, w->store_id, s);
    if (rc != 0)
        goto out;

    const char *new_name = w->store.name;
    int rename = (w->update_mask & KVS_UPD_NAME) && strcmp(new_name, s->name) != 0;
    unsigned char old_key[KVS_ID_LEN + KVS_NAME_MAX], new_key[KVS_ID_LEN + KVS_NAME_MAX];
    size_t old_n = name_key(old_key, s->user_id, s->name);
    size_t new_n = name_key(new_key, s->user_id, new_name);
    if (rename && new_name[0] != '\0') {
        rc = db_has(txn, db->dbi[DBI_STORE_NAMES], val_of(new_key, new_n), "get store name");
        if (rc != 0) {
            rc = rc > 0 ? KVS_ENAMETAKEN : rc;
            goto out;
        }
    }

    /* Everything checked: from here on the update happens. */
    /* unnamed_by_access: the row (if unnamed before) goes, and one at NOW comes if the store is
     * unnamed after: naming a store makes it permanent, unnaming one starts its retention. */
    if (s->name[0] == '\0') {
        unsigned char akey[ACCESS_KEY_LEN];
        rc = db_del(txn, db->dbi[DBI_UNNAMED_BY_ACCESS], access_key(akey, s->accessed_ms, s->id),
                    "del unnamed_by_access");
        if (rc != 0)
            goto out;
    }
    if (((w->update_mask & KVS_UPD_NAME) ? new_name : s->name)[0] == '\0') {
        rc = unnamed_put(txn, db, s->id, now);
        if (rc != 0)
            goto out;
    }
    if (rename) {
        int was_named = s->name[0] != '\0';
        if (s->name[0] != '\0')
            rc = db_del(txn, db->dbi[DBI_STORE_NAMES], val_of(old_key, old_n), "del store name");
        if (rc == 0 && new_name[0] != '\0')
            rc = db_put(txn, db->dbi[DBI_STORE_NAMES], val_of(new_key, new_n),
                        val_of(s->id, KVS_ID_LEN), "put store name");
        memcpy(s->name, new_name, sizeof s->name);
        unsigned char bkey[STORE_BY_USER_KEY_LEN];
        unsigned char flags = s->name[0] != '\0';
        by_user_key(bkey, s);
        if (rc == 0)
            rc = db_put(txn, db->dbi[DBI_STORE_BY_USER], val_of(bkey, sizeof bkey),
                        val_of(&flags, 1), "put store_by_user");
        if (rc == 0 && was_named != flags)
            rc = each_share(db, txn, s, 0); /* the shared_with rows carry the named flag */
        if (rc != 0)
            goto out;
    }
    if (w->update_mask & KVS_UPD_TITLE)
        memcpy(s->title, w->store.title, sizeof s->title);
    if (w->update_mask & KVS_UPD_ACCESS)
        s->general_access = w->store.general_access;
    if (w->update_mask & KVS_UPD_SCHEMA) {
        free(s->schema);
        s->schema = w->store.schema ? kvs_xstrdup(w->store.schema) : NULL;
    }
    s->modified_ms = s->accessed_ms = now;
    struct stats_row sr = {.modified_ms = now, .accessed_ms = now, .s = s->stats};
    rc = save_store(txn, db, s);
    if (rc == 0)
        rc = save_stats(txn, db, s->id, &sr);
    if (rc == 0) {
        out->store = store; /* handed back once the batch commits */
        out->has_store = 1;
        return 0;
    }
out:
    kvs_store_clear(&store);
    return rc;
}

static KVS_MUST_CHECK int store_delete(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                       int64_t now)
{
    if (!FITS(w->store_id) || strlen(w->store_id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    struct kvs_store s;
    int rc = load_store(txn, db, w->store_id, &s);
    if (rc != 0)
        goto out;
    MDB_val id = val_of(s.id, KVS_ID_LEN);
    unsigned char nkey[KVS_ID_LEN + KVS_NAME_MAX], bkey[STORE_BY_USER_KEY_LEN], when[8];
    size_t nkey_n = name_key(nkey, s.user_id, s.name);
    by_user_key(bkey, &s);
    struct packer p = {when};
    put_u64(&p, (uint64_t)now);
    rc = each_share(db, txn, &s, 1);
    if (rc == 0)
        rc = db_del(txn, db->dbi[DBI_STORES], id, "del store");
    if (rc == 0)
        rc = db_del(txn, db->dbi[DBI_STORE_STATS], id, "del stats");
    if (rc == 0 && s.name[0] != '\0')
        rc = db_del(txn, db->dbi[DBI_STORE_NAMES], val_of(nkey, nkey_n), "del store name");
    if (rc == 0)
        rc =
            db_del(txn, db->dbi[DBI_STORE_BY_USER], val_of(bkey, sizeof bkey), "del store_by_user");
    if (rc == 0 && s.name[0] == '\0') {
        unsigned char akey[ACCESS_KEY_LEN];
        rc = db_del(txn, db->dbi[DBI_UNNAMED_BY_ACCESS], access_key(akey, s.accessed_ms, s.id),
                    "del unnamed_by_access");
    }
    /* The records go in the background (lmdb_maintain); until then readers skip them. */
    if (rc == 0)
        rc = db_put(txn, db->dbi[DBI_DEAD_STORES], id, val_of(when, sizeof when), "put dead store");
out:
    kvs_store_clear(&s);
    return rc;
}

/* Write the two index rows of a token (HASH of user USER_ID, with PREFIX, made at NOW). */
static KVS_MUST_CHECK int token_meta_put(struct kvs_lmdb *db, MDB_txn *txn,
                                         const uint8_t hash[KVS_TOKEN_HASH_LEN],
                                         const char *user_id, const char *prefix, int64_t now)
{
    unsigned char pkey[TOKEN_PREFIX_KEY_LEN], ukey[USER_TOKEN_KEY_LEN];
    unsigned char pval[1 + KVS_ID_LEN + 8], uval[2 + KVS_TOKEN_PREFIX_MAX];
    size_t n = strnlen(prefix, KVS_TOKEN_PREFIX_MAX);
    struct packer p = {pval};
    put_u8(&p, FORMAT);
    put_bytes(&p, user_id, KVS_ID_LEN);
    put_u64(&p, (uint64_t)now);
    struct packer u = {uval};
    put_u8(&u, FORMAT);
    put_u8(&u, (unsigned)n);
    put_bytes(&u, prefix, n);
    int rc = db_put(txn, db->dbi[DBI_TOKEN_PREFIXES], token_prefix_key(pkey, prefix, hash),
                    val_of(pval, sizeof pval), "put token prefix");
    if (rc == 0)
        rc = db_put(txn, db->dbi[DBI_USER_TOKENS], user_token_key(ukey, user_id, now, hash),
                    val_of(uval, 2 + n), "put user token");
    return rc;
}

static KVS_MUST_CHECK int user_create(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                      int64_t now, struct staged *out)
{
    const struct kvs_user *in = &w->user;
    size_t name_n = strnlen(in->username, sizeof in->username);
    if (name_n == 0 || name_n == sizeof in->username || in->default_access < KVS_GA_RESTRICTED ||
        in->default_access > KVS_GA_ANYONE_WITH_NAME_CAN_READ)
        return KVS_EINVAL;
    int rc = db_has(txn, db->dbi[DBI_USERNAMES], val_of(in->username, name_n), "get username");
    if (rc == 0)
        rc = db_has(txn, db->dbi[DBI_TOKENS], val_of(w->token_hash, KVS_TOKEN_HASH_LEN),
                    "get token");
    if (rc != 0)
        return rc > 0 ? KVS_EEXIST : rc;

    struct kvs_user *u = &out->user;
    *u = *in;
    u->is_admin = in->is_admin != 0;
    u->created_ms = now;
    rc = fresh_id(txn, db->dbi[DBI_USERS], u->id);
    if (rc != 0)
        return rc;
    unsigned char *dst = NULL;
    rc = db_reserve(txn, db->dbi[DBI_USERS], val_of(u->id, KVS_ID_LEN), user_row_len(u), &dst,
                    "put user");
    if (rc != 0)
        return rc;
    pack_user(dst, u);
    rc = db_put(txn, db->dbi[DBI_USERNAMES], val_of(u->username, name_n), val_of(u->id, KVS_ID_LEN),
                "put username");
    if (rc == 0)
        rc = db_put(txn, db->dbi[DBI_TOKENS], val_of(w->token_hash, KVS_TOKEN_HASH_LEN),
                    val_of(u->id, KVS_ID_LEN), "put token");
    if (rc == 0)
        rc = token_meta_put(db, txn, w->token_hash, u->id, w->token_prefix, now);
    out->has_user = rc == 0;
    return rc;
}

static KVS_MUST_CHECK int token_add(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                    int64_t now)
{
    const char *uid = w->user.id;
    if (!FITS(w->user.id) || strlen(uid) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    int rc = db_has(txn, db->dbi[DBI_USERS], val_of(uid, KVS_ID_LEN), "get user");
    if (rc <= 0)
        return rc == 0 ? KVS_ENOTFOUND : rc;
    MDB_val tk = val_of(w->token_hash, KVS_TOKEN_HASH_LEN), v;
    rc = db_get(txn, db->dbi[DBI_TOKENS], tk, &v, "get token");
    if (rc == 0) /* already there: fine if it is this user's */
        return v.mv_size == KVS_ID_LEN && memcmp(v.mv_data, uid, KVS_ID_LEN) == 0 ? 0 : KVS_EEXIST;
    if (rc != KVS_ENOTFOUND)
        return rc;
    rc = db_put(txn, db->dbi[DBI_TOKENS], tk, val_of(uid, KVS_ID_LEN), "put token");
    if (rc == 0)
        rc = token_meta_put(db, txn, w->token_hash, uid, w->token_prefix, now);
    return rc;
}

/* Find the user_tokens row of token HASH of user UID: its creation time and prefix into
 * *CREATED and PREFIX, and *FOUND = 1; *FOUND = 0 when the token has no such row. */
static KVS_MUST_CHECK int find_user_token(struct kvs_lmdb *db, MDB_txn *txn, const char *uid,
                                          const uint8_t hash[KVS_TOKEN_HASH_LEN], int64_t *created,
                                          char prefix[KVS_TOKEN_PREFIX_MAX + 1], int *found)
{
    *found = 0;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, db->dbi[DBI_USER_TOKENS], &cur);
    if (rc != 0)
        return lmdb_err(rc, "open cursor");
    int err = 0;
    MDB_val k = val_of(uid, KVS_ID_LEN), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != USER_TOKEN_KEY_LEN || memcmp(kp, uid, KVS_ID_LEN) != 0)
            break;
        if (memcmp(kp + KVS_ID_LEN + 8, hash, KVS_TOKEN_HASH_LEN) != 0)
            continue;
        struct unpacker u = unpacker_of(v);
        unsigned format = get_u8(&u);
        get_str(&u, get_u8(&u), prefix, KVS_TOKEN_PREFIX_MAX + 1);
        if (format != FORMAT || !unpacked(&u))
            err = corrupt("user_tokens");
        *created = get_time_key(kp + KVS_ID_LEN);
        *found = 1;
        break;
    }
    mdb_cursor_close(cur);
    if (err != 0)
        return err;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_err(rc, "find token");
}

/* Find the one token whose prefix starts with PREFIX (of user ONLY when not NULL): its hash,
 * full prefix, owner and creation time. Returns 0, KVS_ENOTFOUND, KVS_EAMBIGUOUS, KVS_EIO. */
static KVS_MUST_CHECK int find_token_prefix(struct kvs_lmdb *db, MDB_txn *txn, kvs_slice want,
                                            const char *only, uint8_t hash[KVS_TOKEN_HASH_LEN],
                                            char prefix[KVS_TOKEN_PREFIX_MAX + 1],
                                            char uid[KVS_ID_LEN + 1], int64_t *created)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, db->dbi[DBI_TOKEN_PREFIXES], &cur);
    if (rc != 0)
        return lmdb_err(rc, "open cursor");
    int err = 0, found = 0;
    MDB_val k = val_of(want.p, want.n), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && found < 2;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != TOKEN_PREFIX_KEY_LEN || memcmp(kp, want.p, want.n) != 0)
            break; /* past the prefixes that start with WANT */
        struct unpacker u = unpacker_of(v);
        unsigned format = get_u8(&u);
        char owner[KVS_ID_LEN + 1];
        get_str(&u, KVS_ID_LEN, owner, sizeof owner);
        int64_t when = (int64_t)get_u64(&u);
        if (format != FORMAT || !unpacked(&u)) {
            err = corrupt("token prefix");
            break;
        }
        if (only != NULL && memcmp(owner, only, KVS_ID_LEN) != 0)
            continue;
        if (++found > 1)
            break;
        memcpy(hash, kp + KVS_TOKEN_PREFIX_MAX, KVS_TOKEN_HASH_LEN);
        memcpy(prefix, kp, KVS_TOKEN_PREFIX_MAX); /* NUL-padded */
        prefix[KVS_TOKEN_PREFIX_MAX] = '\0';
        memcpy(uid, owner, KVS_ID_LEN + 1);
        *created = when;
    }
    mdb_cursor_close(cur);
    if (err != 0)
        return err;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_err(rc, "find token");
    return found == 0 ? KVS_ENOTFOUND : found > 1 ? KVS_EAMBIGUOUS : 0;
}

static KVS_MUST_CHECK int token_revoke(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                       struct staged *out)
{
    if (!FITS(w->user.id))
        return KVS_ENOTFOUND;
    size_t only_n = strlen(w->user.id);
    if (only_n != 0 && only_n != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    const char *only = only_n ? w->user.id : NULL;
    if (w->key.n > KVS_TOKEN_PREFIX_MAX ||
        (w->key.n > 0 && memchr(w->key.p, '\0', w->key.n) != NULL))
        return KVS_ENOTFOUND; /* no prefix looks like that */

    uint8_t hash[KVS_TOKEN_HASH_LEN];
    char uid[KVS_ID_LEN + 1], prefix[KVS_TOKEN_PREFIX_MAX + 1] = "";
    int64_t created = 0;
    int indexed = 1, rc;
    if (w->key.n > 0) {
        rc = find_token_prefix(db, txn, w->key, only, hash, prefix, uid, &created);
    } else {
        memcpy(hash, w->token_hash, sizeof hash);
        MDB_val v;
        rc = db_get(txn, db->dbi[DBI_TOKENS], val_of(hash, sizeof hash), &v, "get token");
        if (rc == 0)
            rc = id_value(v, uid, "token");
        if (rc == 0 && only != NULL && memcmp(uid, only, KVS_ID_LEN) != 0)
            rc = KVS_ENOTFOUND;
        if (rc == 0)
            rc = find_user_token(db, txn, uid, hash, &created, prefix, &indexed);
    }
    struct kvs_user owner;
    if (rc == 0)
        rc = load_user(txn, db, uid, &owner);
    if (rc != 0)
        return rc;

    /* Everything checked: from here on the token goes. */
    unsigned char pkey[TOKEN_PREFIX_KEY_LEN], ukey[USER_TOKEN_KEY_LEN];
    rc = db_del(txn, db->dbi[DBI_TOKENS], val_of(hash, sizeof hash), "del token");
    if (rc == 0 && indexed)
        rc = db_del(txn, db->dbi[DBI_TOKEN_PREFIXES], token_prefix_key(pkey, prefix, hash),
                    "del token prefix");
    if (rc == 0 && indexed)
        rc = db_del(txn, db->dbi[DBI_USER_TOKENS], user_token_key(ukey, uid, created, hash),
                    "del user token");
    if (rc == 0) {
        out->user = owner;
        out->has_user = 1;
    }
    return rc;
}

static KVS_MUST_CHECK int user_update(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                      struct staged *out)
{
    if (!FITS(w->user.id) || strlen(w->user.id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    if (w->user.default_access < KVS_GA_RESTRICTED ||
        w->user.default_access > KVS_GA_ANYONE_WITH_NAME_CAN_READ)
        return KVS_EINVAL;
    struct kvs_user u;
    int rc = load_user(txn, db, w->user.id, &u);
    if (rc != 0)
        return rc;
    u.default_access = w->user.default_access;
    unsigned char *dst = NULL;
    rc = db_reserve(txn, db->dbi[DBI_USERS], val_of(u.id, KVS_ID_LEN), user_row_len(&u), &dst,
                    "put user");
    if (rc != 0)
        return rc;
    pack_user(dst, &u);
    out->user = u;
    out->has_user = 1;
    return 0;
}

/* Whether W names a store and a user by IDs of the right shape. */
static int share_ids_ok(const struct kvs_write *w)
{
    return FITS(w->store_id) && strlen(w->store_id) == KVS_ID_LEN && FITS(w->user.id) &&
           strlen(w->user.id) == KVS_ID_LEN;
}

/* Write the shared_with row of store S for user UID at LEVEL. */
static KVS_MUST_CHECK int put_shared_with(struct kvs_lmdb *db, MDB_txn *txn, const char *uid,
                                          const struct kvs_store *s, unsigned level)
{
    unsigned char key[STORE_BY_USER_KEY_LEN];
    unsigned char val[3] = {FORMAT, (unsigned char)level, s->name[0] != '\0'};
    shared_with_key(key, uid, s);
    return db_put(txn, db->dbi[DBI_SHARED_WITH], val_of(key, sizeof key), val_of(val, sizeof val),
                  "put shared_with");
}

static KVS_MUST_CHECK int share_set(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w)
{
    if (!share_ids_ok(w))
        return KVS_ENOTFOUND;
    if (w->share_level != KVS_SHARE_READ && w->share_level != KVS_SHARE_WRITE)
        return KVS_EINVAL;
    struct kvs_store s;
    int rc = load_store(txn, db, w->store_id, &s);
    if (rc == 0) {
        rc = db_has(txn, db->dbi[DBI_USERS], val_of(w->user.id, KVS_ID_LEN), "get user");
        rc = rc == 0 ? KVS_ENOTFOUND : rc > 0 ? 0 : rc;
    }
    if (rc == 0 && strcmp(s.user_id, w->user.id) == 0)
        rc = KVS_EINVAL; /* the owner has every right already */
    if (rc == 0) {
        unsigned char key[SHARE_KEY_LEN], val[2] = {FORMAT, w->share_level};
        rc = db_put(txn, db->dbi[DBI_SHARES], share_key(key, s.id, w->user.id),
                    val_of(val, sizeof val), "put share");
    }
    if (rc == 0)
        rc = put_shared_with(db, txn, w->user.id, &s, w->share_level);
    kvs_store_clear(&s);
    return rc;
}

static KVS_MUST_CHECK int share_delete(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w)
{
    if (!share_ids_ok(w))
        return KVS_ENOTFOUND;
    unsigned char key[SHARE_KEY_LEN], wkey[STORE_BY_USER_KEY_LEN];
    MDB_val k = share_key(key, w->store_id, w->user.id);
    int rc = db_has(txn, db->dbi[DBI_SHARES], k, "get share");
    if (rc <= 0)
        return rc == 0 ? KVS_ENOTFOUND : rc;
    struct kvs_store s;
    rc = load_store(txn, db, w->store_id, &s);
    if (rc == KVS_ENOTFOUND)
        rc = corrupt("share (store missing)");
    if (rc == 0)
        rc = db_del(txn, db->dbi[DBI_SHARES], k, "del share");
    if (rc == 0) {
        shared_with_key(wkey, w->user.id, &s);
        rc = db_del(txn, db->dbi[DBI_SHARED_WITH], val_of(wkey, sizeof wkey), "del shared_with");
    }
    kvs_store_clear(&s);
    return rc;
}

/* For each share of store S: with DROP, delete it and its shared_with row; else rewrite its
 * shared_with row (after a rename changed whether S is named). */
static KVS_MUST_CHECK int each_share(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_store *s,
                                     int drop)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, db->dbi[DBI_SHARES], &cur);
    if (rc != 0)
        return lmdb_err(rc, "open cursor");
    int err = 0;
    MDB_val k = val_of(s->id, KVS_ID_LEN), v;
    /* After mdb_cursor_del() the cursor stands on the next row, which MDB_NEXT then returns
     * without stepping (as in lmdb_maintain). */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *kp = k.mv_data;
        if (k.mv_size != SHARE_KEY_LEN || memcmp(kp, s->id, KVS_ID_LEN) != 0)
            break;
        char uid[KVS_ID_LEN + 1];
        enum kvs_share_level level;
        id_of((kvs_slice){kp + KVS_ID_LEN, KVS_ID_LEN}, uid);
        err = share_value(v, &level);
        if (err == 0 && drop) {
            unsigned char wkey[STORE_BY_USER_KEY_LEN];
            shared_with_key(wkey, uid, s);
            err =
                db_del(txn, db->dbi[DBI_SHARED_WITH], val_of(wkey, sizeof wkey), "del shared_with");
            if (err == 0 && (rc = mdb_cursor_del(cur, 0)) != 0)
                err = lmdb_err(rc, "del share");
        } else if (err == 0) {
            err = put_shared_with(db, txn, uid, s, level);
        }
        if (err != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (err != 0)
        return err;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_err(rc, "walk shares");
}

static KVS_MUST_CHECK int apply_one(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                    int64_t now, struct staged *out)
{
    switch (w->op) {
    case KVS_W_RECORD_PUT:
        return record_put(db, txn, w, now);
    case KVS_W_RECORD_DELETE:
        return record_delete(db, txn, w, now);
    case KVS_W_STORE_CREATE:
        return store_create(db, txn, w, now, out);
    case KVS_W_STORE_UPDATE:
        return store_update(db, txn, w, now, out);
    case KVS_W_STORE_DELETE:
        return store_delete(db, txn, w, now);
    case KVS_W_USER_CREATE:
        return user_create(db, txn, w, now, out);
    case KVS_W_TOKEN_ADD:
        return token_add(db, txn, w, now);
    case KVS_W_TOKEN_REVOKE:
        return token_revoke(db, txn, w, out);
    case KVS_W_USER_UPDATE:
        return user_update(db, txn, w, out);
    case KVS_W_SHARE_SET:
        return share_set(db, txn, w);
    case KVS_W_SHARE_DELETE:
        return share_delete(db, txn, w);
    }
    return KVS_EINVAL;
}

/* Add one store's in-memory read statistics to its stored stats. */
static KVS_MUST_CHECK int apply_delta(struct kvs_lmdb *db, MDB_txn *txn,
                                      const struct kvs_stat_delta *d)
{
    if (strnlen(d->store_id, sizeof d->store_id) != KVS_ID_LEN)
        return 0;
    struct stats_row sr;
    int rc = load_stats(txn, db, d->store_id, &sr);
    if (rc == KVS_ENOTFOUND)
        return 0; /* deleted meanwhile */
    if (rc != 0)
        return rc;
    sr.s.read_count += d->reads;
    sr.s.list_count += d->lists;
    if (d->accessed_ms > sr.accessed_ms) {
        rc = unnamed_touch(txn, db, d->store_id, sr.accessed_ms, d->accessed_ms);
        if (rc != 0)
            return rc;
        sr.accessed_ms = d->accessed_ms;
    }
    return save_stats(txn, db, d->store_id, &sr);
}

/* Keep zeros ahead of the data file's last page (prealloc.h). Done in an empty write
 * transaction, whose lock keeps another process's commit (the CLI on the same data directory)
 * from writing past the last page meanwhile. A failure here fails no write: LMDB then extends
 * the file itself, as it would without this, and reports a full disk on its own. */
static void grow_ahead(struct kvs_lmdb *db)
{
    MDB_envinfo info;
    int64_t now = kvs_now_ms();
    if (mdb_env_info(db->env, &info) != 0 ||
        !kvs_prealloc_due(&db->prealloc, ((uint64_t)info.me_last_pgno + 1) * db->page_size, now))
        return;
    MDB_txn *txn;
    if (mdb_txn_begin(db->env, NULL, 0, &txn) != 0)
        return;
    mdb_filehandle_t fd;
    if (mdb_env_info(db->env, &info) == 0 && mdb_env_get_fd(db->env, &fd) == 0 &&
        kvs_prealloc_extend(&db->prealloc, fd, ((uint64_t)info.me_last_pgno + 1) * db->page_size,
                            now) != 0)
        kvs_log_debug("lmdb: the data file grows page by page until the next try");
    mdb_txn_abort(txn);
}

static KVS_MUST_CHECK int lmdb_apply(struct kvs_storage *st, struct kvs_write **ws, size_t n,
                                     const struct kvs_stat_delta *deltas, size_t nd)
{
    struct kvs_lmdb *db = lmdb_of(st);
    struct staged *staged = kvs_xcalloc(n ? n : 1, sizeof *staged);
    int64_t now = kvs_now_ms();
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = lmdb_err(rc, "begin write");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        /* Each op checks before it changes anything, so a logical error (not found, exists,
         * name taken, invalid) leaves the transaction fit for the other ops. A storage
         * failure ends the whole transaction. */
        int r = apply_one(db, txn, ws[i], now, &staged[i]);
        if (r == KVS_EIO || r == KVS_ENOSPACE) {
            rc = r;
            goto out;
        }
        ws[i]->result = r;
    }
    for (size_t i = 0; i < nd; i++) {
        rc = apply_delta(db, txn, &deltas[i]);
        if (rc != 0)
            goto out;
    }
    rc = mdb_txn_commit(txn); /* with the default sync: durable when it returns */
    txn = NULL;
    if (rc != 0) {
        uint64_t need = 0;
        for (size_t i = 0; i < n; i++)
            need += ws[i]->key.n + ws[i]->content_type.n + ws[i]->value.n;
        rc = commit_err(db, rc, need, "commit");
        goto out;
    }
    grow_ahead(db);
    /* Committed: the outputs go to their writes. */
    for (size_t i = 0; i < n; i++) {
        if (staged[i].has_store) {
            kvs_store_clear(&ws[i]->store);
            ws[i]->store = staged[i].store;
            staged[i].has_store = 0;
        }
        if (staged[i].has_user)
            ws[i]->user = staged[i].user;
    }
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    for (size_t i = 0; i < n; i++)
        if (staged[i].has_store)
            kvs_store_clear(&staged[i].store);
    free(staged);
    return rc;
}

/* Sweep step: delete up to SWEEP_MAX records of the first dead store, and the dead_stores
 * entry once none is left, in one transaction. Returns 1 when more remains, 0 when no dead
 * store is left, or an error. */
static KVS_MUST_CHECK int sweep_step(struct kvs_storage *st)
{
    struct kvs_lmdb *db = lmdb_of(st);
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int more = 0;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = lmdb_err(rc, "begin sweep");
        goto out;
    }
    rc = mdb_cursor_open(txn, db->dbi[DBI_DEAD_STORES], &cur);
    if (rc != 0) {
        rc = lmdb_err(rc, "open cursor");
        goto out;
    }
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == MDB_NOTFOUND) {
        rc = 0; /* nothing to sweep: the transaction is simply dropped */
        goto out;
    }
    if (rc != 0) {
        rc = lmdb_err(rc, "first dead store");
        goto out;
    }
    unsigned char sid[KVS_ID_LEN];
    if (k.mv_size != KVS_ID_LEN) {
        rc = corrupt("dead_stores");
        goto out;
    }
    memcpy(sid, k.mv_data, KVS_ID_LEN);
    mdb_cursor_close(cur);
    cur = NULL;

    rc = mdb_cursor_open(txn, db->dbi[DBI_RECORDS], &cur);
    if (rc != 0) {
        rc = lmdb_err(rc, "open cursor");
        goto out;
    }
    int swept = 0, store_done = 0;
    k = val_of(sid, KVS_ID_LEN);
    /* After mdb_cursor_del() the cursor stands on the next record, which MDB_NEXT then
     * returns without stepping (LMDB's C_DEL flag). */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && swept < SWEEP_MAX;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < KVS_ID_LEN || memcmp(k.mv_data, sid, KVS_ID_LEN) != 0)
            break;
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            rc = lmdb_err(rc, "sweep record");
            goto out;
        }
        swept++;
    }
    if (rc == MDB_NOTFOUND || (rc == 0 && swept < SWEEP_MAX))
        store_done = 1;
    else if (rc == 0)
        store_done = k.mv_size < KVS_ID_LEN || memcmp(k.mv_data, sid, KVS_ID_LEN) != 0;
    else {
        rc = lmdb_err(rc, "sweep records");
        goto out;
    }
    mdb_cursor_close(cur);
    cur = NULL;

    more = 1;
    if (store_done) {
        rc = db_del(txn, db->dbi[DBI_DEAD_STORES], val_of(sid, KVS_ID_LEN), "del dead store");
        if (rc != 0)
            goto out;
        MDB_stat ms;
        rc = mdb_stat(txn, db->dbi[DBI_DEAD_STORES], &ms);
        if (rc != 0) {
            rc = lmdb_err(rc, "stat dead stores");
            goto out;
        }
        more = ms.ms_entries > 0;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        rc = commit_err(db, rc, 0, "commit sweep");
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    return rc != 0 ? rc : more;
}

/* Retention step: delete the unnamed stores not accessed for more than db->retention_ms
 * (accessed_ms < now - retention), oldest first, looking at no more than EXPIRE_MAX rows of
 * unnamed_by_access, in one transaction. The walk stops at the first row not expired, so a
 * step costs O(expired + log n). A store whose reads are still counted in memory
 * (kvs_storage_pending_access: read within the last second, not yet flushed) is kept; its row
 * moves with the next flush. Each store goes the way of KVS_W_STORE_DELETE (store_delete):
 * its records are then swept by sweep_step. Returns 1 when stores were deleted (more may be
 * due), 0 when none was, or an error. */
static KVS_MUST_CHECK int expire_step(struct kvs_lmdb *db)
{
    int64_t now = kvs_now_ms(), cutoff = now - db->retention_ms;
    char ids[EXPIRE_MAX][KVS_ID_LEN + 1];
    size_t n = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = lmdb_err(rc, "begin expire");
        goto out;
    }
    rc = mdb_cursor_open(txn, db->dbi[DBI_UNNAMED_BY_ACCESS], &cur);
    if (rc != 0) {
        rc = lmdb_err(rc, "open cursor");
        goto out;
    }
    MDB_val k, v;
    int looked = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && looked < EXPIRE_MAX;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), looked++) {
        if (k.mv_size != ACCESS_KEY_LEN) {
            rc = corrupt("unnamed_by_access");
            goto out;
        }
        if (get_time_key(k.mv_data) >= cutoff)
            break; /* this one and every later one were accessed recently enough */
        memcpy(ids[n], (const char *)k.mv_data + 8, KVS_ID_LEN);
        ids[n][KVS_ID_LEN] = '\0';
        if (kvs_storage_pending_access(&db->super, ids[n]) >= cutoff)
            continue; /* read lately; the flush has not moved its row yet */
        n++;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = lmdb_err(rc, "walk unnamed_by_access");
        goto out;
    }
    mdb_cursor_close(cur);
    cur = NULL;
    rc = 0;
    if (n == 0)
        goto out; /* nothing expired: the transaction is simply dropped */
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct kvs_write w = {.op = KVS_W_STORE_DELETE};
        memcpy(w.store_id, ids[i], sizeof w.store_id);
        rc = store_delete(db, txn, &w, now);
        if (rc == KVS_ENOTFOUND)
            rc = corrupt("unnamed_by_access (store missing)");
    }
    if (rc != 0)
        goto out;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        rc = commit_err(db, rc, 0, "commit expire");
        goto out;
    }
    kvs_log_info("lmdb: retention: deleted %zu unnamed store%s not accessed for %lld ms", n,
                 n == 1 ? "" : "s", (long long)db->retention_ms);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    return rc != 0 ? rc : n > 0;
}

/* Background work: first the records of deleted stores, then (with a retention) the unnamed
 * stores that expired. storage.c calls this while idle, and at least about once a second
 * (RETENTION_CHECK_MS there), so expired stores go within a second or so of expiring. */
static KVS_MUST_CHECK int lmdb_maintain(struct kvs_storage *st)
{
    struct kvs_lmdb *db = lmdb_of(st);
    int r = sweep_step(st);
    if (r != 0 || db->retention_ms <= 0)
        return r;
    return expire_step(db);
}

/* ==== opening and closing =================================================================== */

static void lmdb_close(struct kvs_storage *st)
{
    struct kvs_lmdb *db = lmdb_of(st);
    if (db->env != NULL)
        mdb_env_close(db->env);
    free(db);
}

/* kvs_storage_backup(): mdb_env_copy2 with MDB_CP_COMPACT writes OUT_DIR/data.mdb from one
 * read transaction (a consistent snapshot; writers, also in other processes, go on meanwhile)
 * leaving free pages out. LMDB creates the file with O_EXCL and does not sync it, so the file
 * and then the directory (its new entry) are synced here. */
static KVS_MUST_CHECK int lmdb_backup(struct kvs_storage *st, const char *out_dir)
{
    struct kvs_lmdb *db = lmdb_of(st);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/data.mdb", out_dir) >= (int)sizeof path)
        return KVS_EINVAL;
    struct stat sb;
    if (stat(path, &sb) == 0)
        return KVS_EEXIST;
    int rc = mdb_env_copy2(db->env, out_dir, MDB_CP_COMPACT);
    if (rc != 0) {
        unlink(path); /* no half copy left behind */
        return lmdb_err(rc, "backup copy");
    }
    int err = chmod(path, 0600) != 0 ? errno : 0; /* as private as the data it copies */
    if (err == 0)
        err = kvs_fsync_path(path);
    if (err == 0)
        err = kvs_fsync_path(out_dir);
    if (err != 0) {
        kvs_log_error("lmdb: backup: cannot sync %s: %s", path, strerror(err));
        unlink(path);
        return err == ENOSPC || err == EDQUOT ? KVS_ENOSPACE : KVS_EIO;
    }
    return 0;
}

/* Call FN(db, txn, key, value, ctx) for every row of table DBI in key order, stopping at the
 * first non-zero return, which is returned. The schema upgrades below use it; FN must not
 * change table DBI. WHAT names the walk in errors. */
typedef int (*row_fn)(struct kvs_lmdb *db, MDB_txn *txn, MDB_val k, MDB_val v, void *ctx);

static KVS_MUST_CHECK int each_row(struct kvs_lmdb *db, MDB_txn *txn, int dbi, const char *what,
                                   row_fn fn, void *ctx)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, db->dbi[dbi], &cur);
    if (rc != 0)
        return lmdb_err(rc, "open cursor");
    int err = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && err == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        err = fn(db, txn, k, v, ctx);
    mdb_cursor_close(cur);
    if (err != 0)
        return err;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_err(rc, what);
}

/* migrate_v1's step: index one token (row of `tokens`); CTX counts them. */
static int index_token(struct kvs_lmdb *db, MDB_txn *txn, MDB_val k, MDB_val v, void *ctx)
{
    char uid[KVS_ID_LEN + 1];
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    if (k.mv_size != KVS_TOKEN_HASH_LEN)
        return corrupt("token");
    memcpy(hash, k.mv_data, sizeof hash);
    int err = id_value(v, uid, "token");
    if (err == 0)
        err = token_meta_put(db, txn, hash, uid, "", 0);
    ++*(size_t *)ctx;
    return err;
}

/* Upgrade a version 1 environment to version 2 within TXN. Version 2 only added tables
 * (token_prefixes, user_tokens, shares, shared_with, all created empty by open_dbis), so the
 * one thing to do is to index the existing tokens: with an unknown prefix and creation time
 * (token_list shows them as such; they are revoked by the whole token). */
static KVS_MUST_CHECK int migrate_v1(struct kvs_lmdb *db, MDB_txn *txn)
{
    size_t n = 0;
    int err = each_row(db, txn, DBI_TOKENS, "migrate tokens", index_token, &n);
    if (err == 0)
        kvs_log_info("lmdb: upgraded the data from schema version 1 to 2 (%zu tokens indexed)", n);
    return err;
}

/* migrate_v2's step: one row of `store_by_user`; an unnamed store goes into
 * unnamed_by_access. CTX counts those. */
static int index_unnamed(struct kvs_lmdb *db, MDB_txn *txn, MDB_val k, MDB_val v, void *ctx)
{
    if (k.mv_size != STORE_BY_USER_KEY_LEN || v.mv_size != 1)
        return corrupt("store_by_user");
    if (*(const unsigned char *)v.mv_data & 1)
        return 0; /* named: kept forever */
    ++*(size_t *)ctx;
    char sid[KVS_ID_LEN + 1];
    memcpy(sid, (const char *)k.mv_data + KVS_ID_LEN + 8, KVS_ID_LEN);
    sid[KVS_ID_LEN] = '\0';
    struct stats_row sr;
    int err = load_stats(txn, db, sid, &sr);
    if (err == KVS_ENOTFOUND)
        err = corrupt("store_by_user (store missing)");
    if (err == 0)
        err = unnamed_put(txn, db, sid, sr.accessed_ms);
    return err;
}

/* Upgrade a version 2 environment to version 3 within TXN: build unnamed_by_access (created
 * empty by open_dbis) from store_by_user, whose flags say which stores are unnamed, and the
 * accessed_ms in their store_stats rows. */
static KVS_MUST_CHECK int migrate_v2(struct kvs_lmdb *db, MDB_txn *txn)
{
    size_t n = 0;
    int err = each_row(db, txn, DBI_STORE_BY_USER, "migrate unnamed stores", index_unnamed, &n);
    if (err == 0)
        kvs_log_info(
            "lmdb: upgraded the data from schema version 2 to 3 (%zu unnamed stores indexed)", n);
    return err;
}

/* Open (creating) every DBI and check, or on a new environment write, the schema version. */
static KVS_MUST_CHECK int open_dbis(struct kvs_lmdb *db, const char *dir)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_err(rc, "begin open");
    for (int i = 0; i < DBI_COUNT; i++) {
        rc = mdb_dbi_open(txn, dbi_names[i], MDB_CREATE, &db->dbi[i]);
        if (rc != 0) {
            rc = lmdb_err(rc, dbi_names[i]);
            goto out;
        }
    }
    static const char version_key[] = "schema_version";
    MDB_val k = val_of(version_key, sizeof version_key - 1), v;
    rc = db_get(txn, db->dbi[DBI_META], k, &v, "get schema version");
    if (rc == KVS_ENOTFOUND) {
        MDB_stat ms;
        rc = mdb_stat(txn, db->dbi[DBI_USERS], &ms);
        if (rc != 0) {
            rc = lmdb_err(rc, "stat users");
            goto out;
        }
        if (ms.ms_entries > 0) {
            kvs_log_error("lmdb: %s holds data but no schema version; refusing to open it", dir);
            rc = KVS_EIO;
            goto out;
        }
        unsigned char ver[4];
        struct packer p = {ver};
        put_u32(&p, SCHEMA_VERSION);
        rc = db_put(txn, db->dbi[DBI_META], k, val_of(ver, sizeof ver), "put schema version");
    } else if (rc == 0) {
        struct unpacker u = unpacker_of(v);
        uint32_t found = get_u32(&u);
        if (!unpacked(&u)) {
            rc = corrupt("schema version");
        } else if (found == 1 || found == 2) {
            rc = found == 1 ? migrate_v1(db, txn) : 0;
            if (rc == 0)
                rc = migrate_v2(db, txn);
            unsigned char ver[4];
            struct packer p = {ver};
            put_u32(&p, SCHEMA_VERSION);
            if (rc == 0)
                rc = db_put(txn, db->dbi[DBI_META], k, val_of(ver, sizeof ver),
                            "put schema version");
        } else if (found != SCHEMA_VERSION) {
            kvs_log_error("lmdb: %s has schema version %u; this build reads version %u", dir,
                          (unsigned)found, SCHEMA_VERSION);
            rc = KVS_EIO;
        }
    }
    if (rc != 0)
        goto out;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        rc = lmdb_err(rc, "commit open");
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    return rc;
}

static const struct kvs_storage_ops lmdb_ops = {
    .name = "lmdb",
    .close = lmdb_close,
    .read_begin = lmdb_read_begin,
    .read_end = lmdb_read_end,
    .user_count = lmdb_user_count,
    .totals = lmdb_totals,
    .user_by_token = lmdb_user_by_token,
    .user_by_name = lmdb_user_by_name,
    .user_get = lmdb_user_get,
    .store_get = lmdb_store_get,
    .store_by_name = lmdb_store_by_name,
    .store_list = lmdb_store_list,
    .store_list_visible = lmdb_store_list_visible,
    .user_list = lmdb_user_list,
    .token_list = lmdb_token_list,
    .share_get = lmdb_share_get,
    .share_list = lmdb_share_list,
    .record_get = lmdb_record_get,
    .keys_list = lmdb_keys_list,
    .apply = lmdb_apply,
    .maintain = lmdb_maintain,
    .backup = lmdb_backup,
};

int kvs_storage_open_lmdb(const struct kvs_storage_config *cfg, struct kvs_storage **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->dir == NULL || cfg->dir[0] == '\0')
        return KVS_EINVAL;
    int err = kvs_make_dirs(cfg->dir);
    if (err != 0) {
        kvs_log_error("lmdb: cannot create %s: %s", cfg->dir, strerror(err));
        return KVS_EIO;
    }

    struct kvs_lmdb *db = kvs_xcalloc(1, sizeof *db);
    db->retention_ms = (int64_t)cfg->unnamed_retention_ms;
    int rc = mdb_env_create(&db->env);
    if (rc != 0) {
        db->env = NULL;
        rc = lmdb_err(rc, "create environment");
        goto fail;
    }
    /* No MDB_NOSYNC: every commit is synced, which is what makes a 2xx durable. */
    if ((rc = mdb_env_set_mapsize(db->env, cfg->map_size ? cfg->map_size : DEFAULT_MAP_SIZE)) ||
        (rc = mdb_env_set_maxreaders(db->env,
                                     cfg->max_readers ? cfg->max_readers : DEFAULT_MAX_READERS)) ||
        (rc = mdb_env_set_maxdbs(db->env, DBI_COUNT))) {
        kvs_log_error("lmdb: bad configuration for %s: %s", cfg->dir, mdb_strerror(rc));
        rc = KVS_EINVAL;
        goto fail;
    }
    /* MDB_NOTLS: a read may end on another thread (the HTTP library frees a response on
     * whichever thread finishes it). MDB_NORDAHEAD: the map is far larger than RAM and read
     * ahead would only evict useful pages. */
    rc = mdb_env_open(db->env, cfg->dir, MDB_NOTLS | MDB_NORDAHEAD, 0600);
    if (rc != 0) {
        kvs_log_error("lmdb: cannot open %s", cfg->dir);
        rc = lmdb_err(rc, "open environment");
        goto fail;
    }
    MDB_stat ms;
    if ((rc = mdb_env_stat(db->env, &ms)) != 0) {
        rc = lmdb_err(rc, "stat environment");
        goto fail;
    }
    db->page_size = ms.ms_psize;
    /* Free the reader slots of processes that died holding a read. */
    int stale = 0;
    rc = mdb_reader_check(db->env, &stale);
    if (rc != 0) {
        rc = lmdb_err(rc, "reader check");
        goto fail;
    }
    if (stale > 0)
        kvs_log_warn("lmdb: cleared %d stale readers", stale);
    rc = open_dbis(db, cfg->dir);
    if (rc != 0)
        goto fail;
    rc = kvs_storage_init(&db->super, &lmdb_ops);
    if (rc != 0)
        goto fail;
    *out = &db->super;
    return 0;
fail:
    lmdb_close(&db->super);
    return rc;
}
