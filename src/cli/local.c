/* local.c — the administration commands on a data directory, through the storage layer
 * (see cli.h). Every change is one write of storage.h, durable when the command reports it. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/access.h"
#include "auth/scope.h"
#include "auth/token.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "kvs.h"
#include "storage/storage.h"

struct local {
    const struct kvs_cli_req *req;
    struct kvs_storage *st;
    struct kvs_read *rd; /* a snapshot for the look-ups before a write */
};

int kvs_cli_has_data_file(const char *dir)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int kvs_cli_open_data(const char *dir, struct kvs_storage **out)
{
    *out = NULL;
    /* A command is a short user of a directory a server may be serving: it leaves the
     * write-ahead log to the server (storage.h, lmdb_shared). */
    struct kvs_storage_config cfg = {.dir = dir, .lmdb_shared = 1};
    char why[512] = "";
    if (kvs_storage_spec_is_pg(dir)) { /* the database of servers on PostgreSQL */
        cfg.pg_uri = dir;
        cfg.error = why;
        cfg.error_cap = sizeof why;
    } else if (!kvs_cli_has_data_file(dir)) {
        return kvs_cli_fail("%s is not a kvs data directory (no data.mdb)", dir);
    }
    int rc = kvs_storage_open(&cfg, out);
    if (rc != 0 && cfg.pg_uri != NULL) /* (the URI may hold a password: not repeated) */
        return kvs_cli_fail("cannot open the PostgreSQL storage: %s",
                            why[0] ? why : kvs_strerror(rc));
    if (rc != 0)
        return kvs_cli_fail("cannot open the data directory %s: %s", dir, kvs_strerror(rc));
    return 0;
}

/* Open the storage of REQ->data and a snapshot of it. Returns 0 or the exit status of the
 * failure. */
static int open_local(struct local *l)
{
    int rc = kvs_cli_open_data(l->req->data, &l->st);
    if (rc != 0)
        return rc;
    rc = kvs_storage_read_begin(l->st, &l->rd);
    if (rc != 0)
        return kvs_cli_fail("cannot read %s: %s", l->req->data, kvs_strerror(rc));
    return 0;
}

static void close_local(struct local *l)
{
    kvs_storage_read_end(l->rd);
    kvs_storage_close(l->st);
}

/* Apply W; on failure print what failed. Returns 0 or 1. The read snapshot is ended first:
 * the look-ups are done, and an open read would only hold back page reuse. */
static int write_local(struct local *l, struct kvs_write *w, const char *what)
{
    kvs_storage_read_end(l->rd);
    l->rd = NULL;
    int rc = kvs_storage_write(l->st, w);
    if (rc != 0)
        return kvs_cli_fail("%s: %s", what, kvs_strerror(rc));
    return 0;
}

/* User NAME into *OUT. Returns 0, or the exit status of the failure, printed (3: no such user). */
static int find_user(struct local *l, const char *name, struct kvs_user *out)
{
    int rc = kvs_storage_user_by_name(l->rd, kvs_slice_of(name), out);
    if (rc == KVS_ENOTFOUND)
        return kvs_cli_no_user(name, 0);
    if (rc != 0)
        return kvs_cli_fail("cannot read the users: %s", kvs_strerror(rc));
    return 0;
}

/* The store REF (an ID or USERNAME~NAME) into *OUT; release with kvs_store_clear(). Returns 0,
 * or the exit status of the failure, printed (3: no such store). */
static int find_store(struct local *l, const char *ref, struct kvs_store *out)
{
    const char *tilde = strchr(ref, '~');
    int rc;
    memset(out, 0, sizeof *out);
    if (tilde != NULL && tilde != ref) {
        char owner_name[KVS_NAME_MAX + 1];
        struct kvs_user owner;
        snprintf(owner_name, sizeof owner_name, "%.*s", (int)(tilde - ref), ref);
        rc = kvs_storage_user_by_name(l->rd, kvs_slice_of(owner_name), &owner);
        if (rc == 0)
            rc = kvs_storage_store_by_name(l->rd, kvs_slice_of(owner.id), kvs_slice_of(tilde + 1),
                                           out);
    } else if (kvs_valid_id(kvs_slice_of(ref))) {
        rc = kvs_storage_store_get(l->rd, kvs_slice_of(ref), out);
    } else {
        return kvs_cli_fail("give the store as its ID or as USERNAME~NAME, not '%s'", ref);
    }
    if (rc == KVS_ENOTFOUND)
        return kvs_cli_no_store(ref, 0);
    if (rc != 0)
        return kvs_cli_fail("cannot read the stores: %s", kvs_strerror(rc));
    return 0;
}

static void print_time(int64_t ms, char out[KVS_ISO_LEN + 1])
{
    if (ms > 0)
        kvs_iso8601(ms, out);
    else
        snprintf(out, KVS_ISO_LEN + 1, "-");
}

/* ---- the commands -----------------------------------------------------------------------------
 */

static int user_add(struct local *l)
{
    const struct kvs_cli_req *req = l->req;
    if (!kvs_valid_username(kvs_slice_of(req->name)) || strcmp(req->name, "me") == 0)
        return kvs_cli_fail("invalid username '%s': 1 to 63 letters, digits and inner hyphens, "
                            "and not 'me'",
                            req->name);
    char token[KVS_TOKEN_LEN + 1];
    if (kvs_token_generate(token) != 0)
        return kvs_cli_fail("cannot generate a token: the random source failed");
    struct kvs_write w = {.op = KVS_W_USER_CREATE};
    snprintf(w.user.username, sizeof w.user.username, "%s", req->name);
    w.user.is_admin = (uint8_t)req->admin;
    w.user.default_access =
        (uint8_t)(req->default_access >= 0 ? req->default_access : KVS_GA_RESTRICTED);
    kvs_token_hash(kvs_slice_of(token), w.token_hash);
    kvs_token_prefix(kvs_slice_of(token), w.token_prefix);
    kvs_storage_read_end(l->rd);
    l->rd = NULL;
    int rc = kvs_storage_write(l->st, &w);
    if (rc == KVS_EEXIST)
        return kvs_cli_fail("a user named '%s' already exists", req->name);
    if (rc != 0)
        return kvs_cli_fail("cannot create user '%s': %s", req->name, kvs_strerror(rc));
    printf("created user %s (id %s%s)\n", w.user.username, w.user.id,
           w.user.is_admin ? ", admin" : "");
    kvs_cli_print_token("API token", w.user.username, token);
    memset(token, 0, sizeof token);
    return 0;
}

static int print_user(void *arg, const struct kvs_user *u)
{
    char when[KVS_ISO_LEN + 1];
    print_time(u->created_ms, when);
    printf("%-24s %s  %-5s  %-26s %s\n", u->username, u->id, u->is_admin ? "admin" : "-",
           kvs_access_name((enum kvs_general_access)u->default_access), when);
    return 0;
}

static int user_list(struct local *l)
{
    printf("%-24s %-17s  %-5s  %-26s %s\n", "USERNAME", "ID", "ADMIN", "DEFAULT-GENERAL-ACCESS",
           "CREATED");
    int rc = kvs_storage_user_list(l->rd, print_user, NULL);
    return rc == 0 ? 0 : kvs_cli_fail("cannot list the users: %s", kvs_strerror(rc));
}

static int count_records(void *arg, const struct kvs_store *s)
{
    *(uint64_t *)arg += s->stats.record_count;
    return 0;
}

static int user_delete(struct local *l)
{
    struct kvs_write w = {.op = KVS_W_USER_DELETE};
    int status = find_user(l, l->req->name, &w.user);
    if (status != 0)
        return status;
    uint64_t stores = 0, records = 0; /* to say what goes with the user */
    int rc = kvs_storage_store_list(l->rd, kvs_slice_of(w.user.id), 0, UINT64_MAX, 0, 1,
                                    count_records, &records, &stores);
    if (rc != 0)
        return kvs_cli_fail("cannot read the stores: %s", kvs_strerror(rc));
    kvs_storage_read_end(l->rd);
    l->rd = NULL;
    rc = kvs_storage_write(l->st, &w);
    if (rc == KVS_EINVAL)
        return kvs_cli_fail("%s is the only admin and cannot be deleted: create another admin "
                            "first",
                            l->req->name);
    if (rc != 0)
        return kvs_cli_fail("cannot delete user '%s': %s", l->req->name, kvs_strerror(rc));
    kvs_cli_print_user_deleted(w.user.username, (int64_t)stores, (int64_t)records);
    return 0;
}

/* SCOPE of a token of user SELF in a few words into OUT (as the remote commands show it). */
static void summary(struct local *l, const struct kvs_scope *scope, const char *self, char *out,
                    size_t n)
{
    json_t *j = kvs_scope_json(scope, kvs_scope_name_in_read, l->rd);
    kvs_cli_scope_summary(j, self, out, n);
    json_decref(j);
}

/* The limits of REQ (the API's JSON, cli.c) for a token of USER into *SCOPE, *EXPIRES and the
 * canonical TEXT, checked as the server checks them. Returns 0 or the exit status. */
static int limits_of(struct local *l, const struct kvs_user *user, struct kvs_scope *scope,
                     int64_t *expires, char text[KVS_TOKEN_SCOPE_MAX + 1])
{
    memset(scope, 0, sizeof *scope);
    *expires = 0;
    text[0] = '\0';
    if (l->req->limits == NULL)
        return 0;
    json_t *body = json_loads(l->req->limits, 0, NULL);
    struct kvs_scope_resolver res = kvs_scope_resolver_of(l->rd);
    char why[160] = "";
    int rc = kvs_scope_from_api(json_object_get(body, "scope"), user->id, &res, scope, why,
                                sizeof why);
    json_int_t secs = json_integer_value(json_object_get(body, "expiresInSecs"));
    json_decref(body);
    if (rc == KVS_EINVAL || rc == KVS_ENOTFOUND)
        return kvs_cli_fail("%s", why);
    if (rc != 0)
        return kvs_cli_fail("cannot check the scope: %s", kvs_strerror(rc));
    if (secs > 0)
        *expires = kvs_now_ms() + (int64_t)secs * 1000;
    kvs_scope_text(scope, text);
    return 0;
}

static int token_create(struct local *l)
{
    struct kvs_write w = {.op = KVS_W_TOKEN_ADD};
    int status = find_user(l, l->req->name, &w.user);
    if (status != 0)
        return status;
    struct kvs_scope scope;
    static char text[KVS_TOKEN_SCOPE_MAX + 1];
    status = limits_of(l, &w.user, &scope, &w.token_expires_ms, text);
    if (status != 0)
        return status;
    w.token_scope = kvs_slice_of(text);
    char token[KVS_TOKEN_LEN + 1];
    if (kvs_token_generate(token) != 0)
        return kvs_cli_fail("cannot generate a token: the random source failed");
    kvs_token_hash(kvs_slice_of(token), w.token_hash);
    kvs_token_prefix(kvs_slice_of(token), w.token_prefix);
    char said[512];
    summary(l, &scope, w.user.username, said, sizeof said);
    if (write_local(l, &w, "cannot add the token") != 0)
        return 1;
    if (l->req->limits != NULL) {
        char when[KVS_ISO_LEN + 1];
        print_time(w.token_expires_ms, when);
        printf("scope: %s\nexpires: %s\n", said, w.token_expires_ms ? when : "never");
    }
    kvs_cli_print_token("new API token", w.user.username, token);
    memset(token, 0, sizeof token);
    return 0;
}

struct token_printer {
    struct local *l;
    const char *username;
};

static int print_token(void *arg, const struct kvs_token_info *t)
{
    struct token_printer *p = arg;
    char when[KVS_ISO_LEN + 1], expires[KVS_ISO_LEN + 1], said[512] = "?";
    print_time(t->created_ms, when);
    print_time(t->expires_ms, expires);
    struct kvs_scope scope;
    if (kvs_scope_load(t->scope, &scope) == 0)
        summary(p->l, &scope, p->username, said, sizeof said);
    printf("%-14s %-24s %-24s %s\n", t->prefix[0] ? t->prefix : "(unknown)", when,
           t->expires_ms ? expires : "never", said);
    return 0;
}

static int token_list(struct local *l)
{
    struct kvs_user u;
    int status = find_user(l, l->req->name, &u);
    if (status != 0)
        return status;
    printf("%-14s %-24s %-24s %s\n", "PREFIX", "CREATED", "EXPIRES", "SCOPE");
    struct token_printer p = {l, u.username};
    int rc = kvs_storage_token_list(l->rd, kvs_slice_of(u.id), print_token, &p);
    return rc == 0 ? 0 : kvs_cli_fail("cannot list the tokens: %s", kvs_strerror(rc));
}

static int token_revoke(struct local *l)
{
    const char *p = l->req->name;
    struct kvs_write w = {.op = KVS_W_TOKEN_REVOKE};
    if (*p == '\0')
        return kvs_cli_fail("give a token prefix");
    if (strlen(p) > KVS_TOKEN_PREFIX_MAX)
        kvs_token_hash(kvs_slice_of(p), w.token_hash); /* the whole token */
    else
        w.key = kvs_slice_of(p);
    kvs_storage_read_end(l->rd);
    l->rd = NULL;
    int rc = kvs_storage_write(l->st, &w);
    if (rc == KVS_ENOTFOUND)
        return kvs_cli_no_token(p, 0);
    if (rc == KVS_EAMBIGUOUS)
        return kvs_cli_fail("'%s' matches more than one token; give more of it", p);
    if (rc != 0)
        return kvs_cli_fail("cannot revoke the token: %s", kvs_strerror(rc));
    printf("revoked a token of user %s\n", w.user.username);
    return 0;
}

static int share(struct local *l, int unshare)
{
    const struct kvs_cli_req *req = l->req;
    struct kvs_write w = {.op = unshare ? KVS_W_SHARE_DELETE : KVS_W_SHARE_SET};
    struct kvs_store s;
    int status = find_store(l, req->store, &s);
    if (status != 0)
        return status;
    memcpy(w.store_id, s.id, sizeof w.store_id);
    int owner = 0;
    int rc = find_user(l, req->name, &w.user);
    if (rc == 0)
        owner = strcmp(w.user.id, s.user_id) == 0;
    kvs_store_clear(&s);
    if (rc != 0)
        return rc; /* the exit status find_user() printed */
    if (owner)
        return kvs_cli_fail("%s owns %s: the owner always has full access", req->name, req->store);
    w.share_level = (uint8_t)(unshare ? KVS_SHARE_NONE : req->level);
    kvs_storage_read_end(l->rd);
    l->rd = NULL;
    rc = kvs_storage_write(l->st, &w);
    if (unshare && rc == KVS_ENOTFOUND) {
        printf("%s was not shared with %s\n", req->store, req->name);
        return 0;
    }
    if (rc != 0)
        return kvs_cli_fail("cannot %s: %s", unshare ? "unshare" : "share", kvs_strerror(rc));
    if (unshare)
        printf("%s is no longer shared with %s\n", req->store, req->name);
    else
        printf("shared %s with %s: %s\n", req->store, req->name,
               kvs_share_name((enum kvs_share_level)req->level));
    return 0;
}

int kvs_cli_local(const struct kvs_cli_req *req)
{
    struct local l = {.req = req};
    int status = open_local(&l);
    if (status == 0) {
        switch (req->cmd) {
        case KVS_CLI_USER_ADD:
            status = user_add(&l);
            break;
        case KVS_CLI_USER_LIST:
            status = user_list(&l);
            break;
        case KVS_CLI_USER_DELETE:
            status = user_delete(&l);
            break;
        case KVS_CLI_TOKEN_CREATE:
            status = token_create(&l);
            break;
        case KVS_CLI_TOKEN_LIST:
            status = token_list(&l);
            break;
        case KVS_CLI_TOKEN_REVOKE:
            status = token_revoke(&l);
            break;
        case KVS_CLI_SHARE:
            status = share(&l, 0);
            break;
        case KVS_CLI_UNSHARE:
            status = share(&l, 1);
            break;
        }
    }
    close_local(&l);
    return status;
}
