/* fuzz_json.c — JSON request bodies: kvs_api_body_json() (src/api/common.c) on jansson.
 *
 * The handlers of POST and PUT /v2/key-value-stores read their body with kvs_api_body_json();
 * what they then take out of it (name, title, schema, generalAccess) is static in
 * src/api/stores.c and needs a store and a storage to run, so it is not fuzzed here (see
 * README.md). The request is a fake: no connection, a Content-Encoding header supplied by a
 * wrapper around MHD_lookup_connection_value() (linked with --wrap), the body in r->body.
 *
 * The first input byte picks the Content-Encoding, the next two the record size limit (the
 * cap on the decoded body); the rest is the body. Properties:
 *   - the result is 0, KVS_EENCODING, KVS_EBADBODY, KVS_ETOOBIG or KVS_EBADJSON, and
 *     KVS_EENCODING exactly for an unknown coding;
 *   - no JSON (0 and NULL) exactly for a body of blanks;
 *   - KVS_EBADJSON comes with a message; any other failure leaves no value;
 *   - a parsed body is an object or an array whose strings and object keys hold no NUL byte
 *     (the handlers read them with strlen), and it survives json_dumps() and parsing again;
 *   - the body gzip-compressed here and sent with "Content-Encoding: gzip" gives the same
 *     answer and the same value as the body sent as is, or KVS_ETOOBIG past the cap.
 * And the other direction, JSON written without jansson (src/common/json.c, the keys page):
 *   - kvs_json_str() of the body's bytes is a quoted string with no raw control character and
 *     no unescaped '"' or '\\'; when the bytes are UTF-8, jansson reads it back as exactly
 *     those bytes (NULs included); kvs_json_uint() writes what strtoull reads back.
 *   - a NUL byte is not a blank: a body holding one is parsed or refused, never taken as
 *     empty (fuzzing found it counted as a blank once). */
#include <zlib.h>

#include "api/api.h"
#include "common/json.h"
#include "fuzz.h"
#include "kvs.h"
#include "server/budget.h"

/* ---- the fake connection -------------------------------------------------------------------- */

static const char *fake_encoding; /* the Content-Encoding of the request being fuzzed */

const char *__real_MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind k,
                                               const char *key);
const char *__wrap_MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind k,
                                               const char *key);
const char *__wrap_MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind k,
                                               const char *key)
{
    if (c != NULL)
        return __real_MHD_lookup_connection_value(c, k, key);
    if (k == MHD_HEADER_KIND && strcasecmp(key, "Content-Encoding") == 0)
        return fake_encoding;
    return NULL;
}

/* ---- checks --------------------------------------------------------------------------------- */

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void check_value(json_t *v, int depth)
{
    FUZZ_CHECK(depth < 4096);
    if (json_is_string(v)) {
        FUZZ_CHECK(strlen(json_string_value(v)) == json_string_length(v));
    } else if (json_is_object(v)) {
        const char *key;
        json_t *m;
        json_object_foreach(v, key, m)
        {
            FUZZ_CHECK(strlen(key) == json_object_iter_key_len(json_object_key_to_iter(key)));
            check_value(m, depth + 1);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            check_value(m, depth + 1);
        }
    }
}

static int parse(const char *encoding, kvs_slice body, size_t cap, json_t **out, char *msg,
                 size_t msg_n)
{
    static struct kvs_server srv;
    struct kvs_req *r = calloc(1, sizeof *r);
    srv.cfg.max_record_size = cap;
    if (srv.decoding == NULL) /* decoding memory, more than any one body takes (budget.h) */
        srv.decoding = kvs_budget_new((size_t)1 << 30);
    r->srv = &srv;
    kvs_buf_init(&r->body, body.n);
    FUZZ_CHECK(kvs_buf_append(&r->body, body.p, body.n) == 0);
    fake_encoding = encoding;
    *out = (json_t *)1;
    int rc = kvs_api_body_json(r, out);
    FUZZ_CHECK(memchr(r->error_msg, '\0', sizeof r->error_msg) != NULL);
    snprintf(msg, msg_n, "%s", r->error_msg);
    kvs_buf_free(&r->body);
    free(r);
    return rc;
}

/* kvs_json_str() and kvs_json_uint() on the bytes S. */
static void check_writer(kvs_slice s)
{
    struct kvs_buf b;
    kvs_buf_init(&b, 2 + 6 * s.n); /* the most it can need: every byte as \u00XX */
    FUZZ_CHECK(kvs_json_str(&b, s) == 0);
    FUZZ_CHECK(b.n >= 2 && b.p[0] == '"' && b.p[b.n - 1] == '"');
    for (size_t i = 1; i + 1 < b.n; i++) {
        unsigned char c = (unsigned char)b.p[i];
        FUZZ_CHECK(c >= 0x20 && c != '"');
        if (c == '\\')
            FUZZ_CHECK(b.p[++i] != '\0' && strchr("\"\\u", b.p[i]) && i + 1 < b.n);
    }
    json_t *probe = json_stringn(s.n ? s.p : "", s.n); /* NULL unless S is UTF-8 */
    if (probe) {
        json_error_t err;
        json_t *back = json_loadb(b.p, b.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        FUZZ_CHECK(back != NULL && json_is_string(back));
        FUZZ_CHECK(json_string_length(back) == s.n);
        FUZZ_CHECK(s.n == 0 || memcmp(json_string_value(back), s.p, s.n) == 0);
        json_decref(back);
        json_decref(probe);
    }
    kvs_buf_free(&b);

    struct fz f = {s.p, s.n};
    unsigned long long v = fz_u64(&f) >> (fz_byte(&f) % 64);
    kvs_buf_init(&b, 20);
    FUZZ_CHECK(kvs_json_uint(&b, v) == 0 && b.n > 0 && b.n <= 20);
    char num[21];
    memcpy(num, b.p, b.n);
    num[b.n] = '\0';
    char *end;
    FUZZ_CHECK(strtoull(num, &end, 10) == v && *end == '\0' && (num[0] != '0' || b.n == 1));
    kvs_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_writer((kvs_slice){(const char *)data, size});

    static const char *codings[] = {NULL, "identity", "",         " GZip ",  "deflate",
                                    "br", "x-gzip",   "compress", "gzip, br"};
    struct fz f = {(const char *)data, size};
    unsigned pick = fz_byte(&f);
    size_t cap = fz_byte(&f) << 8;
    cap |= fz_byte(&f);
    kvs_slice body = {f.p, f.n};
    const char *coding = codings[pick % (sizeof codings / sizeof codings[0])];
    int unknown = coding && (!strcmp(coding, "compress") || !strcmp(coding, "gzip, br"));
    int identity = coding == NULL || !strcmp(coding, "identity") || !strcmp(coding, "");

    json_t *v;
    char msg[200];
    int rc = parse(coding, body, cap, &v, msg, sizeof msg);
    FUZZ_CHECK(rc == 0 || rc == KVS_EENCODING || rc == KVS_EBADBODY || rc == KVS_ETOOBIG ||
               rc == KVS_EBADJSON);
    FUZZ_CHECK((rc == KVS_EENCODING) == unknown);
    if (rc != 0)
        FUZZ_CHECK(v == NULL);
    if (rc == KVS_EBADJSON)
        FUZZ_CHECK(msg[0] != '\0');
    if (identity) {
        FUZZ_CHECK(rc == 0 || rc == KVS_EBADJSON);
        size_t b = 0;
        while (b < body.n && blank(body.p[b]))
            b++;
        if (b < body.n) /* something there, a NUL byte included: parsed or refused */
            FUZZ_CHECK(v != NULL || rc == KVS_EBADJSON);
        else
            FUZZ_CHECK(rc == 0 && v == NULL); /* only blanks: no body */
    }
    if (rc == 0 && v != NULL) {
        FUZZ_CHECK(json_is_object(v) || json_is_array(v));
        check_value(v, 0);
        char *text = json_dumps(v, JSON_COMPACT);
        FUZZ_CHECK(text != NULL);
        json_t *again = json_loads(text, 0, NULL);
        FUZZ_CHECK(again != NULL && json_equal(v, again));
        json_decref(again);
        free(text);
    }

    if (identity && (pick & 0x80)) { /* the same body, gzip-compressed */
        uLong zcap = compressBound(body.n) + 64;
        char *z = malloc(zcap);
        z_stream zs = {0};
        FUZZ_CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        zs.next_in = (Bytef *)(body.n ? body.p : "");
        zs.avail_in = (uInt)body.n;
        zs.next_out = (Bytef *)z;
        zs.avail_out = (uInt)zcap;
        FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
        kvs_slice zbody = {z, zcap - zs.avail_out};
        deflateEnd(&zs);
        json_t *zv;
        int zrc = parse("gzip", zbody, cap, &zv, msg, sizeof msg);
        if (body.n > cap) {
            FUZZ_CHECK(zrc == KVS_ETOOBIG && zv == NULL);
        } else {
            FUZZ_CHECK(zrc == rc);
            FUZZ_CHECK((zv == NULL) == (v == NULL));
            FUZZ_CHECK(zv == NULL || json_equal(zv, v));
        }
        json_decref(zv);
        free(z);
    }
    json_decref(v);
    return 0;
}
