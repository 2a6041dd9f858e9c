/* cmd_localfs.c — kvs export: a store into the Apify SDK's local layout (localfs/export.h),
 * which kvs import (cli/import.c) reads back. */
#include <stdio.h>

#include "cli/cli.h"
#include "localfs/export.h"

static void on_skip(void *arg, const char *key, const char *why)
{
    fprintf(stderr, "kvs: export: skipped %s: %s\n", key, why);
}

int kvs_cli_cmd_export(kvs_client *c, const struct kvs_cli_opts *o)
{
    enum kvs_localfs_layout layout = KVS_LAYOUT_JS;
    if (o->layout != NULL && kvs_localfs_layout_parse(o->layout, &layout) != 0)
        return kvs_cli_usage_error("kvs export --help",
                                   "--layout is js (the default), sidecar or python");
    struct kvs_export_stats st;
    char msg[1024];
    int rc = kvs_export_run(c, o->args[0], o->args[1], layout, on_skip, NULL, &st, msg, sizeof msg);
    if (rc == KVS_ENOTFOUND)
        return kvs_cli_fail_about(c, rc, &(struct kvs_cli_about){o->args[0], .size = -1});
    if (rc != 0) {
        fprintf(stderr, "kvs: export: %s\n", msg);
        return rc == KVS_ENOTFOUND ? KVS_CLI_NOT_FOUND : 1;
    }
    printf("exported %llu record%s, %llu bytes into %s; skipped %llu\n",
           (unsigned long long)st.records, st.records == 1 ? "" : "s", (unsigned long long)st.bytes,
           st.dir, (unsigned long long)st.skipped);
    return st.skipped ? 1 : 0;
}
