/* http.c — libmicrohttpd glue: the per-request state machine described in http.h. */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/runwait.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/pct.h"
#include "common/perthread.h"
#include "kvs.h"
#include "server/accesslog.h"
#include "server/assets.h"
#include "server/budget.h"
#include "server/deadline.h"
#include "server/metrics.h"
#include "server/ratelimit.h"
#include "server/redact.h"
#include "server/reply.h"
#include "server/router.h"
#include "server/strict.h"
#include "server/tls.h"

enum req_state {
    ST_NEW = 0, /* created by the URI callback; the headers call has not run */
    ST_BODY,    /* reading the body into r->body */
    ST_DRAIN,   /* reading and discarding the body (an error is waiting, or none is wanted) */
    ST_WAIT,    /* suspended until r->w is durable */
    ST_DONE,    /* the response is queued */
};

/* How much body an early-refused request may still send before the connection is cut. Reading
 * it lets the client see the error response instead of a reset connection (a peer closing a
 * socket with unread data sends RST), while a client that never stops cannot hold us. */
#define DRAIN_MAX (64u * 1024 * 1024)

/* ---- request target ---------------------------------------------------------------------- */

/* Split the query string Q into R->query, decoding names and values into one owned buffer. */
static void parse_query(struct kvs_req *r, kvs_slice q)
{
    if (q.n == 0)
        return;
    r->query_buf = kvs_xmalloc(q.n + 2 * 16 + 2); /* decoded text never grows; + NULs */
    char *out = r->query_buf;
    while (q.n > 0) {
        const char *amp = memchr(q.p, '&', q.n);
        kvs_slice pair = {q.p, amp ? (size_t)(amp - q.p) : q.n};
        q.p += amp ? pair.n + 1 : pair.n;
        q.n -= amp ? pair.n + 1 : pair.n;
        if (pair.n == 0)
            continue;
        if (r->n_query == sizeof r->query / sizeof r->query[0]) {
            r->bad_query = 1; /* more arguments than any endpoint takes */
            return;
        }
        const char *eq = memchr(pair.p, '=', pair.n);
        kvs_slice name = {pair.p, eq ? (size_t)(eq - pair.p) : pair.n};
        kvs_slice value = eq ? (kvs_slice){eq + 1, pair.n - name.n - 1} : (kvs_slice){"", 0};
        long nn = kvs_pct_decode(name, out, name.n, 1);
        if (nn < 0 || memchr(out, '\0', (size_t)nn)) {
            r->bad_query = 1;
            return;
        }
        struct kvs_query_arg *a = &r->query[r->n_query++];
        a->name = out;
        out += nn;
        *out++ = '\0';
        long vn = kvs_pct_decode(value, out, value.n, 1);
        /* A NUL inside a value would silently cut it (values are C strings): refuse it, as
         * for names, rather than act on a prefix ("limit=5%00x", a signature with junk). */
        if (vn < 0 || memchr(out, '\0', (size_t)vn)) {
            r->bad_query = 1;
            return;
        }
        a->value = out;
        out += vn;
        *out++ = '\0';
    }
}

/* ---- request objects --------------------------------------------------------------------- */

/* Each worker thread keeps up to SPARES_MAX freed requests for its next ones. A struct kvs_req
 * is 2.7 KiB, a size that glibc's malloc takes from its large bins, sorting and consolidating
 * its free chunks first: about 2,000 instructions a request, where a list of the thread's own
 * costs a few. (Every callback of a connection runs on the worker that owns it.) */
#define SPARES_MAX 64

struct spares {
    struct kvs_req *head; /* linked by spare_next */
    unsigned n;
};

static void free_spares(void *p)
{
    struct spares *s = p;
    while (s->head != NULL) {
        struct kvs_req *r = s->head;
        s->head = r->spare_next;
        free(r);
    }
    free(s);
}

static struct kvs_perthread spares_pt = KVS_PERTHREAD_INIT(struct spares, free_spares);
static __thread struct spares *my_spares;

static struct spares *spares(void)
{
    if (my_spares == NULL)
        my_spares = kvs_perthread_make(&spares_pt);
    return my_spares;
}

/* A zeroed request. */
static struct kvs_req *req_new(void)
{
    struct spares *s = spares();
    struct kvs_req *r = s->head;
    if (r == NULL)
        return kvs_xcalloc(1, sizeof *r);
    s->head = r->spare_next;
    s->n--;
    memset(r, 0, sizeof *r);
    return r;
}

/* Give back R, whatever it owned already released. */
static void req_free(struct kvs_req *r)
{
    struct spares *s = spares();
    if (s->n == SPARES_MAX) {
        free(r);
        return;
    }
    r->spare_next = s->head;
    s->head = r;
    s->n++;
}

/* MHD's URI log callback: the first thing MHD tells about a request, with the target exactly
 * as received. The request object is created here so that routing sees the raw bytes. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct kvs_req *r = req_new();
    r->srv = cls;
    r->conn = conn;
    r->drain_max = DRAIN_MAX;
    r->start_ns = kvs_mono_ns();
    if (r->srv->deadlines) { /* the entry on_connection() made for this connection */
        r->hdr_deadline =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT)->socket_context;
        if (r->hdr_deadline) /* --first-byte-timeout: the request line is in */
            kvs_deadline_line_in(r->hdr_deadline);
    }
    r->target = kvs_xstrdup(uri);
    const char *qm = strchr(r->target, '?');
    r->path = (kvs_slice){r->target, qm ? (size_t)(qm - r->target) : strlen(r->target)};
    if (qm)
        parse_query(r, kvs_slice_of(qm + 1));
    return r;
}

const char *kvs_http_query(struct kvs_req *r, const char *name)
{
    for (unsigned i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

const char *kvs_http_header(struct kvs_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static enum kvs_method parse_method(const char *m)
{
    static const struct {
        const char *name;
        enum kvs_method m;
    } methods[] = {{"GET", KVS_M_GET},   {"HEAD", KVS_M_HEAD},     {"PUT", KVS_M_PUT},
                   {"POST", KVS_M_POST}, {"DELETE", KVS_M_DELETE}, {"OPTIONS", KVS_M_OPTIONS}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(m, methods[i].name) == 0)
            return methods[i].m;
    return KVS_M_OTHER;
}

/* Decode the {store} and {key} path parameters into R. Returns 0 or an error code. */
static int decode_params(struct kvs_req *r, const struct kvs_path_match *m)
{
    if (m->store.n) {
        long n = kvs_pct_decode(m->store, r->store_ref, sizeof r->store_ref - 1, 0);
        if (n < 0)
            return KVS_ENOTFOUND; /* malformed or far too long to name any store */
        r->store_ref[n] = '\0';
        r->store_ref_len = (size_t)n;
    }
    r->via = (uint8_t)m->via;
    if (m->key.n) {
        long n = kvs_pct_decode(m->key, r->key, KVS_KEY_MAX, 0);
        if (n < 0) {
            r->key_too_long = 1; /* reported as an invalid key by the handler */
            r->key_len = 0;
        } else {
            r->key[n] = '\0';
            r->key_len = (size_t)n;
        }
    }
    return 0;
}

/* ---- responses --------------------------------------------------------------------------- */

static void method_list(unsigned methods, char *out, size_t out_max)
{
    static const char *names[] = {"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"};
    out[0] = '\0';
    for (unsigned i = 0; i < 6; i++)
        if (methods & (1u << i)) {
            if (out[0])
                strncat(out, ", ", out_max - strlen(out) - 1);
            strncat(out, names[i], out_max - strlen(out) - 1);
        }
}

static enum MHD_Result queue(struct kvs_req *r)
{
    if (r->resp == NULL)
        kvs_reply_error(r, KVS_ENOMEM, NULL);
    if (r->resp == NULL)
        return MHD_NO; /* not even an error response could be made: close the connection */
    if (!r->resp_kept) /* a kept one has them already */
        kvs_reply_common_headers(r);
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->resp);
    if (!r->resp_kept)
        MHD_destroy_response(r->resp); /* MHD holds its own reference while sending */
    r->resp = NULL;
    r->state = ST_DONE;
    /* A response owns what it sends (copies, open files): no snapshot is held while a client
     * reads it, however slowly (issue 19, finding 4). */
    kvs_storage_read_end(r->rd);
    r->rd = NULL;
    return ok;
}

/* Answer a CORS preflight for a path that answers ALLOWED methods. */
static void reply_preflight(struct kvs_req *r, unsigned allowed)
{
    char methods[64];
    method_list(allowed | KVS_M_OPTIONS, methods, sizeof methods);
    kvs_reply_empty(r, 204);
    kvs_reply_header(r, "Access-Control-Allow-Methods", methods);
    const char *want = kvs_http_header(r, "Access-Control-Request-Headers");
    kvs_reply_header(r, "Access-Control-Allow-Headers",
                     want && strlen(want) < 512 ? want
                                                : "Authorization, Content-Type, Content-Encoding");
    kvs_reply_header(r, "Access-Control-Max-Age", "86400");
    kvs_reply_header(r, MHD_HTTP_HEADER_ALLOW, methods);
}

static void reply_pending_error(struct kvs_req *r)
{
    if (r->error_msg[0])
        kvs_reply_error(r, r->error, "%s", r->error_msg);
    else
        kvs_reply_error(r, r->error, NULL);
    if (r->error == KVS_ERATE) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", r->retry_after);
        kvs_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
}

/* --rate-limit: the bucket of R's client address, "i" and its bytes, into KEY. */
static size_t ip_key(struct kvs_req *r, unsigned char key[17])
{
    size_t n = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    key[n++] = 'i';
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) {
            memcpy(key + n, &((const struct sockaddr_in *)sa)->sin_addr, 4);
            n += 4;
        } else if (sa->sa_family == AF_INET6) {
            memcpy(key + n, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
            n += 16;
        }
    }
    return n;
}

/* --rate-limit: take a request from the caller's bucket. A valid token has a bucket of its
 * own, keyed by the token as authenticated (so extra spaces, the query instead of the header,
 * any spelling of one token is one caller); a request without a token, with one that opens
 * nothing, or refused before routing is charged to its client address. An address whose
 * bucket is empty gets no look-up of a token that is neither in the cache nor known to the
 * limiter (only valid tokens get a bucket): random invalid tokens cost it its limit, not the
 * server a hash and a look-up each. Returns 0 or the seconds to wait. */
static unsigned rate_check(struct kvs_req *r)
{
    unsigned char ip[17];
    size_t ip_n = ip_key(r, ip);
    kvs_slice token = kvs_api_request_token(r);
    if (token.n == 0 || r->route == NULL)
        return kvs_ratelimit_take(r->srv->rl, ip, ip_n, r->start_ns);
    /* the token's own bucket: "t" and a 64-bit FNV-1a of the whole token (only valid tokens
     * get one: secrets nobody can choose to collide with another's) */
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < token.n; i++)
        h = (h ^ (unsigned char)token.p[i]) * 1099511628211ull;
    unsigned char key[9] = {'t'};
    memcpy(key + 1, &h, sizeof h);
    if (!kvs_api_authenticate_cached(r)) {
        unsigned wait = kvs_ratelimit_peek(r->srv->rl, ip, ip_n, r->start_ns);
        if (wait != 0 && !kvs_ratelimit_known(r->srv->rl, key, sizeof key))
            return wait;
        (void)kvs_api_authenticate(r); /* its error, if any, is answered at dispatch */
    }
    if (!r->authenticated)
        return kvs_ratelimit_take(r->srv->rl, ip, ip_n, r->start_ns);
    return kvs_ratelimit_take(r->srv->rl, key, sizeof key, r->start_ns);
}

/* ---- GET /metrics ------------------------------------------------------------------------ */

static void free_text(void *p)
{
    free(p);
}

static void metrics_handle(struct kvs_req *r)
{
    if (!r->srv->cfg.metrics_public &&
        !(r->authenticated && r->user.is_admin && kvs_scope_may_administer(&r->scope))) {
        kvs_reply_error(r, r->authenticated ? KVS_EACCESS : KVS_ENOTOKEN, NULL);
        return;
    }
    struct kvs_buf out;
    kvs_buf_init(&out, 16u * 1024 * 1024);
    int rc = kvs_metrics_render(r->srv, &out);
    if (rc != 0) {
        kvs_buf_free(&out);
        kvs_reply_error(r, rc, NULL);
        return;
    }
    size_t n;
    char *text = kvs_buf_steal(&out, &n);
    kvs_reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, n, free_text, text);
}

/* Outside the API's route table: the admin's (or, with --metrics-public, anyone's). */
static const struct kvs_route metrics_route = {
    .name = "metrics", .methods = KVS_M_GET | KVS_M_HEAD, .handle = metrics_handle};
static const struct kvs_route metrics_public_route = {.name = "metrics",
                                                      .methods = KVS_M_GET | KVS_M_HEAD,
                                                      .flags = KVS_R_PUBLIC,
                                                      .handle = metrics_handle};

/* ---- the state machine ------------------------------------------------------------------- */

/* Route R, and for body routes refuse early what can be refused. Sets r->error (answered
 * later) or, for OPTIONS, the preflight response. */
static void route_headers(struct kvs_req *r, const char *method)
{
    r->method = parse_method(method);
    if (r->bad_query) {
        r->error = KVS_EBADPARAM;
        snprintf(r->error_msg, sizeof r->error_msg, "The query string is malformed.");
        r->state = ST_DRAIN;
        return;
    }
    /* The platform's method override: GET ?method=POST is a POST (contract §1). */
    const char *override = kvs_http_query(r, "method");
    if (r->method == KVS_M_GET && override && *override) {
        enum kvs_method m = parse_method(override);
        if (m != KVS_M_OPTIONS)
            r->method = m;
    }

    /* Outside the API, GET and HEAD only: /metrics and the web console (server/assets.h). */
    const struct kvs_route *fixed = kvs_assets_route(r->path);
    if (r->path.n == 8 && memcmp(r->path.p, "/metrics", 8) == 0)
        fixed = r->srv->cfg.metrics_public ? &metrics_public_route : &metrics_route;
    if (fixed) {
        r->state = ST_DRAIN;
        if (r->method & (KVS_M_GET | KVS_M_HEAD))
            r->route = fixed;
        else if (r->method == KVS_M_OPTIONS)
            reply_preflight(r, KVS_M_GET | KVS_M_HEAD);
        else {
            r->error = KVS_EMETHOD;
            snprintf(r->error_msg, sizeof r->error_msg,
                     "This API endpoint can only be accessed using the following HTTP methods: "
                     "GET, HEAD");
        }
        return;
    }
    struct kvs_path_match m;
    enum kvs_path_kind kind = kvs_route_match_path(r->path, &m);
    unsigned allowed = 0;
    r->route = kind ? kvs_api_route(kind, r->method, &allowed) : NULL;
    r->state = ST_DRAIN;
    if (kind == KVS_PATH_NONE) {
        r->error = KVS_ENOROUTE;
        return;
    }
    if (r->route == NULL) {
        if (r->method == KVS_M_OPTIONS) {
            reply_preflight(r, allowed);
            return;
        }
        char list[64];
        method_list(allowed, list, sizeof list);
        r->error = KVS_EMETHOD;
        snprintf(r->error_msg, sizeof r->error_msg,
                 "This API endpoint can only be accessed using the following HTTP methods: %s",
                 list);
        return;
    }
    int rc = decode_params(r, &m);
    if (rc != 0) {
        r->error = rc;
        return;
    }
    if (!(r->route->flags & KVS_R_BODY))
        return; /* any body sent anyway is drained; everything else happens at dispatch */

    /* A record may be as large as the limit; other bodies (JSON) are small. */
    size_t max = r->route->flags & KVS_R_RECORD ? r->srv->cfg.max_record_size : KVS_API_JSON_MAX;
    const char *cl = kvs_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long len = strtoull(cl, &end, 10);
        if (*cl && *end == '\0') {
            r->has_length = 1;
            r->length = len;
        }
        if (*cl && *end == '\0' && len > max) {
            r->error = KVS_ETOOBIG;
            snprintf(r->error_msg, sizeof r->error_msg,
                     "The payload is too large (limit: %zu bytes, actual length: %llu bytes).", max,
                     len);
            return;
        }
    }
    rc = kvs_api_authenticate(r);
    if (rc == 0 && r->route->prepare)
        rc = r->route->prepare(r);
    /* No snapshot is held while the body arrives: a slow upload must not pin old pages. */
    kvs_storage_read_end(r->rd);
    r->rd = NULL;
    if (rc != 0) {
        r->error = rc;
        return;
    }
    r->state = ST_BODY;
    if (r->route->flags & KVS_R_RECORD)
        return; /* taken as it comes (kvs_api_record_body) */
    kvs_buf_init(&r->body, max);
    /* The body is as long as announced (libmicrohttpd reads no more): one allocation of that
     * size, where growing by doubling would copy it again and again on the way. */
    if (r->has_length && r->length > 0)
        (void)kvs_buf_reserve(&r->body, (size_t)r->length); /* fits: length <= max */
}

/* The headers call: route (route_headers), then --rate-limit, before any body byte is read:
 * a refused request drains its body and is answered 429. */
static void on_headers(struct kvs_req *r, const char *method)
{
    __atomic_add_fetch(&r->srv->in_flight, 1, __ATOMIC_RELAXED);
    route_headers(r, method);
    if (r->srv->rl == NULL)
        return;
    int had_read = r->rd != NULL;
    r->retry_after = rate_check(r);
    if (!had_read && r->rd != NULL) {
        /* No snapshot is held while a body may arrive; the caller is found again (from the
         * cache) in the read of the dispatch, which then confirms it (PostgreSQL). */
        kvs_storage_read_end(r->rd);
        r->rd = NULL;
        r->authenticated = 0;
    }
    if (r->retry_after == 0)
        return;
    if (r->resp != NULL && !r->resp_kept) /* a preflight's */
        MHD_destroy_response(r->resp);
    r->resp = NULL;
    r->error = KVS_ERATE;
    r->error_msg[0] = '\0';
    kvs_buf_free(&r->body);
    r->state = ST_DRAIN;
}

/* --request-timeout: has R been arriving for longer than allowed? A large body may take longer,
 * as long as it keeps coming: every MIN_BODY_RATE bytes received earn one more second. */
#define MIN_BODY_RATE (64u * 1024)

static int past_deadline(struct kvs_req *r)
{
    unsigned secs = r->srv->cfg.request_timeout_secs;
    if (secs == 0)
        return 0;
    uint64_t allowed = (uint64_t)secs + r->bytes_in / MIN_BODY_RATE;
    return kvs_mono_ns() - r->start_ns > allowed * 1000000000ull;
}

/* Stop taking R's body: answer ERROR once what is left of it has been drained (at most
 * R->drain_max more bytes). */
static void stop_body(struct kvs_req *r, int error)
{
    r->error = error;
    kvs_buf_free(&r->body);
    r->state = ST_DRAIN;
    r->drained = 0;
}

static void on_body(struct kvs_req *r, const char *data, size_t size)
{
    r->bytes_in += size;
    if (r->error != KVS_ETIMEOUT && past_deadline(r)) {
        snprintf(r->error_msg, sizeof r->error_msg,
                 "The request was not received within %u seconds (and one more for every %u "
                 "KiB of body).",
                 r->srv->cfg.request_timeout_secs, MIN_BODY_RATE / 1024);
        stop_body(r, KVS_ETIMEOUT);
        return;
    }
    if (r->state == ST_BODY && (r->route->flags & KVS_R_RECORD)) {
        int rc = kvs_api_record_body(r, data, size);
        if (rc == 0)
            return;
        /* Refused midway (too large, not valid, the disk full): the answer can only go out
         * once the body is in (libmicrohttpd 0.9.75). A client that announced its length
         * committed to sending it: that much is drained, so that it sees the 507 of a full
         * disk rather than a reset; others (chunked, or past the limit) get DRAIN_MAX. */
        if (rc == KVS_ENOSPACE && r->has_length && r->length - r->bytes_in > r->drain_max)
            r->drain_max = r->length - r->bytes_in;
        stop_body(r, rc);
        return;
    }
    if (r->state == ST_BODY) {
        if (kvs_buf_append(&r->body, data, size) == 0)
            return;
        snprintf(r->error_msg, sizeof r->error_msg, "The payload is too large (limit: %zu bytes).",
                 (size_t)r->body.max);
        stop_body(r, KVS_ETOOBIG);
        return;
    }
    r->drained += size;
}

static void dispatch(struct kvs_req *r)
{
    if (r->resp)
        return; /* answered at the headers call (preflight) */
    if (!__atomic_load_n(&r->srv->ready, __ATOMIC_ACQUIRE)) {
        /* listening already, but the admin may not exist yet: /health must not say 200 */
        kvs_reply_error(r, KVS_EUNAVAIL, "The server is starting.");
        return;
    }
    if (r->error) {
        reply_pending_error(r);
        return;
    }
    if (!(r->route->flags & KVS_R_BODY)) {
        int rc = kvs_api_authenticate(r);
        if (rc != 0) {
            r->error = rc; /* with its message when it has one (an expired token) */
            reply_pending_error(r);
            return;
        }
    }
    r->route->handle(r);
}

/* The request head held to RFC 9112 (server/strict.h): message framing MHD 0.9.75 lets
 * through (several Content-Length headers, Content-Length with chunked, a Transfer-Encoding
 * it does not know, whitespace before a colon, folded lines, NULs, a missing or repeated
 * Host) would let a proxy in front and this server disagree on where a request ends (request
 * smuggling), so each is refused, and the connection closed, before any body byte is read. */
static enum MHD_Result strict_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    kvs_strict_field(cls, key, value);
    return MHD_YES;
}

static int bad_framing(struct kvs_req *r, const char *method, const char *url, const char *version)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    struct kvs_strict s;
    kvs_strict_begin(&s, method, ci ? ci->header_size : 0, url, version, kvs_slice_of(r->target));
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, strict_field, &s);
    const char *why = kvs_strict_end(&s);
    if (why == NULL)
        return 0;
    r->error = KVS_EBADBODY;
    snprintf(r->error_msg, sizeof r->error_msg, "%s", why);
    r->state = ST_DRAIN;
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct kvs_req *r = *con_cls;
    if (r == NULL)
        return MHD_NO; /* cannot happen: the URI callback always creates the request */

    if (r->state == ST_NEW) {
        if (r->hdr_deadline) /* --header-timeout: the headers are in */
            kvs_deadline_clear(r->hdr_deadline);
        on_headers(r, method);
        if (bad_framing(r, method, url, version)) {
            kvs_buf_free(&r->body);
            reply_pending_error(r); /* queued at once: MHD closes the connection after it */
            return queue(r);
        }
        /* A client that waits for "100 Continue" has sent no body yet: refuse it at once.
         * (Queueing now makes MHD close the connection afterwards, which is what we want.) */
        const char *expect = kvs_http_header(r, MHD_HTTP_HEADER_EXPECT);
        if (r->error && expect && strcasecmp(expect, "100-continue") == 0) {
            reply_pending_error(r);
            return queue(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        on_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (r->error == KVS_ETIMEOUT) {
            /* MHD 0.9.75 cannot queue a response while the body is arriving (it reports an
             * internal error and closes): cut the connection; the status is for the record */
            r->status = 408;
            return MHD_NO;
        }
        if (r->state == ST_DRAIN && r->drained > r->drain_max) {
            reply_pending_error(r); /* enough: answer now; MHD closes after the response */
            return queue(r);
        }
        return MHD_YES;
    }
    if (r->state == ST_WAIT) { /* resumed: the write is durable or failed */
        r->route->finish(r);
        if (r->state == ST_WAIT && r->resp == NULL)
            return MHD_YES; /* submitted anew (kvs_http_submit): suspended again */
        return queue(r);
    }
    if (r->state == ST_DONE)
        return MHD_YES;
    dispatch(r);
    if (r->state == ST_WAIT)
        return MHD_YES; /* suspended; MHD calls again once write_done resumes it */
    return queue(r);
}

/* ---- writes: suspend until durable ----------------------------------------------------------- */

void kvs_http_suspend(struct kvs_req *r)
{
    kvs_storage_read_end(r->rd); /* no snapshot is held while waiting */
    r->rd = NULL;
    r->state = ST_WAIT;
    __atomic_add_fetch(&r->srv->waiting, 1, __ATOMIC_RELAXED);
    MHD_suspend_connection(r->conn);
}

void kvs_http_resume(struct kvs_req *r)
{
    struct kvs_server *srv = r->srv;
    MHD_resume_connection(r->conn);
    /* From here on the resumer never touches this connection again (see kvs_http_stop). */
    __atomic_sub_fetch(&srv->waiting, 1, __ATOMIC_RELEASE);
}

/* The storage's done callback, on its writer thread. */
static void write_done(struct kvs_write *w)
{
    kvs_http_resume(w->arg);
}

void kvs_http_submit(struct kvs_req *r)
{
    /* Suspend before submitting: the writer may finish before submit returns, and a resume
     * must never come before its suspend. */
    r->w.done = write_done;
    r->w.arg = r;
    kvs_http_suspend(r);
    int rc = kvs_storage_submit(r->srv->storage, &r->w);
    if (rc != 0) {
        r->w.result = rc;
        write_done(&r->w);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct kvs_req *r = *con_cls;
    if (r == NULL)
        return;
    *con_cls = NULL;
    uint64_t now = kvs_mono_ns();
    /* --header-timeout: a keep-alive connection's next request is due from now on (on a
     * connection that is closing, the entry is removed right after) */
    if (r->hdr_deadline)
        kvs_deadline_arm(r->hdr_deadline, now);
    if (r->state != ST_NEW) {
        __atomic_sub_fetch(&r->srv->in_flight, 1, __ATOMIC_RELAXED);
        uint64_t duration = now - r->start_ns;
        kvs_metrics_record(r->route, r->status, duration, r->bytes_in, r->bytes_out);
        if (kvs_accesslog_on())
            kvs_accesslog_write(r, duration);
    }
    if (r->resp && !r->resp_kept)
        MHD_destroy_response(r->resp);
    if (r->stream)
        kvs_api_record_cleanup(r); /* an upload cut off midway is removed here */
    kvs_storage_read_end(r->rd);
    kvs_store_clear(&r->store);
    kvs_store_clear(&r->w.store);
    kvs_run_clear(r->run);
    free(r->run);
    kvs_buf_free(&r->body);
    free(r->precond);
    free(r->query_buf);
    free(r->target);
    req_free(r);
}

/* ---- the daemon ------------------------------------------------------------------------------ */

/* MHD's connection notifications (--header-timeout only): one entry in srv->deadlines per
 * connection, armed at accept, kept in MHD's socket context. MHD 0.9.75 reports CLOSED on the
 * connection's own thread before it closes the socket (see deadline.h). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct kvs_server *srv = cls;
    if (srv->deadlines == NULL)
        return; /* --header-timeout 0 --first-byte-timeout 0 */
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context =
            ci ? kvs_deadline_add(srv->deadlines, ci->connect_fd, kvs_mono_ns()) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        kvs_deadline_remove(srv->deadlines, *socket_context);
        *socket_context = NULL;
    }
}

/* libmicrohttpd warns about every connection a client breaks off mid-request, and about
 * every one --header-timeout cuts: under attack, a line per connection. So at most
 * MHD_LOG_PER_SEC of its lines go out per second; the others are counted, and the count is
 * told with the first line of a later second. */
#define MHD_LOG_PER_SEC 10

static pthread_mutex_t mhd_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t mhd_log_second;        /* under mhd_log_lock */
static unsigned mhd_log_lines;        /* lines out in mhd_log_second */
static unsigned long mhd_log_dropped; /* lines not out since the last one that was */

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&mhd_log_lock);
    if (ts.tv_sec != mhd_log_second) {
        mhd_log_second = ts.tv_sec;
        mhd_log_lines = 0;
    }
    int out = mhd_log_lines < MHD_LOG_PER_SEC;
    unsigned long dropped = 0;
    if (out) {
        mhd_log_lines++;
        dropped = mhd_log_dropped;
        mhd_log_dropped = 0;
    } else {
        mhd_log_dropped++;
    }
    pthread_mutex_unlock(&mhd_log_lock);
    if (!out)
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    kvs_redact_line(line); /* its messages name the request's path: DELETE /v2/tokens/{token} */
    if (dropped)
        kvs_log_warn("http: %lu more libmicrohttpd message%s not shown (over %d a second)", dropped,
                     dropped == 1 ? "" : "s", MHD_LOG_PER_SEC);
    kvs_log_warn("http: %s", line);
}

/* MHD's unescape callback. The target is parsed by on_uri() from the raw bytes, so MHD's own
 * decoding of the path and arguments would be wasted work: leave the text as it is. */
static size_t keep_escaped(void *cls, struct MHD_Connection *conn, char *s)
{
    return strlen(s);
}

/* The per-connection memory MHD keeps for request headers and response headers. MHD zeroes
 * the unused part of it after every request, so its size is paid per request; 16 KiB holds
 * request headers of up to about 8 KiB (more gets 431), plenty for API clients. */
#define CONNECTION_MEMORY (16 * 1024)

int kvs_http_resolve(const char *listen, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return KVS_EINVAL;
    const char *port = colon + 1;
    if (*port == '\0' || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) ||
        atoi(port) > 65535)
        return KVS_EINVAL; /* getaddrinfo would take 99999 and wrap it */
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res = NULL;
    if (getaddrinfo(h, colon + 1, &hints, &res) != 0 || res == NULL)
        return KVS_EINVAL;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* MHD's accept policy: once the server is stopping, every new connection is closed at once. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    const struct kvs_server *srv = cls;
    return __atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE) ? MHD_NO : MHD_YES;
}

/* A listening TCP socket bound to ADDR, into *FD: made here rather than by libmicrohttpd, whose
 * only word on a failed bind is a log line about "port 0" (it logs before it knows the port),
 * so that `kvs serve` can say in one line which address failed and why. The same settings as
 * libmicrohttpd's own: SO_REUSEADDR, IPv6 only on an IPv6 address, SOMAXCONN, non-blocking.
 * Returns 0 or the errno of the step that failed. */
static int listen_socket(const struct sockaddr_storage *addr, socklen_t len, int *fd)
{
    int s = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return errno;
    int on = 1;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        (addr->ss_family == AF_INET6 &&
         setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) ||
        bind(s, (const struct sockaddr *)addr, len) != 0 || listen(s, SOMAXCONN) != 0) {
        int err = errno;
        close(s);
        return err;
    }
    *fd = s;
    return 0;
}

int kvs_http_listen(struct kvs_server *srv, char *why, size_t cap)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    srv->listen_fd = -1;
    if (kvs_http_resolve(srv->cfg.listen, &addr, &addr_len) != 0) {
        snprintf(why, cap, "not a HOST:PORT address");
        return KVS_EINVAL;
    }
    int err = listen_socket(&addr, addr_len, &srv->listen_fd);
    if (err != 0) {
        snprintf(why, cap, "%s", strerror(err));
        return KVS_EIO;
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    if (getsockname(srv->listen_fd, (struct sockaddr *)&bound, &bound_len) == 0)
        srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

int kvs_http_start(struct kvs_server *srv, char *why, size_t cap)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    snprintf(why, cap, "unknown reason");
    if (getsockname(srv->listen_fd, (struct sockaddr *)&addr, &addr_len) != 0) {
        snprintf(why, cap, "%s", strerror(errno));
        return KVS_EIO;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* HTTPS: the certificate is chosen per handshake by tls.c, so that SIGHUP can change it */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)kvs_tls_retrieve},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)KVS_TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    if (srv->tls) {
        flags |= MHD_USE_TLS;
        kvs_tls_activate(srv->tls);
    }
    if (srv->cfg.rate_limit)
        srv->rl = kvs_ratelimit_new(srv->cfg.rate_limit, 64 * 1024);
    srv->decoding = kvs_budget_new(srv->cfg.decode_memory);
    srv->runwait = kvs_runwait_start();
    if (srv->runwait == NULL) {
        kvs_tls_activate(NULL);
        snprintf(why, cap, "cannot start the runs' waiting list");
        kvs_ratelimit_free(srv->rl);
        srv->rl = NULL;
        kvs_budget_free(srv->decoding);
        srv->decoding = NULL;
        return KVS_EIO;
    }
    if (srv->cfg.header_timeout_secs || srv->cfg.first_byte_timeout_secs) {
        srv->deadlines =
            kvs_deadlines_start(srv->cfg.header_timeout_secs, srv->cfg.first_byte_timeout_secs);
        if (srv->deadlines == NULL) {
            kvs_runwait_free(srv->runwait);
            srv->runwait = NULL;
            kvs_tls_activate(NULL);
            kvs_ratelimit_free(srv->rl);
            srv->rl = NULL;
            kvs_budget_free(srv->decoding);
            srv->decoding = NULL;
            snprintf(why, cap, "cannot start the header watchdog");
            return KVS_EIO;
        }
    }
    /* clang-format off */
    srv->daemon = MHD_start_daemon(
        flags, 0, on_accept, srv, on_request, srv,
        /* first, so that MHD's messages about the options below go through it too */
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->listen_fd, /* MHD closes it when it stops */
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)srv->cfg.threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)srv->cfg.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)srv->cfg.timeout_secs,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)srv->cfg.max_per_ip,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_ARRAY, srv->tls ? tls_opts : &tls_opts[2],
        MHD_OPTION_END);
    /* clang-format on */
    if (srv->daemon == NULL) {
        snprintf(why, cap, "libmicrohttpd did not start (see the log above)");
        kvs_tls_activate(NULL);
        kvs_runwait_free(srv->runwait);
        srv->runwait = NULL;
        kvs_deadlines_free(srv->deadlines);
        srv->deadlines = NULL;
        kvs_ratelimit_free(srv->rl);
        srv->rl = NULL;
        kvs_budget_free(srv->decoding);
        srv->decoding = NULL;
        return KVS_EIO; /* the caller closes the socket and says so */
    }
    srv->listen_fd = -1; /* MHD's now */
    return 0;
}

void kvs_http_stop(struct kvs_server *srv, unsigned grace_secs)
{
    if (srv->daemon == NULL)
        return;
    /* From now on new connections are closed as soon as they are accepted (on_accept).
     * MHD_quiesce_daemon() would refuse them in the kernel instead, but in libmicrohttpd
     * 0.9.75 it races with the epoll threads over removing the listen socket from their epoll
     * sets, and the loser aborts the process (MHD_PANIC "Failed to remove listen FD from
     * epoll set", seen in the test suite under ASan's slower timing). */
    __atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
    /* Requests waiting for a run to finish are answered now, with the run as it is, and no
     * more wait from here on: they are not kept for the grace period. */
    kvs_runwait_stop(srv->runwait);
    /* Requests in flight may finish within the grace period. Requests waiting for a write
     * are always waited for: the writer finishes them quickly, and stopping MHD under them
     * would leave the writer resuming a freed connection. */
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (unsigned waited = 0;; waited += 10) {
        unsigned long in_flight = __atomic_load_n(&srv->in_flight, __ATOMIC_RELAXED);
        unsigned long waiting = __atomic_load_n(&srv->waiting, __ATOMIC_RELAXED);
        if (waiting == 0 && (in_flight == 0 || waited >= grace_secs * 1000))
            break;
        nanosleep(&tick, NULL);
    }
    /* The watchdog stops first; the table stays until MHD has reported every connection
     * closed (MHD_stop_daemon calls on_connection for each). */
    kvs_deadlines_stop(srv->deadlines);
    /* Downloads waiting for decoding memory are suspended connections, which MHD_stop_daemon
     * must not find (it aborts): wake them, and they end. */
    kvs_budget_close(srv->decoding);
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    kvs_runwait_free(srv->runwait);
    srv->runwait = NULL;
    kvs_tls_activate(NULL);
    kvs_deadlines_free(srv->deadlines);
    srv->deadlines = NULL;
    kvs_ratelimit_free(srv->rl);
    srv->rl = NULL;
    kvs_budget_free(srv->decoding);
    srv->decoding = NULL;
}
