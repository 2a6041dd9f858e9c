/* fuzz_router.c — the request router and percent-coding (src/server/router.c).
 *
 * The input is a raw request path, as a client may send it. Properties:
 *   - a matched path is exactly what its kind, {store} and {key} spell ({key} also holds the
 *     {user} or {prefix} of share, user and token paths): rebuilding the path
 *     from the match gives the input back (up to the one tolerated trailing '/'), the slices
 *     lie inside the input, are not empty and hold no '/'; an unmatched path leaves the match
 *     zeroed;
 *   - any {store} and {key} without '/' are found again in a path built from them, and any
 *     bytes at all survive percent-encoding into a path and decoding out of the match (what
 *     http.c's decode_params() does): "a decoded key re-encodes to the same bytes";
 *   - kvs_pct_decode() agrees byte for byte with a plain reference decoder, never writes past
 *     its OUT_MAX (the output buffers are exact-size heap blocks, so ASan would see it), fails
 *     exactly when the reference finds a malformed escape or the result does not fit;
 *   - kvs_pct_encode() writes only unreserved characters and upper-case %XX escapes, at most
 *     three bytes per input byte, leaves valid record keys unchanged, and fails with
 *     KVS_ETOOBIG exactly when the result exceeds the buffer's maximum. */
#include <ctype.h>

#include "common/buf.h"
#include "common/pct.h"
#include "common/validate.h"
#include "fuzz.h"
#include "kvs.h"
#include "server/router.h"

#define STORES "/v2/key-value-stores"

static int hexdigit(char c)
{
    return isxdigit((unsigned char)c);
}

static int hexvalue(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* The reference decoder: into OUT (room for IN.n bytes); -1 on a malformed escape. */
static long ref_decode(kvs_slice in, char *out, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < in.n; i++) {
        if (in.p[i] == '%') {
            if (in.n - i < 3 || !hexdigit(in.p[i + 1]) || !hexdigit(in.p[i + 2]))
                return -1;
            out[o++] = (char)(hexvalue(in.p[i + 1]) * 16 + hexvalue(in.p[i + 2]));
            i += 2;
        } else {
            out[o++] = plus_space && in.p[i] == '+' ? ' ' : in.p[i];
        }
    }
    return (long)o;
}

/* Append S to the heap string *P of length *N. */
static void put(char **p, size_t *n, kvs_slice s)
{
    *p = realloc(*p, *n + s.n + 1);
    FUZZ_CHECK(*p != NULL);
    if (s.n)
        memcpy(*p + *n, s.p, s.n);
    *n += s.n;
}

static void put_str(char **p, size_t *n, const char *s)
{
    put(p, n, kvs_slice_of(s));
}

/* ---- matching ------------------------------------------------------------------------------- */

static void check_segment(kvs_slice seg, kvs_slice in)
{
    FUZZ_CHECK(seg.n > 0 && seg.p != NULL);
    FUZZ_CHECK(fz_inside(seg, in));
    FUZZ_CHECK(memchr(seg.p, '/', seg.n) == NULL);
}

/* The paths of runs (and the 501 ones): M's slices are segments of IN, and IN is the path they
 * make (the Actor paths' "acts" or "actors" as IN has it). */
static void check_run_path(kvs_slice in, const struct kvs_path_match *m)
{
    enum kvs_path_kind k = m->kind;
    if (k == KVS_PATH_UNSUPPORTED) { /* /v2/<a resource kvstore does not serve>... */
        FUZZ_CHECK(in.n >= 4 && memcmp(in.p, "/v2/", 4) == 0);
        return;
    }
    char *p = NULL;
    size_t n = 0;
    int actor = k == KVS_PATH_ACTOR_RUNS || k == KVS_PATH_ACTOR_LAST_RUN ||
                m->via == KVS_VIA_LAST_RUN;
    int acts = in.n >= 9 && memcmp(in.p, "/v2/acts/", 9) == 0;
    put_str(&p, &n, actor ? (acts ? "/v2/acts" : "/v2/actors") : "/v2/actor-runs");
    if (k != KVS_PATH_RUNS) {
        check_segment(m->store, in);
        put_str(&p, &n, "/");
        put(&p, &n, m->store);
    }
    if (actor)
        put_str(&p, &n, k == KVS_PATH_ACTOR_RUNS ? "/runs" : "/runs/last");
    put_str(&p, &n,
            k == KVS_PATH_RUN_ABORT    ? "/abort"
            : k == KVS_PATH_RUN_FINISH ? "/finish"
                                       : "");
    if (m->via != KVS_VIA_STORE) {
        put_str(&p, &n, "/key-value-store");
        put_str(&p, &n,
                k == KVS_PATH_KEYS                              ? "/keys"
                : k == KVS_PATH_RECORDS || k == KVS_PATH_RECORD ? "/records"
                                                                : "");
        if (k == KVS_PATH_RECORD) {
            check_segment(m->key, in);
            put_str(&p, &n, "/");
            put(&p, &n, m->key);
        } else {
            FUZZ_CHECK(m->key.p == NULL && m->key.n == 0);
        }
    } else {
        FUZZ_CHECK(m->key.p == NULL && m->key.n == 0);
    }
    FUZZ_CHECK(in.n == n || (in.n == n + 1 && in.p[n] == '/'));
    FUZZ_CHECK(memcmp(in.p, p, n) == 0);
    free(p);
}

static void check_match(kvs_slice in)
{
    struct kvs_path_match m;
    memset(&m, 0x5a, sizeof m); /* the matcher must set every field */
    enum kvs_path_kind k = kvs_route_match_path(in, &m);
    FUZZ_CHECK(k >= KVS_PATH_NONE && k <= KVS_PATH_UNSUPPORTED);
    FUZZ_CHECK(m.kind == k);
    FUZZ_CHECK(m.via == KVS_VIA_STORE || m.via == KVS_VIA_RUN || m.via == KVS_VIA_LAST_RUN);
    if (m.via != KVS_VIA_STORE) /* only the store kinds are named through a run */
        FUZZ_CHECK(k == KVS_PATH_STORE || k == KVS_PATH_KEYS || k == KVS_PATH_RECORDS ||
                   k == KVS_PATH_RECORD);
    int run_kind = k == KVS_PATH_RUN || k == KVS_PATH_RUN_ABORT || k == KVS_PATH_RUN_FINISH ||
                   k == KVS_PATH_ACTOR_RUNS || k == KVS_PATH_ACTOR_LAST_RUN;
    if (k == KVS_PATH_RUNS || k == KVS_PATH_UNSUPPORTED)
        FUZZ_CHECK(m.store.p == NULL && m.key.p == NULL && m.via == KVS_VIA_STORE);
    if (run_kind) /* {run} or {actor}: a segment of the path, rebuilt below */
        check_segment(m.store, in);
    if (run_kind || k == KVS_PATH_RUNS || k == KVS_PATH_UNSUPPORTED || m.via != KVS_VIA_STORE) {
        check_run_path(in, &m);
        return;
    }
    int has_store = k == KVS_PATH_STORE || k == KVS_PATH_KEYS || k == KVS_PATH_RECORDS ||
                    k == KVS_PATH_RECORD || k == KVS_PATH_SHARES || k == KVS_PATH_SHARE ||
                    k == KVS_PATH_SIGNING_KEY;
    /* {key}, or the {user} / {prefix} that share, user and token paths keep in the same slot */
    int has_key = k == KVS_PATH_RECORD || k == KVS_PATH_SHARE || k == KVS_PATH_USER ||
                  k == KVS_PATH_USER_TOKENS || k == KVS_PATH_USER_USAGE || k == KVS_PATH_TOKEN;
    if (has_store)
        check_segment(m.store, in);
    else
        FUZZ_CHECK(m.store.p == NULL && m.store.n == 0);
    if (has_key)
        check_segment(m.key, in);
    else
        FUZZ_CHECK(m.key.p == NULL && m.key.n == 0);
    if (k == KVS_PATH_NONE)
        return;

    char *p = NULL;
    size_t n = 0;
    const char *head = k == KVS_PATH_HEALTH ? "/health"
                       : k == KVS_PATH_USERS || k == KVS_PATH_USER || k == KVS_PATH_USER_TOKENS ||
                               k == KVS_PATH_USER_USAGE
                           ? "/v2/users"
                       : k == KVS_PATH_TOKEN ? "/v2/tokens"
                                             : STORES;
    put_str(&p, &n, head);
    if (has_store) {
        put_str(&p, &n, "/");
        put(&p, &n, m.store);
    }
    put_str(&p, &n,
            k == KVS_PATH_KEYS                              ? "/keys"
            : k == KVS_PATH_RECORDS || k == KVS_PATH_RECORD ? "/records"
            : k == KVS_PATH_SHARES || k == KVS_PATH_SHARE   ? "/shares"
            : k == KVS_PATH_SIGNING_KEY                     ? "/rotate-signing-key"
                                                            : "");
    if (has_key) {
        put_str(&p, &n, "/");
        put(&p, &n, m.key);
    }
    if (k == KVS_PATH_USER_TOKENS)
        put_str(&p, &n, "/tokens");
    if (k == KVS_PATH_USER_USAGE)
        put_str(&p, &n, "/usage");
    FUZZ_CHECK(in.n == n || (in.n == n + 1 && in.p[n] == '/'));
    FUZZ_CHECK(memcmp(in.p, p, n) == 0);
    free(p);
}

/* A path made of STORE and KEY (no '/' in either) routes back to them. */
static void check_built(kvs_slice store, kvs_slice key, int trailing_slash)
{
    char *p = NULL;
    size_t n = 0;
    put_str(&p, &n, STORES "/");
    put(&p, &n, store);
    size_t store_end = n;
    put_str(&p, &n, "/records/");
    put(&p, &n, key);
    if (trailing_slash)
        put_str(&p, &n, "/");
    struct kvs_path_match m;
    FUZZ_CHECK(kvs_route_match_path((kvs_slice){p, n}, &m) == KVS_PATH_RECORD);
    FUZZ_CHECK(kvs_slice_eq(m.store, store) && kvs_slice_eq(m.key, key));
    FUZZ_CHECK(kvs_route_match_path((kvs_slice){p, store_end}, &m) == KVS_PATH_STORE);
    FUZZ_CHECK(kvs_slice_eq(m.store, store));
    free(p);
}

/* ---- percent-coding ------------------------------------------------------------------------- */

static int plain_char(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("-._~!'()", c) != NULL);
}

/* Decode IN with room for exactly CAP bytes and compare with the reference. */
static void check_decode(kvs_slice in, size_t cap, int plus_space)
{
    char *want = malloc(in.n + 1);
    long wn = ref_decode(in, want, plus_space);
    char *out = malloc(cap ? cap : 1);
    long n = kvs_pct_decode(in, out, cap, plus_space);
    if (wn < 0 || (size_t)wn > cap) {
        FUZZ_CHECK(n == -1);
    } else {
        FUZZ_CHECK(n == wn);
        FUZZ_CHECK((size_t)n <= in.n);
        FUZZ_CHECK(n == 0 || memcmp(out, want, (size_t)n) == 0);
    }
    free(out);
    free(want);
}

/* Encode S into a buffer capped at MAX; returns the buffer (caller frees) and checks it. */
static void encode_checked(kvs_slice s, size_t max, struct kvs_buf *b)
{
    kvs_buf_init(b, max);
    int rc = kvs_pct_encode(b, s);
    size_t need = 0;
    for (size_t i = 0; i < s.n; i++)
        need += plain_char((unsigned char)s.p[i]) ? 1 : 3;
    FUZZ_CHECK(rc == (need <= max ? 0 : KVS_ETOOBIG));
    FUZZ_CHECK(b->n <= max);
    if (rc != 0)
        return;
    FUZZ_CHECK(b->n == need && b->n <= 3 * s.n);
    for (size_t i = 0; i < b->n; i++) {
        unsigned char c = (unsigned char)b->p[i];
        if (c == '%') {
            FUZZ_CHECK(i + 2 < b->n);
            for (int j = 1; j <= 2; j++)
                FUZZ_CHECK(isdigit((unsigned char)b->p[i + j]) ||
                           (b->p[i + j] >= 'A' && b->p[i + j] <= 'F'));
            i += 2;
        } else {
            FUZZ_CHECK(plain_char(c));
        }
    }
}

static void check_round_trip(kvs_slice s)
{
    struct kvs_buf enc;
    encode_checked(s, 3 * s.n, &enc);
    kvs_slice e = kvs_buf_slice(&enc);
    for (int plus = 0; plus <= 1; plus++) { /* '+' is always escaped, so both decode alike */
        char *back = malloc(e.n ? e.n : 1);
        long n = kvs_pct_decode(e, back, e.n, plus);
        FUZZ_CHECK(n >= 0 && (size_t)n == s.n && (n == 0 || memcmp(back, s.p, s.n) == 0));
        free(back);
    }
    if (kvs_valid_key(s))
        FUZZ_CHECK(kvs_slice_eq(e, s)); /* keys need no escaping: links show them as they are */
    kvs_buf_free(&enc);
}

/* Encode STORE and KEY into a path, route it, and decode the match as http.c does. */
static void check_encoded_path(kvs_slice store, kvs_slice key)
{
    struct kvs_buf b;
    kvs_buf_init(&b, 64 + 3 * (store.n + key.n));
    FUZZ_CHECK(kvs_buf_puts(&b, STORES "/") == 0);
    FUZZ_CHECK(kvs_pct_encode(&b, store) == 0);
    FUZZ_CHECK(kvs_buf_puts(&b, "/records/") == 0);
    FUZZ_CHECK(kvs_pct_encode(&b, key) == 0);
    struct kvs_path_match m;
    FUZZ_CHECK(kvs_route_match_path(kvs_buf_slice(&b), &m) == KVS_PATH_RECORD);
    char *out = malloc(store.n + key.n + 1);
    FUZZ_CHECK(kvs_pct_decode(m.store, out, store.n, 0) == (long)store.n);
    FUZZ_CHECK(memcmp(out, store.p, store.n) == 0);
    FUZZ_CHECK(kvs_pct_decode(m.key, out, key.n, 0) == (long)key.n);
    FUZZ_CHECK(memcmp(out, key.p, key.n) == 0);
    free(out);
    kvs_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvs_slice in = {(const char *)data, size};
    check_match(in);

    /* the cap: mostly roomy, sometimes just short, taken from the input itself */
    size_t cap = size == 0 ? 0 : data[0] % 4 == 0 ? data[size - 1] % (size + 1) : size;
    for (int plus = 0; plus <= 1; plus++) {
        check_decode(in, size, plus);
        check_decode(in, cap, plus);
    }
    check_round_trip(in);
    struct kvs_buf short_buf; /* a cap below what the encoding needs */
    encode_checked(in, cap, &short_buf);
    kvs_buf_free(&short_buf);

    /* the input split in two: raw bytes for the encoded path, '/'-free copies for the raw one */
    size_t half = size / 2;
    kvs_slice store = {in.p, half}, key = {in.p + half, size - half};
    if (store.n > 0 && key.n > 0) {
        check_encoded_path(store, key);
        char *copy = malloc(size);
        memcpy(copy, in.p, size);
        for (size_t i = 0; i < size; i++)
            if (copy[i] == '/')
                copy[i] = '_';
        check_built((kvs_slice){copy, half}, (kvs_slice){copy + half, size - half}, data[0] & 1);
        free(copy);
    }
    return 0;
}
