/* main.c — the one binary: `kvs serve` runs the server; user, token, share and unshare are
 * the administration commands (cli/cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "server/serve.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: kvs <command> [options]\n"
                 "\n"
                 "commands:\n"
                 "  serve     run the key-value store server (kvs serve --help)\n"
                 "  user      add and list users: kvs user add NAME, kvs user list\n"
                 "  token     API tokens: kvs token create|list USER, kvs token revoke PREFIX\n"
                 "  share     share a store: kvs share STORE USER --read|--write\n"
                 "  unshare   take a share back: kvs unshare STORE USER\n"
                 "  backup    hot copy of a data directory: kvs backup --data DIR OUT\n"
                 "  restore   kvs restore [--force] --data DIR BACKUP (not while DIR is in use)\n"
                 "  import    an Apify/Crawlee local storage directory: kvs import --help\n"
                 "  help      show this help (and the options of the commands above)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return kvs_serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "user") == 0 || strcmp(cmd, "token") == 0 || strcmp(cmd, "share") == 0 ||
        strcmp(cmd, "unshare") == 0)
        return kvs_cli_main(argc - 1, argv + 1);
    if (strcmp(cmd, "backup") == 0 || strcmp(cmd, "restore") == 0)
        return kvs_cli_backup_main(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0)
        return kvs_cli_import_main(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        printf("\n");
        char *help[] = {"user", "--help", NULL};
        return kvs_cli_main(2, help);
    }
    fprintf(stderr, "kvs: unknown command '%s' (try: kvs help)\n", cmd);
    return 2;
}
