/* assets.h — the web console: web/ embedded in the binary, served at / and under /console/.
 *
 * tools/embed.sh turns every file under web/ into one entry of kvs_web_assets (the generated
 * build/gen/web_assets.c), so build/kvs stays a single file. The console is a client of the
 * public API like any other: this module only hands out its files.
 *
 *   /console/assets/NAME   web/NAME (404 when there is no such file)
 *   /, /console, /console/...   web/index.html, so that a deep link (a store's consoleUrl,
 *                          /console/stores/{id}) opens the app, also after a reload
 *
 * Every answer carries a strong ETag (per representation: plain or gzip) and
 * Cache-Control: no-cache, so a browser revalidates and gets 304 while nothing changed;
 * If-None-Match is compared as RFC 9110 §13.1.2 says (common/precond.h: weak comparison, lists,
 * "*"). Pages carry a strict Content-Security-Policy: script only from the console's own files, no
 * inline script or style, no frames, frame-ancestors 'none', and Trusted Types so that no string
 * can become markup; records are previewed as data (see web/preview.js). */
#ifndef KVS_SERVER_ASSETS_H
#define KVS_SERVER_ASSETS_H

#include <stddef.h>

#include "common/slice.h"

struct kvs_route;

/* One embedded file. Everything is static storage. */
struct kvs_asset {
    const char *path;         /* relative to web/: "app.js", "pages/store.js" */
    const char *content_type; /* chosen by extension in tools/embed.sh */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* gzip -9 of data, or NULL when that is not worth it */
    size_t gz_len;
    const char *etag;    /* strong ETag of data, quotes included */
    const char *gz_etag; /* strong ETag of gz */
};

/* The generated table, sorted by path in byte order. */
extern const struct kvs_asset kvs_web_assets[];
extern const size_t kvs_web_assets_count;

/* The page every console path but /console/assets/ answers with. */
#define KVS_ASSETS_INDEX "index.html"

/* The embedded file at PATH (relative to web/), or NULL. */
const struct kvs_asset *kvs_assets_find(kvs_slice path);

/* The route of the console's paths, for the raw request path PATH (no query): non-NULL for
 * "/", "/console" and anything under "/console/". GET and HEAD, no token needed. */
const struct kvs_route *kvs_assets_route(kvs_slice path);

/* Which file the console path PATH is answered with: the file under /console/assets/, the
 * index page for the other console paths; NULL for a missing file or a path that is not the
 * console's. */
const struct kvs_asset *kvs_assets_for_path(kvs_slice path);

#endif
