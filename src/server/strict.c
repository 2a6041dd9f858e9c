/* strict.c — the request head checked against RFC 9112 (see strict.h). */
#include "server/strict.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/* tchar of RFC 9110 §5.6.2: "!#$%&'*+-.^_`|~", digits and letters. */
static int tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int kvs_strict_token(kvs_slice name)
{
    if (name.n == 0)
        return 0;
    for (size_t i = 0; i < name.n; i++)
        if (!tchar((unsigned char)name.p[i]))
            return 0;
    return 1;
}

/* A byte of a field value (RFC 9110 §5.5): visible ASCII, SP, HTAB, or obs-text. */
static int value_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

/* Whether P lies in the block, with at least N bytes from it to the block's end. Compared
 * as integers: P may point anywhere (a field MHD moved out of the block). */
static int within(const struct kvs_strict *s, const char *p, size_t n)
{
    uintptr_t b = (uintptr_t)s->block, e = (uintptr_t)s->end, q = (uintptr_t)p;
    return q >= b && q <= e && e - q >= n;
}

/* Whether the line that ends at P ends with CRLF, which MHD turned into two NULs. */
static int crlf_at(const struct kvs_strict *s, const char *p)
{
    return within(s, p, 2) && p[0] == '\0' && p[1] == '\0';
}

static void fail(struct kvs_strict *s, const char *why)
{
    if (s->why == NULL)
        s->why = why;
}

void kvs_strict_begin(struct kvs_strict *s, const char *block, size_t block_n, const char *url,
                      const char *version, kvs_slice target)
{
    size_t target_n = target.n;
    memset(s, 0, sizeof *s);
    s->block = block;
    s->end = block + block_n;
    if (block == NULL || block_n == 0 || url == NULL || version == NULL) {
        fail(s, "The request could not be read.");
        return;
    }
    /* The request line: METHOD SP target SP HTTP/1.x CRLF, each SP one NUL now. The method
     * is where the block begins; MHD skipped any further spaces before the target. */
    size_t method_n = strnlen(block, block_n);
    if (method_n == block_n || url != block + method_n + 1 ||
        !kvs_strict_token((kvs_slice){block, method_n})) {
        fail(s, "The request line must be METHOD, one space, the target, one space, the version.");
        return;
    }
    /* The target as the URI callback saw it ends right before the space before the version;
     * it ends earlier when it holds a NUL. */
    int bad = !within(s, url, target_n + 1) || version != url + target_n + 1 || url[target_n] != '\0';
    for (size_t i = 0; !bad && i < target_n; i++) /* RFC 3986: no SP, no controls */
        bad = (unsigned char)target.p[i] <= 0x20 || target.p[i] == 0x7f;
    if (bad) {
        fail(s, "The request target must not contain NUL, spaces or control characters.");
        return;
    }
    size_t version_n = within(s, version, 0) ? strnlen(version, (size_t)(s->end - version)) : 0;
    if (version_n != 8 || strncmp(version, "HTTP/1.", 7) != 0 || !crlf_at(s, version + 8)) {
        fail(s, "The request line must end with the HTTP version and CRLF.");
        return;
    }
    s->http11 = version[7] == '1';
    s->next = version + 8 + 2;
}

void kvs_strict_field(struct kvs_strict *s, const char *name, const char *value)
{
    if (s->why != NULL)
        return;
    if (name == NULL || value == NULL) {
        fail(s, "A header field could not be read.");
        return;
    }
    /* Where the previous line ended, this field's name must begin: a field whose name MHD
     * moved (obs-fold) or that follows bytes MHD did not report (after a NUL) does not. */
    if (name != s->next) {
        fail(s, "Header fields must be one line each: no line folding, NUL or bare CR or LF.");
        return;
    }
    size_t name_n = strnlen(name, (size_t)(s->end - name));
    if (!kvs_strict_token((kvs_slice){name, name_n})) {
        fail(s, "A header field name must be a token, with no whitespace before its colon.");
        return;
    }
    /* NAME NUL(the colon) OWS VALUE */
    const char *p = name + name_n + 1;
    while (within(s, p, 1) && (uintptr_t)p < (uintptr_t)value && (*p == ' ' || *p == '\t'))
        p++;
    if (p != value || !within(s, value, 0)) {
        fail(s, "Header fields must be one line each: no line folding, NUL or bare CR or LF.");
        return;
    }
    size_t value_n = strnlen(value, (size_t)(s->end - value));
    for (size_t i = 0; i < value_n; i++)
        if (!value_byte((unsigned char)value[i])) {
            fail(s, "A header field value must not contain control characters.");
            return;
        }
    if (!crlf_at(s, value + value_n)) {
        fail(s, "Header fields must be one line each: no line folding, NUL or bare CR or LF.");
        return;
    }
    s->next = value + value_n + 2;
    if (strcasecmp(name, "Host") == 0)
        s->host++;
    else if (strcasecmp(name, "Content-Length") == 0)
        s->content_length++;
    else if (strcasecmp(name, "Transfer-Encoding") == 0) {
        s->transfer_encoding++;
        s->chunked += strcasecmp(value, "chunked") == 0;
    }
}

const char *kvs_strict_end(struct kvs_strict *s)
{
    if (s->why != NULL)
        return s->why;
    /* After the last field, the empty line, and nothing else the head did not account for. */
    if (!crlf_at(s, s->next) || s->next + 2 != s->end)
        return "Header fields must be one line each: no line folding, NUL or bare CR or LF.";
    if (s->host > 1)
        return "The request has more than one Host header.";
    if (s->http11 && s->host == 0)
        return "An HTTP/1.1 request must have a Host header.";
    if (s->content_length > 1)
        return "The request has more than one Content-Length header.";
    if (s->transfer_encoding && s->content_length)
        return "The request has both Content-Length and Transfer-Encoding.";
    if (s->transfer_encoding > 1 || s->transfer_encoding != s->chunked)
        return "Only Transfer-Encoding: chunked is supported.";
    return NULL;
}
