/* lmdb_read.c — the read ops of the LMDB back-end: a struct kvs_read is one LMDB read
 * transaction (MDB_NOTLS, so it may end on another thread), and every lookup a get or a
 * cursor walk in it. */
#include <stdlib.h>

#include "common/alloc.h"
#include "storage/lmdb_internal.h"

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

/* Up to SPARES_MAX ended reads are kept, their LMDB transactions reset (mdb_txn_reset: no
 * snapshot held, the reader slot kept). Renewing one is a few stores into that slot, where a
 * new transaction is an allocation of ~1 KiB and a scan of LMDB's reader table under its lock:
 * about 1,200 instructions of every request. Each kept one holds one of the --max-readers
 * slots (1024 by default). */
#define SPARES_MAX 32

KVS_MUST_CHECK int kvs_lmdb_read_begin(struct kvs_storage *st, struct kvs_read **out)
{
    struct kvs_lmdb *db = lmdb_of(st);
    pthread_mutex_lock(&db->spares_mu);
    struct kvs_lmdb_read *r = db->spares;
    if (r != NULL) {
        db->spares = r->next;
        db->n_spares--;
    }
    pthread_mutex_unlock(&db->spares_mu);
    if (r != NULL && mdb_txn_renew(r->txn) == 0) {
        *out = &r->super;
        return 0;
    }
    if (r != NULL) { /* renewing cannot fail but for a broken environment: try anew */
        mdb_txn_abort(r->txn);
        free(r);
    }
    r = kvs_xcalloc(1, sizeof *r);
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &r->txn);
    if (rc != 0) {
        free(r);
        return kvs_lmdb_err(rc, "begin read"); /* MDB_READERS_FULL included: KVS_EIO */
    }
    r->super.st = st;
    *out = &r->super;
    return 0;
}

void kvs_lmdb_read_end(struct kvs_read *rd)
{
    struct kvs_lmdb_read *r = read_of(rd);
    struct kvs_lmdb *db = lmdb_of(rd->st);
    mdb_txn_reset(r->txn);
    pthread_mutex_lock(&db->spares_mu);
    int keep = db->n_spares < SPARES_MAX;
    if (keep) {
        r->next = db->spares;
        db->spares = r;
        db->n_spares++;
    }
    pthread_mutex_unlock(&db->spares_mu);
    if (!keep) {
        mdb_txn_abort(r->txn);
        free(r);
    }
}

void kvs_lmdb_read_spares_free(struct kvs_lmdb *db)
{
    while (db->spares != NULL) {
        struct kvs_lmdb_read *r = db->spares;
        db->spares = r->next;
        mdb_txn_abort(r->txn);
        free(r);
    }
    db->n_spares = 0;
}

uint64_t kvs_lmdb_meta_epoch(struct kvs_read *rd)
{
    struct kvs_lmdb *db = lmdb_of(rd->st);
    uint64_t snap = mdb_txn_id(read_of(rd)->txn);
    /* Acquire: the meta_txnid written before this own_txnid is seen below. */
    if (snap != __atomic_load_n(&db->own_txnid, __ATOMIC_ACQUIRE))
        return 0;
    /* Newer than the snapshot when the writer noted a later commit meanwhile: that meta_txnid
     * says nothing of this snapshot. */
    uint64_t meta = __atomic_load_n(&db->meta_txnid, __ATOMIC_RELAXED);
    return meta <= snap ? meta + 1 : 0;
}

/* The number of entries of DBI (kept in the tree's root by LMDB, so constant time). */
static KVS_MUST_CHECK int entries(struct kvs_read *rd, int dbi, uint64_t *out)
{
    MDB_stat ms;
    int rc = mdb_stat(read_of(rd)->txn, lmdb_of(rd->st)->dbi[dbi], &ms);
    if (rc != 0)
        return kvs_lmdb_err(rc, kvs_lmdb_dbi_names[dbi]);
    *out = ms.ms_entries;
    return 0;
}

KVS_MUST_CHECK int kvs_lmdb_user_count(struct kvs_read *rd, uint64_t *out)
{
    return entries(rd, DBI_USERS, out);
}

KVS_MUST_CHECK int kvs_lmdb_totals(struct kvs_read *rd, struct kvs_storage_totals *out)
{
    int rc = entries(rd, DBI_USERS, &out->users);
    if (rc == 0)
        rc = entries(rd, DBI_STORES, &out->stores);
    if (rc == 0)
        rc = entries(rd, DBI_RECORDS, &out->records);
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_user_get(struct kvs_read *rd, kvs_slice user_id, struct kvs_user *out)
{
    if (user_id.n != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    char id[KVS_ID_LEN + 1];
    id_of(user_id, id);
    return kvs_lmdb_load_user(read_of(rd)->txn, lmdb_of(rd->st), id, out);
}

KVS_MUST_CHECK int kvs_lmdb_user_by_token(struct kvs_read *rd,
                                          const uint8_t hash[KVS_TOKEN_HASH_LEN],
                                          struct kvs_user *out, struct kvs_token_grant *grant)
{
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_val v;
    int rc = db_get(txn, db->dbi[DBI_TOKENS], val_of(hash, KVS_TOKEN_HASH_LEN), &v, "get token");
    if (rc != 0)
        return rc;
    char id[KVS_ID_LEN + 1];
    rc = kvs_lmdb_token_value(v, id, grant);
    if (rc != 0)
        return rc;
    rc = kvs_lmdb_load_user(txn, db, id, out);
    return rc == KVS_ENOTFOUND ? kvs_lmdb_corrupt("token (user missing)") : rc;
}

KVS_MUST_CHECK int kvs_lmdb_user_by_name(struct kvs_read *rd, kvs_slice username,
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
    rc = kvs_lmdb_id_value(v, id, "username");
    if (rc != 0)
        return rc;
    rc = kvs_lmdb_load_user(txn, db, id, out);
    return rc == KVS_ENOTFOUND ? kvs_lmdb_corrupt("username (user missing)") : rc;
}

KVS_MUST_CHECK int kvs_lmdb_store_get(struct kvs_read *rd, kvs_slice id, struct kvs_store *out)
{
    memset(out, 0, sizeof *out);
    if (id.n != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    char sid[KVS_ID_LEN + 1];
    id_of(id, sid);
    int rc = kvs_lmdb_load_store(read_of(rd)->txn, lmdb_of(rd->st), sid, out);
    if (rc != 0)
        kvs_store_clear(out);
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_store_by_name(struct kvs_read *rd, kvs_slice user_id, kvs_slice name,
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
    rc = kvs_lmdb_id_value(v, sid, "store name");
    if (rc == 0)
        rc = kvs_lmdb_load_store(txn, db, sid, out);
    if (rc == KVS_ENOTFOUND)
        rc = kvs_lmdb_corrupt("store name (store missing)");
    if (rc != 0)
        kvs_store_clear(out);
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_store_list(struct kvs_read *rd, kvs_slice user_id, uint64_t offset,
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
        return kvs_lmdb_err(rc, "open cursor");

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
            rc = kvs_lmdb_corrupt("store_by_user");
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
        rc = kvs_lmdb_load_store(txn, db, sid, &s);
        if (rc == KVS_ENOTFOUND)
            rc = kvs_lmdb_corrupt("store_by_user (store missing)");
        if (rc != 0)
            goto out;
        given++;
        stopped = cb(arg, &s) != 0;
        kvs_store_clear(&s);
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kvs_lmdb_err(rc, "list stores");
out:
    kvs_store_clear(&s);
    mdb_cursor_close(cur);
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_record_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice key,
                                       struct kvs_record_view *out)
{
    if (store_id.n != KVS_ID_LEN || key.n == 0 || key.n > KVS_KEY_MAX)
        return KVS_ENOTFOUND;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    char sid[KVS_ID_LEN + 1];
    id_of(store_id, sid);
    int rc = kvs_lmdb_store_dead(txn, db, sid);
    if (rc != 0)
        return rc > 0 ? KVS_ENOTFOUND : rc;
    unsigned char buf[KVS_ID_LEN + KVS_KEY_MAX];
    MDB_val v;
    rc = db_get(txn, db->dbi[DBI_RECORDS], record_key(buf, sid, key), &v, "get record");
    if (rc != 0)
        return rc;
    return kvs_lmdb_parse_record(v, out);
}

KVS_MUST_CHECK int kvs_lmdb_keys_list(struct kvs_read *rd, kvs_slice store_id, kvs_slice prefix,
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
    int rc = kvs_lmdb_store_dead(txn, db, sid);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    rc = mdb_cursor_open(txn, db->dbi[DBI_RECORDS], &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");

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
        rc = kvs_lmdb_parse_record(v, &rec);
        if (rc != 0)
            goto out;
        kv.size = rec.size;
        if (flags & (KVS_KEYS_WITH_VALUES | KVS_KEYS_WITH_TYPES))
            kv.rec = rec; /* the value too: it costs nothing here */
        given++;
        rc = cb(arg, &kv);
        if (rc != 0)
            goto out;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kvs_lmdb_err(rc, "list keys");
out:
    mdb_cursor_close(cur);
    return rc;
}

/* ==== reads: users, tokens, shares, visible stores ========================================= */

KVS_MUST_CHECK int kvs_lmdb_user_list(struct kvs_read *rd, kvs_user_cb cb, void *arg)
{
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, db->dbi[DBI_USERNAMES], &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[KVS_ID_LEN + 1];
        struct kvs_user u;
        rc = kvs_lmdb_id_value(v, id, "username");
        if (rc == 0)
            rc = kvs_lmdb_load_user(txn, db, id, &u);
        if (rc == KVS_ENOTFOUND)
            rc = kvs_lmdb_corrupt("username (user missing)");
        if (rc != 0)
            goto out;
        if (cb(arg, &u) != 0)
            break;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kvs_lmdb_err(rc, "list users");
out:
    mdb_cursor_close(cur);
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_token_list(struct kvs_read *rd, kvs_slice user_id, kvs_token_cb cb,
                                       void *arg)
{
    if (user_id.n != KVS_ID_LEN)
        return 0;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(read_of(rd)->txn, db->dbi[DBI_USER_TOKENS], &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");
    struct kvs_token_grant *grant = kvs_xmalloc(sizeof *grant); /* 4 KiB: not on the stack */
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
            rc = kvs_lmdb_corrupt("user_tokens");
            goto out;
        }
        /* what limits it, from its tokens row (the key ends with its hash) */
        MDB_val tv;
        char uid[KVS_ID_LEN + 1];
        rc = db_get(read_of(rd)->txn, db->dbi[DBI_TOKENS],
                    val_of(kp + KVS_ID_LEN + 8, KVS_TOKEN_HASH_LEN), &tv, "get token");
        if (rc == 0)
            rc = kvs_lmdb_token_value(tv, uid, grant);
        if (rc != 0) {
            rc = rc == KVS_ENOTFOUND ? kvs_lmdb_corrupt("user_tokens (token missing)") : rc;
            goto out;
        }
        t.expires_ms = grant->expires_ms;
        t.scope = (kvs_slice){grant->scope, grant->scope_n};
        if (cb(arg, &t) != 0)
            break;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kvs_lmdb_err(rc, "list tokens");
out:
    mdb_cursor_close(cur);
    free(grant);
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_share_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice user_id,
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
    return rc != 0 ? rc : kvs_lmdb_share_value(v, out);
}

KVS_MUST_CHECK int kvs_lmdb_share_list(struct kvs_read *rd, kvs_slice store_id, kvs_share_cb cb,
                                       void *arg)
{
    if (store_id.n != KVS_ID_LEN)
        return 0;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, db->dbi[DBI_SHARES], &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");
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
        rc = kvs_lmdb_share_value(v, &level);
        if (rc == 0)
            rc = kvs_lmdb_load_user(txn, db, sh.user_id, &u);
        if (rc == KVS_ENOTFOUND)
            rc = kvs_lmdb_corrupt("share (user missing)");
        if (rc != 0)
            goto out;
        sh.level = (uint8_t)level;
        memcpy(sh.username, u.username, sizeof sh.username);
        if (cb(arg, &sh) != 0)
            break;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kvs_lmdb_err(rc, "list shares");
out:
    mdb_cursor_close(cur);
    return rc;
}

/* One of the two index walks that kvs_lmdb_store_list_visible merges: store_by_user or
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
        return kvs_lmdb_err(rc, "list stores");
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
        return kvs_lmdb_err(rc, "open cursor");
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

KVS_MUST_CHECK int kvs_lmdb_store_list_visible(struct kvs_read *rd, kvs_slice user_id,
                                               unsigned which, uint64_t offset, uint64_t limit,
                                               int desc, int include_unnamed, kvs_store_share_cb cb,
                                               void *arg, uint64_t *total)
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
                rc = kvs_lmdb_corrupt("shared_with");
                break;
            }
            level = vp[1];
            named = vp[2] & 1;
        } else {
            if (w->v.mv_size != 1) {
                rc = kvs_lmdb_corrupt("store_by_user");
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
            rc = kvs_lmdb_load_store(txn, db, sid, &s);
            if (rc == KVS_ENOTFOUND)
                rc = kvs_lmdb_corrupt(w->shared ? "shared_with (store missing)"
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
