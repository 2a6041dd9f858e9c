/* test_strict.c — the request head held to RFC 9112 (src/server/strict.c), on heads as
 * libmicrohttpd 0.9.75 leaves them (tests/fuzz/mhd_head.h; tests/api/framing.test.mjs sends
 * the same over sockets to a real server). */
#include "../fuzz/mhd_head.h"
#include "server/strict.h"
#include "test.h"

/* The checker's answer for the raw head RAW (N bytes): NULL when fine. MHD must pass it on. */
static const char *check(const char *raw, size_t n)
{
    static char why[200];
    struct mhd_head h;
    ASSERT_EQ(mhd_head_parse(raw, n, &h), 0);
    struct kvs_strict s;
    kvs_strict_begin(&s, h.buf, h.size, h.url, h.version, kvs_slice_of(h.target));
    for (size_t i = 0; i < h.nf; i++)
        kvs_strict_field(&s, h.f[i].name, h.f[i].value);
    const char *r = kvs_strict_end(&s);
    if (r != NULL)
        snprintf(why, sizeof why, "%s", r);
    mhd_head_free(&h);
    return r ? why : NULL;
}

#define CHECK(lit) check(lit, sizeof(lit) - 1)

TEST(strict_accepts_well_formed_heads)
{
    ASSERT(CHECK("GET /v2/key-value-stores?limit=5&desc=1 HTTP/1.1\r\nHost: a\r\n\r\n") == NULL);
    ASSERT(CHECK("GET /a HTTP/1.0\r\n\r\n") == NULL); /* Host is optional in HTTP/1.0 */
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nhost: a\r\nContent-Length: 5\r\nX-T:\tv \t\r\nX-E:\r\n"
                 "Cookie: a=1; b=2\r\nX-Obs: caf\xc3\xa9\r\n\r\nhello") == NULL);
    ASSERT(CHECK("POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n") ==
           NULL);
}

TEST(strict_field_names)
{
    /* whitespace before the colon, in every framing field and others */
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello") != NULL);
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\nhello") != NULL);
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost : a\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\n X: b\r\n\r\n") != NULL); /* folded */
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n") != NULL);   /* empty name */
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\nX(Y): b\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: b\r\n\r\n") != NULL);
    ASSERT(kvs_strict_token(KVS_SLICE_LIT("Content-Length")));
    ASSERT(kvs_strict_token(KVS_SLICE_LIT("!#$%&'*+-.^_`|~09azAZ")));
    ASSERT(!kvs_strict_token(KVS_SLICE_LIT("")));
    ASSERT(!kvs_strict_token(KVS_SLICE_LIT("Content-Length ")));
    ASSERT(!kvs_strict_token(KVS_SLICE_LIT("a\"b")));
}

TEST(strict_folding_and_line_ends)
{
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\n") !=
           NULL);
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\tchunked\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\nY: c\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a HTTP/1.1\nHost: a\n\n") != NULL);           /* bare LF */
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\nX: b\r\n\r\n") != NULL); /* one bare LF */
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n") != NULL); /* bare CR */
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n") != NULL);
}

TEST(strict_nul)
{
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\0b\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\0 5\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a?x=\0 HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a\0HTTP/1.1 HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
}

TEST(strict_request_line)
{
    ASSERT(CHECK("GET  /a HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a  HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    ASSERT(CHECK("G(T /a HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
}

TEST(strict_host_and_framing)
{
    ASSERT(CHECK("GET /a HTTP/1.1\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") != NULL);
    ASSERT(CHECK("GET /a HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n") != NULL);
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx") !=
           NULL);
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n") != NULL);
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") != NULL);
    ASSERT(CHECK("PUT /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \r\n\r\n") != NULL);
    const char *why = CHECK("GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    ASSERT(why != NULL && strstr(why, "Host") != NULL);
}
