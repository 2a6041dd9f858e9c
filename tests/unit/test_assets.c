/* test_assets.c — the embedded console (src/server/assets.c): which file a path gets, and
 * If-None-Match by RFC 9110 §13.1.2. */
#include "server/assets.h"
#include "test.h"

static const struct kvs_asset *for_path(const char *p)
{
    return kvs_assets_for_path(kvs_slice_of(p));
}

TEST(assets_table_sorted_and_complete)
{
    ASSERT(kvs_web_assets_count >= 3);
    for (size_t i = 1; i < kvs_web_assets_count; i++)
        ASSERT(strcmp(kvs_web_assets[i - 1].path, kvs_web_assets[i].path) < 0);
    for (size_t i = 0; i < kvs_web_assets_count; i++) {
        const struct kvs_asset *a = &kvs_web_assets[i];
        ASSERT(kvs_assets_find(kvs_slice_of(a->path)) == a);
        ASSERT(a->etag[0] == '"' && a->etag[strlen(a->etag) - 1] == '"');
        ASSERT(a->gz == NULL || (a->gz_len > 0 && a->gz_len < a->len));
        ASSERT(strcmp(a->etag, a->gz_etag) != 0);
    }
    ASSERT(kvs_assets_find(kvs_slice_of(KVS_ASSETS_INDEX)) != NULL);
    ASSERT(kvs_assets_find(kvs_slice_of("app.cs")) == NULL);
    ASSERT(kvs_assets_find(kvs_slice_of("app.cssx")) == NULL);
    ASSERT(kvs_assets_find(kvs_slice_of("")) == NULL);
}

TEST(assets_paths)
{
    const struct kvs_asset *index = kvs_assets_find(kvs_slice_of(KVS_ASSETS_INDEX));
    ASSERT(for_path("/") == index);
    ASSERT(for_path("/console") == index);
    ASSERT(for_path("/console/") == index);
    ASSERT(for_path("/console/stores/abc") == index);
    ASSERT(for_path("/console/stores/abc/settings") == index);
    ASSERT(for_path("/console/assets/app.css") == kvs_assets_find(kvs_slice_of("app.css")));
    ASSERT(for_path("/console/assets/js/app.js") == kvs_assets_find(kvs_slice_of("js/app.js")));
    ASSERT(for_path("/console/assets/") == NULL);
    ASSERT(for_path("/console/assets/nope.js") == NULL);
    ASSERT(for_path("/console/assets/js/../index.html") == NULL);
    ASSERT(for_path("/consoles") == NULL);
    ASSERT(for_path("/v2/key-value-stores") == NULL);
    ASSERT(for_path("") == NULL);
    ASSERT(kvs_assets_route(kvs_slice_of("/")) != NULL);
    ASSERT(kvs_assets_route(kvs_slice_of("/console/x")) != NULL);
    ASSERT(kvs_assets_route(kvs_slice_of("/health")) == NULL);
    ASSERT(kvs_assets_route(kvs_slice_of("//")) == NULL);
}
