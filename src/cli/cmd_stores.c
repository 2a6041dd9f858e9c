/* cmd_stores.c — kvs ls, create, info, rename, rm (see cli.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/alloc.h"

#define PAGE 1000 /* the server's largest page */

/* ---- ls ------------------------------------------------------------------------------------ */

static void add_store_row(struct kvs_cli_table *t, const struct kvs_store_info *s)
{
    char records[24], size[32], modified[32];
    snprintf(records, sizeof records, "%" PRId64, s->record_count);
    const char *row[] = {
        s->id,   s->name ? s->name : "(unnamed)",       s->username,
        records, kvs_cli_bytes(s->storage_bytes, size), kvs_cli_time(s->modified_at, modified)};
    kvs_cli_table_add(t, row);
}

int kvs_cli_cmd_ls(kvs_client *c, const struct kvs_cli_opts *o)
{
    static const char *const head[] = {"ID", "NAME", "OWNER", "RECORDS", "SIZE", "MODIFIED"};
    struct kvs_cli_table t;
    kvs_cli_table_init(&t, 6, head, 1u << 3 | 1u << 4);
    unsigned flags = (o->unnamed ? KVS_LIST_UNNAMED : 0) | (o->desc ? KVS_LIST_DESC : 0);
    uint64_t offset = o->offset, left = o->limit ? o->limit : UINT64_MAX;
    int rc = 0, first = 1;
    if (o->json)
        printf("[");
    /* --limit 0 (the default) lists everything, page after page */
    while (left > 0) {
        struct kvs_store_page *pg;
        rc = kvs_store_list(c, offset, left < PAGE ? left : PAGE, flags, &pg);
        if (rc != 0)
            break;
        for (uint64_t i = 0; i < pg->count; i++) {
            if (o->json)
                printf("%s%s", first ? "" : ",", pg->items[i].json);
            else
                add_store_row(&t, &pg->items[i]);
            first = 0;
        }
        uint64_t got = pg->count;
        int more = got > 0 && offset + got < pg->total;
        kvs_free(pg);
        offset += got;
        left -= got < left ? got : left;
        if (!more)
            break;
    }
    if (o->json)
        printf("]\n");
    else if (rc == 0)
        kvs_cli_table_print(&t);
    kvs_cli_table_free(&t);
    return rc ? kvs_cli_api_fail(c, rc, "list stores") : 0;
}

/* ---- one store ----------------------------------------------------------------------------- */

/* Print store S: its JSON with --json, else "WHAT NAME (id ID)". */
static void print_store(const struct kvs_cli_opts *o, const struct kvs_store_info *s,
                        const char *what)
{
    if (o->json)
        kvs_cli_print_json(s->json);
    else
        printf("%s %s (id %s)\n", what, s->name ? s->name : "(unnamed)", s->id);
}

int kvs_cli_cmd_create(kvs_client *c, const struct kvs_cli_opts *o)
{
    const char *name = o->nargs > 0 ? o->args[0] : NULL;
    struct kvs_store_info *s;
    int created;
    int rc = kvs_store_get_or_create(c, name, &s, &created);
    if (rc != 0)
        return kvs_cli_api_fail(c, rc, "create %s", name ? name : "an unnamed store");
    print_store(o, s, created ? "created store" : "kept the existing store");
    kvs_free(s);
    return 0;
}

int kvs_cli_cmd_info(kvs_client *c, const struct kvs_cli_opts *o)
{
    struct kvs_store_info *s;
    int rc = kvs_store_get(c, o->args[0], &s);
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){o->args[0], .size = -1});
    if (o->json) {
        kvs_cli_print_json(s->json);
        kvs_free(s);
        return 0;
    }
    char size[32], created[32], modified[32], accessed[32];
    printf("ID:              %s\n"
           "Name:            %s\n"
           "Owner:           %s\n"
           "General access:  %s\n"
           "Records:         %" PRId64 "\n"
           "Size:            %s\n"
           "Created:         %s\n"
           "Modified:        %s\n"
           "Accessed:        %s\n"
           "Operations:      %" PRId64 " reads, %" PRId64 " writes, %" PRId64 " deletes, %" PRId64
           " lists\n",
           s->id, s->name ? s->name : "(unnamed)", s->username ? s->username : "-",
           s->general_access ? s->general_access : "-", s->record_count,
           kvs_cli_bytes(s->storage_bytes, size), kvs_cli_time(s->created_at, created),
           kvs_cli_time(s->modified_at, modified), kvs_cli_time(s->accessed_at, accessed),
           s->read_count, s->write_count, s->delete_count, s->list_count);
    kvs_free(s);
    return 0;
}

int kvs_cli_cmd_rename(kvs_client *c, const struct kvs_cli_opts *o)
{
    const char *store = o->args[0];
    const char *to = o->nargs > 1 ? o->args[1] : NULL;
    if ((to == NULL) == !o->unname)
        return kvs_cli_usage_error("kvs rename --help", "give either a new name or --unname");
    struct kvs_store_info *s;
    int rc = kvs_store_rename(c, store, to, &s);
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){store, .size = -1});
    print_store(o, s, "renamed the store to");
    kvs_free(s);
    return 0;
}

int kvs_cli_cmd_rm(kvs_client *c, const struct kvs_cli_opts *o)
{
    int rc = kvs_store_delete(c, o->args[0]);
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){o->args[0], .size = -1});
    printf("deleted store %s\n", o->args[0]);
    return 0;
}

int kvs_cli_cmd_rotate_key(kvs_client *c, const struct kvs_cli_opts *o)
{
    struct kvs_store_info *s;
    int rc = kvs_store_rotate_key(c, o->args[0], &s);
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){o->args[0], .size = -1});
    if (o->json)
        kvs_cli_print_json(s->json);
    else
        printf("new signing key for store %s (id %s): links signed before no longer work\n",
               s->name ? s->name : "(unnamed)", s->id);
    kvs_free(s);
    return 0;
}

/* ---- a bare name for a store shared with the caller ---------------------------------------- */

int kvs_cli_shared_named(kvs_client *c, const char *name, char **ref, char *list, size_t cap)
{
    *ref = NULL;
    list[0] = '\0';
    size_t found = 0, used = 0;
    for (uint64_t offset = 0;;) { /* every page */
        struct kvs_store_page *pg;
        int rc = kvs_store_list(c, offset, PAGE, KVS_LIST_SHARED_ONLY, &pg);
        if (rc != 0) {
            free(*ref);
            *ref = NULL;
            return rc;
        }
        for (uint64_t i = 0; i < pg->count; i++) {
            const struct kvs_store_info *it = &pg->items[i];
            if (it->name == NULL || it->username == NULL || strcmp(it->name, name) != 0)
                continue;
            size_t n = strlen(it->username) + 1 + strlen(name) + 1;
            if (found++ == 0) {
                *ref = kvs_xmalloc(n);
                snprintf(*ref, n, "%s~%s", it->username, name);
            }
            if (used < cap)
                used += (size_t)snprintf(list + used, cap - used, "%s%s~%s", found > 1 ? ", " : "",
                                         it->username, name);
        }
        uint64_t got = pg->count;
        int more = got > 0 && offset + got < pg->total;
        kvs_free(pg);
        offset += got;
        if (!more)
            break;
    }
    return (int)(found > 1000 ? 1000 : found);
}
