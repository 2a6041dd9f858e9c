/* remote.c — the administration commands through the HTTP API of a running server (see
 * cli.h), with libkvs: one call per command. A refusal is printed with the server's own
 * message. */
#include <stdio.h>

#include "auth/access.h"
#include "cli/cli.h"
#include "storage/storage.h"

static const char *str(const char *s)
{
    return s ? s : "-";
}

static int user_add(kvs_client *c, const struct kvs_cli_req *req)
{
    struct kvs_user_info *u;
    const char *access = req->default_access >= 0
                             ? kvs_access_name((enum kvs_general_access)req->default_access)
                             : NULL;
    int rc = kvs_user_create(c, req->name, req->admin, access, &u);
    if (rc == KVS_EEXIST) /* the words of the --data command (local.c) */
        return kvs_cli_fail("a user named '%s' already exists (HTTP %d)", req->name,
                            kvs_client_status(c));
    if (rc != 0)
        return kvs_cli_api_fail(c, rc, NULL);
    printf("created user %s (id %s%s)\n", str(u->username), str(u->id),
           u->is_admin ? ", admin" : "");
    kvs_cli_print_token("API token", str(u->username), str(u->token));
    kvs_free(u);
    return 0;
}

static int user_list(kvs_client *c)
{
    struct kvs_user_page *pg;
    int rc = kvs_user_list(c, &pg);
    if (rc != 0)
        return kvs_cli_api_fail(c, rc, NULL);
    printf("%-24s %-17s  %-5s  %-26s %s\n", "USERNAME", "ID", "ADMIN", "DEFAULT-GENERAL-ACCESS",
           "CREATED");
    for (uint64_t i = 0; i < pg->count; i++) {
        const struct kvs_user_info *u = &pg->items[i];
        printf("%-24s %s  %-5s  %-26s %s\n", str(u->username), str(u->id),
               u->is_admin ? "admin" : "-", str(u->default_general_access), str(u->created_at));
    }
    kvs_free(pg);
    return 0;
}

static int user_delete(kvs_client *c, const struct kvs_cli_req *req)
{
    const struct kvs_cli_about about = {.user = req->name, .size = -1};
    struct kvs_user_usage u;
    int rc = kvs_user_usage(c, req->name, &u); /* to say what went with the user */
    if (rc == 0)
        rc = kvs_user_delete(c, req->name);
    if (rc == KVS_EINVAL) /* the words of the --data command (local.c) */
        return kvs_cli_fail("%s is the only admin and cannot be deleted: create another admin "
                            "first (HTTP %d)",
                            req->name, kvs_client_status(c));
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &about);
    kvs_cli_print_user_deleted(req->name, u.stores, u.records);
    return 0;
}

/* The scope of token entry T of user SELF (its JSON) in a few words into OUT. */
static void scope_of(const struct kvs_token_entry *t, const char *self, char *out, size_t n)
{
    json_t *o = t->json ? json_loads(t->json, 0, NULL) : NULL;
    kvs_cli_scope_summary(json_object_get(o, "scope"), self, out, n);
    json_decref(o);
}

static int token_create(kvs_client *c, const struct kvs_cli_req *req)
{
    struct kvs_token_entry *t;
    int rc = kvs_token_create_limited(c, req->name, req->limits, &t);
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){.user = req->name, .size = -1});
    char scope[512];
    scope_of(t, t->username, scope, sizeof scope);
    if (req->limits != NULL)
        printf("scope: %s\nexpires: %s\n", scope, t->expires_at ? t->expires_at : "never");
    kvs_cli_print_token("new API token", str(t->username), str(t->token));
    kvs_free(t);
    return 0;
}

static int token_list(kvs_client *c, const struct kvs_cli_req *req)
{
    struct kvs_token_page *pg;
    int rc = kvs_token_list(c, req->name, &pg);
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){.user = req->name, .size = -1});
    printf("%-14s %-24s %-24s %s\n", "PREFIX", "CREATED", "EXPIRES", "SCOPE");
    for (uint64_t i = 0; i < pg->count; i++) {
        const struct kvs_token_entry *t = &pg->items[i];
        char scope[512];
        scope_of(t, req->name, scope, sizeof scope);
        printf("%-14s %-24s %-24s %s\n", t->prefix && *t->prefix ? t->prefix : "(unknown)",
               str(t->created_at), t->expires_at ? t->expires_at : "never", scope);
    }
    kvs_free(pg);
    return 0;
}

int kvs_cli_remote(const struct kvs_cli_req *req)
{
    kvs_client *c;
    int rc = kvs_cli_connect(req->url, req->token, -1, &c);
    if (rc != 0)
        return rc;
    switch (req->cmd) {
    case KVS_CLI_USER_ADD:
        rc = user_add(c, req);
        break;
    case KVS_CLI_USER_LIST:
        rc = user_list(c);
        break;
    case KVS_CLI_USER_DELETE:
        rc = user_delete(c, req);
        break;
    case KVS_CLI_TOKEN_CREATE:
        rc = token_create(c, req);
        break;
    case KVS_CLI_TOKEN_LIST:
        rc = token_list(c, req);
        break;
    case KVS_CLI_TOKEN_REVOKE:
        if (*req->name == '\0') {
            rc = kvs_cli_fail("give a token prefix");
        } else if ((rc = kvs_token_revoke(c, req->name)) != 0) {
            rc = kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){.token = req->name, .size = -1});
        } else {
            printf("revoked the token\n");
        }
        break;
    case KVS_CLI_SHARE:
        rc = kvs_share_set(c, req->store, req->name,
                           kvs_share_name((enum kvs_share_level)req->level));
        if (rc != 0)
            rc = kvs_cli_fail_about(
                c, rc, &(struct kvs_cli_about){req->store, .user = req->name, .size = -1});
        else
            printf("shared %s with %s: %s\n", req->store, req->name,
                   kvs_share_name((enum kvs_share_level)req->level));
        break;
    case KVS_CLI_UNSHARE:
        rc = kvs_share_delete(c, req->store, req->name);
        if (rc != 0)
            rc = kvs_cli_fail_about(
                c, rc, &(struct kvs_cli_about){req->store, .user = req->name, .size = -1});
        else
            printf("%s is no longer shared with %s\n", req->store, req->name);
        break;
    }
    kvs_client_close(c);
    return rc;
}
