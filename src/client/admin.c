/* admin.c — libkvs's calls of kvstore's admin API: users, tokens and shares (README "The
 * API"; not part of the Apify API, which has no such calls). */
#include <stdio.h>
#include <string.h>

#include "client/internal.h"

#define U struct kvs_user_info
static const struct kvs__field user_fields[] = {
    KVS__FIELD(U, id, "id", KVS__F_STR),
    KVS__FIELD(U, username, "username", KVS__F_STR),
    KVS__FIELD(U, is_admin, "isAdmin", KVS__F_BOOL),
    KVS__FIELD(U, default_general_access, "defaultGeneralAccess", KVS__F_STR),
    KVS__FIELD(U, created_at, "createdAt", KVS__F_STR),
    KVS__FIELD(U, token, "token", KVS__F_STR),
    KVS__FIELD(U, json, "", KVS__F_JSON),
    {NULL, KVS__F_STR, 0},
};
#undef U

#define T struct kvs_token_entry
static const struct kvs__field token_fields[] = {
    KVS__FIELD(T, prefix, "prefix", KVS__F_STR),
    KVS__FIELD(T, created_at, "createdAt", KVS__F_STR),
    KVS__FIELD(T, token, "token", KVS__F_STR),
    KVS__FIELD(T, user_id, "userId", KVS__F_STR),
    KVS__FIELD(T, username, "username", KVS__F_STR),
    KVS__FIELD(T, expires_at, "expiresAt", KVS__F_STR),
    KVS__FIELD(T, json, "", KVS__F_JSON),
    {NULL, KVS__F_STR, 0},
};
#undef T

/* Build "/v2/<a><enc(b)><c>" into S (B and C may be NULL). */
static void path3(struct kvs__str *s, const char *a, const char *b, const char *c)
{
    kvs__str_puts(s, "/v2/");
    kvs__str_puts(s, a);
    if (b != NULL)
        kvs__str_enc(s, b);
    if (c != NULL)
        kvs__str_puts(s, c);
}

/* METHOD PATH with BODY (may be NULL); the answer's data decoded by FIELDS into a new struct
 * of SIZE bytes in *OUT (OUT NULL: no data wanted). Frees PATH. */
static int call(kvs_client *c, const char *method, struct kvs__str *path, json_t *body,
                const struct kvs__field *fields, size_t size, void *out)
{
    json_t *data = NULL;
    int rc = path->oom ? kvs__fail(c, KVS_ENOMEM, NULL)
                       : kvs__json_call(c, method, path->p, body, out ? &data : NULL, NULL);
    kvs__str_free(path);
    if (rc != 0 || out == NULL)
        return rc;
    void *s = kvs__block_new(size, data);
    if (s == NULL || kvs__decode(s, data, fields, s) != 0) {
        kvs_free(s);
        rc = kvs__fail(c, KVS_ENOMEM, NULL);
    } else {
        memcpy(out, &s, sizeof s);
    }
    json_decref(data);
    return rc;
}

int kvs_user_create(kvs_client *c, const char *username, int is_admin, const char *default_access,
                    struct kvs_user_info **out)
{
    *out = NULL;
    json_t *body = json_pack("{s:s?,s:b}", "username", username, "isAdmin", is_admin);
    if (body != NULL && default_access != NULL &&
        json_object_set_new(body, "defaultGeneralAccess", json_string(default_access)) != 0) {
        json_decref(body);
        body = NULL;
    }
    if (body == NULL)
        return kvs__fail(c, KVS_EINVAL, "a username and access are UTF-8 text");
    struct kvs__str path = {0};
    path3(&path, "users", NULL, NULL);
    int rc = call(c, "POST", &path, body, user_fields, sizeof **out, out);
    json_decref(body);
    return rc;
}

int kvs_user_get(kvs_client *c, const char *user, struct kvs_user_info **out)
{
    *out = NULL;
    KVS__NEED(c, user);
    struct kvs__str path = {0};
    path3(&path, "users/", user, NULL);
    return call(c, "GET", &path, NULL, user_fields, sizeof **out, out);
}

int kvs_user_delete(kvs_client *c, const char *user)
{
    KVS__NEED(c, user);
    struct kvs__str path = {0};
    path3(&path, "users/", user, NULL);
    return call(c, "DELETE", &path, NULL, NULL, 0, NULL);
}

int kvs_user_usage(kvs_client *c, const char *user, struct kvs_user_usage *out)
{
    memset(out, 0, sizeof *out);
    KVS__NEED(c, user);
    struct kvs__str path = {0};
    path3(&path, "users/", user, "/usage");
    json_t *data = NULL;
    int rc = path.oom ? kvs__fail(c, KVS_ENOMEM, NULL)
                      : kvs__json_call(c, "GET", path.p, NULL, &data, NULL);
    kvs__str_free(&path);
    if (rc == 0) {
        out->stores = (int64_t)json_integer_value(json_object_get(data, "stores"));
        out->named_stores = (int64_t)json_integer_value(json_object_get(data, "namedStores"));
        out->records = (int64_t)json_integer_value(json_object_get(data, "records"));
        out->storage_bytes = (int64_t)json_integer_value(json_object_get(data, "storageBytes"));
    }
    json_decref(data);
    return rc;
}

/* A page of ITEMS (data.items) decoded by FIELDS into structs of ITEM_SIZE bytes: the page
 * struct PAGE_SIZE bytes long, its items pointer at ITEMS_AT and its count at COUNT_AT. */
static int page_call(kvs_client *c, struct kvs__str *path, const struct kvs__field *fields,
                     size_t item_size, size_t page_size, size_t items_at, size_t count_at,
                     void *out)
{
    json_t *data = NULL;
    int rc = path->oom ? kvs__fail(c, KVS_ENOMEM, NULL)
                       : kvs__json_call(c, "GET", path->p, NULL, &data, NULL);
    kvs__str_free(path);
    if (rc != 0)
        return rc;
    json_t *items = json_object_get(data, "items");
    char *pg = kvs__block_new(page_size, data);
    uint64_t count = 0;
    if (!json_is_array(items))
        rc = kvs__fail(c, KVS_EPROTO, "the server's list has no items");
    else if (pg == NULL || kvs__decode_items(pg, items, item_size, fields, pg + items_at, &count))
        rc = kvs__fail(c, KVS_ENOMEM, NULL);
    if (rc == 0) {
        memcpy(pg + count_at, &count, sizeof count);
        memcpy(out, &pg, sizeof pg);
    } else {
        kvs_free(pg);
    }
    json_decref(data);
    return rc;
}

int kvs_user_list(kvs_client *c, struct kvs_user_page **out)
{
    *out = NULL;
    struct kvs__str path = {0};
    path3(&path, "users?limit=1000", NULL, NULL);
    int rc = page_call(c, &path, user_fields, sizeof(struct kvs_user_info),
                       sizeof(struct kvs_user_page), offsetof(struct kvs_user_page, items),
                       offsetof(struct kvs_user_page, count), out);
    if (rc == 0)
        (*out)->total = (*out)->count;
    return rc;
}

int kvs_token_create(kvs_client *c, const char *user, struct kvs_token_entry **out)
{
    return kvs_token_create_limited(c, user, NULL, out);
}

int kvs_token_create_limited(kvs_client *c, const char *user, const char *limits,
                             struct kvs_token_entry **out)
{
    *out = NULL;
    KVS__NEED(c, user);
    json_t *body = limits != NULL ? json_loads(limits, 0, NULL) : NULL;
    if (limits != NULL && !json_is_object(body)) { /* (json_is_object reads its argument twice) */
        json_decref(body);
        return kvs__fail(c, KVS_EINVAL, "the token's limits are not a JSON object");
    }
    struct kvs__str path = {0};
    path3(&path, "users/", user, "/tokens");
    int rc = call(c, "POST", &path, body, token_fields, sizeof **out, out);
    json_decref(body);
    return rc;
}

int kvs_token_list(kvs_client *c, const char *user, struct kvs_token_page **out)
{
    *out = NULL;
    KVS__NEED(c, user);
    struct kvs__str path = {0};
    path3(&path, "users/", user, "/tokens");
    return page_call(c, &path, token_fields, sizeof(struct kvs_token_entry),
                     sizeof(struct kvs_token_page), offsetof(struct kvs_token_page, items),
                     offsetof(struct kvs_token_page, count), out);
}

int kvs_token_revoke(kvs_client *c, const char *prefix)
{
    KVS__NEED(c, prefix);
    struct kvs__str path = {0};
    path3(&path, "tokens/", prefix, NULL);
    return call(c, "DELETE", &path, NULL, NULL, 0, NULL);
}

/* The path of the share of STORE with USERNAME into S. */
static void share_path(struct kvs__str *s, const char *store, const char *username)
{
    kvs__store_path(s, store, "/shares/", username);
}

int kvs_share_set(kvs_client *c, const char *store, const char *username, const char *access)
{
    KVS__NEED(c, store);
    KVS__NEED(c, username);
    json_t *body = json_pack("{s:s?}", "access", access);
    if (body == NULL)
        return kvs__fail(c, KVS_EINVAL, "the access is READ or WRITE");
    struct kvs__str path = {0};
    share_path(&path, store, username);
    int rc = call(c, "PUT", &path, body, NULL, 0, NULL);
    json_decref(body);
    return rc;
}

int kvs_share_delete(kvs_client *c, const char *store, const char *username)
{
    KVS__NEED(c, store);
    KVS__NEED(c, username);
    struct kvs__str path = {0};
    share_path(&path, store, username);
    return call(c, "DELETE", &path, NULL, NULL, 0, NULL);
}
