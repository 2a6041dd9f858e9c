/* fuzz_strict.c — the request head held to RFC 9112 (src/server/strict.c).
 *
 * The input is a raw request head as a client may send it. It goes through what libmicrohttpd
 * 0.9.75 does to a head (mhd_head.h) and then through the checker, and the answer is compared
 * with a reference that reads the raw bytes by RFC 9112's grammar, strictly:
 *     request-line = method SP request-target SP HTTP-version CRLF
 *     field-line   = field-name ":" OWS field-value OWS CRLF, the head ending with CRLF
 * method and field-name tokens (tchar+), the target visible ASCII or obs-text, values of
 * VCHAR, SP, HTAB and obs-text; at most one Host, exactly one for HTTP/1.1; at most one
 * Content-Length, not with Transfer-Encoding; Transfer-Encoding only one "chunked".
 * Properties:
 *   - the checker accepts exactly the heads the reference accepts (of those MHD passes on): no
 *     smuggling shape gets through, and no well-formed head is refused. One exception, which
 *     strict.h explains: a NUL next to a line end looks like part of it in MHD's buffer, so a
 *     head with a NUL or a bare LF is held to the reading without its NULs and with CRLF for
 *     each LF (MHD's own reading), and only for soundness;
 *   - an accepted head reads back from MHD's fields as the very bytes sent: each field's name
 *     and value where the reference found them, in order, nothing between or after them;
 *   - kvs_strict_token() agrees with the tchar rule on any bytes. */
#include <ctype.h>
#include <strings.h>

#include "fuzz.h"
#include "mhd_head.h"
#include "server/strict.h"

static int tchar(unsigned char c)
{
    return isalnum(c) && c < 0x80 ? 1 : c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int ref_token(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!tchar((unsigned char)p[i]))
            return 0;
    return 1;
}

struct ref_field {
    size_t name, name_n, value, value_n; /* offsets into the input */
};

/* The reference: whether IN[0..N) starts with a well-formed head; its fields into F (room for
 * MHD_HEAD_FIELDS), its length into *HEAD_N. */
static int ref_head(const char *in, size_t n, struct ref_field *f, size_t *nf, size_t *head_n)
{
    size_t at = 0;
    /* the line ends: CRLF only */
    const char *crlf = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (in[i] == '\r' && in[i + 1] == '\n') {
            crlf = in + i;
            break;
        }
    if (crlf == NULL)
        return 0;
    size_t line_n = (size_t)(crlf - in);
    const char *sp1 = memchr(in, ' ', line_n);
    if (sp1 == NULL || !ref_token(in, (size_t)(sp1 - in)))
        return 0;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', line_n - (size_t)(target - in));
    if (sp2 == NULL || sp2 == target)
        return 0;
    for (const char *t = target; t < sp2; t++)
        if ((unsigned char)*t <= 0x20 || *t == 0x7f)
            return 0;
    size_t version_n = line_n - (size_t)(sp2 + 1 - in);
    if (version_n != 8 ||
        (memcmp(sp2 + 1, "HTTP/1.0", 8) != 0 && memcmp(sp2 + 1, "HTTP/1.1", 8) != 0))
        return 0;
    int http11 = sp2[8] == '1';
    at = line_n + 2;
    unsigned host = 0, cl = 0, te = 0, chunked = 0;
    *nf = 0;
    for (;;) {
        size_t e = at;
        while (e + 1 < n && !(in[e] == '\r' && in[e + 1] == '\n'))
            e++;
        if (e + 1 >= n)
            return 0;
        if (e == at) { /* the empty line */
            *head_n = at + 2;
            break;
        }
        const char *line = in + at;
        size_t ln = e - at;
        const char *colon = memchr(line, ':', ln);
        if (colon == NULL || !ref_token(line, (size_t)(colon - line)))
            return 0;
        size_t v = (size_t)(colon + 1 - in);
        while (v < e && (in[v] == ' ' || in[v] == '\t'))
            v++;
        for (size_t i = v; i < e; i++) {
            unsigned char c = (unsigned char)in[i];
            if (!(c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f)))
                return 0;
        }
        if (*nf == MHD_HEAD_FIELDS)
            return 0;
        f[*nf] = (struct ref_field){at, (size_t)(colon - line), v, e - v};
        (*nf)++;
        size_t nn = (size_t)(colon - line);
        if (nn == 4 && strncasecmp(line, "host", 4) == 0)
            host++;
        else if (nn == 14 && strncasecmp(line, "content-length", 14) == 0)
            cl++;
        else if (nn == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
            te++;
            chunked += e - v == 7 && strncasecmp(in + v, "chunked", 7) == 0;
        }
        at = e + 2;
    }
    if (host > 1 || (http11 && host == 0) || cl > 1 || (cl && te) || te > 1 || te != chunked)
        return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    /* the token rule on the raw bytes */
    FUZZ_CHECK(kvs_strict_token((kvs_slice){in, size}) == ref_token(in, size));

    struct mhd_head h;
    if (mhd_head_parse(in, size, &h) != 0)
        return 0; /* MHD answers or closes by itself */
    struct kvs_strict s;
    kvs_strict_begin(&s, h.buf, h.size, h.url, h.version, kvs_slice_of(h.target));
    for (size_t i = 0; i < h.nf; i++)
        kvs_strict_field(&s, h.f[i].name, h.f[i].value);
    const char *why = kvs_strict_end(&s);

    /* A NUL next to a line end is, in MHD's buffer, one more NUL among those MHD made of the
     * CR and LF (strict.h): for a head with a NUL or a bare LF the checker can only be held to
     * the reading without the NULs and with CRLF for each bare LF, which is MHD's reading too,
     * and only one way (what it accepts is sound: its fields are that reading's fields). */
    size_t head = h.size;
    int plain = memchr(in, '\0', head) == NULL;
    for (size_t i = 0; plain && i < head; i++)
        plain = in[i] != '\n' || (i > 0 && in[i - 1] == '\r');
    char *norm = malloc(2 * head + 1);
    FUZZ_CHECK(norm != NULL);
    size_t nn = 0;
    for (size_t i = 0; i < head; i++) {
        if (in[i] == '\0')
            continue;
        if (in[i] == '\n' && (nn == 0 || norm[nn - 1] != '\r'))
            norm[nn++] = '\r';
        norm[nn++] = in[i];
    }
    struct ref_field f[MHD_HEAD_FIELDS];
    size_t nf = 0, head_n = 0;
    int ok = ref_head(norm, nn, f, &nf, &head_n);
    if (plain ? ok != (why == NULL) : (why == NULL && !ok)) {
        fprintf(stderr, "checker says %s, reference %s\n", why ? why : "fine", ok ? "fine" : "bad");
        FUZZ_CHECK(plain ? ok == (why == NULL) : !(why == NULL && !ok));
    }
    if (ok && why == NULL) {
        /* what MHD reports is the whole head, each field what was sent (and, without NULs or
         * bare LFs, where it was sent) */
        FUZZ_CHECK(head_n == nn);
        FUZZ_CHECK(nf == h.nf);
        for (size_t i = 0; i < nf; i++) {
            FUZZ_CHECK(strlen(h.f[i].name) == f[i].name_n);
            FUZZ_CHECK(memcmp(h.f[i].name, norm + f[i].name, f[i].name_n) == 0);
            FUZZ_CHECK(strlen(h.f[i].value) == f[i].value_n);
            FUZZ_CHECK(memcmp(h.f[i].value, norm + f[i].value, f[i].value_n) == 0);
            FUZZ_CHECK(!plain || (h.f[i].name == h.buf + f[i].name &&
                                  h.f[i].value == h.buf + f[i].value));
        }
    }
    free(norm);
    mhd_head_free(&h);
    return 0;
}
