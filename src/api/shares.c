/* shares.c — who else may use a store (the owner's or the admin's to change):
 *   GET    /v2/key-value-stores/{store}/shares             the store's shares
 *   PUT    /v2/key-value-stores/{store}/shares/{username}  {"access": "READ" | "WRITE"} → 200
 *   DELETE /v2/key-value-stores/{store}/shares/{username}  take the share back → 204
 *
 * A share is {"userId", "username", "access"}. READ lets the user read the store; WRITE lets
 * them also put and delete records (see auth/access.h). Sharing is the owner's: a user with a
 * share can neither see nor change the others' (403). Taking back a share that does not
 * exist succeeds (204), like deleting a missing record. The username of a share is not a
 * secret among users: a store's owner may learn whether a username exists by sharing. */
#include <string.h>

#include "api/api.h"
#include "auth/access.h"
#include "kvs.h"
#include "server/reply.h"

static json_t *share_json(const char *user_id, const char *username, enum kvs_share_level level)
{
    return json_pack("{s:s,s:s,s:s}", "userId", user_id, "username", username, "access",
                     kvs_share_name(level));
}

/* ---- list ---------------------------------------------------------------------------------- */

static int add_share(void *arg, const struct kvs_share *sh)
{
    json_array_append_new(arg,
                          share_json(sh->user_id, sh->username, (enum kvs_share_level)sh->level));
    return 0;
}

void kvs_api_shares_list(struct kvs_req *r)
{
    struct kvs_store *s = kvs_api_store_or_reply(r, KVS_NEED_MANAGE);
    if (s == NULL)
        return;
    json_t *items = json_array();
    int rc = kvs_storage_share_list(r->rd, kvs_slice_of(s->id), add_share, items);
    if (rc != 0) {
        json_decref(items);
        kvs_reply_error(r, rc, NULL);
        return;
    }
    size_t n = json_array_size(items);
    kvs_reply_data(
        r, 200,
        json_pack("{s:I,s:I,s:o}", "total", (json_int_t)n, "count", (json_int_t)n, "items", items));
}

/* ---- set and delete ------------------------------------------------------------------------- */

/* Resolve the store (the owner's to manage) and the {username} of a share path into
 * R->store and R->w.user. Replies and returns an error when either fails. */
static int share_target(struct kvs_req *r)
{
    if (kvs_api_store_or_reply(r, KVS_NEED_MANAGE) == NULL)
        return KVS_EACCESS; /* answered */
    kvs_slice name = {r->key, r->key_len};
    int rc = KVS_ENOTFOUND;
    if (!r->key_too_long && kvs_valid_username(name))
        rc = kvs_storage_user_by_name(r->rd, name, &r->w.user);
    if (rc == KVS_ENOTFOUND)
        kvs_reply_error(r, rc, "User was not found.");
    else if (rc != 0)
        kvs_reply_error(r, rc, NULL);
    else if (strcmp(r->w.user.id, r->store.user_id) == 0) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: the owner of a store always has full access.");
        rc = KVS_EINVAL;
    }
    return rc;
}

void kvs_api_share_set(struct kvs_req *r)
{
    int failed;
    json_t *body = kvs_api_body_object(r, &failed);
    if (failed)
        return;
    enum kvs_share_level level;
    const char *access = json_string_value(json_object_get(body, "access"));
    int bad = access == NULL || kvs_share_parse(access, &level) != 0;
    json_decref(body);
    if (bad) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: access must be \"READ\" or \"WRITE\".");
        return;
    }
    if (share_target(r) != 0)
        return;
    r->w.op = KVS_W_SHARE_SET;
    memcpy(r->w.store_id, r->store.id, sizeof r->w.store_id);
    r->w.share_level = (uint8_t)level;
    kvs_http_submit(r);
}

void kvs_api_share_set_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc == KVS_ENOTFOUND) /* the store or the user went away meanwhile */
        kvs_reply_error(r, rc, "Key-value store or user was not found.");
    else if (rc != 0)
        kvs_reply_error(r, rc, NULL);
    else
        kvs_reply_data(
            r, 200,
            share_json(r->w.user.id, r->w.user.username, (enum kvs_share_level)r->w.share_level));
}

void kvs_api_share_delete(struct kvs_req *r)
{
    if (share_target(r) != 0)
        return;
    r->w.op = KVS_W_SHARE_DELETE;
    memcpy(r->w.store_id, r->store.id, sizeof r->w.store_id);
    kvs_http_submit(r);
}

void kvs_api_share_delete_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc != 0 && rc != KVS_ENOTFOUND) /* not shared (any more): what was asked holds */
        kvs_reply_error(r, rc, NULL);
    else
        kvs_reply_empty(r, 204);
}
