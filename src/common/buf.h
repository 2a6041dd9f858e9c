/* buf.h — a growable byte buffer with a hard cap (curl's dynbuf).
 *
 * Every buffer fed from the network is created with the largest size it may ever reach, so
 * a size limit is a property of the buffer, not a check someone can forget. */
#ifndef KVS_COMMON_BUF_H
#define KVS_COMMON_BUF_H

#include <stddef.h>
#include <string.h>

#include "common/slice.h"

struct kvs_buf {
    char *p;    /* the bytes; NULL until the first append; owned by the buffer */
    size_t n;   /* bytes in use */
    size_t cap; /* bytes allocated */
    size_t max; /* the most the buffer may hold */
};

/* Prepare an empty buffer that may grow to MAX bytes. Allocates nothing.
 * Release with kvs_buf_free(). */
void kvs_buf_init(struct kvs_buf *b, size_t max);

/* kvs_buf_append() when the bytes do not fit in what is allocated. */
__attribute__((warn_unused_result)) int kvs_buf_append_grow(struct kvs_buf *b, const void *data,
                                                            size_t n);

/* Append N bytes. Returns 0, or KVS_ETOOBIG when the buffer would exceed its maximum
 * (the buffer is then unchanged). Aborts on out-of-memory (server-side allocation).
 * Inline when the bytes fit (a page of keys appends ten pieces per key). */
__attribute__((warn_unused_result)) static inline int kvs_buf_append(struct kvs_buf *b,
                                                                     const void *data, size_t n)
{
    /* (b->n <= b->max and b->n < b->cap always: no wrap; room for the NUL is kept) */
    if (b->p == NULL || n >= b->cap - b->n || n > b->max - b->n)
        return kvs_buf_append_grow(b, data, n);
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return 0;
}

/* Append a NUL-terminated string (without the NUL). Same returns as kvs_buf_append(). */
__attribute__((warn_unused_result)) int kvs_buf_puts(struct kvs_buf *b, const char *s);

/* Make room for N more bytes without using them; returns a pointer to the room or NULL when
 * the maximum would be exceeded. Commit what was written with kvs_buf_commit(). */
char *kvs_buf_reserve(struct kvs_buf *b, size_t n);
void kvs_buf_commit(struct kvs_buf *b, size_t n);

/* Forget the contents but keep the memory. */
void kvs_buf_reset(struct kvs_buf *b);

/* Hand the bytes to the caller (who must free() them) and leave the buffer empty. N_OUT gets
 * the length; the bytes are followed by a NUL that N_OUT does not count. */
char *kvs_buf_steal(struct kvs_buf *b, size_t *n_out);

static inline kvs_slice kvs_buf_slice(const struct kvs_buf *b)
{
    return (kvs_slice){b->p, b->n};
}

/* Release the memory. Accepts a zeroed or already freed buffer. */
void kvs_buf_free(struct kvs_buf *b);

#endif
