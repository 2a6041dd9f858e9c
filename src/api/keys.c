/* keys.c — GET /v2/key-value-stores/{store}/keys: one page of a store's keys.
 *
 * Keys come in byte order; a page starts after exclusiveStartKey and holds at most limit keys
 * (default and maximum 1000), optionally only those with a prefix or in a collection of the
 * store's schema. nextExclusiveStartKey and exclusiveStartKey are an explicit null when
 * absent: the official clients stop paging only on null (contract §2.3). */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "auth/sign.h"
#include "kvs.h"
#include "server/reply.h"

#define KEYS_LIMIT_MAX 1000

struct page {
    struct kvs_req *r;
    json_t *items;
    char base[512];  /* "<public base>/v2/key-value-stores/<id>/records/" */
    int signed_urls; /* links carry the record signature (see kvs_api_keys_list) */
    kvs_slice only;  /* a collection's single key: list nothing else (empty = no filter) */
    kvs_slice last;  /* the last key listed */
};

static int add_key(void *arg, const struct kvs_key_view *k)
{
    struct page *pg = arg;
    if (pg->only.n && !kvs_slice_eq(k->key, pg->only))
        return 0;
    char url[1024];
    char sig[KVS_HMAC62_MAX + 1] = "";
    if (pg->signed_urls)
        kvs_sign_record(kvs_slice_of(pg->r->store.secret), k->key, sig);
    snprintf(url, sizeof url, "%s%.*s%s%s", pg->base, (int)k->key.n, k->key.p,
             sig[0] ? "?signature=" : "", sig);
    json_array_append_new(pg->items, json_pack("{s:s%,s:I,s:s}", "key", k->key.p, k->key.n, "size",
                                               (json_int_t)k->size, "recordPublicUrl", url));
    pg->last = k->key;
    return 0;
}

void kvs_api_keys_list(struct kvs_req *r)
{
    uint64_t limit;
    if (kvs_api_query_uint(r, "limit", KEYS_LIMIT_MAX, &limit) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM, "Parameter limit must be a non-negative integer.");
        return;
    }
    if (limit == 0 || limit > KEYS_LIMIT_MAX)
        limit = KEYS_LIMIT_MAX; /* 0 means "not given" to the official clients */
    const char *start = kvs_http_query(r, "exclusiveStartKey");
    const char *prefix_q = kvs_http_query(r, "prefix");
    const char *collection = kvs_http_query(r, "collection");
    json_t *start_json = start && *start ? json_string(start) : json_null();
    if (start_json == NULL) { /* NUL bytes or not UTF-8: no key looks like that */
        kvs_reply_error(r, KVS_EBADPARAM, "Parameter exclusiveStartKey is not valid UTF-8.");
        return;
    }

    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_READ);
    if (s == NULL) {
        json_decref(start_json);
        return;
    }

    kvs_slice prefix = kvs_slice_of(prefix_q ? prefix_q : "");
    kvs_slice only = {"", 0};
    int none = 0;
    json_t *schema = NULL;
    if (collection && *collection) {
        int rc = kvs_api_collection(r, collection, &prefix, &only, &none, &schema);
        if (rc != 0) {
            json_decref(schema);
            json_decref(start_json);
            kvs_reply_error(r, rc, "%s", r->error_msg);
            return;
        }
    }

    /* Record links are signed for those who may write (they may read the secret anyway), and
     * for a list opened by a valid keys signature: its holder may read every record (the ZIP
     * opens with it too), and signed links are what makes the list of use to them (contract
     * §2.3, §4.6). A reader by token or general access gets plain links: a permanent record
     * signature would outlive their right to read. */
    struct page pg = {.r = r,
                      .items = json_array(),
                      .signed_urls = kvs_api_can_write(r, s) || kvs_api_signature_valid(r, s)};
    char base[400];
    kvs_api_public_base(r, base, sizeof base);
    snprintf(pg.base, sizeof pg.base, "%s/v2/key-value-stores/%s/records/", base, s->id);
    pg.only = only;
    int truncated = 0;
    if (!none) {
        int rc = kvs_storage_keys_list(r->rd, kvs_slice_of(s->id), prefix,
                                       kvs_slice_of(start ? start : ""), limit, 0, add_key, &pg,
                                       &truncated);
        if (rc != 0) {
            json_decref(pg.items);
            json_decref(schema);
            json_decref(start_json);
            kvs_reply_error(r, rc, NULL);
            return;
        }
    }
    if (only.n)
        truncated = 0; /* a one-key collection has nothing after its key */
    kvs_storage_note_access(r->srv->storage, s->id, KVS_NOTE_LIST);

    json_t *data = json_object();
    json_object_set_new(data, "items", pg.items);
    json_object_set_new(data, "count", json_integer((json_int_t)json_array_size(pg.items)));
    json_object_set_new(data, "limit", json_integer((json_int_t)limit));
    json_object_set_new(data, "exclusiveStartKey", start_json);
    json_object_set_new(data, "isTruncated", json_boolean(truncated));
    json_object_set_new(data, "nextExclusiveStartKey",
                        truncated && pg.last.n ? json_stringn(pg.last.p, pg.last.n) : json_null());
    json_decref(schema);
    kvs_reply_data(r, 200, data);
}
