/* storage.c — the back-end independent part of the storage (see storage.h and backend.h).
 *
 * Three things live here, the same for every back-end:
 *
 *   - Dispatch: each public function of storage.h calls through the back-end's ops table.
 *
 *   - The group-commit writer. Every write is queued by kvs_storage_submit() and applied by
 *     one writer thread, which takes everything queued at once (up to BATCH_MAX writes or
 *     BATCH_BYTES_MAX bytes of values) and hands it to ops->apply: one transaction and one
 *     sync for the whole batch. While a sync is under way new writes pile up in the queue and
 *     form the next batch, so the number of syncs per second stays bounded however many
 *     clients write. When the queue is empty the writer does the back-end's background work
 *     (ops->maintain) in short steps, giving way as soon as a write arrives.
 *
 *   - Read statistics. Counting every record read in the database would turn each read into
 *     a write, so kvs_storage_note_access() counts in memory instead, in KVS_STAT_STRIPES
 *     small hash tables each under its own mutex (chosen by hashing the store ID, so readers
 *     of different stores rarely meet on a lock). The writer drains all stripes into the
 *     transaction of each batch, and at least once every FLUSH_INTERVAL_MS when no write
 *     comes. Store reads add what is still in memory to the stats they return.
 *     One imprecision is accepted: while a batch that carries drained counts is being
 *     committed (the length of one sync), a store read from a snapshot taken before that
 *     commit misses those counts. Read counts are statistics, not data.
 */
#include "storage/backend.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "kvs.h"

/* A batch holds at most BATCH_MAX writes and BATCH_BYTES_MAX bytes of values: LMDB keeps a
 * transaction's dirty pages in memory until the commit, a second copy of each value besides
 * the request's. A sync of 16 MiB takes long enough that its fixed cost no longer counts, so
 * large records lose nothing to smaller batches, and at most 16 MiB more are held. */
#define BATCH_MAX 1024
#define BATCH_BYTES_MAX (16u << 20)
#define FLUSH_INTERVAL_MS 1000  /* in-memory statistics are stored at least this often */
#define MAINTAIN_RETRY_MS 10000 /* pause after a failed maintenance step */
#define RETENTION_CHECK_MS 1000 /* ops->maintain runs at least this often (retention is timed) */

/* ==== small helpers ========================================================================= */

/* glibc's default mutex and condition-variable initialisers cannot fail; if one ever did, the
 * process could not work at all, so it ends like an out-of-memory does. */
static void must(int rc, const char *what)
{
    if (rc != 0) {
        kvs_log_error("storage: %s: %s", what, strerror(rc));
        abort();
    }
}

void kvs_store_clear(struct kvs_store *s)
{
    if (s == NULL)
        return;
    free(s->schema);
    memset(s, 0, sizeof *s);
}

/* ==== in-memory read statistics ============================================================= */

/* Each stripe is an open-addressing hash table (linear probing) of kvs_stat_delta, keyed by
 * store ID; an empty slot has an empty store_id. Entries are never removed one by one, only
 * all at once when the writer drains the stripe, so probing needs no tombstones. The load
 * factor stays at most 1/2. */

/* FNV-1a over the ID. The low bits choose the stripe, the rest the slot. */
static uint64_t id_hash(const char *id)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

static struct kvs_stat_stripe *stripe_of(struct kvs_storage *st, uint64_t h)
{
    return &st->stats[h % KVS_STAT_STRIPES];
}

static size_t slot_start(uint64_t h, size_t cap)
{
    return (size_t)(h / KVS_STAT_STRIPES) & (cap - 1);
}

/* The entry for ID in stripe SP, or NULL. The stripe's mutex is held. */
static struct kvs_stat_delta *stripe_find(struct kvs_stat_stripe *sp, const char *id, uint64_t h)
{
    if (sp->cap == 0)
        return NULL;
    for (size_t i = slot_start(h, sp->cap);; i = (i + 1) & (sp->cap - 1)) {
        struct kvs_stat_delta *d = &sp->items[i];
        if (d->store_id[0] == '\0')
            return NULL;
        if (strcmp(d->store_id, id) == 0)
            return d;
    }
}

/* The entry for ID in stripe SP, added (zeroed) when missing. The stripe's mutex is held. */
static struct kvs_stat_delta *stripe_get(struct kvs_stat_stripe *sp, const char *id, uint64_t h)
{
    if ((sp->n + 1) * 2 > sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 16;
        struct kvs_stat_delta *items = kvs_xcalloc(cap, sizeof *items);
        for (size_t i = 0; i < sp->cap; i++) {
            const struct kvs_stat_delta *d = &sp->items[i];
            if (d->store_id[0] == '\0')
                continue;
            size_t j = slot_start(id_hash(d->store_id), cap);
            while (items[j].store_id[0] != '\0')
                j = (j + 1) & (cap - 1);
            items[j] = *d;
        }
        free(sp->items);
        sp->items = items;
        sp->cap = cap;
    }
    size_t i = slot_start(h, sp->cap);
    for (;; i = (i + 1) & (sp->cap - 1)) {
        struct kvs_stat_delta *d = &sp->items[i];
        if (d->store_id[0] == '\0')
            break;
        if (strcmp(d->store_id, id) == 0)
            return d;
    }
    struct kvs_stat_delta *d = &sp->items[i];
    memset(d, 0, sizeof *d);
    strcpy(d->store_id, id); /* the caller made ID at most KVS_ID_LEN bytes */
    sp->n++;
    return d;
}

/* Copy the store ID ID into KEY, cut to KVS_ID_LEN bytes (what any stored ID is). */
static void id_key(const char *id, char key[KVS_ID_LEN + 1])
{
    size_t n = strnlen(id, KVS_ID_LEN);
    memcpy(key, id, n);
    key[n] = '\0';
}

void kvs_storage_note_access(struct kvs_storage *st, const char *store_id, unsigned what)
{
    char key[KVS_ID_LEN + 1];
    id_key(store_id, key);
    if (key[0] == '\0')
        return; /* no store has an empty ID, and it would look like a free slot */
    int64_t now = kvs_now_ms();
    uint64_t h = id_hash(key);
    struct kvs_stat_stripe *sp = stripe_of(st, h);
    pthread_mutex_lock(&sp->mu);
    struct kvs_stat_delta *d = stripe_get(sp, key, h);
    if (what & KVS_NOTE_READ)
        d->reads++;
    if (what & KVS_NOTE_LIST)
        d->lists++;
    if (now > d->accessed_ms)
        d->accessed_ms = now;
    pthread_mutex_unlock(&sp->mu);
}

int64_t kvs_storage_pending_access(struct kvs_storage *st, const char *store_id)
{
    char key[KVS_ID_LEN + 1];
    id_key(store_id, key);
    if (key[0] == '\0')
        return 0;
    uint64_t h = id_hash(key);
    struct kvs_stat_stripe *sp = stripe_of(st, h);
    pthread_mutex_lock(&sp->mu);
    const struct kvs_stat_delta *d = stripe_find(sp, key, h);
    int64_t at = d != NULL ? d->accessed_ms : 0;
    pthread_mutex_unlock(&sp->mu);
    return at;
}

/* Add the counts still held in memory for store S to its stats, as store reads promise. */
static void add_pending(struct kvs_storage *st, struct kvs_store *s)
{
    char key[KVS_ID_LEN + 1];
    id_key(s->id, key);
    if (key[0] == '\0')
        return;
    uint64_t h = id_hash(key);
    struct kvs_stat_stripe *sp = stripe_of(st, h);
    pthread_mutex_lock(&sp->mu);
    const struct kvs_stat_delta *d = stripe_find(sp, key, h);
    if (d != NULL) {
        s->stats.read_count += d->reads;
        s->stats.list_count += d->lists;
        if (d->accessed_ms > s->accessed_ms)
            s->accessed_ms = d->accessed_ms;
    }
    pthread_mutex_unlock(&sp->mu);
}

/* The writer's buffer of drained deltas; reused from batch to batch. */
struct delta_vec {
    struct kvs_stat_delta *items;
    size_t n, cap;
};

/* Move every stripe's counts into DV (replacing its contents) and empty the stripes.
 * Returns the number of deltas. */
static size_t drain_stats(struct kvs_storage *st, struct delta_vec *dv)
{
    dv->n = 0;
    for (size_t s = 0; s < KVS_STAT_STRIPES; s++) {
        struct kvs_stat_stripe *sp = &st->stats[s];
        pthread_mutex_lock(&sp->mu);
        if (sp->n > 0) {
            if (dv->n + sp->n > dv->cap) {
                dv->cap = (dv->n + sp->n) * 2;
                dv->items = kvs_xrealloc(dv->items, dv->cap * sizeof *dv->items);
            }
            for (size_t i = 0; i < sp->cap; i++)
                if (sp->items[i].store_id[0] != '\0')
                    dv->items[dv->n++] = sp->items[i];
            /* A stripe that grew for a burst of many stores gives the memory back once the
             * burst is over; otherwise the table is kept for the next second. */
            if (sp->cap > 1024 && sp->n < sp->cap / 8) {
                free(sp->items);
                sp->items = NULL;
                sp->cap = 0;
            } else {
                memset(sp->items, 0, sp->cap * sizeof *sp->items);
            }
            sp->n = 0;
        }
        pthread_mutex_unlock(&sp->mu);
    }
    return dv->n;
}

/* ==== the group-commit writer =============================================================== */

/* Apply BATCH (N writes) and the deltas in one transaction. If that fails as a whole and the
 * batch held several writes, apply each write alone, so that one write the back-end cannot
 * take (say, a value too large for the remaining space) does not fail the others; the deltas
 * then get one more try of their own. Sets every write's result and adds what committed to
 * *C. */
static void commit_batch(struct kvs_storage *st, struct kvs_write **batch, size_t n,
                         const struct kvs_stat_delta *deltas, size_t nd,
                         struct kvs_storage_counters *c)
{
    int rc = st->ops->apply(st, batch, n, deltas, nd);
    if (rc == 0) {
        c->batches++;
        c->writes += n;
        return;
    }
    if (rc == KVS_EUNAVAIL) {
        /* Unreachable, or the commit's outcome is unknown: retrying could apply twice. */
        for (size_t i = 0; i < n; i++)
            batch[i]->result = rc;
        if (nd > 0)
            kvs_log_warn("storage: read statistics of %zu stores dropped (%s)", nd,
                         kvs_errname(rc));
        return;
    }
    if (n == 1) {
        batch[0]->result = rc;
    } else if (n > 1) {
        kvs_log_warn("storage: a batch of %zu writes failed (%s); applying each alone", n,
                     kvs_errname(rc));
        for (size_t i = 0; i < n; i++) {
            int r = st->ops->apply(st, &batch[i], 1, NULL, 0);
            if (r == 0) {
                c->batches++;
                c->writes++;
            } else {
                batch[i]->result = r;
            }
        }
    }
    if (nd > 0 && n > 0)
        rc = st->ops->apply(st, NULL, 0, deltas, nd);
    if (nd > 0 && rc != 0)
        kvs_log_warn("storage: read statistics of %zu stores dropped (%s)", nd, kvs_errname(rc));
    else if (nd > 0)
        c->batches++;
}

/* Whether W goes in a batch of its own: it carries an upload, and the back-end wants those
 * alone (ops->uploads_alone: PostgreSQL runs the batch in the upload's transaction). */
static int goes_alone(const struct kvs_storage *st, const struct kvs_write *w)
{
    return st->ops->uploads_alone && w->upload != NULL;
}

/* Unlink up to BATCH_MAX queued writes (and at most BATCH_BYTES_MAX bytes of values, but
 * always at least one write) into BATCH. ST->mu is held. Returns how many; a write that
 * goes_alone() is a batch of its own. */
static size_t take_batch(struct kvs_storage *st, struct kvs_write **batch)
{
    size_t n = 0, bytes = 0;
    while (st->head != NULL && n < BATCH_MAX) {
        struct kvs_write *w = st->head;
        if (n > 0 && (bytes + w->value.n > BATCH_BYTES_MAX || goes_alone(st, w)))
            break;
        bytes += w->value.n;
        st->head = w->next;
        w->next = NULL;
        batch[n++] = w;
        if (goes_alone(st, w))
            break;
    }
    if (st->head == NULL)
        st->tail = NULL;
    return n;
}

/* Wait on ST->wake until signalled or until the monotonic time DEADLINE_MS. */
static void wait_until(struct kvs_storage *st, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000,
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000};
    int rc = pthread_cond_timedwait(&st->wake, &st->mu, &ts);
    if (rc != 0 && rc != ETIMEDOUT)
        must(rc, "pthread_cond_timedwait");
}

static void *writer_main(void *arg)
{
    struct kvs_storage *st = arg;
    struct kvs_write **batch = kvs_xmalloc(BATCH_MAX * sizeof *batch);
    struct delta_vec dv = {0};
    int has_maintain = st->ops->maintain != NULL;
    int maintain = has_maintain;   /* background work may be left from before a restart */
    int64_t maintain_retry_at = 0; /* after a failure, when to try again; 0 = no failure */
    int64_t next_flush = kvs_mono_ms() + FLUSH_INTERVAL_MS;
    int64_t next_retention_check = kvs_mono_ms() + RETENTION_CHECK_MS;

    pthread_mutex_lock(&st->mu);
    for (;;) {
        /* Idle: do background work while no write waits, else sleep until a write comes,
         * the statistics are due, or the storage closes. */
        while (st->head == NULL && !st->closing) {
            int64_t now = kvs_mono_ms();
            if (now >= next_flush)
                break; /* also between maintenance steps: a long sweep must not hold them */
            if (maintain) {
                pthread_mutex_unlock(&st->mu);
                int r = st->ops->maintain(st);
                pthread_mutex_lock(&st->mu);
                maintain = r == 1;
                if (r < 0) {
                    kvs_log_error("storage: background maintenance failed (%s); retrying in %d s",
                                  kvs_errname(r), MAINTAIN_RETRY_MS / 1000);
                    maintain_retry_at = now + MAINTAIN_RETRY_MS;
                }
                continue;
            }
            wait_until(st, next_flush);
        }
        size_t n = take_batch(st, batch);
        int stop = st->closing && st->head == NULL;
        pthread_mutex_unlock(&st->mu);

        /* An upload's batch of its own goes without the statistics (ops->uploads_alone). */
        size_t nd = n == 1 && goes_alone(st, batch[0]) ? 0 : drain_stats(st, &dv);
        next_flush = kvs_mono_ms() + FLUSH_INTERVAL_MS;
        struct kvs_storage_counters c = {0};
        if (n > 0 || nd > 0)
            commit_batch(st, batch, n, dv.items, nd, &c);
        for (size_t i = 0; i < n; i++)
            if ((batch[i]->op == KVS_W_STORE_DELETE || batch[i]->op == KVS_W_USER_DELETE) &&
                batch[i]->result == 0)
                maintain = has_maintain; /* records to sweep */
        if (maintain_retry_at != 0 && kvs_mono_ms() >= maintain_retry_at) {
            maintain = has_maintain;
            maintain_retry_at = 0;
        }
        /* Stores also expire with time alone (retention, in ops->maintain): look again about
         * once a second, after the flush above has stored the latest accesses. */
        if (maintain_retry_at == 0 && kvs_mono_ms() >= next_retention_check) {
            maintain = has_maintain;
            next_retention_check = kvs_mono_ms() + RETENTION_CHECK_MS;
        }
        /* Counted before the callbacks, so that whoever a callback wakes sees the counts. */
        pthread_mutex_lock(&st->mu);
        st->counters.batches += c.batches;
        st->counters.writes += c.writes;
        pthread_mutex_unlock(&st->mu);
        /* After done() the write belongs to its submitter again: not touched from here on.
         * Its upload is kept or removed with its outcome first. */
        for (size_t i = 0; i < n; i++) {
            kvs_storage_upload_settle(st, batch[i]);
            batch[i]->done(batch[i]);
        }

        pthread_mutex_lock(&st->mu);
        pthread_cond_broadcast(&st->drained);
        if (stop)
            break;
    }
    pthread_mutex_unlock(&st->mu);
    free(dv.items);
    free(batch);
    return NULL;
}

/* ==== set-up and shut-down ================================================================== */

static void close_writer(struct kvs_storage *st);

static void generic_destroy(struct kvs_storage *st)
{
    for (size_t s = 0; s < KVS_STAT_STRIPES; s++) {
        pthread_mutex_destroy(&st->stats[s].mu);
        free(st->stats[s].items);
        st->stats[s].items = NULL;
    }
    pthread_cond_destroy(&st->drained);
    pthread_cond_destroy(&st->sync_wake);
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->mu);
}

int kvs_storage_init(struct kvs_storage *st, const struct kvs_storage_ops *ops)
{
    st->ops = ops;
    st->head = st->tail = NULL;
    st->closing = 0;
    st->writer_started = 0;
    memset(&st->counters, 0, sizeof st->counters);

    must(pthread_mutex_init(&st->mu, NULL), "pthread_mutex_init");
    /* The writer's timed wait measures intervals, so it must not jump with the wall clock. */
    pthread_condattr_t ca;
    must(pthread_condattr_init(&ca), "pthread_condattr_init");
    must(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), "pthread_condattr_setclock");
    must(pthread_cond_init(&st->wake, &ca), "pthread_cond_init");
    must(pthread_cond_init(&st->drained, NULL), "pthread_cond_init");
    must(pthread_cond_init(&st->sync_wake, NULL), "pthread_cond_init");
    st->sync_head = st->sync_tail = NULL;
    st->sync_closing = 0;
    st->n_syncers = 0;
    pthread_condattr_destroy(&ca);
    for (size_t s = 0; s < KVS_STAT_STRIPES; s++) {
        must(pthread_mutex_init(&st->stats[s].mu, NULL), "pthread_mutex_init");
        st->stats[s].items = NULL;
        st->stats[s].n = st->stats[s].cap = 0;
    }

    int rc = pthread_create(&st->writer, NULL, writer_main, st);
    if (rc != 0) {
        kvs_log_error("storage: cannot start the writer thread: %s", strerror(rc));
        generic_destroy(st);
        return KVS_EIO;
    }
    st->writer_started = 1;
    rc = kvs_storage_uploads_start(st);
    if (rc != 0) {
        close_writer(st);
        generic_destroy(st);
        return rc;
    }
    return 0;
}

/* Stop the writer thread once it has finished its queue and flushed the statistics. */
static void close_writer(struct kvs_storage *st)
{
    if (!st->writer_started)
        return;
    pthread_mutex_lock(&st->mu);
    st->closing = 1;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->mu);
    must(pthread_join(st->writer, NULL), "pthread_join");
    st->writer_started = 0;
}

void kvs_storage_close(struct kvs_storage *st)
{
    if (st == NULL)
        return;
    /* Uploads being synced still go to the writer, which is stopped after them. */
    kvs_storage_uploads_stop(st);
    close_writer(st);
    generic_destroy(st);
    st->ops->close(st);
}

const char *kvs_storage_name(const struct kvs_storage *st)
{
    return st->ops->name;
}

unsigned kvs_storage_caps(const struct kvs_storage *st)
{
    return st->ops->caps;
}

int kvs_storage_disk_bytes(struct kvs_storage *st, uint64_t *out)
{
    *out = 0;
    return st->ops->disk_bytes(st, out);
}

int kvs_storage_spec_is_pg(const char *spec)
{
    return spec != NULL &&
           (strncmp(spec, "postgres://", 11) == 0 || strncmp(spec, "postgresql://", 13) == 0);
}

int kvs_storage_open(const struct kvs_storage_config *cfg, struct kvs_storage **out)
{
    if (cfg->pg_uri != NULL)
        return kvs_storage_open_pg(cfg, out);
    return kvs_storage_open_lmdb(cfg, out);
}

int kvs_storage_check(struct kvs_storage *st, struct kvs_check_report *out,
                      void (*problem)(void *arg, const char *text), void *arg)
{
    memset(out, 0, sizeof *out);
    return st->ops->check ? st->ops->check(st, out, problem, arg) : KVS_EINVAL;
}

int kvs_storage_backup(struct kvs_storage *st, const char *out_dir)
{
    if (st->ops->backup == NULL || out_dir == NULL || out_dir[0] == '\0')
        return KVS_EINVAL;
    return st->ops->backup(st, out_dir);
}

/* ==== writes ================================================================================ */

int kvs_storage_submit(struct kvs_storage *st, struct kvs_write *w)
{
    assert(w->done != NULL);
    w->next = NULL;
    w->result = 0;
    if (w->upload != NULL) /* made durable first, on a sync thread (upload.c) */
        return kvs_storage_submit_upload(st, w);
    return kvs_storage_enqueue(st, w);
}

int kvs_storage_enqueue(struct kvs_storage *st, struct kvs_write *w)
{
    w->next = NULL;
    pthread_mutex_lock(&st->mu);
    if (st->closing) {
        pthread_mutex_unlock(&st->mu);
        return KVS_EUNAVAIL;
    }
    if (st->tail != NULL)
        st->tail->next = w;
    else
        st->head = w;
    st->tail = w;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->mu);
    return 0;
}

/* What kvs_storage_write() waits for; on the waiting thread's stack. */
struct write_wait {
    struct kvs_storage *st;
    int done; /* under st->mu */
};

static void write_done(struct kvs_write *w)
{
    struct write_wait *ww = w->arg;
    pthread_mutex_lock(&ww->st->mu);
    ww->done = 1;
    pthread_mutex_unlock(&ww->st->mu);
    /* The writer broadcasts st->drained once the batch's callbacks have run. */
}

int kvs_storage_write(struct kvs_storage *st, struct kvs_write *w)
{
    void (*done)(struct kvs_write *) = w->done;
    void *arg = w->arg;
    struct write_wait ww = {.st = st, .done = 0};
    w->done = write_done;
    w->arg = &ww;
    int rc = kvs_storage_submit(st, w);
    if (rc == 0) {
        pthread_mutex_lock(&st->mu);
        while (!ww.done)
            pthread_cond_wait(&st->drained, &st->mu);
        pthread_mutex_unlock(&st->mu);
        rc = w->result;
    }
    w->done = done;
    w->arg = arg;
    return rc;
}

void kvs_storage_counters(struct kvs_storage *st, struct kvs_storage_counters *out)
{
    pthread_mutex_lock(&st->mu);
    *out = st->counters;
    pthread_mutex_unlock(&st->mu);
}

/* ==== reads ================================================================================= */

int kvs_storage_read_begin(struct kvs_storage *st, struct kvs_read **out)
{
    *out = NULL;
    return st->ops->read_begin(st, out);
}

void kvs_storage_read_end(struct kvs_read *rd)
{
    if (rd != NULL)
        rd->st->ops->read_end(rd);
}

uint64_t kvs_storage_meta_epoch(struct kvs_read *rd)
{
    return rd->st->ops->meta_epoch ? rd->st->ops->meta_epoch(rd) : 0;
}

void kvs_storage_read_optimistic(struct kvs_read *rd)
{
    if (rd->st->ops->read_optimistic)
        rd->st->ops->read_optimistic(rd);
}

int kvs_storage_read_confirm(struct kvs_read *rd)
{
    return rd->st->ops->read_confirm ? rd->st->ops->read_confirm(rd) : 0;
}

int kvs_storage_user_count(struct kvs_read *rd, uint64_t *out)
{
    return rd->st->ops->user_count(rd, out);
}

int kvs_storage_totals(struct kvs_read *rd, struct kvs_storage_totals *out)
{
    memset(out, 0, sizeof *out);
    return rd->st->ops->totals(rd, out);
}

int kvs_storage_user_by_token(struct kvs_read *rd, const uint8_t hash[KVS_TOKEN_HASH_LEN],
                              struct kvs_user *out)
{
    return rd->st->ops->user_by_token(rd, hash, out, NULL);
}

int kvs_storage_token_get(struct kvs_read *rd, const uint8_t hash[KVS_TOKEN_HASH_LEN],
                          struct kvs_user *out, struct kvs_token_grant *grant)
{
    grant->expires_ms = 0;
    grant->scope_n = 0;
    grant->scope[0] = '\0';
    return rd->st->ops->user_by_token(rd, hash, out, grant);
}

int kvs_storage_user_by_name(struct kvs_read *rd, kvs_slice username, struct kvs_user *out)
{
    return rd->st->ops->user_by_name(rd, username, out);
}

int kvs_storage_user_get(struct kvs_read *rd, kvs_slice user_id, struct kvs_user *out)
{
    return rd->st->ops->user_get(rd, user_id, out);
}

int kvs_storage_store_get(struct kvs_read *rd, kvs_slice id, struct kvs_store *out)
{
    int rc = rd->st->ops->store_get(rd, id, out);
    if (rc == 0)
        add_pending(rd->st, out);
    return rc;
}

int kvs_storage_store_by_name(struct kvs_read *rd, kvs_slice user_id, kvs_slice name,
                              struct kvs_store *out)
{
    int rc = rd->st->ops->store_by_name(rd, user_id, name, out);
    if (rc == 0)
        add_pending(rd->st, out);
    return rc;
}

/* store_list passes each store through this, to add the in-memory counts. */
struct list_ctx {
    struct kvs_storage *st;
    kvs_store_cb cb;
    void *arg;
};

static int list_one(void *arg, const struct kvs_store *s)
{
    struct list_ctx *ctx = arg;
    struct kvs_store copy = *s; /* shallow: the schema stays the back-end's */
    add_pending(ctx->st, &copy);
    return ctx->cb(ctx->arg, &copy);
}

int kvs_storage_store_list(struct kvs_read *rd, kvs_slice user_id, uint64_t offset, uint64_t limit,
                           int desc, int include_unnamed, kvs_store_cb cb, void *arg,
                           uint64_t *total)
{
    struct list_ctx ctx = {.st = rd->st, .cb = cb, .arg = arg};
    return rd->st->ops->store_list(rd, user_id, offset, limit, desc, include_unnamed, list_one,
                                   &ctx, total);
}

/* store_list_visible passes each store through this, to add the in-memory counts. */
struct list_share_ctx {
    struct kvs_storage *st;
    kvs_store_share_cb cb;
    void *arg;
};

static int list_share_one(void *arg, const struct kvs_store *s, enum kvs_share_level share)
{
    struct list_share_ctx *ctx = arg;
    struct kvs_store copy = *s; /* shallow: the schema stays the back-end's */
    add_pending(ctx->st, &copy);
    return ctx->cb(ctx->arg, &copy, share);
}

int kvs_storage_store_list_visible(struct kvs_read *rd, kvs_slice user_id, unsigned which,
                                   uint64_t offset, uint64_t limit, int desc, int include_unnamed,
                                   kvs_store_share_cb cb, void *arg, uint64_t *total)
{
    struct list_share_ctx ctx = {.st = rd->st, .cb = cb, .arg = arg};
    return rd->st->ops->store_list_visible(rd, user_id, which, offset, limit, desc, include_unnamed,
                                           list_share_one, &ctx, total);
}

int kvs_storage_user_list(struct kvs_read *rd, kvs_user_cb cb, void *arg)
{
    return rd->st->ops->user_list(rd, cb, arg);
}

int kvs_storage_token_list(struct kvs_read *rd, kvs_slice user_id, kvs_token_cb cb, void *arg)
{
    return rd->st->ops->token_list(rd, user_id, cb, arg);
}

int kvs_storage_share_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice user_id,
                          enum kvs_share_level *out)
{
    return rd->st->ops->share_get(rd, store_id, user_id, out);
}

int kvs_storage_share_list(struct kvs_read *rd, kvs_slice store_id, kvs_share_cb cb, void *arg)
{
    return rd->st->ops->share_list(rd, store_id, cb, arg);
}

int kvs_storage_record_get(struct kvs_read *rd, kvs_slice store_id, kvs_slice key,
                           struct kvs_record_view *out)
{
    return rd->st->ops->record_get(rd, store_id, key, out);
}

int kvs_storage_keys_list(struct kvs_read *rd, kvs_slice store_id, kvs_slice prefix,
                          kvs_slice start_after, uint64_t limit, unsigned flags, kvs_key_cb cb,
                          void *arg, int *truncated)
{
    return rd->st->ops->keys_list(rd, store_id, prefix, start_after, limit, flags, cb, arg,
                                  truncated);
}
