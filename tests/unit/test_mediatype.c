/* test_mediatype.c — the Content-Type grammar of uploads (src/common/mediatype.c). */
#include "common/mediatype.h"
#include "test.h"

#define VALID(lit) kvs_media_type_valid((kvs_slice){lit, sizeof lit - 1})

TEST(media_type_accepts_one_type_with_parameters)
{
    static const char *const ok[] = {
        "text/plain",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "Text/CSV; Charset=ISO-8859-2",
        "image/svg+xml",
        "application/vnd.api+json",
        "application/x-custom+json; profile=\"urn:x\"; v=2",
        "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
        "text/plain; x=\"a,text/html\"",   /* a comma inside a quoted string is data */
        "text/plain; x=\"q\\\"uote\\\\\"", /* quoted-pairs */
        "text/plain; x=\"\"",              /* an empty quoted string */
        "text/plain;",                     /* empty parameters: the grammar allows them */
        "text/plain; ;charset=utf-8",
        "text/plain \t; a=b",
        "a/b",
        "!#$%&'*+-.^_`|~09AZaz/!#$%&'*+-.^_`|~09AZaz",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (!kvs_media_type_valid(kvs_slice_of(ok[i])))
            TEST_FAIL_("refused %s", ok[i]);
    }
}

TEST(media_type_refuses_every_other_form)
{
    static const char *const bad[] = {
        "",
        "text",
        "text/",
        "/html",
        "text/plain/x",
        "text /plain",
        "text/ plain",
        " text/plain",
        "text/plain ",           /* nothing after the last parameter, not even blanks */
        "text/plain;,text/html", /* the finding: browsers take the last of a comma list */
        "image/png;x=1,text/html",
        "text/plain, text/html",
        "text/plain;charset=utf-8,text/html",
        "text/plain; x=\"a\",text/html",
        "text/plain; charset",
        "text/plain; charset=",
        "text/plain; =utf-8",
        "text/plain; a=b c",
        "text/plain; a=\"unterminated",
        "text/plain; a=\"ends in a backslash\\",
        "text/plain; a=\"x\"y",
        "text/pl(ain",
        "text/plain; a=b;;c",
        "text/plain\x01",
        "text/plain; a=\"\x7f\"",
        "text/plain; a=\"\xc3\xa9\"", /* obs-text: not printable ASCII */
        "t\xc3\xa9xt/plain",
        "text/html\r\nX-Injected: 1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (kvs_media_type_valid(kvs_slice_of(bad[i])))
            TEST_FAIL_("accepted \"%s\"", bad[i]);
    }
    ASSERT(!VALID("text/plain\0"));
    ASSERT(!VALID("text/plain; a=\"\0\""));
    ASSERT(!VALID("text\0/plain"));
    ASSERT(!kvs_media_type_valid((kvs_slice){NULL, 0}));
}
