/* main.c — the one binary: `kvs serve` runs the server; every other command is the command line
 * (cli/cli.h): the data commands through libkvs, the administration commands, import, export,
 * backup and restore. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/version.h"
#include "server/serve.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        kvs_cli_usage_all(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return kvs_serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "user") == 0 || strcmp(cmd, "token") == 0 || strcmp(cmd, "share") == 0 ||
        strcmp(cmd, "unshare") == 0)
        return kvs_cli_main(argc - 1, argv + 1);
    if (strcmp(cmd, "backup") == 0 || strcmp(cmd, "restore") == 0 || strcmp(cmd, "check") == 0)
        return kvs_cli_backup_main(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0)
        return kvs_cli_import_main(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return kvs_cli_run_main(argc - 1, argv + 1);
    if (strcmp(cmd, "__complete") == 0) /* for tools/kvs-completion.bash */
        return kvs_cli_complete(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        if (argc > 2) {
            fprintf(stderr, "kvs: '%s' takes no arguments (try: kvs help)\n", cmd);
            return 2;
        }
        puts(kvs_version_line());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        kvs_cli_usage_all(stdout);
        return 0;
    }
    int rc = kvs_cli_data_main(argc - 1, argv + 1);
    if (rc >= 0)
        return rc;
    fprintf(stderr, "kvs: unknown command '%s' (try: kvs help)\n", cmd);
    return 2;
}
