/* mhd_head.h — what libmicrohttpd 0.9.75 leaves of a request head, made without a socket, for
 * the checks of src/server/strict.h (tests/fuzz/fuzz_strict.c, tests/unit/test_strict.c).
 *
 * It does to a copy of the raw bytes what MHD's connection.c does in its read buffer (read in
 * its v0.9.75 source, and compared with a real daemon for the cases of
 * tests/api/framing.test.mjs):
 *   - a line ends at CRLF (both bytes become NUL) or at a bare LF (it becomes NUL);
 *   - the request line: the first SP becomes NUL (the method before it), further spaces are
 *     skipped to the target; the version is after the last space (trailing spaces skipped),
 *     which becomes NUL; the version must be HTTP/1.0 or HTTP/1.1 (else MHD answers itself);
 *     the URI callback sees the target as a C string; then the '?' and the '&' and '=' of the
 *     query become NUL;
 *   - a field line: the first ':' (of the C string) becomes NUL, the value starts after SP and
 *     HTAB; a line without ':' is answered 400 by MHD itself;
 *   - a line that starts with SP or HTAB continues the previous field: MHD copies the field's
 *     name elsewhere with the continuation (after its leading blanks) appended, and keeps the
 *     value pointer it had (stale);
 *   - the head ends at the first empty line; its size is counted from the method.
 * Everything points into OUT->buf (or, for a folded name, OUT->moved), which the caller frees
 * with mhd_head_free(). */
#ifndef KVS_TESTS_MHD_HEAD_H
#define KVS_TESTS_MHD_HEAD_H

#include <stdlib.h>
#include <string.h>

#define MHD_HEAD_FIELDS 64

struct mhd_head {
    char *buf;       /* the copy, modified in place; size n + 1 */
    size_t size;     /* the head's size from the method (MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE) */
    const char *url, *version;
    char *target;    /* the URI callback's copy (a C string) */
    struct {
        const char *name, *value;
    } f[MHD_HEAD_FIELDS];
    size_t nf;
    char *moved[MHD_HEAD_FIELDS]; /* names MHD moved (folding) */
    size_t nmoved;
};

static inline void mhd_head_free(struct mhd_head *h)
{
    free(h->buf);
    free(h->target);
    for (size_t i = 0; i < h->nmoved; i++)
        free(h->moved[i]);
    memset(h, 0, sizeof *h);
}

/* The next line of B[*AT..N): its start, with its end turned into NUL(s) and its length
 * (up to that end) in *LEN. Returns NULL when no line end follows. */
static inline char *mhd_line(char *b, size_t n, size_t *at, size_t *len)
{
    for (size_t i = *at; i < n; i++) {
        int crlf = b[i] == '\r' && i + 1 < n && b[i + 1] == '\n';
        if (!crlf && b[i] != '\n')
            continue;
        char *line = b + *at;
        *len = i - *at;
        b[i] = '\0';
        if (crlf)
            b[i + 1] = '\0';
        *at = i + 1 + crlf;
        return line;
    }
    return NULL;
}

/* Parse IN[0..N) as MHD would. Returns 0 with OUT filled when MHD would call the
 * application with this head, -1 when MHD answers or closes by itself (no whole head, no
 * space or version in the request line, a field line without ':', too many fields). */
static inline int mhd_head_parse(const char *in, size_t n, struct mhd_head *out)
{
    memset(out, 0, sizeof *out);
    char *b = malloc(n + 1);
    if (b == NULL)
        return -1;
    memcpy(b, in, n);
    b[n] = '\0';
    out->buf = b;
    size_t at = 0, line_n;
    char *line = mhd_line(b, n, &at, &line_n);
    if (line == NULL || line_n == 0)
        goto refused;
    char *sp = memchr(line, ' ', line_n);
    if (sp == NULL)
        goto refused;
    *sp = '\0';
    char *uri = sp + 1;
    while (uri < line + line_n && *uri == ' ')
        uri++;
    if (uri == line + line_n)
        goto refused; /* no target, no version: MHD answers 400 */
    char *v = line + line_n - 1;
    while (v > uri && *v == ' ')
        v--;
    while (v > uri && *v != ' ')
        v--;
    if (v <= uri)
        goto refused;
    *v = '\0';
    out->version = v + 1;
    if (strcmp(out->version, "HTTP/1.0") != 0 && strcmp(out->version, "HTTP/1.1") != 0)
        goto refused;
    out->url = uri;
    out->target = strdup(uri);
    if (out->target == NULL)
        goto refused;
    for (char *q = strchr(uri, '?'); q != NULL && q < v; q = NULL) {
        *q = '\0';
        for (char *a = q + 1; a < v; a++)
            if (*a == '&' || *a == '=')
                *a = '\0';
    }
    /* the fields */
    int have_last = 0;
    char *last_name = NULL, *last_value = NULL;
    for (;;) {
        line = mhd_line(b, n, &at, &line_n);
        if (line == NULL)
            goto refused;
        if (have_last && (line[0] == ' ' || line[0] == '\t')) {
            const char *cont = line;
            while (*cont == ' ' || *cont == '\t')
                cont++;
            if (out->nmoved == MHD_HEAD_FIELDS)
                goto refused;
            size_t a = strlen(last_name), c = strlen(cont);
            char *moved = malloc(a + c + 1);
            if (moved == NULL)
                goto refused;
            memcpy(moved, last_name, a);
            memcpy(moved + a, cont, c + 1);
            out->moved[out->nmoved++] = moved;
            last_name = moved;
            continue;
        }
        if (have_last) {
            if (out->nf == MHD_HEAD_FIELDS)
                goto refused;
            out->f[out->nf].name = last_name;
            out->f[out->nf].value = last_value;
            out->nf++;
            have_last = 0;
        }
        if (line[0] == '\0')
            break;
        char *colon = strchr(line, ':');
        if (colon == NULL)
            goto refused;
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        last_name = line;
        last_value = value;
        have_last = 1;
    }
    out->size = at;
    return 0;
refused:
    mhd_head_free(out);
    return -1;
}

#endif
