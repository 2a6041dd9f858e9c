/* test_ratelimit.c — the token buckets of `--rate-limit` (src/server/ratelimit.c). */
#include "server/ratelimit.h"
#include "test.h"

#define SEC 1000000000ull

TEST(ratelimit_burst_then_refused)
{
    struct kvs_ratelimit *rl = kvs_ratelimit_new(5, 1024);
    uint64_t t = 100 * SEC;
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(kvs_ratelimit_take(rl, "tok", 3, t), 0);
    ASSERT_EQ(kvs_ratelimit_take(rl, "tok", 3, t), 1); /* empty: wait a second */
    ASSERT_EQ(kvs_ratelimit_take(rl, "tok", 3, t), 1); /* refusals take nothing */
    kvs_ratelimit_free(rl);
}

TEST(ratelimit_refills_at_rate)
{
    struct kvs_ratelimit *rl = kvs_ratelimit_new(10, 64);
    uint64_t t = 5 * SEC;
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(kvs_ratelimit_take(rl, "a", 1, t), 0);
    ASSERT_NE(kvs_ratelimit_take(rl, "a", 1, t), 0);
    t += SEC / 10; /* one token back */
    ASSERT_EQ(kvs_ratelimit_take(rl, "a", 1, t), 0);
    ASSERT_NE(kvs_ratelimit_take(rl, "a", 1, t), 0);
    t += 60 * SEC; /* a long pause refills to the burst, no more */
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(kvs_ratelimit_take(rl, "a", 1, t), 0);
    ASSERT_NE(kvs_ratelimit_take(rl, "a", 1, t), 0);
    kvs_ratelimit_free(rl);
}

TEST(ratelimit_callers_apart)
{
    struct kvs_ratelimit *rl = kvs_ratelimit_new(1, 1024);
    uint64_t t = SEC;
    ASSERT_EQ(kvs_ratelimit_take(rl, "alice", 5, t), 0);
    ASSERT_EQ(kvs_ratelimit_take(rl, "alice", 5, t), 1);
    ASSERT_EQ(kvs_ratelimit_take(rl, "bob", 3, t), 0);
    ASSERT_EQ(kvs_ratelimit_take(rl, "bob", 3, t), 1);
    kvs_ratelimit_free(rl);
}

TEST(ratelimit_bounded_table_evicts)
{
    /* far more callers than slots: memory stays fixed, every new caller gets its burst */
    struct kvs_ratelimit *rl = kvs_ratelimit_new(1, 64);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof key, "caller-%d", i);
        ASSERT_EQ(kvs_ratelimit_take(rl, key, (size_t)n, SEC + (uint64_t)i), 0);
    }
    /* the caller used last is still remembered */
    int n = snprintf(key, sizeof key, "caller-%d", 99999);
    ASSERT_EQ(kvs_ratelimit_take(rl, key, (size_t)n, SEC + 100000), 1);
    kvs_ratelimit_free(rl);
}

#include <pthread.h>

struct hammer {
    struct kvs_ratelimit *rl;
    int allowed;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 1000; i++)
        if (kvs_ratelimit_take(h->rl, "shared", 6, 7 * SEC) == 0)
            h->allowed++;
    return NULL;
}

TEST(ratelimit_threads_share_one_bucket_exactly)
{
    /* 8 threads at one instant: exactly the burst gets through, never more */
    struct kvs_ratelimit *rl = kvs_ratelimit_new(100, 1024);
    pthread_t t[8];
    struct hammer h[8];
    for (int i = 0; i < 8; i++) {
        h[i] = (struct hammer){rl, 0};
        ASSERT_EQ(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += h[i].allowed;
    }
    ASSERT_EQ(total, 100);
    kvs_ratelimit_free(rl);
}

/* A peek takes nothing and adds nobody (so it evicts nobody); known says who has a bucket. */
TEST(ratelimit_peek_and_known)
{
    struct kvs_ratelimit *rl = kvs_ratelimit_new(1, 64);
    uint64_t t = 3 * SEC;
    ASSERT(!kvs_ratelimit_known(rl, "ip", 2));
    ASSERT_EQ(kvs_ratelimit_peek(rl, "ip", 2, t), 0); /* a stranger: a full bucket */
    ASSERT(!kvs_ratelimit_known(rl, "ip", 2));        /* ... not added */
    ASSERT_EQ(kvs_ratelimit_take(rl, "ip", 2, t), 0);
    ASSERT(kvs_ratelimit_known(rl, "ip", 2));
    ASSERT_EQ(kvs_ratelimit_peek(rl, "ip", 2, t), 1); /* empty now, and a peek does not take */
    ASSERT_EQ(kvs_ratelimit_peek(rl, "ip", 2, t + SEC), 0);
    ASSERT_EQ(kvs_ratelimit_peek(rl, "ip", 2, t + SEC), 0);
    ASSERT_EQ(kvs_ratelimit_take(rl, "ip", 2, t + SEC), 0);
    ASSERT_NE(kvs_ratelimit_take(rl, "ip", 2, t + SEC), 0);
    kvs_ratelimit_free(rl);
}
