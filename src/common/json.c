/* json.c — JSON text into a buffer (see json.h). */
#include "common/json.h"

int kvs_json_str(struct kvs_buf *b, kvs_slice s)
{
    int rc = kvs_buf_append(b, "\"", 1);
    if (rc == 0)
        rc = kvs_json_str_inner(b, s);
    if (rc == 0)
        rc = kvs_buf_append(b, "\"", 1);
    return rc;
}

int kvs_json_str_inner(struct kvs_buf *b, kvs_slice s)
{
    static const char hex[] = "0123456789abcdef";
    int rc = 0;
    size_t run = 0; /* bytes before i that need no escaping, appended in one go */
    for (size_t i = 0; rc == 0 && i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = kvs_buf_append(b, s.p + run, i - run);
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t n = 2;
        if (c < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (rc == 0)
            rc = kvs_buf_append(b, esc, n);
        run = i + 1;
    }
    if (rc == 0)
        rc = kvs_buf_append(b, s.p + run, s.n - run);
    return rc;
}

int kvs_json_uint(struct kvs_buf *b, unsigned long long v)
{
    /* by hand: snprintf's ~700 instructions were a tenth of a key in a page of keys */
    char num[24];
    size_t i = sizeof num;
    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return kvs_buf_append(b, num + i, sizeof num - i);
}
