/* ratelimit.c — token buckets in a bounded, lock-striped table (ratelimit.h). */
#include "server/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/clock.h"

#define STRIPES 64
#define NS 1000000000ull

struct bucket {
    uint64_t tag;     /* hash of the caller; 0 = empty */
    uint64_t tokens;  /* in 1/RATE-second units scaled by NS: full = rate * NS */
    uint64_t last_ns; /* when tokens was last refilled (and the slot last used) */
};

struct kvs_ratelimit {
    uint64_t rate;
    uint64_t seed;
    size_t mask; /* sets - 1; a set is two buckets */
    struct bucket *b;
    pthread_mutex_t lock[STRIPES];
};

struct kvs_ratelimit *kvs_ratelimit_new(unsigned rate, unsigned slots)
{
    struct kvs_ratelimit *rl = kvs_xcalloc(1, sizeof *rl);
    size_t n = 64;
    while (n < slots)
        n <<= 1;
    rl->rate = rate ? rate : 1;
    rl->mask = n / 2 - 1;
    rl->b = kvs_xcalloc(n, sizeof *rl->b);
    /* callers cannot aim at one set to evict others: the hash is keyed per process */
    rl->seed = kvs_mono_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)rl;
    for (unsigned i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->lock[i], NULL);
    return rl;
}

void kvs_ratelimit_free(struct kvs_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (unsigned i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->lock[i]);
    free(rl->b);
    free(rl);
}

/* FNV-1a with a per-process seed, then a final mix (splitmix64's). */
static uint64_t hash(uint64_t seed, const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h ? h : 1;
}

/* Take one request from KEY's bucket (TAKE), or only tell whether one is there (a caller not
 * in the table is not added: a peek evicts nobody). Returns 0 or the seconds to wait. */
static unsigned check(struct kvs_ratelimit *rl, const void *key, size_t n, uint64_t now_ns, int take)
{
    uint64_t tag = hash(rl->seed, key, n);
    size_t set = (size_t)tag & rl->mask;
    uint64_t full = rl->rate * NS; /* tokens of a full bucket: RATE requests */
    pthread_mutex_t *lock = &rl->lock[set % STRIPES];
    pthread_mutex_lock(lock);
    struct bucket *s = &rl->b[2 * set], *b;
    if (s[0].tag == tag)
        b = &s[0];
    else if (s[1].tag == tag)
        b = &s[1];
    else if (!take) { /* not seen lately: a full bucket */
        pthread_mutex_unlock(lock);
        return 0;
    } else { /* a new caller takes the slot used least recently */
        b = s[0].last_ns <= s[1].last_ns ? &s[0] : &s[1];
        b->tag = tag;
        b->tokens = full;
        b->last_ns = now_ns;
    }
    if (now_ns > b->last_ns) {
        /* RATE tokens per second, one token = NS units: RATE * elapsed_ns units */
        uint64_t elapsed = now_ns - b->last_ns;
        uint64_t add = elapsed >= NS ? full : elapsed * rl->rate;
        b->tokens = b->tokens + add > full ? full : b->tokens + add;
        b->last_ns = now_ns;
    }
    unsigned wait = 0;
    if (b->tokens >= NS)
        b->tokens -= take ? NS : 0;
    else /* units missing / units per second, rounded up to whole seconds */
        wait = (unsigned)((NS - b->tokens + full - 1) / full);
    pthread_mutex_unlock(lock);
    return wait;
}

unsigned kvs_ratelimit_take(struct kvs_ratelimit *rl, const void *key, size_t n, uint64_t now_ns)
{
    return check(rl, key, n, now_ns, 1);
}

unsigned kvs_ratelimit_peek(struct kvs_ratelimit *rl, const void *key, size_t n, uint64_t now_ns)
{
    return check(rl, key, n, now_ns, 0);
}

int kvs_ratelimit_known(struct kvs_ratelimit *rl, const void *key, size_t n)
{
    uint64_t tag = hash(rl->seed, key, n);
    size_t set = (size_t)tag & rl->mask;
    pthread_mutex_t *lock = &rl->lock[set % STRIPES];
    pthread_mutex_lock(lock);
    const struct bucket *s = &rl->b[2 * set];
    int known = s[0].tag == tag || s[1].tag == tag;
    pthread_mutex_unlock(lock);
    return known;
}
