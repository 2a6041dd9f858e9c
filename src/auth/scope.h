/* scope.h — what one API token may do: its scope, on top of its user's rights.
 *
 * A token without a scope acts with every right of its user (auth/access.h). A scoped token
 * acts with the user's rights narrowed to:
 *   - some stores: each given by ID (that one store), by name (the store of that name of a
 *     given owner, whichever store has the name now or later), or by a name prefix (every
 *     store of that owner whose name starts with it, now or later), each for READ or WRITE; or
 *     every store the user may use, for READ or WRITE;
 *   - with or without administration: managing stores (settings, rename, delete, shares, a
 *     new signing key) and the account (tokens, users, the user's settings, usage, /metrics).
 *     Without it a token uses stores (reads, writes records, creates a store its scope gives
 *     WRITE over) and reads who it is (GET /v2/users/me).
 * Rights are intersected, never added: a scope gives no right the user does not have, and a
 * store outside the scope is to the token what it is to anyone without a token (general
 * access and signed links still open what they open for everybody). A token may also expire
 * (kept beside the scope, auth/token.h's users: api/common.c).
 *
 * The scope is kept as canonical JSON text beside the token's hash (storage.h) and read into
 * a struct kvs_scope, which the per-thread caller cache keeps (api/cache.h):
 *   {"stores": null | [{"id": ID | "name": NAME | "namePrefix": PREFIX,
 *                       "userId": OWNER (name and prefix only), "access": "READ"|"WRITE"}, ...],
 *    "access": "READ"|"WRITE" (every store, when "stores" is null),
 *    "administration": true|false}
 * The API takes the same with "username" instead of "userId" (default: the token's user), and,
 * for an entry, also {"store": REF, "access": ...}, REF read as the CLI reads a store: a name
 * prefix when it ends with '*' ("tmp-*", "bob~tmp-*"), "username~name", the ID of a store
 * that exists, or else a name of the token's user's (a store that may not exist yet). */
#ifndef KVS_AUTH_SCOPE_H
#define KVS_AUTH_SCOPE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/token.h"
#include "common/slice.h"
#include "common/validate.h"
#include "storage/storage.h"

#define KVS_SCOPE_STORES_MAX 16  /* store entries of one scope */
#define KVS_SCOPE_TEXT_MAX KVS_TOKEN_SCOPE_MAX /* its canonical JSON text (16 entries fit) */

enum kvs_scope_match {
    KVS_SCOPE_ID = 1,     /* the store with this ID */
    KVS_SCOPE_NAME = 2,   /* the store of this name, of owner user_id */
    KVS_SCOPE_PREFIX = 3, /* every store of owner user_id whose name starts with this */
};

struct kvs_scope_store {
    uint8_t match;                    /* enum kvs_scope_match */
    uint8_t level;                    /* KVS_SHARE_READ or KVS_SHARE_WRITE */
    char user_id[KVS_ID_LEN + 1];     /* the owner (NAME, PREFIX) */
    char value[KVS_NAME_MAX + 1];     /* the ID, name or prefix */
};

struct kvs_scope {
    uint8_t limited;    /* 0: no scope: every right of the user (nothing below counts) */
    uint8_t all_stores; /* every store the user may use, at all_level */
    uint8_t all_level;  /* KVS_SHARE_READ or KVS_SHARE_WRITE */
    uint8_t admin;      /* administration allowed */
    uint8_t n;          /* entries in s (when not all_stores) */
    struct kvs_scope_store s[KVS_SCOPE_STORES_MAX];
};

/* What a scope allows on one store: nothing, reading, writing records, or all (managing). */
enum kvs_scope_level {
    KVS_SCOPE_NONE = 0,
    KVS_SCOPE_READ = 1,
    KVS_SCOPE_WRITE = 2,
    KVS_SCOPE_MANAGE = 3,
};

/* What kvs_scope_from_api() asks of the storage. */
struct kvs_scope_resolver {
    /* The user ID of USERNAME into OUT. Returns 0, KVS_ENOTFOUND or another error. */
    int (*user_id)(void *arg, kvs_slice username, char out[KVS_ID_LEN + 1]);
    /* Whether the store with ID exists: 1, 0, or an error (negative). */
    int (*store_exists)(void *arg, kvs_slice id);
    void *arg;
};

/* A resolver that looks usernames and stores up in read RD (which must stay begun while the
 * resolver is used). */
struct kvs_scope_resolver kvs_scope_resolver_of(struct kvs_read *rd);

/* The scope of API body IN (the "scope" member of a token request: NULL or JSON null for none)
 * for a token of user SELF_ID into *OUT; RES resolves usernames and store references.
 * Returns 0, KVS_EINVAL with the reason in WHY (a sentence; WHY_N bytes), KVS_ENOTFOUND (a
 * username; in WHY), or the resolver's error. */
int kvs_scope_from_api(const json_t *in, const char *self_id,
                       const struct kvs_scope_resolver *res, struct kvs_scope *out, char *why,
                       size_t why_n);

/* The canonical text of S into OUT (room for KVS_SCOPE_TEXT_MAX + 1; "" for no scope).
 * Returns its length. */
size_t kvs_scope_text(const struct kvs_scope *s, char out[KVS_SCOPE_TEXT_MAX + 1]);

/* Read canonical TEXT (as kvs_scope_text wrote it; empty: no scope) into *OUT. Returns 0 or
 * KVS_EIO (not one of ours: a damaged row). */
int kvs_scope_load(kvs_slice text, struct kvs_scope *out);

/* The JSON of S for the API, "userId"s turned back into "username"s by NAME_OF (which may
 * fail: the ID is shown then). JSON null for no scope. Returns a new reference. */
typedef int (*kvs_scope_name_fn)(void *arg, const char *user_id, char out[KVS_NAME_MAX + 1]);
json_t *kvs_scope_json(const struct kvs_scope *s, kvs_scope_name_fn name_of, void *arg);

/* A kvs_scope_name_fn that looks the user up in ARG, a struct kvs_read (begun). */
int kvs_scope_name_in_read(void *arg, const char *user_id, char out[KVS_NAME_MAX + 1]);

/* What S allows on store ST (with its ID, owner and name). */
enum kvs_scope_level kvs_scope_on(const struct kvs_scope *s, const struct kvs_store *st);

/* Whether S allows creating a store named NAME ("" = unnamed) owned by OWNER_ID: WRITE over a
 * store that would have that name and owner (an unnamed store: WRITE over every store). */
int kvs_scope_may_create(const struct kvs_scope *s, const char *owner_id, const char *name);

/* Whether S allows administration (see above). */
int kvs_scope_may_administer(const struct kvs_scope *s);

/* Whether CHILD allows nothing that PARENT does not: no store or level PARENT does not cover,
 * no administration PARENT does not have. (Expiry is the caller's.) */
int kvs_scope_within(const struct kvs_scope *child, const struct kvs_scope *parent);

#endif
