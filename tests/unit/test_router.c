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
