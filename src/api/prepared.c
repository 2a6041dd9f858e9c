/* prepared.c — record answers kept per worker thread (see prepared.h).
 *
 * A direct-mapped table indexed by an FNV-1a hash of store ID and key: a new answer replaces
 * the one in its slot, releasing the cache's reference (libmicrohttpd frees the response once
 * no connection still sends it). */
#include "api/prepared.h"

#include <stdlib.h>
#include <string.h>

#include "common/perthread.h"
#include "common/validate.h"

#define PREPARED_SLOTS 64 /* a power of two */

struct slot {
    struct MHD_Response *resp; /* NULL = empty */
    size_t len;
    uint64_t version;
    unsigned variant;
    char store_id[KVS_ID_LEN + 1];
    size_t key_len;
    char key[KVS_KEY_MAX];
};

struct table {
    struct slot slots[PREPARED_SLOTS];
};

static void free_table(void *p)
{
    struct table *t = p;
    for (size_t i = 0; i < PREPARED_SLOTS; i++)
        if (t->slots[i].resp != NULL)
            MHD_destroy_response(t->slots[i].resp);
    free(t);
}

static struct kvs_perthread table_pt = KVS_PERTHREAD_INIT(struct table, free_table);
static __thread struct table *mine; /* this thread's */

static struct slot *slot_of(const struct kvs_prepared_key *k)
{
    if (mine == NULL)
        mine = kvs_perthread_make(&table_pt);
    uint64_t h = 14695981039346656037ull;
    for (const char *p = k->store_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (size_t i = 0; i < k->key.n; i++)
        h = (h ^ (unsigned char)k->key.p[i]) * 1099511628211ull;
    return &mine->slots[h & (PREPARED_SLOTS - 1)];
}

struct MHD_Response *kvs_prepared_get(const struct kvs_prepared_key *k, size_t *len)
{
    if (k->key.n > KVS_KEY_MAX || strlen(k->store_id) > KVS_ID_LEN)
        return NULL;
    const struct slot *s = slot_of(k);
    if (s->resp == NULL || s->version != k->version || s->variant != k->variant ||
        s->key_len != k->key.n || memcmp(s->key, k->key.p, k->key.n) != 0 ||
        strcmp(s->store_id, k->store_id) != 0)
        return NULL;
    *len = s->len;
    return s->resp;
}

void kvs_prepared_put(const struct kvs_prepared_key *k, struct MHD_Response *resp, size_t len)
{
    if (k->key.n > KVS_KEY_MAX || strlen(k->store_id) > KVS_ID_LEN || len > KVS_PREPARED_MAX) {
        MHD_destroy_response(resp);
        return;
    }
    struct slot *s = slot_of(k);
    if (s->resp != NULL)
        MHD_destroy_response(s->resp); /* connections still sending it hold their own */
    s->resp = resp;
    s->len = len;
    s->version = k->version;
    s->variant = k->variant;
    memcpy(s->store_id, k->store_id, strlen(k->store_id) + 1);
    memcpy(s->key, k->key.p, k->key.n);
    s->key_len = k->key.n;
}
