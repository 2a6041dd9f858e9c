/* assets.c — serving the embedded web console (see assets.h). */
#include "server/assets.h"

#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "common/precond.h"
#include "kvs.h"
#include "server/http.h"
#include "server/reply.h"
#include "server/router.h"

/* The console's pages: its own files only (script, style, images), pictures of records as
 * blob: URLs it made itself, API calls to its own origin, nothing framed and never framed,
 * no <base> or form posts, and Trusted Types: with no policy defined, a string can never be
 * turned into markup or script (innerHTML and the like throw), whatever a record contains. */
#define PAGE_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "              \
    "connect-src 'self'; manifest-src 'self'; frame-src 'none'; object-src 'none'; "               \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "                                \
    "require-trusted-types-for 'script'; trusted-types 'none'"

#define ASSETS_PREFIX "/console/assets/"

static int cmp_path(const void *key, const void *elem)
{
    const kvs_slice *k = key;
    const char *p = ((const struct kvs_asset *)elem)->path;
    size_t n = strlen(p);
    int c = memcmp(k->p, p, k->n < n ? k->n : n);
    if (c != 0)
        return c;
    return k->n < n ? -1 : k->n > n;
}

const struct kvs_asset *kvs_assets_find(kvs_slice path)
{
    return bsearch(&path, kvs_web_assets, kvs_web_assets_count, sizeof kvs_web_assets[0], cmp_path);
}

/* Whether PATH is "/", "/console" or under "/console/". */
static int is_console_path(kvs_slice path)
{
    if (path.n == 1 && path.p[0] == '/')
        return 1;
    return path.n >= 8 && memcmp(path.p, "/console", 8) == 0 && (path.n == 8 || path.p[8] == '/');
}

const struct kvs_asset *kvs_assets_for_path(kvs_slice path)
{
    if (!is_console_path(path))
        return NULL;
    size_t pn = sizeof ASSETS_PREFIX - 1;
    if (path.n >= pn && memcmp(path.p, ASSETS_PREFIX, pn) == 0)
        return kvs_assets_find((kvs_slice){path.p + pn, path.n - pn});
    return kvs_assets_find(kvs_slice_of(KVS_ASSETS_INDEX));
}

/* ---- the handler --------------------------------------------------------------------------- */

static int is_page(const struct kvs_asset *a)
{
    return strncmp(a->content_type, "text/html", 9) == 0;
}

static void console_handle(struct kvs_req *r)
{
    const struct kvs_asset *a = kvs_assets_for_path(r->path);
    if (a == NULL) {
        kvs_reply_error(r, KVS_ENOROUTE, NULL);
        return;
    }
    /* gzip only when asked for: RFC 9110 lets a missing Accept-Encoding mean "anything", but
     * a client that names no coding (curl, scripts) expects the file as it is */
    const char *ae = kvs_http_header(r, "Accept-Encoding");
    int gz = a->gz && ae && kvs_encoding_accepted(kvs_slice_of(ae), KVS_ENC_GZIP);
    const char *etag = gz ? a->gz_etag : a->etag;
    const char *inm = kvs_http_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && kvs_etag_list_matches(kvs_slice_of(inm), (kvs_slice){etag + 1, strlen(etag) - 2}))
        kvs_reply_empty(r, 304);
    else if (gz)
        kvs_reply_bytes(r, 200, a->content_type, a->gz, a->gz_len, NULL, NULL);
    else
        kvs_reply_bytes(r, 200, a->content_type, a->data, a->len, NULL, NULL);
    if (gz && r->status == 200)
        kvs_reply_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (a->gz)
        kvs_reply_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    kvs_reply_header(r, MHD_HTTP_HEADER_ETAG, etag);
    /* stored, but checked with the server before each use: a new binary's console shows at
     * once, and an unchanged file costs a 304 */
    kvs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    kvs_reply_header(r, "X-Content-Type-Options", "nosniff");
    if (is_page(a)) {
        kvs_reply_header(r, "Content-Security-Policy", PAGE_CSP);
        kvs_reply_header(r, "X-Frame-Options", "DENY");
        kvs_reply_header(r, "Referrer-Policy", "no-referrer");
        kvs_reply_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    }
}

static const struct kvs_route console_route = {.name = "console",
                                               .methods = KVS_M_GET | KVS_M_HEAD,
                                               .flags = KVS_R_PUBLIC,
                                               .handle = console_handle};

const struct kvs_route *kvs_assets_route(kvs_slice path)
{
    return is_console_path(path) ? &console_route : NULL;
}
