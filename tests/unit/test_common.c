/* test_common.c — the small shared modules: validation rules, the capped buffer, random IDs,
 * the clock, the error table and API tokens (src/common/, src/auth/token.c). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "auth/token.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/json.h"
#include "common/random.h"
#include "common/validate.h"
#include "test.h"

#define S(lit) kvs_slice_of(lit)

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A string of N copies of C, in a static buffer. */
static kvs_slice repeat(char c, size_t n)
{
    static char buf[1024];
    ASSERT(n <= sizeof buf);
    memset(buf, c, n);
    return (kvs_slice){buf, n};
}

/* ---- validate ------------------------------------------------------------------------------ */

TEST(common_valid_key_length)
{
    ASSERT_EQ(kvs_valid_key(repeat('k', 1)), 1);
    ASSERT_EQ(kvs_valid_key(repeat('k', 256)), 1);
    ASSERT_EQ(kvs_valid_key(repeat('k', 257)), 0);
    ASSERT_EQ(kvs_valid_key(S("")), 0);
    ASSERT_EQ(kvs_valid_key((kvs_slice){NULL, 0}), 0);
}

TEST(common_valid_key_chars)
{
    /* Every character the contract's regex allows, alone and in a key. */
    const char *allowed = "abcxyzABCXYZ0189!-_.'()";
    for (const char *c = allowed; *c; c++) {
        char key[4] = {'a', *c, 'b', 0};
        /* '.' alone is the dot segment, refused below; inside a key it is fine */
        if ((*c != '.' && !kvs_valid_key((kvs_slice){c, 1})) || !kvs_valid_key(S(key)))
            TEST_FAIL_("'%c' was refused", *c);
    }
    ASSERT_EQ(kvs_valid_key(S("INPUT")), 1);
    ASSERT_EQ(kvs_valid_key(S(".")), 0); /* dot segments: no URL can address them */
    ASSERT_EQ(kvs_valid_key(S("..")), 0);
    ASSERT_EQ(kvs_valid_key(S("...")), 1);
    ASSERT_EQ(kvs_valid_key(S(".a")), 1);
    ASSERT_EQ(kvs_valid_key(S("my-key_1.json")), 1);

    const char *refused = "/%\\ \t\n?#&=+,;:@\"<>[]{}|^`~*$";
    for (const char *c = refused; *c; c++) {
        char key[4] = {'a', *c, 'b', 0};
        if (kvs_valid_key((kvs_slice){c, 1}) || kvs_valid_key(S(key)))
            TEST_FAIL_("'%c' (0x%02x) was accepted", *c, (unsigned char)*c);
    }
    ASSERT_EQ(kvs_valid_key((kvs_slice){"a\0b", 3}), 0);
    ASSERT_EQ(kvs_valid_key((kvs_slice){"ab\0", 3}), 0);
    ASSERT_EQ(kvs_valid_key(S("caf\xc3\xa9")), 0); /* UTF-8 é */
    ASSERT_EQ(kvs_valid_key(S("a\xff")), 0);       /* not UTF-8 at all */
    ASSERT_EQ(kvs_valid_key(S("a\x80")), 0);
    for (int c = 0; c < 256; c++) {
        char ch = (char)c;
        int want = is_alnum(ch) || strchr("!-_.'()", c) != NULL;
        if (c == 0 || c == '.')
            want = 0; /* NUL is not in the set; "." alone is a dot segment */
        if (kvs_valid_key((kvs_slice){&ch, 1}) != want)
            TEST_FAIL_("byte 0x%02x: expected %d", c, want);
    }
}

TEST(common_valid_store_name)
{
    ASSERT_EQ(kvs_valid_store_name(S("a")), 1);
    ASSERT_EQ(kvs_valid_store_name(S("my-store-1")), 1);
    ASSERT_EQ(kvs_valid_store_name(S("My-Store")), 1);
    ASSERT_EQ(kvs_valid_store_name(S("a--b")), 1);
    ASSERT_EQ(kvs_valid_store_name(repeat('n', 63)), 1);
    ASSERT_EQ(kvs_valid_store_name(repeat('n', 64)), 0);
    ASSERT_EQ(kvs_valid_store_name(S("")), 0);
    ASSERT_EQ(kvs_valid_store_name((kvs_slice){NULL, 0}), 0);
    ASSERT_EQ(kvs_valid_store_name(S("-a")), 0);
    ASSERT_EQ(kvs_valid_store_name(S("a-")), 0);
    ASSERT_EQ(kvs_valid_store_name(S("-")), 0);
    ASSERT_EQ(kvs_valid_store_name(S("my_store")), 0);
    ASSERT_EQ(kvs_valid_store_name(S("my.store")), 0);
    ASSERT_EQ(kvs_valid_store_name(S("my store")), 0);
    ASSERT_EQ(kvs_valid_store_name(S("user~store")), 0);
    ASSERT_EQ(kvs_valid_store_name(S("a/b")), 0);
    ASSERT_EQ(kvs_valid_store_name((kvs_slice){"a\0b", 3}), 0);
    ASSERT_EQ(kvs_valid_store_name(S("st\xc3\xb6re")), 0);
    ASSERT_EQ(kvs_valid_username(S("john-doe")), 1);
    ASSERT_EQ(kvs_valid_username(S("john_doe")), 0);
    ASSERT_EQ(kvs_valid_username(repeat('u', 64)), 0);
}

TEST(common_valid_id)
{
    ASSERT_EQ(kvs_valid_id(S("WkzbQMuFYuamGv3YF")), 1);
    ASSERT_EQ(kvs_valid_id(S("aaaaaaaaaaaaaaaaa")), 1);
    ASSERT_EQ(kvs_valid_id(S("0123456789ABCDEFz")), 1);
    ASSERT_EQ(kvs_valid_id(S("WkzbQMuFYuamGv3Y")), 0);   /* 16 */
    ASSERT_EQ(kvs_valid_id(S("WkzbQMuFYuamGv3YFx")), 0); /* 18 */
    ASSERT_EQ(kvs_valid_id(S("WkzbQMuFYuamGv3Y-")), 0);
    ASSERT_EQ(kvs_valid_id(S("WkzbQMuFYuamGv3Y_")), 0);
    ASSERT_EQ(kvs_valid_id((kvs_slice){"WkzbQMuFYuamGv3Y\0", 17}), 0);
    ASSERT_EQ(kvs_valid_id(S("")), 0);
}

/* ---- kvs_buf ------------------------------------------------------------------------------- */

TEST(common_buf_cap)
{
    struct kvs_buf b;
    kvs_buf_init(&b, 10);
    ASSERT(b.p == NULL); /* nothing allocated yet */
    ASSERT_OK(kvs_buf_append(&b, "0123456", 7));
    ASSERT_OK(kvs_buf_puts(&b, "789"));
    ASSERT_MEM_EQ(b.p, b.n, "0123456789");
    /* Full: one more byte fails and changes nothing. */
    ASSERT_ERR(kvs_buf_append(&b, "x", 1), KVS_ETOOBIG);
    ASSERT_ERR(kvs_buf_puts(&b, "xyz"), KVS_ETOOBIG);
    ASSERT_MEM_EQ(b.p, b.n, "0123456789");
    ASSERT_OK(kvs_buf_append(&b, "", 0));
    ASSERT(b.cap <= b.max + 1);
    kvs_buf_free(&b);
    ASSERT(b.p == NULL);
    kvs_buf_free(&b); /* twice is fine */
}

TEST(common_buf_fail_unchanged)
{
    struct kvs_buf b;
    kvs_buf_init(&b, 8);
    ASSERT_OK(kvs_buf_puts(&b, "abc"));
    ASSERT_ERR(kvs_buf_puts(&b, "defghi"), KVS_ETOOBIG); /* 3 + 6 > 8: nothing appended */
    ASSERT_MEM_EQ(b.p, b.n, "abc");
    ASSERT_OK(kvs_buf_puts(&b, "defgh")); /* exactly 8 */
    ASSERT_MEM_EQ(b.p, b.n, "abcdefgh");
    kvs_buf_reset(&b);
    ASSERT_EQ(b.n, 0);
    ASSERT_OK(kvs_buf_puts(&b, "new"));
    ASSERT_MEM_EQ(b.p, b.n, "new");
    kvs_buf_free(&b);

    /* A huge append must not wrap around the cap check. */
    kvs_buf_init(&b, 16);
    ASSERT_OK(kvs_buf_puts(&b, "x"));
    ASSERT_ERR(kvs_buf_append(&b, "y", SIZE_MAX), KVS_ETOOBIG);
    ASSERT(kvs_buf_reserve(&b, SIZE_MAX) == NULL);
    ASSERT_EQ(b.n, 1);
    kvs_buf_free(&b);
}

TEST(common_buf_steal)
{
    struct kvs_buf b;
    kvs_buf_init(&b, 100);
    ASSERT_OK(kvs_buf_puts(&b, "hello"));
    size_t n = 99;
    char *p = kvs_buf_steal(&b, &n);
    ASSERT_EQ(n, 5);
    ASSERT_STR_EQ(p, "hello"); /* NUL-terminated */
    free(p);
    ASSERT(b.p == NULL);
    ASSERT_EQ(b.n, 0);
    /* The buffer is usable again, and stealing an empty one gives "". */
    p = kvs_buf_steal(&b, &n);
    ASSERT_EQ(n, 0);
    ASSERT_STR_EQ(p, "");
    free(p);
    /* A buffer filled to its maximum still has room for the NUL. */
    kvs_buf_init(&b, 4);
    ASSERT_OK(kvs_buf_puts(&b, "full"));
    p = kvs_buf_steal(&b, &n);
    ASSERT_EQ(n, 4);
    ASSERT_STR_EQ(p, "full");
    free(p);
    kvs_buf_free(&b);
}

TEST(common_buf_reserve_commit)
{
    struct kvs_buf b;
    kvs_buf_init(&b, 1000);
    ASSERT_OK(kvs_buf_puts(&b, "ab"));
    char *room = kvs_buf_reserve(&b, 998);
    ASSERT(room != NULL);
    ASSERT(room == b.p + 2);
    ASSERT_EQ(b.n, 2); /* reserving uses nothing */
    memcpy(room, "cd", 2);
    kvs_buf_commit(&b, 2);
    ASSERT_MEM_EQ(b.p, b.n, "abcd");
    ASSERT(kvs_buf_reserve(&b, 997) == NULL); /* 4 + 997 > 1000 */
    ASSERT(kvs_buf_reserve(&b, 996) != NULL);
    kvs_buf_commit(&b, 0);
    ASSERT_MEM_EQ(b.p, b.n, "abcd");
    ASSERT(b.cap <= b.max + 1);
    kvs_slice s = kvs_buf_slice(&b);
    ASSERT_MEM_EQ(s.p, s.n, "abcd");
    kvs_buf_free(&b);
}

TEST(common_buf_grows)
{
    /* Many small appends up to a large maximum: every byte kept, in order. */
    struct kvs_buf b;
    kvs_buf_init(&b, 1 << 20);
    for (unsigned i = 0; i < (1u << 20) / 4; i++)
        ASSERT_OK(kvs_buf_append(&b, &i, 4));
    ASSERT_EQ(b.n, 1 << 20);
    ASSERT_ERR(kvs_buf_append(&b, "x", 1), KVS_ETOOBIG);
    for (unsigned i = 0; i < (1u << 20) / 4; i += 4099) {
        unsigned v;
        memcpy(&v, b.p + 4 * (size_t)i, 4);
        ASSERT_EQ(v, i);
    }
    kvs_buf_free(&b);
}

/* ---- random -------------------------------------------------------------------------------- */

TEST(common_random_alnum)
{
    char out[101];
    for (size_t n = 0; n <= 100; n++) {
        memset(out, '#', sizeof out);
        ASSERT_OK(kvs_random_alnum(out, n));
        ASSERT_EQ(strlen(out), n);
        for (size_t i = 0; i < n; i++)
            if (!is_alnum(out[i]))
                TEST_FAIL_("character 0x%02x", (unsigned char)out[i]);
    }
    /* All 62 characters show up, and no other. */
    int seen[256] = {0};
    for (int round = 0; round < 100; round++) {
        ASSERT_OK(kvs_random_alnum(out, 100));
        for (size_t i = 0; i < 100; i++)
            seen[(unsigned char)out[i]]++;
    }
    int kinds = 0;
    for (int c = 0; c < 256; c++)
        if (seen[c])
            kinds++;
    ASSERT_EQ(kinds, 62);
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 18);
}

TEST(common_random_ids_distinct)
{
    enum { N = 10000 };
    char(*ids)[18] = calloc(N, sizeof *ids);
    ASSERT(ids != NULL);
    for (size_t i = 0; i < N; i++) {
        ASSERT_OK(kvs_random_id(ids[i]));
        ASSERT(kvs_valid_id(kvs_slice_of(ids[i])));
    }
    qsort(ids, N, sizeof *ids, cmp_id);
    for (size_t i = 1; i < N; i++)
        if (memcmp(ids[i - 1], ids[i], 18) == 0)
            TEST_FAIL_("duplicate ID %s", ids[i]);
    free(ids);
}

/* ---- clock --------------------------------------------------------------------------------- */

TEST(common_clock_iso8601)
{
    char out[KVS_ISO_LEN + 1];
    kvs_iso8601(0, out);
    ASSERT_STR_EQ(out, "1970-01-01T00:00:00.000Z");
    /* Checked with Python's datetime. (1576135654202, sometimes quoted with the second
     * string, is 07:27:34.202.) */
    kvs_iso8601(1576136054202, out);
    ASSERT_STR_EQ(out, "2019-12-12T07:34:14.202Z");
    kvs_iso8601(1576135654202, out);
    ASSERT_STR_EQ(out, "2019-12-12T07:27:34.202Z");
    kvs_iso8601(951782400999, out); /* a leap day */
    ASSERT_STR_EQ(out, "2000-02-29T00:00:00.999Z");
    kvs_iso8601(-1, out); /* before the epoch: clamped */
    ASSERT_STR_EQ(out, "1970-01-01T00:00:00.000Z");
    kvs_iso8601(253402300800000, out); /* year 10000: the year is clamped to 4 digits */
    ASSERT_EQ(strlen(out), KVS_ISO_LEN);
    kvs_iso8601(INT64_MAX, out);
    ASSERT_EQ(strlen(out), KVS_ISO_LEN);
    ASSERT_EQ(strlen("2019-12-12T07:34:14.202Z"), KVS_ISO_LEN);
    /* the hand-written conversion agrees with gmtime_r() over years 1970..9999 */
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t ms = (int64_t)(x % 253402300800000ull);
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char want[64];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
        kvs_iso8601(ms, out);
        if (strcmp(out, want) != 0)
            TEST_FAIL_("%lld: %s, gmtime_r says %s", (long long)ms, out, want);
    }
}

TEST(common_clock_now)
{
    int64_t a = kvs_now_ms();
    ASSERT(a > 1577836800000); /* after 2020-01-01 */
    ASSERT(kvs_now_ms() >= a);
    char out[KVS_ISO_LEN + 1];
    kvs_iso8601(a, out);
    ASSERT_EQ(strlen(out), KVS_ISO_LEN);
    ASSERT_EQ(out[KVS_ISO_LEN - 1], 'Z');
}

/* A condition of kvs_cond_init_mono() waits until a kvs_mono_timespec() deadline, by the
 * monotonic clock (read by the wall clock, that deadline is in 1970: the wait would end at
 * once). */
TEST(common_clock_mono_wait)
{
    struct timespec t = kvs_mono_timespec(3000000001ull);
    ASSERT_EQ(t.tv_sec, 3);
    ASSERT_EQ(t.tv_nsec, 1);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    kvs_cond_init_mono(&cv);
    uint64_t until = kvs_mono_ns() + 20000000u; /* 20 ms */
    struct timespec at = kvs_mono_timespec(until);
    pthread_mutex_lock(&mu);
    int rc;
    while ((rc = pthread_cond_timedwait(&cv, &mu, &at)) == 0)
        ; /* a spurious wake-up */
    pthread_mutex_unlock(&mu);
    ASSERT_EQ(rc, ETIMEDOUT);
    ASSERT(kvs_mono_ns() >= until);
    pthread_cond_destroy(&cv);
}

/* ---- durations -------------------------------------------------------------------------- */

TEST(common_duration)
{
    uint64_t ms = 1;
    ASSERT_EQ(kvs_parse_duration_ms("0", &ms), 0);
    ASSERT_EQ(ms, 0);
    const struct {
        const char *s;
        uint64_t ms;
    } ok[] = {
        {"500ms", 500}, {"90s", 90000}, {"30m", 1800000}, {"12h", 43200000}, {"7d", 604800000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ASSERT_EQ(kvs_parse_duration_ms(ok[i].s, &ms), 0);
        ASSERT_EQ(ms, ok[i].ms);
    }
    static const char *const bad[] = {
        "", "h", "7", "7 d", "-1s", "1y", "1.5h", "36500000d", "99999999999999999999ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ(kvs_parse_duration_ms(bad[i], &ms), -1);
}

/* ---- err ----------------------------------------------------------------------------------- */

TEST(common_err_table)
{
    static const struct {
        int code;
        const char *name;
    } codes[] = {
#define X(name, num, status, type, msg) {num, "KVS_" #name},
        KVS_ERRNO_MAP(X)
#undef X
    };
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        int c = codes[i].code;
        ASSERT(c < 0);
        ASSERT(kvs_err_status(c) >= 400 && kvs_err_status(c) <= 599);
        ASSERT(kvs_err_type(c)[0] != '\0');
        ASSERT(strcmp(kvs_err_type(c), "internal-server-error") != 0 || kvs_err_status(c) == 500);
        ASSERT(kvs_strerror(c)[0] != '\0');
        ASSERT_STR_EQ(kvs_errname(c), codes[i].name);
        for (size_t j = 0; j < i; j++)
            if (codes[j].code == c)
                TEST_FAIL_("%s and %s share %d", codes[j].name, codes[i].name, c);
    }
    ASSERT_EQ(kvs_err_status(KVS_ENOTFOUND), 404);
    ASSERT_STR_EQ(kvs_err_type(KVS_ENOTFOUND), "record-not-found");
    ASSERT_EQ(kvs_err_status(KVS_ETOOBIG), 413);
    ASSERT_EQ(kvs_err_status(KVS_EENCODING), 415);
    ASSERT_EQ(kvs_err_status(KVS_EACCESS), 403);
    ASSERT_EQ(kvs_err_status(KVS_OK), 200);
    ASSERT_STR_EQ(kvs_errname(KVS_OK), "KVS_OK");
    /* Unknown codes still describe themselves. */
    ASSERT_EQ(kvs_err_status(-9999), 500);
    ASSERT_STR_EQ(kvs_err_type(-9999), "internal-server-error");
    ASSERT_STR_EQ(kvs_errname(-9999), "KVS_UNKNOWN");
    ASSERT(kvs_strerror(-9999)[0] != '\0');
}

/* ---- token --------------------------------------------------------------------------------- */

TEST(common_token_generate)
{
    char a[KVS_TOKEN_LEN + 1], b[KVS_TOKEN_LEN + 1];
    ASSERT_OK(kvs_token_generate(a));
    ASSERT_OK(kvs_token_generate(b));
    ASSERT_EQ(strlen(a), 44);
    ASSERT(strncmp(a, "kvs_", 4) == 0);
    for (size_t i = 4; i < 44; i++)
        ASSERT(is_alnum(a[i]));
    ASSERT(strcmp(a, b) != 0);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

TEST(common_token_hash)
{
    /* SHA-256 test vectors (FIPS 180-2 "abc", the empty string) and one computed with
     * Python's hashlib. */
    static const struct {
        const char *in, *sha256;
    } vec[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"kvs_abc", "62784f571c728ad41738ddd5a91373f1bf6d7029ce6156ebce334d5e74e6245b"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        uint8_t d[KVS_TOKEN_HASH_LEN];
        char h[2 * KVS_TOKEN_HASH_LEN + 1];
        kvs_token_hash(S(vec[i].in), d);
        hex(d, sizeof d, h);
        ASSERT_STR_EQ(h, vec[i].sha256);
    }
    /* Bytes after a NUL count. */
    uint8_t d1[KVS_TOKEN_HASH_LEN], d2[KVS_TOKEN_HASH_LEN];
    kvs_token_hash((kvs_slice){"a\0b", 3}, d1);
    kvs_token_hash((kvs_slice){"a\0c", 3}, d2);
    ASSERT(memcmp(d1, d2, sizeof d1) != 0);
}

TEST(common_json_str)
{
    struct kvs_buf b;
    kvs_buf_init(&b, 1024);
    ASSERT_OK(kvs_json_str(&b, S("plain key.json")));
    ASSERT_OK(kvs_json_str(&b, (kvs_slice){"q\"b\\s\n\x01x", 8}));
    ASSERT_OK(kvs_json_str(&b, S("")));
    ASSERT_OK(kvs_json_uint(&b, 18446744073709551615ull));
    ASSERT_OK(kvs_json_uint(&b, 0));
    ASSERT_OK(kvs_json_uint(&b, 1024));
    ASSERT_MEM_EQ(b.p, b.n,
                  "\"plain key.json\"\"q\\\"b\\\\s\\u000a\\u0001x\"\"\"18446744073709551615"
                  "01024");
    kvs_buf_free(&b);
    kvs_buf_init(&b, 3);
    ASSERT_ERR(kvs_json_str(&b, S("abc")), KVS_ETOOBIG);
    kvs_buf_free(&b);
}

TEST(common_iso8601_parse)
{
    int64_t t;
    ASSERT_OK(kvs_iso8601_parse("2019-12-12T07:34:14.202Z", &t));
    char back[KVS_ISO_LEN + 1];
    kvs_iso8601(t, back);
    ASSERT_STR_EQ(back, "2019-12-12T07:34:14.202Z");
    ASSERT_OK(kvs_iso8601_parse("1970-01-01T00:00:00Z", &t));
    ASSERT_EQ(t, 0);
    ASSERT_OK(kvs_iso8601_parse("2024-02-29T23:59:59.5+01:00", &t));
    kvs_iso8601(t, back);
    ASSERT_STR_EQ(back, "2024-02-29T22:59:59.500Z");
    ASSERT_OK(kvs_iso8601_parse("2024-03-01T00:00:00.123456789-02:30", &t));
    kvs_iso8601(t, back);
    ASSERT_STR_EQ(back, "2024-03-01T02:30:00.123Z");
    const char *bad[] = {"",
                         "2019-12-12",
                         "2019-12-12T07:34:14",
                         "2019-12-12 07:34:14Z",
                         "2019-13-12T07:34:14Z",
                         "2023-02-29T07:34:14Z",
                         "2019-12-12T24:00:00Z",
                         "2019-12-12T07:34:14.Z",
                         "2019-12-12T07:34:14.1234567890Z",
                         "2019-12-12T07:34:14Zx",
                         "2019-12-12T07:34:14+0100",
                         "1969-12-31T23:59:59Z",
                         "1970-01-01T00:30:00+01:00",
                         "+2019-12-12T07:34:14Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kvs_iso8601_parse(bad[i], &t) == 0)
            TEST_FAIL_("accepted: %s", bad[i]);
}
