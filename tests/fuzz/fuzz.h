/* fuzz.h — what the harnesses in tests/fuzz/ share (see README.md there).
 *
 * A harness is one fuzz_<target>.c defining LLVMFuzzerTestOneInput(). It checks properties of
 * what the code under test returns, not only that nothing crashed: a failed FUZZ_CHECK prints
 * the property and aborts, which libFuzzer reports as a crash with the input saved, and which
 * replay.c turns into a failing exit status. */
#ifndef KVS_FUZZ_H
#define KVS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/slice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(expr)                                                                           \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #expr);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A cursor handing out the fuzz input piece by piece; past the end it hands out zeros and
 * empty slices, so a harness never needs to check the input's length. */
struct fz {
    const char *p;
    size_t n;
};

static inline unsigned fz_byte(struct fz *f)
{
    if (f->n == 0)
        return 0;
    f->n--;
    return (unsigned char)*f->p++;
}

static inline uint64_t fz_u64(struct fz *f)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | fz_byte(f);
    return v;
}

/* The next N bytes (fewer at the end of the input). */
static inline kvs_slice fz_take(struct fz *f, size_t n)
{
    if (n > f->n)
        n = f->n;
    kvs_slice s = {f->p, n};
    f->p += n;
    f->n -= n;
    return s;
}

/* Whether slice S lies inside the bytes of IN. */
static inline int fz_inside(kvs_slice s, kvs_slice in)
{
    return s.n == 0 || (s.p >= in.p && s.n <= in.n && s.p - in.p <= (ptrdiff_t)(in.n - s.n));
}

#endif
