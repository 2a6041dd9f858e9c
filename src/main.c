/* main.c — the one binary: `kvs serve` runs the server; other commands are the client CLI. */
#include <stdio.h>
#include <string.h>

#include "server/serve.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: kvs <command> [options]\n"
                 "\n"
                 "commands:\n"
                 "  serve     run the key-value store server (kvs serve --help)\n"
                 "  help      show this help\n");
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
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "kvs: unknown command '%s' (try: kvs help)\n", cmd);
    return 2;
}
