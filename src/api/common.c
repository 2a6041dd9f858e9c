/* common.c — what every handler shares: the route table, authentication, resolving the
 * {store} of a path with the caller's rights, the store object's JSON, query parameters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/cache.h"
#include "api/decoded.h"
#include "api/runs.h"
#include "auth/access.h"
#include "auth/scope.h"
#include "auth/sign.h"
#include "auth/token.h"
#include "common/clock.h"
#include "common/decoder.h"
#include "kvs.h"
#include "server/budget.h"
#include "server/reply.h"

/* ---- routes -------------------------------------------------------------------------------- */

#define GET_HEAD (KVS_M_GET | KVS_M_HEAD)
#define ALL_METHODS (KVS_M_GET | KVS_M_HEAD | KVS_M_PUT | KVS_M_POST | KVS_M_DELETE)

static const struct {
    enum kvs_path_kind kind;
    struct kvs_route route;
} routes[] = {
    {KVS_PATH_HEALTH, {"health", GET_HEAD, KVS_R_PUBLIC, NULL, kvs_api_health, NULL}},
    {KVS_PATH_STORES, {"stores.list", GET_HEAD, 0, NULL, kvs_api_stores_list, NULL}},
    {KVS_PATH_STORES,
     {"stores.create", KVS_M_POST, KVS_R_BODY, NULL, kvs_api_stores_create,
      kvs_api_stores_create_done}},
    {KVS_PATH_STORE, {"store.get", GET_HEAD, KVS_R_PUBLIC, NULL, kvs_api_store_get, NULL}},
    {KVS_PATH_STORE,
     {"store.update", KVS_M_PUT, KVS_R_BODY, NULL, kvs_api_store_update,
      kvs_api_store_update_done}},
    {KVS_PATH_STORE,
     {"store.delete", KVS_M_DELETE, 0, NULL, kvs_api_store_delete, kvs_api_store_delete_done}},
    {KVS_PATH_SIGNING_KEY,
     {"store.rotate_key", KVS_M_POST, 0, NULL, kvs_api_store_rotate_key,
      kvs_api_store_update_done}},
    {KVS_PATH_KEYS,
     {"keys.list", GET_HEAD, KVS_R_PUBLIC | KVS_R_SIG_KEYS | KVS_R_STORE_ACCESS, NULL,
      kvs_api_keys_list, NULL}},
    {KVS_PATH_RECORDS,
     {"records.zip", GET_HEAD, KVS_R_PUBLIC | KVS_R_SIG_KEYS | KVS_R_STORE_ACCESS, NULL,
      kvs_api_records_zip, NULL}},
    {KVS_PATH_RECORD,
     {"record.get", GET_HEAD,
      KVS_R_PUBLIC | KVS_R_SIG_RECORD | KVS_R_STORE_ACCESS | KVS_R_CONFIRMS, NULL,
      kvs_api_record_get, NULL}},
    {KVS_PATH_RECORD,
     {"record.put", KVS_M_PUT | KVS_M_POST,
      KVS_R_BODY | KVS_R_RECORD | KVS_R_STORE_ACCESS | KVS_R_CONFIRMS, kvs_api_record_prepare,
      kvs_api_record_put, kvs_api_record_put_done}},
    {KVS_PATH_RECORD,
     {"record.delete", KVS_M_DELETE, KVS_R_STORE_ACCESS, NULL, kvs_api_record_delete,
      kvs_api_record_delete_done}},
    {KVS_PATH_SHARES, {"shares.list", GET_HEAD, 0, NULL, kvs_api_shares_list, NULL}},
    {KVS_PATH_SHARE,
     {"share.set", KVS_M_PUT, KVS_R_BODY, NULL, kvs_api_share_set, kvs_api_share_set_done}},
    {KVS_PATH_SHARE,
     {"share.delete", KVS_M_DELETE, 0, NULL, kvs_api_share_delete, kvs_api_share_delete_done}},
    {KVS_PATH_USERS, {"users.list", GET_HEAD, 0, NULL, kvs_api_users_list, NULL}},
    {KVS_PATH_USERS,
     {"users.create", KVS_M_POST, KVS_R_BODY, NULL, kvs_api_users_create,
      kvs_api_users_create_done}},
    {KVS_PATH_USER, {"user.get", GET_HEAD, 0, NULL, kvs_api_user_get, NULL}},
    {KVS_PATH_USER,
     {"user.update", KVS_M_PUT, KVS_R_BODY, NULL, kvs_api_user_update, kvs_api_user_update_done}},
    {KVS_PATH_USER,
     {"user.delete", KVS_M_DELETE, 0, NULL, kvs_api_user_delete, kvs_api_user_delete_done}},
    {KVS_PATH_USER_TOKENS, {"tokens.list", GET_HEAD, 0, NULL, kvs_api_tokens_list, NULL}},
    {KVS_PATH_USER_TOKENS,
     {"tokens.create", KVS_M_POST, KVS_R_BODY, NULL, kvs_api_tokens_create,
      kvs_api_tokens_create_done}},
    {KVS_PATH_USER_USAGE, {"user.usage", GET_HEAD, 0, NULL, kvs_api_user_usage, NULL}},
    {KVS_PATH_TOKEN,
     {"token.revoke", KVS_M_DELETE, 0, NULL, kvs_api_token_revoke, kvs_api_token_revoke_done}},
    /* Actor runs (api/runs.h); their stores' paths are the store routes above */
    {KVS_PATH_RUNS, {"runs.list", GET_HEAD, 0, NULL, kvs_api_runs_list, NULL}},
    {KVS_PATH_RUNS,
     {"runs.create", KVS_M_POST, KVS_R_BODY, NULL, kvs_api_runs_create, kvs_api_runs_create_done}},
    {KVS_PATH_RUN,
     {"run.get", GET_HEAD, KVS_R_PUBLIC, NULL, kvs_api_run_get, kvs_api_run_get_resumed}},
    {KVS_PATH_RUN,
     {"run.update", KVS_M_PUT, KVS_R_BODY, NULL, kvs_api_run_update, kvs_api_run_write_done}},
    {KVS_PATH_RUN,
     {"run.delete", KVS_M_DELETE, 0, NULL, kvs_api_run_delete, kvs_api_run_delete_done}},
    {KVS_PATH_RUN_ABORT,
     {"run.abort", KVS_M_POST, 0, NULL, kvs_api_run_abort, kvs_api_run_write_done}},
    {KVS_PATH_RUN_FINISH,
     {"run.finish", KVS_M_POST, KVS_R_BODY, NULL, kvs_api_run_finish, kvs_api_run_write_done}},
    {KVS_PATH_ACTOR_RUNS, {"actor.runs", GET_HEAD, 0, NULL, kvs_api_actor_runs_list, NULL}},
    {KVS_PATH_ACTOR_RUNS,
     {"actor.runs.start", KVS_M_POST, KVS_R_PUBLIC, NULL, kvs_api_actor_runs_start, NULL}},
    {KVS_PATH_ACTOR_LAST_RUN,
     {"actor.last_run", GET_HEAD, 0, NULL, kvs_api_actor_last_run, kvs_api_run_get_resumed}},
    {KVS_PATH_UNSUPPORTED,
     {"unsupported", ALL_METHODS, KVS_R_PUBLIC, NULL, kvs_api_unsupported, NULL}},
};

const struct kvs_route *kvs_api_route(enum kvs_path_kind kind, unsigned method, unsigned *allowed)
{
    const struct kvs_route *found = NULL;
    *allowed = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (routes[i].kind != kind)
            continue;
        *allowed |= routes[i].route.methods;
        if (routes[i].route.methods & method)
            found = &routes[i].route;
    }
    return found;
}

/* ---- who is calling ------------------------------------------------------------------------ */

int kvs_api_read(struct kvs_req *r)
{
    if (r->rd)
        return 0;
    int rc = kvs_storage_read_begin(r->srv->storage, &r->rd);
    if (rc == 0 && (r->route->flags & KVS_R_CONFIRMS))
        kvs_storage_read_optimistic(r->rd);
    return rc;
}

kvs_slice kvs_api_request_token(struct kvs_req *r)
{
    const char *auth = kvs_http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *t = auth + 7;
        while (*t == ' ' || *t == '\t')
            t++;
        size_t n = strlen(t);
        while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            n--;
        return (kvs_slice){t, n};
    }
    const char *q = kvs_http_query(r, "token");
    return q ? kvs_slice_of(q) : (kvs_slice){"", 0};
}

/* The token of R has been found (from the cache or the storage): refuse it if it expired.
 * An expired token opens nothing, as a revoked one; its message says why. */
static int check_expiry(struct kvs_req *r)
{
    if (r->token_expires_ms == 0 || kvs_now_ms() < r->token_expires_ms)
        return 0;
    r->authenticated = 0;
    r->token_refused = 1;
    snprintf(r->error_msg, sizeof r->error_msg, "The API token has expired.");
    return KVS_EBADTOKEN;
}

int kvs_api_authenticate_cached(struct kvs_req *r)
{
    if (r->authenticated)
        return 1;
    kvs_slice token = kvs_api_request_token(r);
    if (token.n == 0 || r->token_refused || kvs_api_read(r) != 0)
        return 0;
    uint64_t epoch = kvs_storage_meta_epoch(r->rd);
    if (kvs_cache_user_get(epoch, token, &r->user, &r->token_expires_ms, &r->scope)) {
        r->authenticated = 1;
        (void)check_expiry(r); /* an expired one is refused at once */
    }
    return r->authenticated;
}

int kvs_api_may_administer(const struct kvs_req *r)
{
    return kvs_scope_may_administer(&r->scope);
}

int kvs_api_authenticate(struct kvs_req *r)
{
    if (r->authenticated)
        return 0;
    if (r->token_refused)
        return KVS_EBADTOKEN; /* looked up already (--rate-limit): not again */
    kvs_slice token = kvs_api_request_token(r);
    if (token.n == 0)
        return (r->route->flags & KVS_R_PUBLIC) ? 0 : KVS_ENOTOKEN;
    int rc = kvs_api_read(r);
    if (rc != 0)
        return rc;
    uint64_t epoch = kvs_storage_meta_epoch(r->rd);
    if (kvs_cache_user_get(epoch, token, &r->user, &r->token_expires_ms, &r->scope)) {
        r->authenticated = 1;
        return check_expiry(r);
    }
    uint8_t hash[KVS_TOKEN_HASH_LEN];
    kvs_token_hash(token, hash);
    struct kvs_token_grant grant; /* 4 KiB, only when the cache has not the token */
    rc = kvs_storage_token_get(r->rd, hash, &r->user, &grant);
    if (rc == KVS_ENOTFOUND) {
        r->token_refused = 1;
        return KVS_EBADTOKEN; /* wrong or revoked: a bad token is never treated as none */
    }
    if (rc == 0)
        rc = kvs_scope_load((kvs_slice){grant.scope, grant.scope_n}, &r->scope);
    if (rc != 0)
        return rc;
    r->token_expires_ms = grant.expires_ms;
    r->authenticated = 1;
    kvs_cache_user_put(epoch, token, &r->user, r->token_expires_ms, &r->scope);
    return check_expiry(r);
}

/* ---- resolving {store} ------------------------------------------------------------------- */

/* The ?signature= of R when its route takes one (record routes a record signature, the keys
 * and records routes a keys signature), else NULL. */
static const char *route_signature(struct kvs_req *r)
{
    if (!(r->route->flags & (KVS_R_SIG_RECORD | KVS_R_SIG_KEYS)))
        return NULL;
    const char *sig = kvs_http_query(r, "signature");
    return sig && *sig ? sig : NULL;
}

/* Whether a valid ?signature= grants R a read of store S (see route_signature). The checks
 * compare in constant time (auth/sign.c). */
static int signature_grants_read(struct kvs_req *r, const struct kvs_store *s);

int kvs_api_signature_valid(struct kvs_req *r, const struct kvs_store *s)
{
    return signature_grants_read(r, s);
}

int kvs_api_keys_signature(struct kvs_req *r, const struct kvs_store *s, int64_t *expires_at_ms)
{
    const char *sig = route_signature(r);
    return sig != NULL && (r->route->flags & KVS_R_SIG_KEYS) &&
           kvs_sign_verify_keys_until(kvs_slice_of(s->secret), kvs_slice_of(s->id),
                                      kvs_slice_of(sig), kvs_now_ms(), expires_at_ms) == 0;
}

static int signature_grants_read(struct kvs_req *r, const struct kvs_store *s)
{
    const char *sig = route_signature(r);
    if (sig == NULL)
        return 0;
    kvs_slice secret = kvs_slice_of(s->secret);
    if (r->route->flags & KVS_R_SIG_RECORD)
        return kvs_sign_verify_record_at(secret, (kvs_slice){r->key, r->key_len}, kvs_slice_of(sig),
                                         kvs_now_ms()) == 0;
    if (r->route->flags & KVS_R_SIG_KEYS)
        return kvs_sign_verify_keys(secret, kvs_slice_of(s->id), kvs_slice_of(sig), kvs_now_ms()) ==
               0;
    return 0;
}

/* Find the store R's path names, into R->store. *BY_NAME tells how it was found. */
static int find_store(struct kvs_req *r, int *by_name)
{
    if (r->via != KVS_VIA_STORE) {
        /* A run's default store (api/runs.h): a run ID is as unguessable as a store's, so the
         * store counts as named by its ID; an Actor's last run by its name. */
        int rc = kvs_api_find_run(r);
        *by_name = r->via == KVS_VIA_LAST_RUN;
        return rc != 0 ? rc : kvs_storage_store_get(r->rd, kvs_slice_of(r->run->store_id), &r->store);
    }
    kvs_slice ref = {r->store_ref, r->store_ref_len};
    const char *tilde = memchr(ref.p, '~', ref.n);
    const struct kvs_user *caller = r->authenticated ? &r->user : NULL;
    int rc;

    *by_name = 1;
    if (tilde) { /* "username~name", or "~name" for the caller's own */
        kvs_slice uname = {ref.p, (size_t)(tilde - ref.p)};
        kvs_slice name = {tilde + 1, ref.n - uname.n - 1};
        struct kvs_user owner;
        if (uname.n == 0) {
            if (caller == NULL)
                return KVS_ENOTOKEN;
            owner = *caller;
        } else if (!kvs_valid_username(uname) ||
                   (rc = kvs_storage_user_by_name(r->rd, uname, &owner)) == KVS_ENOTFOUND) {
            return caller ? KVS_ENOTFOUND : KVS_ENOTOKEN; /* as for an existing user */
        } else if (rc != 0) {
            return rc;
        }
        if (!kvs_valid_store_name(name))
            return caller ? KVS_ENOTFOUND : KVS_ENOTOKEN;
        rc = kvs_storage_store_by_name(r->rd, kvs_slice_of(owner.id), name, &r->store);
        if (rc == KVS_ENOTFOUND && caller == NULL)
            return KVS_ENOTOKEN; /* an outsider learns nothing about which names exist */
        return rc;
    }
    if (kvs_valid_id(ref)) {
        rc = kvs_storage_store_get(r->rd, ref, &r->store);
        if (rc != KVS_ENOTFOUND) {
            *by_name = 0;
            return rc;
        }
    }
    /* A bare name is the caller's own store (contract §10); without a token only IDs resolve. */
    if (caller == NULL || !kvs_valid_store_name(ref))
        return KVS_ENOTFOUND;
    return kvs_storage_store_by_name(r->rd, kvs_slice_of(caller->id), ref, &r->store);
}

/* The default general access of R->store's owner, which a store with FOLLOW_USER_SETTING
 * follows: the caller's own when the caller is the owner, else looked up (RESTRICTED when the
 * owner is gone); kept in R->owner_default. Returns 0 or KVS_EIO. */
static int owner_default(struct kvs_req *r, enum kvs_general_access *out)
{
    if (r->owner_default == 0) {
        enum kvs_general_access d = KVS_GA_RESTRICTED;
        if (r->authenticated && strcmp(r->user.id, r->store.user_id) == 0) {
            d = (enum kvs_general_access)r->user.default_access;
        } else {
            struct kvs_user owner;
            int rc = kvs_storage_user_get(r->rd, kvs_slice_of(r->store.user_id), &owner);
            if (rc != 0 && rc != KVS_ENOTFOUND)
                return rc;
            if (rc == 0)
                d = (enum kvs_general_access)owner.default_access;
        }
        r->owner_default = (uint8_t)d;
    }
    *out = (enum kvs_general_access)r->owner_default;
    return 0;
}

/* What the access rules need besides R->store: the caller's share of it (into R->share)
 * and, when the store follows its owner's setting, the owner's default general access (into
 * R->owner_default). Returns 0 or KVS_EIO. */
static int load_access(struct kvs_req *r)
{
    const struct kvs_user *caller = r->authenticated ? &r->user : NULL;
    enum kvs_share_level share = KVS_SHARE_NONE;
    if (caller != NULL && !kvs_access_is_owner(caller, &r->store)) {
        int rc = kvs_storage_share_get(r->rd, kvs_slice_of(r->store.id), kvs_slice_of(caller->id),
                                       &share);
        if (rc != 0 && rc != KVS_ENOTFOUND)
            return rc;
    }
    r->share = (uint8_t)share;
    enum kvs_general_access def;
    return r->store.general_access == KVS_GA_FOLLOW_USER_SETTING ? owner_default(r, &def) : 0;
}

/* The caller's rights over R->store (its access loaded) by the rules of auth/access.h. */
static int check_access(struct kvs_req *r, int by_name, int need)
{
    const struct kvs_user *caller = r->authenticated ? &r->user : NULL;
    enum kvs_general_access def =
        r->owner_default ? (enum kvs_general_access)r->owner_default : KVS_GA_RESTRICTED;
    enum kvs_need what = need == KVS_NEED_MANAGE  ? KVS_ACCESS_MANAGE
                         : need == KVS_NEED_WRITE ? KVS_ACCESS_WRITE
                                                  : KVS_ACCESS_READ;
    return kvs_access_check_scoped(caller, &r->scope, &r->store, (enum kvs_share_level)r->share,
                                   def, by_name, what);
}

/* Find R's {store} and load its access (find_store, load_access): from the cache when R's
 * route needs no more of the store than the cache keeps (KVS_R_STORE_ACCESS), and then kept
 * there for the next request. */
static int lookup_store(struct kvs_req *r, int *by_name)
{
    /* A run's store is found through the run, which the caches do not keep. */
    uint64_t epoch = (r->route->flags & KVS_R_STORE_ACCESS) && r->via == KVS_VIA_STORE
                         ? kvs_storage_meta_epoch(r->rd)
                         : 0;
    const char *caller_id = r->authenticated ? r->user.id : "";
    kvs_slice ref = {r->store_ref, r->store_ref_len};
    struct kvs_cached_store c;
    if (kvs_cache_store_get(epoch, caller_id, ref, &c)) {
        r->store = c.store;
        r->share = c.share;
        r->owner_default = c.owner_default;
        *by_name = c.by_name;
        return 0;
    }
    int rc = find_store(r, by_name);
    if (rc == 0)
        rc = load_access(r);
    if (rc == 0 && epoch != 0) {
        c = (struct kvs_cached_store){.store = r->store, /* copied: the schema stays r's */
                                      .by_name = (uint8_t)*by_name,
                                      .share = r->share,
                                      .owner_default = r->owner_default};
        kvs_cache_store_put(epoch, caller_id, ref, &c);
    }
    return rc;
}

/* A ?signature= is consulted only when the token and general access do not already let the
 * caller read: an owner's read never fails on a stale link, nor a public store's. When it is
 * consulted, anything but a valid signature of this store (and, for a record, of this key)
 * is 403 insufficient-permissions, whether or not a token came with it and whether or not
 * the store exists: the one answer says nothing about which part failed (contract §10). */
static int is_failure(int rc) /* of the storage, not an answer about the request */
{
    return rc == KVS_EIO || rc == KVS_EUNAVAIL;
}

static int resolve_store_once(struct kvs_req *r, int need)
{
    int signed_read = need == KVS_NEED_READ && route_signature(r) != NULL;
    int by_name = 0;
    int rc = lookup_store(r, &by_name);
    if (rc == 0) {
        r->have_store = 1;
        r->by_name = (uint8_t)by_name;
        rc = check_access(r, by_name, need);
        if (rc != 0 && !is_failure(rc) && signed_read)
            rc = signature_grants_read(r, &r->store) ? 0 : KVS_EACCESS;
    } else if (!is_failure(rc) && signed_read) {
        rc = KVS_EACCESS;
    }
    return rc;
}

/* Forget the caller and the store of R that the caches gave (found stale by
 * kvs_storage_read_confirm) and find the caller again, uncached. */
static int reauthenticate(struct kvs_req *r)
{
    r->authenticated = 0;
    r->token_refused = 0;
    r->error_msg[0] = '\0';
    r->have_store = 0;
    r->share = 0;
    r->owner_default = 0;
    return kvs_api_authenticate(r);
}

int kvs_api_resolve_store(struct kvs_req *r, int need)
{
    int rc = kvs_api_read(r);
    if (rc != 0)
        return rc;
    rc = resolve_store_once(r, need);
    if (rc != 0 && !is_failure(rc)) {
        /* A refusal must not come from stale caches either (optimistic reads, storage.h). */
        int stale = kvs_storage_read_confirm(r->rd);
        if (stale < 0)
            return stale;
        if (stale == 1 && (rc = reauthenticate(r)) == 0)
            rc = resolve_store_once(r, need);
    }
    return rc;
}

int kvs_api_recheck(struct kvs_req *r, int need)
{
    int rc = kvs_api_read(r);
    if (rc == 0)
        rc = reauthenticate(r);
    if (rc == 0)
        rc = kvs_api_resolve_store(r, need);
    if (rc == 0 && (rc = kvs_api_confirm(r, need)) == 1)
        rc = 0; /* found again, uncached */
    return rc;
}

int kvs_api_confirm(struct kvs_req *r, int need)
{
    int rc = kvs_storage_read_confirm(r->rd);
    if (rc == 1 && (rc = reauthenticate(r)) == 0 && (rc = kvs_api_resolve_store(r, need)) == 0)
        rc = 1;
    return rc;
}

int kvs_api_read_is_public(struct kvs_req *r)
{
    if (route_signature(r) != NULL && signature_grants_read(r, &r->store))
        return 1;
    enum kvs_general_access def = KVS_GA_RESTRICTED;
    if (r->store.general_access == KVS_GA_FOLLOW_USER_SETTING && owner_default(r, &def) != 0)
        return 0; /* when in doubt, private */
    return kvs_access_check(NULL, &r->store, KVS_SHARE_NONE, def, r->by_name, KVS_ACCESS_READ) == 0;
}

void kvs_api_reply_store_error(struct kvs_req *r, int rc)
{
    kvs_reply_error(r, rc, rc == KVS_ENOTFOUND ? KVS_API_STORE_NOT_FOUND : NULL);
}

struct kvs_store *kvs_api_store_or_reply(struct kvs_req *r, int need)
{
    int rc = kvs_api_resolve_store(r, need);
    if (rc == 0)
        return &r->store;
    kvs_api_reply_store_error(r, rc);
    return NULL;
}

/* The caller's share of S, as found when R's store was resolved. */
static enum kvs_share_level share_of(const struct kvs_req *r, const struct kvs_store *s)
{
    if (r->have_store && strcmp(r->store.id, s->id) == 0)
        return (enum kvs_share_level)r->share;
    return KVS_SHARE_NONE;
}

int kvs_api_can_write(const struct kvs_req *r, const struct kvs_store *s)
{
    return kvs_access_can_write_scoped(r->authenticated ? &r->user : NULL, &r->scope, s,
                                       share_of(r, s));
}

/* ---- the store object ---------------------------------------------------------------------- */

void kvs_api_public_base(struct kvs_req *r, char *out, size_t out_max)
{
    const char *base = r->srv->cfg.public_url;
    if (base == NULL) {
        const char *host = kvs_http_header(r, MHD_HTTP_HEADER_HOST);
        snprintf(out, out_max, "%s://%s", r->srv->tls ? "https" : "http",
                 host && *host ? host : r->srv->cfg.listen);
    } else {
        snprintf(out, out_max, "%s", base);
    }
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
}

/* Keys and records links stay valid this long (the platform's auto-generated links do). */
#define PUBLIC_URL_TTL_MS (14LL * 24 * 3600 * 1000)

static json_t *iso_json(int64_t ms)
{
    char when[KVS_ISO_LEN + 1];
    kvs_iso8601(ms, when);
    return json_string(when);
}

json_t *kvs_api_store_json(struct kvs_req *r, const struct kvs_store *s)
{
    return kvs_api_store_json_as(r, s, share_of(r, s));
}

json_t *kvs_api_store_json_as(struct kvs_req *r, const struct kvs_store *s,
                              enum kvs_share_level share)
{
    char base[512], url[1024];
    kvs_api_public_base(r, base, sizeof base);
    int writer = kvs_access_can_write_scoped(r->authenticated ? &r->user : NULL, &r->scope, s,
                                             share);
    char sig[KVS_KEYS_SIG_MAX + 1] = "";
    if (writer)
        kvs_sign_keys(kvs_slice_of(s->secret), kvs_slice_of(s->id),
                      kvs_now_ms() + PUBLIC_URL_TTL_MS, sig);

    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "name", s->name[0] ? json_string(s->name) : json_null());
    if (s->title[0])
        json_object_set_new(o, "title", json_string(s->title));
    json_object_set_new(o, "userId", json_string(s->user_id));
    json_object_set_new(o, "username", s->username[0] ? json_string(s->username) : json_null());
    json_object_set_new(o, "createdAt", iso_json(s->created_ms));
    json_object_set_new(o, "modifiedAt", iso_json(s->modified_ms));
    json_object_set_new(o, "accessedAt", iso_json(s->accessed_ms));
    json_object_set_new(o, "actId", json_null());
    json_object_set_new(o, "actRunId", json_null());
    snprintf(url, sizeof url, "%s/console/stores/%s", base, s->id);
    json_object_set_new(o, "consoleUrl", json_string(url));
    snprintf(url, sizeof url, "%s/v2/key-value-stores/%s/keys%s%s", base, s->id,
             sig[0] ? "?signature=" : "", sig);
    json_object_set_new(o, "keysPublicUrl", json_string(url));
    snprintf(url, sizeof url, "%s/v2/key-value-stores/%s/records%s%s", base, s->id,
             sig[0] ? "?signature=" : "", sig);
    json_object_set_new(o, "recordsPublicUrl", json_string(url));
    json_t *schema = NULL;
    if (s->schema)
        schema = json_loads(s->schema, 0, NULL); /* stored by us, compact and valid */
    json_object_set_new(o, "schema", schema ? schema : json_null());
    if (writer)
        json_object_set_new(o, "urlSigningSecretKey", json_string(s->secret));
    json_object_set_new(o, "generalAccess",
                        json_string(kvs_access_name((enum kvs_general_access)s->general_access)));
    json_t *stats = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I}", "readCount", (json_int_t)s->stats.read_count, "writeCount",
        (json_int_t)s->stats.write_count, "deleteCount", (json_int_t)s->stats.delete_count,
        "listCount", (json_int_t)s->stats.list_count, "recordCount",
        (json_int_t)s->stats.record_count, "storageBytes", (json_int_t)s->stats.storage_bytes);
    /* s3StorageBytes: the platform's name for the bytes its records take, which `apify kvs ls`
     * shows as the store's size (here the same figure as storageBytes). Left out while it is
     * 0: apify-cli 1.10 fails on a size of 0 ("toPrecision() argument must be between 1 and
     * 100") and shows "N/A" for a store without it. */
    if (s->stats.storage_bytes > 0)
        json_object_set_new(stats, "s3StorageBytes",
                            json_integer((json_int_t)s->stats.storage_bytes));
    json_object_set_new(o, "stats", stats);
    return o;
}

/* ---- collections -------------------------------------------------------------------------- */

int kvs_api_collection(struct kvs_req *r, const char *name, kvs_slice *prefix, kvs_slice *only,
                       int *none, json_t **schema_out)
{
    json_t *schema = r->store.schema ? json_loads(r->store.schema, 0, NULL) : NULL;
    *schema_out = schema; /* the slices below point into it; the caller frees it */
    json_t *c = json_object_get(json_object_get(schema, "collections"), name);
    const char *cp = json_string_value(json_object_get(c, "keyPrefix"));
    const char *ck = json_string_value(json_object_get(c, "key"));
    if (c == NULL || (cp == NULL && ck == NULL)) {
        snprintf(r->error_msg, sizeof r->error_msg,
                 "Collection \"%.60s\" is not defined in the store's schema.", name);
        return KVS_EBADPARAM;
    }
    kvs_slice want = kvs_slice_of(ck ? ck : cp);
    if (want.n > KVS_KEY_MAX)
        *none = 1; /* longer than any key */
    /* The listing must satisfy both the prefix parameter and the collection. */
    if (want.n >= prefix->n && memcmp(want.p, prefix->p, prefix->n) == 0)
        *prefix = want;
    else if (!(prefix->n >= want.n && memcmp(prefix->p, want.p, want.n) == 0))
        *none = 1;
    if (ck)
        *only = want;
    if (ck && prefix->n > want.n)
        *none = 1; /* the prefix is longer than the collection's only key */
    return 0;
}

/* ---- query parameters ---------------------------------------------------------------------- */

int kvs_api_query_bool(struct kvs_req *r, const char *name, int *out)
{
    const char *v = kvs_http_query(r, name);
    if (v == NULL || *v == '\0' || strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0) {
        *out = 0;
        return 0;
    }
    if (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0) {
        *out = 1;
        return 0;
    }
    return KVS_EBADPARAM;
}

int kvs_api_query_uint(struct kvs_req *r, const char *name, uint64_t def, uint64_t *out)
{
    const char *v = kvs_http_query(r, name);
    if (v == NULL || *v == '\0') {
        *out = def;
        return 0;
    }
    if (*v < '0' || *v > '9')
        return KVS_EBADPARAM; /* strtoull would accept a sign or spaces */
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end != '\0' || errno == ERANGE || n > KVS_API_QUERY_MAX)
        return KVS_EBADPARAM;
    *out = n;
    return 0;
}

/* ---- request bodies ------------------------------------------------------------------------- */

_Static_assert(KVS_DECODER_MEM_LIMIT + KVS_API_JSON_MAX <= KVS_DECODE_MEMORY_MIN,
               "the least decoding budget takes a JSON body's decoding");

int kvs_api_body_json(struct kvs_req *r, json_t **out)
{
    *out = NULL;
    enum kvs_encoding enc;
    int rc = kvs_encoding_parse(kvs_slice_of(kvs_http_header(r, "Content-Encoding")), &enc);
    if (rc != 0)
        return rc;
    struct kvs_buf plain;
    size_t cap = r->srv->cfg.max_record_size < KVS_API_JSON_MAX ? r->srv->cfg.max_record_size
                                                                 : KVS_API_JSON_MAX;
    kvs_buf_init(&plain, cap);
    kvs_slice text = kvs_buf_slice(&r->body);
    if (enc != KVS_ENC_IDENTITY) {
        /* the decoder and the decoded text count against the decoding budget */
        size_t cost = kvs_decoder_mem_max(enc, text) + cap;
        rc = kvs_budget_take(r->srv->decoding, cost);
        if (rc != 0) {
            snprintf(r->error_msg, sizeof r->error_msg,
                     "The server is decoding as much as it may at once; try again soon.");
            return rc;
        }
        rc = kvs_decode(enc, text, &plain, 0);
        kvs_budget_give(r->srv->decoding, cost);
        text = kvs_buf_slice(&plain);
    }
    size_t blank = 0;
    /* (a NUL is no blank, although strchr() finds the string's own terminator for it) */
    while (rc == 0 && blank < text.n && text.p[blank] != '\0' && strchr(" \t\r\n", text.p[blank]))
        blank++;
    if (rc == 0 && blank < text.n) {
        json_error_t err;
        *out = json_loadb(text.p, text.n, 0, &err);
        if (*out == NULL) {
            snprintf(r->error_msg, sizeof r->error_msg,
                     "The request body is not valid JSON: %.100s", err.text);
            rc = KVS_EBADJSON;
        }
    }
    kvs_buf_free(&plain);
    return rc;
}

json_t *kvs_api_body_object(struct kvs_req *r, int *failed)
{
    json_t *body = NULL;
    int rc = kvs_api_body_json(r, &body);
    *failed = 1;
    if (rc != 0) {
        if (r->error_msg[0])
            kvs_reply_error(r, rc, "%s", r->error_msg);
        else
            kvs_reply_error(r, rc, NULL);
        return NULL;
    }
    if (body && !json_is_object(body)) {
        json_decref(body);
        kvs_reply_error(r, KVS_EBADJSON, "The request body must be a JSON object.");
        return NULL;
    }
    *failed = 0;
    return body;
}
