/* upload.c — large records, the back-end independent part (storage.h, "Large records";
 * backend.h): the threads that make uploads durable before their writes go to the writer,
 * keeping or removing an upload with its write's outcome, and reading a record's bytes apart
 * from the read that found them (struct kvs_value).
 *
 * Why a thread of its own: an upload's bytes must be on disk before the commit that makes its
 * record visible, and the fdatasync of a file of gigabytes takes seconds. Done by the HTTP
 * worker it would stall every connection of that worker; done by the writer, every other write.
 * So a write that carries an upload goes first to a queue served by KVS_SYNC_THREADS threads,
 * each of which syncs one upload and hands its write on to the writer queue, where it joins a
 * batch like any other write (its row is small). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "kvs.h"
#include "storage/backend.h"

/* ==== the sync threads ====================================================================== */

static void *syncer_main(void *arg)
{
    struct kvs_storage *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (st->sync_head == NULL && !st->sync_closing)
            pthread_cond_wait(&st->sync_wake, &st->mu);
        struct kvs_write *w = st->sync_head;
        if (w == NULL)
            break; /* closing, and nothing left */
        st->sync_head = w->next;
        if (st->sync_head == NULL)
            st->sync_tail = NULL;
        w->next = NULL;
        pthread_mutex_unlock(&st->mu);

        int rc = st->ops->upload_sync(w->upload);
        if (rc == 0)
            rc = kvs_storage_enqueue(st, w);
        if (rc != 0) { /* not durable, or the writer is closing: the write fails here */
            w->result = rc;
            kvs_storage_upload_settle(st, w);
            w->done(w);
            pthread_mutex_lock(&st->mu);
            pthread_cond_broadcast(&st->drained); /* for kvs_storage_write(), as the writer does */
            continue;
        }
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

int kvs_storage_uploads_start(struct kvs_storage *st)
{
    if (st->ops->upload_begin == NULL)
        return 0;
    for (unsigned i = 0; i < KVS_SYNC_THREADS; i++) {
        int rc = pthread_create(&st->syncers[i], NULL, syncer_main, st);
        if (rc != 0) {
            kvs_log_error("storage: cannot start an upload sync thread: %s", strerror(rc));
            kvs_storage_uploads_stop(st);
            return KVS_EIO;
        }
        st->n_syncers++;
    }
    return 0;
}

void kvs_storage_uploads_stop(struct kvs_storage *st)
{
    pthread_mutex_lock(&st->mu);
    st->sync_closing = 1;
    pthread_cond_broadcast(&st->sync_wake);
    pthread_mutex_unlock(&st->mu);
    for (unsigned i = 0; i < st->n_syncers; i++)
        if (pthread_join(st->syncers[i], NULL) != 0)
            kvs_log_error("storage: cannot join an upload sync thread");
    st->n_syncers = 0;
}

int kvs_storage_submit_upload(struct kvs_storage *st, struct kvs_write *w)
{
    if (w->op != KVS_W_RECORD_PUT || st->ops->upload_sync == NULL)
        return KVS_EINVAL;
    pthread_mutex_lock(&st->mu);
    if (st->sync_closing || st->closing) {
        pthread_mutex_unlock(&st->mu);
        return KVS_EUNAVAIL;
    }
    w->next = NULL;
    if (st->sync_tail != NULL)
        st->sync_tail->next = w;
    else
        st->sync_head = w;
    st->sync_tail = w;
    pthread_cond_signal(&st->sync_wake);
    pthread_mutex_unlock(&st->mu);
    return 0;
}

void kvs_storage_upload_settle(struct kvs_storage *st, struct kvs_write *w)
{
    if (w->upload == NULL || w->result == KVS_ESTALE)
        return; /* ESTALE: refused unchanged, to be submitted again (storage.h) */
    if (w->result == 0)
        st->ops->upload_keep(w->upload);
    else
        st->ops->upload_abort(w->upload);
    w->upload = NULL;
}

/* ==== uploads =============================================================================== */

int kvs_storage_uploads(const struct kvs_storage *st)
{
    return st->ops->upload_begin != NULL;
}

uint64_t kvs_storage_inline_max(const struct kvs_storage *st)
{
    return st->ops->inline_max != NULL ? st->ops->inline_max(st) : UINT64_MAX;
}

int kvs_storage_upload_begin(struct kvs_storage *st, uint64_t size, struct kvs_upload **out)
{
    *out = NULL;
    if (st->ops->upload_begin == NULL)
        return KVS_EINVAL;
    int rc = st->ops->upload_begin(st, size, out);
    if (rc == 0) {
        (*out)->st = st;
        (*out)->size = 0;
    }
    return rc;
}

int kvs_upload_append(struct kvs_upload *u, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = u->st->ops->upload_append(u, p, n);
    if (rc == 0)
        u->size += n;
    return rc;
}

uint64_t kvs_upload_size(const struct kvs_upload *u)
{
    return u->size;
}

void kvs_upload_abort(struct kvs_upload *u)
{
    if (u != NULL)
        u->st->ops->upload_abort(u);
}

/* ==== values ================================================================================ */

struct kvs_value {
    uint64_t size;
    char *bytes;                    /* an inline value's copy (owned), or NULL */
    int fd;                         /* a value held apart: its file (owned), or -1 */
    struct kvs_blob_reader *reader; /* ... or its reader (owned), or NULL */
};

int kvs_storage_value_open(struct kvs_read *rd, const struct kvs_record_view *rec,
                           struct kvs_value **out)
{
    *out = NULL;
    struct kvs_value *v = kvs_xcalloc(1, sizeof *v);
    v->size = rec->size;
    v->fd = -1;
    if (rec->blob.n == 0) {
        /* inline, so small (below kvs_storage_inline_max): a copy ends the read's part */
        v->size = rec->value.n;
        v->bytes = kvs_xmalloc(rec->value.n ? rec->value.n : 1);
        if (rec->value.n)
            memcpy(v->bytes, rec->value.p, rec->value.n);
    } else {
        const struct kvs_storage_ops *ops = rd->st->ops;
        int rc = ops->blob_open     ? ops->blob_open(rd, rec, &v->fd)
                 : ops->blob_reader ? ops->blob_reader(rd, rec, &v->reader)
                                    : KVS_EIO;
        if (rc != 0) {
            free(v);
            return rc;
        }
    }
    *out = v;
    return 0;
}

uint64_t kvs_value_size(const struct kvs_value *v)
{
    return v->size;
}

kvs_slice kvs_value_bytes(const struct kvs_value *v)
{
    return v->bytes ? (kvs_slice){v->bytes, (size_t)v->size} : (kvs_slice){"", 0};
}

int kvs_value_take_fd(struct kvs_value *v)
{
    int fd = v->fd;
    v->fd = -1;
    return fd;
}

int kvs_value_read(struct kvs_value *v, uint64_t pos, void *buf, size_t n, size_t *got)
{
    *got = 0;
    if (pos >= v->size || n == 0)
        return 0;
    if (n > v->size - pos)
        n = (size_t)(v->size - pos);
    if (v->bytes) {
        memcpy(buf, v->bytes + pos, n);
        *got = n;
        return 0;
    }
    if (v->reader != NULL)
        return v->reader->read(v->reader, pos, buf, n, got);
    if (v->fd < 0)
        return KVS_EIO; /* its file was taken */
    for (;;) {
        ssize_t r = pread(v->fd, buf, n, (off_t)pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            kvs_log_error("storage: cannot read a record's file: %s",
                          r < 0 ? strerror(errno) : "shorter than its record says");
            return KVS_EIO;
        }
        *got = (size_t)r;
        return 0;
    }
}

void kvs_value_close(struct kvs_value *v)
{
    if (v == NULL)
        return;
    if (v->fd >= 0)
        close(v->fd);
    if (v->reader != NULL)
        v->reader->close(v->reader);
    free(v->bytes);
    free(v);
}
