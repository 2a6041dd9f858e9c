/* lmdb_codec.c — the LMDB back-end's errors and rows: how users, stores, their stats, records,
 * shares and token index rows are packed into LMDB values and read back (the layout is in
 * lmdb_internal.h). Every reader of a stored value checks its length and format byte. */
#include <errno.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include "common/alloc.h"
#include "storage/lmdb_internal.h"

/* Pages a commit writes besides the values (kvs_lmdb_commit_err). */
#define COMMIT_SLACK (1u << 20)

/* ==== errors ================================================================================ */

/* Translate an LMDB or errno code RC (not MDB_NOTFOUND) from WHAT into a KVS_E... code. */
KVS_MUST_CHECK int kvs_lmdb_err(int rc, const char *what)
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
 * write of a full disk (see "Errors" in lmdb_internal.h): KVS_ENOSPACE. Otherwise as
 * kvs_lmdb_err(). */
KVS_MUST_CHECK int kvs_lmdb_commit_err(struct kvs_lmdb *db, int rc, uint64_t need, const char *what)
{
    mdb_filehandle_t fd;
    struct statvfs sv;
    if (rc == EIO && mdb_env_get_fd(db->env, &fd) == 0 && fstatvfs(fd, &sv) == 0 &&
        (uint64_t)sv.f_bavail * sv.f_frsize < need + COMMIT_SLACK) {
        kvs_log_warn("lmdb: %s: short write, the file system is full (%llu bytes free)", what,
                     (unsigned long long)sv.f_bavail * sv.f_frsize);
        return KVS_ENOSPACE;
    }
    return kvs_lmdb_err(rc, what);
}

KVS_MUST_CHECK int kvs_lmdb_corrupt(const char *what)
{
    kvs_log_error("lmdb: corrupt %s value", what);
    return KVS_EIO;
}

/* ==== rows ================================================================================= */

/* ---- users ---- */

size_t kvs_lmdb_user_row_len(const struct kvs_user *u)
{
    return 1 + 1 + 1 + 8 + 1 + strlen(u->username);
}

void kvs_lmdb_pack_user(unsigned char *dst, const struct kvs_user *u)
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
KVS_MUST_CHECK int kvs_lmdb_load_user(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
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
        return kvs_lmdb_corrupt("user");
    memcpy(out->id, id, KVS_ID_LEN);
    out->id[KVS_ID_LEN] = '\0';
    return 0;
}

/* A user ID stored as the value of an index (usernames, tokens) into OUT. */
KVS_MUST_CHECK int kvs_lmdb_id_value(MDB_val v, char out[KVS_ID_LEN + 1], const char *what)
{
    if (v.mv_size != KVS_ID_LEN)
        return kvs_lmdb_corrupt(what);
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
    put_u8(&w, STATS_FORMAT);
    put_u64(&w, (uint64_t)r->modified_ms);
    put_u64(&w, (uint64_t)r->accessed_ms);
    put_u64(&w, r->s.read_count);
    put_u64(&w, r->s.write_count);
    put_u64(&w, r->s.delete_count);
    put_u64(&w, r->s.list_count);
    put_u64(&w, r->s.record_count);
    put_u64(&w, r->s.storage_bytes);
    put_u64(&w, r->last_version);
}

/* Read the store_stats row of store ID. Returns 0, KVS_ENOTFOUND (no such store), KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_load_stats(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
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
    out->last_version = get_u64(&u);
    if (format != STATS_FORMAT || !unpacked(&u))
        return kvs_lmdb_corrupt("store stats");
    return 0;
}

KVS_MUST_CHECK int kvs_lmdb_save_stats(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
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
KVS_MUST_CHECK int kvs_lmdb_load_store(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
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
        return kvs_lmdb_corrupt("store");
    memcpy(out->id, id, KVS_ID_LEN);
    out->id[KVS_ID_LEN] = '\0';

    struct stats_row sr;
    rc = kvs_lmdb_load_stats(txn, db, id, &sr);
    if (rc == KVS_ENOTFOUND)
        return kvs_lmdb_corrupt("store (no stats)");
    if (rc != 0)
        return rc;
    out->modified_ms = sr.modified_ms;
    out->accessed_ms = sr.accessed_ms;
    out->stats = sr.s;

    struct kvs_user owner;
    rc = kvs_lmdb_load_user(txn, db, out->user_id, &owner);
    if (rc == KVS_ENOTFOUND)
        return kvs_lmdb_corrupt("store (owner missing)");
    if (rc != 0)
        return rc;
    memcpy(out->username, owner.username, sizeof out->username);
    return 0;
}

KVS_MUST_CHECK int kvs_lmdb_save_store(MDB_txn *txn, const struct kvs_lmdb *db,
                                       const struct kvs_store *s)
{
    size_t n = store_row_len(s);
    unsigned char *dst = NULL;
    int rc = db_reserve(txn, db->dbi[DBI_STORES], val_of(s->id, KVS_ID_LEN), n, &dst, "put store");
    if (rc == 0)
        pack_store(dst, s);
    return rc;
}

/* Add the unnamed_by_access row of unnamed store ID accessed at MS. */
KVS_MUST_CHECK int kvs_lmdb_unnamed_put(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                        int64_t ms)
{
    unsigned char key[ACCESS_KEY_LEN], fmt = FORMAT;
    return db_put(txn, db->dbi[DBI_UNNAMED_BY_ACCESS], access_key(key, ms, id), val_of(&fmt, 1),
                  "put unnamed_by_access");
}

/* Store ID's accessed_ms changed from OLD_MS to NEW_MS: move its unnamed_by_access row, if it
 * has one (a named store has none, so a missing row means "named" and nothing is added). */
KVS_MUST_CHECK int kvs_lmdb_unnamed_touch(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                          int64_t old_ms, int64_t new_ms)
{
    if (old_ms == new_ms)
        return 0;
    unsigned char key[ACCESS_KEY_LEN];
    MDB_val k = access_key(key, old_ms, id);
    int rc = db_del_raw(txn, db->dbi[DBI_UNNAMED_BY_ACCESS], k, "del unnamed_by_access");
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    return kvs_lmdb_unnamed_put(txn, db, id, new_ms);
}

/* ---- records ---- */

/* Parse a records value into OUT. Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_parse_record(MDB_val v, struct kvs_record_view *out)
{
    const unsigned char *p = v.mv_data;
    if (v.mv_size < RECORD_HDR_LEN || (p[0] != RECORD_FORMAT && p[0] != RECORD_BLOB) ||
        p[1] > KVS_ENC_BR || v.mv_size - RECORD_HDR_LEN < p[2])
        return kvs_lmdb_corrupt("record");
    size_t ct = p[2], rest = v.mv_size - RECORD_HDR_LEN - ct;
    const char *tail = (const char *)p + RECORD_HDR_LEN + ct;
    struct unpacker u = {.p = p + 3, .n = 16};
    out->version = get_u64(&u);
    out->modified_ms = (int64_t)get_u64(&u);
    out->encoding = (enum kvs_encoding)p[1];
    out->content_type = (kvs_slice){(const char *)p + RECORD_HDR_LEN, ct};
    if (p[0] == RECORD_FORMAT) {
        out->value = (kvs_slice){tail, rest};
        out->size = rest;
        out->blob = (kvs_slice){"", 0};
        return 0;
    }
    if (rest != RECORD_BLOB_TAIL)
        return kvs_lmdb_corrupt("record");
    u = (struct unpacker){.p = (const unsigned char *)tail, .n = 8};
    out->size = get_u64(&u);
    out->blob = (kvs_slice){tail + 8, BLOB_ID_LEN};
    out->value = (kvs_slice){"", 0};
    return 0;
}

size_t kvs_lmdb_record_len(const struct kvs_record_view *rec)
{
    return RECORD_HDR_LEN + rec->content_type.n +
           (rec->blob.n ? RECORD_BLOB_TAIL : rec->value.n);
}

void kvs_lmdb_pack_record(unsigned char *dst, const struct kvs_record_view *rec)
{
    struct packer p = {dst};
    put_u8(&p, rec->blob.n ? RECORD_BLOB : RECORD_FORMAT);
    put_u8(&p, (unsigned)rec->encoding);
    put_u8(&p, (unsigned)rec->content_type.n);
    put_u64(&p, rec->version);
    put_u64(&p, (uint64_t)rec->modified_ms);
    put_bytes(&p, rec->content_type.p, rec->content_type.n);
    if (rec->blob.n) {
        put_u64(&p, rec->size);
        put_bytes(&p, rec->blob.p, BLOB_ID_LEN);
    } else {
        put_bytes(&p, rec->value.p, rec->value.n);
    }
}

/* Whether store ID was deleted and its records are not swept yet: 1, 0, or KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_store_dead(MDB_txn *txn, const struct kvs_lmdb *db, const char *id)
{
    return db_has(txn, db->dbi[DBI_DEAD_STORES], val_of(id, KVS_ID_LEN), "get dead store");
}

/* The level in a shares value V. Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_lmdb_share_value(MDB_val v, enum kvs_share_level *out)
{
    const unsigned char *p = v.mv_data;
    if (v.mv_size != 2 || p[0] != FORMAT || p[1] < KVS_SHARE_READ || p[1] > KVS_SHARE_WRITE)
        return kvs_lmdb_corrupt("share");
    *out = (enum kvs_share_level)p[1];
    return 0;
}

/* ---- tokens ---- */

/* Write the two index rows of a token (HASH of user USER_ID, with PREFIX, made at NOW). */
KVS_MUST_CHECK int kvs_lmdb_token_value(MDB_val v, char uid[KVS_ID_LEN + 1],
                                        struct kvs_token_grant *grant)
{
    if (v.mv_size < KVS_ID_LEN)
        return kvs_lmdb_corrupt("token");
    memcpy(uid, v.mv_data, KVS_ID_LEN);
    uid[KVS_ID_LEN] = '\0';
    int64_t expires = 0;
    size_t scope_n = 0;
    const unsigned char *scope = NULL;
    if (v.mv_size > KVS_ID_LEN) { /* the limits follow (schema version 6) */
        struct unpacker u = {(const unsigned char *)v.mv_data + KVS_ID_LEN,
                             v.mv_size - KVS_ID_LEN, 0};
        unsigned format = get_u8(&u);
        expires = (int64_t)get_u64(&u);
        scope_n = get_u32(&u);
        scope = scope_n <= KVS_TOKEN_SCOPE_MAX ? take(&u, scope_n) : NULL;
        if (scope == NULL && scope_n > 0)
            return kvs_lmdb_corrupt("token");
        if (format != FORMAT || !unpacked(&u) || expires < 0 || scope_n > KVS_TOKEN_SCOPE_MAX)
            return kvs_lmdb_corrupt("token");
    }
    if (grant != NULL) {
        grant->expires_ms = expires;
        grant->scope_n = scope_n;
        if (scope_n > 0)
            memcpy(grant->scope, scope, scope_n);
        grant->scope[scope_n] = '\0';
    }
    return 0;
}

KVS_MUST_CHECK int kvs_lmdb_token_put(struct kvs_lmdb *db, MDB_txn *txn,
                                      const uint8_t hash[KVS_TOKEN_HASH_LEN], const char *uid,
                                      int64_t expires_ms, kvs_slice scope)
{
    MDB_val k = val_of(hash, KVS_TOKEN_HASH_LEN);
    if (expires_ms == 0 && scope.n == 0) /* no limits: the bare user ID, as ever */
        return db_put(txn, db->dbi[DBI_TOKENS], k, val_of(uid, KVS_ID_LEN), "put token");
    if (expires_ms < 0 || scope.n > KVS_TOKEN_SCOPE_MAX)
        return KVS_EINVAL;
    size_t n = KVS_ID_LEN + 1 + 8 + 4 + scope.n;
    unsigned char *dst = NULL;
    int rc = db_reserve(txn, db->dbi[DBI_TOKENS], k, n, &dst, "put token");
    if (rc != 0)
        return rc;
    struct packer p = {dst};
    put_bytes(&p, uid, KVS_ID_LEN);
    put_u8(&p, FORMAT);
    put_u64(&p, (uint64_t)expires_ms);
    put_u32(&p, (uint32_t)scope.n);
    put_bytes(&p, scope.p, scope.n);
    return 0;
}

KVS_MUST_CHECK int kvs_lmdb_token_meta_put(struct kvs_lmdb *db, MDB_txn *txn,
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
