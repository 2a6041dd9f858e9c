/* cli.c — parsing the command line: the data commands from one table (run through libkvs),
 * the administration commands (run on a data directory or through libkvs), `kvs help`, and the
 * words the bash completion offers (see cli.h). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/access.h"
#include "common/duration.h"
#include "common/log.h"

#define DEFAULT_RETRIES 4 /* 0.5 + 1 + 2 + 4 s of waiting at most: a person is waiting */

static const struct kvs_cli_command commands[] = {
    {"ls", kvs_cli_cmd_ls, 0, 0,
     KVS_CLI_O_JSON | KVS_CLI_O_UNNAMED | KVS_CLI_O_DESC | KVS_CLI_O_PAGE, 0,
     "[--unnamed] [--desc] [--offset N] [--limit N]",
     "list your stores and those shared with you (--unnamed: unnamed ones too)"},
    {"create", kvs_cli_cmd_create, 0, 1, KVS_CLI_O_JSON, 0, "[NAME]",
     "create the store NAME (kept if it exists), or a new unnamed store"},
    {"info", kvs_cli_cmd_info, 1, 1, KVS_CLI_STORE_ARG | KVS_CLI_O_JSON, 0, "STORE",
     "show a store"},
    {"rename", kvs_cli_cmd_rename, 1, 2, KVS_CLI_STORE_ARG | KVS_CLI_O_JSON | KVS_CLI_O_UNNAME, 0,
     "STORE NEW | STORE --unname", "rename a store, or make it unnamed"},
    {"rm", kvs_cli_cmd_rm, 1, 1, KVS_CLI_STORE_ARG, 0, "STORE", "delete a store and its records"},
    {"rotate-key", kvs_cli_cmd_rotate_key, 1, 1, KVS_CLI_STORE_ARG | KVS_CLI_O_JSON, 0, "STORE",
     "give a store a new URL-signing key: every signed link made before stops working"},
    {"keys", kvs_cli_cmd_keys, 1, 1, KVS_CLI_STORE_ARG | KVS_CLI_O_JSON | KVS_CLI_O_PREFIX, 0,
     "STORE [--prefix P]", "list a store's keys with their sizes"},
    {"get", kvs_cli_cmd_get, 2, 2, KVS_CLI_STORE_ARG | KVS_CLI_O_OUTPUT, 0, "STORE KEY [-o FILE]",
     "write a record's value to stdout (nothing else) or to FILE; binary values are not "
     "written to a terminal"},
    {"get-value", kvs_cli_cmd_get, 2, 2, KVS_CLI_STORE_ARG | KVS_CLI_O_OUTPUT, 0,
     "STORE KEY [-o FILE]", "the same as get (Apify's spelling)"},
    {"get-record", kvs_cli_cmd_get_record, 0, 0,
     KVS_CLI_STORE_ARG | KVS_CLI_O_RECORD | KVS_CLI_O_OUTPUT, 0,
     "--store-name STORE --key KEY [-o FILE]", "the same as get (Apify's spelling)"},
    {"set", kvs_cli_cmd_set, 2, 3, KVS_CLI_STORE_ARG | KVS_CLI_O_CONTENT_TYPE, 1u << 2,
     "STORE KEY [FILE|-] [--content-type T]",
     "store FILE (or stdin) as a record; the type is guessed from FILE's name unless given"},
    {"set-value", kvs_cli_cmd_set_value, 2, 3, KVS_CLI_STORE_ARG | KVS_CLI_O_CONTENT_TYPE, 0,
     "STORE KEY [VALUE] [--content-type T]",
     "store VALUE itself (or stdin) as a record, application/json unless given (Apify's)"},
    {"del", kvs_cli_cmd_del, 2, 2, KVS_CLI_STORE_ARG, 0, "STORE KEY", "delete a record"},
    {"delete-value", kvs_cli_cmd_del, 2, 2, KVS_CLI_STORE_ARG, 0, "STORE KEY",
     "the same as del (Apify's)"},
    {"exists", kvs_cli_cmd_exists, 2, 2, KVS_CLI_STORE_ARG | KVS_CLI_O_JSON, 0, "STORE KEY",
     "exit 0 when the record exists (with its size and type), 3 when not"},
    {"url", kvs_cli_cmd_url, 1, 2, KVS_CLI_STORE_ARG | KVS_CLI_O_EXPIRES, 0,
     "STORE [KEY] [--expires DURATION]",
     "a signed link to a record (permanent) or to the key list (--expires: 12h, 7d, ...)"},
    {"export", kvs_cli_cmd_export, 2, 2, KVS_CLI_STORE_ARG | KVS_CLI_O_LAYOUT, 1u << 1,
     "STORE DIR [--layout L]",
     "write a store into DIR/key_value_stores/<name>/ as the Apify SDK lays it out"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char exit_codes[] =
    "Exit status: 0 done, 1 error, 2 usage error, 3 not found (no such store, record or user).\n";

void kvs_cli_usage_all(FILE *out)
{
    fprintf(out, "usage: kvs <command> [options]\n\nData (through a server: --url URL or $KVS_URL, "
                 "--token TOKEN or $KVS_TOKEN):\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  kvs %s %s\n      %s\n", commands[i].name, commands[i].synopsis,
                commands[i].help);
    fprintf(out,
            "  Options of these: --json (JSON for scripts), --retries N (on 429, 5xx and network\n"
            "  errors; default %d). Output is a table on a terminal, tab-separated lines\n"
            "  otherwise. STORE is an ID, USERNAME~NAME, or a name of your own store (or of\n"
            "  the one store of that name shared with you). A server that does not answer is\n"
            "  told on a terminal while the retries wait.\n"
            "\n"
            "Server and administration:\n"
            "  kvs serve [options]              run the server (kvs serve --help)\n"
            "  kvs user add NAME [--admin] [--default-general-access ACCESS]\n"
            "  kvs user list | kvs user delete NAME (their stores and tokens go with them)\n"
            "  kvs token create USER [--store STORE[:read|:write]]... [--access read|write]\n"
            "                   [--administration] [--expires DURATION]\n"
            "  kvs token list USER | kvs token revoke PREFIX\n"
            "  kvs share STORE USER --read|--write\n"
            "  kvs unshare STORE USER\n"
            "  kvs import [--store NAME] [--dry-run] SRC   (kvs import --help)\n"
            "  kvs backup --data DIR OUT | kvs restore [--force] --data DIR BACKUP\n"
            "  kvs check --data DIR             large records against their blob files\n"
            "  kvs version                      which kvs this is (also kvs --version)\n"
            "\n"
            "Actors (kvs run --help):\n"
            "  kvs run [--input FILE | --input-json JSON] [--actor NAME] [--timeout SECS]\n"
            "          -- CMD [ARGS...]  run an Actor here, its run and store on the server\n"
            "\n"
            "The administration commands take one of:\n"
            "  --data DIR        work on the data directory itself (the server may be running)\n"
            "  --url URL         a running server (default $KVS_URL), with\n"
            "  --token TOKEN     an API token (default $KVS_TOKEN): the admin's for user and\n"
            "                    token commands, the store owner's for share and unshare\n"
            "\n"
            "ACCESS is RESTRICTED (the default), ANYONE_WITH_ID_CAN_READ or\n"
            "ANYONE_WITH_NAME_CAN_READ. A new token is printed only once. PREFIX is the start of\n"
            "a token as `kvs token list` shows it, or the whole token.\n"
            "A token may be limited: --store (repeatable, up to 16) to a store by ID, NAME,\n"
            "USER~NAME or a name PREFIX* (present or future), for reading (the default) or\n"
            "writing; --access to every store for reading or writing; without\n"
            "--administration it may not manage stores, shares, users or tokens; --expires\n"
            "30d (12h, 90m, ...) ends it then.\n"
            "\n%s",
            DEFAULT_RETRIES, exit_codes);
}

/* Print "kvs: MESSAGE" on stderr and return STATUS. */
static int say(int status, const char *fmt, va_list ap)
{
    fputs("kvs: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return status;
}

int kvs_cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = say(1, fmt, ap);
    va_end(ap);
    return rc;
}

void kvs_cli_print_token(const char *what, const char *username, const char *token)
{
    printf("%s for user %s (shown only this once):\n%s\n", what, username, token);
}

void kvs_cli_print_user_deleted(const char *username, int64_t stores, int64_t records)
{
    printf("deleted user %s with their tokens and %lld store%s (%lld record%s)\n", username,
           (long long)stores, stores == 1 ? "" : "s", (long long)records, records == 1 ? "" : "s");
}

void kvs_cli_scope_summary(const json_t *scope, const char *self, char *out, size_t n)
{
    size_t at = 0;
    out[0] = '\0';
#define PUT(...) (at += (size_t)snprintf(out + at, at < n ? n - at : 0, __VA_ARGS__))
    if (!json_is_object(scope)) {
        PUT("-");
        return;
    }
    const json_t *stores = json_object_get(scope, "stores");
    if (!json_is_array(stores)) {
        const char *a = json_string_value(json_object_get(scope, "access"));
        PUT("all:%s", a && strcmp(a, "WRITE") == 0 ? "write" : "read");
    }
    size_t i;
    const json_t *e;
    json_array_foreach(stores, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *prefix = json_string_value(json_object_get(e, "namePrefix"));
        const char *user = json_string_value(json_object_get(e, "username"));
        if (user == NULL)
            user = json_string_value(json_object_get(e, "userId"));
        const char *a = json_string_value(json_object_get(e, "access"));
        const char *level = a && strcmp(a, "WRITE") == 0 ? "write" : "read";
        const char *sep = i ? " " : "";
        if (id)
            PUT("%s%s:%s", sep, id, level);
        else
            PUT("%s%s%s%s%s:%s", sep, user && (!self || strcmp(user, self) != 0) ? user : "",
                user && (!self || strcmp(user, self) != 0) ? "~" : "", name ? name : prefix,
                name ? "" : "*", level);
    }
    if (json_is_true(json_object_get(scope, "administration")))
        PUT(" +admin");
#undef PUT
    if (at >= n && n > 4)
        memcpy(out + n - 4, "...", 4);
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

/* What `kvs token create` limits its token by, from its options. */
struct token_limits {
    int given;
    json_t *stores;     /* --store entries, or NULL */
    const char *access; /* --access: "READ" or "WRITE" */
    int administration; /* --administration */
    uint64_t expires_ms; /* --expires, 0 = never */
};

static void free_limits(struct token_limits *l)
{
    json_decref(l->stores);
    l->stores = NULL;
}

/* Take option NAME with VALUE into L. Returns 0 or the exit status of a usage error. */
static int take_limit(struct token_limits *l, const char *name, const char *value)
{
    l->given = 1;
    if (strcmp(name, "administration") == 0) {
        l->administration = 1;
        return 0;
    }
    if (strcmp(name, "expires") == 0) {
        if (kvs_parse_duration_ms(value, &l->expires_ms) != 0 || l->expires_ms < 1000)
            return usage_error("invalid --expires '%s' (30d, 12h, 90m, 60s)", value);
        return 0;
    }
    if (strcmp(name, "access") == 0) {
        if (strcasecmp(value, "read") != 0 && strcasecmp(value, "write") != 0)
            return usage_error("invalid --access '%s' (read or write)", value);
        l->access = strcasecmp(value, "read") == 0 ? "READ" : "WRITE";
        return 0;
    }
    /* --store STORE[:read|:write]: store references hold no ':' */
    const char *colon = strrchr(value, ':');
    const char *level = "READ";
    size_t n = strlen(value);
    if (colon != NULL) {
        if (strcasecmp(colon + 1, "read") != 0 && strcasecmp(colon + 1, "write") != 0)
            return usage_error("invalid --store '%s' (STORE, STORE:read or STORE:write)", value);
        level = strcasecmp(colon + 1, "read") == 0 ? "READ" : "WRITE";
        n = (size_t)(colon - value);
    }
    if (n == 0)
        return usage_error("invalid --store '%s' (STORE, STORE:read or STORE:write)", value);
    if (l->stores == NULL)
        l->stores = json_array();
    json_array_append_new(l->stores,
                          json_pack("{s:s%,s:s}", "store", value, n, "access", level));
    return 0;
}

/* L as the JSON text the API takes into *OUT (malloc'd; NULL when nothing limits the token).
 * Returns 0 or the exit status of a usage error. */
static int limits_json(struct token_limits *l, const char **out)
{
    *out = NULL;
    if (!l->given)
        return 0;
    if (l->stores != NULL && l->access != NULL) {
        free_limits(l);
        return usage_error("give --store or --access, not both");
    }
    json_t *body = json_object();
    if (l->stores != NULL || l->access != NULL || l->administration) {
        json_t *scope = json_object();
        if (l->stores != NULL)
            json_object_set(scope, "stores", l->stores);
        else
            json_object_set_new(scope, "access", json_string(l->access ? l->access : "WRITE"));
        json_object_set_new(scope, "administration", json_boolean(l->administration));
        json_object_set_new(body, "scope", scope);
    }
    if (l->expires_ms != 0)
        json_object_set_new(body, "expiresInSecs",
                            json_integer((json_int_t)((l->expires_ms + 999) / 1000)));
    *out = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    free_limits(l);
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
        {"user", "add", KVS_CLI_USER_ADD, 1},       {"user", "list", KVS_CLI_USER_LIST, 0},
        {"user", "delete", KVS_CLI_USER_DELETE, 1}, {"token", "create", KVS_CLI_TOKEN_CREATE, 1},
        {"token", "list", KVS_CLI_TOKEN_LIST, 1},   {"token", "revoke", KVS_CLI_TOKEN_REVOKE, 1},
        {"share", NULL, KVS_CLI_SHARE, 2},          {"unshare", NULL, KVS_CLI_UNSHARE, 2},
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
    enum {
        O_DATA = 1,
        O_URL,
        O_TOKEN,
        O_ADMIN,
        O_ACCESS,
        O_READ,
        O_WRITE,
        O_STORE,
        O_ALL_ACCESS,
        O_ADMINISTRATION,
        O_EXPIRES,
        O_HELP
    };
    static const struct option options[] = {
        {"data", required_argument, NULL, O_DATA},
        {"url", required_argument, NULL, O_URL},
        {"token", required_argument, NULL, O_TOKEN},
        {"admin", no_argument, NULL, O_ADMIN},
        {"default-general-access", required_argument, NULL, O_ACCESS},
        {"read", no_argument, NULL, O_READ},
        {"write", no_argument, NULL, O_WRITE},
        {"store", required_argument, NULL, O_STORE},
        {"access", required_argument, NULL, O_ALL_ACCESS},
        {"administration", no_argument, NULL, O_ADMINISTRATION},
        {"expires", required_argument, NULL, O_EXPIRES},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct kvs_cli_req req = {.default_access = -1, .level = -1};
    int given_access = 0;
    struct token_limits lim = {0};
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
        case O_STORE:
        case O_ALL_ACCESS:
        case O_ADMINISTRATION:
        case O_EXPIRES: {
            int rc = take_limit(&lim, c == O_STORE ? "store" : c == O_ALL_ACCESS ? "access"
                                                  : c == O_EXPIRES  ? "expires"
                                                                    : "administration",
                                optarg);
            if (rc != 0) {
                free_limits(&lim);
                return rc;
            }
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
            kvs_cli_usage_all(stdout);
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
    if (lim.given && req.cmd != KVS_CLI_TOKEN_CREATE) {
        free_limits(&lim);
        return usage_error("--store, --access, --administration and --expires are for 'kvs "
                           "token create'");
    }
    int rc = limits_json(&lim, &req.limits);
    if (rc == 0)
        rc = kvs_cli_resolve_target(&req, 1, "kvs help");
    if (rc == 0) {
        kvs_log_set_level(KVS_LOG_WARN); /* a command's output is its result */
        rc = req.data ? kvs_cli_local(&req) : kvs_cli_remote(&req);
    }
    free((char *)req.limits);
    return rc;
}

/* ==== the data commands ====================================================================== */

int kvs_cli_connect(const char *url, const char *token, long retries, kvs_client **out)
{
    int rc = kvs_client_open(url, token, out);
    if (rc == KVS_EINVAL)
        return kvs_cli_usage_error("kvs help", "'%s' is not an http:// or https:// URL", url);
    if (rc != 0)
        return kvs_cli_fail("cannot open a client: %s", kvs_strerror(rc));
    if (kvs_client_set(*out, KVS_OPT_MAX_RETRIES, retries >= 0 ? retries : DEFAULT_RETRIES) != 0) {
        kvs_client_close(*out);
        *out = NULL;
        return kvs_cli_fail("cannot set the retries");
    }
    kvs_cli_tell_retries(*out);
    return 0;
}

static const struct kvs_cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static void usage_of(const struct kvs_cli_command *cmd, FILE *out)
{
    fprintf(out, "usage: kvs %s %s\n\n%s.\n\n", cmd->name, cmd->synopsis, cmd->help);
    fprintf(out,
            "  --url URL        the server (default $KVS_URL)\n"
            "  --token TOKEN    an API token (default $KVS_TOKEN; none: public reads only)\n"
            "  --retries N      retries on 429, 5xx and network errors (default %d)\n",
            DEFAULT_RETRIES);
    if (cmd->opts & KVS_CLI_O_JSON)
        fprintf(out, "  --json           print JSON (for scripts)\n");
    fprintf(out, "\n%s", exit_codes);
}

/* The data options: {long name, has a value, KVS_CLI_O_* bit (0: every command)}. */
enum {
    D_URL = 1000,
    D_TOKEN,
    D_RETRIES,
    D_JSON,
    D_PREFIX,
    D_OUTPUT,
    D_TYPE,
    D_EXPIRES,
    D_LAYOUT,
    D_UNNAMED,
    D_DESC,
    D_OFFSET,
    D_LIMIT,
    D_UNNAME,
    D_STORE_NAME,
    D_KEY,
    D_HELP,
};

static const struct option data_options[] = {
    {"url", required_argument, NULL, D_URL},
    {"token", required_argument, NULL, D_TOKEN},
    {"retries", required_argument, NULL, D_RETRIES},
    {"json", no_argument, NULL, D_JSON},
    {"prefix", required_argument, NULL, D_PREFIX},
    {"output", required_argument, NULL, D_OUTPUT},
    {"content-type", required_argument, NULL, D_TYPE},
    {"expires", required_argument, NULL, D_EXPIRES},
    {"layout", required_argument, NULL, D_LAYOUT},
    {"unnamed", no_argument, NULL, D_UNNAMED},
    {"desc", no_argument, NULL, D_DESC},
    {"offset", required_argument, NULL, D_OFFSET},
    {"limit", required_argument, NULL, D_LIMIT},
    {"unname", no_argument, NULL, D_UNNAME},
    {"store-name", required_argument, NULL, D_STORE_NAME},
    {"key", required_argument, NULL, D_KEY},
    {"help", no_argument, NULL, D_HELP},
    {NULL, 0, NULL, 0},
};

/* The KVS_CLI_O_* bit of option C (0: an option of every command). */
static unsigned option_bit(int c)
{
    switch (c) {
    case D_JSON:
        return KVS_CLI_O_JSON;
    case D_PREFIX:
        return KVS_CLI_O_PREFIX;
    case D_OUTPUT:
    case 'o':
        return KVS_CLI_O_OUTPUT;
    case D_TYPE:
        return KVS_CLI_O_CONTENT_TYPE;
    case D_EXPIRES:
        return KVS_CLI_O_EXPIRES;
    case D_LAYOUT:
        return KVS_CLI_O_LAYOUT;
    case D_UNNAMED:
        return KVS_CLI_O_UNNAMED;
    case D_DESC:
        return KVS_CLI_O_DESC;
    case D_OFFSET:
    case D_LIMIT:
        return KVS_CLI_O_PAGE;
    case D_UNNAME:
        return KVS_CLI_O_UNNAME;
    case D_STORE_NAME:
    case D_KEY:
        return KVS_CLI_O_RECORD;
    }
    return 0;
}

/* A non-negative integer option into *OUT. Returns 0 or -1. */
static int number(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0)
        return -1;
    *out = v;
    return 0;
}

int kvs_cli_data_main(int argc, char **argv)
{
    const struct kvs_cli_command *cmd = find_command(argv[0]);
    if (cmd == NULL)
        return -1;
    char hint[64];
    snprintf(hint, sizeof hint, "kvs %s --help", cmd->name);
    struct kvs_cli_opts o = {.cmd = cmd, .retries = -1};
    opterr = 0;
    optind = 1;
    int c;
    uint64_t n;
    while ((c = getopt_long(argc, argv, ":ho:", data_options, NULL)) != -1) {
        unsigned bit = option_bit(c);
        if (bit != 0 && !(cmd->opts & bit))
            return kvs_cli_usage_error(hint, "'%s' is not an option of 'kvs %s'", argv[optind - 1],
                                       cmd->name);
        switch (c) {
        case D_URL:
            o.url = optarg;
            break;
        case D_TOKEN:
            o.token = optarg;
            break;
        case D_RETRIES:
            if (number(optarg, &n) != 0 || n > 100)
                return kvs_cli_usage_error(hint, "--retries takes a number from 0 to 100");
            o.retries = (long)n;
            break;
        case D_JSON:
            o.json = 1;
            break;
        case D_PREFIX:
            o.prefix = optarg;
            break;
        case D_OUTPUT:
        case 'o':
            o.output = optarg;
            break;
        case D_TYPE:
            if (*optarg == '\0')
                return kvs_cli_usage_error(hint, "--content-type needs a type");
            o.content_type = optarg;
            break;
        case D_EXPIRES:
            if (kvs_parse_duration_ms(optarg, &o.expires_ms) != 0)
                return kvs_cli_usage_error(hint, "--expires takes a duration such as 90s, 30m, "
                                                 "12h, 7d (0: never)");
            o.has_expires = 1;
            break;
        case D_LAYOUT:
            o.layout = optarg;
            break;
        case D_UNNAMED:
            o.unnamed = 1;
            break;
        case D_DESC:
            o.desc = 1;
            break;
        case D_OFFSET:
        case D_LIMIT:
            if (number(optarg, &n) != 0)
                return kvs_cli_usage_error(hint, "%s takes a number", argv[optind - 1]);
            *(c == D_OFFSET ? &o.offset : &o.limit) = n;
            break;
        case D_UNNAME:
            o.unname = 1;
            break;
        case D_STORE_NAME:
            o.store_name = optarg;
            break;
        case D_KEY:
            o.key = optarg;
            break;
        case D_HELP:
        case 'h':
            usage_of(cmd, stdout);
            return 0;
        case ':':
            return kvs_cli_usage_error(hint, "option '%s' needs a value", argv[optind - 1]);
        default:
            return kvs_cli_usage_error(hint, "unknown option '%s'", argv[optind - 1]);
        }
    }
    /* what is left: the command's name (getopt leaves argv[0] first), then its arguments */
    o.args = argv + optind;
    o.nargs = argc - optind;
    if (o.nargs < cmd->min_args || o.nargs > cmd->max_args)
        return kvs_cli_usage_error(hint, "%s arguments for 'kvs %s' (%s)",
                                   o.nargs < cmd->min_args ? "missing" : "too many", cmd->name,
                                   cmd->synopsis);
    if (o.url == NULL)
        o.url = getenv("KVS_URL");
    if (o.token == NULL)
        o.token = getenv("KVS_TOKEN");
    if (o.url == NULL || *o.url == '\0')
        return kvs_cli_usage_error(hint, "give --url URL (or set KVS_URL)");
    kvs_client *client;
    int rc = kvs_cli_connect(o.url, o.token, o.retries, &client);
    if (rc != 0)
        return rc;
    /* The store argument: a bare name that is none of the caller's stores may stand for a
     * store shared with them, found only when the server says there is no such store (no
     * request more when there is). A value read from a pipe cannot be sent again. */
    const char **store = NULL;
    if ((cmd->opts & KVS_CLI_STORE_ARG) && o.store_name != NULL)
        store = &o.store_name;
    else if ((cmd->opts & KVS_CLI_STORE_ARG) && o.nargs > 0)
        store = (const char **)&o.args[0];
    int from_stdin =
        (cmd->run == kvs_cli_cmd_set && (o.nargs < 3 || strcmp(o.args[2], "-") == 0)) ||
        (cmd->run == kvs_cli_cmd_set_value && o.nargs < 3);
    struct stat sb;
    int may_rerun = !from_stdin || (fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode));
    off_t stdin_at = from_stdin && may_rerun ? lseek(STDIN_FILENO, 0, SEEK_CUR) : 0;
    kvs_cli_shared_begin(store ? *store : NULL, may_rerun);
    rc = cmd->run(client, &o);
    char *resolved = rc == KVS_CLI_RERUN ? kvs_cli_shared_take() : NULL;
    if (resolved != NULL) {
        *store = resolved;
        if (from_stdin)
            (void)lseek(STDIN_FILENO, stdin_at, SEEK_SET); /* a regular file: from where it was */
        kvs_cli_shared_begin(NULL, 0);
        rc = cmd->run(client, &o);
    }
    free(resolved);
    kvs_client_close(client);
    return rc == KVS_CLI_RERUN ? 1 : rc;
}

/* ==== completion ============================================================================= */

/* The administration commands, for completion: subcommands and options. */
static const struct {
    const char *name, *subcommands, *options;
    int files; /* their positional arguments are paths */
} admin[] = {
    {"serve", NULL, "--listen --data --help", 0},
    {"user", "add list delete", "--admin --default-general-access --data --url --token --help", 0},
    {"token", "create list revoke",
     "--store --access --administration --expires --data --url --token --help", 0},
    {"share", NULL, "--read --write --data --url --token --help", 0},
    {"unshare", NULL, "--data --url --token --help", 0},
    {"import", NULL, "--store --dry-run --data --url --token --help", 1},
    {"backup", NULL, "--data --help", 1},
    {"restore", NULL, "--force --data --help", 1},
    {"run", NULL, "--input --input-json --actor --timeout --url --token --help", 1},
    {"check", NULL, "--data --help", 0},
    {"help", NULL, "", 0},
    {"version", NULL, "", 0},
};

/* Whether option WORD takes a value (the next word is then not an argument). */
static int takes_value(const char *word)
{
    static const char *const with_value[] = {
        "--url",   "--token",        "--retries", "--prefix", "--output",
        "-o",      "--content-type", "--expires", "--layout", "--offset",
        "--limit", "--store-name",   "--key",     "--data",   "--default-general-access",
        "--store", "--listen",        "--input",   "--input-json", "--actor",
        "--timeout",
    };
    for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++) {
        if (strcmp(word, with_value[i]) == 0)
            return 1;
    }
    return 0;
}

/* Print the long options of data command CMD. */
static void data_options_of(const struct kvs_cli_command *cmd)
{
    for (const struct option *op = data_options; op->name != NULL; op++) {
        unsigned bit = option_bit(op->val);
        if (bit == 0 || (cmd->opts & bit))
            printf("--%s\n", op->name);
    }
}

int kvs_cli_complete(int argc, char **argv)
{
    /* ARGV[0] is "__complete"; the words typed before the one being completed follow */
    char **w = argv + 1;
    int n = argc - 1;
    if (n == 0) {
        for (size_t i = 0; i < NCOMMANDS; i++)
            printf("%s\n", commands[i].name);
        for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++)
            printf("%s\n", admin[i].name);
        return 0;
    }
    const char *prev = w[n - 1];
    if (n >= 2 && takes_value(prev)) {
        if (strcmp(prev, "--output") == 0 || strcmp(prev, "-o") == 0 || strcmp(prev, "--data") == 0)
            printf("__files__\n");
        else if (strcmp(prev, "--layout") == 0)
            printf("js\nsidecar\npython\n");
        else if (strcmp(prev, "--default-general-access") == 0)
            printf("RESTRICTED\nANYONE_WITH_ID_CAN_READ\nANYONE_WITH_NAME_CAN_READ\n");
        return 0;
    }
    /* the positional arguments so far, after the command */
    int pos = 0;
    for (int i = 1; i < n; i++) {
        if (w[i][0] == '-' && w[i][1] != '\0')
            i += takes_value(w[i]);
        else
            pos++;
    }
    const struct kvs_cli_command *cmd = find_command(w[0]);
    if (cmd != NULL) {
        data_options_of(cmd);
        if ((cmd->file_args >> pos) & 1)
            printf("__files__\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
        if (strcmp(admin[i].name, w[0]) != 0)
            continue;
        for (const char *p = admin[i].options; *p; p++)
            putchar(*p == ' ' ? '\n' : *p);
        putchar('\n');
        if (admin[i].subcommands != NULL && pos == 0)
            for (const char *p = admin[i].subcommands; *p; p++)
                putchar(*p == ' ' ? '\n' : *p);
        if (admin[i].subcommands != NULL && pos == 0)
            putchar('\n');
        if (admin[i].files)
            printf("__files__\n");
    }
    return 0;
}
