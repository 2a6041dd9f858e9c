/* lmdb_maint.c — background work of the LMDB back-end, done by the writer thread while no
 * write waits: sweeping the records of deleted stores and deleting the unnamed stores that
 * retention expired, each in bounded steps; and the hot backup. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fs.h"
#include "storage/lmdb_internal.h"

#define SWEEP_MAX 5000 /* record deletions per maintenance transaction */
#define EXPIRE_MAX 256 /* unnamed_by_access rows looked at per retention step */

/* Sweep step: delete up to SWEEP_MAX records of the first dead store, and the dead_stores
 * entry once none is left, in one transaction. Returns 1 when more remains, 0 when no dead
 * store is left, or an error. */
static KVS_MUST_CHECK int sweep_step(struct kvs_storage *st)
{
    struct kvs_lmdb *db = lmdb_of(st);
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int more = 0;
    unsigned char *freed = NULL; /* the blob ids of the swept records held in files */
    size_t n_freed = 0;
    int rc = kvs_lmdb_write_begin(db, &txn);
    if (rc != 0)
        goto out;
    rc = mdb_cursor_open(txn, db->dbi[DBI_DEAD_STORES], &cur);
    if (rc != 0) {
        rc = kvs_lmdb_err(rc, "open cursor");
        goto out;
    }
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == MDB_NOTFOUND) {
        rc = 0; /* nothing to sweep: the transaction is simply dropped */
        goto out;
    }
    if (rc != 0) {
        rc = kvs_lmdb_err(rc, "first dead store");
        goto out;
    }
    unsigned char sid[KVS_ID_LEN];
    if (k.mv_size != KVS_ID_LEN) {
        rc = kvs_lmdb_corrupt("dead_stores");
        goto out;
    }
    memcpy(sid, k.mv_data, KVS_ID_LEN);
    mdb_cursor_close(cur);
    cur = NULL;

    rc = mdb_cursor_open(txn, db->dbi[DBI_RECORDS], &cur);
    if (rc != 0) {
        rc = kvs_lmdb_err(rc, "open cursor");
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
        /* a record held in a blob file: its row goes now, its file after the commit */
        struct kvs_record_view rec;
        rc = kvs_lmdb_parse_record(v, &rec);
        if (rc == 0 && rec.blob.n) {
            if (freed == NULL)
                freed = kvs_xmalloc((size_t)SWEEP_MAX * BLOB_ID_LEN);
            memcpy(freed + n_freed++ * BLOB_ID_LEN, rec.blob.p, BLOB_ID_LEN);
            rc = kvs_lmdb_blob_row_del(db, txn, rec.blob);
        }
        if (rc == 0)
            rc = db_cursor_del(cur, "sweep record");
        if (rc != 0)
            goto out;
        swept++;
    }
    if (rc == MDB_NOTFOUND || (rc == 0 && swept < SWEEP_MAX))
        store_done = 1;
    else if (rc == 0)
        store_done = k.mv_size < KVS_ID_LEN || memcmp(k.mv_data, sid, KVS_ID_LEN) != 0;
    else {
        rc = kvs_lmdb_err(rc, "sweep records");
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
            rc = kvs_lmdb_err(rc, "stat dead stores");
            goto out;
        }
        more = ms.ms_entries > 0;
    }
    rc = kvs_lmdb_commit(db, txn, 0, 1); /* records of stores already gone; deleted some */
    txn = NULL;
    int committed = rc == 0;
    if (rc == KVS_WAL_AGAIN) /* the log made room: the next step does these again */
        rc = 0;
    else if (rc != 0)
        rc = kvs_lmdb_commit_err(db, rc, 0, "commit sweep");
    for (size_t i = 0; committed && i < n_freed; i++) /* their rows are gone for good */
        kvs_lmdb_blob_remove(db, freed + i * BLOB_ID_LEN);
out:
    free(freed);
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        kvs_lmdb_write_abort(db, txn);
    return rc != 0 ? rc : more;
}

/* Retention step: delete the unnamed stores not accessed for more than db->retention_ms
 * (accessed_ms < now - retention), oldest first, looking at no more than EXPIRE_MAX rows of
 * unnamed_by_access, in one transaction. The walk stops at the first row not expired, so a
 * step costs O(expired + log n). A store whose reads are still counted in memory
 * (kvs_storage_pending_access: read within the last second, not yet flushed) is kept; its row
 * moves with the next flush. Each store goes the way of KVS_W_STORE_DELETE (kvs_lmdb_store_delete):
 * its records are then swept by sweep_step. Returns 1 when stores were deleted (more may be
 * due), 0 when none was, or an error. */
static KVS_MUST_CHECK int expire_step(struct kvs_lmdb *db)
{
    int64_t now = kvs_now_ms(), cutoff = now - db->retention_ms;
    char ids[EXPIRE_MAX][KVS_ID_LEN + 1];
    size_t n = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = kvs_lmdb_write_begin(db, &txn);
    if (rc != 0)
        goto out;
    rc = mdb_cursor_open(txn, db->dbi[DBI_UNNAMED_BY_ACCESS], &cur);
    if (rc != 0) {
        rc = kvs_lmdb_err(rc, "open cursor");
        goto out;
    }
    MDB_val k, v;
    int looked = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && looked < EXPIRE_MAX;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), looked++) {
        if (k.mv_size != ACCESS_KEY_LEN) {
            rc = kvs_lmdb_corrupt("unnamed_by_access");
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
        rc = kvs_lmdb_err(rc, "walk unnamed_by_access");
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
        rc = kvs_lmdb_store_delete(db, txn, &w, now);
        if (rc == KVS_ENOTFOUND)
            rc = kvs_lmdb_corrupt("unnamed_by_access (store missing)");
    }
    if (rc != 0)
        goto out;
    rc = kvs_lmdb_commit(db, txn, 1, 1); /* stores deleted */
    txn = NULL;
    if (rc == KVS_WAL_AGAIN) { /* the log made room: the next step deletes them */
        rc = 0;
        goto out;
    }
    if (rc != 0) {
        rc = kvs_lmdb_commit_err(db, rc, 0, "commit expire");
        goto out;
    }
    kvs_log_info("lmdb: retention: deleted %zu unnamed store%s not accessed for %lld ms", n,
                 n == 1 ? "" : "s", (long long)db->retention_ms);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        kvs_lmdb_write_abort(db, txn);
    return rc != 0 ? rc : n > 0;
}

/* Background work: first the records of deleted stores, then (with a retention) the unnamed
 * stores that expired. storage.c calls this while idle, and at least about once a second
 * (RETENTION_CHECK_MS there), so expired stores go within a second or so of expiring. */
KVS_MUST_CHECK int kvs_lmdb_maintain(struct kvs_storage *st)
{
    struct kvs_lmdb *db = lmdb_of(st);
    int r = sweep_step(st);
    if (r != 0 || db->retention_ms <= 0)
        return r;
    return expire_step(db);
}

/* ==== backup and disk use ==================================================================== */

/* The disk space of the file NAME in the data directory (blocks, so the zeros kept ahead of
 * use count and holes do not). */
static uint64_t file_bytes(const struct kvs_lmdb *db, const char *name)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", db->dir, name);
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
}

KVS_MUST_CHECK int kvs_lmdb_disk_bytes(struct kvs_storage *st, uint64_t *out)
{
    struct kvs_lmdb *db = lmdb_of(st);
    *out = file_bytes(db, "data.mdb") + file_bytes(db, "lock.mdb") + kvs_wal_disk_bytes(db->dir);
    return 0;
}

/* kvs_storage_backup(): mdb_env_copy2 with MDB_CP_COMPACT writes OUT_DIR/data.mdb from one
 * read transaction (a consistent snapshot; writers, also in other processes, go on meanwhile)
 * leaving free pages out. LMDB creates the file with O_EXCL and does not sync it, so the file
 * and then the directory (its new entry) are synced here. */
KVS_MUST_CHECK int kvs_lmdb_backup(struct kvs_storage *st, const char *out_dir)
{
    struct kvs_lmdb *db = lmdb_of(st);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/data.mdb", out_dir) >= (int)sizeof path)
        return KVS_EINVAL;
    struct stat sb;
    if (stat(path, &sb) == 0)
        return KVS_EEXIST;
    /* The environment, then the blob files its copy references. A file removed between the
     * two (its record overwritten meanwhile) makes the copy stale: made again, a few times. */
    int rc = 0;
    for (int tries = 0;; tries++) {
        rc = mdb_env_copy2(db->env, out_dir, MDB_CP_COMPACT);
        if (rc != 0) {
            unlink(path); /* no half copy left behind */
            return kvs_lmdb_err(rc, "backup copy");
        }
        rc = kvs_lmdb_blobs_backup(db, out_dir);
        if (rc == 0)
            break;
        unlink(path);
        if (rc != KVS_ESTALE || tries == 5) {
            if (rc == KVS_ESTALE)
                kvs_log_error("lmdb: backup: large records are rewritten faster than they can be "
                              "copied; try again later");
            return rc == KVS_ESTALE ? KVS_EIO : rc;
        }
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
