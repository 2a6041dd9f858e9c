/* test_redact.c — no token or signature reaches a log whole (src/server/redact.c). */
#include "server/redact.h"
#include "test.h"

static const char *path(const char *p)
{
    static char out[256];
    kvs_redact_path(kvs_slice_of(p), (kvs_slice){"", 0}, out, sizeof out);
    return out;
}

TEST(redact_token_paths)
{
    const char *tok = "kvs_abcd1234EFGH5678ijkl9012MNOP3456qrst7890";
    char p[128];
    /* DELETE /v2/tokens/{whole token}: its listed prefix only */
    snprintf(p, sizeof p, "/v2/tokens/%s", tok);
    ASSERT_STR_EQ(path(p), "/v2/tokens/kvs_abcd1234...");
    /* a prefix, as listed: half of it (a short operator token could look like one) */
    ASSERT_STR_EQ(path("/v2/tokens/kvs_abcd1234"), "/v2/tokens/kvs_ab...");
    /* an operator's token of any shape, percent-encoded or not, a trailing slash */
    ASSERT_STR_EQ(path("/v2/tokens/my-secret-admin-token/"), "/v2/tokens/my-secret-.../");
    ASSERT_STR_EQ(path("/v2/tokens/my%2Dsecret%2Dtoken"), "/v2/tokens/my%2Dsecr...");
    ASSERT_STR_EQ(path("/v2/TOKENS/abcdefghij"), "/v2/TOKENS/abcde...");
    /* a generated token pasted anywhere else */
    snprintf(p, sizeof p, "/v2/key-value-stores/%s/keys", tok);
    ASSERT_STR_EQ(path(p), "/v2/key-value-stores/kvs_abcd1234.../keys");
    snprintf(p, sizeof p, "/v2/users/kvs%%5Fabcd1234EFGH5678");
    ASSERT_STR_EQ(path(p), "/v2/users/kvs%5Fabcd1...");
    /* the query never */
    ASSERT_STR_EQ(path("/v2/key-value-stores/x/keys?signature=abc&token=def"),
                  "/v2/key-value-stores/x/keys");
    /* the rest as it is */
    ASSERT_STR_EQ(path("/v2/key-value-stores/admin~demo/records/kvs_"),
                  "/v2/key-value-stores/admin~demo/records/kvs_");
    ASSERT_STR_EQ(path("/v2/users/me/tokens"), "/v2/users/me/tokens");
}

TEST(redact_lines)
{
    char line[256];
    snprintf(line, sizeof line,
             "Failed to send the response headers for the request for `/v2/tokens/"
             "kvs_abcd1234EFGH5678ijkl9012MNOP3456qrst7890'. Error: Broken pipe");
    kvs_redact_line(line);
    ASSERT_STR_EQ(line, "Failed to send the response headers for the request for "
                        "`/v2/tokens/kvs_abcd1234...'. Error: Broken pipe");
    snprintf(line, sizeof line, "request for /x/keys?signature=abc done, token kvs_0123456789abcdef");
    kvs_redact_line(line);
    ASSERT_STR_EQ(line, "request for /x/keys done, token kvs_012345...");
    snprintf(line, sizeof line, "no path here at all");
    kvs_redact_line(line);
    ASSERT_STR_EQ(line, "no path here at all");
    /* a short segment after "tokens" is cut, never lengthened */
    snprintf(line, sizeof line, "for /tokens/ab now");
    kvs_redact_line(line);
    ASSERT(strlen(line) <= strlen("for /tokens/ab now"));
    ASSERT(strstr(line, "/tokens/ab ") == NULL);
}

TEST(redact_own_token_anywhere)
{
    char out[256];
    kvs_slice tok = KVS_SLICE_LIT("test_0123456789abcdef");
    kvs_redact_path(KVS_SLICE_LIT("/v2/key-value-stores/test_0123456789abcdef/keys"), tok, out,
                    sizeof out);
    ASSERT_STR_EQ(out, "/v2/key-value-stores/test_01234.../keys");
    kvs_redact_path(KVS_SLICE_LIT("/v2/key-value-stores/a/records/xx%74est_0123456789abcdefyy"),
                    tok, out, sizeof out);
    ASSERT_STR_EQ(out, "/v2/key-value-stores/a/records/xx%74est_012...");
    kvs_redact_path(KVS_SLICE_LIT("/v2/key-value-stores/a/records/b"), tok, out, sizeof out);
    ASSERT_STR_EQ(out, "/v2/key-value-stores/a/records/b");
}
