/* range.c — the Range header (see range.h). */
#include "server/range.h"

#include <strings.h>

/* 1*DIGIT at the start of *S (advancing it), saturating at UINT64_MAX: a position past any
 * length is still a position. Returns 0 when there is no digit. */
static int number(kvs_slice *s, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < s->n && s->p[i] >= '0' && s->p[i] <= '9') {
        unsigned d = (unsigned)(s->p[i] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        i++;
    }
    s->p += i;
    s->n -= i;
    *out = v;
    return i > 0;
}

/* Skip list separators: commas and the spaces around them (an empty member is allowed). */
static void skip_separators(kvs_slice *s)
{
    while (s->n > 0 && (s->p[0] == ',' || s->p[0] == ' ' || s->p[0] == '\t')) {
        s->p++;
        s->n--;
    }
}

enum kvs_range_kind kvs_range_parse(kvs_slice value, uint64_t len, struct kvs_range *out)
{
    kvs_slice s = kvs_slice_trim_ows(value);
    if (s.n < 6 || strncasecmp(s.p, "bytes=", 6) != 0)
        return KVS_RANGE_IGNORE; /* another range unit, which we do not know */
    s.p += 6;
    s.n -= 6;
    skip_separators(&s);
    uint64_t first = 0, last = UINT64_MAX;
    int suffix = s.n > 0 && s.p[0] == '-';
    if (suffix) {
        s.p++;
        s.n--;
        if (!number(&s, &last))
            return KVS_RANGE_IGNORE;
    } else {
        if (!number(&s, &first) || s.n == 0 || s.p[0] != '-')
            return KVS_RANGE_IGNORE;
        s.p++;
        s.n--;
        if (s.n > 0 && s.p[0] >= '0' && s.p[0] <= '9' && (!number(&s, &last) || last < first))
            return KVS_RANGE_IGNORE; /* last before first: an invalid range-spec */
    }
    skip_separators(&s);
    if (s.n > 0)
        return KVS_RANGE_IGNORE; /* junk, or a second range: we send the whole instead */

    if (suffix) {
        if (last == 0)
            return KVS_RANGE_UNSATISFIABLE;
        if (len == 0)
            return KVS_RANGE_IGNORE; /* satisfiable, but "no bytes" has no Content-Range */
        out->first = last >= len ? 0 : len - last;
        out->last = len - 1;
        return KVS_RANGE_PART;
    }
    if (first >= len)
        return KVS_RANGE_UNSATISFIABLE;
    out->first = first;
    out->last = last >= len ? len - 1 : last;
    return KVS_RANGE_PART;
}
