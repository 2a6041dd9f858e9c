/* cache.h — who a token belongs to, and what a {store} of a path resolves to, remembered by
 * each HTTP worker thread.
 *
 * Finding them is most of a small request's work: a SHA-256 of the token and five LMDB
 * look-ups (token, user, username, store name, store and its stats) for a GET of a record by
 * "user~name". Their answers change only when users, tokens, stores or shares do, which is
 * what the storage's meta epoch tells (kvs_storage_meta_epoch, storage.h): every answer is
 * kept with the epoch of the read it was found in, and given only to a read of the same
 * epoch. So a revoked token, a deleted store, a changed general access or a removed share is
 * never served from here by a read begun after that write committed, whether this process or
 * another wrote it; a read of epoch 0 neither finds nor keeps anything.
 *
 * Only answers are kept, never a refusal (an unknown token costs what it did without the
 * cache, and cannot push out the tokens in use). A token's scope and expiry are kept with its
 * user: they change only with the token's row (a new token, a revocation), which moves the
 * epoch like any change of tokens; an expiry is compared with the clock on every request. Each thread has its own small tables (no
 * locks); they live until the thread ends. Tokens are secrets: they are compared in constant
 * time, and wiped from memory when a slot is reused or the thread ends.
 */
#ifndef KVS_API_CACHE_H
#define KVS_API_CACHE_H

#include <stdint.h>

#include "auth/scope.h"
#include "common/slice.h"
#include "storage/storage.h"

/* What TOKEN opens, as found by a read of EPOCH: its user into *USER, and what limits the
 * token (auth/scope.h) into *EXPIRES_MS and *SCOPE. Returns 1 and fills them, or 0. The
 * scope is copied only when the token has one (else only SCOPE->limited is set, to 0). */
int kvs_cache_user_get(uint64_t epoch, kvs_slice token, struct kvs_user *user,
                       int64_t *expires_ms, struct kvs_scope *scope);

/* Remember that TOKEN opens USER, limited by EXPIRES_MS and SCOPE, as a read of EPOCH found
 * (nothing when EPOCH is 0). */
void kvs_cache_user_put(uint64_t epoch, kvs_slice token, const struct kvs_user *user,
                        int64_t expires_ms, const struct kvs_scope *scope);

/* What a {store} reference resolves to for one caller: the store without its statistics and
 * times (zero here: only routes that do not show them use this) and without a schema (a
 * store with one is never kept), how it was named, and what the access rules need besides. */
struct kvs_cached_store {
    struct kvs_store store;
    uint8_t by_name;       /* found by its name, not its ID */
    uint8_t share;         /* the caller's share of it (enum kvs_share_level) */
    uint8_t owner_default; /* the owner's default general access; 0 = not looked up */
};

/* The store that reference REF (as in the path, decoded) resolves to for caller CALLER_ID
 * ("" = anonymous), as found by a read of EPOCH. Returns 1 and fills *OUT, or 0. */
int kvs_cache_store_get(uint64_t epoch, const char *caller_id, kvs_slice ref,
                        struct kvs_cached_store *out);

/* Remember what REF resolved to for CALLER_ID in a read of EPOCH. Nothing is kept when EPOCH
 * is 0, REF is longer than any store reference, or the store has a schema. */
void kvs_cache_store_put(uint64_t epoch, const char *caller_id, kvs_slice ref,
                         const struct kvs_cached_store *v);

#endif
