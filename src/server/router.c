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

/* Resources of the platform's API that kvstore does not serve: any path under them is
 * KVS_PATH_UNSUPPORTED (501), however deep. */
static int unsupported_resource(kvs_slice seg)
{
    static const char *const names[] = {
        "datasets",  "request-queues",     "actor-tasks", "actor-builds", "webhooks",
        "webhook-dispatches", "schedules", "logs",        "store",        "browser-info",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (kvs_slice_eq_str(seg, names[i]))
            return 1;
    return 0;
}

/* A run's storages and actions other than its key-value store (and abort): not served. */
static int unsupported_of_run(kvs_slice seg)
{
    static const char *const names[] = {"dataset", "request-queue", "log",   "metamorph",
                                        "reboot",  "resurrect",     "charge"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (kvs_slice_eq_str(seg, names[i]))
            return 1;
    return 0;
}

/* The store kinds after "key-value-store" (SEG[0..N)) of a run path, the store named VIA. */
static enum kvs_path_kind run_store(const kvs_slice *seg, int n, enum kvs_path_via via,
                                    struct kvs_path_match *m)
{
    m->via = via;
    if (n == 0)
        return m->kind = KVS_PATH_STORE;
    if (n == 1 && kvs_slice_eq_str(seg[0], "keys"))
        return m->kind = KVS_PATH_KEYS;
    if (kvs_slice_eq_str(seg[0], "records")) {
        if (n == 1)
            return m->kind = KVS_PATH_RECORDS;
        if (n == 2) {
            m->key = seg[1];
            return m->kind = KVS_PATH_RECORD;
        }
    }
    memset(m, 0, sizeof *m);
    return KVS_PATH_NONE;
}

/* /v2/actor-runs/... (SEG[0] is "actor-runs"). */
static enum kvs_path_kind actor_runs(const kvs_slice *seg, int n, struct kvs_path_match *m)
{
    if (n == 1)
        return m->kind = KVS_PATH_RUNS;
    m->store = seg[1];
    if (n == 2)
        return m->kind = KVS_PATH_RUN;
    if (n == 3 && kvs_slice_eq_str(seg[2], "abort"))
        return m->kind = KVS_PATH_RUN_ABORT;
    if (n == 3 && kvs_slice_eq_str(seg[2], "finish"))
        return m->kind = KVS_PATH_RUN_FINISH;
    if (kvs_slice_eq_str(seg[2], "key-value-store"))
        return run_store(seg + 3, n - 3, KVS_VIA_RUN, m);
    memset(m, 0, sizeof *m);
    if (unsupported_of_run(seg[2]))
        return m->kind = KVS_PATH_UNSUPPORTED;
    return KVS_PATH_NONE;
}

/* /v2/acts/... or /v2/actors/... (SEG[0]): runs and the last run; the rest of an Actor's API
 * (the Actor itself, builds, versions, starting a run on the server) is not served. */
static enum kvs_path_kind acts(const kvs_slice *seg, int n, struct kvs_path_match *m)
{
    if (n >= 3 && kvs_slice_eq_str(seg[2], "runs")) {
        m->store = seg[1];
        if (n == 3)
            return m->kind = KVS_PATH_ACTOR_RUNS;
        if (kvs_slice_eq_str(seg[3], "last")) {
            if (n == 4)
                return m->kind = KVS_PATH_ACTOR_LAST_RUN;
            if (kvs_slice_eq_str(seg[4], "key-value-store"))
                return run_store(seg + 5, n - 5, KVS_VIA_LAST_RUN, m);
        }
    }
    memset(m, 0, sizeof *m);
    return m->kind = KVS_PATH_UNSUPPORTED;
}

#define MAX_SEGMENTS 8 /* /v2/acts/{actor}/runs/last/key-value-store/records/{key} */

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

    kvs_slice seg[MAX_SEGMENTS];
    int n = 0;
    while (n < MAX_SEGMENTS && next_segment(&rest, &seg[n]))
        n++;
    for (int i = 0; i < n; i++)
        if (seg[i].n == 0)
            return KVS_PATH_NONE; /* "//" */
    if (n >= 2 && kvs_slice_eq_str(seg[0], "v2") && unsupported_resource(seg[1]))
        return m->kind = KVS_PATH_UNSUPPORTED; /* however deep */
    if (rest.n > 0)
        return KVS_PATH_NONE; /* more segments than any path we serve */

    if (n == 1 && kvs_slice_eq_str(seg[0], "health"))
        return m->kind = KVS_PATH_HEALTH;
    if (n < 2 || !kvs_slice_eq_str(seg[0], "v2"))
        return KVS_PATH_NONE;
    if (kvs_slice_eq_str(seg[1], "actor-runs"))
        return actor_runs(seg + 1, n - 1, m);
    if (kvs_slice_eq_str(seg[1], "acts") || kvs_slice_eq_str(seg[1], "actors"))
        return acts(seg + 1, n - 1, m);
    if (n > 5)
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
    if (n == 4 && kvs_slice_eq_str(seg[3], "rotate-signing-key"))
        return m->kind = KVS_PATH_SIGNING_KEY;
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
