/* backend.h — what a storage back-end implements, and the generic part it embeds.
 *
 * Only storage.c and the back-ends (lmdb_*.c, pg_*.c) include this. A back-end defines
 * one constant struct kvs_storage_ops and a struct that embeds struct kvs_storage as its
 * first member, named super (h2o's pattern; curl's vtls table). storage.c implements the
 * public functions of storage.h by calling through the table, and owns the group-commit
 * writer thread and the in-memory read statistics.
 */
#ifndef KVS_STORAGE_BACKEND_H
#define KVS_STORAGE_BACKEND_H

#include <pthread.h>

#include "storage/storage.h"

struct kvs_blob_reader;

/* Read and list counts and accessedAt counted in memory for one store, handed to the
 * back-end to add to the stored stats in the next transaction. */
struct kvs_stat_delta {
    char store_id[KVS_ID_LEN + 1];
    uint64_t reads;
    uint64_t lists;
    int64_t accessed_ms; /* the latest access; 0 = none */
};

struct kvs_storage_ops {
    const char *name;
    unsigned caps; /* KVS_CAP_* (storage.h) */

    /* Close the back-end and free the struct that embeds super. The writer has stopped. */
    void (*close)(struct kvs_storage *st);

    int (*read_begin)(struct kvs_storage *st, struct kvs_read **out);
    void (*read_end)(struct kvs_read *rd);
    /* kvs_storage_meta_epoch(). May be NULL: no epoch is known, nothing is cached. */
    uint64_t (*meta_epoch)(struct kvs_read *rd);
    /* kvs_storage_read_optimistic() and kvs_storage_read_confirm(). May be NULL (no-op, 0):
     * a back-end whose reads are snapshots gives exact epochs. */
    void (*read_optimistic)(struct kvs_read *rd);
    int (*read_confirm)(struct kvs_read *rd);
    int (*user_count)(struct kvs_read *rd, uint64_t *out);
    int (*totals)(struct kvs_read *rd, struct kvs_storage_totals *out);
    /* GRANT may be NULL: only the user is wanted. */
    int (*user_by_token)(struct kvs_read *rd, const uint8_t hash[KVS_TOKEN_HASH_LEN],
                         struct kvs_user *out, struct kvs_token_grant *grant);
    int (*user_by_name)(struct kvs_read *rd, kvs_slice username, struct kvs_user *out);
    int (*user_get)(struct kvs_read *rd, kvs_slice user_id, struct kvs_user *out);
    /* Store reads return the stored stats; storage.c adds the in-memory deltas. */
    int (*store_get)(struct kvs_read *rd, kvs_slice id, struct kvs_store *out);
    int (*store_by_name)(struct kvs_read *rd, kvs_slice user_id, kvs_slice name,
                         struct kvs_store *out);
    int (*store_list)(struct kvs_read *rd, kvs_slice user_id, uint64_t offset, uint64_t limit,
                      int desc, int include_unnamed, kvs_store_cb cb, void *arg, uint64_t *total);
    int (*store_list_visible)(struct kvs_read *rd, kvs_slice user_id, unsigned which,
                              uint64_t offset, uint64_t limit, int desc, int include_unnamed,
                              kvs_store_share_cb cb, void *arg, uint64_t *total);
    int (*user_list)(struct kvs_read *rd, kvs_user_cb cb, void *arg);
    int (*token_list)(struct kvs_read *rd, kvs_slice user_id, kvs_token_cb cb, void *arg);
    int (*share_get)(struct kvs_read *rd, kvs_slice store_id, kvs_slice user_id,
                     enum kvs_share_level *out);
    int (*share_list)(struct kvs_read *rd, kvs_slice store_id, kvs_share_cb cb, void *arg);
    int (*record_get)(struct kvs_read *rd, kvs_slice store_id, kvs_slice key,
                      struct kvs_record_view *out);
    int (*keys_list)(struct kvs_read *rd, kvs_slice store_id, kvs_slice prefix,
                     kvs_slice start_after, uint64_t limit, unsigned flags, kvs_key_cb cb,
                     void *arg, int *truncated);
    /* The reads of runs (storage/run.h). */
    int (*run_get)(struct kvs_read *rd, kvs_slice id, struct kvs_run *out);
    int (*run_by_store)(struct kvs_read *rd, kvs_slice store_id, struct kvs_run *out);
    int (*run_list)(struct kvs_read *rd, unsigned by, kvs_slice owner, unsigned statuses,
                    uint64_t offset, uint64_t limit, int desc, kvs_run_cb cb, void *arg,
                    uint64_t *total);

    /* Apply the N writes WS in one transaction, add the ND statistics DELTAS (stores that no
     * longer exist are skipped), commit, and make the commit durable before returning.
     * Sets each WS[i]->result: 0, or the op's own logical error (KVS_ENOTFOUND, KVS_EEXIST,
     * KVS_ENAMETAKEN, KVS_EPRECOND, or KVS_EINVAL for a write the storage cannot hold, e.g. an
     * over-long key), in which case that op changed nothing and the others still commit.
     * Writes apply in the order of WS, each seeing the effect of those before it (a record
     * write's preconditions included).
     * Returns 0 when the transaction committed, else the error (KVS_ENOSPACE, KVS_EIO) and
     * nothing at all was changed, WS[i]->store, ->user, ->version and ->modified_ms included
     * (outputs are written only after the commit); the writer then retries each write alone.
     * KVS_EUNAVAIL says the database could not be reached, or the connection was lost while
     * the outcome of the commit was unknown: the writer then fails every write of the batch
     * with it and retries none (a blind retry could apply a write twice).
     * Called only on the writer thread. */
    int (*apply)(struct kvs_storage *st, struct kvs_write **ws, size_t n,
                 const struct kvs_stat_delta *deltas, size_t nd);

    /* Background work done while no write waits (deleting the records of deleted stores), in
     * steps short enough not to delay writes much (LMDB: one transaction of at most a few
     * thousand deletions). Returns 1 when more work remains, 0 when none, <0 on error.
     * Called only on the writer thread; may be NULL. */
    int (*maintain)(struct kvs_storage *st);

    /* kvs_storage_backup(): a consistent, synced copy into OUT_DIR. May be NULL (KVS_EINVAL).
     * Called on any thread, concurrently with everything else. */
    int (*backup)(struct kvs_storage *st, const char *out_dir);

    /* kvs_storage_disk_bytes(). Called on any thread, concurrently with everything else. */
    int (*disk_bytes)(struct kvs_storage *st, uint64_t *out);

    /* Large records (storage.h, "Large records"). All NULL when the back-end keeps every
     * value in its rows; then kvs_storage_uploads() is 0. The back-end's upload struct embeds
     * struct kvs_upload first, named super.
     *   upload_begin   as kvs_storage_upload_begin()
     *   upload_append  as kvs_upload_append()
     *   upload_sync    make the bytes durable; on one of the storage's sync threads, before
     *                  the write that carries the upload goes to the writer. Returns 0,
     *                  KVS_ENOSPACE or KVS_EIO.
     *   upload_keep    the write that carried it committed: the bytes are the record's now;
     *                  free what U holds (not the bytes). On the writer thread.
     *   upload_abort   as kvs_upload_abort(); also for a write that failed.
     *   blob_open      open the bytes of REC (REC->blob set), found by RD: a descriptor
     *                  open for reading in *FD. KVS_ESTALE when they are gone (replaced
     *                  since RD began), KVS_EIO when damaged. Any thread.
     *   blob_reader    instead of blob_open, for bytes that are not a file (PostgreSQL's
     *                  chunks): a reader of them in *OUT (struct kvs_blob_reader), with the
     *                  same errors. Any thread; the reader is used by one thread at a time.
     *   uploads_alone  a write that carries an upload is applied in a batch of its own,
     *                  without read statistics (PostgreSQL: the upload's transaction,
     *                  which holds its chunks, becomes the batch's). */
    int (*upload_begin)(struct kvs_storage *st, uint64_t size, struct kvs_upload **out);
    int (*upload_append)(struct kvs_upload *u, const void *p, size_t n);
    int (*upload_sync)(struct kvs_upload *u);
    void (*upload_keep)(struct kvs_upload *u);
    void (*upload_abort)(struct kvs_upload *u);
    int (*blob_open)(struct kvs_read *rd, const struct kvs_record_view *rec, int *fd);
    int (*blob_reader)(struct kvs_read *rd, const struct kvs_record_view *rec,
                       struct kvs_blob_reader **out);
    int uploads_alone;
    /* kvs_storage_check(). May be NULL (nothing to check). Any thread. */
    int (*check)(struct kvs_storage *st, struct kvs_check_report *out,
                 void (*problem)(void *arg, const char *text), void *arg);
    /* The size up to which a value is best kept in the row (kvs_storage_inline_max). May
     * be NULL when the back-end takes no uploads. */
    uint64_t (*inline_max)(const struct kvs_storage *st);
};

/* Bytes held apart that are not a file: read N bytes at POS into BUF (*GOT: how many, 0 only
 * at the end), 0 or KVS_EIO; close frees the reader. Made by ops->blob_reader. */
struct kvs_blob_reader {
    int (*read)(struct kvs_blob_reader *r, uint64_t pos, void *buf, size_t n, size_t *got);
    void (*close)(struct kvs_blob_reader *r);
};

/* The generic part of every upload. A back-end's upload struct embeds it first, named super. */
struct kvs_upload {
    struct kvs_storage *st;
    uint64_t size; /* bytes appended */
};

/* The generic part of every read snapshot. A back-end's read struct embeds it first, named
 * super, and its read_begin sets st, so that storage.c can find the ops table of a read. */
struct kvs_read {
    struct kvs_storage *st;
};

#define KVS_STAT_STRIPES 16
/* Threads that make uploads durable (fdatasync of a large file can take seconds; several run
 * at once, so that a small upload does not wait behind a large one, and the file system can
 * join their journal commits). */
#define KVS_SYNC_THREADS 4

/* The generic part of every storage. Back-ends embed it first and never touch the fields
 * below ops: they belong to storage.c. */
struct kvs_storage {
    const struct kvs_storage_ops *ops;

    /* group-commit queue: submitted writes wait here for the writer thread */
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* signalled on submit and on close */
    pthread_cond_t drained; /* signalled after each batch (for kvs_storage_write) */
    struct kvs_write *head, *tail;
    int closing;
    int writer_started;
    pthread_t writer;
    struct kvs_storage_counters counters;

    /* uploads waiting to be made durable before their writes go to the writer (upload.c) */
    struct kvs_write *sync_head, *sync_tail; /* under mu */
    pthread_cond_t sync_wake;                /* signalled on a queued upload and on close */
    int sync_closing;                        /* under mu */
    unsigned n_syncers;                      /* sync threads started */
    pthread_t syncers[KVS_SYNC_THREADS];

    /* read statistics counted in memory, striped by store ID to keep lock contention low */
    struct kvs_stat_stripe {
        pthread_mutex_t mu;
        struct kvs_stat_delta *items;
        size_t n, cap;
    } stats[KVS_STAT_STRIPES];
};

/* The latest access of store STORE_ID counted in memory and not yet handed to ops->apply
 * (a struct kvs_stat_delta's accessed_ms), or 0 when none. For retention: on the writer
 * thread, every drained delta has been applied, so stored accessed_ms combined with this is
 * the store's true last access. */
int64_t kvs_storage_pending_access(struct kvs_storage *st, const char *store_id);

/* Queue W for the writer thread (kvs_storage_submit() without the checks: the sync threads
 * hand on writes whose upload is durable). Returns 0, or KVS_EUNAVAIL once the writer is
 * closing. */
KVS_MUST_CHECK int kvs_storage_enqueue(struct kvs_storage *st, struct kvs_write *w);

/* The uploads' part of set-up and shut-down (upload.c): start the sync threads (0 or
 * KVS_EIO), and, before the writer stops, let them finish what is queued and join them. */
KVS_MUST_CHECK int kvs_storage_uploads_start(struct kvs_storage *st);
void kvs_storage_uploads_stop(struct kvs_storage *st);

/* Queue W, a record put carrying an upload, for a sync thread (kvs_storage_submit()). */
KVS_MUST_CHECK int kvs_storage_submit_upload(struct kvs_storage *st, struct kvs_write *w);

/* After W's batch: keep W's upload (W committed) or remove it (W failed; but a write refused
 * with KVS_ESTALE keeps it for its submitter to submit again or abort), and clear
 * W->upload. On the writer thread. */
void kvs_storage_upload_settle(struct kvs_storage *st, struct kvs_write *w);

/* Set up the generic part and start the writer thread. Called by a back-end's open function
 * once the back-end is ready; on error the back-end closes itself. Returns 0 or KVS_EIO. */
KVS_MUST_CHECK int kvs_storage_init(struct kvs_storage *st, const struct kvs_storage_ops *ops);

#endif
