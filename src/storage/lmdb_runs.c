/* lmdb_runs.c — runs in the LMDB back-end (storage/run.h): the rows of the tables runs,
 * runs_by_user, runs_by_actor and runs_by_store (layout in lmdb_internal.h), the reads of runs,
 * and the parts of the write ops (lmdb_apply.c) that touch them. */
#include <stdlib.h>

#include "common/alloc.h"
#include "storage/lmdb_internal.h"

#define RUN_INDEX_KEY_LEN (KVS_ID_LEN + 8 + KVS_ID_LEN) /* runs_by_user, runs_by_actor */

#define RUN_MSG_TERMINAL 1u
#define RUN_HAS_EXIT 2u
#define RUN_HAS_MESSAGE 4u

/* ==== rows ================================================================================== */

static size_t run_row_len(const struct kvs_run *r)
{
    size_t n = 3 + 4 + 4 + 4 + 8 + 8 + 3 * KVS_ID_LEN + 1 + strlen(r->origin) + 1 +
               strlen(r->actor) + 4;
    return r->status_message ? n + strlen(r->status_message) : n;
}

static void pack_run(unsigned char *dst, const struct kvs_run *r)
{
    struct packer w = {dst};
    size_t origin_n = strlen(r->origin), actor_n = strlen(r->actor);
    size_t msg_n = r->status_message ? strlen(r->status_message) : 0;
    put_u8(&w, FORMAT);
    put_u8(&w, r->status);
    put_u8(&w, (r->message_terminal ? RUN_MSG_TERMINAL : 0) | (r->has_exit_code ? RUN_HAS_EXIT : 0) |
                   (r->status_message ? RUN_HAS_MESSAGE : 0));
    put_u32(&w, (uint32_t)r->exit_code);
    put_u32(&w, r->timeout_secs);
    put_u32(&w, r->memory_mbytes);
    put_u64(&w, (uint64_t)r->started_ms);
    put_u64(&w, (uint64_t)r->finished_ms);
    put_bytes(&w, r->user_id, KVS_ID_LEN);
    put_bytes(&w, r->act_id, KVS_ID_LEN);
    put_bytes(&w, r->store_id, KVS_ID_LEN);
    put_u8(&w, (unsigned)origin_n);
    put_bytes(&w, r->origin, origin_n);
    put_u8(&w, (unsigned)actor_n);
    put_bytes(&w, r->actor, actor_n);
    put_u32(&w, (uint32_t)msg_n);
    put_bytes(&w, r->status_message, msg_n);
}

/* Fill OUT (zeroed first; the caller releases it) from the runs row of ID. Returns 0,
 * KVS_ENOTFOUND, KVS_EIO. */
static KVS_MUST_CHECK int load_run(MDB_txn *txn, const struct kvs_lmdb *db, const char *id,
                                   struct kvs_run *out)
{
    kvs_run_clear(out);
    MDB_val v;
    int rc = db_get(txn, db->dbi[DBI_RUNS], val_of(id, KVS_ID_LEN), &v, "get run");
    if (rc != 0)
        return rc;
    struct unpacker u = unpacker_of(v);
    unsigned format = get_u8(&u);
    out->status = (uint8_t)get_u8(&u);
    unsigned flags = get_u8(&u);
    out->exit_code = (int32_t)get_u32(&u);
    out->timeout_secs = get_u32(&u);
    out->memory_mbytes = get_u32(&u);
    out->started_ms = (int64_t)get_u64(&u);
    out->finished_ms = (int64_t)get_u64(&u);
    get_str(&u, KVS_ID_LEN, out->user_id, sizeof out->user_id);
    get_str(&u, KVS_ID_LEN, out->act_id, sizeof out->act_id);
    get_str(&u, KVS_ID_LEN, out->store_id, sizeof out->store_id);
    get_str(&u, get_u8(&u), out->origin, sizeof out->origin);
    get_str(&u, get_u8(&u), out->actor, sizeof out->actor);
    uint32_t msg_n = get_u32(&u);
    const unsigned char *msg = msg_n <= KVS_RUN_MESSAGE_MAX ? take(&u, msg_n) : NULL;
    if (format != FORMAT || !unpacked(&u) || (msg_n > 0 && msg == NULL) ||
        out->status < KVS_RUN_READY || out->status > KVS_RUN_ABORTED) {
        kvs_run_clear(out);
        return kvs_lmdb_corrupt("run");
    }
    out->message_terminal = (flags & RUN_MSG_TERMINAL) != 0;
    out->has_exit_code = (flags & RUN_HAS_EXIT) != 0;
    if (flags & RUN_HAS_MESSAGE) {
        out->status_message = kvs_xmalloc(msg_n + 1);
        memcpy(out->status_message, msg, msg_n);
        out->status_message[msg_n] = '\0';
    }
    memcpy(out->id, id, KVS_ID_LEN);
    out->id[KVS_ID_LEN] = '\0';
    return 0;
}

static KVS_MUST_CHECK int save_run(MDB_txn *txn, const struct kvs_lmdb *db, const struct kvs_run *r)
{
    unsigned char *dst = NULL;
    size_t n = run_row_len(r);
    int rc = db_reserve(txn, db->dbi[DBI_RUNS], val_of(r->id, KVS_ID_LEN), n, &dst, "put run");
    if (rc == 0)
        pack_run(dst, r);
    return rc;
}

/* The runs_by_user (OWNER = the user ID) or runs_by_actor (OWNER = the act ID) key of R. */
static MDB_val index_key(unsigned char key[RUN_INDEX_KEY_LEN], const char *owner,
                         const struct kvs_run *r)
{
    memcpy(key, owner, KVS_ID_LEN);
    put_time_key(key + KVS_ID_LEN, r->started_ms);
    memcpy(key + KVS_ID_LEN + 8, r->id, KVS_ID_LEN);
    return val_of(key, RUN_INDEX_KEY_LEN);
}

/* Write both index rows of R with its status (which they carry). */
static KVS_MUST_CHECK int put_indexes(MDB_txn *txn, const struct kvs_lmdb *db,
                                      const struct kvs_run *r)
{
    unsigned char key[RUN_INDEX_KEY_LEN];
    MDB_val status = val_of(&r->status, 1);
    int rc = db_put(txn, db->dbi[DBI_RUNS_BY_USER], index_key(key, r->user_id, r), status,
                    "put runs_by_user");
    if (rc == 0)
        rc = db_put(txn, db->dbi[DBI_RUNS_BY_ACTOR], index_key(key, r->act_id, r), status,
                    "put runs_by_actor");
    return rc;
}

/* ==== reads ================================================================================= */

KVS_MUST_CHECK int kvs_lmdb_run_get(struct kvs_read *rd, kvs_slice id, struct kvs_run *out)
{
    if (id.n != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    char rid[KVS_ID_LEN + 1];
    id_of(id, rid);
    return load_run(read_of(rd)->txn, lmdb_of(rd->st), rid, out);
}

KVS_MUST_CHECK int kvs_lmdb_run_by_store(struct kvs_read *rd, kvs_slice store_id,
                                         struct kvs_run *out)
{
    if (store_id.n != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_val v;
    int rc = db_get(txn, db->dbi[DBI_RUNS_BY_STORE], val_of(store_id.p, KVS_ID_LEN), &v,
                    "get run of store");
    if (rc != 0)
        return rc; /* KVS_ENOTFOUND: not the default store of a run */
    char rid[KVS_ID_LEN + 1];
    rc = kvs_lmdb_id_value(v, rid, "runs_by_store");
    if (rc == 0)
        rc = load_run(txn, db, rid, out);
    return rc == KVS_ENOTFOUND ? kvs_lmdb_corrupt("runs_by_store (run missing)") : rc;
}

KVS_MUST_CHECK int kvs_lmdb_run_list(struct kvs_read *rd, unsigned by, kvs_slice owner,
                                     unsigned statuses, uint64_t offset, uint64_t limit, int desc,
                                     kvs_run_cb cb, void *arg, uint64_t *total)
{
    *total = 0;
    if (owner.n != KVS_ID_LEN)
        return 0;
    struct kvs_lmdb *db = lmdb_of(rd->st);
    MDB_txn *txn = read_of(rd)->txn;
    MDB_cursor *cur = NULL;
    struct kvs_run r = {0};
    int stopped = 0;
    uint64_t given = 0;
    int rc = mdb_cursor_open(txn, db->dbi[by == KVS_RUNS_OF_ACTOR ? DBI_RUNS_BY_ACTOR : DBI_RUNS_BY_USER],
                             &cur);
    if (rc != 0)
        return kvs_lmdb_err(rc, "open cursor");

    /* As kvs_lmdb_store_list: newest first starts above every key of OWNER (IDs are
     * alphanumeric, no key reaches the 0xff bytes). */
    unsigned char seek[RUN_INDEX_KEY_LEN];
    memset(seek, 0xff, sizeof seek);
    memcpy(seek, owner.p, KVS_ID_LEN);
    MDB_val k = val_of(seek, desc ? sizeof seek : KVS_ID_LEN), v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    MDB_cursor_op step = desc ? MDB_PREV : MDB_NEXT;
    if (desc && (rc == 0 || rc == MDB_NOTFOUND))
        rc = mdb_cursor_get(cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);

    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, step)) {
        if (k.mv_size != RUN_INDEX_KEY_LEN || memcmp(k.mv_data, owner.p, KVS_ID_LEN) != 0)
            break; /* past OWNER's runs */
        if (v.mv_size != 1) {
            rc = kvs_lmdb_corrupt("run index");
            goto out;
        }
        unsigned status = *(const unsigned char *)v.mv_data;
        if (statuses != 0 && (status >= 32 || !(statuses & (1u << status))))
            continue;
        uint64_t index = (*total)++;
        if (stopped || index < offset || given >= limit)
            continue; /* counted all the same, so that *TOTAL is right */
        char rid[KVS_ID_LEN + 1];
        memcpy(rid, (const unsigned char *)k.mv_data + KVS_ID_LEN + 8, KVS_ID_LEN);
        rid[KVS_ID_LEN] = '\0';
        rc = load_run(txn, db, rid, &r);
        if (rc == KVS_ENOTFOUND)
            rc = kvs_lmdb_corrupt("run index (run missing)");
        if (rc != 0)
            goto out;
        given++;
        stopped = cb(arg, &r) != 0;
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : kvs_lmdb_err(rc, "list runs");
out:
    kvs_run_clear(&r);
    mdb_cursor_close(cur);
    return rc;
}

/* ==== writes ================================================================================ */

KVS_MUST_CHECK int kvs_lmdb_run_put_new(struct kvs_lmdb *db, MDB_txn *txn, const struct kvs_run *r)
{
    int rc = save_run(txn, db, r);
    if (rc == 0)
        rc = put_indexes(txn, db, r);
    if (rc == 0)
        rc = db_put(txn, db->dbi[DBI_RUNS_BY_STORE], val_of(r->store_id, KVS_ID_LEN),
                    val_of(r->id, KVS_ID_LEN), "put runs_by_store");
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_run_update(struct kvs_lmdb *db, MDB_txn *txn,
                                       const struct kvs_write *w, int64_t now,
                                       struct kvs_run *out)
{
    kvs_run_clear(out);
    const struct kvs_run *req = w->run;
    if (req == NULL)
        return KVS_EINVAL;
    if (strnlen(req->id, sizeof req->id) != KVS_ID_LEN)
        return KVS_ENOTFOUND;
    int rc = load_run(txn, db, req->id, out);
    if (rc != 0)
        return rc;
    uint8_t before = out->status;
    rc = kvs_run_apply(out, w->update_mask, req, now);
    if (rc == 0)
        rc = save_run(txn, db, out);
    if (rc == 0 && out->status != before)
        rc = put_indexes(txn, db, out); /* the same keys: their status values change */
    return rc;
}

KVS_MUST_CHECK int kvs_lmdb_run_drop_of_store(struct kvs_lmdb *db, MDB_txn *txn,
                                              const char *store_id)
{
    MDB_val v, sid = val_of(store_id, KVS_ID_LEN);
    int rc = db_get(txn, db->dbi[DBI_RUNS_BY_STORE], sid, &v, "get run of store");
    if (rc == KVS_ENOTFOUND)
        return 0; /* not the default store of a run */
    char rid[KVS_ID_LEN + 1];
    if (rc == 0)
        rc = kvs_lmdb_id_value(v, rid, "runs_by_store");
    struct kvs_run r = {0};
    if (rc == 0)
        rc = load_run(txn, db, rid, &r);
    if (rc == KVS_ENOTFOUND)
        rc = kvs_lmdb_corrupt("runs_by_store (run missing)");
    unsigned char key[RUN_INDEX_KEY_LEN];
    if (rc == 0)
        rc = db_del(txn, db->dbi[DBI_RUNS_BY_USER], index_key(key, r.user_id, &r),
                    "del runs_by_user");
    if (rc == 0)
        rc = db_del(txn, db->dbi[DBI_RUNS_BY_ACTOR], index_key(key, r.act_id, &r),
                    "del runs_by_actor");
    if (rc == 0)
        rc = db_del(txn, db->dbi[DBI_RUNS], val_of(r.id, KVS_ID_LEN), "del run");
    if (rc == 0)
        rc = db_del(txn, db->dbi[DBI_RUNS_BY_STORE], sid, "del runs_by_store");
    kvs_run_clear(&r);
    return rc;
}
