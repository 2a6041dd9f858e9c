/* fuzz_query.c — the request target: path and query string (src/server/http.c), and the
 * query-parameter helpers of src/api/common.c.
 *
 * http.c's target parsing is static, so this harness includes http.c itself (as h2o's unit
 * tests do) and calls its URI callback, on_uri(), with the input as the target, exactly as
 * libmicrohttpd would (a C string: the input up to its first NUL). A request made that way
 * has no connection; nothing here needs one. Properties:
 *   - the path is the target up to the first '?';
 *   - the query arguments are what a plain reference splitter and decoder makes of the query
 *     ('&'-separated, empty pairs skipped, '+' is a space, no NUL byte), and the query is
 *     refused (bad_query) exactly when the reference finds a malformed escape, a NUL in a name
 *     or a value, or more than 16 arguments; every decoded string lies inside query_buf;
 *   - kvs_http_query() returns the first argument of that name;
 *   - kvs_api_query_bool() and kvs_api_query_uint() agree with reference parsers (a uint is
 *     decimal digits only, at most 2^53 - 1: KVS_API_QUERY_MAX);
 *   - decode_params() fills {store} and {key} of a routed path as the reference decoder does,
 *     NUL-terminated and within their arrays, and flags what does not fit.
 * (A value decoding to a NUL byte, ?limit=5%00x, is refused rather than cut at the NUL.) */
#include "server/http.c" /* the code under test, static functions included */

#include <ctype.h>
#include <inttypes.h>

#include "fuzz.h"

#define MAX_ARGS (sizeof((struct kvs_req *)0)->query / sizeof((struct kvs_req *)0)->query[0])

/* ---- reference ------------------------------------------------------------------------------ */

static int ref_hex(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* Decode IN into OUT (room for IN.n); -1 on a malformed escape. */
static long ref_decode(kvs_slice in, char *out, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < in.n; i++) {
        if (in.p[i] == '%') {
            if (in.n - i < 3 || !isxdigit((unsigned char)in.p[i + 1]) ||
                !isxdigit((unsigned char)in.p[i + 2]))
                return -1;
            out[o++] = (char)(ref_hex(in.p[i + 1]) * 16 + ref_hex(in.p[i + 2]));
            i += 2;
        } else {
            out[o++] = plus_space && in.p[i] == '+' ? ' ' : in.p[i];
        }
    }
    return (long)o;
}

struct ref_arg {
    char *name, *value; /* NUL-terminated; value may hold NULs before its end */
    size_t name_n, value_n;
};

/* Split query Q as the contract wants it. Returns the argument count, *BAD when refused. */
static size_t ref_split(const char *q, struct ref_arg *args, int *bad)
{
    size_t n = 0;
    *bad = 0;
    while (*q) {
        size_t len = strcspn(q, "&");
        if (len > 0) {
            if (n == MAX_ARGS) {
                *bad = 1;
                return n;
            }
            const char *eq = memchr(q, '=', len);
            kvs_slice name = {q, eq ? (size_t)(eq - q) : len};
            kvs_slice value = eq ? (kvs_slice){eq + 1, len - name.n - 1} : (kvs_slice){"", 0};
            struct ref_arg *a = &args[n];
            a->name = calloc(1, name.n + 1);
            a->value = calloc(1, value.n + 1);
            long nn = ref_decode(name, a->name, 1), vn = ref_decode(value, a->value, 1);
            n++;
            if (nn < 0 || vn < 0 || memchr(a->name, '\0', (size_t)nn) ||
                memchr(a->value, '\0', (size_t)vn)) {
                *bad = 1;
                return n;
            }
            a->name_n = (size_t)nn;
            a->value_n = (size_t)vn;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return n;
}

static int ref_bool(const char *v, int *out)
{
    if (v == NULL || !strcmp(v, "") || !strcmp(v, "0") || !strcasecmp(v, "false"))
        return *out = 0, 0;
    if (!strcmp(v, "1") || !strcasecmp(v, "true"))
        return *out = 1, 0;
    return KVS_EBADPARAM;
}

static int ref_uint(const char *v, uint64_t def, uint64_t *out)
{
    if (v == NULL || *v == '\0')
        return *out = def, 0;
    uint64_t n = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (UINT64_MAX - (uint64_t)(*v - '0')) / 10)
            return KVS_EBADPARAM;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    if (n > KVS_API_QUERY_MAX) /* 2^53 - 1: what JSON echoes exactly */
        return KVS_EBADPARAM;
    return *out = n, 0;
}

/* ---- checks --------------------------------------------------------------------------------- */

static void check_params(struct kvs_req *r, const char *name)
{
    const char *v = kvs_http_query(r, name);
    int b = -1, want_b = -1;
    FUZZ_CHECK(kvs_api_query_bool(r, name, &b) == ref_bool(v, &want_b));
    FUZZ_CHECK(b == want_b || want_b == -1);
    uint64_t u = 7, want_u = 7;
    FUZZ_CHECK(kvs_api_query_uint(r, name, 42, &u) == ref_uint(v, 42, &want_u));
    FUZZ_CHECK(u == want_u);
}

static void check_query(struct kvs_req *r, const char *query, size_t query_n)
{
    struct ref_arg args[MAX_ARGS];
    memset(args, 0, sizeof args);
    int bad;
    size_t n = ref_split(query ? query : "", args, &bad);
    FUZZ_CHECK(r->bad_query == bad);
    FUZZ_CHECK(r->n_query <= MAX_ARGS);
    if (!bad) {
        FUZZ_CHECK(r->n_query == n);
        for (size_t i = 0; i < n; i++) {
            struct kvs_query_arg *a = &r->query[i];
            FUZZ_CHECK(a->name >= r->query_buf && a->value > a->name);
            FUZZ_CHECK(a->value + args[i].value_n < r->query_buf + query_n + 2 * MAX_ARGS + 2);
            FUZZ_CHECK(strlen(a->name) == args[i].name_n && !strcmp(a->name, args[i].name));
            FUZZ_CHECK(memcmp(a->value, args[i].value, args[i].value_n + 1) == 0);
            /* the first argument of that name wins */
            size_t first = 0;
            while (strcmp(args[first].name, a->name) != 0)
                first++;
            FUZZ_CHECK(kvs_http_query(r, a->name) == r->query[first].value);
        }
        const char *absent = "no such parameter";
        size_t i = 0;
        while (i < n && strcmp(args[i].name, absent) != 0)
            i++;
        FUZZ_CHECK(kvs_http_query(r, absent) == (i < n ? r->query[i].value : NULL));
        check_params(r, "limit");
        check_params(r, "desc");
        if (n > 0)
            check_params(r, args[0].name);
        if (n > 1)
            check_params(r, args[n - 1].name);
    }
    for (size_t i = 0; i < MAX_ARGS; i++) {
        free(args[i].name);
        free(args[i].value);
    }
}

static void check_path(struct kvs_req *r)
{
    struct kvs_path_match m;
    if (kvs_route_match_path(r->path, &m) == KVS_PATH_NONE)
        return;
    int rc = decode_params(r, &m);
    FUZZ_CHECK(rc == 0 || rc == KVS_ENOTFOUND);
    if (m.store.n) {
        char *want = malloc(m.store.n);
        long wn = ref_decode(m.store, want, 0);
        if (wn < 0 || (size_t)wn > sizeof r->store_ref - 1) {
            FUZZ_CHECK(rc == KVS_ENOTFOUND);
        } else {
            FUZZ_CHECK(rc == 0 && r->store_ref_len == (size_t)wn);
            FUZZ_CHECK(memcmp(r->store_ref, want, (size_t)wn) == 0 && r->store_ref[wn] == '\0');
        }
        free(want);
    }
    if (rc == 0 && m.key.n) {
        char *want = malloc(m.key.n);
        long wn = ref_decode(m.key, want, 0);
        if (wn < 0 || wn > KVS_KEY_MAX) {
            FUZZ_CHECK(r->key_too_long && r->key_len == 0);
        } else {
            FUZZ_CHECK(!r->key_too_long && r->key_len == (size_t)wn);
            FUZZ_CHECK(memcmp(r->key, want, (size_t)wn) == 0 && r->key[wn] == '\0');
        }
        free(want);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the target as MHD hands it over: a C string */
    char *target = malloc(size + 1);
    memcpy(target, data, size);
    target[size] = '\0';

    static struct kvs_server srv;
    struct kvs_req *r = on_uri(&srv, target, NULL);
    const char *qm = strchr(target, '?');
    size_t path_n = qm ? (size_t)(qm - target) : strlen(target);
    FUZZ_CHECK(r->path.n == path_n && memcmp(r->path.p, target, path_n) == 0);
    check_query(r, qm ? qm + 1 : NULL, qm ? strlen(qm + 1) : 0);
    check_path(r);

    void *cls = r;
    on_completed(NULL, NULL, &cls, MHD_REQUEST_TERMINATED_COMPLETED_OK);
    free(target);
    return 0;
}
