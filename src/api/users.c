/* users.c — users and their API tokens:
 *   GET    /v2/users                  every user (admin)
 *   POST   /v2/users                  {"username", "isAdmin"?, "defaultGeneralAccess"?} → 201,
 *                                     the user and its first token, shown only this once (admin)
 *   GET    /v2/users/{user}           one user: the whole object for the admin and the user
 *                                     itself, the public part {id, username, profile} for
 *                                     anyone else with a token (as the platform's public
 *                                     user object, which `apify kvs info` reads)
 *   PUT    /v2/users/{user}           {"defaultGeneralAccess"} → 200 (admin, or the user)
 *   DELETE /v2/users/{user}           → 204 (admin): the user, their tokens, the shares they
 *                                     were given, and every store they own with its records;
 *                                     the only admin left is refused (400)
 *   GET    /v2/users/{user}/usage     what the user's stores hold: stores (named and all),
 *                                     records, bytes (admin, or the user)
 *   GET    /v2/users/{user}/tokens    the user's tokens by prefix (admin, or the user)
 *   POST   /v2/users/{user}/tokens    a new token, shown only this once → 201 (admin); the
 *                                     body may limit it: {"scope"?, "expiresAt"? |
 *                                     "expiresInSecs"?} (auth/scope.h)
 *   DELETE /v2/tokens/{prefix}        revoke a token → 204 (admin: any; a user: their own)
 *
 * {user} is a user ID, a username or "me", the caller ("me" is therefore no valid username); an
 * ID is tried first, so a 17-character username that is also another user's ID names that
 * user. A user is {"id", "username", "profile", "isAdmin", "defaultGeneralAccess",
 * "createdAt"} (profile is {}: kvstore keeps no profile), and for the caller itself also
 * "currentToken": the token of the request {"prefix", "expiresAt", "scope"} (not "token":
 * apify-cli keeps the user it reads beside its token, under "token"); a token is listed as
 * {"prefix", "createdAt", "expiresAt", "scope"}: its first characters (auth/token.h), never
 * the token.
 *
 * Scoped tokens (auth/scope.h): everything here but GET of a user is administration, which a
 * token's scope may withhold; such a token may still revoke itself (by its whole text or its
 * prefix). A token makes tokens only within its own scope and expiry, and only an unlimited
 * one makes users (a new user's first token opens everything that user will own).
 *
 * Only the admin creates tokens, even for themselves a user may not: a leaked token must not
 * be able to mint others, so that revoking it cuts the access it gave. A user may list and
 * revoke their own tokens. Asking for another user's tokens, or changing another user, without
 * being the admin is 403 whether or not that user exists; a user's public part is no secret,
 * so GET of a user that does not exist is 404 for everyone. {prefix} is up to KVS_TOKEN_PREFIX_MAX
 * characters of a token's prefix; anything longer is taken as the whole token. A prefix shared by
 * several tokens is 400 and revokes nothing. Revocation holds from the response on: every request
 * looks the token up anew. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "auth/access.h"
#include "auth/scope.h"
#include "auth/token.h"
#include "common/clock.h"
#include "kvs.h"
#include "server/reply.h"

#define USERS_LIMIT_MAX 1000

static json_t *iso_or_null(int64_t ms)
{
    if (ms <= 0)
        return json_null(); /* a token from before creation times were kept */
    char when[KVS_ISO_LEN + 1];
    kvs_iso8601(ms, when);
    return json_string(when);
}

/* The public part of user U: what anyone may see. */
static json_t *user_public_json(const struct kvs_user *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(u->id));
    json_object_set_new(o, "username", json_string(u->username));
    json_object_set_new(o, "profile", json_object());
    return o;
}

/* The whole user U: for the admin and for U itself. */
static json_t *user_json(const struct kvs_user *u)
{
    json_t *o = user_public_json(u);
    json_object_set_new(o, "isAdmin", json_boolean(u->is_admin));
    json_object_set_new(o, "defaultGeneralAccess",
                        json_string(kvs_access_name((enum kvs_general_access)u->default_access)));
    json_object_set_new(o, "createdAt", iso_or_null(u->created_ms));
    return o;
}

/* Whether R's caller is the admin, through a token that may administer (auth/scope.h): an
 * admin's token without administration is an ordinary user's. */
static int is_admin(const struct kvs_req *r)
{
    return r->authenticated && r->user.is_admin && kvs_scope_may_administer(&r->scope);
}

/* Refuse R when its token may not administer (its own account included). Returns 1 when
 * refused (answered). */
static int refuse_unless_administration(struct kvs_req *r)
{
    if (kvs_scope_may_administer(&r->scope))
        return 0;
    kvs_reply_error(r, KVS_EACCESS,
                    "This API token has no administration rights (its scope): it may use "
                    "stores, not manage the account.");
    return 1;
}

/* Refuse R unless its caller is the admin. Returns 1 when refused (answered). */
static int refuse_unless_admin(struct kvs_req *r)
{
    if (is_admin(r))
        return 0;
    if (!refuse_unless_administration(r)) /* else answered: the token's scope */
        kvs_reply_error(r, KVS_EACCESS, "Only the admin may do this.");
    return 1;
}

/* Whether the caller of R is the user U or the admin: who sees and manages U. */
static int is_self_or_admin(const struct kvs_req *r, const struct kvs_user *u)
{
    return is_admin(r) || strcmp(u->id, r->user.id) == 0;
}

/* The user named by the {user} of R's path ("me", a user ID or a username) into *OUT.
 * Returns 0 or KVS_ENOTFOUND, KVS_EIO (nothing replied). */
static int find_user(struct kvs_req *r, struct kvs_user *out)
{
    kvs_slice name = {r->key, r->key_len};
    if (kvs_slice_eq_str(name, "me")) {
        *out = r->user;
        return 0;
    }
    if (r->key_too_long)
        return KVS_ENOTFOUND;
    int rc = kvs_api_read(r);
    if (rc == 0 && kvs_valid_id(name)) {
        rc = kvs_storage_user_get(r->rd, name, out);
        if (rc != KVS_ENOTFOUND)
            return rc;
    }
    if (rc == 0 || rc == KVS_ENOTFOUND)
        rc = kvs_valid_username(name) ? kvs_storage_user_by_name(r->rd, name, out) : KVS_ENOTFOUND;
    return rc;
}

static void reply_user_error(struct kvs_req *r, int rc)
{
    kvs_reply_error(r, rc, rc == KVS_ENOTFOUND ? "User was not found." : NULL);
}

/* The user named by the {user} of R's path into *OUT, if the caller may manage it (the admin,
 * or the user itself): anyone else is refused whether or not the user exists. Returns 0, or
 * replies and returns the error. */
static int target_user(struct kvs_req *r, struct kvs_user *out)
{
    if (refuse_unless_administration(r))
        return KVS_EACCESS;
    kvs_slice name = {r->key, r->key_len};
    int self = kvs_slice_eq_str(name, "me") || kvs_slice_eq_str(name, r->user.username) ||
               kvs_slice_eq_str(name, r->user.id);
    if (!is_admin(r) && !self) {
        kvs_reply_error(r, KVS_EACCESS, "Only the admin may see or change other users.");
        return KVS_EACCESS;
    }
    int rc = find_user(r, out);
    if (rc == 0 && !is_self_or_admin(r, out))
        rc = KVS_EACCESS; /* a username that is also someone else's ID */
    if (rc == KVS_EACCESS)
        kvs_reply_error(r, rc, "Only the admin may see or change other users.");
    else if (rc != 0)
        reply_user_error(r, rc);
    return rc;
}

/* Parse "defaultGeneralAccess" of BODY into *OUT when present (*GIVEN = 1). A user's default
 * is one of the account-level values: FOLLOW_USER_SETTING would follow itself. Replies and
 * returns KVS_EINVAL when invalid. */
static int take_default_access(struct kvs_req *r, json_t *body, uint8_t *out, int *given)
{
    json_t *v = json_object_get(body, "defaultGeneralAccess");
    *given = v != NULL && !json_is_null(v);
    if (!*given)
        return 0;
    enum kvs_general_access ga;
    const char *s = json_string_value(v);
    if (s == NULL || kvs_access_parse(s, &ga) != 0 || ga == KVS_GA_FOLLOW_USER_SETTING) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: defaultGeneralAccess must be one of RESTRICTED, "
                        "ANYONE_WITH_ID_CAN_READ, ANYONE_WITH_NAME_CAN_READ.");
        return KVS_EINVAL;
    }
    *out = (uint8_t)ga;
    return 0;
}

/* Make a new token for R->w: into R->new_token, its hash and prefix into R->w. */
static int new_token(struct kvs_req *r)
{
    int rc = kvs_token_generate(r->new_token);
    if (rc != 0) {
        kvs_reply_error(r, rc, NULL);
        return rc;
    }
    kvs_slice t = kvs_slice_of(r->new_token);
    kvs_token_hash(t, r->w.token_hash);
    kvs_token_prefix(t, r->w.token_prefix);
    return 0;
}

/* Reply 201 with DATA plus the new token, then forget the token: it is shown only once. */
static void reply_with_token(struct kvs_req *r, json_t *data)
{
    json_object_set_new(data, "token", json_string(r->new_token));
    kvs_reply_data(r, 201, data);
    memset(r->new_token, 0, sizeof r->new_token);
}

/* ---- scopes --------------------------------------------------------------------------------- */

/* SCOPE as the API shows it (null for none), with usernames. R's read must be begun. */
static json_t *scope_json(struct kvs_req *r, const struct kvs_scope *scope)
{
    return kvs_scope_json(scope, kvs_scope_name_in_read, r->rd);
}

/* The token R's caller used: {"prefix", "expiresAt", "scope"} (GET /v2/users/me). */
static json_t *caller_token_json(struct kvs_req *r)
{
    char prefix[KVS_TOKEN_PREFIX_MAX + 1];
    kvs_token_prefix(kvs_api_request_token(r), prefix);
    json_t *p = json_string(prefix);
    json_t *scope = kvs_api_read(r) == 0 ? scope_json(r, &r->scope)
                                          : kvs_scope_json(&r->scope, NULL, NULL);
    return json_pack("{s:o,s:o,s:o}", "prefix", p ? p : json_null(), "expiresAt",
                     iso_or_null(r->token_expires_ms), "scope", scope);
}

/* ---- the collection ------------------------------------------------------------------------- */

struct user_page {
    json_t *items;
    uint64_t offset, limit, total;
};

static int add_user(void *arg, const struct kvs_user *u)
{
    struct user_page *pg = arg;
    uint64_t index = pg->total++;
    if (index >= pg->offset && index - pg->offset < pg->limit)
        json_array_append_new(pg->items, user_json(u));
    return 0;
}

void kvs_api_users_list(struct kvs_req *r)
{
    if (refuse_unless_admin(r))
        return;
    struct user_page pg = {.items = json_array()};
    if (kvs_api_query_uint(r, "offset", 0, &pg.offset) != 0 ||
        kvs_api_query_uint(r, "limit", USERS_LIMIT_MAX, &pg.limit) != 0) {
        json_decref(pg.items);
        kvs_reply_error(r, KVS_EBADPARAM,
                        "Parameters offset and limit must be integers from 0 to "
                        KVS_API_QUERY_MAX_TEXT ".");
        return;
    }
    if (pg.limit == 0 || pg.limit > USERS_LIMIT_MAX)
        pg.limit = USERS_LIMIT_MAX;
    int rc = kvs_api_read(r);
    if (rc == 0)
        rc = kvs_storage_user_list(r->rd, add_user, &pg);
    if (rc != 0) {
        json_decref(pg.items);
        kvs_reply_error(r, rc, NULL);
        return;
    }
    json_t *data = json_object();
    json_object_set_new(data, "total", json_integer((json_int_t)pg.total));
    json_object_set_new(data, "offset", json_integer((json_int_t)pg.offset));
    json_object_set_new(data, "limit", json_integer((json_int_t)pg.limit));
    json_object_set_new(data, "count", json_integer((json_int_t)json_array_size(pg.items)));
    json_object_set_new(data, "desc", json_false());
    json_object_set_new(data, "items", pg.items);
    kvs_reply_data(r, 200, data);
}

void kvs_api_users_create(struct kvs_req *r)
{
    if (refuse_unless_admin(r))
        return;
    if (r->scope.limited || r->token_expires_ms != 0) {
        /* the new user's first token opens all the user will own: more than this token */
        kvs_reply_error(r, KVS_EACCESS,
                        "Insufficient permissions: a token with a scope or an expiry may not "
                        "create users.");
        return;
    }
    int failed;
    json_t *body = kvs_api_body_object(r, &failed);
    if (failed)
        return;
    struct kvs_user *u = &r->w.user;
    const char *name = json_string_value(json_object_get(body, "username"));
    json_t *admin = json_object_get(body, "isAdmin");
    int given = 0, rc = 0;
    if (name == NULL || !kvs_valid_username(kvs_slice_of(name))) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: username must be 1 to 63 letters, digits and "
                        "hyphens, a hyphen neither first nor last.");
        rc = KVS_EINVAL;
    } else if (strcmp(name, "me") == 0) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: the username \"me\" is reserved (/v2/users/me).");
        rc = KVS_EINVAL;
    } else if (admin != NULL && !json_is_boolean(admin) && !json_is_null(admin)) {
        kvs_reply_error(r, KVS_EINVAL, "Invalid value provided: isAdmin must be a boolean.");
        rc = KVS_EINVAL;
    } else {
        snprintf(u->username, sizeof u->username, "%s", name);
        u->is_admin = json_is_true(admin);
        u->default_access = r->srv->cfg.default_access;
        rc = take_default_access(r, body, &u->default_access, &given);
    }
    json_decref(body);
    if (rc == 0 && new_token(r) == 0) {
        r->w.op = KVS_W_USER_CREATE;
        kvs_http_submit(r);
    }
}

void kvs_api_users_create_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc != 0)
        memset(r->new_token, 0, sizeof r->new_token); /* never stored: forget it */
    if (rc == KVS_EEXIST)
        kvs_reply_error(r, rc, "A user named \"%s\" already exists.", r->w.user.username);
    else if (rc != 0)
        kvs_reply_error(r, rc, NULL);
    else
        reply_with_token(r, user_json(&r->w.user));
}

/* ---- one user ----------------------------------------------------------------------------- */

void kvs_api_user_get(struct kvs_req *r)
{
    struct kvs_user u;
    int rc = find_user(r, &u);
    if (rc != 0) {
        reply_user_error(r, rc);
        return;
    }
    int self = strcmp(u.id, r->user.id) == 0;
    json_t *o = self || is_admin(r) ? user_json(&u) : user_public_json(&u);
    if (self) /* the token the caller used, and what limits it */
        json_object_set_new(o, "currentToken", caller_token_json(r));
    kvs_reply_data(r, 200, o);
}

void kvs_api_user_update(struct kvs_req *r)
{
    struct kvs_user u;
    if (target_user(r, &u) != 0)
        return;
    int failed;
    json_t *body = kvs_api_body_object(r, &failed);
    if (failed)
        return;
    int given = 0;
    int rc = take_default_access(r, body, &u.default_access, &given);
    json_decref(body);
    if (rc != 0)
        return;
    if (!given) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: give defaultGeneralAccess, the one setting of a "
                        "user that can be changed.");
        return;
    }
    r->w.user = u;
    r->w.op = KVS_W_USER_UPDATE;
    kvs_http_submit(r);
}

void kvs_api_user_update_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc != 0)
        reply_user_error(r, rc);
    else
        kvs_reply_data(r, 200, user_json(&r->w.user));
}

/* The user's stores go with them rather than refusing the delete while they own any: what
 * an admin deletes a user for (someone who left, a test account) leaves nothing of theirs
 * behind, and nobody else could reach an orphaned store anyway. The console and `kvs user
 * delete` say how many stores go before they ask. */
void kvs_api_user_delete(struct kvs_req *r)
{
    if (refuse_unless_admin(r))
        return;
    struct kvs_user u;
    if (target_user(r, &u) != 0)
        return;
    r->w.user = u;
    r->w.op = KVS_W_USER_DELETE;
    kvs_http_submit(r);
}

void kvs_api_user_delete_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc == KVS_EINVAL)
        kvs_reply_error(r, rc,
                        "User \"%s\" is the only admin and cannot be deleted: create another admin "
                        "first.",
                        r->w.user.username);
    else if (rc != 0)
        reply_user_error(r, rc);
    else
        kvs_reply_empty(r, 204);
}

/* ---- usage -------------------------------------------------------------------------------- */

struct usage {
    uint64_t named, records, bytes;
};

static int add_usage(void *arg, const struct kvs_store *s)
{
    struct usage *u = arg;
    u->named += s->name[0] != '\0';
    u->records += s->stats.record_count;
    u->bytes += s->stats.storage_bytes;
    return 0;
}

/* The totals the console shows above the store list (the platform's Storage tab shows the
 * same): over the stores the user owns, unnamed ones included; shared stores count for their
 * owners. Cost: O(stores of the user), each read once. */
void kvs_api_user_usage(struct kvs_req *r)
{
    struct kvs_user u;
    if (target_user(r, &u) != 0)
        return;
    struct usage sum = {0};
    uint64_t stores = 0;
    int rc = kvs_api_read(r);
    if (rc == 0)
        rc = kvs_storage_store_list(r->rd, kvs_slice_of(u.id), 0, UINT64_MAX, 0, 1, add_usage, &sum,
                                    &stores);
    if (rc != 0) {
        kvs_reply_error(r, rc, NULL);
        return;
    }
    kvs_reply_data(r, 200,
                   json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "userId", u.id, "username", u.username,
                             "stores", (json_int_t)stores, "namedStores", (json_int_t)sum.named,
                             "records", (json_int_t)sum.records, "storageBytes",
                             (json_int_t)sum.bytes));
}

/* ---- tokens ------------------------------------------------------------------------------- */

struct token_listing {
    struct kvs_req *r;
    json_t *items;
    int rc; /* a damaged row */
};

static int add_token(void *arg, const struct kvs_token_info *t)
{
    struct token_listing *l = arg;
    json_t *prefix = json_string(t->prefix); /* NULL for a prefix that is not UTF-8 */
    struct kvs_scope scope;
    int rc = kvs_scope_load(t->scope, &scope);
    if (rc != 0)
        return l->rc = rc; /* a damaged row: say so rather than show it as unlimited */
    json_array_append_new(
        l->items, json_pack("{s:o,s:o,s:o,s:o}", "prefix", prefix ? prefix : json_null(),
                            "createdAt", iso_or_null(t->created_ms), "expiresAt",
                            iso_or_null(t->expires_ms), "scope", scope_json(l->r, &scope)));
    return 0;
}

void kvs_api_tokens_list(struct kvs_req *r)
{
    struct kvs_user u;
    if (target_user(r, &u) != 0)
        return;
    struct token_listing l = {r, json_array(), 0};
    json_t *items = l.items;
    int rc = kvs_api_read(r);
    if (rc == 0)
        rc = kvs_storage_token_list(r->rd, kvs_slice_of(u.id), add_token, &l);
    if (rc == 0)
        rc = l.rc;
    if (rc != 0) {
        json_decref(items);
        kvs_reply_error(r, rc, NULL);
        return;
    }
    size_t n = json_array_size(items);
    kvs_reply_data(r, 200,
                   json_pack("{s:s,s:s,s:I,s:I,s:o}", "userId", u.id, "username", u.username,
                             "total", (json_int_t)n, "count", (json_int_t)n, "items", items));
}

/* The expiry of a token request BODY: "expiresAt" (ISO 8601, with its zone) or
 * "expiresInSecs" (a positive integer), or neither (0, never), into *OUT. Replies and returns
 * KVS_EINVAL when invalid or past. */
static int take_expiry(struct kvs_req *r, json_t *body, int64_t *out)
{
    json_t *at = json_object_get(body, "expiresAt"), *in = json_object_get(body, "expiresInSecs");
    int has_at = at != NULL && !json_is_null(at), has_in = in != NULL && !json_is_null(in);
    int64_t now = kvs_now_ms();
    *out = 0;
    if (has_at && has_in) {
        kvs_reply_error(r, KVS_EINVAL, "Invalid value provided: give expiresAt or expiresInSecs.");
        return KVS_EINVAL;
    }
    if (has_at && (!json_is_string(at) || kvs_iso8601_parse(json_string_value(at), out) != 0)) {
        kvs_reply_error(r, KVS_EINVAL,
                        "Invalid value provided: expiresAt must be an ISO 8601 date and time "
                        "with its zone (2027-01-31T12:00:00Z).");
        return KVS_EINVAL;
    }
    if (has_in) {
        json_int_t secs = json_is_integer(in) ? json_integer_value(in) : 0;
        if (secs <= 0 || secs > 100LL * 365 * 86400) {
            kvs_reply_error(r, KVS_EINVAL,
                            "Invalid value provided: expiresInSecs must be an integer from 1 to "
                            "3153600000 (100 years).");
            return KVS_EINVAL;
        }
        *out = now + (int64_t)secs * 1000;
    }
    if (*out != 0 && *out <= now) {
        kvs_reply_error(r, KVS_EINVAL, "Invalid value provided: the token would expire at once.");
        return KVS_EINVAL;
    }
    return 0;
}

/* A token made by R's caller may allow nothing the caller's own token does not: its scope must
 * lie within the caller's, and it must expire no later. Returns 0, or replies 403. */
static int refuse_wider(struct kvs_req *r, const struct kvs_scope *scope, int64_t expires)
{
    const char *why = NULL;
    if (!kvs_scope_within(scope, &r->scope))
        why = "a token may not make another that reaches beyond its own scope";
    else if (r->token_expires_ms != 0 && (expires == 0 || expires > r->token_expires_ms))
        why = "a token may not make another that expires later than itself";
    if (why == NULL)
        return 0;
    kvs_reply_error(r, KVS_EACCESS, "Insufficient permissions: %s.", why);
    return KVS_EACCESS;
}

void kvs_api_tokens_create(struct kvs_req *r)
{
    if (refuse_unless_admin(r))
        return;
    if (target_user(r, &r->w.user) != 0)
        return;
    int failed;
    json_t *body = kvs_api_body_object(r, &failed);
    if (failed)
        return;
    struct kvs_scope scope;
    int64_t expires = 0;
    char why[160] = "";
    const char *keys[] = {"scope", "expiresAt", "expiresInSecs"};
    size_t known = 0;
    for (size_t i = 0; i < 3; i++)
        known += json_object_get(body, keys[i]) != NULL;
    int rc = body != NULL && json_object_size(body) != known ? KVS_EINVAL : 0;
    if (rc != 0)
        snprintf(why, sizeof why, "a token takes scope, expiresAt or expiresInSecs, and nothing "
                                  "else.");
    if (rc == 0 && (rc = kvs_api_read(r)) == 0) {
        struct kvs_scope_resolver res = kvs_scope_resolver_of(r->rd);
        rc = kvs_scope_from_api(json_object_get(body, "scope"), r->w.user.id, &res, &scope, why,
                                sizeof why);
    }
    int answered = 0;
    if (rc == KVS_EINVAL || rc == KVS_ENOTFOUND)
        kvs_reply_error(r, KVS_EINVAL, "Invalid value provided: %s", why);
    else if (rc != 0)
        kvs_reply_error(r, rc, NULL);
    else
        answered = take_expiry(r, body, &expires) != 0;
    json_decref(body);
    if (rc != 0 || answered || refuse_wider(r, &scope, expires) != 0 || new_token(r) != 0)
        return;
    /* The body is parsed: its buffer holds the scope's text while the write needs it. */
    kvs_buf_free(&r->body);
    kvs_buf_init(&r->body, KVS_TOKEN_SCOPE_MAX + 1);
    char text[KVS_TOKEN_SCOPE_MAX + 1];
    size_t n = kvs_scope_text(&scope, text);
    if (n > 0 && kvs_buf_append(&r->body, text, n) != 0) {
        memset(r->new_token, 0, sizeof r->new_token);
        kvs_reply_error(r, KVS_ENOMEM, NULL);
        return;
    }
    r->w.token_scope = kvs_buf_slice(&r->body);
    r->w.token_expires_ms = expires;
    r->w.op = KVS_W_TOKEN_ADD;
    kvs_http_submit(r);
}

void kvs_api_tokens_create_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc != 0) {
        memset(r->new_token, 0, sizeof r->new_token);
        reply_user_error(r, rc);
        return;
    }
    char when[KVS_ISO_LEN + 1];
    kvs_iso8601(kvs_now_ms(), when);
    struct kvs_scope scope;
    if (kvs_scope_load(r->w.token_scope, &scope) != 0)
        memset(&scope, 0, sizeof scope); /* made from a scope just now: cannot happen */
    int rd_ok = kvs_api_read(r) == 0; /* for the usernames of the scope */
    json_t *scope_j = rd_ok ? scope_json(r, &scope) : kvs_scope_json(&scope, NULL, NULL);
    reply_with_token(r, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "userId", r->w.user.id,
                                  "username", r->w.user.username, "prefix", r->w.token_prefix,
                                  "createdAt", when, "expiresAt",
                                  iso_or_null(r->w.token_expires_ms), "scope", scope_j));
}

void kvs_api_token_revoke(struct kvs_req *r)
{
    struct kvs_write *w = &r->w;
    w->op = KVS_W_TOKEN_REVOKE;
    if (!is_admin(r))
        memcpy(w->user.id, r->user.id, sizeof w->user.id); /* their own tokens only */
    int whole = r->key_too_long || r->key_len > KVS_TOKEN_PREFIX_MAX;
    if (!kvs_scope_may_administer(&r->scope)) {
        /* Without administration a token may revoke only itself (signing out), named whole
         * or by its own prefix; compared in constant time. */
        kvs_slice mine = kvs_api_request_token(r);
        char prefix[KVS_TOKEN_PREFIX_MAX + 1];
        size_t pn = kvs_token_prefix(mine, prefix);
        int self = whole ? mine.n == r->key_len && CRYPTO_memcmp(mine.p, r->key, mine.n) == 0
                         : pn > 0 && pn == r->key_len && CRYPTO_memcmp(prefix, r->key, pn) == 0;
        if (!self) {
            refuse_unless_administration(r);
            return;
        }
        kvs_token_hash(mine, w->token_hash); /* by its hash: this token and no other */
        kvs_http_submit(r);
        return;
    }
    if (whole)
        kvs_token_hash((kvs_slice){r->key, r->key_len}, w->token_hash); /* a whole token */
    else
        w->key = (kvs_slice){r->key, r->key_len};
    kvs_http_submit(r);
}

void kvs_api_token_revoke_done(struct kvs_req *r)
{
    int rc = r->w.result;
    if (rc == KVS_ENOTFOUND)
        kvs_reply_error(r, rc, "No token matches this prefix.");
    else if (rc != 0)
        kvs_reply_error(r, rc, NULL);
    else
        kvs_reply_empty(r, 204);
}
