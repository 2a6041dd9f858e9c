/* router.c — path matching (see router.h). */
#include "server/router.h"

#include "kvs.h"

/* Split off the next '/'-separated segment of *REST into SEG. Returns 0 when none is left. */
static int next_segment(kvs_slice *rest, kvs_slice *seg)
{
    if (rest->n == 0)
        return 0;
    const char *slash = memchr(rest->p, '/', rest->n);
    size_t len = slash ? (size_t)(slash - rest->p) : rest->n;
    *seg = (kvs_slice){rest->p, len};
    rest->p += slash ? len + 1 : len;
    rest->n -= slash ? len + 1 : len;
    return 1;
}

enum kvs_path_kind kvs_route_match_path(kvs_slice path, struct kvs_path_match *m)
{
    memset(m, 0, sizeof *m);
    if (path.n == 0 || path.p[0] != '/')
        return KVS_PATH_NONE;
    kvs_slice rest = {path.p + 1, path.n - 1};
    if (rest.n > 0 && rest.p[rest.n - 1] == '/')
        rest.n--; /* one trailing slash is tolerated: "/v2/key-value-stores/" */
    if (rest.n > 0 && rest.p[rest.n - 1] == '/')
        return KVS_PATH_NONE; /* "//" at the end: an empty last segment (split below drops it) */

    kvs_slice seg[5];
    int n = 0;
    while (n < 5 && next_segment(&rest, &seg[n]))
        n++;
    if (rest.n > 0)
        return KVS_PATH_NONE; /* more than five segments */
    for (int i = 0; i < n; i++)
        if (seg[i].n == 0)
            return KVS_PATH_NONE; /* "//" */

    if (n == 1 && kvs_slice_eq_str(seg[0], "health"))
        return m->kind = KVS_PATH_HEALTH;
    if (n < 2 || !kvs_slice_eq_str(seg[0], "v2"))
        return KVS_PATH_NONE;
    if (kvs_slice_eq_str(seg[1], "users")) {
        if (n == 2)
            return m->kind = KVS_PATH_USERS;
        m->key = seg[2];
        if (n == 3)
            return m->kind = KVS_PATH_USER;
        if (n == 4 && kvs_slice_eq_str(seg[3], "tokens"))
            return m->kind = KVS_PATH_USER_TOKENS;
        if (n == 4 && kvs_slice_eq_str(seg[3], "usage"))
            return m->kind = KVS_PATH_USER_USAGE;
        memset(m, 0, sizeof *m);
        return KVS_PATH_NONE;
    }
    if (kvs_slice_eq_str(seg[1], "tokens")) {
        if (n != 3)
            return KVS_PATH_NONE;
        m->key = seg[2];
        return m->kind = KVS_PATH_TOKEN;
    }
    if (!kvs_slice_eq_str(seg[1], "key-value-stores"))
        return KVS_PATH_NONE;
    if (n == 2)
        return m->kind = KVS_PATH_STORES;
    m->store = seg[2];
    if (n == 3)
        return m->kind = KVS_PATH_STORE;
    if (n == 4 && kvs_slice_eq_str(seg[3], "keys"))
        return m->kind = KVS_PATH_KEYS;
    if (kvs_slice_eq_str(seg[3], "records")) {
        if (n == 4)
            return m->kind = KVS_PATH_RECORDS;
        m->key = seg[4];
        return m->kind = KVS_PATH_RECORD;
    }
    if (kvs_slice_eq_str(seg[3], "shares")) {
        if (n == 4)
            return m->kind = KVS_PATH_SHARES;
        m->key = seg[4];
        return m->kind = KVS_PATH_SHARE;
    }
    memset(m, 0, sizeof *m);
    return KVS_PATH_NONE;
}
