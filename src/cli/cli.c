/* cli.c — parsing the administration commands (see cli.h) and choosing how to run them. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/access.h"
#include "common/log.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage:\n"
            "  kvs user add NAME [--admin] [--default-general-access ACCESS]\n"
            "  kvs user list\n"
            "  kvs token create USER\n"
            "  kvs token list USER\n"
            "  kvs token revoke PREFIX\n"
            "  kvs share STORE USER --read|--write\n"
            "  kvs unshare STORE USER\n"
            "  kvs import [--store NAME] [--dry-run] SRC   (kvs import --help)\n"
            "\n"
            "Every command takes one of:\n"
            "  --data DIR        work on the data directory itself (the server may be running)\n"
            "  --url URL         a running server (default $KVS_URL), with\n"
            "  --token TOKEN     an API token (default $KVS_TOKEN): the admin's for user and\n"
            "                    token commands, the store owner's for share and unshare\n"
            "\n"
            "STORE is a store ID or USERNAME~NAME. ACCESS is RESTRICTED (the default),\n"
            "ANYONE_WITH_ID_CAN_READ or ANYONE_WITH_NAME_CAN_READ. A new token is printed only\n"
            "once. PREFIX is the start of a token as `kvs token list` shows it, or the whole\n"
            "token.\n");
}

int kvs_cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kvs: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

void kvs_cli_print_token(const char *what, const char *username, const char *token)
{
    printf("%s for user %s (shown only this once):\n%s\n", what, username, token);
}

int kvs_cli_usage_error(const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kvs: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s)\n", hint);
    va_end(ap);
    return 2;
}

#define usage_error(...) kvs_cli_usage_error("kvs help", __VA_ARGS__)

int kvs_cli_resolve_target(struct kvs_cli_req *req, int required, const char *hint)
{
    if (req->data && req->url)
        return kvs_cli_usage_error(hint, "give either --data or --url");
    if (req->data || !required)
        return 0;
    if (req->url == NULL)
        req->url = getenv("KVS_URL");
    if (req->token == NULL)
        req->token = getenv("KVS_TOKEN");
    if (req->url == NULL || *req->url == '\0')
        return kvs_cli_usage_error(hint, "give --data DIR, or --url URL (or set KVS_URL)");
    if (req->token == NULL || *req->token == '\0')
        return kvs_cli_usage_error(hint, "give --token TOKEN (or set KVS_TOKEN) with --url");
    return 0;
}

/* The subcommand of ARGV[0] ("user", "token") named by WORD, into *CMD. */
static int pick(const char *group, const char *word, enum kvs_cli_cmd *cmd, int *nargs)
{
    static const struct {
        const char *group, *word;
        enum kvs_cli_cmd cmd;
        int nargs; /* positional arguments after the words */
    } table[] = {
        {"user", "add", KVS_CLI_USER_ADD, 1},         {"user", "list", KVS_CLI_USER_LIST, 0},
        {"token", "create", KVS_CLI_TOKEN_CREATE, 1}, {"token", "list", KVS_CLI_TOKEN_LIST, 1},
        {"token", "revoke", KVS_CLI_TOKEN_REVOKE, 1}, {"share", NULL, KVS_CLI_SHARE, 2},
        {"unshare", NULL, KVS_CLI_UNSHARE, 2},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].group, group) != 0)
            continue;
        if (table[i].word == NULL || (word && strcmp(table[i].word, word) == 0)) {
            *cmd = table[i].cmd;
            *nargs = table[i].nargs;
            return table[i].word != NULL; /* how many words the command itself took */
        }
    }
    return -1;
}

int kvs_cli_main(int argc, char **argv)
{
    enum { O_DATA = 1, O_URL, O_TOKEN, O_ADMIN, O_ACCESS, O_READ, O_WRITE, O_HELP };
    static const struct option options[] = {
        {"data", required_argument, NULL, O_DATA},
        {"url", required_argument, NULL, O_URL},
        {"token", required_argument, NULL, O_TOKEN},
        {"admin", no_argument, NULL, O_ADMIN},
        {"default-general-access", required_argument, NULL, O_ACCESS},
        {"read", no_argument, NULL, O_READ},
        {"write", no_argument, NULL, O_WRITE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct kvs_cli_req req = {.default_access = -1, .level = -1};
    int given_access = 0;
    opterr = 0;
    optind = 1;
    int c;
    /* GNU getopt moves the options in front, so they may come anywhere on the line. */
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case O_DATA:
            if (*optarg == '\0')
                return usage_error("--data needs a directory");
            req.data = optarg;
            break;
        case O_URL:
            req.url = optarg;
            break;
        case O_TOKEN:
            req.token = optarg;
            break;
        case O_ADMIN:
            req.admin = 1;
            break;
        case O_ACCESS: {
            enum kvs_general_access ga;
            if (kvs_access_parse(optarg, &ga) != 0 || ga == KVS_GA_FOLLOW_USER_SETTING)
                return usage_error("invalid --default-general-access '%s'", optarg);
            req.default_access = (int)ga;
            given_access = 1;
            break;
        }
        case O_READ:
        case O_WRITE: {
            int level = c == O_READ ? KVS_SHARE_READ : KVS_SHARE_WRITE;
            if (req.level != -1 && req.level != level)
                return usage_error("give one of --read and --write");
            req.level = level;
            break;
        }
        case O_HELP:
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }

    /* What is left: GROUP [WORD] ARGS..., GROUP being argv[0] (getopt leaves it first). */
    char **pos = argv + optind;
    int npos = argc - optind;
    int nargs = 0;
    int words = pick(argv[0], npos > 0 ? pos[0] : NULL, &req.cmd, &nargs);
    if (words < 0)
        return npos > 0 ? usage_error("unknown command '%s %s'", argv[0], pos[0])
                        : usage_error("'%s' needs a subcommand", argv[0]);
    pos += words;
    npos -= words;
    if (npos != nargs)
        return usage_error("%s arguments for '%s'", npos < nargs ? "missing" : "too many", argv[0]);
    if (req.cmd == KVS_CLI_SHARE || req.cmd == KVS_CLI_UNSHARE) {
        req.store = pos[0];
        req.name = pos[1];
    } else if (nargs == 1) {
        req.name = pos[0];
    }
    if (req.cmd == KVS_CLI_SHARE && req.level == -1)
        return usage_error("share needs --read or --write");
    if (req.cmd != KVS_CLI_SHARE && req.level != -1)
        return usage_error("--read and --write are for 'kvs share'");
    if (req.cmd != KVS_CLI_USER_ADD && (req.admin || given_access))
        return usage_error("--admin and --default-general-access are for 'kvs user add'");

    int rc = kvs_cli_resolve_target(&req, 1, "kvs help");
    if (rc != 0)
        return rc;
    kvs_log_set_level(KVS_LOG_WARN); /* a command's output is its result, not the storage's news */
    return req.data ? kvs_cli_local(&req) : kvs_cli_remote(&req);
}
