/* api.h — the API handlers: the route table and what the handlers share.
 *
 * One file per resource (stores.c, records.c, keys.c, records_zip.c, shares.c, users.c,
 * health.c); this header and common.c
 * hold the route table and the helpers every handler uses: authentication, resolving the
 * {store} of a path with the caller's rights, and the store object's JSON. */
#ifndef KVS_API_API_H
#define KVS_API_API_H

#include <jansson.h>

#include "server/http.h"
#include "server/router.h"

/* The route for path KIND answering METHOD (KVS_M_*), or NULL. *ALLOWED gets every method
 * the path answers (for a 405's Allow header; 0 when the path is unknown). */
const struct kvs_route *kvs_api_route(enum kvs_path_kind kind, unsigned method, unsigned *allowed);

/* Find out who is calling: the token from "Authorization: Bearer" or ?token=. Sets
 * R->authenticated and R->user. Begins R->rd when it is not yet begun.
 * Returns 0 (also for no token at all on a route that allows that: KVS_R_PUBLIC),
 * KVS_ENOTOKEN, KVS_EBADTOKEN, KVS_EIO. */
int kvs_api_authenticate(struct kvs_req *r);

/* The token of R: "Authorization: Bearer T" (the scheme in any case, spaces around T dropped)
 * wins over ?token=T. Empty when none. Points into R's headers or query. */
kvs_slice kvs_api_request_token(struct kvs_req *r);

/* As kvs_api_authenticate(), from the per-thread cache only (api/cache.h): 1 when R's caller
 * is known now, 0 when finding out would take a look-up (or R has no token). */
int kvs_api_authenticate_cached(struct kvs_req *r);

/* Whether R's token may administer (auth/scope.h): what a route that is no store's but the
 * account's (users, tokens, anything account-wide) asks besides the caller's own rights.
 * Store routes need nothing of their own: kvs_api_resolve_store() applies the scope. */
int kvs_api_may_administer(const struct kvs_req *r);

/* Make sure R->rd holds a read snapshot (an optimistic read on a KVS_R_CONFIRMS route).
 * Returns 0 or KVS_EIO. */
int kvs_api_read(struct kvs_req *r);

/* On a KVS_R_CONFIRMS route, after the handler's last lookup and before it answers: whether
 * the caller and the store that the caches gave still held (kvs_storage_read_confirm).
 * Returns 0: go on; 1: they did not, and they have been found again without the caches (the
 * store resolved and checked for NEED as by kvs_api_resolve_store): do the handler's
 * lookups again; or an error of kvs_api_authenticate or kvs_api_resolve_store, to answer as
 * kvs_api_reply_store_error does. */
int kvs_api_confirm(struct kvs_req *r, int need);

/* After a write of R was refused with KVS_ESTALE (kvs_write.meta_epoch): find the caller and
 * R's store again (a new read), check NEED, and confirm them. Returns 0 or an error to answer
 * as kvs_api_reply_store_error does. */
int kvs_api_recheck(struct kvs_req *r, int need);

#define KVS_NEED_READ 0   /* read the store, its keys and records */
#define KVS_NEED_WRITE 1  /* put and delete records */
#define KVS_NEED_MANAGE 2 /* settings, rename, delete, shares: the owner's (auth/access.h) */

/* Resolve the {store} of R's path (an ID, "username~name", "~name", or a bare name of the
 * caller's own) into R->store, with the caller's share of it in R->share, and check that the
 * caller may do NEED (KVS_NEED_*); for reads on routes that take a ?signature=, a valid one
 * grants the read and an invalid one is KVS_EACCESS. Returns 0, KVS_ENOTFOUND, KVS_ENOTOKEN,
 * KVS_EACCESS, KVS_EIO. */
int kvs_api_resolve_store(struct kvs_req *r, int need);

/* Whether what R reads of its store (resolved) is public: anyone could read it the way R
 * addressed it without a token (general access), or R carries a valid ?signature= for it.
 * Public answers may be kept by shared caches (Cache-Control: public). */
int kvs_api_read_is_public(struct kvs_req *r);

#define KVS_API_STORE_NOT_FOUND "Key-value store was not found."

/* Reply with error RC about R's store: KVS_API_STORE_NOT_FOUND for KVS_ENOTFOUND, the
 * table's message otherwise. */
void kvs_api_reply_store_error(struct kvs_req *r, int rc);

/* A coded record may decode to at most this many times the record limit: past it, it would
 * be a bomb for a client that asks for it decoded (contract §10). Uploads are checked
 * against it. (GET and the ZIP download decode in bounded memory whatever the size.) */
#define KVS_API_DECODED_FACTOR 10

/* As kvs_api_resolve_store(), but on failure reply with the error and return NULL; the
 * handler then just returns (the client already has its answer). */
struct kvs_store *kvs_api_store_or_reply(struct kvs_req *r, int need);

/* Whether R carries a valid ?signature= for store S of the kind its route takes (a record
 * signature of R's key, or a keys signature of S that has not expired). */
int kvs_api_signature_valid(struct kvs_req *r, const struct kvs_store *s);

/* Whether R (a keys or records route) carries a valid keys signature of store S: 1 with its
 * expiry (0 = never) in *EXPIRES_AT_MS, else 0. What it opens must end with it: the record
 * links it hands out carry the same expiry. */
int kvs_api_keys_signature(struct kvs_req *r, const struct kvs_store *s, int64_t *expires_at_ms);

/* The store object of contract §2.1 for S, as seen by R's caller (the URL-signing secret
 * and signed links only for those who may write). Returns a new reference. */
json_t *kvs_api_store_json(struct kvs_req *r, const struct kvs_store *s);

/* As kvs_api_store_json(), for a store the caller holds SHARE of (a listing). */
json_t *kvs_api_store_json_as(struct kvs_req *r, const struct kvs_store *s,
                              enum kvs_share_level share);

/* Whether R's caller may write store S (S being R->store or one the caller owns). */
int kvs_api_can_write(const struct kvs_req *r, const struct kvs_store *s);

/* The base of public links, "http[s]://host:port" without a trailing '/', into OUT (NUL-
 * terminated, truncated to OUT_MAX - 1). From --public-url, else from the Host header. */
void kvs_api_public_base(struct kvs_req *r, char *out, size_t out_max);

/* Boolean query parameter NAME: 1 for "1"/"true", 0 for "0"/"false"/"" or when absent.
 * Returns 0 and sets *OUT, or KVS_EBADPARAM for anything else. */
int kvs_api_query_bool(struct kvs_req *r, const char *name, int *out);

/* The largest number a query parameter may give: 2^53 - 1, the largest integer every JSON
 * reader (JavaScript's numbers) holds exactly, so that a number echoed in an answer ("offset")
 * reads back as sent. Larger ones are refused (400), never wrapped or cut. */
#define KVS_API_QUERY_MAX 9007199254740991ull
#define KVS_API_QUERY_MAX_TEXT "9007199254740991"

/* Unsigned integer query parameter NAME, DEF when absent or empty: decimal digits only, at most
 * KVS_API_QUERY_MAX. Returns 0 or KVS_EBADPARAM. */
int kvs_api_query_uint(struct kvs_req *r, const char *name, uint64_t def, uint64_t *out);

/* The most a JSON request body may decode to (a store's schema is at most 64 KiB). */
#define KVS_API_JSON_MAX (1024 * 1024)

/* Parse R's body as JSON, decoding its Content-Encoding first (to at most KVS_API_JSON_MAX
 * bytes, with memory from the decoding budget). An empty body gives *OUT = NULL. Returns 0,
 * KVS_EENCODING, KVS_EBADBODY, KVS_ETOOBIG, KVS_EUNAVAIL (the budget is spent) or
 * KVS_EBADJSON (with jansson's reason in R->error_msg). The caller owns *OUT. */
int kvs_api_body_json(struct kvs_req *r, json_t **out);

/* Parse R's JSON body, which must be absent (NULL is returned) or an object. On error reply
 * with it, set *FAILED and return NULL. The caller owns the result. */
json_t *kvs_api_body_object(struct kvs_req *r, int *failed);

/* Narrow a key listing to collection NAME of R->store's schema (contract §1.3): a collection
 * is a key prefix ("keyPrefix") or one key ("key"). *PREFIX is narrowed to satisfy both the
 * prefix parameter and the collection; *ONLY is set to the collection's single key (list
 * nothing else); *NONE to 1 when nothing can match. The slices point into *SCHEMA_OUT, which
 * the caller releases with json_decref() (also on error).
 * Returns 0, or KVS_EBADPARAM with a message in R->error_msg. */
int kvs_api_collection(struct kvs_req *r, const char *name, kvs_slice *prefix, kvs_slice *only,
                       int *none, json_t **schema_out);

/* Handlers, one per route. */
void kvs_api_health(struct kvs_req *r);
void kvs_api_stores_list(struct kvs_req *r);
void kvs_api_stores_create(struct kvs_req *r);
void kvs_api_stores_create_done(struct kvs_req *r);
void kvs_api_store_get(struct kvs_req *r);
void kvs_api_store_update(struct kvs_req *r);
void kvs_api_store_update_done(struct kvs_req *r);
void kvs_api_store_delete(struct kvs_req *r);
void kvs_api_store_delete_done(struct kvs_req *r);
void kvs_api_store_rotate_key(struct kvs_req *r);
void kvs_api_keys_list(struct kvs_req *r);
void kvs_api_records_zip(struct kvs_req *r);
int kvs_api_record_prepare(struct kvs_req *r);
/* A piece of a record PUT's body, as it arrives (KVS_R_RECORD): kept in memory while the body
 * is small, else written to an upload (storage.h), a coded body checked on the way. Returns 0
 * or an error to answer once the body is drained. */
int kvs_api_record_body(struct kvs_req *r, const char *data, size_t n);
/* Release R->stream, the state of its record body (an upload not submitted is removed). */
void kvs_api_record_cleanup(struct kvs_req *r);
void kvs_api_record_get(struct kvs_req *r);
void kvs_api_record_put(struct kvs_req *r);
void kvs_api_record_put_done(struct kvs_req *r);
void kvs_api_record_delete(struct kvs_req *r);
void kvs_api_record_delete_done(struct kvs_req *r);
void kvs_api_shares_list(struct kvs_req *r);
void kvs_api_share_set(struct kvs_req *r);
void kvs_api_share_set_done(struct kvs_req *r);
void kvs_api_share_delete(struct kvs_req *r);
void kvs_api_share_delete_done(struct kvs_req *r);
void kvs_api_users_list(struct kvs_req *r);
void kvs_api_user_delete(struct kvs_req *r);
void kvs_api_user_delete_done(struct kvs_req *r);
void kvs_api_users_create(struct kvs_req *r);
void kvs_api_users_create_done(struct kvs_req *r);
void kvs_api_user_get(struct kvs_req *r);
void kvs_api_user_update(struct kvs_req *r);
void kvs_api_user_update_done(struct kvs_req *r);
void kvs_api_user_usage(struct kvs_req *r);
void kvs_api_tokens_list(struct kvs_req *r);
void kvs_api_tokens_create(struct kvs_req *r);
void kvs_api_tokens_create_done(struct kvs_req *r);
void kvs_api_token_revoke(struct kvs_req *r);
void kvs_api_token_revoke_done(struct kvs_req *r);

#endif
