/* test_httpdate.c — HTTP dates: IMF-fixdate out; all three forms in (src/common/httpdate.c). */
#include <time.h>

#include "common/httpdate.h"
#include "test.h"

#define S(lit) kvs_slice_of(lit)
#define NOW 1796300000LL /* 2026-12-03 */

static int64_t parse(const char *s)
{
    int64_t v = -12345;
    if (kvs_httpdate_parse(S(s), NOW, &v) != 0)
        return -1;
    return v;
}

TEST(httpdate_format)
{
    char out[KVS_HTTPDATE_LEN + 1];
    kvs_httpdate_format(784111777, out);
    ASSERT_STR_EQ(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    kvs_httpdate_format(0, out);
    ASSERT_STR_EQ(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    kvs_httpdate_format(-5, out);
    ASSERT_STR_EQ(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    kvs_httpdate_format(951782400, out); /* a leap day of a year divisible by 400 */
    ASSERT_STR_EQ(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    kvs_httpdate_format(253402300799LL, out);
    ASSERT_STR_EQ(out, "Fri, 31 Dec 9999 23:59:59 GMT");
    kvs_httpdate_format(999999999999LL, out);
    ASSERT_STR_EQ(out, "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST(httpdate_format_matches_strftime)
{
    /* every day over four centuries' worth of leap rules, at a varying time of day */
    for (int64_t t = 0; t < 253402300799LL; t += 86400 * 7 + 3607) {
        char ours[KVS_HTTPDATE_LEN + 1], theirs[64];
        kvs_httpdate_format(t, ours);
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(theirs, sizeof theirs, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (strcmp(ours, theirs) != 0)
            TEST_FAIL_("%lld: %s != %s", (long long)t, ours, theirs);
        ASSERT_EQ(parse(ours), t);
    }
}

TEST(httpdate_parse_three_forms)
{
    ASSERT_EQ(parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    ASSERT_EQ(parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    ASSERT_EQ(parse("Sun Nov  6 08:49:37 1994"), 784111777);
    ASSERT_EQ(parse("Sun Nov 16 08:49:37 1994"), 784111777 + 10 * 86400);
    ASSERT_EQ(parse("  Sun, 06 Nov 1994 08:49:37 GMT\t"), 784111777);
    ASSERT_EQ(parse("Thu, 31 Dec 2026 23:59:60 GMT"), parse("Thu, 31 Dec 2026 23:59:59 GMT"));
}

TEST(httpdate_parse_two_digit_years)
{
    /* now is 2026: up to 2076 is ahead, later years are the last century's */
    ASSERT_EQ(parse("Thursday, 01-Jan-76 00:00:00 GMT"), parse("Thu, 01 Jan 2076 00:00:00 GMT"));
    ASSERT_EQ(parse("Monday, 01-Jan-77 00:00:00 GMT"), parse("Sat, 01 Jan 1977 00:00:00 GMT"));
    ASSERT_EQ(parse("Friday, 01-Jan-27 00:00:00 GMT"), parse("Fri, 01 Jan 2027 00:00:00 GMT"));
}

TEST(httpdate_parse_refuses)
{
    static const char *const bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT junk",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1969 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "1994-11-06T08:49:37Z",
        "784111777",
        "Sun Nov 6 08:49:37 1994",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i]) != -1)
            TEST_FAIL_("accepted \"%s\"", bad[i]);
    int64_t v = 7;
    ASSERT_ERR(kvs_httpdate_parse((kvs_slice){NULL, 0}, NOW, &v), KVS_EINVAL);
    ASSERT_EQ(v, 7);
}
