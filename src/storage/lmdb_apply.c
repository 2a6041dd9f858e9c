/* lmdb_apply.c — the write ops of the LMDB back-end: a batch of the writer thread (storage.c)
 * is one LMDB write transaction, committed with a sync, so it is durable when kvs_lmdb_apply()
 * returns. Each op checks before it changes anything, so that a logical error (not found,
 * exists, name taken, invalid) fails that op alone. */
#include <errno.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "storage/lmdb_internal.h"

#define ID_RETRIES 8 /* fresh IDs to try before calling it a failure */

/* ==== writes ================================================================================ */

/* What a write hands back to its submitter (the created or updated store, the new user),
 * held aside until the transaction commits: a write whose batch fails leaves the submitter's
 * struct untouched, so that storage.c can retry it as it was. */
struct staged {
    int has_store, has_user, has_version, has_run;
    struct kvs_store store;
    struct kvs_user user;
    struct kvs_run run; /* a run op's run (its status message owned) */
    uint64_t version; /* a record put's new version and modification time */
    int64_t modified_ms;
    /* the blob file of the record a put replaced or a delete removed: removed once the
     * transaction has committed (until then it is still the committed record's) */
    int has_freed;
    unsigned char freed[BLOB_ID_LEN];
};

/* PREV, the record about to be replaced or deleted, may be held in a blob file: delete its
 * blobs row and note the file to remove after the commit. */
static KVS_MUST_CHECK int free_blob(struct kvs_lmdb *db, MDB_txn *txn,
                                    const struct kvs_record_view *prev, struct staged *out)
{
    if (prev->blob.n == 0)
        return 0;
    memcpy(out->freed, prev->blob.p, BLOB_ID_LEN); /* PREV points into a page about to change */
    out->has_freed = 1;
    return kvs_lmdb_blob_row_del(db, txn, prev->blob);
}

/* Whether the string in the char array FIELD ends within the array (input from a client
 * passes through several hands before it reaches here). */
#define FITS(field) (strnlen((field), sizeof(field)) < sizeof(field))

/* The write's preconditions against the record (or no record: PREV NULL). Returns 0 or
 * KVS_EPRECOND. */
static KVS_MUST_CHECK int check_precond(const struct kvs_write *w,
                                        const struct kvs_record_view *prev)
{
    if (w->precond == NULL)
        return 0;
    struct kvs_precond_target cur = {0, 0, 0};
    if (prev)
        cur = (struct kvs_precond_target){1, prev->version, prev->modified_ms};
    return kvs_precond_eval(w->precond, &cur, 0, 0) == KVS_PRECOND_PASS ? 0 : KVS_EPRECOND;
}

/* The version of a record written at NOW (ms) into a store whose stats are SR: see the schema
 * (store_stats) and storage.h, "Record versions". Updates SR and DB. */
static uint64_t next_version(struct kvs_lmdb *db, struct stats_row *sr, int64_t now)
{
    uint64_t v = now > 0 ? (uint64_t)now * 1000 : 0;
    if (v <= sr->last_version)
        v = sr->last_version + 1;
    if (v <= db->last_version)
        v = db->last_version + 1;
    sr->last_version = db->last_version = v;
    return v;
}

static KVS_MUST_CHECK int record_put(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                     int64_t now, struct staged *out)
{
    if (!FITS(w->store_id) || strlen(w->store_id) != KVS_ID_LEN)
        return KVS_ENOTFOUND; /* no store has such an ID */
    if (w->key.n == 0 || w->key.n > KVS_KEY_MAX || w->content_type.n > KVS_CONTENT_TYPE_MAX ||
        (unsigned)w->encoding > KVS_ENC_BR)
        return KVS_EINVAL;
    struct stats_row sr;
    int rc = kvs_lmdb_load_stats(txn, db, w->store_id, &sr);
    if (rc != 0)
        return rc; /* KVS_ENOTFOUND: no such store */

    unsigned char kbuf[KVS_ID_LEN + KVS_KEY_MAX];
    MDB_val k = record_key(kbuf, w->store_id, w->key), old;
    rc = db_get(txn, db->dbi[DBI_RECORDS], k, &old, "get record");
    struct kvs_record_view prev;
    if (rc == 0) {
        rc = kvs_lmdb_parse_record(old, &prev);
        if (rc == 0)
            rc = check_precond(w, &prev);
        if (rc == 0)
            rc = free_blob(db, txn, &prev, out);
        if (rc != 0)
            return rc;
        sr.s.storage_bytes -= w->key.n + prev.size;
        sr.s.record_count--;
    } else if (rc == KVS_ENOTFOUND) {
        rc = check_precond(w, NULL);
        if (rc != 0)
            return rc;
    } else {
        return rc;
    }

    struct kvs_record_view rec = {.value = w->value,
                                  .size = w->value.n,
                                  .content_type = w->content_type,
                                  .encoding = w->encoding,
                                  .version = next_version(db, &sr, now),
                                  .modified_ms = now};
    if (w->upload != NULL) { /* held in its blob file, synced already (upload.c) */
        const struct kvs_lmdb_upload *u = (const struct kvs_lmdb_upload *)w->upload;
        rec.blob = (kvs_slice){(const char *)u->id, BLOB_ID_LEN};
        rec.size = u->super.size;
        rc = kvs_lmdb_blob_row_put(db, txn, u->id, rec.size, w->store_id, w->key);
        if (rc != 0)
            return rc;
    }
    unsigned char *dst = NULL;
    rc = db_reserve(txn, db->dbi[DBI_RECORDS], k, kvs_lmdb_record_len(&rec), &dst, "put record");
    if (rc != 0)
        return rc;
    kvs_lmdb_pack_record(dst, &rec);
    out->has_version = 1;
    out->version = rec.version;
    out->modified_ms = rec.modified_ms;

    sr.s.write_count++;
    sr.s.record_count++;
    sr.s.storage_bytes += w->key.n + rec.size;
    int64_t was_accessed = sr.accessed_ms;
    sr.modified_ms = sr.accessed_ms = now;
    rc = kvs_lmdb_unnamed_touch(txn, db, w->store_id, was_accessed, now);
    return rc != 0 ? rc : kvs_lmdb_save_stats(txn, db, w->store_id, &sr);
}

static KVS_MUST_CHECK int record_delete(struct kvs_lmdb *db, MDB_txn *txn,
                                        const struct kvs_write *w, int64_t now,
                                        struct staged *out)
{
    if (!FITS(w->store_id) || strlen(w->store_id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    struct stats_row sr;
    int rc = kvs_lmdb_load_stats(txn, db, w->store_id, &sr);
    if (rc != 0)
        return rc;
    if (w->key.n == 0 || w->key.n > KVS_KEY_MAX)
        return check_precond(w, NULL); /* no such key can exist: a success that changes nothing */

    unsigned char kbuf[KVS_ID_LEN + KVS_KEY_MAX];
    MDB_val k = record_key(kbuf, w->store_id, w->key), old;
    rc = db_get(txn, db->dbi[DBI_RECORDS], k, &old, "get record");
    if (rc == KVS_ENOTFOUND)
        return check_precond(w, NULL);
    if (rc != 0)
        return rc;
    struct kvs_record_view prev;
    rc = kvs_lmdb_parse_record(old, &prev);
    if (rc == 0)
        rc = check_precond(w, &prev);
    if (rc == 0)
        rc = free_blob(db, txn, &prev, out);
    if (rc != 0)
        return rc;
    uint64_t freed = w->key.n + prev.size; /* PREV points into a page mdb_del may reuse */
    rc = db_del(txn, db->dbi[DBI_RECORDS], k, "delete record");
    if (rc != 0)
        return rc;
    sr.s.delete_count++;
    sr.s.record_count--;
    sr.s.storage_bytes -= freed;
    int64_t was_accessed = sr.accessed_ms;
    sr.modified_ms = sr.accessed_ms = now;
    rc = kvs_lmdb_unnamed_touch(txn, db, w->store_id, was_accessed, now);
    return rc != 0 ? rc : kvs_lmdb_save_stats(txn, db, w->store_id, &sr);
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
    rc = kvs_lmdb_load_user(txn, db, in->user_id, &owner);
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
            rc = kvs_lmdb_id_value(v, sid, "store name");
            if (rc == 0)
                rc = kvs_lmdb_load_store(txn, db, sid, &out->store);
            if (rc != 0) {
                kvs_store_clear(&out->store);
                return rc == KVS_ENOTFOUND ? kvs_lmdb_corrupt("store name (store missing)") : rc;
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
    rc = kvs_lmdb_save_store(txn, db, s);
    if (rc == 0)
        rc = kvs_lmdb_save_stats(txn, db, s->id, &sr);
    if (rc == 0 && flags)
        rc = db_put(txn, db->dbi[DBI_STORE_NAMES], val_of(nkey, nkey_n), val_of(s->id, KVS_ID_LEN),
                    "put store name");
    if (rc == 0)
        rc = db_put(txn, db->dbi[DBI_STORE_BY_USER], val_of(bkey, sizeof bkey), val_of(&flags, 1),
                    "put store_by_user");
    if (rc == 0 && !flags)
        rc = kvs_lmdb_unnamed_put(txn, db, s->id, now); /* retention counts from now */
    return rc;
}

static KVS_MUST_CHECK int each_share(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_store *s,
                                     int drop);

/* A new URL-signing secret for S (storage.h: KVS_UPD_SECRET): every link signed before opens
 * nothing from the commit on. */
static KVS_MUST_CHECK int new_secret(struct kvs_store *s)
{
    if (kvs_random_alnum(s->secret, KVS_SECRET_LEN) != 0) {
        kvs_log_error("lmdb: the random source failed");
        return KVS_EIO;
    }
    s->secret[KVS_SECRET_LEN] = '\0';
    return 0;
}

KVS_MUST_CHECK int kvs_lmdb_write_share_gone(struct kvs_lmdb *db, MDB_txn *txn,
                                             struct kvs_store *s)
{
    int rc = new_secret(s);
    return rc == 0 ? kvs_lmdb_save_store(txn, db, s) : rc;
}

/* The level of USER_ID's share of store STORE_ID into *OUT (KVS_SHARE_NONE when none).
 * Returns 0 or an error. */
static KVS_MUST_CHECK int share_level(struct kvs_lmdb *db, MDB_txn *txn, const char *store_id,
                                      const char *user_id, enum kvs_share_level *out)
{
    unsigned char key[SHARE_KEY_LEN];
    MDB_val v;
    *out = KVS_SHARE_NONE;
    int rc = db_get(txn, db->dbi[DBI_SHARES], share_key(key, store_id, user_id), &v, "get share");
    if (rc == KVS_ENOTFOUND)
        return 0;
    return rc == 0 ? kvs_lmdb_share_value(v, out) : rc;
}

static KVS_MUST_CHECK int store_update(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                       int64_t now, struct staged *out)
{
    if (!FITS(w->store_id) || strlen(w->store_id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    int rc = check_store_fields(&w->store, w->update_mask);
    if (rc != 0)
        return rc;
    struct kvs_store store, *s = &store;
    rc = kvs_lmdb_load_store(txn, db, w->store_id, s);
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
        rc = kvs_lmdb_unnamed_put(txn, db, s->id, now);
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
    if ((w->update_mask & KVS_UPD_SECRET) && (rc = new_secret(s)) != 0)
        goto out;
    s->modified_ms = s->accessed_ms = now;
    struct stats_row sr; /* loaded again: the store struct has no last_version */
    rc = kvs_lmdb_load_stats(txn, db, s->id, &sr);
    sr.modified_ms = sr.accessed_ms = now;
    if (rc == 0)
        rc = kvs_lmdb_save_store(txn, db, s);
    if (rc == 0)
        rc = kvs_lmdb_save_stats(txn, db, s->id, &sr);
    if (rc == 0) {
        out->store = store; /* handed back once the batch commits */
        out->has_store = 1;
        return 0;
    }
out:
    kvs_store_clear(&store);
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_store_delete(struct kvs_lmdb *db, MDB_txn *txn,
                                         const struct kvs_write *w, int64_t now)
{
    if (!FITS(w->store_id) || strlen(w->store_id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    struct kvs_store s;
    int rc = kvs_lmdb_load_store(txn, db, w->store_id, &s);
    if (rc != 0)
        goto out;
    MDB_val id = val_of(s.id, KVS_ID_LEN);
    unsigned char nkey[KVS_ID_LEN + KVS_NAME_MAX], bkey[STORE_BY_USER_KEY_LEN], when[8];
    size_t nkey_n = name_key(nkey, s.user_id, s.name);
    by_user_key(bkey, &s);
    struct packer p = {when};
    put_u64(&p, (uint64_t)now);
    rc = each_share(db, txn, &s, 1);
    if (rc == 0) /* a run goes with its default store (storage/run.h) */
        rc = kvs_lmdb_run_drop_of_store(db, txn, s.id);
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
    /* The records go in the background (kvs_lmdb_maintain); until then readers skip them. */
    if (rc == 0)
        rc = db_put(txn, db->dbi[DBI_DEAD_STORES], id, val_of(when, sizeof when), "put dead store");
out:
    kvs_store_clear(&s);
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
    rc = db_reserve(txn, db->dbi[DBI_USERS], val_of(u->id, KVS_ID_LEN), kvs_lmdb_user_row_len(u),
                    &dst, "put user");
    if (rc != 0)
        return rc;
    kvs_lmdb_pack_user(dst, u);
    rc = db_put(txn, db->dbi[DBI_USERNAMES], val_of(u->username, name_n), val_of(u->id, KVS_ID_LEN),
                "put username");
    if (rc == 0)
        rc = db_put(txn, db->dbi[DBI_TOKENS], val_of(w->token_hash, KVS_TOKEN_HASH_LEN),
                    val_of(u->id, KVS_ID_LEN), "put token");
    if (rc == 0)
        rc = kvs_lmdb_token_meta_put(db, txn, w->token_hash, u->id, w->token_prefix, now);
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
    if (w->token_expires_ms < 0 || w->token_scope.n > KVS_TOKEN_SCOPE_MAX)
        return KVS_EINVAL;
    MDB_val tk = val_of(w->token_hash, KVS_TOKEN_HASH_LEN), v;
    rc = db_get(txn, db->dbi[DBI_TOKENS], tk, &v, "get token");
    if (rc == 0) { /* already there: fine if it is this user's */
        char owner[KVS_ID_LEN + 1];
        rc = kvs_lmdb_token_value(v, owner, NULL);
        return rc != 0 ? rc : strcmp(owner, uid) == 0 ? 0 : KVS_EEXIST;
    }
    if (rc != KVS_ENOTFOUND)
        return rc;
    rc = kvs_lmdb_token_put(db, txn, w->token_hash, uid, w->token_expires_ms, w->token_scope);
    if (rc == 0)
        rc = kvs_lmdb_token_meta_put(db, txn, w->token_hash, uid, w->token_prefix, now);
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
        return kvs_lmdb_err(rc, "open cursor");
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
            err = kvs_lmdb_corrupt("user_tokens");
        *created = get_time_key(kp + KVS_ID_LEN);
        *found = 1;
        break;
    }
    mdb_cursor_close(cur);
    if (err != 0)
        return err;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : kvs_lmdb_err(rc, "find token");
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
        return kvs_lmdb_err(rc, "open cursor");
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
            err = kvs_lmdb_corrupt("token prefix");
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
        return kvs_lmdb_err(rc, "find token");
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
            rc = kvs_lmdb_token_value(v, uid, NULL);
        if (rc == 0 && only != NULL && memcmp(uid, only, KVS_ID_LEN) != 0)
            rc = KVS_ENOTFOUND;
        if (rc == 0)
            rc = find_user_token(db, txn, uid, hash, &created, prefix, &indexed);
    }
    struct kvs_user owner;
    if (rc == 0)
        rc = kvs_lmdb_load_user(txn, db, uid, &owner);
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
    int rc = kvs_lmdb_load_user(txn, db, w->user.id, &u);
    if (rc != 0)
        return rc;
    u.default_access = w->user.default_access;
    unsigned char *dst = NULL;
    rc = db_reserve(txn, db->dbi[DBI_USERS], val_of(u.id, KVS_ID_LEN), kvs_lmdb_user_row_len(&u),
                    &dst, "put user");
    if (rc != 0)
        return rc;
    kvs_lmdb_pack_user(dst, &u);
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
    int rc = kvs_lmdb_load_store(txn, db, w->store_id, &s);
    if (rc == 0) {
        rc = db_has(txn, db->dbi[DBI_USERS], val_of(w->user.id, KVS_ID_LEN), "get user");
        rc = rc == 0 ? KVS_ENOTFOUND : rc > 0 ? 0 : rc;
    }
    if (rc == 0 && strcmp(s.user_id, w->user.id) == 0)
        rc = KVS_EINVAL; /* the owner has every right already */
    enum kvs_share_level was = KVS_SHARE_NONE;
    if (rc == 0)
        rc = share_level(db, txn, s.id, w->user.id, &was);
    /* WRITE taken back to READ: the sharer has seen the secret (storage.h) */
    if (rc == 0 && was == KVS_SHARE_WRITE && w->share_level != KVS_SHARE_WRITE)
        rc = kvs_lmdb_write_share_gone(db, txn, &s);
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
    enum kvs_share_level was;
    int rc = share_level(db, txn, w->store_id, w->user.id, &was);
    if (rc != 0 || was == KVS_SHARE_NONE)
        return rc != 0 ? rc : KVS_ENOTFOUND;
    struct kvs_store s;
    rc = kvs_lmdb_load_store(txn, db, w->store_id, &s);
    if (rc == KVS_ENOTFOUND)
        rc = kvs_lmdb_corrupt("share (store missing)");
    if (rc == 0 && was == KVS_SHARE_WRITE) /* the sharer has seen the secret (storage.h) */
        rc = kvs_lmdb_write_share_gone(db, txn, &s);
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
        return kvs_lmdb_err(rc, "open cursor");
    int err = 0;
    MDB_val k = val_of(s->id, KVS_ID_LEN), v;
    /* After mdb_cursor_del() the cursor stands on the next row, which MDB_NEXT then returns
     * without stepping (as in kvs_lmdb_maintain). */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *kp = k.mv_data;
        if (k.mv_size != SHARE_KEY_LEN || memcmp(kp, s->id, KVS_ID_LEN) != 0)
            break;
        char uid[KVS_ID_LEN + 1];
        enum kvs_share_level level;
        id_of((kvs_slice){kp + KVS_ID_LEN, KVS_ID_LEN}, uid);
        err = kvs_lmdb_share_value(v, &level);
        if (err == 0 && drop) {
            unsigned char wkey[STORE_BY_USER_KEY_LEN];
            shared_with_key(wkey, uid, s);
            err =
                db_del(txn, db->dbi[DBI_SHARED_WITH], val_of(wkey, sizeof wkey), "del shared_with");
            if (err == 0)
                err = db_cursor_del(cur, "del share");
        } else if (err == 0) {
            err = put_shared_with(db, txn, uid, s, level);
        }
        if (err != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (err != 0)
        return err;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : kvs_lmdb_err(rc, "walk shares");
}

/* KVS_W_RUN_CREATE: the store (store_create, checked first), then the run. */
static KVS_MUST_CHECK int run_create(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                     int64_t now, struct staged *out)
{
    const struct kvs_run *in = w->run;
    if (in == NULL || !kvs_run_fields_ok(in) || w->store.name[0] != '\0' ||
        strcmp(in->user_id, w->store.user_id) != 0)
        return KVS_EINVAL;
    struct kvs_run *r = &out->run;
    int rc = fresh_id(txn, db->dbi[DBI_RUNS], r->id);
    if (rc == 0)
        rc = store_create(db, txn, w, now, out);
    if (rc != 0)
        return rc;
    memcpy(r->user_id, in->user_id, sizeof r->user_id);
    memcpy(r->act_id, in->act_id, sizeof r->act_id);
    memcpy(r->actor, in->actor, sizeof r->actor);
    memcpy(r->origin, in->origin, sizeof r->origin);
    memcpy(r->store_id, out->store.id, sizeof r->store_id);
    r->status = KVS_RUN_RUNNING;
    r->timeout_secs = in->timeout_secs;
    r->memory_mbytes = in->memory_mbytes;
    r->started_ms = now;
    out->has_run = 1;
    return kvs_lmdb_run_put_new(db, txn, r);
}

/* ---- deleting a user ---- */

/* The keys of table DBI that start with user ID UID (one user's rows of user_tokens,
 * store_by_user or shared_with), each KEY_LEN bytes, into a new array *OUT of *N keys (free()
 * it): collected first, since the rows they lead to are deleted after the walk. */
static KVS_MUST_CHECK int user_rows(MDB_txn *txn, MDB_dbi dbi, const char *uid, size_t key_len,
                                    unsigned char **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");
    size_t cap = 0;
    int err = 0;
    MDB_val k = val_of(uid, KVS_ID_LEN), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < KVS_ID_LEN || memcmp(k.mv_data, uid, KVS_ID_LEN) != 0)
            break;
        if (k.mv_size != key_len) {
            err = kvs_lmdb_corrupt("a user's row key");
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *out = kvs_xrealloc(*out, cap * key_len);
        }
        memcpy(*out + *n * key_len, k.mv_data, key_len);
        ++*n;
    }
    mdb_cursor_close(cur);
    if (err == 0 && rc != 0 && rc != MDB_NOTFOUND)
        err = kvs_lmdb_err(rc, "walk a user's rows");
    if (err != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return err;
}

/* Whether a user other than UID is an admin: 1, 0, or an error. O(users). */
static KVS_MUST_CHECK int other_admin(struct kvs_lmdb *db, MDB_txn *txn, const char *uid)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, db->dbi[DBI_USERS], &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");
    int found = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !found;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[KVS_ID_LEN + 1];
        struct kvs_user u;
        if (k.mv_size != KVS_ID_LEN || memcmp(k.mv_data, uid, KVS_ID_LEN) == 0)
            continue;
        memcpy(id, k.mv_data, KVS_ID_LEN);
        id[KVS_ID_LEN] = '\0';
        int err = kvs_lmdb_load_user(txn, db, id, &u);
        if (err != 0) {
            mdb_cursor_close(cur);
            return err;
        }
        found = u.is_admin;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? found : kvs_lmdb_err(rc, "walk users");
}

/* Delete every token of user UID: those its user_tokens rows list, with their index rows, and
 * then any the tokens table still gives UID (a token of schema version 1 without index rows):
 * a token left behind would still open the server. */
static KVS_MUST_CHECK int user_tokens_delete(struct kvs_lmdb *db, MDB_txn *txn, const char *uid)
{
    unsigned char *keys;
    size_t n;
    int rc = user_rows(txn, db->dbi[DBI_USER_TOKENS], uid, USER_TOKEN_KEY_LEN, &keys, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const unsigned char *key = keys + i * USER_TOKEN_KEY_LEN;
        const uint8_t *hash = key + KVS_ID_LEN + 8;
        MDB_val v;
        char prefix[KVS_TOKEN_PREFIX_MAX + 1];
        unsigned char pkey[TOKEN_PREFIX_KEY_LEN];
        rc = db_get(txn, db->dbi[DBI_USER_TOKENS], val_of(key, USER_TOKEN_KEY_LEN), &v,
                    "get user token");
        if (rc == 0) {
            struct unpacker u = unpacker_of(v);
            unsigned format = get_u8(&u);
            get_str(&u, get_u8(&u), prefix, sizeof prefix);
            if (format != FORMAT || !unpacked(&u))
                rc = kvs_lmdb_corrupt("user_tokens");
        }
        if (rc == 0)
            rc = db_del(txn, db->dbi[DBI_TOKEN_PREFIXES], token_prefix_key(pkey, prefix, hash),
                        "del token prefix");
        if (rc == 0)
            rc = db_del(txn, db->dbi[DBI_TOKENS], val_of(hash, KVS_TOKEN_HASH_LEN), "del token");
        if (rc == 0)
            rc = db_del(txn, db->dbi[DBI_USER_TOKENS], val_of(key, USER_TOKEN_KEY_LEN),
                        "del user token");
    }
    free(keys);
    if (rc != 0)
        return rc;
    MDB_cursor *cur = NULL;
    rc = mdb_cursor_open(txn, db->dbi[DBI_TOKENS], &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");
    MDB_val k, v;
    int err = 0;
    /* After a delete the cursor stands on the next row, which MDB_NEXT then returns without
     * stepping (as in each_share). O(all tokens): deleting a user is rare. The delete goes
     * through db_cursor_del, so that the write-ahead log has it. */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        /* a tokens row begins with its user's ID, whatever limits follow (schema 6) */
        if (v.mv_size >= KVS_ID_LEN && memcmp(v.mv_data, uid, KVS_ID_LEN) == 0 &&
            (err = db_cursor_del(cur, "del token")) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (err != 0)
        return err;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : kvs_lmdb_err(rc, "del tokens");
}

/* Take back every share of another user's store given to user UID (its shared_with rows),
 * each as KVS_W_SHARE_DELETE does: a store they could write gets a new signing secret, since
 * they have seen the old one (storage.h, "Signing secrets"). */
static KVS_MUST_CHECK int user_shares_delete(struct kvs_lmdb *db, MDB_txn *txn, const char *uid)
{
    unsigned char *keys;
    size_t n;
    int rc = user_rows(txn, db->dbi[DBI_SHARED_WITH], uid, STORE_BY_USER_KEY_LEN, &keys, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct kvs_write sw = {.op = KVS_W_SHARE_DELETE};
        memcpy(sw.store_id, keys + i * STORE_BY_USER_KEY_LEN + KVS_ID_LEN + 8, KVS_ID_LEN);
        memcpy(sw.user.id, uid, KVS_ID_LEN);
        rc = share_delete(db, txn, &sw);
        if (rc == KVS_ENOTFOUND)
            rc = kvs_lmdb_corrupt("shared_with (share missing)");
    }
    free(keys);
    return rc;
}

/* Delete every store user UID owns, each as KVS_W_STORE_DELETE does (its records are swept). */
static KVS_MUST_CHECK int user_stores_delete(struct kvs_lmdb *db, MDB_txn *txn, const char *uid,
                                             int64_t now)
{
    unsigned char *keys;
    size_t n;
    int rc = user_rows(txn, db->dbi[DBI_STORE_BY_USER], uid, STORE_BY_USER_KEY_LEN, &keys, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct kvs_write sw = {.op = KVS_W_STORE_DELETE};
        memcpy(sw.store_id, keys + i * STORE_BY_USER_KEY_LEN + KVS_ID_LEN + 8, KVS_ID_LEN);
        rc = kvs_lmdb_store_delete(db, txn, &sw, now);
        if (rc == KVS_ENOTFOUND)
            rc = kvs_lmdb_corrupt("store_by_user (store missing)");
    }
    free(keys);
    return rc;
}

/* KVS_W_USER_DELETE (storage.h): the user's tokens, the shares they were given, their stores,
 * then the user. Whatever else comes to belong to a user is deleted here as well. */
static KVS_MUST_CHECK int user_delete(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                      int64_t now, struct staged *out)
{
    if (!FITS(w->user.id) || strlen(w->user.id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    struct kvs_user u;
    int rc = kvs_lmdb_load_user(txn, db, w->user.id, &u);
    if (rc != 0)
        return rc;
    if (u.is_admin) {
        rc = other_admin(db, txn, u.id);
        if (rc <= 0)
            return rc == 0 ? KVS_EINVAL : rc;
    }
    rc = user_tokens_delete(db, txn, u.id);
    if (rc == 0)
        rc = user_shares_delete(db, txn, u.id);
    if (rc == 0)
        rc = user_stores_delete(db, txn, u.id, now);
    if (rc == 0)
        rc = db_del(txn, db->dbi[DBI_USERNAMES], val_of(u.username, strlen(u.username)),
                    "del username");
    if (rc == 0)
        rc = db_del(txn, db->dbi[DBI_USERS], val_of(u.id, KVS_ID_LEN), "del user");
    if (rc == 0) {
        out->user = u;
        out->has_user = 1;
    }
    return rc;
}

static KVS_MUST_CHECK int apply_one(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_write *w,
                                    int64_t now, struct staged *out)
{
    switch (w->op) {
    case KVS_W_RECORD_PUT:
        return record_put(db, txn, w, now, out);
    case KVS_W_RECORD_DELETE:
        return record_delete(db, txn, w, now, out);
    case KVS_W_STORE_CREATE:
        return store_create(db, txn, w, now, out);
    case KVS_W_STORE_UPDATE:
        return store_update(db, txn, w, now, out);
    case KVS_W_STORE_DELETE:
        return kvs_lmdb_store_delete(db, txn, w, now);
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
    case KVS_W_RUN_CREATE:
        return run_create(db, txn, w, now, out);
    case KVS_W_RUN_UPDATE:
        out->has_run = 1; /* out->run is released whatever the result */
        return kvs_lmdb_run_update(db, txn, w, now, &out->run);
    case KVS_W_USER_DELETE:
        return user_delete(db, txn, w, now, out);
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
    int rc = kvs_lmdb_load_stats(txn, db, d->store_id, &sr);
    if (rc == KVS_ENOTFOUND)
        return 0; /* deleted meanwhile */
    if (rc != 0)
        return rc;
    sr.s.read_count += d->reads;
    sr.s.list_count += d->lists;
    if (d->accessed_ms > sr.accessed_ms) {
        rc = kvs_lmdb_unnamed_touch(txn, db, d->store_id, sr.accessed_ms, d->accessed_ms);
        if (rc != 0)
            return rc;
        sr.accessed_ms = d->accessed_ms;
    }
    return kvs_lmdb_save_stats(txn, db, d->store_id, &sr);
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

void kvs_lmdb_committed(struct kvs_lmdb *db, uint64_t txnid, int meta)
{
    uint64_t own = __atomic_load_n(&db->own_txnid, __ATOMIC_RELAXED);
    if (meta || txnid != own + 1) /* a gap: another process committed in between */
        __atomic_store_n(&db->meta_txnid, txnid, __ATOMIC_RELAXED);
    __atomic_store_n(&db->own_txnid, txnid, __ATOMIC_RELEASE);
}

static const char COMMIT_KEY[] = "commit"; /* its meta row: u64, the transaction's number */

KVS_MUST_CHECK int kvs_lmdb_write_begin(struct kvs_lmdb *db, MDB_txn **txn)
{
    *txn = NULL;
    int rc = db->wal_started ? kvs_wal_txn_begin(db->wal) : 0;
    if (rc != 0)
        return rc;
    rc = mdb_txn_begin(db->env, NULL, 0, txn);
    if (rc != 0) {
        *txn = NULL;
        if (db->wal_started)
            kvs_wal_txn_abort(db->wal);
        return kvs_lmdb_err(rc, "begin write");
    }
    return 0;
}

void kvs_lmdb_write_abort(struct kvs_lmdb *db, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    if (db->wal_started)
        kvs_wal_txn_abort(db->wal);
}

KVS_MUST_CHECK int kvs_lmdb_commit(struct kvs_lmdb *db, MDB_txn *txn, int meta, int changed)
{
    uint64_t txnid = mdb_txn_id(txn);
    if (!changed) {
        uint64_t le = htole64(txnid);
        MDB_val k = val_of(COMMIT_KEY, sizeof COMMIT_KEY - 1), v = val_of(&le, sizeof le);
        int rc = db_put(txn, db->dbi[DBI_META], k, v, "put commit");
        if (rc != 0) {
            kvs_lmdb_write_abort(db, txn);
            return rc == KVS_ENOSPACE ? MDB_MAP_FULL : EIO;
        }
    }
    /* Through the log (one flush, then a commit without a sync) or with LMDB's own sync: either
     * way durable when it returns. */
    int rc = db->wal_started ? kvs_wal_commit(db->wal, txn) : mdb_txn_commit(txn);
    if (rc == 0)
        kvs_lmdb_committed(db, txnid, meta);
    return rc;
}

/* Whether the N writes WS change users, tokens, stores or shares (what the meta epoch
 * covers): every op but the record ops and run updates, unless it failed (and so changed
 * nothing). */
static int changes_meta(struct kvs_write **ws, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ws[i]->op != KVS_W_RECORD_PUT && ws[i]->op != KVS_W_RECORD_DELETE &&
            ws[i]->op != KVS_W_RUN_UPDATE && ws[i]->result == 0)
            return 1;
    return 0;
}

/* Whether the N writes WS surely changed the data: a record put that succeeded always writes
 * its record (other ops may succeed without a change: a delete of a missing key). */
static int changes_data(struct kvs_write **ws, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ws[i]->op == KVS_W_RECORD_PUT && ws[i]->result == 0)
            return 1;
    return 0;
}

/* One try of kvs_lmdb_apply(). Returns as it does, or KVS_WAL_AGAIN (nothing changed). */
static KVS_MUST_CHECK int apply_once(struct kvs_lmdb *db, struct kvs_write **ws, size_t n,
                                     const struct kvs_stat_delta *deltas, size_t nd)
{
    struct staged *staged = kvs_xcalloc(n ? n : 1, sizeof *staged);
    int64_t now = kvs_now_ms();
    MDB_txn *txn = NULL;
    int rc = kvs_lmdb_write_begin(db, &txn);
    if (rc != 0)
        goto out;
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
    /* Noted before the writes' done callbacks run: a request that follows a revocation's
     * answer sees the new epoch. */
    rc = kvs_lmdb_commit(db, txn, changes_meta(ws, n), changes_data(ws, n));
    txn = NULL;
    if (rc == KVS_WAL_AGAIN)
        goto out;
    if (rc != 0) {
        uint64_t need = 0;
        for (size_t i = 0; i < n; i++)
            need += ws[i]->key.n + ws[i]->content_type.n + ws[i]->value.n;
        rc = kvs_lmdb_commit_err(db, rc, need, "commit");
        goto out;
    }
    grow_ahead(db);
    /* Committed: the outputs go to their writes, and the blob files no row references any
     * more go (a crash before this leaves them to the sweep at the next start). */
    for (size_t i = 0; i < n; i++) {
        if (staged[i].has_freed && ws[i]->result == 0)
            kvs_lmdb_blob_remove(db, staged[i].freed);
        if (staged[i].has_store) {
            kvs_store_clear(&ws[i]->store);
            ws[i]->store = staged[i].store;
            staged[i].has_store = 0;
        }
        if (staged[i].has_user)
            ws[i]->user = staged[i].user;
        if (staged[i].has_version) {
            ws[i]->version = staged[i].version;
            ws[i]->modified_ms = staged[i].modified_ms;
        }
        if (staged[i].has_run && ws[i]->result == 0) {
            kvs_run_clear(ws[i]->run);
            *ws[i]->run = staged[i].run; /* its message moves with it */
            staged[i].has_run = 0;
        }
    }
out:
    if (txn != NULL)
        kvs_lmdb_write_abort(db, txn);
    for (size_t i = 0; i < n; i++) {
        if (staged[i].has_store)
            kvs_store_clear(&staged[i].store);
        if (staged[i].has_run)
            kvs_run_clear(&staged[i].run);
    }
    free(staged);
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_apply(struct kvs_storage *st, struct kvs_write **ws, size_t n,
                                  const struct kvs_stat_delta *deltas, size_t nd)
{
    /* The log had no room: it made a checkpoint; the same writes go again (a second miss
     * cannot happen but for a transaction too large for the log, which fails with EFBIG).
     * Or the map or the disk is full: pages freed since the log's checkpoint may be reused
     * once a new checkpoint moves its pin; then they go again once more. */
    struct kvs_lmdb *db = lmdb_of(st);
    int rc = KVS_WAL_AGAIN, made_room = 0;
    for (int tries = 0; tries < 4; tries++) {
        rc = apply_once(db, ws, n, deltas, nd);
        if (rc == KVS_ENOSPACE && db->logging && !made_room) {
            made_room = 1;
            if (kvs_wal_make_room(db->wal))
                continue;
        }
        if (rc != KVS_WAL_AGAIN)
            break;
    }
    return rc == KVS_WAL_AGAIN ? KVS_EIO : rc;
}
