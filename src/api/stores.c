/* stores.c — the store collection and single stores:
 *   GET  /v2/key-value-stores              list the caller's stores and those shared with
 *                                          them (ownership=ownedByMe|sharedWithMe narrows)
 *   POST /v2/key-value-stores[?name=N]     get-or-create (200 existing, 201 new)
 *   GET, PUT, DELETE /v2/key-value-stores/{store}
 *   POST /v2/key-value-stores/{store}/rotate-signing-key
 *                                          a kvstore addition: a new urlSigningSecretKey, so
 *                                          that every link signed before opens nothing any
 *                                          more → 200, the store (owner, admin)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/runs.h"
#include "auth/access.h"
#include "auth/scope.h"
#include "kvs.h"
#include "server/reply.h"

#define STORES_LIMIT_MAX 1000

/* ---- list ---------------------------------------------------------------------------------- */

struct listing {
    struct kvs_req *r;
    json_t *items;
    /* a scoped token: the storage lists every store, and this one pages what the scope
     * lets the token see (auth/scope.h) */
    int filter;
    uint64_t offset, limit, total;
};

/* One item: the store object, marked with whether it is another user's store shared with
 * the caller, and if so with which access. */
static int add_store(void *arg, const struct kvs_store *s, enum kvs_share_level share)
{
    struct listing *l = arg;
    if (l->filter) {
        if (kvs_scope_on(&l->r->scope, s) < KVS_SCOPE_READ)
            return 0;
        uint64_t index = l->total++;
        if (index < l->offset || index - l->offset >= l->limit)
            return 0;
    }
    json_t *o = kvs_api_store_json_as(l->r, s, share);
    json_object_set_new(o, "sharedWithMe", json_boolean(share != KVS_SHARE_NONE));
    if (share != KVS_SHARE_NONE)
        json_object_set_new(o, "access", json_string(kvs_share_name(share)));
    json_array_append_new(l->items, o);
    return 0;
}

void kvs_api_stores_list(struct kvs_req *r)
{
    uint64_t offset, limit;
    int desc, unnamed;
    if (kvs_api_query_uint(r, "offset", 0, &offset) != 0 ||
        kvs_api_query_uint(r, "limit", STORES_LIMIT_MAX, &limit) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM,
                        "Parameters offset and limit must be integers from 0 to "
                        KVS_API_QUERY_MAX_TEXT ".");
        return;
    }
    if (kvs_api_query_bool(r, "desc", &desc) != 0 ||
        kvs_api_query_bool(r, "unnamed", &unnamed) != 0) {
        kvs_reply_error(r, KVS_EBADPARAM,
                        "Parameters desc and unnamed must be true, false, 1 "
                        "or 0.");
        return;
    }
    if (limit == 0 || limit > STORES_LIMIT_MAX)
        limit = STORES_LIMIT_MAX;
    const char *ownership = kvs_http_query(r, "ownership");
    unsigned which = KVS_LIST_OWNED | KVS_LIST_SHARED;
    if (ownership && *ownership) {
        if (strcmp(ownership, "sharedWithMe") == 0)
            which = KVS_LIST_SHARED;
        else if (strcmp(ownership, "ownedByMe") == 0)
            which = KVS_LIST_OWNED;
        else {
            kvs_reply_error(r, KVS_EBADPARAM,
                            "Parameter ownership must be ownedByMe or sharedWithMe.");
            return;
        }
    }
    int rc = kvs_api_read(r);
    struct listing l = {r, json_array(), r->scope.limited, offset, limit, 0};
    uint64_t total = 0;
    /* One list in creation order, so offset, limit and total count owned and shared alike.
     * Through a scoped token only the stores of its scope, counted and paged here: O(stores
     * of the user) read, where an unscoped listing reads only its page's. */
    if (rc == 0)
        rc = kvs_storage_store_list_visible(r->rd, kvs_slice_of(r->user.id), which,
                                            l.filter ? 0 : offset, l.filter ? UINT64_MAX : limit,
                                            desc, unnamed, add_store, &l, &total);
    if (l.filter)
        total = l.total;
    if (rc != 0) {
        json_decref(l.items);
        kvs_reply_error(r, rc, NULL);
        return;
    }
    json_t *data = json_object();
    json_object_set_new(data, "total", json_integer((json_int_t)total));
    json_object_set_new(data, "offset", json_integer((json_int_t)offset));
    json_object_set_new(data, "limit", json_integer((json_int_t)limit));
    json_object_set_new(data, "count", json_integer((json_int_t)json_array_size(l.items)));
    json_object_set_new(data, "desc", json_boolean(desc));
    json_object_set_new(data, "unnamed", json_boolean(unnamed));
    json_object_set_new(data, "items", l.items);
    kvs_reply_data(r, 200, data);
}

/* ---- shared by create and update ------------------------------------------------------------- */

static void reply_bad_name(struct kvs_req *r)
{
    kvs_reply_error(r, KVS_EBADNAME, NULL);
}

/* Read the schema member of BODY into W->store.schema as compact JSON text. Returns 0, or
 * replies with the error and returns it. */
static int take_schema(struct kvs_req *r, json_t *body, struct kvs_write *w)
{
    json_t *schema = json_object_get(body, "schema");
    if (schema == NULL || json_is_null(schema))
        return 0;
    if (!json_is_object(schema)) {
        kvs_reply_error(r, KVS_EINVAL, "Invalid value provided: schema must be an object.");
        return KVS_EINVAL;
    }
    char *text = json_dumps(schema, JSON_COMPACT);
    if (text == NULL || strlen(text) > KVS_SCHEMA_MAX) {
        free(text);
        kvs_reply_error(r, KVS_EINVAL, "Invalid value provided: schema is larger than %d bytes.",
                        KVS_SCHEMA_MAX);
        return KVS_EINVAL;
    }
    w->store.schema = text; /* owned by w->store: freed by kvs_store_clear() at completion */
    return 0;
}

/* Read the title member of BODY (a string or null) into W->store.title. */
static int take_title(struct kvs_req *r, json_t *body, struct kvs_write *w)
{
    json_t *title = json_object_get(body, "title");
    if (title == NULL || json_is_null(title)) {
        w->store.title[0] = '\0';
        return 0;
    }
    const char *t = json_string_value(title);
    if (t == NULL || strlen(t) > KVS_TITLE_MAX) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: title must be a string of at most %d bytes.",
                        KVS_TITLE_MAX);
        return KVS_EINVAL;
    }
    memcpy(w->store.title, t, strlen(t) + 1);
    return 0;
}

/* ---- create -------------------------------------------------------------------------------- */

void kvs_api_stores_create(struct kvs_req *r)
{
    const char *name = kvs_http_query(r, "name");
    if (name && *name && !kvs_valid_store_name(kvs_slice_of(name))) {
        reply_bad_name(r);
        return;
    }
    if (!kvs_scope_may_create(&r->scope, r->user.id, name ? name : "")) {
        /* get-or-create of a store the token may read answers it without a write */
        struct kvs_store *existing = &r->w.store;
        int rc = name && *name ? kvs_api_read(r) : KVS_ENOTFOUND;
        if (rc == 0)
            rc = kvs_storage_store_by_name(r->rd, kvs_slice_of(r->user.id), kvs_slice_of(name),
                                           existing);
        if (rc == 0 && kvs_scope_on(&r->scope, existing) >= KVS_SCOPE_READ) {
            r->w.result = KVS_EEXIST;
            kvs_api_stores_create_done(r);
        } else if (rc == KVS_EIO || rc == KVS_EUNAVAIL) {
            kvs_reply_error(r, rc, NULL);
        } else {
            kvs_reply_error(r, KVS_EACCESS,
                            "This API token may not create a key-value store named so (its "
                            "scope does not give WRITE over it).");
        }
        return;
    }
    int failed;
    json_t *body = kvs_api_body_object(r, &failed);
    if (failed)
        return;
    struct kvs_write *w = &r->w;
    w->op = KVS_W_STORE_CREATE;
    memcpy(w->store.user_id, r->user.id, sizeof w->store.user_id);
    snprintf(w->store.name, sizeof w->store.name, "%s", name ? name : "");
    w->store.general_access = KVS_GA_FOLLOW_USER_SETTING;
    int rc = take_schema(r, body, w);
    if (rc == 0)
        rc = take_title(r, body, w);
    json_decref(body);
    if (rc == 0)
        kvs_http_submit(r);
}

void kvs_api_stores_create_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc != 0 && rc != KVS_EEXIST) {
        kvs_reply_error(r, rc, NULL);
        return;
    }
    struct kvs_store *s = &r->w.store;
    if (s->username[0] == '\0') /* the creator is the owner */
        memcpy(s->username, r->user.username, sizeof s->username);
    kvs_reply_data(r, rc == KVS_EEXIST ? 200 : 201, kvs_api_store_json(r, s));
    if (rc == 0) {
        char base[512], url[700];
        kvs_api_public_base(r, base, sizeof base);
        snprintf(url, sizeof url, "%s/v2/key-value-stores/%s", base, s->id);
        kvs_reply_header(r, MHD_HTTP_HEADER_LOCATION, url);
    }
}

/* ---- get ----------------------------------------------------------------------------------- */

void kvs_api_store_get(struct kvs_req *r)
{
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_READ);
    if (s == NULL)
        return;
    kvs_storage_note_access(r->srv->storage, s->id, KVS_NOTE_ACCESS);
    json_t *o = kvs_api_store_json(r, s);
    kvs_api_store_run_fields(r, s, o); /* the run it is the default store of, if any */
    kvs_reply_data(r, 200, o);
}

/* ---- update -------------------------------------------------------------------------------- */

void kvs_api_store_update(struct kvs_req *r)
{
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_MANAGE);
    if (s == NULL)
        return;
    int failed;
    json_t *body = kvs_api_body_object(r, &failed);
    if (failed)
        return;
    struct kvs_write *w = &r->w;
    w->op = KVS_W_STORE_UPDATE;
    memcpy(w->store_id, s->id, sizeof w->store_id);
    int rc = 0;

    json_t *name = json_object_get(body, "name");
    if (name) {
        const char *n = json_is_null(name) ? "" : json_string_value(name);
        if (n == NULL || (*n && !kvs_valid_store_name(kvs_slice_of(n)))) {
            reply_bad_name(r);
            rc = KVS_EBADNAME;
        } else {
            snprintf(w->store.name, sizeof w->store.name, "%s", n);
            w->update_mask |= KVS_UPD_NAME;
        }
    }
    json_t *ga = json_object_get(body, "generalAccess");
    if (rc == 0 && ga && !json_is_null(ga)) {
        enum kvs_general_access v;
        const char *g = json_string_value(ga);
        if (g == NULL || kvs_access_parse(g, &v) != 0) {
            kvs_reply_error(r, KVS_EINVAL,
                            "Invalid value provided: generalAccess must be one of "
                            "FOLLOW_USER_SETTING, RESTRICTED, ANYONE_WITH_ID_CAN_READ, "
                            "ANYONE_WITH_NAME_CAN_READ.");
            rc = KVS_EINVAL;
        } else {
            w->store.general_access = (uint8_t)v;
            w->update_mask |= KVS_UPD_ACCESS;
        }
    }
    if (rc == 0 && json_object_get(body, "title")) {
        rc = take_title(r, body, w);
        w->update_mask |= KVS_UPD_TITLE;
    }
    if (rc == 0 && json_object_get(body, "schema")) {
        rc = take_schema(r, body, w);
        w->update_mask |= KVS_UPD_SCHEMA;
    }
    json_decref(body);
    if (rc == 0)
        kvs_http_submit(r);
}

void kvs_api_store_update_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc == KVS_ENAMETAKEN)
        kvs_reply_error(r, rc, "You already have a key-value store named \"%s\".", r->w.store.name);
    else if (rc != 0)
        kvs_api_reply_store_error(r, rc);
    else {
        if (r->w.store.username[0] == '\0')
            memcpy(r->w.store.username, r->store.username, sizeof r->w.store.username);
        kvs_reply_data(r, 200, kvs_api_store_json(r, &r->w.store));
    }
}

/* ---- delete -------------------------------------------------------------------------------- */

void kvs_api_store_delete(struct kvs_req *r)
{
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_MANAGE);
    if (s == NULL || kvs_api_store_delete_refused(r, s) != 0)
        return;
    r->w.op = KVS_W_STORE_DELETE;
    memcpy(r->w.store_id, s->id, sizeof r->w.store_id);
    kvs_http_submit(r);
}

void kvs_api_store_delete_done(struct kvs_req *r)
{
    if (r->w.result != 0)
        kvs_api_reply_store_error(r, r->w.result);
    else
        kvs_reply_empty(r, 204);
}

/* ---- the URL-signing key -------------------------------------------------------------------- */

/* Links to a store's keys and records are signed with its secret, and signatures do not
 * expire by themselves (a record's never does): the only way to end the links in circulation
 * is a new secret. The storage makes one by itself whenever a WRITE share goes (storage.h,
 * "Signing secrets"); here the owner asks for one. The answer is the store object with the
 * new secret and a keysPublicUrl signed with it. */
void kvs_api_store_rotate_key(struct kvs_req *r)
{
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_MANAGE);
    if (s == NULL)
        return;
    r->w.op = KVS_W_STORE_UPDATE;
    r->w.update_mask = KVS_UPD_SECRET;
    memcpy(r->w.store_id, s->id, sizeof r->w.store_id);
    kvs_http_submit(r); /* answered by kvs_api_store_update_done */
}
