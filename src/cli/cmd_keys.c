/* cmd_keys.c — kvs keys and kvs url (see cli.h). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

int kvs_cli_cmd_keys(kvs_client *c, const struct kvs_cli_opts *o)
{
    static const char *const head[] = {"KEY", "SIZE"};
    struct kvs_cli_table t;
    kvs_cli_table_init(&t, 2, head, 1u << 1);
    int tty = kvs_cli_stdout_tty();
    kvs_keys *it;
    const struct kvs_key_info *k;
    int rc = kvs_keys_open(c, o->args[0], o->prefix, &it);
    int first = 1; /* "[" comes with the first key: a failed first page prints nothing */
    /* keys are printed as they come, page after page (a table on a terminal at the end) */
    while (rc == 0 && (rc = kvs_keys_next(it, &k)) == 1) {
        rc = 0;
        if (o->json) {
            json_t *j = json_pack("{s:s,s:I,s:s?,s:s?,s:s?}", "key", k->key, "size",
                                  (json_int_t)k->size, "recordPublicUrl", k->record_public_url,
                                  "contentType", k->content_type, "modifiedAt", k->modified_at);
            char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
            json_decref(j);
            if (text == NULL) {
                rc = kvs_cli_fail("out of memory");
                break;
            }
            printf("%s%s", first ? "[" : ",", text);
            free(text);
        } else {
            char size[32];
            if (tty)
                kvs_cli_bytes(k->size, size);
            else
                snprintf(size, sizeof size, "%" PRId64, k->size);
            const char *row[] = {k->key, size};
            kvs_cli_table_add(&t, row);
        }
        first = 0;
    }
    kvs_keys_close(it);
    if (o->json && (!first || rc == 0))
        printf(first ? "[]\n" : "]\n");
    else if (rc == 0)
        kvs_cli_table_print(&t);
    kvs_cli_table_free(&t);
    if (rc < 0)
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){o->args[0], .size = -1});
    return rc;
}

int kvs_cli_cmd_url(kvs_client *c, const struct kvs_cli_opts *o)
{
    const char *store = o->args[0];
    char *url;
    int rc;
    if (o->nargs > 1) {
        if (o->has_expires)
            return kvs_cli_usage_error("kvs url --help",
                                       "a record's link does not expire (its signature covers "
                                       "the key alone); --expires is for the key list");
        rc = kvs_record_url(c, store, o->args[1], &url);
    } else {
        /* a part of a second still left counts as a second */
        rc = kvs_keys_url(c, store, (int64_t)((o->expires_ms + 999) / 1000), &url);
    }
    if (rc != 0)
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){store, .size = -1});
    printf("%s\n", url);
    kvs_free(url);
    return 0;
}
