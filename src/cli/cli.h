/* cli.h — the `kvs` command line: the data commands on libkvs, and the administration commands.
 *
 * Data commands (cli.c parses them from one table; cmd_stores.c, cmd_records.c, cmd_keys.c and
 * cmd_localfs.c carry them out through libkvs, kvs/client.h, the CLI's one HTTP client):
 *   kvs ls | create [NAME] | info STORE | rename STORE NEW | rm STORE
 *   kvs keys STORE [--prefix P] | url STORE [KEY] [--expires DURATION]
 *   kvs get STORE KEY [-o FILE] | set STORE KEY [FILE|-] [--content-type T] | del STORE KEY
 *   kvs exists STORE KEY | export STORE DIR [--layout L]
 *   and the spellings of Apify's documentation: get-value, set-value, delete-value,
 *   get-record --store-name S --key K.
 * Server and token come from --url/--token or $KVS_URL/$KVS_TOKEN. Output: human tables on a
 * terminal, tab-separated lines without a header otherwise, --json for scripts; `get` writes
 * nothing but the value. Exit status: 0 ok, 1 error, 2 usage error, 3 not found.
 *
 * Administration commands:
 *   kvs user add NAME [--admin] [--default-general-access ACCESS]
 *   kvs user list
 *   kvs user delete NAME             (with their tokens, the shares they were given, and every
 *                                    store they own; the only admin is refused)
 *   kvs token create USER
 *   kvs token list USER
 *   kvs token revoke PREFIX          (a prefix from `token list`, or the whole token)
 *   kvs share STORE USER --read|--write
 *   kvs unshare STORE USER
 *   kvs backup --data DIR OUT, kvs restore [--force] --data DIR BACKUP, kvs check --data DIR
 *                                    (cli/backup.c; --data only, with rules of their own there)
 *   kvs import [--store NAME] [--dry-run] SRC  (cli/import.c: an Apify/Crawlee local storage
 *                                    directory into kvstore, both ways below)
 *
 * Each works in one of two ways, chosen by the options every command takes:
 *   --data DIR              on the data directory itself, through the storage layer. LMDB lets
 *                           several processes share an environment, so the server may be
 *                           running meanwhile; its requests see each change as soon as it is
 *                           committed. The storage is open only while the command runs. No
 *                           token is needed: whoever can write DIR owns the data anyway.
 *                           DIR may also be the postgres:// URI of servers on PostgreSQL:
 *                           the command then works on that database the same way.
 *   --url URL --token TOKEN through the HTTP admin API of a running server (api/users.c,
 *                           api/shares.c), with libkvs; $KVS_URL and $KVS_TOKEN are the
 *                           defaults. User and token commands need the admin's token; share and
 *                           unshare the store owner's (or the admin's).
 * STORE is a store ID or USERNAME~NAME (over HTTP also a bare name of the caller's own store).
 *
 * Output is plain text on stdout; a new token is printed once, alone on the last line.
 * Errors are one line on stderr and exit status 1 (3 when what was named does not exist);
 * usage errors exit with 2.
 *
 * Unlike the rest of a CLI built on libkvs, the --data mode uses the server's storage and auth
 * modules directly: it is the way in when no server runs yet, or when the admin's token is
 * lost. */
#ifndef KVS_CLI_CLI_H
#define KVS_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>

#include "kvs/client.h"

/* Run the command in ARGV (ARGV[0] is "user", "token", "share" or "unshare"). Returns the
 * process exit status. */
int kvs_cli_main(int argc, char **argv);

/* What a command asks; filled by cli.c, carried out by one of the two back-ends. */
enum kvs_cli_cmd {
    KVS_CLI_USER_ADD,
    KVS_CLI_USER_LIST,
    KVS_CLI_USER_DELETE,
    KVS_CLI_TOKEN_CREATE,
    KVS_CLI_TOKEN_LIST,
    KVS_CLI_TOKEN_REVOKE,
    KVS_CLI_SHARE,
    KVS_CLI_UNSHARE,
};

struct kvs_cli_req {
    enum kvs_cli_cmd cmd;
    const char *name;   /* USER or NAME; for token revoke the PREFIX */
    const char *store;  /* share, unshare */
    int admin;          /* user add --admin */
    int default_access; /* user add: enum kvs_general_access, or -1 for the default */
    int level;          /* share: enum kvs_share_level */
    const char *data;   /* --data DIR, or NULL */
    const char *url;    /* --url (or $KVS_URL) when DATA is NULL */
    const char *token;  /* --token (or $KVS_TOKEN) */
    /* token create: what limits the new token, as the API takes it ({"scope"?,
     * "expiresInSecs"?}, JSON text), or NULL for none */
    const char *limits;
};

/* Carry out REQ on the data directory REQ->data. Prints the result; returns the exit status. */
int kvs_cli_local(const struct kvs_cli_req *req);

/* Carry out REQ through the HTTP API at REQ->url. Prints the result; returns the exit status. */
int kvs_cli_remote(const struct kvs_cli_req *req);

/* Exit status when what the command names does not exist (store, record, user). */
#define KVS_CLI_NOT_FOUND 3

/* Open the libkvs client of REQ->url and REQ->token into *OUT, with RETRIES retries (-1: the
 * CLI's default). Returns 0 or the exit status of the failure, printed. */
int kvs_cli_connect(const char *url, const char *token, long retries, kvs_client **out);

/* ---- failures (fail.c): one message per situation, whichever command meets it ---------- */

/* Print the failure RC of the last call on C, "kvs: CONTEXT: MESSAGE (HTTP STATUS)" (CONTEXT
 * printf-style, may be NULL), with what to do when the server cannot be reached (is it
 * running? --url) or refused the token (401), and return its exit status: KVS_CLI_NOT_FOUND
 * for KVS_ENOTFOUND, else 1. */
int kvs_cli_api_fail(kvs_client *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a failed call was about: the names the command was given (NULL when none). */
struct kvs_cli_about {
    const char *store, *key, *user, *token;
    const char *file; /* the value's file ("-": stdin), for a 413 */
    int64_t size;     /* the value's size, -1 when not known, for a 413 */
};

/* As kvs_cli_api_fail(), in the words of the situation: what does not exist ("no store 'S'",
 * "no record 'K' in store 'S'", "no user named 'U'", "no token matches 'P'", the same words
 * as the --data commands; when the call named a store and a record or user in it, C is asked
 * which of them is missing), or a value larger than the server's limit (with the limit, from
 * GET /health, and the option that sets it). */
int kvs_cli_fail_about(kvs_client *c, int rc, const struct kvs_cli_about *a);

/* The not-found messages, for both ways a command runs: HTTP is the status of the server's
 * answer, 0 for a command on a data directory. Return KVS_CLI_NOT_FOUND. A bare store name
 * (neither an ID nor USERNAME~NAME) is told how another user's store is named. */
int kvs_cli_no_store(const char *store, int http);
int kvs_cli_no_record(const char *store, const char *key, int http);
int kvs_cli_no_user(const char *user, int http);
int kvs_cli_no_token(const char *prefix, int http);

/* When stderr is a terminal, say on it each retry of C's calls and what made it (a server
 * that is down, a 503). */
void kvs_cli_tell_retries(kvs_client *c);

/* `kvs import [--store NAME] [--dry-run] (--data DIR | --url URL --token TOKEN) SRC`
 * (cli/import.c, where the rules are). ARGV[0] is "import". Returns the exit status. */
int kvs_cli_import_main(int argc, char **argv);

/* Whether DIR holds an LMDB data file (DIR/data.mdb, a regular file): a kvs data directory or
 * backup (cli/local.c). */
int kvs_cli_has_data_file(const char *dir);

/* Open the storage in the data directory DIR (cli/local.c), which must already hold one: a
 * typo must not create an empty data directory; or, for a postgres:// URI, that database.
 * Returns 0 (*OUT to be closed with kvs_storage_close) or the exit status of the failure,
 * printed (*OUT is then NULL). */
struct kvs_storage;
int kvs_cli_open_data(const char *dir, struct kvs_storage **out);

/* Print "kvs: MESSAGE" on stderr (printf-style) and return 1, the exit status of a failure. */
int kvs_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "kvs: MESSAGE (see HINT)" on stderr, MESSAGE formatted printf-style, and return 2, the
 * exit status of a usage error. HINT says where the usage is, e.g. "kvs backup --help". */
int kvs_cli_usage_error(const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Settle where REQ's command runs: --data DIR, or --url and --token, which default to $KVS_URL
 * and $KVS_TOKEN and are checked only when REQUIRED (a command that may run without either
 * passes 0). Never both --data and --url. Returns 0, or the exit status of a usage error,
 * printed with HINT (kvs_cli_usage_error). */
int kvs_cli_resolve_target(struct kvs_cli_req *req, int required, const char *hint);

/* `kvs backup --data DIR OUT`, `kvs restore [--force] --data DIR BACKUP` and `kvs check --data
 * DIR` (cli/backup.c, where the rules are). ARGV[0] is "backup", "restore" or "check". Returns
 * the exit status. */
int kvs_cli_backup_main(int argc, char **argv);

/* Print a new TOKEN for USERNAME, shown only this once: the token alone on the last line. */
void kvs_cli_print_token(const char *what, const char *username, const char *token);

/* Print that user USERNAME was deleted, with the STORES (holding RECORDS records) that went
 * with them: the same line both ways a command runs. */
void kvs_cli_print_user_deleted(const char *username, int64_t stores, int64_t records);

/* A token's SCOPE (as the API shows it: JSON null for none) in a few words into OUT:
 * "-" (none), "all:read", "tmp-*:write bob~reports:read +admin" ("user~" only for others'). */
void kvs_cli_scope_summary(const json_t *scope, const char *self, char *out, size_t n);

/* ==== the data commands ====================================================================== */

/* The options of the data commands, as bits: which a command takes. */
enum {
    KVS_CLI_O_JSON = 1u << 0,
    KVS_CLI_O_PREFIX = 1u << 1,
    KVS_CLI_O_OUTPUT = 1u << 2,
    KVS_CLI_O_CONTENT_TYPE = 1u << 3,
    KVS_CLI_O_EXPIRES = 1u << 4,
    KVS_CLI_O_LAYOUT = 1u << 5,
    KVS_CLI_O_UNNAMED = 1u << 6,
    KVS_CLI_O_DESC = 1u << 7,
    KVS_CLI_O_PAGE = 1u << 8, /* --offset, --limit */
    KVS_CLI_O_UNNAME = 1u << 9,
    KVS_CLI_O_RECORD = 1u << 10, /* --store-name, --key */
    /* not an option: the command's first argument (or --store-name) names a store, which a
     * bare name shared with the caller may stand for (kvs_cli_resolve_store) */
    KVS_CLI_STORE_ARG = 1u << 15,
};

/* A data command's parsed line. */
struct kvs_cli_opts {
    const struct kvs_cli_command *cmd;
    const char *url, *token;
    long retries; /* -1: the default */
    int json;
    const char *prefix, *output, *content_type, *layout, *store_name, *key;
    uint64_t expires_ms; /* --expires; 0 = forever */
    int has_expires;
    int unnamed, desc, unname;
    uint64_t offset, limit; /* --offset; --limit, 0 = all */
    char **args;            /* the positional arguments */
    int nargs;
};

/* One data command. */
struct kvs_cli_command {
    const char *name;
    /* Run with the client C open; returns the exit status. */
    int (*run)(kvs_client *c, const struct kvs_cli_opts *o);
    int min_args, max_args;
    unsigned opts;      /* KVS_CLI_O_* it takes */
    unsigned file_args; /* bit i: positional argument i names a file or directory */
    const char *synopsis;
    const char *help;
};

/* Run the data command ARGV[0] if it is one. Returns its exit status, or -1 when ARGV[0] is
 * no data command. */
int kvs_cli_data_main(int argc, char **argv);

/* The content type of a file named PATH, from its extension (common/mime.h); NULL when it says
 * nothing. */
const char *kvs_cli_type_of_name(const char *path);

/* `kvs run [options] -- CMD ARGS...` (cli/cmd_run.c, where the rules are): run an Actor against
 * the server. ARGV[0] is "run". Returns the exit status (CMD's). */
int kvs_cli_run_main(int argc, char **argv);

/* Print the usage of every command (`kvs help`) to OUT. */
void kvs_cli_usage_all(FILE *out);

/* `kvs __complete WORD...`: the words that may follow WORD... on a command line, one a line,
 * for the bash completion (tools/kvs-completion.bash); "__files__" stands for a file name. */
int kvs_cli_complete(int argc, char **argv);

/* The stores named NAME that others share with the caller (every page of them): their count
 * (0..1000), the first as "OWNER~NAME" into *REF (free() it; NULL when none), and all of them
 * into LIST (CAP bytes, ", "-separated, cut when full). Returns the count or an error. */
int kvs_cli_shared_named(kvs_client *c, const char *name, char **ref, char *list, size_t cap);

/* A bare store name (neither an ID nor USERNAME~NAME) means one of the caller's own stores;
 * when the caller has none of that name but exactly one store of that name is shared with
 * them (kvs ls lists it by that name), the command is run again on that store. The data
 * command's runner (cli.c) says which store argument STORE is and whether the command may be
 * run again (MAY_RERUN: not when its value came from a pipe it has read); a "no store" failure
 * about STORE then looks for a shared one (kvs_cli_fail_about) and, when the command may run
 * again, returns KVS_CLI_RERUN instead of printing anything, the store to run it on left for
 * kvs_cli_shared_take(). */
#define KVS_CLI_RERUN 100 /* never an exit status */
void kvs_cli_shared_begin(const char *store, int may_rerun);
/* The "OWNER~NAME" to run the command again on (free() it), or NULL. */
char *kvs_cli_shared_take(void);

/* The commands, by the file that carries them out. */
int kvs_cli_cmd_ls(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_create(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_info(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_rename(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_rm(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_rotate_key(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_get(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_get_record(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_set(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_set_value(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_del(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_exists(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_keys(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_url(kvs_client *c, const struct kvs_cli_opts *o);
int kvs_cli_cmd_export(kvs_client *c, const struct kvs_cli_opts *o);

/* ---- output (out.c) ------------------------------------------------------------------------ */

/* A table for stdout: aligned columns under a header when stdout is a terminal (printed by
 * kvs_cli_table_print), else one tab-separated line per row without a header, printed as each
 * row is added (for cut, awk and shell loops; a listing of a million keys is not held). */
struct kvs_cli_table {
    size_t ncols;
    const char *const *head;
    unsigned right; /* bit i: column i is aligned right (numbers) */
    char **cells;   /* row after row, each owned */
    size_t nrows, cap;
};

void kvs_cli_table_init(struct kvs_cli_table *t, size_t ncols, const char *const *head,
                        unsigned right);
/* Add a row of NCOLS cells (NULL prints as "-"). */
void kvs_cli_table_add(struct kvs_cli_table *t, const char *const *row);
void kvs_cli_table_print(struct kvs_cli_table *t);
void kvs_cli_table_free(struct kvs_cli_table *t);

/* Whether stdout is a terminal (then tables are for people). */
int kvs_cli_stdout_tty(void);

/* Print the JSON TEXT indented on stdout (a line of its own). Returns 0 or 1 (printed). */
int kvs_cli_print_json(const char *text);

/* N bytes for people ("512 B", "1.5 KiB", "12.0 MiB") into BUF. Returns BUF. */
const char *kvs_cli_bytes(int64_t n, char buf[32]);

/* An ISO 8601 time of the API ("2026-01-02T03:04:05.678Z") as "2026-01-02 03:04:05" into BUF
 * ("-" for NULL). Returns BUF. */
const char *kvs_cli_time(const char *iso, char buf[32]);

/* ---- progress (progress.c) ----------------------------------------------------------------- */

/* A progress bar on stderr for one record transfer: drawn only when stderr is a terminal and
 * the transfer passes KVS_CLI_PROGRESS_MIN bytes (bytes, rate, time left); silent otherwise. */
#define KVS_CLI_PROGRESS_MIN (4u << 20)

struct kvs_cli_progress {
    int tty;          /* stderr is a terminal */
    int drawn;        /* a bar is on the screen */
    double start;     /* seconds, monotonic */
    double last;      /* when the bar was last drawn */
    const char *what; /* "get", "set" */
};

/* Report C's record transfers to P until kvs_cli_progress_end(). */
void kvs_cli_progress_begin(struct kvs_cli_progress *p, kvs_client *c, const char *what);
void kvs_cli_progress_end(struct kvs_cli_progress *p, kvs_client *c);

#endif
