/* router.h — method + path → handler, and percent-decoding of the raw request target.
 *
 * The request target is parsed here, not by libmicrohttpd, from the raw bytes: path segments
 * are split first and decoded after, so "%2F" in a key stays inside the key (and is then
 * refused as an invalid key) instead of becoming a path separator. */
#ifndef KVS_SERVER_ROUTER_H
#define KVS_SERVER_ROUTER_H

#include <stddef.h>

#include "common/slice.h"

struct kvs_req;

/* What a route's handler does; each returns nothing: it sets the response (reply.h) or
 * submits a write with kvs_http_submit(), after which FINISH builds the response. */
typedef void (*kvs_handler_fn)(struct kvs_req *r);

#define KVS_R_BODY 1u       /* takes a request body (capped at the record limit) */
/* the body is a record: checked early, stored as is, and taken as it arrives
 * (kvs_api_record_body), not buffered whole: it may be as large as the disk */
#define KVS_R_RECORD 2u
#define KVS_R_PUBLIC 4u     /* needs no token (the handler decides what an anonymous caller gets) */
#define KVS_R_SIG_RECORD 8u /* a ?signature= of the record's key grants reading */
#define KVS_R_SIG_KEYS 16u  /* a ?signature= of the store's key list grants reading */
/* The handler uses of its {store} only what says which store it is and who may do what
 * (not its statistics or times): it may come from the cache (api/cache.h). */
#define KVS_R_STORE_ACCESS 32u
/* The handler calls kvs_api_confirm() after its last lookup: its read is optimistic
 * (storage.h), so that a back-end without snapshots may use the caches too. */
#define KVS_R_CONFIRMS 64u

struct kvs_route {
    const char *name; /* for logs and metrics: "record.get" */
    unsigned methods; /* KVS_M_* this route answers */
    unsigned flags;   /* KVS_R_* */
    /* For routes with a body: called when the headers are in, before any body byte is read,
     * to refuse early (no such store, no right to write, bad key). Returns 0 or an error
     * code; the error is answered once the body has been drained. May be NULL. */
    int (*prepare)(struct kvs_req *r);
    kvs_handler_fn handle; /* called once the request is complete */
    kvs_handler_fn finish; /* called after a submitted write completed; may be NULL */
};

/* The path shapes the router knows. */
enum kvs_path_kind {
    KVS_PATH_NONE = 0,
    KVS_PATH_HEALTH,      /* /health */
    KVS_PATH_STORES,      /* /v2/key-value-stores */
    KVS_PATH_STORE,       /* /v2/key-value-stores/{store} */
    KVS_PATH_KEYS,        /* /v2/key-value-stores/{store}/keys */
    KVS_PATH_RECORDS,     /* /v2/key-value-stores/{store}/records */
    KVS_PATH_RECORD,      /* /v2/key-value-stores/{store}/records/{key} */
    KVS_PATH_SHARES,      /* /v2/key-value-stores/{store}/shares */
    KVS_PATH_SHARE,       /* /v2/key-value-stores/{store}/shares/{user} */
    KVS_PATH_USERS,       /* /v2/users */
    KVS_PATH_USER,        /* /v2/users/{user} ("me" = the caller) */
    KVS_PATH_USER_TOKENS, /* /v2/users/{user}/tokens */
    KVS_PATH_USER_USAGE,  /* /v2/users/{user}/usage */
    KVS_PATH_TOKEN,       /* /v2/tokens/{prefix} */
    KVS_PATH_SIGNING_KEY, /* /v2/key-value-stores/{store}/rotate-signing-key */
    /* Actor runs (api/runs.c); {run} and {actor} are kept in the {store} slot */
    KVS_PATH_RUNS,           /* /v2/actor-runs */
    KVS_PATH_RUN,            /* /v2/actor-runs/{run} */
    KVS_PATH_RUN_ABORT,      /* /v2/actor-runs/{run}/abort */
    KVS_PATH_RUN_FINISH,     /* /v2/actor-runs/{run}/finish (kvstore's own) */
    KVS_PATH_ACTOR_RUNS,     /* /v2/acts/{actor}/runs (also /v2/actors/...) */
    KVS_PATH_ACTOR_LAST_RUN, /* /v2/acts/{actor}/runs/last */
    /* a path of the platform's API that kvstore does not serve (datasets, request queues,
     * builds, webhooks, ...): answered 501, never a 404 that looks like a missing object */
    KVS_PATH_UNSUPPORTED,
};

/* How the {store} of the store kinds (STORE, KEYS, RECORDS, RECORD) was named. */
enum kvs_path_via {
    KVS_VIA_STORE = 0, /* /v2/key-value-stores/{store}/... */
    KVS_VIA_RUN,       /* /v2/actor-runs/{run}/key-value-store/...: the run's default store */
    KVS_VIA_LAST_RUN,  /* /v2/acts/{actor}/runs/last/key-value-store/...: of the Actor's last run */
};

/* The result of matching a path. The slices point into the raw path and are still
 * percent-encoded. */
struct kvs_path_match {
    enum kvs_path_kind kind;
    kvs_slice store; /* {store}, when the kind has one; {run} or {actor} (see VIA) */
    kvs_slice key;   /* {key}; also {user} and {prefix}, the last segment of the kinds above */
    enum kvs_path_via via;
};

/* Match the raw PATH (no query). A single trailing '/' is ignored. Returns the kind
 * (KVS_PATH_NONE when unknown) and fills M. */
enum kvs_path_kind kvs_route_match_path(kvs_slice path, struct kvs_path_match *m);

#endif
