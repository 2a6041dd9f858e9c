/* cache.c — the per-thread caller and store cache (see cache.h).
 *
 * Two direct-mapped tables per thread, indexed by an FNV-1a hash of the key: a slot holds one
 * answer and its epoch (0 = empty), and a new answer simply replaces what its slot held. A
 * handful of tokens and stores make the load of a server; 64 slots of each keep them with
 * few collisions, in about 160 KiB per thread (a token's slot has room for its scope). The tables are made on a thread's first use
 * and freed when the thread ends (common/perthread.h); every callback of a connection runs on
 * the libmicrohttpd worker that owns it. */
#include "api/cache.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "common/perthread.h"

#define USER_SLOTS 64  /* a power of two */
#define STORE_SLOTS 64 /* a power of two */
#define TOKEN_MAX 128  /* longer tokens are not kept (the server makes them KVS_TOKEN_LEN long) */
#define REF_MAX (3 * KVS_NAME_MAX + 8) /* as struct kvs_req's store_ref */

struct user_slot {
    uint64_t epoch; /* 0 = empty */
    size_t token_len;
    unsigned char token[TOKEN_MAX];
    struct kvs_user user;
    int64_t expires_ms;
    struct kvs_scope scope;
};

struct store_slot {
    uint64_t epoch; /* 0 = empty */
    char caller[KVS_ID_LEN + 1];
    size_t ref_len;
    char ref[REF_MAX];
    struct kvs_cached_store v;
};

struct tables {
    struct user_slot users[USER_SLOTS];
    struct store_slot stores[STORE_SLOTS];
};

static void free_tables(void *p)
{
    OPENSSL_cleanse(p, sizeof(struct tables)); /* tokens are secrets */
    free(p);
}

static struct kvs_perthread tables_pt = KVS_PERTHREAD_INIT(struct tables, free_tables);
static __thread struct tables *mine; /* this thread's */

static struct tables *tables(void)
{
    if (mine == NULL)
        mine = kvs_perthread_make(&tables_pt);
    return mine;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

#define FNV_SEED 14695981039346656037ull

/* ---- tokens ------------------------------------------------------------------------------- */

static struct user_slot *user_slot(kvs_slice token)
{
    return &tables()->users[fnv1a(FNV_SEED, token.p, token.n) & (USER_SLOTS - 1)];
}

int kvs_cache_user_get(uint64_t epoch, kvs_slice token, struct kvs_user *user,
                       int64_t *expires_ms, struct kvs_scope *scope)
{
    if (epoch == 0 || token.n > TOKEN_MAX)
        return 0;
    const struct user_slot *s = user_slot(token);
    /* The epoch first: a slot of another epoch is no answer, whatever token it holds. */
    if (s->epoch != epoch || s->token_len != token.n ||
        CRYPTO_memcmp(s->token, token.p, token.n) != 0)
        return 0;
    *user = s->user;
    *expires_ms = s->expires_ms;
    /* most tokens have no scope: then its 1.4 KiB need not be copied per request */
    if (s->scope.limited)
        *scope = s->scope;
    else
        scope->limited = 0;
    return 1;
}

void kvs_cache_user_put(uint64_t epoch, kvs_slice token, const struct kvs_user *user,
                        int64_t expires_ms, const struct kvs_scope *scope)
{
    if (epoch == 0 || token.n > TOKEN_MAX)
        return;
    struct user_slot *s = user_slot(token);
    OPENSSL_cleanse(s->token, sizeof s->token); /* the token it held, if another */
    memcpy(s->token, token.p, token.n);
    s->token_len = token.n;
    s->user = *user;
    s->expires_ms = expires_ms;
    if (scope->limited)
        s->scope = *scope;
    else
        s->scope.limited = 0;
    s->epoch = epoch;
}

/* ---- stores -------------------------------------------------------------------------------- */

static struct store_slot *store_slot(const char *caller_id, size_t caller_len, kvs_slice ref)
{
    uint64_t h = fnv1a(FNV_SEED, caller_id, caller_len + 1); /* with its NUL: a separator */
    return &tables()->stores[fnv1a(h, ref.p, ref.n) & (STORE_SLOTS - 1)];
}

int kvs_cache_store_get(uint64_t epoch, const char *caller_id, kvs_slice ref,
                        struct kvs_cached_store *out)
{
    size_t caller_len = strlen(caller_id);
    if (epoch == 0 || ref.n > REF_MAX || caller_len > KVS_ID_LEN)
        return 0;
    const struct store_slot *s = store_slot(caller_id, caller_len, ref);
    if (s->epoch != epoch || s->ref_len != ref.n || memcmp(s->ref, ref.p, ref.n) != 0 ||
        strcmp(s->caller, caller_id) != 0)
        return 0;
    *out = s->v;
    return 1;
}

void kvs_cache_store_put(uint64_t epoch, const char *caller_id, kvs_slice ref,
                         const struct kvs_cached_store *v)
{
    size_t caller_len = strlen(caller_id);
    if (epoch == 0 || ref.n > REF_MAX || caller_len > KVS_ID_LEN || v->store.schema != NULL)
        return;
    struct store_slot *s = store_slot(caller_id, caller_len, ref);
    memcpy(s->caller, caller_id, caller_len + 1);
    memcpy(s->ref, ref.p, ref.n);
    s->ref_len = ref.n;
    s->v = *v;
    /* what the cache says of a store: no statistics or times (cache.h) */
    memset(&s->v.store.stats, 0, sizeof s->v.store.stats);
    s->v.store.created_ms = s->v.store.modified_ms = s->v.store.accessed_ms = 0;
    s->epoch = epoch;
}
