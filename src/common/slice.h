/* slice.h — (pointer, length) byte strings.
 *
 * A slice never owns its bytes and is not NUL-terminated; whoever hands one out says how
 * long the bytes stay valid (LMDB's MDB_val, h2o's iovec). */
#ifndef KVS_COMMON_SLICE_H
#define KVS_COMMON_SLICE_H

#include <stddef.h>
#include <string.h>

typedef struct kvs_slice {
    const char *p;
    size_t n;
} kvs_slice;

#define KVS_SLICE_LIT(s) ((kvs_slice){(s), sizeof(s) - 1})

static inline kvs_slice kvs_slice_of(const char *s)
{
    return (kvs_slice){s, s ? strlen(s) : 0};
}

static inline int kvs_slice_eq(kvs_slice a, kvs_slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline int kvs_slice_eq_str(kvs_slice a, const char *s)
{
    return kvs_slice_eq(a, kvs_slice_of(s));
}

/* S without the spaces and tabs at either end (HTTP's optional whitespace, OWS). */
static inline kvs_slice kvs_slice_trim_ows(kvs_slice s)
{
    while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

#endif
