/* random.c — random alphanumeric identifiers (see random.h). */
#include "common/random.h"

#include <openssl/rand.h>

#include "kvs.h"

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

int kvs_random_bytes(void *out, size_t n)
{
    return RAND_bytes(out, (int)n) == 1 ? 0 : KVS_EIO;
}

int kvs_random_alnum(char *out, size_t n)
{
    unsigned char pool[64];
    size_t have = 0, used = 0;
    for (size_t i = 0; i < n;) {
        if (used == have) {
            if (RAND_bytes(pool, (int)sizeof pool) != 1)
                return KVS_EIO;
            have = sizeof pool;
            used = 0;
        }
        unsigned char b = pool[used++];
        /* 248 = 4 × 62: bytes at or above it would favour the first 8 characters. */
        if (b >= 248)
            continue;
        out[i++] = alphabet[b % 62];
    }
    out[n] = '\0';
    return 0;
}

int kvs_random_id(char out[18])
{
    return kvs_random_alnum(out, 17);
}
