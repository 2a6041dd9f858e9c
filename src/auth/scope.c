/* scope.c — token scopes: parsing, canonical text, and what a scope allows (see scope.h). */
#include "auth/scope.h"

#include <stdio.h>
#include <string.h>

#include "kvs.h"

static const char *level_name(uint8_t level)
{
    return level == KVS_SHARE_WRITE ? "WRITE" : "READ";
}

/* "READ" or "WRITE" (absent: READ, the least) into *OUT. Returns 0 or -1. */
static int parse_level(const json_t *v, uint8_t *out)
{
    const char *s = json_string_value(v);
    if (v == NULL || json_is_null(v))
        *out = KVS_SHARE_READ;
    else if (s != NULL && strcmp(s, "READ") == 0)
        *out = KVS_SHARE_READ;
    else if (s != NULL && strcmp(s, "WRITE") == 0)
        *out = KVS_SHARE_WRITE;
    else
        return -1;
    return 0;
}

/* A store-name prefix: 1..63 characters a name may hold, not starting with a hyphen. */
static int valid_prefix(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > KVS_NAME_MAX || p[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return 0;
    }
    return 1;
}

static int fail(char *why, size_t why_n, int rc, const char *msg)
{
    snprintf(why, why_n, "%s", msg);
    return rc;
}

/* The owner USERNAME (NULL: the token's user, SELF_ID) into OUT->user_id. */
static int owner_of(const char *username, const char *self_id, const struct kvs_scope_resolver *res,
                    struct kvs_scope_store *out, char *why, size_t why_n)
{
    if (username == NULL) {
        snprintf(out->user_id, sizeof out->user_id, "%s", self_id);
        return 0;
    }
    int rc = kvs_valid_username(kvs_slice_of(username))
                 ? res->user_id(res->arg, kvs_slice_of(username), out->user_id)
                 : KVS_ENOTFOUND;
    if (rc == KVS_ENOTFOUND)
        snprintf(why, why_n, "User \"%.63s\" named in scope.stores was not found.", username);
    return rc;
}

/* {"store": REF}: REF read as scope.h says into OUT (its level set already). */
static int parse_ref(const char *ref, const char *self_id, const struct kvs_scope_resolver *res,
                     struct kvs_scope_store *out, char *why, size_t why_n)
{
    char owner[KVS_NAME_MAX + 1] = "", rest[KVS_NAME_MAX + 2];
    const char *tilde = strchr(ref, '~');
    if (tilde != NULL) {
        if ((size_t)(tilde - ref) > KVS_NAME_MAX || tilde == ref)
            return fail(why, why_n, KVS_EINVAL, "scope.stores[].store: no such username.");
        memcpy(owner, ref, (size_t)(tilde - ref));
        owner[tilde - ref] = '\0';
        ref = tilde + 1;
    }
    size_t n = strlen(ref);
    if (n == 0 || n > KVS_NAME_MAX + 1)
        return fail(why, why_n, KVS_EINVAL,
                    "scope.stores[].store must be an ID, a name, USERNAME~NAME or a prefix*.");
    memcpy(rest, ref, n + 1);
    if (rest[n - 1] == '*') {
        rest[n - 1] = '\0';
        if (!valid_prefix(rest))
            return fail(why, why_n, KVS_EINVAL,
                        "scope.stores[].store: a prefix* is 1 to 63 letters, digits and hyphens "
                        "(not first), then '*'.");
        out->match = KVS_SCOPE_PREFIX;
    } else {
        if (!owner[0] && kvs_valid_id(kvs_slice_of(rest))) {
            int exists = res->store_exists(res->arg, kvs_slice_of(rest));
            if (exists < 0)
                return exists;
            if (exists) {
                out->match = KVS_SCOPE_ID;
                snprintf(out->value, sizeof out->value, "%s", rest);
                return 0;
            }
        }
        if (!kvs_valid_store_name(kvs_slice_of(rest)))
            return fail(why, why_n, KVS_EINVAL,
                        "scope.stores[].store must be an ID, a name, USERNAME~NAME or a prefix*.");
        out->match = KVS_SCOPE_NAME;
    }
    snprintf(out->value, sizeof out->value, "%s", rest);
    return owner_of(owner[0] ? owner : NULL, self_id, res, out, why, why_n);
}

/* One entry of "stores" (API form when RES is set, canonical "userId" form when not). */
static int parse_entry(const json_t *e, const char *self_id, const struct kvs_scope_resolver *res,
                       struct kvs_scope_store *out, char *why, size_t why_n)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(e))
        return fail(why, why_n, KVS_EINVAL, "Each entry of scope.stores must be an object.");
    const char *ref = res ? json_string_value(json_object_get(e, "store")) : NULL;
    if (ref != NULL) {
        if (json_object_size(e) != 1 + (json_object_get(e, "access") != NULL))
            return fail(why, why_n, KVS_EINVAL,
                        "An entry of scope.stores with store takes only access besides.");
        if (parse_level(json_object_get(e, "access"), &out->level) != 0)
            return fail(why, why_n, KVS_EINVAL, "scope.stores[].access must be READ or WRITE.");
        return parse_ref(ref, self_id, res, out, why, why_n);
    }
    const char *id = json_string_value(json_object_get(e, "id"));
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *prefix = json_string_value(json_object_get(e, "namePrefix"));
    size_t keys = json_object_size(e);
    size_t known = (json_object_get(e, "id") != NULL) + (json_object_get(e, "name") != NULL) +
                   (json_object_get(e, "namePrefix") != NULL) +
                   (json_object_get(e, "access") != NULL) +
                   (json_object_get(e, res ? "username" : "userId") != NULL);
    if ((id != NULL) + (name != NULL) + (prefix != NULL) != 1 || keys != known)
        return fail(why, why_n, KVS_EINVAL,
                    "Each entry of scope.stores takes one of store, id, name or namePrefix, "
                    "then username and access, and nothing else.");
    if (parse_level(json_object_get(e, "access"), &out->level) != 0)
        return fail(why, why_n, KVS_EINVAL, "scope.stores[].access must be READ or WRITE.");
    if (id != NULL) {
        if (!kvs_valid_id(kvs_slice_of(id)) || json_object_get(e, "username") ||
            json_object_get(e, "userId"))
            return fail(why, why_n, KVS_EINVAL,
                        "scope.stores[].id must be a store ID (17 letters and digits), without "
                        "a username.");
        out->match = KVS_SCOPE_ID;
        snprintf(out->value, sizeof out->value, "%s", id);
        return 0;
    }
    if (name != NULL && !kvs_valid_store_name(kvs_slice_of(name)))
        return fail(why, why_n, KVS_EINVAL, "scope.stores[].name must be a valid store name.");
    if (prefix != NULL && !valid_prefix(prefix))
        return fail(why, why_n, KVS_EINVAL,
                    "scope.stores[].namePrefix must be 1 to 63 letters, digits and hyphens, not "
                    "starting with a hyphen.");
    out->match = name ? KVS_SCOPE_NAME : KVS_SCOPE_PREFIX;
    snprintf(out->value, sizeof out->value, "%s", name ? name : prefix);
    const json_t *owner = json_object_get(e, res ? "username" : "userId");
    const char *o = json_string_value(owner);
    if (owner != NULL && o == NULL)
        return fail(why, why_n, KVS_EINVAL, "scope.stores[].username must be a string.");
    if (res == NULL) { /* canonical: always an owner ID */
        if (o == NULL || !kvs_valid_id(kvs_slice_of(o)))
            return KVS_EIO;
        snprintf(out->user_id, sizeof out->user_id, "%s", o);
        return 0;
    }
    return owner_of(o, self_id, res, out, why, why_n);
}

/* IN (an object) into OUT; API form when RES is set. */
static int parse(const json_t *in, const char *self_id, const struct kvs_scope_resolver *res,
                 struct kvs_scope *out, char *why, size_t why_n)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(in))
        return fail(why, why_n, KVS_EINVAL, "scope must be an object or null.");
    const json_t *stores = json_object_get(in, "stores");
    const json_t *admin = json_object_get(in, "administration");
    size_t known = (stores != NULL) + (admin != NULL) + (json_object_get(in, "access") != NULL);
    if (json_object_size(in) != known)
        return fail(why, why_n, KVS_EINVAL,
                    "scope takes stores, access and administration, and nothing else.");
    if (admin != NULL && !json_is_boolean(admin))
        return fail(why, why_n, KVS_EINVAL, "scope.administration must be true or false.");
    out->limited = 1;
    out->admin = json_is_true(admin);
    if (stores == NULL || json_is_null(stores)) {
        out->all_stores = 1;
        if (parse_level(json_object_get(in, "access"), &out->all_level) != 0)
            return fail(why, why_n, KVS_EINVAL, "scope.access must be READ or WRITE.");
        return 0;
    }
    if (json_object_get(in, "access") != NULL)
        return fail(why, why_n, KVS_EINVAL,
                    "scope.access is for every store: give it without scope.stores, or give "
                    "each entry of scope.stores its own access.");
    if (!json_is_array(stores) || json_array_size(stores) > KVS_SCOPE_STORES_MAX)
        return fail(why, why_n, KVS_EINVAL,
                    "scope.stores must be null or a list of at most 16 entries.");
    size_t i;
    const json_t *e;
    json_array_foreach(stores, i, e)
    {
        int rc = parse_entry(e, self_id, res, &out->s[out->n], why, why_n);
        if (rc != 0)
            return rc;
        out->n++;
    }
    return 0;
}

int kvs_scope_from_api(const json_t *in, const char *self_id,
                       const struct kvs_scope_resolver *res, struct kvs_scope *out, char *why,
                       size_t why_n)
{
    if (in == NULL || json_is_null(in)) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    return parse(in, self_id, res, out, why, why_n);
}

int kvs_scope_load(kvs_slice text, struct kvs_scope *out)
{
    memset(out, 0, sizeof *out);
    if (text.n == 0)
        return 0;
    json_t *in = json_loadb(text.p, text.n, JSON_REJECT_DUPLICATES, NULL);
    char why[8];
    int rc = in ? parse(in, "", NULL, out, why, sizeof why) : KVS_EIO;
    json_decref(in);
    if (rc != 0) {
        memset(out, 0, sizeof *out);
        return KVS_EIO;
    }
    return 0;
}

/* S as JSON: canonical (NAME_OF NULL: "userId") or for the API ("username"). */
static json_t *to_json(const struct kvs_scope *s, kvs_scope_name_fn name_of, void *arg)
{
    if (!s->limited)
        return json_null();
    json_t *o = json_object();
    if (s->all_stores) {
        json_object_set_new(o, "stores", json_null());
        json_object_set_new(o, "access", json_string(level_name(s->all_level)));
    } else {
        json_t *list = json_array();
        for (unsigned i = 0; i < s->n; i++) {
            const struct kvs_scope_store *e = &s->s[i];
            json_t *j = json_object();
            const char *what = e->match == KVS_SCOPE_ID     ? "id"
                               : e->match == KVS_SCOPE_NAME ? "name"
                                                            : "namePrefix";
            json_object_set_new(j, what, json_string(e->value));
            if (e->match != KVS_SCOPE_ID) {
                char name[KVS_NAME_MAX + 1];
                if (name_of != NULL && name_of(arg, e->user_id, name) == 0)
                    json_object_set_new(j, "username", json_string(name));
                else
                    json_object_set_new(j, "userId", json_string(e->user_id));
            }
            json_object_set_new(j, "access", json_string(level_name(e->level)));
            json_array_append_new(list, j);
        }
        json_object_set_new(o, "stores", list);
    }
    json_object_set_new(o, "administration", json_boolean(s->admin));
    return o;
}

size_t kvs_scope_text(const struct kvs_scope *s, char out[KVS_SCOPE_TEXT_MAX + 1])
{
    out[0] = '\0';
    if (!s->limited)
        return 0;
    json_t *o = to_json(s, NULL, NULL);
    /* 16 entries of at most ~140 bytes each: always fits */
    size_t n = json_dumpb(o, out, KVS_SCOPE_TEXT_MAX, JSON_COMPACT);
    json_decref(o);
    if (n > KVS_SCOPE_TEXT_MAX)
        n = 0;
    out[n] = '\0';
    return n;
}

json_t *kvs_scope_json(const struct kvs_scope *s, kvs_scope_name_fn name_of, void *arg)
{
    return to_json(s, name_of, arg);
}

/* Whether entry E names store ST. */
static int names(const struct kvs_scope_store *e, const struct kvs_store *st)
{
    switch (e->match) {
    case KVS_SCOPE_ID:
        return strcmp(e->value, st->id) == 0;
    case KVS_SCOPE_NAME:
        return st->name[0] != '\0' && strcmp(e->user_id, st->user_id) == 0 &&
               strcmp(e->value, st->name) == 0;
    case KVS_SCOPE_PREFIX:
        return st->name[0] != '\0' && strcmp(e->user_id, st->user_id) == 0 &&
               strncmp(st->name, e->value, strlen(e->value)) == 0;
    }
    return 0;
}

enum kvs_scope_level kvs_scope_on(const struct kvs_scope *s, const struct kvs_store *st)
{
    if (!s->limited)
        return KVS_SCOPE_MANAGE;
    uint8_t level = s->all_stores ? s->all_level : KVS_SHARE_NONE;
    for (unsigned i = 0; !s->all_stores && i < s->n; i++)
        if (s->s[i].level > level && names(&s->s[i], st))
            level = s->s[i].level;
    if (level == KVS_SHARE_NONE)
        return KVS_SCOPE_NONE;
    if (level == KVS_SHARE_READ)
        return KVS_SCOPE_READ;
    return s->admin ? KVS_SCOPE_MANAGE : KVS_SCOPE_WRITE;
}

int kvs_scope_may_create(const struct kvs_scope *s, const char *owner_id, const char *name)
{
    if (!s->limited)
        return 1;
    if (s->all_stores)
        return s->all_level == KVS_SHARE_WRITE;
    if (name[0] == '\0')
        return 0; /* an unnamed store has no name to be in a list of names by */
    struct kvs_store would = {0};
    snprintf(would.user_id, sizeof would.user_id, "%s", owner_id);
    snprintf(would.name, sizeof would.name, "%s", name);
    /* its ID is new: no ID entry names it */
    return kvs_scope_on(s, &would) >= KVS_SCOPE_WRITE;
}

int kvs_scope_may_administer(const struct kvs_scope *s)
{
    return !s->limited || s->admin;
}

/* Whether parent entry P covers every store child entry C names. */
static int covers(const struct kvs_scope_store *p, const struct kvs_scope_store *c)
{
    if (c->level > p->level)
        return 0;
    switch (p->match) {
    case KVS_SCOPE_ID:
        return c->match == KVS_SCOPE_ID && strcmp(p->value, c->value) == 0;
    case KVS_SCOPE_NAME:
        return c->match == KVS_SCOPE_NAME && strcmp(p->user_id, c->user_id) == 0 &&
               strcmp(p->value, c->value) == 0;
    case KVS_SCOPE_PREFIX:
        return c->match != KVS_SCOPE_ID && strcmp(p->user_id, c->user_id) == 0 &&
               strncmp(c->value, p->value, strlen(p->value)) == 0;
    }
    return 0;
}

int kvs_scope_within(const struct kvs_scope *child, const struct kvs_scope *parent)
{
    if (!parent->limited)
        return 1;
    if (!child->limited || (child->admin && !parent->admin))
        return 0;
    if (parent->all_stores) {
        uint8_t most = child->all_stores ? child->all_level : KVS_SHARE_NONE;
        for (unsigned i = 0; !child->all_stores && i < child->n; i++)
            if (child->s[i].level > most)
                most = child->s[i].level;
        return most <= parent->all_level;
    }
    if (child->all_stores)
        return 0; /* every store, against a list */
    for (unsigned i = 0; i < child->n; i++) {
        int ok = 0;
        for (unsigned j = 0; !ok && j < parent->n; j++)
            ok = covers(&parent->s[j], &child->s[i]);
        if (!ok)
            return 0;
    }
    return 1;
}

/* ---- look-ups in a read ---------------------------------------------------------------------- */

static int user_in_read(void *arg, kvs_slice username, char out[KVS_ID_LEN + 1])
{
    struct kvs_user u;
    int rc = kvs_storage_user_by_name(arg, username, &u);
    if (rc == 0)
        memcpy(out, u.id, KVS_ID_LEN + 1);
    return rc;
}

static int store_in_read(void *arg, kvs_slice id)
{
    struct kvs_store s;
    int rc = kvs_storage_store_get(arg, id, &s);
    kvs_store_clear(&s);
    return rc == 0 ? 1 : rc == KVS_ENOTFOUND ? 0 : rc;
}

struct kvs_scope_resolver kvs_scope_resolver_of(struct kvs_read *rd)
{
    return (struct kvs_scope_resolver){user_in_read, store_in_read, rd};
}

int kvs_scope_name_in_read(void *arg, const char *user_id, char out[KVS_NAME_MAX + 1])
{
    struct kvs_user u;
    int rc = kvs_storage_user_get(arg, kvs_slice_of(user_id), &u);
    if (rc == 0)
        memcpy(out, u.username, KVS_NAME_MAX + 1);
    return rc;
}
