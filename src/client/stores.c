/* stores.c — libkvs's store calls: list, get-or-create, get, rename, general access, delete
 * (contract §1.1, §1.2), and a new URL-signing key (kvstore's rotate-signing-key). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/internal.h"

#define S struct kvs_store_info
const struct kvs__field kvs__store_fields[] = {
    KVS__FIELD(S, id, "id", KVS__F_STR),
    KVS__FIELD(S, name, "name", KVS__F_STR),
    KVS__FIELD(S, user_id, "userId", KVS__F_STR),
    KVS__FIELD(S, username, "username", KVS__F_STR),
    KVS__FIELD(S, general_access, "generalAccess", KVS__F_STR),
    KVS__FIELD(S, created_at, "createdAt", KVS__F_STR),
    KVS__FIELD(S, modified_at, "modifiedAt", KVS__F_STR),
    KVS__FIELD(S, accessed_at, "accessedAt", KVS__F_STR),
    KVS__FIELD(S, url_signing_secret_key, "urlSigningSecretKey", KVS__F_STR),
    KVS__FIELD(S, keys_public_url, "keysPublicUrl", KVS__F_STR),
    KVS__FIELD(S, read_count, "stats.readCount", KVS__F_INT),
    KVS__FIELD(S, write_count, "stats.writeCount", KVS__F_INT),
    KVS__FIELD(S, delete_count, "stats.deleteCount", KVS__F_INT),
    KVS__FIELD(S, list_count, "stats.listCount", KVS__F_INT),
    KVS__FIELD(S, record_count, "stats.recordCount", KVS__F_INT),
    KVS__FIELD(S, storage_bytes, "stats.storageBytes", KVS__F_INT),
    KVS__FIELD(S, json, "", KVS__F_JSON),
    {NULL, KVS__F_STR, 0},
};
#undef S

int kvs__store_info(kvs_client *c, json_t *doc, json_t *obj, struct kvs_store_info **out)
{
    *out = NULL;
    if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "id")))
        return kvs__fail(c, KVS_EPROTO, "the server's store object has no ID");
    struct kvs_store_info *s = kvs__block_new(sizeof *s, doc);
    if (s == NULL || kvs__decode(s, obj, kvs__store_fields, s) != 0) {
        kvs_free(s);
        return kvs__fail(c, KVS_ENOMEM, NULL);
    }
    *out = s;
    return 0;
}

/* Send METHOD to STORE's path with BODY (may be NULL); the store of the answer into *OUT (may
 * be NULL), the HTTP status into *STATUS (may be NULL). */
static int store_call(kvs_client *c, const char *method, const char *store, const char *query,
                      json_t *body, struct kvs_store_info **out, int *status)
{
    if (out != NULL)
        *out = NULL;
    struct kvs__str path = {0};
    if (store != NULL)
        kvs__store_path(&path, store, NULL, NULL);
    else
        kvs__str_puts(&path, "/v2/key-value-stores");
    if (query != NULL)
        kvs__str_puts(&path, query);
    json_t *data = NULL;
    int rc = path.oom ? kvs__fail(c, KVS_ENOMEM, NULL)
                      : kvs__json_call(c, method, path.p, body, out ? &data : NULL, status);
    if (rc == 0 && out != NULL)
        rc = kvs__store_info(c, data, data, out);
    json_decref(data);
    kvs__str_free(&path);
    return rc;
}

int kvs_store_list(kvs_client *c, uint64_t offset, uint64_t limit, unsigned flags,
                   struct kvs_store_page **out)
{
    *out = NULL;
    char path[160];
    snprintf(path, sizeof path, "/v2/key-value-stores?offset=%" PRIu64 "%s%s%s", offset,
             flags & KVS_LIST_UNNAMED ? "&unnamed=1" : "", flags & KVS_LIST_DESC ? "&desc=1" : "",
             flags & KVS_LIST_SHARED_ONLY ? "&ownership=sharedWithMe" : "");
    if (limit > 0)
        snprintf(path + strlen(path), sizeof path - strlen(path), "&limit=%" PRIu64, limit);
    json_t *data = NULL;
    int rc = kvs__json_call(c, "GET", path, NULL, &data, NULL);
    if (rc != 0)
        return rc;
    struct kvs_store_page *pg = kvs__block_new(sizeof *pg, data);
    json_t *items = json_object_get(data, "items");
    if (!json_is_array(items)) {
        rc = kvs__fail(c, KVS_EPROTO, "the server's store list has no items");
    } else if (pg == NULL || kvs__decode_items(pg, items, sizeof *pg->items, kvs__store_fields,
                                               &pg->items, &pg->count) != 0) {
        rc = kvs__fail(c, KVS_ENOMEM, NULL);
    } else {
        json_t *total = json_object_get(data, "total");
        pg->total = json_is_integer(total) ? (uint64_t)json_integer_value(total) : pg->count;
        pg->offset = offset;
        *out = pg;
    }
    if (rc != 0)
        kvs_free(pg);
    json_decref(data);
    return rc;
}

int kvs_store_get_or_create(kvs_client *c, const char *name, struct kvs_store_info **out,
                            int *created)
{
    struct kvs__str query = {0};
    if (name != NULL) {
        kvs__str_puts(&query, "?name=");
        kvs__str_enc(&query, name);
    }
    int status = 0;
    int rc = query.oom ? kvs__fail(c, KVS_ENOMEM, NULL)
                       : store_call(c, "POST", NULL, query.p, NULL, out, &status);
    if (created != NULL)
        *created = rc == 0 && status == 201;
    kvs__str_free(&query);
    return rc;
}

int kvs_store_get(kvs_client *c, const char *store, struct kvs_store_info **out)
{
    KVS__NEED(c, store);
    return store_call(c, "GET", store, NULL, NULL, out, NULL);
}

/* PUT STORE with {FIELD: VALUE} (VALUE NULL: null). */
static int update(kvs_client *c, const char *store, const char *field, const char *value,
                  struct kvs_store_info **out)
{
    KVS__NEED(c, store);
    json_t *v = value ? json_string(value) : json_null();
    if (v == NULL)
        return kvs__fail(c, KVS_EINVAL, "the %s is not UTF-8 text", field);
    json_t *body = json_object();
    if (body == NULL)
        json_decref(v);
    /* json_object_set_new() takes V even when it fails */
    int rc = body == NULL || json_object_set_new(body, field, v) != 0
                 ? kvs__fail(c, KVS_ENOMEM, NULL)
                 : store_call(c, "PUT", store, NULL, body, out, NULL);
    json_decref(body);
    return rc;
}

int kvs_store_rename(kvs_client *c, const char *store, const char *new_name,
                     struct kvs_store_info **out)
{
    return update(c, store, "name", new_name, out);
}

int kvs_store_set_access(kvs_client *c, const char *store, const char *general_access,
                         struct kvs_store_info **out)
{
    if (general_access == NULL)
        return kvs__fail(c, KVS_EINVAL, "give a general access");
    return update(c, store, "generalAccess", general_access, out);
}

int kvs_store_delete(kvs_client *c, const char *store)
{
    KVS__NEED(c, store);
    return store_call(c, "DELETE", store, NULL, NULL, NULL, NULL);
}

int kvs_store_rotate_key(kvs_client *c, const char *store, struct kvs_store_info **out)
{
    KVS__NEED(c, store);
    return store_call(c, "POST", store, "/rotate-signing-key", NULL, out, NULL);
}
