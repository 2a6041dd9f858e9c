/* cli.h — the `kvs` administration commands: users, tokens and shares.
 *
 *   kvs user add NAME [--admin] [--default-general-access ACCESS]
 *   kvs user list
 *   kvs token create USER
 *   kvs token list USER
 *   kvs token revoke PREFIX          (a prefix from `token list`, or the whole token)
 *   kvs share STORE USER --read|--write
 *   kvs unshare STORE USER
 *   kvs backup --data DIR OUT, kvs restore [--force] --data DIR BACKUP  (cli/backup.c; --data
 *                                    only, with rules of their own there)
 *   kvs import [--store NAME] [--dry-run] SRC  (cli/import.c: an Apify/Crawlee local storage
 *                                    directory into kvstore, both ways below)
 *
 * Each works in one of two ways, chosen by the options every command takes:
 *   --data DIR              on the data directory itself, through the storage layer. LMDB lets
 *                           several processes share an environment, so the server may be
 *                           running meanwhile; its requests see each change as soon as it is
 *                           committed. The storage is open only while the command runs. No
 *                           token is needed: whoever can write DIR owns the data anyway.
 *   --url URL --token TOKEN through the HTTP admin API of a running server (api/users.c,
 *                           api/shares.c), with libcurl; $KVS_URL and $KVS_TOKEN are the
 *                           defaults. User and token commands need the admin's token; share and
 *                           unshare the store owner's (or the admin's).
 * STORE is a store ID or USERNAME~NAME (over HTTP also a bare name of the caller's own store).
 *
 * Output is plain text on stdout; a new token is printed once, alone on the last line.
 * Errors are one line on stderr and exit status 1; usage errors exit with 2.
 *
 * Unlike the rest of a CLI built on libkvs, the --data mode uses the server's storage and auth
 * modules directly: it is the way in when no server runs yet, or when the admin's token is
 * lost. */
#ifndef KVS_CLI_CLI_H
#define KVS_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Run the command in ARGV (ARGV[0] is "user", "token", "share" or "unshare"). Returns the
 * process exit status. */
int kvs_cli_main(int argc, char **argv);

/* What a command asks; filled by cli.c, carried out by one of the two back-ends. */
enum kvs_cli_cmd {
    KVS_CLI_USER_ADD,
    KVS_CLI_USER_LIST,
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
};

/* Carry out REQ on the data directory REQ->data. Prints the result; returns the exit status. */
int kvs_cli_local(const struct kvs_cli_req *req);

/* Carry out REQ through the HTTP API at REQ->url. Prints the result; returns the exit status. */
int kvs_cli_remote(const struct kvs_cli_req *req);

struct json_t; /* jansson's */

/* Send METHOD URL-base + PATH to REQ->url with REQ->token, through CURL (a libcurl easy handle,
 * reusable across calls), with BODY_N bytes of BODY of type CONTENT_TYPE (BODY NULL: none).
 * With DATA, a 2xx's "data" goes to *DATA (a new reference; NULL for 204); with DATA NULL
 * any 2xx will do. Returns 0, or prints the failure (the server's message) and returns 1.
 * (cli/remote.c; also used by kvs import, cli/import.c.) */
int kvs_cli_call(const struct kvs_cli_req *req, void *curl, const char *method, const char *path,
                 const char *body, size_t body_n, const char *content_type, struct json_t **data);

/* `kvs import [--store NAME] [--dry-run] (--data DIR | --url URL --token TOKEN) SRC`
 * (cli/import.c, where the rules are). ARGV[0] is "import". Returns the exit status. */
int kvs_cli_import_main(int argc, char **argv);

/* Whether DIR holds an LMDB data file (DIR/data.mdb, a regular file): a kvs data directory or
 * backup (cli/local.c). */
int kvs_cli_has_data_file(const char *dir);

/* Open the storage in the data directory DIR (cli/local.c), which must already hold one: a
 * typo must not create an empty data directory. Returns 0 (*OUT to be closed with
 * kvs_storage_close) or the exit status of the failure, printed (*OUT is then NULL). */
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

/* `kvs backup --data DIR OUT` and `kvs restore [--force] --data DIR BACKUP` (cli/backup.c,
 * where the rules are). ARGV[0] is "backup" or "restore". Returns the exit status. */
int kvs_cli_backup_main(int argc, char **argv);

/* Print a new TOKEN for USERNAME, shown only this once: the token alone on the last line. */
void kvs_cli_print_token(const char *what, const char *username, const char *token);

#endif
