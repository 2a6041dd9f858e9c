/* lmdb_open.c — opening the LMDB back-end: the environment, its tables, the schema version
 * and the upgrades from older versions; closing; and the ops table that storage.c calls. */
#include <stdlib.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "storage/lmdb_internal.h"

#define DEFAULT_MAP_SIZE (1ull << 40) /* 1 TiB of address space; the file grows as used */
#define DEFAULT_MAX_READERS 1024u

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
};

/* ==== opening and closing =================================================================== */

static void lmdb_close(struct kvs_storage *st)
{
    struct kvs_lmdb *db = lmdb_of(st);
    if (db->env != NULL)
        mdb_env_close(db->env);
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

/* Open (creating) every DBI and check, or on a new environment write, the schema version. */
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
    static const char version_key[] = "schema_version";
    MDB_val k = val_of(version_key, sizeof version_key - 1), v;
    rc = db_get(txn, db->dbi[DBI_META], k, &v, "get schema version");
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
        unsigned char ver[4];
        struct packer p = {ver};
        put_u32(&p, SCHEMA_VERSION);
        rc = db_put(txn, db->dbi[DBI_META], k, val_of(ver, sizeof ver), "put schema version");
    } else if (rc == 0) {
        struct unpacker u = unpacker_of(v);
        uint32_t found = get_u32(&u);
        if (!unpacked(&u)) {
            rc = kvs_lmdb_corrupt("schema version");
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
        rc = kvs_lmdb_err(rc, "commit open");
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    return rc;
}

static const struct kvs_storage_ops lmdb_ops = {
    .name = "lmdb",
    .close = lmdb_close,
    .read_begin = kvs_lmdb_read_begin,
    .read_end = kvs_lmdb_read_end,
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
    .apply = kvs_lmdb_apply,
    .maintain = kvs_lmdb_maintain,
    .backup = kvs_lmdb_backup,
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
        rc = kvs_lmdb_err(rc, "create environment");
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
        rc = kvs_lmdb_err(rc, "open environment");
        goto fail;
    }
    MDB_stat ms;
    if ((rc = mdb_env_stat(db->env, &ms)) != 0) {
        rc = kvs_lmdb_err(rc, "stat environment");
        goto fail;
    }
    db->page_size = ms.ms_psize;
    /* Free the reader slots of processes that died holding a read. */
    int stale = 0;
    rc = mdb_reader_check(db->env, &stale);
    if (rc != 0) {
        rc = kvs_lmdb_err(rc, "reader check");
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
