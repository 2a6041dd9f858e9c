/* test_range.c — the Range header (src/server/range.c). */
#include "server/range.h"
#include "test.h"

#define S(lit) kvs_slice_of(lit)

/* Parse V for a representation of LEN bytes; "part a-b", "ignore" or "416". */
static const char *range(const char *v, uint64_t len)
{
    static char out[64];
    struct kvs_range r = {0, 0};
    switch (kvs_range_parse(S(v), len, &r)) {
    case KVS_RANGE_PART:
        snprintf(out, sizeof out, "part %llu-%llu", (unsigned long long)r.first,
                 (unsigned long long)r.last);
        return out;
    case KVS_RANGE_UNSATISFIABLE:
        return "416";
    case KVS_RANGE_IGNORE:
        break;
    }
    return "ignore";
}

TEST(range_single)
{
    ASSERT_STR_EQ(range("bytes=0-99", 1000), "part 0-99");
    ASSERT_STR_EQ(range("bytes=0-0", 1000), "part 0-0");
    ASSERT_STR_EQ(range("bytes=999-999", 1000), "part 999-999");
    ASSERT_STR_EQ(range("bytes=500-", 1000), "part 500-999");
    ASSERT_STR_EQ(range("bytes=500-5000", 1000), "part 500-999"); /* cut to the end */
    ASSERT_STR_EQ(range("bytes=-100", 1000), "part 900-999");
    ASSERT_STR_EQ(range("bytes=-1000", 1000), "part 0-999");
    ASSERT_STR_EQ(range("bytes=-5000", 1000), "part 0-999"); /* the whole, shorter than asked */
    ASSERT_STR_EQ(range("Bytes=1-2", 1000), "part 1-2");     /* the unit is case-insensitive */
    ASSERT_STR_EQ(range(" bytes=1-2 ", 1000), "part 1-2");
    ASSERT_STR_EQ(range("bytes=1-2,", 1000), "part 1-2"); /* an empty list member */
    ASSERT_STR_EQ(range("bytes=0-18446744073709551615", 10), "part 0-9");
    ASSERT_STR_EQ(range("bytes=0-99999999999999999999999999", 10), "part 0-9");
}

TEST(range_unsatisfiable)
{
    ASSERT_STR_EQ(range("bytes=1000-", 1000), "416");
    ASSERT_STR_EQ(range("bytes=1000-2000", 1000), "416");
    ASSERT_STR_EQ(range("bytes=99999999999999999999999-", 1000), "416");
    ASSERT_STR_EQ(range("bytes=-0", 1000), "416");
    ASSERT_STR_EQ(range("bytes=0-", 0), "416");
    ASSERT_STR_EQ(range("bytes=0-0", 0), "416");
}

TEST(range_ignored)
{
    static const char *const ignored[] = {
        "",           "bytes",         "bytes=",        "bytes=-",    "bytes=a-b",
        "bytes=5-4",  "bytes=0-1,3-4", "bytes=0-1, -5", "items=0-1",  "bytes =0-1",
        "bytes=0-1x", "bytes=--1",     "bytes=0--1",    "bytes=1 -2", "bytes=+1-2",
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        if (strcmp(range(ignored[i], 1000), "ignore") != 0)
            TEST_FAIL_("\"%s\" gave %s", ignored[i], range(ignored[i], 1000));
    /* a suffix of an empty representation is satisfiable but has no Content-Range: whole */
    ASSERT_STR_EQ(range("bytes=-5", 0), "ignore");
}
