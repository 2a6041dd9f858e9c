/* lmdb_open.c — opening the LMDB back-end: the environment, its tables, the schema version
 * and the upgrades from older versions; closing; and the ops table that storage.c calls. */
#include <errno.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fs.h"
#include "storage/lmdb_internal.h"

#define DEFAULT_MAP_SIZE (1ull << 40) /* 1 TiB of address space; the file grows as used */
#define DEFAULT_MAX_READERS 1024u
/* Reader slots of the write-ahead log beyond those: the pin on the durable checkpoint (a
 * checkpoint takes one more for a moment, before it lets that one go). */
#define WAL_READERS 1u

const char *const kvs_lmdb_dbi_names[DBI_COUNT] = {
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
    [DBI_RUNS] = "runs",
    [DBI_RUNS_BY_USER] = "runs_by_user",
    [DBI_RUNS_BY_ACTOR] = "runs_by_actor",
    [DBI_RUNS_BY_STORE] = "runs_by_store",
    [DBI_BLOBS] = "blobs",
};

/* ==== opening and closing =================================================================== */

static void lmdb_close(struct kvs_storage *st)
{
    struct kvs_lmdb *db = lmdb_of(st);
    kvs_lmdb_read_spares_free(db);
    kvs_lmdb_blobs_close(db);
    pthread_mutex_destroy(&db->spares_mu);
    db->logging = NULL;
    kvs_wal_close(db->wal); /* its last checkpoint, before the environment goes */
    db->wal = NULL;
    if (db->env != NULL)
        mdb_env_close(db->env);
    free(db->dir);
    free(db);
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
        return kvs_lmdb_err(rc, "open cursor");
    int err = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && err == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        err = fn(db, txn, k, v, ctx);
    mdb_cursor_close(cur);
    if (err != 0)
        return err;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : kvs_lmdb_err(rc, what);
}

static const char VERSION_KEY[] = "schema_version"; /* its meta row: u32 */

static KVS_MUST_CHECK int put_schema_version(struct kvs_lmdb *db, MDB_txn *txn, uint32_t version)
{
    unsigned char ver[4];
    struct packer p = {ver};
    put_u32(&p, version);
    return db_put(txn, db->dbi[DBI_META], val_of(VERSION_KEY, sizeof VERSION_KEY - 1),
                  val_of(ver, sizeof ver), "put schema version");
}

/* migrate_v1's step: index one token (row of `tokens`); CTX counts them. */
static int index_token(struct kvs_lmdb *db, MDB_txn *txn, MDB_val k, MDB_val v, void *ctx)
{
    char uid[KVS_ID_LEN + 1];
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    if (k.mv_size != KVS_TOKEN_HASH_LEN)
        return kvs_lmdb_corrupt("token");
    memcpy(hash, k.mv_data, sizeof hash);
    int err = kvs_lmdb_id_value(v, uid, "token");
    if (err == 0)
        err = kvs_lmdb_token_meta_put(db, txn, hash, uid, "", 0);
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
        return kvs_lmdb_corrupt("store_by_user");
    if (*(const unsigned char *)v.mv_data & 1)
        return 0; /* named: kept forever */
    ++*(size_t *)ctx;
    char sid[KVS_ID_LEN + 1];
    memcpy(sid, (const char *)k.mv_data + KVS_ID_LEN + 8, KVS_ID_LEN);
    sid[KVS_ID_LEN] = '\0';
    struct stats_row sr;
    int err = kvs_lmdb_load_stats(txn, db, sid, &sr);
    if (err == KVS_ENOTFOUND)
        err = kvs_lmdb_corrupt("store_by_user (store missing)");
    if (err == 0)
        err = kvs_lmdb_unnamed_put(txn, db, sid, sr.accessed_ms);
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

/* ---- version 3 → 4: record versions ----------------------------------------------------- */

/* Rows rewritten per transaction of migrate_v3: LMDB caps how many pages one transaction may
 * dirty (MDB_TXN_FULL), and a data directory may hold millions of records of up to 10 MiB. */
#define MIGRATE_STEP_ROWS 2000
#define MIGRATE_STEP_BYTES (64u << 20)

/* What migrate_v3 carries from row to row. */
struct v3_state {
    uint64_t next_version; /* the version the next record gets */
    uint64_t max_version;  /* the highest version seen or given */
    char store[KVS_ID_LEN];
    int64_t store_modified_ms; /* of STORE */
    size_t records, stores;
};

/* A rewrite_rows() step: leave row (K, V) (return 0), or put *OUT (*OUT_N bytes, malloc'd)
 * in its place (return 1); or an error. */
typedef int (*rewrite_fn)(struct kvs_lmdb *db, MDB_txn *txn, MDB_val k, MDB_val v,
                          struct v3_state *m, unsigned char **out, size_t *out_n);

/* Walk table DBI in key order and rewrite the rows FN says, in transactions of at most
 * MIGRATE_STEP_ROWS rows or MIGRATE_STEP_BYTES bytes, each committed before the next begins.
 * FN leaves the rows it rewrote before, so an upgrade cut short (a crash, a full disk) goes on
 * where it stopped when the data directory is opened again. */
static KVS_MUST_CHECK int rewrite_rows(struct kvs_lmdb *db, int dbi, const char *what,
                                       rewrite_fn fn, struct v3_state *m)
{
    unsigned char from[KVS_ID_LEN + KVS_KEY_MAX]; /* where the next step begins */
    size_t from_n = 0;
    for (int first = 1;; first = 0) {
        MDB_txn *txn = NULL;
        MDB_cursor *cur = NULL;
        int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
        if (rc != 0)
            return kvs_lmdb_err(rc, "begin upgrade");
        rc = mdb_cursor_open(txn, db->dbi[dbi], &cur);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return kvs_lmdb_err(rc, "open cursor");
        }
        MDB_val k = val_of(from, from_n), v;
        rc = mdb_cursor_get(cur, &k, &v, first ? MDB_FIRST : MDB_SET_RANGE);
        size_t rows = 0, bytes = 0;
        int err = 0;
        while (rc == 0 && rows < MIGRATE_STEP_ROWS && bytes < MIGRATE_STEP_BYTES) {
            unsigned char *nv = NULL;
            size_t nn = 0;
            if (k.mv_size > sizeof from) {
                err = kvs_lmdb_corrupt(what);
                break;
            }
            err = fn(db, txn, k, v, m, &nv, &nn);
            if (err == 1) {
                memcpy(from, k.mv_data, k.mv_size); /* K points into a page the put may change */
                from_n = k.mv_size;
                k = val_of(from, from_n);
                err = db_put(txn, db->dbi[dbi], k, val_of(nv, nn), what);
                free(nv);
                rows++;
                bytes += nn;
                if (err == 0) /* find the row again: the put may have moved the cursor's page */
                    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
            }
            if (err != 0 || rc != 0)
                break;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        int done = rc == MDB_NOTFOUND;
        if (err == 0 && rc != 0 && !done)
            err = kvs_lmdb_err(rc, what);
        if (err == 0 && !done) { /* stopped at a step's limit: the next step begins at K */
            memcpy(from, k.mv_data, k.mv_size);
            from_n = k.mv_size;
        }
        mdb_cursor_close(cur);
        if (err != 0) {
            mdb_txn_abort(txn);
            return err;
        }
        rc = mdb_txn_commit(txn);
        if (rc != 0)
            return kvs_lmdb_commit_err(db, rc, bytes, "commit upgrade");
        if (done)
            return 0;
    }
}

/* The modified_ms of store ID from its store_stats row, in format 1 or 2 (both begin with
 * u8 format, i64 modified_ms). */
static KVS_MUST_CHECK int stats_modified(MDB_txn *txn, struct kvs_lmdb *db, const char *id,
                                         int64_t *out)
{
    MDB_val v;
    int rc = db_get(txn, db->dbi[DBI_STORE_STATS], val_of(id, KVS_ID_LEN), &v, "get stats");
    if (rc == KVS_ENOTFOUND)
        return kvs_lmdb_corrupt("record (store missing)");
    if (rc != 0)
        return rc;
    struct unpacker u = unpacker_of(v);
    get_u8(&u);
    *out = (int64_t)get_u64(&u);
    return u.bad ? kvs_lmdb_corrupt("store stats") : 0;
}

/* migrate_v3's record step: a format 1 record (u8 format, u8 encoding, u8 content-type len,
 * content type, value) becomes format 2 with a new version and, as its modification time,
 * its store's (the latest the record can have been written). */
static int upgrade_record(struct kvs_lmdb *db, MDB_txn *txn, MDB_val k, MDB_val v,
                          struct v3_state *m, unsigned char **out, size_t *out_n)
{
    const unsigned char *p = v.mv_data;
    if (k.mv_size <= KVS_ID_LEN || v.mv_size < 1)
        return kvs_lmdb_corrupt("record");
    if (p[0] == RECORD_FORMAT) { /* upgraded before an interruption */
        struct kvs_record_view done;
        int rc = kvs_lmdb_parse_record(v, &done);
        if (rc == 0 && done.version > m->max_version)
            m->max_version = done.version;
        if (m->next_version <= m->max_version)
            m->next_version = m->max_version + 1;
        return rc;
    }
    if (p[0] != 1 || v.mv_size < 3 || p[1] > KVS_ENC_BR || v.mv_size - 3 < p[2])
        return kvs_lmdb_corrupt("record");
    if (memcmp(m->store, k.mv_data, KVS_ID_LEN) != 0) {
        char id[KVS_ID_LEN + 1];
        id_of((kvs_slice){k.mv_data, KVS_ID_LEN}, id);
        int rc = stats_modified(txn, db, id, &m->store_modified_ms);
        if (rc != 0)
            return rc;
        memcpy(m->store, id, KVS_ID_LEN);
    }
    struct kvs_record_view rec = {
        .encoding = (enum kvs_encoding)p[1],
        .content_type = {(const char *)p + 3, p[2]},
        .value = {(const char *)p + 3 + p[2], v.mv_size - 3 - p[2]},
        .version = m->next_version++,
        .modified_ms = m->store_modified_ms,
    };
    m->max_version = rec.version;
    *out_n = RECORD_HDR_LEN + rec.content_type.n + rec.value.n;
    *out = kvs_xmalloc(*out_n);
    kvs_lmdb_pack_record(*out, &rec);
    m->records++;
    return 1;
}

/* migrate_v3's store_stats step: format 1 (65 bytes) becomes format 2 with last_version, the
 * highest version the upgrade gave (or found) in any store. */
static int upgrade_stats(struct kvs_lmdb *db, MDB_txn *txn, MDB_val k, MDB_val v,
                         struct v3_state *m, unsigned char **out, size_t *out_n)
{
    const unsigned char *p = v.mv_data;
    if (v.mv_size == STATS_ROW_LEN && p[0] == STATS_FORMAT)
        return 0;
    if (v.mv_size != STATS_ROW_LEN - 8 || p[0] != 1)
        return kvs_lmdb_corrupt("store stats");
    *out_n = STATS_ROW_LEN;
    *out = kvs_xmalloc(STATS_ROW_LEN);
    memcpy(*out, p, v.mv_size);
    (*out)[0] = STATS_FORMAT;
    struct packer w = {*out + v.mv_size};
    put_u64(&w, m->max_version);
    m->stores++;
    return 1;
}

/* Upgrade a version 3 environment to version 4: every record gets a version and a
 * modification time (storage.h, "Record versions"), every store's stats row the last version
 * its store gave; then the schema version becomes the current one (versions 5, 6 and 7 added
 * only the tables of runs and of blobs, made empty by open_dbis, and what may follow a tokens
 * row). In steps (rewrite_rows), outside open_dbis's transaction. */
static KVS_MUST_CHECK int migrate_v3(struct kvs_lmdb *db)
{
    struct v3_state m = {.next_version = (uint64_t)kvs_now_ms() * 1000};
    int rc = rewrite_rows(db, DBI_RECORDS, "upgrade records", upgrade_record, &m);
    if (rc == 0)
        rc = rewrite_rows(db, DBI_STORE_STATS, "upgrade store stats", upgrade_stats, &m);
    MDB_txn *txn = NULL;
    if (rc == 0 && (rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
        rc = kvs_lmdb_err(rc, "begin upgrade");
    if (rc == 0)
        rc = put_schema_version(db, txn, SCHEMA_VERSION);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
        if (rc != 0)
            rc = kvs_lmdb_err(rc, "commit upgrade");
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc != 0)
        return rc;
    db->last_version = m.max_version;
    kvs_log_info("lmdb: upgraded the data from schema version 3 to %u (%zu records given "
                 "versions, %zu store stats rows rewritten)",
                 SCHEMA_VERSION, m.records, m.stores);
    return 0;
}

/* Open (creating) every DBI and check, or on a new environment write, the schema version.
 * Versions 1 and 2 are upgraded to 3 in the same transaction; version 3 to the current one after
 * it, in steps (migrate_v3); versions 4, 5 and 6 to 7 in the same transaction (version 5 added
 * only the tables of runs, version 7 the blobs table, which open_dbis has just made, empty;
 * version 6 only what may follow a tokens row). */
static KVS_MUST_CHECK int open_dbis(struct kvs_lmdb *db, const char *dir)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0)
        return kvs_lmdb_err(rc, "begin open");
    for (int i = 0; i < DBI_COUNT; i++) {
        rc = mdb_dbi_open(txn, kvs_lmdb_dbi_names[i], MDB_CREATE, &db->dbi[i]);
        if (rc != 0) {
            rc = kvs_lmdb_err(rc, kvs_lmdb_dbi_names[i]);
            goto out;
        }
    }
    MDB_val v;
    uint32_t found = SCHEMA_VERSION;
    rc = db_get(txn, db->dbi[DBI_META], val_of(VERSION_KEY, sizeof VERSION_KEY - 1), &v,
                "get schema version");
    if (rc == KVS_ENOTFOUND) {
        MDB_stat ms;
        rc = mdb_stat(txn, db->dbi[DBI_USERS], &ms);
        if (rc != 0) {
            rc = kvs_lmdb_err(rc, "stat users");
            goto out;
        }
        if (ms.ms_entries > 0) {
            kvs_log_error("lmdb: %s holds data but no schema version; refusing to open it", dir);
            rc = KVS_EIO;
            goto out;
        }
        rc = put_schema_version(db, txn, SCHEMA_VERSION);
    } else if (rc == 0) {
        struct unpacker u = unpacker_of(v);
        found = get_u32(&u);
        if (!unpacked(&u)) {
            rc = kvs_lmdb_corrupt("schema version");
        } else if (found == 1 || found == 2) {
            rc = found == 1 ? migrate_v1(db, txn) : 0;
            if (rc == 0)
                rc = migrate_v2(db, txn);
            if (rc == 0)
                rc = put_schema_version(db, txn, 3);
            found = 3;
        } else if (found == 4 || found == 5 || found == 6) {
            /* Version 5 added the runs' tables and version 7 the blobs table (made, empty,
             * above); version 6 reads every version 5 row as it is (a tokens row of a bare
             * user ID is a token without limits): only the version changes, here, in one
             * step. */
            rc = put_schema_version(db, txn, SCHEMA_VERSION);
            if (rc == 0)
                kvs_log_info("lmdb: upgraded the data from schema version %u to %u (%s)",
                             (unsigned)found, SCHEMA_VERSION,
                             found == 4   ? "runs; tokens may have a scope and an expiry; blobs"
                             : found == 5 ? "tokens may have a scope and an expiry; blobs"
                                          : "blobs");
        } else if (found != 3 && found != SCHEMA_VERSION) {
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
        rc = kvs_lmdb_err(rc, "commit open");
    if (rc == 0 && found == 3)
        rc = migrate_v3(db);
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    return rc;
}

/* Open (creating) the handle of every table, for the replay of the write-ahead log before the
 * schema is looked at. */
static KVS_MUST_CHECK int open_handles(struct kvs_lmdb *db)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    for (int i = 0; rc == 0 && i < DBI_COUNT; i++)
        rc = mdb_dbi_open(txn, kvs_lmdb_dbi_names[i], MDB_CREATE, &db->dbi[i]);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    return rc == 0 ? 0 : kvs_lmdb_err(rc, "open tables");
}

/* kvs_wal_replay's row: a put or delete in table INDEX. */
static int replay_row(void *arg, MDB_txn *txn, unsigned index, MDB_val k, const MDB_val *v)
{
    struct kvs_lmdb *db = arg;
    if (index >= DBI_COUNT)
        return EPROTO;
    MDB_val val = v ? *v : (MDB_val){0, NULL};
    int rc = v ? mdb_put(txn, db->dbi[index], &k, &val, 0) : mdb_del(txn, db->dbi[index], &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static const struct kvs_storage_ops lmdb_ops = {
    .name = "lmdb",
    .caps = KVS_CAP_SNAPSHOT | KVS_CAP_BACKUP,
    .close = lmdb_close,
    .read_begin = kvs_lmdb_read_begin,
    .read_end = kvs_lmdb_read_end,
    .meta_epoch = kvs_lmdb_meta_epoch,
    .user_count = kvs_lmdb_user_count,
    .totals = kvs_lmdb_totals,
    .user_by_token = kvs_lmdb_user_by_token,
    .user_by_name = kvs_lmdb_user_by_name,
    .user_get = kvs_lmdb_user_get,
    .store_get = kvs_lmdb_store_get,
    .store_by_name = kvs_lmdb_store_by_name,
    .store_list = kvs_lmdb_store_list,
    .store_list_visible = kvs_lmdb_store_list_visible,
    .user_list = kvs_lmdb_user_list,
    .token_list = kvs_lmdb_token_list,
    .share_get = kvs_lmdb_share_get,
    .share_list = kvs_lmdb_share_list,
    .record_get = kvs_lmdb_record_get,
    .keys_list = kvs_lmdb_keys_list,
    .run_get = kvs_lmdb_run_get,
    .run_by_store = kvs_lmdb_run_by_store,
    .run_list = kvs_lmdb_run_list,
    .apply = kvs_lmdb_apply,
    .maintain = kvs_lmdb_maintain,
    .backup = kvs_lmdb_backup,
    .disk_bytes = kvs_lmdb_disk_bytes,
    .upload_begin = kvs_lmdb_upload_begin,
    .upload_append = kvs_lmdb_upload_append,
    .upload_sync = kvs_lmdb_upload_sync,
    .upload_keep = kvs_lmdb_upload_keep,
    .upload_abort = kvs_lmdb_upload_abort,
    .blob_open = kvs_lmdb_blob_open,
    .check = kvs_lmdb_check,
    .inline_max = kvs_lmdb_inline_max,
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
    pthread_mutex_init(&db->spares_mu, NULL); /* cannot fail with default attributes (glibc) */
    db->retention_ms = (int64_t)cfg->unnamed_retention_ms;
    db->blobs_fd = -1;
    db->keep_orphans = cfg->keep_orphans;
    db->inline_max = cfg->inline_max ? cfg->inline_max : KVS_LMDB_INLINE_MAX;
    db->dir = kvs_xstrdup(cfg->dir);
    /* The log first: it may put data.mdb back to its last checkpoint before LMDB reads it. */
    int rc = kvs_wal_open(cfg, &db->wal);
    if (rc != 0)
        goto fail;
    rc = mdb_env_create(&db->env);
    if (rc != 0) {
        db->env = NULL;
        rc = kvs_lmdb_err(rc, "create environment");
        goto fail;
    }
    mdb_env_set_userctx(db->env, db); /* for the change helpers of lmdb_internal.h */
    /* No MDB_NOSYNC yet: the commits of opening (a replay, schema upgrades) are synced.
     * kvs_wal_start() decides how the commits after it are made durable. */
    if ((rc = mdb_env_set_mapsize(db->env, cfg->map_size ? cfg->map_size : DEFAULT_MAP_SIZE)) ||
        (rc = mdb_env_set_maxreaders(db->env, (cfg->max_readers ? cfg->max_readers
                                                                 : DEFAULT_MAX_READERS) +
                                                  WAL_READERS)) ||
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
        rc = kvs_lmdb_err(rc, "open environment");
        goto fail;
    }
    MDB_stat ms;
    if ((rc = mdb_env_stat(db->env, &ms)) != 0) {
        rc = kvs_lmdb_err(rc, "stat environment");
        goto fail;
    }
    db->page_size = ms.ms_psize;
    rc = kvs_wal_attach(db->wal, db->env);
    if (rc == 0 && kvs_wal_needs_replay(db->wal)) {
        rc = open_handles(db);
        if (rc == 0)
            rc = kvs_wal_replay(db->wal, replay_row, db);
    }
    if (rc != 0)
        goto fail;
    rc = open_dbis(db, cfg->dir);
    if (rc == 0)
        rc = kvs_lmdb_blobs_open(db);
    if (rc != 0)
        goto fail;
    for (int i = 0; i < DBI_COUNT; i++) {
        if (db->dbi[i] >= sizeof db->dbi_enum) {
            kvs_log_error("lmdb: table handle %u out of range", (unsigned)db->dbi[i]);
            rc = KVS_EIO;
            goto fail;
        }
        db->dbi_enum[db->dbi[i]] = (unsigned char)i;
    }
    /* A checkpoint of what is there, then (the owner) commits through the log. Stale reader
     * slots (of processes that died holding a read, or a pin) are freed in there, once the
     * checkpoint is durable. */
    rc = kvs_wal_start(db->wal);
    if (rc != 0)
        goto fail;
    db->wal_started = 1;
    db->logging = kvs_wal_owner(db->wal) ? db->wal : NULL;
    /* The meta epoch starts at the last commit there is (whoever made it). */
    MDB_envinfo info;
    if ((rc = mdb_env_info(db->env, &info)) != 0) {
        rc = kvs_lmdb_err(rc, "environment info");
        goto fail;
    }
    kvs_lmdb_committed(db, info.me_last_txnid, 1);
    rc = kvs_storage_init(&db->super, &lmdb_ops);
    if (rc != 0)
        goto fail;
    *out = &db->super;
    return 0;
fail:
    lmdb_close(&db->super);
    return rc;
}

int kvs_storage_lmdb_claim(const char *dir, int *handle)
{
    return kvs_wal_claim(dir, handle);
}

int kvs_storage_lmdb_forget_log(int handle, const char *dir)
{
    return kvs_wal_reset(handle, dir);
}

void kvs_storage_lmdb_release(int handle)
{
    kvs_wal_release(handle);
}
