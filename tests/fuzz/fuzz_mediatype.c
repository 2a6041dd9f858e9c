/* fuzz_mediatype.c — the Content-Type grammar of uploads (src/common/mediatype.c).
 *
 * Properties:
 *   oracle     kvs_media_type_valid() equals RFC 9110's media-type grammar (§8.3.1, tokens of
 *              §5.6.2, quoted strings of §5.6.4 without obs-text) written as one POSIX
 *              extended regex, run on the raw bytes (REG_STARTEND: a NUL is a byte like any
 *              other, and matches nothing);
 *   inert      an accepted value is printable ASCII (HTAB aside), holds no comma outside a
 *              quoted string, and its media type (up to the first blank or ';') is the only
 *              one in it: exactly one '/' before any parameter. */
#include <regex.h>

#include "common/mediatype.h"
#include "fuzz.h"

static regex_t re_media;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static int done;
    if (done++)
        return 0;
    /* '-' last and ']' first in a bracket are literals (POSIX); '^' anywhere but first */
#define TCHAR "[!#$%&'*+.^_`|~0-9A-Za-z-]"
#define TOKEN TCHAR "+"
    /* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E: printable ASCII but '"' and '\' */
#define QDTEXT "[]\t !#$%&'()*+,./0-9:;<=>?@A-Z[^_`a-z{|}~-]"
#define QPAIR "\\\\[\t -~]"
#define QSTRING "\"(" QDTEXT "|" QPAIR ")*\""
#define OWS "[ \t]*"
    const char *pattern =
        "^" TOKEN "/" TOKEN "(" OWS ";" OWS "(" TOKEN "=(" TOKEN "|" QSTRING "))?)*$";
    FUZZ_CHECK(regcomp(&re_media, pattern, REG_EXTENDED | REG_NOSUB) == 0);
    return 0;
}

static int oracle(kvs_slice s)
{
    char *z = malloc(s.n + 1); /* NUL-terminated all the same: ASan's regexec reads to one */
    if (s.n)
        memcpy(z, s.p, s.n);
    z[s.n] = '\0';
    regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)s.n};
    int rc = regexec(&re_media, z, 0, &m, REG_STARTEND);
    free(z);
    return rc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LLVMFuzzerInitialize(NULL, NULL);
    if (size > 1024) /* uploads are cut at 255 bytes before the grammar; regexec is slow */
        return 0;
    kvs_slice s = {(const char *)data, size};
    int valid = kvs_media_type_valid(s);
    FUZZ_CHECK(valid == oracle(s));
    if (!valid)
        return 0;

    int in_quotes = 0, slashes = 0, params = 0;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = data[i];
        FUZZ_CHECK(c == '\t' || (c >= 0x20 && c <= 0x7e));
        if (in_quotes && c == '\\') {
            i++;
            continue;
        }
        if (c == '"')
            in_quotes = !in_quotes;
        if (in_quotes)
            continue;
        FUZZ_CHECK(c != ',');
        if (c == ';' || c == ' ' || c == '\t')
            params = 1;
        if (!params && c == '/')
            slashes++;
    }
    FUZZ_CHECK(!in_quotes);
    FUZZ_CHECK(slashes == 1);
    return 0;
}
