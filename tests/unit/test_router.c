/* test_router.c — path matching and percent-coding (src/server/router.c). */
#include "common/buf.h"
#include "common/pct.h"
#include "server/router.h"
#include "test.h"

static enum kvs_path_kind match(const char *path, struct kvs_path_match *m)
{
    return kvs_route_match_path(kvs_slice_of(path), m);
}

TEST(router_paths)
{
    struct kvs_path_match m;
    ASSERT_EQ(match("/health", &m), KVS_PATH_HEALTH);
    ASSERT_EQ(match("/v2/key-value-stores", &m), KVS_PATH_STORES);
    ASSERT_EQ(match("/v2/key-value-stores/", &m), KVS_PATH_STORES);
    ASSERT_EQ(match("/v2/key-value-stores/admin~demo", &m), KVS_PATH_STORE);
    ASSERT_MEM_EQ(m.store.p, m.store.n, "admin~demo");
    ASSERT_EQ(match("/v2/key-value-stores/s/keys", &m), KVS_PATH_KEYS);
    ASSERT_EQ(match("/v2/key-value-stores/s/rotate-signing-key", &m), KVS_PATH_SIGNING_KEY);
    ASSERT_MEM_EQ(m.store.p, m.store.n, "s");
    ASSERT_EQ(match("/v2/key-value-stores/s/rotate-signing-key/x", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2/key-value-stores/s/records", &m), KVS_PATH_RECORDS);
    ASSERT_EQ(match("/v2/key-value-stores/s/records/a%2Fb/", &m), KVS_PATH_RECORD);
    ASSERT_MEM_EQ(m.store.p, m.store.n, "s");
    ASSERT_MEM_EQ(m.key.p, m.key.n, "a%2Fb");
    ASSERT_EQ(match("/v2/key-value-stores/s/records/k/x", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2//key-value-stores", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("v2/key-value-stores", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/", &m), KVS_PATH_NONE);
}

TEST(router_run_paths)
{
    struct kvs_path_match m;
    ASSERT_EQ(match("/v2/actor-runs", &m), KVS_PATH_RUNS);
    ASSERT_EQ(match("/v2/actor-runs/", &m), KVS_PATH_RUNS);
    ASSERT_EQ(match("/v2/actor-runs/R1", &m), KVS_PATH_RUN);
    ASSERT_MEM_EQ(m.store.p, m.store.n, "R1");
    ASSERT_EQ(match("/v2/actor-runs/R1/abort", &m), KVS_PATH_RUN_ABORT);
    ASSERT_EQ(match("/v2/actor-runs/R1/finish", &m), KVS_PATH_RUN_FINISH);
    ASSERT_EQ(match("/v2/actor-runs/R1/abort/x", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2/actor-runs/R1/nothing", &m), KVS_PATH_NONE);
    /* a run's default store: the store kinds, named through the run */
    ASSERT_EQ(match("/v2/actor-runs/R1/key-value-store", &m), KVS_PATH_STORE);
    ASSERT_EQ(m.via, KVS_VIA_RUN);
    ASSERT_MEM_EQ(m.store.p, m.store.n, "R1");
    ASSERT_EQ(match("/v2/actor-runs/R1/key-value-store/keys", &m), KVS_PATH_KEYS);
    ASSERT_EQ(m.via, KVS_VIA_RUN);
    ASSERT_EQ(match("/v2/actor-runs/R1/key-value-store/records", &m), KVS_PATH_RECORDS);
    ASSERT_EQ(match("/v2/actor-runs/R1/key-value-store/records/OUTPUT", &m), KVS_PATH_RECORD);
    ASSERT_MEM_EQ(m.key.p, m.key.n, "OUTPUT");
    ASSERT_EQ(m.via, KVS_VIA_RUN);
    ASSERT_EQ(match("/v2/actor-runs/R1/key-value-store/records/a/b", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2/actor-runs/R1/key-value-store/shares", &m), KVS_PATH_NONE);
    ASSERT(m.store.p == NULL && m.key.p == NULL && m.via == KVS_VIA_STORE);
    /* an Actor's runs and last run, under /v2/acts and /v2/actors */
    ASSERT_EQ(match("/v2/acts/me~scraper/runs", &m), KVS_PATH_ACTOR_RUNS);
    ASSERT_MEM_EQ(m.store.p, m.store.n, "me~scraper");
    ASSERT_EQ(match("/v2/actors/me~scraper/runs/last", &m), KVS_PATH_ACTOR_LAST_RUN);
    ASSERT_EQ(match("/v2/acts/A/runs/last/key-value-store/records/OUTPUT", &m), KVS_PATH_RECORD);
    ASSERT_EQ(m.via, KVS_VIA_LAST_RUN);
    ASSERT_MEM_EQ(m.store.p, m.store.n, "A");
    ASSERT_MEM_EQ(m.key.p, m.key.n, "OUTPUT");
    ASSERT_EQ(match("/v2/acts/A/runs/last/key-value-store/", &m), KVS_PATH_STORE);
    ASSERT_EQ(m.via, KVS_VIA_LAST_RUN);
    ASSERT_EQ(match("/v2/acts/A/runs/last/key-value-store/records/k/x", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2/key-value-stores/s/records/k", &m), KVS_PATH_RECORD);
    ASSERT_EQ(m.via, KVS_VIA_STORE);
}

TEST(router_unsupported_paths)
{
    /* the platform's API beyond stores and runs: 501, however deep; other paths stay 404 */
    struct kvs_path_match m;
    const char *unsupported[] = {
        "/v2/datasets",
        "/v2/datasets/D/items",
        "/v2/request-queues/Q/requests/R/lock",
        "/v2/datasets/a/b/c/d/e/f/g/h/i/j",
        "/v2/actor-runs/R1/dataset/items",
        "/v2/actor-runs/R1/request-queue",
        "/v2/actor-runs/R1/log",
        "/v2/actor-runs/R1/metamorph",
        "/v2/actor-runs/R1/reboot",
        "/v2/actor-runs/R1/charge",
        "/v2/acts",
        "/v2/acts/A",
        "/v2/acts/A/builds",
        "/v2/acts/A/runs/R1",
        "/v2/acts/A/runs/last/dataset",
        "/v2/actor-tasks/T/runs",
        "/v2/actor-builds/B",
        "/v2/webhooks",
        "/v2/webhook-dispatches",
        "/v2/schedules",
        "/v2/logs/L",
    };
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        if (match(unsupported[i], &m) != KVS_PATH_UNSUPPORTED)
            TEST_FAIL_("%s is not KVS_PATH_UNSUPPORTED", unsupported[i]);
        ASSERT(m.store.p == NULL && m.key.p == NULL);
    }
    ASSERT_EQ(match("/v2/nothing", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2/key-value-stores/s/records/k/a/b/c/d", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v3/datasets", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2//datasets", &m), KVS_PATH_NONE);
}

/* Found by fuzz_router (tests/fuzz/corpus/fuzz_router/two-trailing-slashes): only one trailing
 * '/' is tolerated; a second one is an empty segment, refused like "//" anywhere else. */
TEST(router_two_trailing_slashes)
{
    struct kvs_path_match m;
    ASSERT_EQ(match("/v2/key-value-stores//", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/health//", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2/key-value-stores/s//", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2/key-value-stores/s/records/k//", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("/v2/key-value-stores/s/records/k///", &m), KVS_PATH_NONE);
    ASSERT_EQ(match("//", &m), KVS_PATH_NONE);
    ASSERT(m.store.p == NULL && m.key.p == NULL);
}

TEST(router_pct_decode)
{
    char out[8];
    ASSERT_EQ(kvs_pct_decode(kvs_slice_of("a%2Fb+c"), out, sizeof out, 0), 5);
    ASSERT_MEM_EQ(out, 5, "a/b+c");
    ASSERT_EQ(kvs_pct_decode(kvs_slice_of("a%2fb+c"), out, sizeof out, 1), 5);
    ASSERT_MEM_EQ(out, 5, "a/b c");
    ASSERT_EQ(kvs_pct_decode(kvs_slice_of("%4"), out, sizeof out, 0), -1);
    ASSERT_EQ(kvs_pct_decode(kvs_slice_of("%zz"), out, sizeof out, 0), -1);
    ASSERT_EQ(kvs_pct_decode(kvs_slice_of("abc"), out, 2, 0), -1); /* does not fit */
    ASSERT_EQ(kvs_pct_decode(kvs_slice_of("%41%42"), out, 2, 0), 2);
}

TEST(router_pct_encode)
{
    struct kvs_buf b;
    kvs_buf_init(&b, 64);
    ASSERT_OK(kvs_pct_encode(&b, kvs_slice_of("a-_.~!'()/ %+\xff")));
    ASSERT_MEM_EQ(b.p, b.n, "a-_.~!'()%2F%20%25%2B%FF");
    kvs_buf_reset(&b);
    b.max = 2;
    ASSERT_ERR(kvs_pct_encode(&b, kvs_slice_of("/")), KVS_ETOOBIG);
    kvs_buf_free(&b);
}
