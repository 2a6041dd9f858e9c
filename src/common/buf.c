/* buf.c — the capped growable buffer (see buf.h). */
#include "common/buf.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "kvs.h"

void kvs_buf_init(struct kvs_buf *b, size_t max)
{
    b->p = NULL;
    b->n = 0;
    b->cap = 0;
    b->max = max;
}

char *kvs_buf_reserve(struct kvs_buf *b, size_t n)
{
    if (n > b->max - b->n) /* b->n <= b->max always, so this cannot wrap */
        return NULL;
    size_t need = b->n + n + 1; /* +1 keeps room for the NUL that kvs_buf_steal() promises */
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        if (cap < need)
            cap = need;
        b->p = kvs_xrealloc(b->p, cap);
        b->cap = cap;
    }
    return b->p + b->n;
}

void kvs_buf_commit(struct kvs_buf *b, size_t n)
{
    b->n += n;
}

int kvs_buf_append_grow(struct kvs_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    char *dst = kvs_buf_reserve(b, n);
    if (dst == NULL)
        return KVS_ETOOBIG;
    memcpy(dst, data, n);
    b->n += n;
    return 0;
}

int kvs_buf_puts(struct kvs_buf *b, const char *s)
{
    return kvs_buf_append(b, s, strlen(s));
}

void kvs_buf_reset(struct kvs_buf *b)
{
    b->n = 0;
}

char *kvs_buf_steal(struct kvs_buf *b, size_t *n_out)
{
    if (b->p == NULL)
        b->p = kvs_xmalloc(1);
    b->p[b->n] = '\0';
    char *p = b->p;
    *n_out = b->n;
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

void kvs_buf_free(struct kvs_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
