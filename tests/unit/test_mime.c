/* test_mime.c — the extension ↔ content type table (src/common/mime.c). The expected types
 * are what the npm package mime-types 2.1.35 (the one Crawlee uses) answers. */
#include "common/mime.h"
#include "test.h"

#define S(lit) kvs_slice_of(lit)

TEST(mime_type_of_ext_matches_mime_types)
{
    static const char *const cases[][2] = {
        {"json", "application/json; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"svg", "image/svg+xml"},
        {"pdf", "application/pdf"},
        {"xml", "application/xml"},
        {"csv", "text/csv; charset=utf-8"},
        {"zip", "application/zip"},
        {"js", "application/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"bin", "application/octet-stream"},
        {"gz", "application/gzip"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_STR_EQ(kvs_mime_type_of_ext(S(cases[i][0])), cases[i][1]);
}

TEST(mime_type_of_ext_ignores_case_and_knows_nothing_else)
{
    ASSERT_STR_EQ(kvs_mime_type_of_ext(S("PNG")), "image/png");
    ASSERT_STR_EQ(kvs_mime_type_of_ext(S("Json")), "application/json; charset=utf-8");
    ASSERT(kvs_mime_type_of_ext(S("")) == NULL);
    ASSERT(kvs_mime_type_of_ext((kvs_slice){NULL, 0}) == NULL);
    ASSERT(kvs_mime_type_of_ext(S("d")) == NULL);
    ASSERT(kvs_mime_type_of_ext(S("jsonx")) == NULL);
    ASSERT(kvs_mime_type_of_ext(S("jso")) == NULL);
    ASSERT(kvs_mime_type_of_ext(S(".json")) == NULL); /* the extension comes without its dot */
    ASSERT(kvs_mime_type_of_ext((kvs_slice){"json\0", 5}) == NULL);
    ASSERT_STR_EQ(KVS_MIME_DEFAULT, "application/octet-stream");
}

TEST(mime_ext_of_type_ignores_parameters_blanks_and_case)
{
    ASSERT_STR_EQ(kvs_mime_ext_of_type(S("application/json")), "json");
    ASSERT_STR_EQ(kvs_mime_ext_of_type(S("application/json; charset=utf-8")), "json");
    ASSERT_STR_EQ(kvs_mime_ext_of_type(S("  Application/JSON ;charset=latin1")), "json");
    ASSERT_STR_EQ(kvs_mime_ext_of_type(S("text/plain")), "txt");
    ASSERT_STR_EQ(kvs_mime_ext_of_type(S("image/jpeg")), "jpeg"); /* mime-types' first */
    ASSERT_STR_EQ(kvs_mime_ext_of_type(S("text/html")), "html");
    ASSERT_STR_EQ(kvs_mime_ext_of_type(S("application/octet-stream")), "bin");
    ASSERT(kvs_mime_ext_of_type(S("text/javascript")) == NULL); /* as mime-types 2.1.35 */
    ASSERT(kvs_mime_ext_of_type(S("application/x-none")) == NULL);
    ASSERT(kvs_mime_ext_of_type(S("")) == NULL);
    ASSERT(kvs_mime_ext_of_type(S("; charset=utf-8")) == NULL);
    ASSERT(kvs_mime_ext_of_type(S("image/pn")) == NULL);
}

TEST(mime_round_trip_over_the_table)
{
    /* every extension's type maps back to an extension of the same type */
    static const char *const exts[] = {"json", "txt",  "html", "htm", "png", "jpg", "jpeg",
                                       "gif",  "webp", "svg",  "pdf", "xml", "csv", "zip",
                                       "js",   "css",  "bin",  "gz",  "md",  "mjs"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        const char *type = kvs_mime_type_of_ext(S(exts[i]));
        ASSERT(type != NULL);
        const char *back = kvs_mime_ext_of_type(S(type));
        ASSERT(back != NULL);
        ASSERT_STR_EQ(kvs_mime_type_of_ext(S(back)), type);
    }
}
