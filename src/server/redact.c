/* redact.c — secrets kept out of logs (see redact.h). */
#include "server/redact.h"

#include <string.h>
#include <strings.h>

#include "auth/token.h"
#include "common/pct.h"

#define CUT "..."

/* Whether SEG starts with the generated tokens' "kvs_" (also with its '_' percent-encoded)
 * and is longer than the 12 characters of a listed prefix: a whole token, or most of one. */
static int looks_like_token(kvs_slice seg)
{
    return seg.n > KVS_TOKEN_PREFIX_MAX &&
           (strncmp(seg.p, KVS_TOKEN_PREFIX, 4) == 0 || strncasecmp(seg.p, "kvs%5f", 6) == 0);
}

/* Whether SEG, percent-decoded, holds TOKEN (at least 4 bytes; a shorter "token" is no
 * secret worth the false matches). */
static int holds(kvs_slice seg, kvs_slice token)
{
    if (token.n < 4 || seg.n < token.n)
        return 0;
    char dec[1024];
    long n = kvs_pct_decode(seg, dec, sizeof dec, 0);
    if (n < 0) { /* not decodable (or long): look for it as sent */
        memcpy(dec, seg.p, seg.n < sizeof dec ? seg.n : sizeof dec);
        n = (long)(seg.n < sizeof dec ? seg.n : sizeof dec);
    }
    return memmem(dec, (size_t)n, token.p, token.n) != NULL;
}

/* Append S to OUT[*AT..CAP - 1). */
static void put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
    if (*at >= cap)
        return;
    size_t room = cap - 1 - *at;
    if (n > room)
        n = room;
    memcpy(out + *at, s, n);
    *at += n;
    out[*at] = '\0';
}

size_t kvs_redact_path(kvs_slice path, kvs_slice token, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    out[0] = '\0';
    const char *q = memchr(path.p, '?', path.n);
    if (q != NULL)
        path.n = (size_t)(q - path.p); /* a query string is never logged */
    size_t at = 0;
    int after_tokens = 0;
    while (path.n > 0) {
        const char *slash = memchr(path.p, '/', path.n);
        kvs_slice seg = {path.p, slash ? (size_t)(slash - path.p) : path.n};
        if ((after_tokens && seg.n > 0) || looks_like_token(seg) || holds(seg, token)) {
            char prefix[KVS_TOKEN_PREFIX_MAX + 1];
            size_t n = kvs_token_prefix(seg, prefix);
            put(out, cap, &at, prefix, n);
            put(out, cap, &at, CUT, strlen(CUT));
        } else {
            put(out, cap, &at, seg.p, seg.n);
        }
        after_tokens = seg.n == 6 && strncasecmp(seg.p, "tokens", 6) == 0;
        if (slash == NULL)
            break;
        put(out, cap, &at, "/", 1);
        path.p = slash + 1;
        path.n -= seg.n + 1;
    }
    return at;
}

static int delimiter(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\'' || c == '"' || c == '`';
}

void kvs_redact_line(char *line)
{
    char *p = line;
    while (*p) {
        if (delimiter(*p)) {
            p++;
            continue;
        }
        size_t n = 0;
        while (p[n] && !delimiter(p[n]))
            n++;
        kvs_slice run = {p, n};
        if (memchr(p, '/', n) || memchr(p, '?', n) ||
            (n >= 4 && memcmp(p, KVS_TOKEN_PREFIX, strlen(KVS_TOKEN_PREFIX)) == 0)) {
            char red[1024];
            size_t m = kvs_redact_path(run, (kvs_slice){"", 0}, red, sizeof red);
            /* A run never grows: where a cut would lengthen a short segment ("/tokens/ab"),
             * or the run is longer than RED, the run is cut short. */
            if (m > n)
                m = n;
            memcpy(p, red, m);
            memmove(p + m, p + n, strlen(p + n) + 1);
            n = m;
        }
        p += n;
    }
}
