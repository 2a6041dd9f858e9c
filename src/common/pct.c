/* pct.c — percent-coding (see pct.h). */
#include "common/pct.h"

#include <string.h>

#include "common/buf.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long kvs_pct_decode(kvs_slice in, char *out, size_t out_max, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < in.n; i++) {
        char c = in.p[i];
        if (c == '%') {
            /* i + 2 < in.n: both hex digits are there */
            int hi = i + 2 < in.n ? hexval(in.p[i + 1]) : -1;
            int lo = i + 2 < in.n ? hexval(in.p[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (o == out_max)
            return -1;
        out[o++] = c;
    }
    return (long)o;
}

size_t kvs_pct_escape(kvs_slice s, const char *keep, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (c != '\0' && strchr(keep, c))) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    return o;
}

int kvs_pct_encode(struct kvs_buf *out, kvs_slice s)
{
    for (size_t i = 0; i < s.n; i++) {
        char esc[3];
        size_t n = kvs_pct_escape((kvs_slice){&s.p[i], 1}, "!'()", esc);
        int rc = kvs_buf_append(out, esc, n);
        if (rc != 0)
            return rc;
    }
    return 0;
}
