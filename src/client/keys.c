/* keys.c — libkvs's key listing (contract §1.3), its pages hidden behind an iterator, and the
 * signed links of records and key lists (contract §4).
 *
 * The links are signed here, as the official clients sign them (apify-client's
 * getRecordPublicUrl and createKeysPublicUrl): the store object gives its urlSigningSecretKey
 * to those who may write it, and the signature is computed with the server's own code
 * (auth/sign.c), so there is one copy of the rule. Asking the server instead would need an
 * endpoint the platform does not have, and a key list link's lifetime is the caller's choice. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/sign.h"
#include "client/internal.h"

struct kvs_keys {
    kvs_client *c;
    char *path;   /* "/v2/key-value-stores/<store>/keys?limit=1000[&prefix=P]" */
    json_t *page; /* the page being walked ("data"), or NULL */
    size_t next;  /* the index of the next item of PAGE */
    char *start;  /* the exclusiveStartKey of the next page (owned), NULL for the first */
    int last;     /* PAGE is the last page */
    struct kvs_key_info current;
};

int kvs_keys_open(kvs_client *c, const char *store, const char *prefix, kvs_keys **out)
{
    *out = NULL;
    KVS__NEED(c, store);
    struct kvs__str path = {0};
    kvs__store_path(&path, store, "/keys?limit=1000", NULL);
    if (prefix != NULL && *prefix != '\0') {
        kvs__str_puts(&path, "&prefix=");
        kvs__str_enc(&path, prefix);
    }
    kvs_keys *it = calloc(1, sizeof *it);
    if (path.oom || it == NULL) {
        kvs__str_free(&path);
        free(it);
        return kvs__fail(c, KVS_ENOMEM, NULL);
    }
    it->c = c;
    it->path = path.p;
    *out = it;
    return 0;
}

void kvs_keys_close(kvs_keys *it)
{
    if (it == NULL)
        return;
    json_decref(it->page);
    free(it->path);
    free(it->start);
    free(it);
}

/* Fetch the page after the one walked. Returns 0 or an error. */
static int fetch(kvs_keys *it)
{
    kvs_client *c = it->c;
    struct kvs__str path = {0};
    kvs__str_puts(&path, it->path);
    if (it->start != NULL) {
        kvs__str_puts(&path, "&exclusiveStartKey=");
        kvs__str_enc(&path, it->start);
    }
    if (path.oom)
        return kvs__fail(c, KVS_ENOMEM, NULL);
    json_t *data = NULL;
    int rc = kvs__json_call(c, "GET", path.p, NULL, &data, NULL);
    kvs__str_free(&path);
    if (rc != 0)
        return rc;
    if (!json_is_array(json_object_get(data, "items"))) {
        json_decref(data);
        return kvs__fail(c, KVS_EPROTO, "the server's key list has no items");
    }
    const char *next = json_string_value(json_object_get(data, "nextExclusiveStartKey"));
    int truncated = json_is_true(json_object_get(data, "isTruncated"));
    free(it->start);
    it->start = NULL;
    /* the clients' rule (contract §2.3): go on while a next key is given */
    it->last = !truncated || next == NULL || json_array_size(json_object_get(data, "items")) == 0;
    if (!it->last && (it->start = strdup(next)) == NULL) {
        json_decref(data);
        return kvs__fail(c, KVS_ENOMEM, NULL);
    }
    json_decref(it->page);
    it->page = data;
    it->next = 0;
    return 0;
}

int kvs_keys_next(kvs_keys *it, const struct kvs_key_info **out)
{
    *out = NULL;
    kvs__clear(it->c);
    for (;;) {
        json_t *items = json_object_get(it->page, "items");
        if (it->page != NULL && it->next < json_array_size(items)) {
            json_t *item = json_array_get(items, it->next++);
            const char *key = json_string_value(json_object_get(item, "key"));
            if (key == NULL)
                return kvs__fail(it->c, KVS_EPROTO, "a key of the server's key list is no string");
            json_t *size = json_object_get(item, "size");
            it->current = (struct kvs_key_info){
                .key = key,
                .size = json_is_integer(size) ? (int64_t)json_integer_value(size) : -1,
                .record_public_url = json_string_value(json_object_get(item, "recordPublicUrl")),
                .content_type = json_string_value(json_object_get(item, "contentType")),
                .modified_at = json_string_value(json_object_get(item, "modifiedAt")),
            };
            *out = &it->current;
            return 1;
        }
        if (it->page != NULL && it->last)
            return 0;
        int rc = fetch(it);
        if (rc != 0)
            return rc;
    }
}

int kvs_keys_each(kvs_client *c, const char *store, const char *prefix, kvs_keys_cb cb, void *arg)
{
    kvs_keys *it;
    int rc = kvs_keys_open(c, store, prefix, &it);
    const struct kvs_key_info *k;
    while (rc == 0 && (rc = kvs_keys_next(it, &k)) == 1)
        rc = cb(arg, k);
    kvs_keys_close(it);
    return rc;
}

/* ---- signed links -------------------------------------------------------------------------- */

/* STORE's object into *OUT (to kvs_free), and the base of its public links into *BASE (*BASE_N
 * bytes, "http://host:port"): taken from its keysPublicUrl, which follows the server's
 * --public-url, else C's URL; *BASE lives as long as *OUT. KVS_EACCESS when the store object
 * carries no signing key (the caller may not write the store). */
static int signing_store(kvs_client *c, const char *store, struct kvs_store_info **out,
                         size_t *base_n, const char **base)
{
    int rc = kvs_store_get(c, store, out);
    if (rc != 0)
        return rc;
    struct kvs_store_info *s = *out;
    if (s->url_signing_secret_key == NULL) {
        kvs_free(s);
        *out = NULL;
        return kvs__fail(c, KVS_EACCESS,
                         "only a caller who may write the store gets its signing key");
    }
    const char *k = s->keys_public_url;
    const char *v2 = k ? strstr(k, "/v2/") : NULL;
    if (v2 != NULL) {
        *base = k;
        *base_n = (size_t)(v2 - k);
    } else {
        *base = c->base;
        *base_n = strlen(c->base);
    }
    return 0;
}

/* Hand the link being built in U to the caller as a kvs_free()-able string. */
static int hand_out(kvs_client *c, struct kvs__str *u, char **out)
{
    char *s = u->oom ? NULL : kvs__block_new(u->n + 1, NULL);
    if (s != NULL)
        memcpy(s, u->p, u->n + 1);
    kvs__str_free(u);
    if (s == NULL)
        return kvs__fail(c, KVS_ENOMEM, NULL);
    *out = s;
    return 0;
}

/* A link to PATH of STORE ("/records/" + KEY, or "/keys" when KEY is NULL), signed with the
 * store's secret: a record signature of KEY, else a key-list signature valid until
 * EXPIRES_AT_MS (0: forever). *OUT: to kvs_free(). */
static int signed_link(kvs_client *c, const char *store, const char *path, const char *key,
                       int64_t expires_at_ms, char **out)
{
    struct kvs_store_info *s;
    const char *base = NULL;
    size_t base_n = 0;
    int rc = signing_store(c, store, &s, &base_n, &base);
    if (rc != 0)
        return rc;
    char sig[KVS_KEYS_SIG_MAX + KVS_HMAC62_MAX + 1];
    kvs_slice secret = kvs_slice_of(s->url_signing_secret_key);
    if (key != NULL)
        kvs_sign_record(secret, kvs_slice_of(key), sig);
    else
        kvs_sign_keys(secret, kvs_slice_of(s->id), expires_at_ms, sig);
    struct kvs__str u = {0};
    kvs__str_add(&u, base, base_n);
    kvs__str_puts(&u, "/v2/key-value-stores/");
    kvs__str_enc(&u, s->id);
    kvs__str_puts(&u, path);
    if (key != NULL)
        kvs__str_enc(&u, key);
    kvs__str_puts(&u, "?signature=");
    kvs__str_puts(&u, sig);
    kvs_free(s);
    return hand_out(c, &u, out);
}

int kvs_record_url(kvs_client *c, const char *store, const char *key, char **out)
{
    *out = NULL;
    KVS__NEED(c, key);
    return signed_link(c, store, "/records/", key, 0, out);
}

int kvs_keys_url(kvs_client *c, const char *store, int64_t expires_secs, char **out)
{
    *out = NULL;
    if (expires_secs < 0 || expires_secs > INT64_MAX / 2000)
        return kvs__fail(c, KVS_EINVAL, "the lifetime of a link is 0 (forever) or more seconds");
    int64_t expires_at = 0;
    if (expires_secs > 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        expires_at = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + expires_secs * 1000;
    }
    return signed_link(c, store, "/keys", NULL, expires_at, out);
}
